/* Training data: tokenized shards, the corpus -> shards builder, and the batch loaders.
 *
 * Shard file (little-endian), like llm.c's: a 64-byte header, then the tokens.
 *   0  char[8]  magic "ALTOTOK\0"
 *   8  u32      version (1)
 *   12 u32      bytes per token: 2 (uint16, vocab_size <= 65536) or 4 (uint32)
 *   16 u64      token count
 *   24 u32      vocab size (every token is below it)
 *   28 u32      reserved (0)
 *   32 u64      checksum: FNV-1a 64 of the token bytes as stored
 *   40 u8[24]   reserved (0)
 * Written atomically (temp file, fsync, rename); read with full validation.
 *
 * Builder: a text file or a directory of text files (regular files in sorted name order, skipping
 * hidden files and the fortune index files *.dat, *.u8) is split into documents: fortune files
 * at lines holding only "%", other text at blank lines. The last val_fraction of the documents
 * (at least one) is the validation split. Each document is encoded and followed by
 * <|end_of_text|>. The tokenizer is trained on the train documents only.
 *
 * Loader: the train shard is cut into n_windows = n_tokens / (T+1) non-overlapping windows of
 * T+1 tokens (inputs = the first T, targets = the last T). Epoch e visits the windows in a
 * Fisher-Yates permutation driven by splitmix64(seed, e); a batch takes the next B windows, and
 * runs on into the next epoch's permutation at an epoch's end, so every window is visited exactly
 * once per epoch. The state (seed, epoch, position) restores the stream exactly.
 */
#ifndef ALTO_RUNTIME_DATA_H
#define ALTO_RUNTIME_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "runtime/tokenizer.h"

#define ALTO_SHARD_VERSION 1
#define ALTO_SHARD_HEADER_BYTES 64

/* Reads a whole file (malloc'd, NUL-terminated; *len excludes the NUL). */
alto_status alto_data_read_file(const char *path, char **out, size_t *len);

/* Writes a whole file atomically: <path>.tmp.<pid>, fsync, rename, fsync of the directory. */
alto_status alto_data_write_file(const char *path, const void *data, size_t len);

/* --- shards ----------------------------------------------------------------------------------- */

typedef struct {
  uint32_t *tokens; /* (n_tokens) */
  int64_t n_tokens;
  uint32_t vocab_size;
  uint32_t token_bytes; /* 2 or 4, as stored */
} alto_shard;

/* Writes tokens (each < vocab_size) as a shard, atomically. */
alto_status alto_shard_write(const char *path, const uint32_t *tokens, int64_t n_tokens,
                             uint32_t vocab_size);

/* Reads and validates a shard. expect_vocab: 0 for any, else the vocabulary the shard must have
 * been built with (the tokenizer's / the model's). */
alto_status alto_shard_read(const char *path, uint32_t expect_vocab, alto_shard *out);

void alto_shard_free(alto_shard *s);

typedef struct {
  const char *text_path;      /* a text file or a directory of text files */
  const char *out_dir;        /* created if missing */
  int vocab_size;             /* ids of the trained tokenizer (ignored with tokenizer_path) */
  double val_fraction;        /* of the documents; 0 -> 0.05 */
  const char *tokenizer_path; /* NULL: train one; else load this tiktoken file */
} alto_shard_build_opts;

typedef struct {
  int64_t n_files, n_docs, n_train_docs, n_val_docs;
  int64_t n_bytes;                      /* of all documents */
  int64_t n_train_tokens, n_val_tokens; /* end-of-text separators included */
  int vocab_size;                       /* of the tokenizer (may be below the request) */
  double train_seconds, encode_seconds;
} alto_shard_build_stats;

/* Builds out_dir/tokenizer.model, out_dir/train.bin and out_dir/val.bin. */
alto_status alto_shard_build(const alto_shard_build_opts *opts, alto_shard_build_stats *stats);

/* The default corpus: the fortunes package's directory. */
#define ALTO_DATA_DEFAULT_CORPUS "/usr/share/games/fortunes"

/* --- the training loader ---------------------------------------------------------------------- */

typedef struct {
  uint64_t seed;
  uint64_t epoch;     /* epochs completed */
  uint64_t position;  /* windows of this epoch already taken */
  uint64_t n_windows; /* checked on restore: the state belongs to this shard and T */
} alto_loader_state;

typedef struct {
  const alto_shard *shard;
  int B, T;
  uint64_t n_windows;
  alto_loader_state state;
  uint32_t *perm;      /* (n_windows) window order of state.epoch */
  uint64_t perm_epoch; /* the epoch perm was built for */
  int32_t *inputs;     /* (B, T) */
  int32_t *targets;    /* (B, T) */
  uint64_t *windows;   /* (B) window index of each row of the last batch */
} alto_loader;

/* Fails (with the number of tokens needed) when the shard holds fewer than B windows. */
alto_status alto_loader_init(alto_loader *L, const alto_shard *train, int B, int T, uint64_t seed);

/* Fills L->inputs and L->targets with the next batch. */
void alto_loader_next(alto_loader *L);

/* The state after the last batch (store it in a checkpoint). */
alto_loader_state alto_loader_get_state(const alto_loader *L);

/* Restores a state: the next batches equal those that followed it. */
alto_status alto_loader_set_state(alto_loader *L, alto_loader_state s);

void alto_loader_free(alto_loader *L);

/* --- the validation iterator ------------------------------------------------------------------ */

/* Sequential windows with stride T: window i has inputs tokens[iT, iT+T) and targets
 * tokens[iT+1, iT+T+1), so every token but the first is a target exactly once. Positions past the
 * end have input 0 and target -1 (ignore); so do rows past `rows` in the last batch. */
typedef struct {
  const alto_shard *shard;
  int B, T;
  int64_t n_windows, next_window;
  int rows;          /* valid rows in the current batch */
  int64_t n_targets; /* targets != -1 in the current batch */
  int32_t *inputs;   /* (B, T) */
  int32_t *targets;  /* (B, T) */
} alto_loader_val;

alto_status alto_loader_val_init(alto_loader_val *V, const alto_shard *val, int B, int T);

/* Fills the next batch; false after the last one. */
bool alto_loader_val_next(alto_loader_val *V);

/* Back to the start of the shard. */
void alto_loader_val_reset(alto_loader_val *V);

void alto_loader_val_free(alto_loader_val *V);

#endif
