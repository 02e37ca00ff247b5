/* runtime/train + runtime/checkpoint on a toy model: the schedule, AdamW, checkpoint round trip
 * and errors, bit-exact resume, the non-finite stop, a falling loss, metrics and plots.
 *
 * The toy is a bigram model (logits = W[token] + b, W (V, V), b (V,)) with exact gradients plus
 * a step-keyed noise on the gradient (a stand-in for stochastic rounding: a resume that got the
 * step wrong would draw other noise and diverge), trained on a Markov chain that it can learn. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/checkpoint.h"
#include "runtime/safetensors.h"
#include "runtime/train.h"
#include "runtime/train_cpu.h"
#include "tests/harness.h"

/* ---- the toy executor ---------------------------------------------------------------------- */
typedef struct {
  int V, n; /* vocab, tokens per batch */
  uint64_t seed;
  float *w, *gw, *mw, *vw; /* (V, V) */
  float *b, *gb, *mb, *vb; /* (V,) */
  const int32_t *tok, *tgt;
  int32_t *tokbuf, *tgtbuf;
} toy_;

static uint64_t mix_(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static int toy_n_params_(void *self) {
  (void)self;
  return 2;
}

static void toy_param_(void *self, int i, alto_train_param *p) {
  toy_ *t = self;
  memset(p, 0, sizeof *p);
  if (i == 0) {
    *p = (alto_train_param){
        "tok_embeddings.weight", 2, {t->V, t->V}, (int64_t)t->V * t->V, t->w, t->gw, t->mw, t->vw};
  } else {
    *p = (alto_train_param){"norm.weight", 1, {t->V}, t->V, t->b, t->gb, t->mb, t->vb};
  }
}

static alto_status toy_set_batch_(void *self, const int32_t *tok, const int32_t *tgt) {
  toy_ *t = self;
  memcpy(t->tokbuf, tok, t->n * sizeof *tok);
  memcpy(t->tgtbuf, tgt, t->n * sizeof *tgt);
  return ALTO_OK;
}

static alto_status toy_run_(void *self, int64_t step, bool backward, double *loss) {
  toy_ *t = self;
  int V = t->V;
  if (backward) {
    memset(t->gw, 0, sizeof(float) * V * V);
    memset(t->gb, 0, sizeof(float) * V);
  }
  double sum = 0;
  int cnt = 0;
  float *pr = malloc(sizeof(float) * V);
  for (int i = 0; i < t->n; i++) {
    if (t->tgtbuf[i] < 0)
      continue;
    const float *row = t->w + (size_t)t->tokbuf[i] * V;
    float mx = -INFINITY;
    for (int k = 0; k < V; k++)
      mx = fmaxf(mx, row[k] + t->b[k]);
    double z = 0;
    for (int k = 0; k < V; k++)
      z += pr[k] = expf(row[k] + t->b[k] - mx);
    sum += -(log(pr[t->tgtbuf[i]] / z));
    cnt++;
    if (backward)
      for (int k = 0; k < V; k++) {
        float g = (float)(pr[k] / z) - (k == t->tgtbuf[i]);
        t->gw[(size_t)t->tokbuf[i] * V + k] += g;
        t->gb[k] += g;
      }
  }
  free(pr);
  *loss = cnt ? sum / cnt : 0;
  if (backward)
    for (int k = 0; k < V * V + V; k++) {
      float *g = k < V * V ? &t->gw[k] : &t->gb[k - V * V];
      uint64_t r = mix_(t->seed ^ mix_((uint64_t)step * 1000003u + (uint64_t)k));
      *g = *g / (float)cnt + 1e-3f * ((float)(r >> 40) / (float)(1 << 24) - 0.5f);
    }
  return ALTO_OK;
}

static void toy_init_(toy_ *t, alto_train_exec_i *ex, int V, int n, uint64_t seed) {
  memset(t, 0, sizeof *t);
  t->V = V;
  t->n = n;
  t->seed = seed;
  float **arr[8] = {&t->w, &t->gw, &t->mw, &t->vw, &t->b, &t->gb, &t->mb, &t->vb};
  for (int i = 0; i < 8; i++)
    *arr[i] = calloc(i < 4 ? (size_t)V * V : (size_t)V, sizeof(float));
  for (int k = 0; k < V * V; k++)
    t->w[k] = 0.02f * ((float)(mix_(seed + k) >> 40) / (float)(1 << 24) - 0.5f);
  t->tokbuf = calloc(n, sizeof(int32_t));
  t->tgtbuf = calloc(n, sizeof(int32_t));
  *ex = (alto_train_exec_i){.self = t, .n_params = toy_n_params_, .param = toy_param_,
                            .set_batch = toy_set_batch_, .run = toy_run_};
}

static void toy_free_(toy_ *t) {
  float *arr[8] = {t->w, t->gw, t->mw, t->vw, t->b, t->gb, t->mb, t->vb};
  for (int i = 0; i < 8; i++)
    free(arr[i]);
  free(t->tokbuf);
  free(t->tgtbuf);
}

/* ---- the toy data: a learnable Markov chain, windows taken in order ----------------------- */
typedef struct {
  int32_t *seq; /* (len) */
  int64_t len, epoch, pos, B, T;
  int64_t vpos;
} toy_data_;

static alto_status td_next_(void *self, int32_t *tok, int32_t *tgt) {
  toy_data_ *d = self;
  for (int64_t r = 0; r < d->B; r++) {
    int64_t nw = (d->len - 1) / d->T;
    if (d->pos >= nw) {
      d->pos = 0;
      d->epoch++;
    }
    int64_t at = (d->pos++ * d->T + d->epoch * 3) % (d->len - d->T - 1);
    for (int64_t k = 0; k < d->T; k++) {
      tok[r * d->T + k] = d->seq[at + k];
      tgt[r * d->T + k] = d->seq[at + k + 1];
    }
  }
  return ALTO_OK;
}

static void td_get_(void *self, int64_t *e, int64_t *p) {
  toy_data_ *d = self;
  *e = d->epoch;
  *p = d->pos;
}

static alto_status td_set_(void *self, int64_t e, int64_t p) {
  toy_data_ *d = self;
  d->epoch = e;
  d->pos = p;
  return ALTO_OK;
}

static alto_status td_val_reset_(void *self) {
  ((toy_data_ *)self)->vpos = 0;
  return ALTO_OK;
}

static alto_status td_val_next_(void *self, int32_t *tok, int32_t *tgt, int64_t *nt) {
  toy_data_ *d = self;
  *nt = 0;
  if (d->vpos >= 2)
    return ALTO_OK;
  for (int64_t i = 0; i < d->B * d->T; i++) {
    tok[i] = d->seq[(d->vpos * 977 + i) % (d->len - 1)];
    tgt[i] = d->seq[(d->vpos * 977 + i) % (d->len - 1) + 1];
  }
  d->vpos++;
  *nt = d->B * d->T;
  return ALTO_OK;
}

static void td_init_(toy_data_ *d, alto_train_data_i *di, int V, int64_t B, int64_t T) {
  memset(d, 0, sizeof *d);
  d->len = 5000;
  d->B = B;
  d->T = T;
  d->seq = malloc(sizeof(int32_t) * d->len);
  uint64_t r = 7;
  d->seq[0] = 1;
  for (int64_t i = 1; i < d->len; i++) { /* next = 3*prev+1 mod V, 1 in 8 times random */
    r = mix_(r);
    d->seq[i] = (r & 7) ? (d->seq[i - 1] * 3 + 1) % V : (int32_t)((r >> 8) % V);
  }
  *di = (alto_train_data_i){d, td_next_, td_get_, td_set_, td_val_reset_, td_val_next_};
}

/* ---- helpers ----------------------------------------------------------------------------- */
static void opts_(alto_train_opts *o, const char *run_dir, int64_t steps) {
  memset(o, 0, sizeof *o);
  alto_train_config_default(&o->cfg);
  o->cfg.steps = steps;
  o->cfg.batch = 4;
  o->cfg.seq = 16;
  o->cfg.lr = 0.1;
  o->cfg.min_lr = 0.01;
  o->cfg.warmup = 3;
  o->cfg.val_every = 5;
  o->cfg.ckpt_every = 5;
  o->cfg.keep_ckpts = 0;
  o->run_dir = run_dir;
  o->quiet = true;
  snprintf(o->id.model, sizeof o->id.model, "toy/bigram");
  snprintf(o->id.model_hash, sizeof o->id.model_hash, "%064d", 1);
  snprintf(o->id.recipe, sizeof o->id.recipe, "none");
  snprintf(o->id.recipe_hash, sizeof o->id.recipe_hash, "none");
}

static bool same_state_(toy_ *a, toy_ *b) {
  size_t vv = (size_t)a->V * a->V * sizeof(float), v = (size_t)a->V * sizeof(float);
  return !memcmp(a->w, b->w, vv) && !memcmp(a->mw, b->mw, vv) && !memcmp(a->vw, b->vw, vv) &&
         !memcmp(a->b, b->b, v) && !memcmp(a->mb, b->mb, v) && !memcmp(a->vb, b->vb, v);
}

static bool exists_(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && st.st_size > 0;
}

static int count_lines_(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  int n = 0;
  for (int c; (c = fgetc(f)) != EOF;)
    n += c == '\n';
  fclose(f);
  return n;
}

/* ---- tests ------------------------------------------------------------------------------- */
static void test_schedule(void) {
  alto_train_schedule s = {1e-3, 1e-4, 10, 110};
  CHECK(fabs(alto_train_lr(&s, 1) - 1e-4) < 1e-15);
  CHECK(fabs(alto_train_lr(&s, 5) - 5e-4) < 1e-15);
  CHECK(alto_train_lr(&s, 10) == 1e-3);
  CHECK(fabs(alto_train_lr(&s, 60) - 5.5e-4) < 1e-15); /* halfway: (lr + min_lr) / 2 */
  CHECK(fabs(alto_train_lr(&s, 110) - 1e-4) < 1e-15);
  CHECK(fabs(alto_train_lr(&s, 500) - 1e-4) < 1e-15);
  double prev = 1;
  bool mono = true;
  for (int64_t k = 10; k <= 110; k++) {
    double v = alto_train_lr(&s, k);
    mono = mono && v <= prev && v >= 1e-4;
    prev = v;
  }
  CHECK(mono);
  /* 1/4 of the cosine: min + (lr - min) * (1 + cos(pi/4)) / 2 */
  CHECK(fabs(alto_train_lr(&s, 35) - (1e-4 + 9e-4 * 0.5 * (1 + cos(M_PI / 4)))) < 1e-15);
  alto_train_schedule nw = {2e-3, 0, 0, 100};
  CHECK(alto_train_lr(&nw, 0) == 2e-3);
  CHECK(fabs(alto_train_lr(&nw, 100)) < 1e-18);
}

static void test_adamw(void) {
  /* Two steps against the textbook formula in double. */
  float p = 0.5f, g = 0.2f, m = 0, v = 0;
  alto_train_adamw h = {0.01, 0.9, 0.95, 1e-8, 0.1, 1};
  double P = 0.5, M = 0, Vv = 0;
  for (int step = 1; step <= 2; step++) {
    h.step = step;
    alto_train_adamw_update(&h, &p, &g, &m, &v, 1);
    P *= 1 - 0.01 * 0.1;
    M = 0.9 * M + 0.1 * 0.2;
    Vv = 0.95 * Vv + 0.05 * 0.04;
    P -= 0.01 * (M / (1 - pow(0.9, step))) / (sqrt(Vv / (1 - pow(0.95, step))) + 1e-8);
  }
  CHECKF(fabs(p - P) < 1e-6, "%.9g vs %.9g", p, P);
  CHECK(fabs(m - M) < 1e-7 && fabs(v - Vv) < 1e-8);
}

static void test_checkpoint_round_trip(void) {
  const char *dir = alto_test_tmpdir("train_ckpt");
  toy_ a, b;
  alto_train_exec_i ea, eb;
  toy_init_(&a, &ea, 8, 16, 1);
  toy_init_(&b, &eb, 8, 16, 2);
  for (int k = 0; k < 64; k++) {
    a.mw[k] = (float)k * 0.25f;
    a.vw[k] = (float)k * 0.5f;
  }
  a.b[3] = -0.0f; /* the sign of a zero survives too */
  alto_ckpt_info in = {.step = 7, .data_epoch = 2, .data_pos = 11};
  alto_train_config_default(&in.cfg);
  in.cfg.seed = 0xFFFFFFFFFFFFFFF1ull;
  in.cfg.steps = 100;
  in.cfg.lr = 0.1 + 1e-17;
  snprintf(in.id.model, sizeof in.id.model, "toy/bigram");
  snprintf(in.id.model_hash, sizeof in.id.model_hash, "abc");
  snprintf(in.id.recipe, sizeof in.id.recipe, "recipes/x.yaml");
  snprintf(in.id.recipe_hash, sizeof in.id.recipe_hash, "def");
  char path[1200], latest[1200];
  alto_ckpt_path(dir, 7, path, sizeof path);
  CHECK(alto_ckpt_save(path, &in, &ea) == ALTO_OK);
  alto_ckpt_info out;
  CHECK(alto_ckpt_load(path, &in.id, &eb, &out) == ALTO_OK);
  CHECK(same_state_(&a, &b) && signbit(b.b[3]));
  CHECK(out.step == 7 && out.data_epoch == 2 && out.data_pos == 11);
  CHECK(out.cfg.seed == in.cfg.seed && out.cfg.lr == in.cfg.lr && out.cfg.steps == 100);
  CHECK(!strcmp(out.id.recipe, "recipes/x.yaml") && !strcmp(out.id.model_hash, "abc"));
  /* HF/TorchTitan names and torch's optimizer state names are in the file. */
  alto_st_file f;
  CHECK(alto_st_open(path, &f) == ALTO_OK);
  CHECK(alto_st_find(&f, "tok_embeddings.weight") != NULL);
  CHECK(alto_st_find(&f, "optimizer.exp_avg_sq.norm.weight") != NULL);
  CHECK(!strcmp(alto_st_meta_get(&f, "format"), "alto-checkpoint"));
  alto_st_close(&f);
  /* latest = the highest step; prune keeps the newest. */
  in.step = 12;
  alto_ckpt_path(dir, 12, path, sizeof path);
  CHECK(alto_ckpt_save(path, &in, &ea) == ALTO_OK);
  in.step = 9;
  alto_ckpt_path(dir, 9, path, sizeof path);
  CHECK(alto_ckpt_save(path, &in, &ea) == ALTO_OK);
  CHECK(alto_ckpt_latest(dir, latest, sizeof latest) == ALTO_OK);
  CHECK(strstr(latest, "step_00000012.safetensors") != NULL);
  alto_ckpt_prune(dir, 1);
  alto_ckpt_path(dir, 9, path, sizeof path);
  CHECK(!exists_(path));
  CHECK(exists_(latest));
  CHECK(alto_ckpt_latest("/nonexistent/run", latest, sizeof latest) == ALTO_ERR_NOT_FOUND);
  toy_free_(&a);
  toy_free_(&b);
}

static void test_checkpoint_errors(void) {
  const char *dir = alto_test_tmpdir("train_ckpt_err");
  toy_ a, b, c;
  alto_train_exec_i ea, eb, ec;
  toy_init_(&a, &ea, 8, 16, 1);
  toy_init_(&b, &eb, 8, 16, 2);
  toy_init_(&c, &ec, 12, 16, 3); /* another model: V = 12 */
  toy_ b0;
  alto_train_exec_i e0;
  toy_init_(&b0, &e0, 8, 16, 2); /* b's initial state, to check "changes nothing" */
  alto_ckpt_info in = {.step = 3};
  alto_train_config_default(&in.cfg);
  snprintf(in.id.model, sizeof in.id.model, "toy/bigram");
  snprintf(in.id.model_hash, sizeof in.id.model_hash, "abc");
  snprintf(in.id.recipe_hash, sizeof in.id.recipe_hash, "def");
  char path[1200], bad[1300];
  alto_ckpt_path(dir, 3, path, sizeof path);
  CHECK(alto_ckpt_save(path, &in, &ea) == ALTO_OK);
  /* Truncated: every prefix length class (header cut, data cut). */
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *bytes = malloc(len);
  CHECK(fread(bytes, 1, len, f) == (size_t)len);
  fclose(f);
  long cuts[3] = {4, 100, len - 1};
  for (int i = 0; i < 3; i++) {
    snprintf(bad, sizeof bad, "%s/trunc.safetensors", dir);
    f = fopen(bad, "wb");
    fwrite(bytes, 1, cuts[i], f);
    fclose(f);
    CHECK(alto_ckpt_load(bad, &in.id, &eb, NULL) == ALTO_ERR_PARSE);
    CHECK(same_state_(&b, &b0));
  }
  CHECK(strstr(alto_last_error(), "trunc.safetensors") != NULL);
  /* Another model: the shapes differ (same identity), or the identity differs. */
  CHECK(alto_ckpt_load(path, &in.id, &ec, NULL) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "another model") != NULL);
  alto_train_identity other = in.id;
  snprintf(other.model_hash, sizeof other.model_hash, "xyz");
  CHECK(alto_ckpt_load(path, &other, &eb, NULL) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "--model") != NULL);
  other = in.id;
  snprintf(other.recipe_hash, sizeof other.recipe_hash, "xyz");
  CHECK(alto_ckpt_load(path, &other, &eb, NULL) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "--recipe") != NULL);
  CHECK(same_state_(&b, &b0));
  /* A valid safetensors file that is not a checkpoint; a text file; a missing file. */
  snprintf(bad, sizeof bad, "%s/plain.safetensors", dir);
  float x[2] = {1, 2};
  alto_st_entry e = {"w", ALTO_ST_F32, 1, {2}, x};
  CHECK(alto_st_write(bad, &e, 1, NULL, 0) == ALTO_OK);
  CHECK(alto_ckpt_load(bad, &in.id, &eb, NULL) == ALTO_ERR_PARSE);
  CHECK(strstr(alto_last_error(), "not an alto checkpoint") != NULL);
  snprintf(bad, sizeof bad, "%s/notes.txt", dir);
  f = fopen(bad, "w");
  fputs("hello, this is not a checkpoint at all\n", f);
  fclose(f);
  CHECK(alto_ckpt_load(bad, &in.id, &eb, NULL) == ALTO_ERR_PARSE);
  CHECK(alto_ckpt_load("/nonexistent/x.safetensors", &in.id, &eb, NULL) == ALTO_ERR_NOT_FOUND);
  CHECK(same_state_(&b, &b0));
  free(bytes);
  toy_free_(&a);
  toy_free_(&b);
  toy_free_(&c);
  toy_free_(&b0);
}

/* Trains `steps` (resuming when `resume`) into run_dir; returns the status. */
static alto_status toy_train_(toy_ *t, toy_data_ *d, const char *run_dir, int64_t steps,
                              int64_t stop_after, const char *resume, alto_train_result *res,
                              int64_t nan_at, double lr) {
  alto_train_exec_i ex = {.self = t, .n_params = toy_n_params_, .param = toy_param_,
                         .set_batch = toy_set_batch_, .run = toy_run_};
  alto_train_data_i di = {d, td_next_, td_get_, td_set_, td_val_reset_, td_val_next_};
  alto_train_opts o;
  opts_(&o, run_dir, steps);
  o.stop_after = stop_after;
  o.resume = resume;
  o.nan_at_step = nan_at;
  if (lr > 0)
    o.cfg.lr = lr;
  return alto_train(&o, &ex, &di, res);
}

static void test_resume_exact(void) {
  const char *base = alto_test_tmpdir("train_resume");
  char straight[1200], split[1200], metrics[1300];
  snprintf(straight, sizeof straight, "%s/straight", base);
  snprintf(split, sizeof split, "%s/split", base);
  toy_ a, b, c;
  toy_data_ da, db, dc;
  alto_train_exec_i ea, eb, ec;
  alto_train_data_i dia, dib, dic;
  toy_init_(&a, &ea, 16, 64, 5);
  toy_init_(&b, &eb, 16, 64, 5);
  td_init_(&da, &dia, 16, 4, 16);
  td_init_(&db, &dib, 16, 4, 16);
  alto_train_result r1, r2, r3;
  CHECK(toy_train_(&a, &da, straight, 20, 0, NULL, &r1, 0, 0) == ALTO_OK);
  CHECK(r1.last_step == 20 && isfinite(r1.last_val_loss));
  CHECK(toy_train_(&b, &db, split, 20, 10, NULL, &r2, 0, 0) == ALTO_OK);
  CHECK(r2.last_step == 10);
  /* As a fresh process: a new executor (scrambled weights) and a new loader. */
  toy_init_(&c, &ec, 16, 64, 5);
  td_init_(&dc, &dic, 16, 4, 16);
  for (int k = 0; k < 256; k++)
    c.w[k] = 9;
  CHECK(toy_train_(&c, &dc, split, 20, 0, "latest", &r3, 0, 0) == ALTO_OK);
  CHECK(r3.first_step == 11 && r3.last_step == 20);
  CHECK(same_state_(&a, &c));
  CHECK(r3.last_loss == r1.last_loss && r3.last_val_loss == r1.last_val_loss);
  CHECK(da.epoch == dc.epoch && da.pos == dc.pos);
  snprintf(metrics, sizeof metrics, "%s/metrics.csv", split);
  CHECK(count_lines_(metrics) == 21); /* header + 20 steps, none twice */
  snprintf(metrics, sizeof metrics, "%s/loss.png", split);
  CHECK(exists_(metrics));
  snprintf(metrics, sizeof metrics, "%s/loss.png", base); /* the runs side by side */
  CHECK(exists_(metrics));
  /* Resuming again: nothing left to do is a clear error. */
  CHECK(toy_train_(&c, &dc, split, 20, 0, "latest", &r3, 0, 0) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "--steps") != NULL);
  toy_free_(&a);
  toy_free_(&b);
  toy_free_(&c);
  free(da.seq);
  free(db.seq);
  free(dc.seq);
}

static void test_nonfinite(void) {
  const char *base = alto_test_tmpdir("train_nan");
  char run[1200], latest[1300];
  snprintf(run, sizeof run, "%s/nan", base);
  toy_ t, u;
  toy_data_ d;
  alto_train_exec_i et, eu;
  alto_train_data_i di;
  toy_init_(&t, &et, 16, 64, 5);
  toy_init_(&u, &eu, 16, 64, 6);
  td_init_(&d, &di, 16, 4, 16);
  alto_train_result r;
  /* An injected NaN loss at step 7: stop, name the step, keep the step-5 checkpoint. */
  CHECK(toy_train_(&t, &d, run, 20, 0, NULL, &r, 7, 0) == ALTO_ERR_NUMERIC);
  CHECK(strstr(alto_last_error(), "step 7") != NULL);
  CHECK(strstr(alto_last_error(), "step_00000005") != NULL);
  CHECK(r.last_step == 6);
  CHECK(alto_ckpt_latest(run, latest, sizeof latest) == ALTO_OK);
  CHECK(strstr(latest, "step_00000005") != NULL);
  alto_train_identity id;
  alto_train_opts o;
  opts_(&o, run, 20);
  id = o.id;
  alto_ckpt_info info;
  CHECK(alto_ckpt_load(latest, &id, &eu, &info) == ALTO_OK && info.step == 5);
  /* lr 1e30: the weights blow up; the stop names a non-finite tensor and no bad checkpoint is
   * written. */
  snprintf(run, sizeof run, "%s/lr", base);
  toy_free_(&t);
  toy_init_(&t, &et, 16, 64, 5);
  alto_status s = toy_train_(&t, &d, run, 20, 0, NULL, &r, 0, 1e30);
  CHECK(s == ALTO_ERR_NUMERIC);
  CHECKF(strstr(alto_last_error(), "step ") != NULL, "%s", alto_last_error());
  if (alto_ckpt_latest(run, latest, sizeof latest) == ALTO_OK) {
    CHECK(alto_ckpt_load(latest, &id, &eu, &info) == ALTO_OK);
    bool finite = true;
    for (int k = 0; k < 256; k++)
      finite = finite && isfinite(u.w[k]);
    CHECK(finite);
  }
  toy_free_(&t);
  toy_free_(&u);
  free(d.seq);
}

static void test_loss_falls(void) {
  const char *base = alto_test_tmpdir("train_falls");
  char run[1200], path[1300];
  snprintf(run, sizeof run, "%s/toy", base);
  toy_ t;
  toy_data_ d;
  alto_train_exec_i et;
  alto_train_data_i di;
  toy_init_(&t, &et, 16, 64, 5);
  td_init_(&d, &di, 16, 4, 16);
  alto_train_result r;
  CHECK(toy_train_(&t, &d, run, 60, 0, NULL, &r, 0, 0) == ALTO_OK);
  CHECKF(r.last_loss < 0.6 * r.first_loss, "%g -> %g", r.first_loss, r.last_loss);
  CHECK(r.last_val_loss < 0.6 * r.first_loss);
  CHECK(r.tokens_per_s > 0);
  snprintf(path, sizeof path, "%s/metrics.csv", run);
  CHECK(count_lines_(path) == 61);
  /* A fresh start into a run directory that has checkpoints would mix two runs: an error that
   * says what to do, unless `fresh`. */
  alto_train_exec_i ex = {.self = &t, .n_params = toy_n_params_, .param = toy_param_,
                         .set_batch = toy_set_batch_, .run = toy_run_};
  alto_train_opts o;
  opts_(&o, run, 10);
  CHECK(alto_train(&o, &ex, &di, &r) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "--resume latest") && strstr(alto_last_error(), "--fresh"));
  o.fresh = true;
  CHECK(alto_train(&o, &ex, &di, &r) == ALTO_OK);
  CHECK(count_lines_(path) == 11);
  snprintf(path, sizeof path, "%s/checkpoints/step_00000060.safetensors", run);
  CHECK(!exists_(path));
  toy_free_(&t);
  free(d.seq);
}

static void write_text_(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* The corpus adapter: a small text tokenized into the cache once, then reused; bad data gives
 * clear errors. */
static void test_corpus(void) {
  const char *dir = alto_test_tmpdir("train_corpus");
  char text[1200], cache[1200], path[1300];
  snprintf(text, sizeof text, "%s/corpus.txt", dir);
  snprintf(cache, sizeof cache, "%s/cache", dir);
  char *big = malloc(200000);
  big[0] = 0;
  for (int d = 0; d < 300; d++) /* documents separated by blank lines */
    snprintf(big + strlen(big), 200000 - strlen(big),
             "The quick brown fox %d jumps over the lazy dog number %d.\n\n", d, d * 7);
  write_text_(text, big);
  free(big);
  alto_train_corpus_opts co = {text, NULL, cache, 300, 2, 16, 1, NULL};
  alto_train_corpus *c = NULL;
  alto_train_data_i di;
  CHECKF(alto_train_corpus_open(&co, &c, &di) == ALTO_OK, "%s", alto_last_error());
  if (c) {
    int32_t tok[32], tgt[32];
    int64_t e0, p0, nt = 0;
    di.get_pos(di.self, &e0, &p0);
    CHECK(di.next(di.self, tok, tgt) == ALTO_OK);
    CHECK(tok[1] == tgt[0] && tok[0] >= 0 && tok[0] < 300);
    CHECK(di.val_reset(di.self) == ALTO_OK && di.val_next(di.self, tok, tgt, &nt) == ALTO_OK);
    CHECK(nt > 0);
    /* Restoring the position replays the same batch. */
    int32_t tok2[32], tgt2[32];
    CHECK(di.set_pos(di.self, e0, p0) == ALTO_OK);
    CHECK(di.next(di.self, tok, tgt) == ALTO_OK);
    di.next(di.self, tok2, tgt2);
    CHECK(memcmp(tok, tok2, sizeof tok) != 0); /* the stream moves on */
    CHECK(di.set_pos(di.self, e0, p0) == ALTO_OK && di.next(di.self, tok2, tgt2) == ALTO_OK);
    CHECK(!memcmp(tok, tok2, sizeof tok) && !memcmp(tgt, tgt2, sizeof tgt));
    alto_train_corpus_free(c);
  }
  /* A model with a smaller vocabulary than the tokenized data. */
  co.vocab_size = 200;
  alto_status s = alto_train_corpus_open(&co, &c, &di);
  CHECK(s != ALTO_OK && c == NULL);
  CHECKF(strstr(alto_last_error(), "vocab") != NULL, "%s", alto_last_error());
  /* An empty corpus; a missing one; a tokenizer file that is not one. */
  co.vocab_size = 300;
  snprintf(path, sizeof path, "%s/empty.txt", dir);
  write_text_(path, "");
  co.data = path;
  CHECK(alto_train_corpus_open(&co, &c, &di) != ALTO_OK && c == NULL);
  CHECKF(strstr(alto_last_error(), "empty.txt") != NULL, "%s", alto_last_error());
  co.data = "/nonexistent/corpus";
  CHECK(alto_train_corpus_open(&co, &c, &di) == ALTO_ERR_NOT_FOUND);
  CHECK(strstr(alto_last_error(), "--data") != NULL);
  snprintf(path, sizeof path, "%s/bad.model", dir);
  write_text_(path, "this is not a tiktoken file\n");
  co.data = text;
  co.tokenizer = path;
  CHECK(alto_train_corpus_open(&co, &c, &di) != ALTO_OK && c == NULL);
  CHECKF(strstr(alto_last_error(), "bad.model") != NULL, "%s", alto_last_error());
}

int main(void) {
  RUN(test_schedule);
  RUN(test_adamw);
  RUN(test_checkpoint_round_trip);
  RUN(test_checkpoint_errors);
  RUN(test_resume_exact);
  RUN(test_nonfinite);
  RUN(test_loss_falls);
  RUN(test_corpus);
  return alto_test_finish();
}
