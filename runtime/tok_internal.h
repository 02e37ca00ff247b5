/* The tokenizer's representation, shared by tokenizer.c (encode, decode, files) and tok_train.c
 * (training). Not a public header. */
#ifndef ALTO_RUNTIME_TOK_INTERNAL_H
#define ALTO_RUNTIME_TOK_INTERNAL_H

#include <stdbool.h>

#include "runtime/tokenizer.h"

#define ALTO_TOK_NONE UINT32_MAX

struct alto_tok {
  uint32_t n_ranks;
  uint8_t *pool; /* the bytes of every rank, back to back */
  size_t pool_len, pool_cap;
  size_t *off;   /* (n_ranks) offset of rank r in pool */
  uint32_t *len; /* (n_ranks) byte length of rank r */
  size_t ranks_cap;
  uint32_t *slots; /* open-addressing table of rank + 1 (0: empty), keyed by the bytes */
  size_t n_slots;  /* a power of two, at least twice n_ranks */
};

/* An empty tokenizer (no ranks). */
alto_tok *alto_tok_new_empty(void);

/* Rank of the byte string, or ALTO_TOK_NONE. */
uint32_t alto_tok_find(const alto_tok *tok, const uint8_t *bytes, size_t len);

/* Appends a rank with these bytes (which must not exist yet); returns it. */
uint32_t alto_tok_add(alto_tok *tok, const uint8_t *bytes, size_t len);

/* FNV-1a, the hash of the tables here. */
uint64_t alto_tok_hash(const uint8_t *bytes, size_t len);

#endif
