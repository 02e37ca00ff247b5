/* The CPU executor and the tokenized corpus as the training loop's interfaces (see
 * train_cpu.h). */
#include "runtime/train_cpu.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/sha256.h"
#include "runtime/cache.h"

#include "compiler/lower.h"
#include "runtime/cpu/exec.h"
#include "runtime/data.h"

/* ---- the executor ------------------------------------------------------------------------ */
struct alto_train_cpu {
  alto_lowered lowered;
  alto_exec *exec;
  alto_train_param *params; /* cached pointers into the arena, plan order */
  int n_params;
  int64_t n_weights;
};

static int cpu_n_params_(void *self) {
  return ((alto_train_cpu *)self)->n_params;
}

static void cpu_param_(void *self, int i, alto_train_param *out) {
  alto_train_cpu *c = self;
  ALTO_ASSERT(i >= 0 && i < c->n_params);
  *out = c->params[i];
}

static alto_status cpu_set_batch_(void *self, const int32_t *tok, const int32_t *tgt) {
  return alto_exec_set_inputs(((alto_train_cpu *)self)->exec, tok, tgt);
}

static alto_status cpu_run_(void *self, int64_t step, bool backward, double *loss) {
  alto_train_cpu *c = self;
  return backward ? alto_exec_forward_backward(c->exec, step, loss)
                  : alto_exec_forward(c->exec, step, loss);
}

static alto_status cpu_adamw_(void *self, const alto_train_adamw *h) {
  alto_adamw_hparams hp = {h->lr, h->beta1, h->beta2, h->eps, h->weight_decay};
  return alto_exec_optimizer_step(((alto_train_cpu *)self)->exec, &hp, h->step);
}

static float *buffer_f32_(alto_exec *e, const char *name, const char *suffix) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", name, suffix);
  int id = alto_exec_find(e, full);
  if (id < 0)
    return NULL;
  ALTO_ASSERT(alto_exec_buffer(e, id)->dtype == ALTO_DT_F32);
  return alto_exec_data(e, id);
}

alto_status alto_train_cpu_create(const alto_model *m, const alto_recipe *r, int64_t batch,
                                  int64_t seq, uint64_t seed, alto_train_cpu **out,
                                  alto_train_exec_i *iface) {
  *out = NULL;
  alto_train_cpu *c = alto_xcalloc(1, sizeof *c);
  alto_lower_opts lo = {batch, seq, ""};
  alto_status s = alto_lower(m, r, &lo, &c->lowered);
  if (s != ALTO_OK) {
    free(c);
    return s;
  }
  s = alto_exec_create(m, &c->lowered.plan, seed, &c->exec);
  if (s != ALTO_OK) {
    alto_lowered_free(&c->lowered);
    free(c);
    return s;
  }
  c->n_params = alto_exec_n_params(c->exec);
  c->params = alto_xcalloc((size_t)c->n_params, sizeof *c->params);
  for (int i = 0; i < c->n_params; i++) {
    alto_train_param *p = &c->params[i];
    p->name = alto_exec_param_name(c->exec, i);
    const alto_buffer *b = alto_exec_buffer(c->exec, alto_exec_find(c->exec, p->name));
    p->ndim = b->rank;
    for (int d = 0; d < b->rank; d++)
      p->shape[d] = b->shape[d];
    p->param = alto_exec_param(c->exec, p->name, &p->numel);
    p->grad = alto_exec_grad(c->exec, p->name, NULL);
    p->m = buffer_f32_(c->exec, p->name, ".exp_avg");
    p->v = buffer_f32_(c->exec, p->name, ".exp_avg_sq");
    ALTO_ASSERT_MSG(p->param && p->grad && p->m && p->v, "a parameter without grad or moments");
    c->n_weights += p->numel;
  }
  *iface = (alto_train_exec_i){.self = c,
                               .n_params = cpu_n_params_,
                               .param = cpu_param_,
                               .set_batch = cpu_set_batch_,
                               .run = cpu_run_,
                               .adamw = cpu_adamw_};
  *out = c;
  return ALTO_OK;
}

void alto_train_cpu_free(alto_train_cpu *c) {
  if (!c)
    return;
  alto_exec_free(c->exec);
  alto_lowered_free(&c->lowered);
  free(c->params);
  free(c);
}

int64_t alto_train_cpu_param_count(const alto_train_cpu *c) {
  return c->n_weights;
}

/* ---- the corpus -------------------------------------------------------------------------- */
struct alto_train_corpus {
  alto_shard train, val;
  alto_loader loader;
  alto_loader_val vloader;
  int64_t n_tok; /* B*T */
};

static alto_status corpus_next_(void *self, int32_t *tok, int32_t *tgt) {
  alto_train_corpus *c = self;
  alto_loader_next(&c->loader);
  memcpy(tok, c->loader.inputs, (size_t)c->n_tok * sizeof *tok);
  memcpy(tgt, c->loader.targets, (size_t)c->n_tok * sizeof *tgt);
  return ALTO_OK;
}

static void corpus_get_pos_(void *self, int64_t *epoch, int64_t *pos) {
  alto_loader_state s = alto_loader_get_state(&((alto_train_corpus *)self)->loader);
  *epoch = (int64_t)s.epoch;
  *pos = (int64_t)s.position;
}

static alto_status corpus_set_pos_(void *self, int64_t epoch, int64_t pos) {
  alto_train_corpus *c = self;
  alto_loader_state s = alto_loader_get_state(&c->loader);
  s.epoch = (uint64_t)epoch;
  s.position = (uint64_t)pos;
  return alto_loader_set_state(&c->loader, s);
}

static alto_status corpus_val_reset_(void *self) {
  alto_loader_val_reset(&((alto_train_corpus *)self)->vloader);
  return ALTO_OK;
}

static alto_status corpus_val_next_(void *self, int32_t *tok, int32_t *tgt, int64_t *nt) {
  alto_train_corpus *c = self;
  *nt = 0;
  if (!alto_loader_val_next(&c->vloader))
    return ALTO_OK;
  memcpy(tok, c->vloader.inputs, (size_t)c->n_tok * sizeof *tok);
  memcpy(tgt, c->vloader.targets, (size_t)c->n_tok * sizeof *tgt);
  *nt = c->vloader.n_targets;
  return ALTO_OK;
}

static bool is_file_(const char *dir, const char *name) {
  char p[PATH_MAX + 64];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The shard directory of `o`: the given alto-data directory, or the cache entry of the corpus
 * (built on first use). */
static alto_status shard_dir_(const alto_train_corpus_opts *o, char *dir, size_t n) {
  const char *data = o->data ? o->data : ALTO_DATA_DEFAULT_CORPUS;
  struct stat st;
  if (stat(data, &st) != 0)
    return alto_error(ALTO_ERR_NOT_FOUND, "training data %s: %s (%s)", data, strerror(errno),
                      o->data ? "give --data a text file, a directory of text files, or an "
                                "alto-data output directory"
                              : "the default corpus comes with the 'fortunes' package: apt-get "
                                "install fortunes, or give --data PATH");
  if (S_ISDIR(st.st_mode) && is_file_(data, "train.bin") && is_file_(data, "val.bin")) {
    snprintf(dir, n, "%s", data);
    return ALTO_OK;
  }
  char real[PATH_MAX], treal[PATH_MAX] = "", key[PATH_MAX * 2 + 64];
  if (!realpath(data, real))
    snprintf(real, sizeof real, "%s", data);
  if (o->tokenizer && !realpath(o->tokenizer, treal))
    return alto_error(ALTO_ERR_NOT_FOUND, "tokenizer %s: %s", o->tokenizer, strerror(errno));
  snprintf(key, sizeof key, "alto-data v1|%s|%lld|%lld|%s", real, (long long)st.st_size,
           (long long)st.st_mtime, treal);
  char hex[ALTO_SHA256_HEX_SIZE], root[PATH_MAX];
  alto_sha256_hex(key, strlen(key), hex);
  if (o->cache_dir) {
    snprintf(root, sizeof root, "%s", o->cache_dir);
  } else {
    ALTO_TRY(alto_cache_root(root, sizeof root));
    strncat(root, "/data", sizeof root - strlen(root) - 1);
  }
  mkdir(root, 0777);
  snprintf(dir, n, "%s/%.16s-v%d", root, hex, o->vocab_size);
  if (is_file_(dir, "train.bin") && is_file_(dir, "val.bin"))
    return ALTO_OK;
  if (o->log)
    fprintf(o->log, "tokenizing %s into %s (first use; vocab %d)...\n", data, dir, o->vocab_size);
  alto_shard_build_opts bo = {data, dir, o->vocab_size, 0, o->tokenizer};
  alto_shard_build_stats bs;
  ALTO_TRY(alto_shard_build(&bo, &bs));
  if (o->log)
    fprintf(o->log, "tokenized %lld documents: %lld train + %lld validation tokens (%.1fs)\n",
            (long long)bs.n_docs, (long long)bs.n_train_tokens, (long long)bs.n_val_tokens,
            bs.train_seconds + bs.encode_seconds);
  return ALTO_OK;
}

alto_status alto_train_corpus_open(const alto_train_corpus_opts *o, alto_train_corpus **out,
                                   alto_train_data_i *iface) {
  *out = NULL;
  char dir[PATH_MAX], path[PATH_MAX + 32];
  ALTO_TRY(shard_dir_(o, dir, sizeof dir));
  alto_train_corpus *c = alto_xcalloc(1, sizeof *c);
  c->n_tok = o->batch * o->seq;
  snprintf(path, sizeof path, "%s/train.bin", dir);
  alto_status s = alto_shard_read(path, 0, &c->train);
  if (s == ALTO_OK) {
    snprintf(path, sizeof path, "%s/val.bin", dir);
    s = alto_shard_read(path, 0, &c->val);
  }
  if (s == ALTO_OK && (int64_t)c->train.vocab_size > (int64_t)o->vocab_size)
    s = alto_error(ALTO_ERR_INVALID_ARG,
                   "%s was tokenized with %u ids, the model's vocabulary has %d: tokenize the "
                   "corpus for this model (alto-data --vocab %d) or pick another --data",
                   dir, c->train.vocab_size, o->vocab_size, o->vocab_size);
  if (s == ALTO_OK)
    s = alto_loader_init(&c->loader, &c->train, (int)o->batch, (int)o->seq, o->seed);
  if (s == ALTO_OK) {
    s = alto_loader_val_init(&c->vloader, &c->val, (int)o->batch, (int)o->seq);
    if (s != ALTO_OK)
      alto_loader_free(&c->loader);
  }
  if (s != ALTO_OK) {
    alto_shard_free(&c->train);
    alto_shard_free(&c->val);
    free(c);
    return s;
  }
  *iface = (alto_train_data_i){
      c, corpus_next_, corpus_get_pos_, corpus_set_pos_, corpus_val_reset_, corpus_val_next_};
  *out = c;
  return ALTO_OK;
}

void alto_train_corpus_free(alto_train_corpus *c) {
  if (!c)
    return;
  alto_loader_free(&c->loader);
  alto_loader_val_free(&c->vloader);
  alto_shard_free(&c->train);
  alto_shard_free(&c->val);
  free(c);
}

int64_t alto_train_corpus_tokens(const alto_train_corpus *c) {
  return c->train.n_tokens;
}
