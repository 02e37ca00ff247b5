/* Checkpoint save / load / latest (see checkpoint.h). */
#include "runtime/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/safetensors.h"

static const char *const prefix_m_ = "optimizer.exp_avg.";
static const char *const prefix_v_ = "optimizer.exp_avg_sq.";

void alto_ckpt_path(const char *run_dir, int64_t step, char *buf, size_t n) {
  snprintf(buf, n, "%s/checkpoints/step_%08" PRId64 ".safetensors", run_dir, step);
}

/* ---- metadata ---------------------------------------------------------------------------- */
enum { META_MAX_ = 32 };

typedef struct {
  alto_st_meta kv[META_MAX_];
  char val[META_MAX_][96];
  int n;
} meta_out_;

static void put_(meta_out_ *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put_(meta_out_ *m, const char *key, const char *fmt, ...) {
  ALTO_ASSERT(m->n < META_MAX_);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->val[m->n], sizeof m->val[m->n], fmt, ap);
  va_end(ap);
  m->kv[m->n].key = (char *)key;
  m->kv[m->n].value = m->val[m->n];
  m->n++;
}

static void meta_fill_(meta_out_ *m, const alto_ckpt_info *in) {
  const alto_train_config *c = &in->cfg;
  put_(m, "format", "%s", ALTO_CKPT_FORMAT);
  put_(m, "version", "%d", ALTO_CKPT_VERSION);
  put_(m, "step", "%" PRId64, in->step);
  put_(m, "data_epoch", "%" PRId64, in->data_epoch);
  put_(m, "data_position", "%" PRId64, in->data_pos);
  put_(m, "seed", "%" PRIu64, c->seed);
  put_(m, "rng", "%s", "philox4x32-10 keyed by seed; stream of (layer, role, step, purpose)");
  put_(m, "model", "%s", in->id.model);
  put_(m, "model_hash", "%s", in->id.model_hash);
  m->kv[m->n].key = "recipe"; /* the recipe path can be longer than a value slot */
  m->kv[m->n++].value = (char *)in->id.recipe;
  put_(m, "recipe_hash", "%s", in->id.recipe_hash);
  put_(m, "steps", "%" PRId64, c->steps);
  put_(m, "batch", "%" PRId64, c->batch);
  put_(m, "seq", "%" PRId64, c->seq);
  put_(m, "lr", "%.17g", c->lr);
  put_(m, "min_lr", "%.17g", c->min_lr);
  put_(m, "warmup", "%" PRId64, c->warmup);
  put_(m, "beta1", "%.17g", c->beta1);
  put_(m, "beta2", "%.17g", c->beta2);
  put_(m, "eps", "%.17g", c->eps);
  put_(m, "weight_decay", "%.17g", c->weight_decay);
  put_(m, "grad_clip", "%.17g", c->grad_clip);
  put_(m, "val_every", "%" PRId64, c->val_every);
  put_(m, "val_batches", "%" PRId64, c->val_batches);
  put_(m, "ckpt_every", "%" PRId64, c->ckpt_every);
  put_(m, "keep_ckpts", "%" PRId64, c->keep_ckpts);
}

static alto_status get_i64_(const alto_st_file *f, const char *key, int64_t *out) {
  const char *s = alto_st_meta_get(f, key);
  char *end;
  if (!s || !*s)
    return alto_error(ALTO_ERR_PARSE, "%s: checkpoint metadata has no '%s' (a damaged file?)",
                      f->path ? f->path : "checkpoint", key);
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return alto_error(ALTO_ERR_PARSE, "%s: checkpoint metadata '%s' = '%s' is not an integer",
                      f->path ? f->path : "checkpoint", key, s);
  *out = v;
  return ALTO_OK;
}

static alto_status get_f64_(const alto_st_file *f, const char *key, double *out) {
  const char *s = alto_st_meta_get(f, key);
  char *end;
  if (!s || !*s)
    return alto_error(ALTO_ERR_PARSE, "%s: checkpoint metadata has no '%s' (a damaged file?)",
                      f->path ? f->path : "checkpoint", key);
  *out = strtod(s, &end);
  if (*end)
    return alto_error(ALTO_ERR_PARSE, "%s: checkpoint metadata '%s' = '%s' is not a number",
                      f->path ? f->path : "checkpoint", key, s);
  return ALTO_OK;
}

static alto_status get_str_(const alto_st_file *f, const char *key, char *out, size_t n) {
  const char *s = alto_st_meta_get(f, key);
  if (!s)
    return alto_error(ALTO_ERR_PARSE, "%s: checkpoint metadata has no '%s' (a damaged file?)",
                      f->path ? f->path : "checkpoint", key);
  snprintf(out, n, "%s", s);
  return ALTO_OK;
}

static alto_status info_parse_(const alto_st_file *f, alto_ckpt_info *in) {
  memset(in, 0, sizeof *in);
  const char *fmt = alto_st_meta_get(f, "format");
  if (!fmt || strcmp(fmt, ALTO_CKPT_FORMAT) != 0)
    return alto_error(ALTO_ERR_PARSE,
                      "%s is a safetensors file but not an alto checkpoint (no __metadata__ "
                      "format '%s'); give a file from <run-dir>/checkpoints/",
                      f->path, ALTO_CKPT_FORMAT);
  int64_t version;
  alto_train_config *c = &in->cfg;
  ALTO_TRY(get_i64_(f, "version", &version));
  if (version != ALTO_CKPT_VERSION)
    return alto_error(ALTO_ERR_UNSUPPORTED, "%s: checkpoint version %lld, this alto reads %d",
                      f->path, (long long)version, ALTO_CKPT_VERSION);
  ALTO_TRY(get_i64_(f, "step", &in->step));
  ALTO_TRY(get_i64_(f, "data_epoch", &in->data_epoch));
  ALTO_TRY(get_i64_(f, "data_position", &in->data_pos));
  const char *sd = alto_st_meta_get(f, "seed");
  char *end;
  if (!sd || !*sd || (c->seed = strtoull(sd, &end, 10), *end))
    return alto_error(ALTO_ERR_PARSE, "%s: checkpoint metadata 'seed' missing or not a number",
                      f->path);
  ALTO_TRY(get_str_(f, "model", in->id.model, sizeof in->id.model));
  ALTO_TRY(get_str_(f, "model_hash", in->id.model_hash, sizeof in->id.model_hash));
  ALTO_TRY(get_str_(f, "recipe", in->id.recipe, sizeof in->id.recipe));
  ALTO_TRY(get_str_(f, "recipe_hash", in->id.recipe_hash, sizeof in->id.recipe_hash));
  ALTO_TRY(get_i64_(f, "steps", &c->steps));
  ALTO_TRY(get_i64_(f, "batch", &c->batch));
  ALTO_TRY(get_i64_(f, "seq", &c->seq));
  ALTO_TRY(get_f64_(f, "lr", &c->lr));
  ALTO_TRY(get_f64_(f, "min_lr", &c->min_lr));
  ALTO_TRY(get_i64_(f, "warmup", &c->warmup));
  ALTO_TRY(get_f64_(f, "beta1", &c->beta1));
  ALTO_TRY(get_f64_(f, "beta2", &c->beta2));
  ALTO_TRY(get_f64_(f, "eps", &c->eps));
  ALTO_TRY(get_f64_(f, "weight_decay", &c->weight_decay));
  ALTO_TRY(get_f64_(f, "grad_clip", &c->grad_clip));
  ALTO_TRY(get_i64_(f, "val_every", &c->val_every));
  ALTO_TRY(get_i64_(f, "val_batches", &c->val_batches));
  ALTO_TRY(get_i64_(f, "ckpt_every", &c->ckpt_every));
  ALTO_TRY(get_i64_(f, "keep_ckpts", &c->keep_ckpts));
  return ALTO_OK;
}

/* ---- save -------------------------------------------------------------------------------- */
static void mkdir_parent_(const char *path) {
  char *dir = alto_xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    mkdir(dir, 0777); /* an error shows up as the write's error */
  }
  free(dir);
}

alto_status alto_ckpt_save(const char *path, const alto_ckpt_info *info, alto_train_exec_i *exec) {
  int n = exec->n_params(exec->self);
  alto_st_entry *e = alto_xcalloc((size_t)3 * n + 1, sizeof *e);
  char **names = alto_xcalloc((size_t)2 * n + 1, sizeof *names);
  for (int i = 0; i < n; i++) {
    alto_train_param p;
    exec->param(exec->self, i, &p);
    ALTO_ASSERT(p.ndim >= 1 && p.ndim <= ALTO_TRAIN_MAX_DIMS);
    size_t ln = strlen(p.name) + 32;
    names[2 * i] = alto_xmalloc(ln);
    names[2 * i + 1] = alto_xmalloc(ln);
    snprintf(names[2 * i], ln, "%s%s", prefix_m_, p.name);
    snprintf(names[2 * i + 1], ln, "%s%s", prefix_v_, p.name);
    const float *data[3] = {p.param, p.m, p.v};
    const char *nm[3] = {p.name, names[2 * i], names[2 * i + 1]};
    for (int k = 0; k < 3; k++) {
      alto_st_entry *t = &e[(size_t)k * n + i]; /* weights first, then m, then v */
      t->name = nm[k];
      t->dtype = ALTO_ST_F32;
      t->ndim = p.ndim;
      for (int d = 0; d < p.ndim; d++)
        t->shape[d] = p.shape[d];
      t->data = data[k];
    }
  }
  meta_out_ m = {0};
  meta_fill_(&m, info);
  mkdir_parent_(path);
  alto_status s = alto_st_write(path, e, (size_t)3 * n, m.kv, (size_t)m.n);
  for (int i = 0; i < 2 * n; i++)
    free(names[i]);
  free(names);
  free(e);
  return s;
}

/* ---- load -------------------------------------------------------------------------------- */
alto_status alto_ckpt_read_info(const char *path, alto_ckpt_info *info) {
  alto_st_file f;
  alto_status s = alto_st_open(path, &f);
  if (s != ALTO_OK)
    return alto_error(s, "cannot load checkpoint: %s", alto_last_error());
  s = info_parse_(&f, info);
  alto_st_close(&f);
  return s;
}

static alto_status check_tensor_(const alto_st_file *f, const char *name, const alto_train_param *p,
                                 const alto_st_tensor **out) {
  const alto_st_tensor *t = alto_st_find(f, name);
  if (!t)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s has no tensor '%s': it is a checkpoint of another model", f->path, name);
  bool ok = t->dtype == ALTO_ST_F32 && t->ndim == p->ndim;
  for (int d = 0; ok && d < p->ndim; d++)
    ok = t->shape[d] == p->shape[d];
  if (!ok) {
    char want[96] = "", got[96] = "";
    for (int d = 0; d < p->ndim; d++)
      snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "",
               (long long)p->shape[d]);
    for (int d = 0; d < t->ndim; d++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "",
               (long long)t->shape[d]);
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s: tensor '%s' is %s [%s], this model needs F32 [%s]: a checkpoint of "
                      "another model",
                      f->path, name, alto_st_dtype_name(t->dtype), got, want);
  }
  *out = t;
  return ALTO_OK;
}

alto_status alto_ckpt_load(const char *path, const alto_train_identity *expect,
                           alto_train_exec_i *exec, alto_ckpt_info *info) {
  alto_st_file f;
  alto_status s = alto_st_open(path, &f);
  if (s != ALTO_OK)
    return alto_error(s, "cannot load checkpoint: %s", alto_last_error());
  alto_ckpt_info in;
  s = info_parse_(&f, &in);
  if (s == ALTO_OK && expect && strcmp(in.id.model_hash, expect->model_hash) != 0)
    s = alto_error(ALTO_ERR_INVALID_ARG,
                   "%s is a checkpoint of model %s (hash %.12s), this run trains %s (hash "
                   "%.12s): give the same --model, or another run directory",
                   path, in.id.model, in.id.model_hash, expect->model, expect->model_hash);
  if (s == ALTO_OK && expect && strcmp(in.id.recipe_hash, expect->recipe_hash) != 0)
    s = alto_error(ALTO_ERR_INVALID_ARG,
                   "%s was trained with recipe %s (hash %.12s), this run uses %s (hash %.12s): "
                   "give the same --recipe (a changed recipe file changes the hash)",
                   path, in.id.recipe, in.id.recipe_hash, expect->recipe, expect->recipe_hash);
  int n = exec->n_params(exec->self);
  const alto_st_tensor **src = alto_xcalloc((size_t)3 * n + 1, sizeof *src);
  /* Pass 1: everything present with the right shape; nothing written yet. */
  for (int i = 0; s == ALTO_OK && i < n; i++) {
    alto_train_param p;
    exec->param(exec->self, i, &p);
    char name[512];
    s = check_tensor_(&f, p.name, &p, &src[3 * i]);
    snprintf(name, sizeof name, "%s%s", prefix_m_, p.name);
    if (s == ALTO_OK)
      s = check_tensor_(&f, name, &p, &src[3 * i + 1]);
    snprintf(name, sizeof name, "%s%s", prefix_v_, p.name);
    if (s == ALTO_OK)
      s = check_tensor_(&f, name, &p, &src[3 * i + 2]);
  }
  if (s == ALTO_OK && f.count != (size_t)3 * n)
    s = alto_error(ALTO_ERR_INVALID_ARG,
                   "%s holds %zu tensors, this model has %d parameters (%d with the AdamW "
                   "moments): a checkpoint of another model",
                   path, f.count, n, 3 * n);
  /* Pass 2: copy. */
  for (int i = 0; s == ALTO_OK && i < n; i++) {
    alto_train_param p;
    exec->param(exec->self, i, &p);
    float *dst[3] = {p.param, p.m, p.v};
    for (int k = 0; k < 3; k++)
      memcpy(dst[k], src[3 * i + k]->data, (size_t)p.numel * sizeof(float));
  }
  free(src);
  alto_st_close(&f);
  if (s == ALTO_OK && info)
    *info = in;
  return s;
}

/* ---- latest / prune ---------------------------------------------------------------------- */
/* Steps of the checkpoints in the run, ascending; returns the count (*out malloc'ed). */
static int list_steps_(const char *run_dir, int64_t **out) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
  *out = NULL;
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int n = 0, cap = 0;
  for (struct dirent *e; (e = readdir(d));) {
    long long step;
    char tail[32];
    if (sscanf(e->d_name, "step_%lld.%31s", &step, tail) == 2 && !strcmp(tail, "safetensors")) {
      if (n == cap) {
        cap = cap ? 2 * cap : 16;
        *out = alto_xrealloc(*out, cap * sizeof **out);
      }
      (*out)[n++] = step;
    }
  }
  closedir(d);
  for (int i = 1; i < n; i++) /* insertion sort: a handful of files */
    for (int j = i; j > 0 && (*out)[j - 1] > (*out)[j]; j--) {
      int64_t t = (*out)[j];
      (*out)[j] = (*out)[j - 1];
      (*out)[j - 1] = t;
    }
  return n;
}

alto_status alto_ckpt_latest(const char *run_dir, char *path, size_t n) {
  int64_t *steps;
  int k = list_steps_(run_dir, &steps);
  if (k == 0) {
    free(steps);
    return alto_error(ALTO_ERR_NOT_FOUND,
                      "no checkpoint in %s/checkpoints/ to resume from (start without --resume, "
                      "or give --run-dir of an earlier run)",
                      run_dir);
  }
  alto_ckpt_path(run_dir, steps[k - 1], path, n);
  free(steps);
  return ALTO_OK;
}

void alto_ckpt_prune(const char *run_dir, int64_t keep) {
  if (keep == 0)
    return;
  if (keep < 0)
    keep = 0;
  int64_t *steps;
  int k = list_steps_(run_dir, &steps);
  char path[4096];
  for (int i = 0; i + keep < k; i++) {
    alto_ckpt_path(run_dir, steps[i], path, sizeof path);
    unlink(path);
  }
  free(steps);
}
