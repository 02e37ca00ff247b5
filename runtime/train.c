/* The training loop (see train.h): schedule, AdamW, clipping, non-finite stop, validation,
 * checkpoints, progress, metrics and plots. */
#include "runtime/train.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/env.h"
#include "base/log.h"
#include "base/sha256.h"
#include "runtime/checkpoint.h"
#include "runtime/plot.h"

/* ---- schedule, AdamW, config ------------------------------------------------------------- */
double alto_train_lr(const alto_train_schedule *s, int64_t step) {
  if (s->warmup > 0 && step <= s->warmup)
    return s->lr * (double)step / (double)s->warmup;
  int64_t span = s->total - s->warmup;
  if (span <= 0 || step >= s->total)
    return span <= 0 ? s->lr : s->min_lr;
  double progress = (double)(step - s->warmup) / (double)span;
  return s->min_lr + (s->lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * progress));
}

void alto_train_adamw_update(const alto_train_adamw *h, float *param, const float *grad, float *m,
                             float *v, int64_t n) {
  /* torch.optim.AdamW (non-fused): p *= 1 - lr*wd; m, v updated; p -= lr * m_hat / (sqrt(v_hat)
   * + eps). The corrections are computed once in double and applied in float. */
  const float b1 = (float)h->beta1, b2 = (float)h->beta2;
  const double bc1 = 1.0 - pow(h->beta1, (double)h->step);
  const double bc2 = 1.0 - pow(h->beta2, (double)h->step);
  const float step_size = (float)(h->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
  const float decay = (float)(1.0 - h->lr * h->weight_decay), eps = (float)h->eps;
  for (int64_t i = 0; i < n; i++) {
    float g = grad[i];
    param[i] *= decay;
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    float denom = sqrtf(v[i]) / bc2_sqrt + eps;
    param[i] -= step_size * (m[i] / denom);
  }
}

void alto_train_config_default(alto_train_config *c) {
  memset(c, 0, sizeof *c);
  c->lr = 3e-3;
  c->min_lr = 3e-4;
  c->warmup = 20;
  c->beta1 = 0.9;
  c->beta2 = 0.95;
  c->eps = 1e-8;
  c->weight_decay = 0.1;
  c->grad_clip = 1.0;
  c->seed = 1234;
  c->val_every = 50;
  c->val_batches = 4;
  c->ckpt_every = 100;
  c->keep_ckpts = 2;
}

alto_status alto_train_identity_make(const alto_model *m, const char *recipe_path,
                                     alto_train_identity *id) {
  memset(id, 0, sizeof *id);
  snprintf(id->model, sizeof id->model, "%s/%s", m->family, m->flavor);
  /* The model's dimensions as printed, without the first line (it names the file). */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return alto_error(ALTO_ERR_NOMEM, "open_memstream failed");
  alto_model_print(m, f);
  fclose(f);
  const char *body = strchr(text, '\n');
  body = body ? body + 1 : text;
  alto_sha256_hex(body, strlen(body), id->model_hash);
  free(text);
  if (!recipe_path) {
    snprintf(id->recipe, sizeof id->recipe, "none");
    snprintf(id->recipe_hash, sizeof id->recipe_hash, "none");
    return ALTO_OK;
  }
  snprintf(id->recipe, sizeof id->recipe, "%s", recipe_path);
  FILE *rf = fopen(recipe_path, "rb");
  if (!rf)
    return alto_error(ALTO_ERR_NOT_FOUND, "cannot read recipe %s: %s", recipe_path,
                      strerror(errno));
  alto_sha256 h;
  alto_sha256_init(&h);
  char buf[8192];
  for (size_t n; (n = fread(buf, 1, sizeof buf, rf)) > 0;)
    alto_sha256_update(&h, buf, n);
  fclose(rf);
  uint8_t d[ALTO_SHA256_DIGEST_SIZE];
  alto_sha256_final(&h, d);
  alto_sha256_to_hex(d, id->recipe_hash);
  return ALTO_OK;
}

void alto_train_fmt_duration(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "?");
  else if (s < 60)
    snprintf(buf, n, "%.1fs", s);
  else if (s < 3600)
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* ---- helpers ----------------------------------------------------------------------------- */
static double now_(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static alto_status mkdir_p_(const char *path) {
  char *p = alto_xstrdup(path);
  alto_status s = ALTO_OK;
  for (char *q = p + 1;; q++) {
    if (*q == '/' || *q == 0) {
      char c = *q;
      *q = 0;
      if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        s = alto_error(ALTO_ERR_IO, "cannot create the run directory %s: %s", p, strerror(errno));
        break;
      }
      *q = c;
      if (!c)
        break;
    }
  }
  free(p);
  return s;
}

/* The first parameter whose `which` array (0 weights, 1 grads) holds a non-finite value. */
static bool first_nonfinite_(alto_train_exec_i *ex, int which, char *name, size_t n, int64_t *at) {
  int np = ex->n_params(ex->self);
  for (int i = 0; i < np; i++) {
    alto_train_param p;
    ex->param(ex->self, i, &p);
    const float *x = which ? p.grad : p.param;
    for (int64_t k = 0; k < p.numel; k++)
      if (!isfinite(x[k])) {
        snprintf(name, n, "%s", p.name);
        *at = k;
        return true;
      }
  }
  return false;
}

/* ---- metrics.csv ------------------------------------------------------------------------- */
static const char metrics_header_[] = "step,loss,val_loss,lr,grad_norm,tokens_per_s,elapsed_s\n";

/* Opens <run_dir>/metrics.csv for appending; fresh: a new file with the header; resume: keeps the
 * header and the rows of steps <= keep_upto (a crash after the checkpoint may have left later
 * rows, which the resumed run writes again). */
static alto_status metrics_open_(const char *run_dir, bool fresh, int64_t keep_upto, FILE **out) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *w = fopen(tmp, "w");
  if (!w)
    return alto_error(ALTO_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  fputs(metrics_header_, w);
  FILE *r = fresh ? NULL : fopen(path, "r");
  if (r) {
    char line[1024];
    bool first = true;
    while (fgets(line, sizeof line, r)) {
      if (first) {
        first = false;
        continue;
      }
      char *end;
      long long step = strtoll(line, &end, 10);
      if (end != line && *end == ',' && step <= keep_upto)
        fputs(line, w);
    }
    fclose(r);
  }
  if (fclose(w) != 0 || rename(tmp, path) != 0)
    return alto_error(ALTO_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  *out = fopen(path, "a");
  if (!*out)
    return alto_error(ALTO_ERR_IO, "cannot append to %s: %s", path, strerror(errno));
  return ALTO_OK;
}

/* ---- progress ---------------------------------------------------------------------------- */
typedef struct {
  FILE *out;
  bool tty, quiet, pending; /* pending: an updating line is on screen */
} progress_;

static void progress_line_(progress_ *pr, const char *line) {
  if (pr->quiet)
    return;
  if (pr->tty) {
    fprintf(pr->out, "\r%s\033[K", line);
    pr->pending = true;
  } else {
    fprintf(pr->out, "%s\n", line);
  }
  fflush(pr->out);
}

/* A message that stays: ends the updating line first. */
static void progress_note_(progress_ *pr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress_note_(progress_ *pr, const char *fmt, ...) {
  if (pr->quiet)
    return;
  if (pr->pending)
    fputc('\n', pr->out);
  pr->pending = false;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(pr->out, fmt, ap);
  va_end(ap);
  fputc('\n', pr->out);
  fflush(pr->out);
}

static void plots_(const alto_train_opts *o, const char *name, progress_ *pr, bool announce) {
  if (alto_plot_run(o->run_dir, name) != ALTO_OK) {
    progress_note_(pr, "warning: no plot: %s", alto_last_error());
    return;
  }
  char *dup = alto_xstrdup(o->run_dir);
  char *parent = dirname(dup);
  int n_runs = 0;
  bool ok = alto_plot_runs(parent, &n_runs) == ALTO_OK;
  if (announce)
    progress_note_(pr, "plot: %s/loss.png%s%s/loss.png (%d run%s)", o->run_dir, ok ? " and " : "",
                   ok ? parent : "", n_runs, n_runs == 1 ? "" : "s");
  free(dup);
}

/* ---- validation -------------------------------------------------------------------------- */
static alto_status validate_(const alto_train_opts *o, alto_train_exec_i *ex, alto_train_data_i *d,
                             int64_t step, int32_t *tok, int32_t *tgt, double *out) {
  *out = NAN;
  if (!d->val_reset || !d->val_next)
    return ALTO_OK;
  ALTO_TRY(d->val_reset(d->self));
  double sum = 0;
  int64_t total = 0;
  for (int64_t n = 0; o->cfg.val_batches <= 0 || n < o->cfg.val_batches; n++) {
    int64_t nt = 0;
    ALTO_TRY(d->val_next(d->self, tok, tgt, &nt));
    if (nt <= 0)
      break;
    double loss;
    ALTO_TRY(ex->set_batch(ex->self, tok, tgt));
    ALTO_TRY(ex->run(ex->self, step, false, &loss));
    sum += loss * (double)nt; /* a batch's loss is the mean over its targets */
    total += nt;
  }
  if (total > 0)
    *out = sum / (double)total;
  return ALTO_OK;
}

/* ---- the loop ---------------------------------------------------------------------------- */
static alto_status save_(const alto_train_opts *o, alto_train_exec_i *ex, alto_train_data_i *d,
                         int64_t step, alto_train_result *res) {
  char name[256];
  int64_t at;
  if (ex->sync)
    ALTO_TRY(ex->sync(ex->self, true));
  if (first_nonfinite_(ex, 0, name, sizeof name, &at))
    return alto_error(ALTO_ERR_NUMERIC,
                      "step %" PRId64 ": weight %s[%" PRId64 "] is not finite; not writing a "
                      "checkpoint (the last good one is %s)",
                      step, name, at, res->last_ckpt[0] ? res->last_ckpt : "none");
  alto_ckpt_info info = {.step = step, .id = o->id, .cfg = o->cfg};
  d->get_pos(d->self, &info.data_epoch, &info.data_pos);
  char path[4096];
  alto_ckpt_path(o->run_dir, step, path, sizeof path);
  ALTO_TRY(alto_ckpt_save(path, &info, ex));
  snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", path);
  alto_ckpt_prune(o->run_dir, o->cfg.keep_ckpts);
  return ALTO_OK;
}

static alto_status resume_(const alto_train_opts *o, alto_train_exec_i *ex, alto_train_data_i *d,
                           int64_t *start, alto_train_result *res) {
  char path[4096];
  if (!strcmp(o->resume, "latest"))
    ALTO_TRY(alto_ckpt_latest(o->run_dir, path, sizeof path));
  else
    snprintf(path, sizeof path, "%s", o->resume);
  alto_ckpt_info info;
  ALTO_TRY(alto_ckpt_read_info(path, &info));
  if (info.cfg.batch != o->cfg.batch || info.cfg.seq != o->cfg.seq)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s was trained with batch %" PRId64 " x seq %" PRId64
                      ", this run has %" PRId64 " x %" PRId64
                      ": give the same --batch and --seq to resume",
                      path, info.cfg.batch, info.cfg.seq, o->cfg.batch, o->cfg.seq);
  if (info.step >= o->cfg.steps)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s is at step %" PRId64 ", the run has %" PRId64 " steps: nothing to do "
                      "(give a larger --steps to train on)",
                      path, info.step, o->cfg.steps);
  if (info.cfg.seed != o->cfg.seed)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s was trained with seed %" PRIu64 ", this run has seed %" PRIu64
                      ": give the same --seed to resume (it keys the SR and RHT noise)",
                      path, info.cfg.seed, o->cfg.seed);
  const alto_train_config *a = &info.cfg, *b = &o->cfg;
  if (a->steps != b->steps || a->lr != b->lr || a->min_lr != b->min_lr || a->warmup != b->warmup ||
      a->beta1 != b->beta1 || a->beta2 != b->beta2 || a->eps != b->eps ||
      a->weight_decay != b->weight_decay || a->grad_clip != b->grad_clip)
    alto_log_warn("resuming %s with other hyperparameters (steps, lr schedule, AdamW or "
                  "clipping) than it was trained with: the run continues, but not as the "
                  "uninterrupted run would have",
                  path);
  ALTO_TRY(alto_ckpt_load(path, &o->id, ex, &info));
  if (ex->sync)
    ALTO_TRY(ex->sync(ex->self, false));
  ALTO_TRY(d->set_pos(d->self, info.data_epoch, info.data_pos));
  *start = info.step + 1;
  snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", path);
  return ALTO_OK;
}

alto_status alto_train(const alto_train_opts *o, alto_train_exec_i *ex, alto_train_data_i *d,
                       alto_train_result *res) {
  const alto_train_config *c = &o->cfg;
  memset(res, 0, sizeof *res);
  res->first_step = 1;
  res->first_loss = res->last_loss = res->last_val_loss = NAN;
  if (c->steps <= 0 || c->batch <= 0 || c->seq <= 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "steps, batch and seq must be positive (got %" PRId64 ", %" PRId64
                      ", %" PRId64 ")",
                      c->steps, c->batch, c->seq);
  ALTO_TRY(mkdir_p_(o->run_dir));
  char *dup = alto_xstrdup(o->run_dir);
  char name[256];
  snprintf(name, sizeof name, "%s", o->run_name ? o->run_name : basename(dup));
  free(dup);
  progress_ pr = {o->out ? o->out : stderr, false, o->quiet, false};
  pr.tty = o->progress == 1 ||
           (o->progress < 0 && isatty(fileno(pr.out)) && !alto_env_get_bool(ALTO_ENV_NO_COLOR));
  int64_t start = 1;
  char old[4096];
  if (!o->resume && alto_ckpt_latest(o->run_dir, old, sizeof old) == ALTO_OK) {
    if (!o->fresh)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "%s already holds checkpoints of an earlier run (%s): continue it with "
                        "--resume latest, start over with --fresh (removes them), or give "
                        "another --run-dir",
                        o->run_dir, old);
    alto_ckpt_prune(o->run_dir, -1);
  }
  alto_error_clear();
  if (o->resume)
    ALTO_TRY(resume_(o, ex, d, &start, res));
  FILE *metrics;
  ALTO_TRY(metrics_open_(o->run_dir, !o->resume, start - 1, &metrics));
  if (o->resume)
    progress_note_(&pr, "resumed from %s at step %" PRId64, res->last_ckpt, start - 1);
  res->first_step = start;
  res->last_step = start - 1;
  const int64_t ntok = c->batch * c->seq;
  int32_t *tok = alto_xmalloc((size_t)ntok * sizeof *tok);
  int32_t *tgt = alto_xmalloc((size_t)ntok * sizeof *tgt);
  alto_train_schedule sch = {c->lr, c->min_lr, c->warmup, c->steps};
  alto_status s = ALTO_OK;
  double t0 = now_(), train_time = 0;
  int64_t last = o->stop_after > 0 && o->stop_after < c->steps ? o->stop_after : c->steps;
  for (int64_t step = start; step <= last && s == ALTO_OK; step++) {
    double ts = now_(), loss, lr = alto_train_lr(&sch, step);
    s = d->next(d->self, tok, tgt);
    if (s == ALTO_OK)
      s = ex->set_batch(ex->self, tok, tgt);
    if (s == ALTO_OK)
      s = ex->run(ex->self, step, true, &loss);
    if (s != ALTO_OK)
      break;
    if (step == o->nan_at_step)
      loss = NAN;
    if (!isfinite(loss)) {
      s = alto_error(ALTO_ERR_NUMERIC,
                     "step %" PRId64 ": the loss is %g; stopped (the last good checkpoint is "
                     "%s; try a lower --lr, a longer --warmup or --grad-clip)",
                     step, loss, res->last_ckpt[0] ? res->last_ckpt : "none");
      break;
    }
    /* The global gradient norm in fp64, in parameter order (deterministic). */
    double sq = 0;
    int np = ex->n_params(ex->self);
    if (ex->grad_sumsq) {
      s = ex->grad_sumsq(ex->self, &sq);
      if (s != ALTO_OK)
        break;
    } else {
      for (int i = 0; i < np; i++) {
        alto_train_param p;
        ex->param(ex->self, i, &p);
        for (int64_t k = 0; k < p.numel; k++)
          sq += (double)p.grad[k] * p.grad[k];
      }
    }
    double gnorm = sqrt(sq);
    if (!isfinite(gnorm)) {
      char bad[256] = "?";
      int64_t at = 0;
      if (!ex->sync || ex->sync(ex->self, true) == ALTO_OK)
        first_nonfinite_(ex, 1, bad, sizeof bad, &at);
      s = alto_error(ALTO_ERR_NUMERIC,
                     "step %" PRId64 ": the gradient norm is %g (first non-finite gradient: "
                     "%s[%" PRId64 "]); stopped (the last good checkpoint is %s)",
                     step, gnorm, bad, at, res->last_ckpt[0] ? res->last_ckpt : "none");
      break;
    }
    if (c->grad_clip > 0 && gnorm > c->grad_clip) {
      float scale = (float)(c->grad_clip / (gnorm + 1e-6)); /* torch.nn.utils.clip_grad_norm_ */
      if (ex->scale_grads)
        s = ex->scale_grads(ex->self, scale);
      for (int i = 0; i < np && !ex->scale_grads; i++) {
        alto_train_param p;
        ex->param(ex->self, i, &p);
        for (int64_t k = 0; k < p.numel; k++)
          p.grad[k] *= scale;
      }
      if (s != ALTO_OK)
        break;
    }
    alto_train_adamw h = {lr, c->beta1, c->beta2, c->eps, c->weight_decay, step};
    if (ex->adamw) {
      s = ex->adamw(ex->self, &h);
    } else {
      for (int i = 0; i < np; i++) {
        alto_train_param p;
        ex->param(ex->self, i, &p);
        alto_train_adamw_update(&h, p.param, p.grad, p.m, p.v, p.numel);
      }
    }
    if (s != ALTO_OK)
      break;
    double dt = now_() - ts;
    train_time += dt;
    int64_t done = step - start + 1;
    double rate = (double)(done * ntok) / train_time;
    double eta = (now_() - t0) / (double)done * (double)(c->steps - step);
    if (step == start)
      res->first_loss = loss;
    res->last_loss = loss;
    res->last_step = step;
    res->tokens_per_s = rate;
    char line[256], etas[32];
    alto_train_fmt_duration(eta, etas, sizeof etas);
    int w = snprintf(NULL, 0, "%" PRId64, c->steps);
    snprintf(line, sizeof line,
             "step %*" PRId64 "/%" PRId64 " | loss %.4f | lr %.2e | grad %.3f | %.0f tok/s | "
             "%.2f s/step | ETA %s",
             w, step, c->steps, loss, lr, gnorm, rate, dt, etas);
    progress_line_(&pr, line);
    double vloss = NAN;
    bool val_now = c->val_every > 0 && (step % c->val_every == 0 || step == c->steps);
    if (val_now) {
      s = validate_(o, ex, d, step, tok, tgt, &vloss);
      if (s == ALTO_OK && isfinite(vloss)) {
        progress_note_(&pr, "val  step %*" PRId64 " | loss %.4f", w, step, vloss);
        res->last_val_loss = vloss;
      }
    }
    fprintf(metrics, "%" PRId64 ",%.9g,", step, loss);
    if (isfinite(vloss))
      fprintf(metrics, "%.9g", vloss);
    fprintf(metrics, ",%.9g,%.9g,%.6g,%.3f\n", lr, gnorm, rate, now_() - t0);
    fflush(metrics);
    if (s != ALTO_OK)
      break;
    if ((c->ckpt_every > 0 && step % c->ckpt_every == 0) || step == last) {
      s = save_(o, ex, d, step, res);
      if (s == ALTO_OK)
        progress_note_(&pr, "checkpoint %s", res->last_ckpt);
    }
    if (val_now && step != c->steps)
      plots_(o, name, &pr, false);
  }
  if (pr.pending && !pr.quiet) /* end the updating line */
    fputc('\n', pr.out);
  pr.pending = false;
  fclose(metrics);
  plots_(o, name, &pr, true);
  if (s == ALTO_OK && res->last_step >= res->first_step) {
    char tt[32];
    alto_train_fmt_duration(now_() - t0, tt, sizeof tt);
    progress_note_(&pr, "done: %" PRId64 " steps in %s, loss %.4f -> %.4f, %.0f tok/s",
                   res->last_step - res->first_step + 1, tt, res->first_loss, res->last_loss,
                   res->tokens_per_s);
  }
  free(tok);
  free(tgt);
  return s;
}
