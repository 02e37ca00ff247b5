/* The training loop on the CPU executor with a tiny Llama: bit-exact resume under the MXFP4
 * recipe (SR and RHT noise included), a falling bf16 loss, and alto-train's exit codes
 * (usage 2, user error 1, non-finite stop 3 with the last checkpoint still loadable). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/checkpoint.h"
#include "runtime/train.h"
#include "runtime/train_cpu.h"
#include "tests/harness.h"

static const char *tiny_yaml_ = "family: llama3\nflavor: tiny\ndim: 64\nn_layers: 2\n"
                                "vocab_size: 320\nmax_seq_len: 128\nnorm: rmsnorm\n"
                                "norm_eps: 1.0e-5\ntied_embeddings: false\n"
                                "rope:\n  theta: 10000\n  scaling: none\n"
                                "attention:\n  kind: gqa\n  n_heads: 4\n  n_kv_heads: 2\n"
                                "mlp:\n  kind: swiglu\n  ffn_dim: 128\n";

static char dir_[1024], model_path_[1100], corpus_[1100], cache_[1100];
static const char *mxfp4_ = ALTO_SOURCE_DIR "/recipes/llama3_mxfp4.yaml";

static void write_text_(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ALTO_ASSERT(f != NULL);
  fputs(text, f);
  fclose(f);
}

static void setup_(void) {
  snprintf(dir_, sizeof dir_, "%s", alto_test_tmpdir("train_model"));
  snprintf(model_path_, sizeof model_path_, "%s/tiny.yaml", dir_);
  snprintf(corpus_, sizeof corpus_, "%s/corpus.txt", dir_);
  snprintf(cache_, sizeof cache_, "%s/cache", dir_);
  write_text_(model_path_, tiny_yaml_);
  size_t cap = 400000;
  char *t = malloc(cap);
  t[0] = 0;
  const char *w[8] = {"alpha", "beta", "gamma", "delta", "the", "cat", "sat", "on"};
  for (int d = 0; d < 1500; d++) { /* learnable text: a short cycle of words */
    snprintf(t + strlen(t), cap - strlen(t), "%s %s %s %s mat %d.\n\n", w[d % 8],
             w[(d * 3 + 1) % 8], w[(d * 5 + 2) % 8], w[(d + 4) % 8], d % 10);
  }
  write_text_(corpus_, t);
  free(t);
}

typedef struct {
  alto_model m;
  alto_recipe *r;
  alto_train_cpu *cpu;
  alto_train_corpus *corpus;
  alto_train_exec_i ex;
  alto_train_data_i di;
  alto_train_opts o;
} run_;

static bool run_open_(run_ *x, const char *recipe, const char *run_dir, int64_t steps) {
  memset(x, 0, sizeof *x);
  alto_train_config_default(&x->o.cfg);
  x->o.cfg.steps = steps;
  x->o.cfg.batch = 2;
  x->o.cfg.seq = 64;
  x->o.cfg.warmup = 3;
  x->o.cfg.val_every = 5;
  x->o.cfg.val_batches = 2;
  x->o.cfg.ckpt_every = 5;
  x->o.cfg.keep_ckpts = 0;
  x->o.run_dir = run_dir;
  x->o.quiet = true;
  bool ok = alto_model_load(model_path_, &x->m) == ALTO_OK;
  ok = ok && (!recipe || alto_recipe_load(recipe, &x->r) == ALTO_OK);
  ok = ok && alto_train_identity_make(&x->m, recipe, &x->o.id) == ALTO_OK;
  ok = ok && alto_train_cpu_create(&x->m, x->r, 2, 64, x->o.cfg.seed, &x->cpu, &x->ex) == ALTO_OK;
  alto_train_corpus_opts co = {corpus_, NULL, cache_, 320, 2, 64, x->o.cfg.seed, NULL};
  ok = ok && alto_train_corpus_open(&co, &x->corpus, &x->di) == ALTO_OK;
  CHECKF(ok, "%s", alto_last_error());
  return ok;
}

static void run_close_(run_ *x) {
  alto_train_corpus_free(x->corpus);
  alto_train_cpu_free(x->cpu);
  alto_recipe_free(x->r);
}

/* Every weight and moment bit for bit. */
static bool same_(run_ *a, run_ *b) {
  int n = a->ex.n_params(a->ex.self);
  bool same = n == b->ex.n_params(b->ex.self);
  for (int i = 0; same && i < n; i++) {
    alto_train_param p, q;
    a->ex.param(a->ex.self, i, &p);
    b->ex.param(b->ex.self, i, &q);
    size_t bytes = (size_t)p.numel * sizeof(float);
    same = p.numel == q.numel && !memcmp(p.param, q.param, bytes) && !memcmp(p.m, q.m, bytes) &&
           !memcmp(p.v, q.v, bytes);
    if (!same)
      fprintf(stderr, "differs: %s\n", p.name);
  }
  return same;
}

static void test_resume_exact_mxfp4(void) {
  char straight[1200], split[1200];
  snprintf(straight, sizeof straight, "%s/runs/straight", dir_);
  snprintf(split, sizeof split, "%s/runs/split", dir_);
  run_ a, b, c;
  alto_train_result ra, rb, rc;
  if (!run_open_(&a, mxfp4_, straight, 20))
    return;
  CHECK(alto_train(&a.o, &a.ex, &a.di, &ra) == ALTO_OK);
  CHECK(run_open_(&b, mxfp4_, split, 20));
  b.o.stop_after = 10;
  CHECK(alto_train(&b.o, &b.ex, &b.di, &rb) == ALTO_OK && rb.last_step == 10);
  CHECK(!same_(&a, &b)); /* the comparison can fail */
  /* A fresh executor and loader, as a new process would have. */
  CHECK(run_open_(&c, mxfp4_, split, 20));
  c.o.resume = "latest";
  CHECKF(alto_train(&c.o, &c.ex, &c.di, &rc) == ALTO_OK, "%s", alto_last_error());
  CHECK(rc.first_step == 11 && rc.last_step == 20);
  CHECK(same_(&a, &c));
  CHECK(ra.last_loss == rc.last_loss && ra.last_val_loss == rc.last_val_loss);
  /* Another recipe cannot resume this run. */
  run_ d;
  CHECK(run_open_(&d, NULL, split, 30));
  d.o.resume = "latest";
  CHECK(alto_train(&d.o, &d.ex, &d.di, &rc) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "--recipe") != NULL);
  run_close_(&a);
  run_close_(&b);
  run_close_(&c);
  run_close_(&d);
}

static void test_bf16_loss_falls(void) {
  char rd[1200];
  snprintf(rd, sizeof rd, "%s/runs/bf16", dir_);
  run_ a;
  if (!run_open_(&a, NULL, rd, 60))
    return;
  a.o.cfg.val_every = 30;
  alto_train_result r;
  CHECK(alto_train(&a.o, &a.ex, &a.di, &r) == ALTO_OK);
  CHECKF(r.last_loss < 0.6 * r.first_loss, "%g -> %g", r.first_loss, r.last_loss);
  CHECKF(r.last_val_loss < 0.6 * r.first_loss, "val %g", r.last_val_loss);
  run_close_(&a);
}

static int sh_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh_(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void) {
  const char *bin = ALTO_BIN_DIR "/alto-train";
  char log[1200], common[4000], rd[1200];
  snprintf(log, sizeof log, "%s/cli.log", dir_);
  snprintf(rd, sizeof rd, "%s/runs/cli", dir_);
  snprintf(common, sizeof common, "%s --model %s --data %s --batch 2 --seq 64 --run-dir %s", bin,
           model_path_, corpus_, rd);
  CHECK(sh_("%s --help > %s 2>&1", bin, log) == 0);
  CHECK(sh_("%s --steps > %s 2>&1", bin, log) == 2);
  CHECK(sh_("%s --model x --steps 3 --bogus 1 > %s 2>&1", bin, log) == 2);
  CHECK(sh_("%s --model x --steps 3 --backend tpu > %s 2>&1", bin, log) == 2);
  CHECK(sh_("grep -q 'must be auto, cuda or cpu' %s", log) == 0);
  /* no GPU visible: --backend cuda is an error naming the cause, auto falls back to the CPU */
  CHECK(sh_("CUDA_VISIBLE_DEVICES= %s --steps 1 --backend cuda > %s 2>&1", common, log) == 1);
  CHECK(sh_("grep -q -- '--backend cuda: ' %s", log) == 0);
  CHECK(sh_("%s --model nonexistent/model --steps 3 > %s 2>&1", bin, log) == 1);
  CHECK(sh_("%s --steps 3 --data /nonexistent/corpus > %s 2>&1", common, log) == 1);
  /* lr 1e30: step 1 is finite and checkpointed, then the run stops with exit 3. */
  CHECK(sh_("NO_COLOR=1 %s --steps 6 --lr 1e30 --min-lr 0 --warmup 0 --grad-clip 0 "
            "--ckpt-every 1 > %s 2>&1",
            common, log) == 3);
  CHECK(sh_("grep -q 'step [0-9]*: ' %s", log) == 0);
  alto_model m;
  alto_train_identity id;
  char latest[1300];
  CHECK(alto_model_load(model_path_, &m) == ALTO_OK);
  CHECK(alto_train_identity_make(&m, NULL, &id) == ALTO_OK);
  alto_ckpt_info info;
  CHECK(alto_ckpt_latest(rd, latest, sizeof latest) == ALTO_OK);
  CHECKF(alto_ckpt_read_info(latest, &info) == ALTO_OK, "%s", alto_last_error());
  /* A truncated checkpoint given to --resume: a clear error, exit 1. */
  CHECK(sh_("head -c 1000 %s > %s/trunc.safetensors", latest, dir_) == 0);
  CHECK(sh_("%s --steps 6 --resume %s/trunc.safetensors > %s 2>&1", common, dir_, log) == 1);
  CHECK(sh_("grep -q 'trunc.safetensors' %s", log) == 0);
  /* A fresh start over those checkpoints needs --fresh; then it trains (exit 0). */
  CHECK(sh_("%s --steps 2 > %s 2>&1", common, log) == 1);
  CHECK(sh_("NO_COLOR=1 %s --steps 2 --fresh > %s 2>&1", common, log) == 0);
  CHECK(sh_("grep -q 'step 2/2' %s && test -s %s/loss.png", log, rd) == 0);
  /* A schedule over steps is planned once: the run says so (and trains), a plain recipe not */
  char sched[1200];
  snprintf(sched, sizeof sched, "%s/sched.yaml", dir_);
  write_text_(sched, "training_stage:\n  lpt_modifiers:\n    LowPrecisionTrainingModifier:\n"
                     "      scheme: mxfp4\n      end: 5\n");
  CHECK(sh_("NO_COLOR=1 %s --steps 1 --fresh --recipe %s > %s 2>&1", common, sched, log) == 0);
  CHECK(sh_("grep -q 'sched.yaml:[0-9]*: the recipe.s choices are made once, at step 0' %s && "
            "grep -q 'start / end steps are not re-evaluated' %s",
            log, log) == 0);
  write_text_(sched, "training_stage:\n  lpt_modifiers:\n    LowPrecisionTrainingModifier:\n"
                     "      scheme: mxfp4\n");
  CHECK(sh_("NO_COLOR=1 %s --steps 1 --fresh --recipe %s > %s 2>&1", common, sched, log) == 0);
  CHECK(sh_("grep -q 'made once' %s", log) != 0);
}

int main(void) {
  setup_();
  RUN(test_resume_exact_mxfp4);
  RUN(test_bf16_loss_falls);
  RUN(test_cli);
  return alto_test_finish();
}
