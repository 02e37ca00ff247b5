/* A byte-level BPE tokenizer in the GPT-2 / tiktoken style.
 *
 * Vocabulary: ranks 0..n_ranks-1, each a byte string (a trained vocabulary has the 256 single
 * bytes at ranks 0..255 and one merged token per further rank); then the special tokens, ids
 * n_ranks + k (ALTO_TOK_BEGIN_OF_TEXT, ALTO_TOK_END_OF_TEXT), as Llama 3 appends its specials
 * after the 128000 ranks of its tokenizer.model.
 *
 * Encode: the text is pre-split into pieces (contractions, words with an optional leading space,
 * runs of up to 3 digits, punctuation runs, whitespace; bytes >= 0x80 count as letters; at most
 * ALTO_TOK_MAX_PIECE bytes), then each
 * piece is merged like tiktoken: repeatedly merge the adjacent pair whose concatenated bytes have
 * the lowest rank. Plain text never encodes to a special token. Decode is the exact inverse for
 * any byte string (invalid UTF-8 included).
 *
 * Train: count the pieces of a corpus, then repeatedly merge the most frequent adjacent pair
 * (ties: the smallest (left id, right id)), with incremental pair counts. A merge whose bytes
 * already exist reuses that token (tiktoken files hold each byte string once).
 *
 * Files: the tiktoken rank format (Llama 3's tokenizer.model): one line per rank,
 * "<base64 of the token bytes> <rank>". Saved vocabularies use the same format.
 */
#ifndef ALTO_RUNTIME_TOKENIZER_H
#define ALTO_RUNTIME_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct alto_tok alto_tok;

/* Special tokens, in id order after the ranks. */
typedef enum {
  ALTO_TOK_BEGIN_OF_TEXT, /* "<|begin_of_text|>" */
  ALTO_TOK_END_OF_TEXT,   /* "<|end_of_text|>": separates documents in shards */
  ALTO_TOK_SPECIAL_COUNT
} alto_tok_special_kind;

/* A growable array of token ids (the output of encode). */
typedef struct {
  uint32_t *ids;
  size_t n, cap;
} alto_tok_ids;

void alto_tok_ids_push(alto_tok_ids *v, uint32_t id);
void alto_tok_ids_free(alto_tok_ids *v);

/* Trains a vocabulary of `vocab_size` ids (256 bytes + merges + ALTO_TOK_SPECIAL_COUNT specials)
 * on `n_docs` documents (pieces never cross a document boundary). Stops early, with a smaller
 * vocabulary, when no pair occurs twice. */
alto_status alto_tok_train(const char *const *docs, const size_t *lens, size_t n_docs,
                           int vocab_size, alto_tok **out);

/* Loads a tiktoken rank file; `path` appears in every error as path:line. */
alto_status alto_tok_load(const char *path, alto_tok **out);

/* Parses tiktoken rank text (`name` is used in errors). */
alto_status alto_tok_parse(const char *name, const char *text, size_t len, alto_tok **out);

/* Writes the ranks in tiktoken format, atomically (temp file, fsync, rename). */
alto_status alto_tok_save(const alto_tok *tok, const char *path);

void alto_tok_free(alto_tok *tok);

/* Number of ids: ranks + specials (the model's minimum vocabulary size). */
int alto_tok_vocab_size(const alto_tok *tok);

/* Number of ranks (ids below this are byte strings). */
int alto_tok_n_ranks(const alto_tok *tok);

/* Id of a special token. */
uint32_t alto_tok_special(const alto_tok *tok, alto_tok_special_kind kind);

/* Bytes of id `id` (a special's text for special ids); *len receives the length. NULL when the id
 * is out of range. */
const uint8_t *alto_tok_bytes(const alto_tok *tok, uint32_t id, size_t *len);

/* Appends the ids of `text` to `out`. */
void alto_tok_encode(const alto_tok *tok, const void *text, size_t len, alto_tok_ids *out);

/* Decodes ids to bytes (malloc'd, NUL-terminated for convenience; *len excludes the NUL). An id
 * out of range is ALTO_ERR_INVALID_ARG. */
alto_status alto_tok_decode(const alto_tok *tok, const uint32_t *ids, size_t n, char **out,
                            size_t *len);

/* Pieces are cut after this many bytes: the tiktoken merge is quadratic in the piece length, so
 * a long run (whitespace in ASCII art, a blob of base64) would otherwise take seconds. */
#define ALTO_TOK_MAX_PIECE 256

/* The pre-splitter: length of the piece that starts at text[0] (n > 0 -> result in
 * [1, min(n, ALTO_TOK_MAX_PIECE)]). */
size_t alto_tok_split_piece(const uint8_t *text, size_t n);

#endif
