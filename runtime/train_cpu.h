/* The CPU backend behind the training loop's interfaces (runtime/train.h):
 *   alto_train_cpu     model x recipe lowered to a plan, run by the CPU plan executor
 *                      (runtime/cpu/exec.h), as an alto_train_exec_i;
 *   alto_train_corpus  a text corpus tokenized into shards (runtime/data.h; cached on first use)
 *                      with the training loader and the validation iterator, as an
 *                      alto_train_data_i.
 */
#ifndef ALTO_RUNTIME_TRAIN_CPU_H
#define ALTO_RUNTIME_TRAIN_CPU_H

#include <stdint.h>
#include <stdio.h>

#include "base/status.h"
#include "compiler/model.h"
#include "compiler/recipe.h"
#include "runtime/train.h"

typedef struct alto_train_cpu alto_train_cpu;

/* Lowers model x recipe (NULL: bf16) for (batch, seq) and creates the executor with parameters
 * initialized from `seed` (also the SR / RHT seed). */
alto_status alto_train_cpu_create(const alto_model *m, const alto_recipe *r, int64_t batch,
                                  int64_t seq, uint64_t seed, alto_train_cpu **out,
                                  alto_train_exec_i *iface);
void alto_train_cpu_free(alto_train_cpu *c);
/* Parameters of the model (for the start-up summary). */
int64_t alto_train_cpu_param_count(const alto_train_cpu *c);

typedef struct {
  const char *data;      /* a text file or directory (tokenized into the cache on first use), or
                            a directory from alto-data holding train.bin and val.bin; NULL: the
                            fortunes corpus (ALTO_DATA_DEFAULT_CORPUS) */
  const char *tokenizer; /* a tiktoken rank file to encode with (NULL: train one) */
  const char *cache_dir; /* where tokenized corpora go (NULL: <kernel cache root>/data) */
  int vocab_size;        /* the model's */
  int64_t batch, seq;
  uint64_t seed; /* the shuffle of the training windows */
  FILE *log;     /* "tokenizing ..." notes (NULL: quiet) */
} alto_train_corpus_opts;

typedef struct alto_train_corpus alto_train_corpus;

alto_status alto_train_corpus_open(const alto_train_corpus_opts *o, alto_train_corpus **out,
                                   alto_train_data_i *iface);
void alto_train_corpus_free(alto_train_corpus *c);
/* Tokens of the training split (for the start-up summary). */
int64_t alto_train_corpus_tokens(const alto_train_corpus *c);

#endif
