/* alto-train: train a model with a recipe on the GPU (CUDA) or the CPU backend (ARCHITECTURE.md
 * stage 9).
 *   alto-train --model llama3/debugmodel --recipe llama3_mxfp4 --steps 300
 * Exit codes: 0 done, 1 user or data error (the message says what to fix), 2 usage error,
 * 3 stopped on a non-finite loss or gradient (the last good checkpoint is kept). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/model.h"
#include "compiler/recipe.h"
#include "runtime/checkpoint.h"
#include "runtime/train.h"
#include "runtime/train_cpu.h"
#include "runtime/train_gpu.h"

enum { EXIT_USER_ = 1, EXIT_USAGE_ = 2, EXIT_NONFINITE_ = 3 };

/* Defaults measured to train the debug model at a few steps per second on 2 cores. */
#define DEFAULT_BATCH 2
#define DEFAULT_SEQ 64

static void usage_(FILE *f) {
  fprintf(f,
          "usage: alto-train --model MODEL [--recipe RECIPE] --steps N [options]\n"
          "\n"
          "Trains MODEL with RECIPE on a text corpus: AdamW with linear warmup and cosine decay,\n"
          "gradient clipping, validation, checkpoints and a loss plot in the run directory.\n"
          "\n"
          "  --model MODEL        family/flavor under models/ (llama3/debugmodel) or a .yaml path\n"
          "  --recipe RECIPE      a recipe .yaml/.lua or a name under recipes/ (llama3_mxfp4,\n"
          "                       bf16, fp8_block, ...); default: none (everything bf16)\n"
          "  --steps N            steps to train (the cosine schedule spans them)\n"
          "  --backend B          auto (default: cuda when a GPU is present, else cpu), cuda,\n"
          "                       cpu\n"
          "  --check              GPU: compare every quantization of every step with the CPU\n"
          "                       reference bit for bit (slow; a mismatch stops the run)\n"
          "  --cublaslt-only      GPU: fp8_block GEMMs always through cuBLASLt (default: per GEMM\n"
          "                       configuration, cuBLASLt or alto's own FP8 GEMM, whichever\n"
          "                       measured faster on the first step; both checked)\n"
          "  --fp8-emulate        GPU: fp8_block GEMMs by dequantize + fp32 GEMM instead of\n"
          "                       cuBLASLt's block-scaled FP8\n"
          "  --mxfp4-dequant      GPU: MXFP4 GEMMs by dequantize + bf16 GEMM instead of the FP8\n"
          "                       tensor cores (an exact E4M3 conversion and alto's FP8 GEMM)\n"
          "  --profile            GPU: after training, time every op of one step and print a\n"
          "                       per-op breakdown\n"
          "  --batch B            sequences per step (default %d)\n"
          "  --seq T              tokens per sequence (default %d; B*T a multiple of 128)\n"
          "  --lr LR              peak learning rate (default 3e-3)\n"
          "  --min-lr LR          final learning rate (default 3e-4)\n"
          "  --warmup N           linear warmup steps (default 20)\n"
          "  --weight-decay WD    AdamW decoupled weight decay (default 0.1; betas 0.9, 0.95)\n"
          "  --grad-clip C        clip the global gradient norm to C (default 1.0; 0: off)\n"
          "  --seed S             initialization, data order, SR and RHT noise (default 1234)\n"
          "  --data PATH          a text file or directory, or an alto-data output directory\n"
          "                       (default: the fortunes corpus, tokenized into the cache once)\n"
          "  --tokenizer FILE     a tiktoken rank file to encode --data with (default: train one\n"
          "                       with the model's vocabulary size)\n"
          "  --val-every K        validation loss every K steps (default 50; 0: never)\n"
          "  --val-batches N      batches per validation (default 4; 0: the whole split)\n"
          "  --ckpt-every K       checkpoint every K steps (default 100; always at the end)\n"
          "  --keep-ckpts N       checkpoints kept in the run (default 2; 0: all)\n"
          "  --run-dir DIR        where metrics.csv, loss.png and checkpoints/ go (default\n"
          "                       runs/<recipe name>; DIR/../loss.png overlays every run there)\n"
          "  --resume [PATH]      continue from a checkpoint, or from the newest in the run\n"
          "                       directory (PATH omitted or 'latest'); settings not given on the\n"
          "                       command line come from the checkpoint; resume is bit-exact\n"
          "  --fresh              start over in a run directory that holds checkpoints (they are\n"
          "                       removed)\n"
          "  -h, --help           this help\n"
          "\n"
          "Progress: one updating line on a terminal, one line per step otherwise or with\n"
          "NO_COLOR set. Threads: ALTO_NUM_THREADS (default: all cores).\n"
          "\n"
          "Exit codes: 0 done, 1 bad model/recipe/data/checkpoint, 2 usage error, 3 stopped on a\n"
          "non-finite loss or gradient (the last good checkpoint is kept).\n",
          DEFAULT_BATCH, DEFAULT_SEQ);
}

static int usage_error_(const char *msg, const char *arg) {
  fprintf(stderr, "alto-train: %s%s%s\n(see alto-train --help)\n", msg, arg ? ": " : "",
          arg ? arg : "");
  return EXIT_USAGE_;
}

static bool parse_i64_(const char *s, int64_t min, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < min)
    return false;
  *out = v;
  return true;
}

static bool parse_f64_(const char *s, double min, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || !isfinite(v) || v < min)
    return false;
  *out = v;
  return true;
}

static const char *recipe_path_(const char *r, char *buf, size_t n) {
  if (access(r, R_OK) == 0 || strchr(r, '/') || strstr(r, ".yaml") || strstr(r, ".lua"))
    return r;
  snprintf(buf, n, "%s/recipes/%s.yaml", ALTO_SOURCE_DIR, r);
  if (access(buf, R_OK) != 0)
    snprintf(buf, n, "%s/recipes/%s.lua", ALTO_SOURCE_DIR, r);
  return buf;
}

/* "recipes/llama3_mxfp4.yaml" -> "llama3_mxfp4" */
static void stem_(const char *path, char *out, size_t n) {
  const char *b = strrchr(path, '/');
  snprintf(out, n, "%s", b ? b + 1 : path);
  char *dot = strrchr(out, '.');
  if (dot && dot != out)
    *dot = 0;
}

/* Options given on the command line (the others come from a resumed checkpoint). */
typedef struct {
  bool steps, batch, seq, lr, min_lr, warmup, wd, clip, seed, val_every, val_batches, ckpt_every,
      keep;
} given_;

static void from_checkpoint_(alto_train_config *c, const alto_train_config *k, const given_ *g) {
#define TAKE_(flag, field)                                                                         \
  if (!g->flag)                                                                                    \
    c->field = k->field;
  TAKE_(steps, steps)
  TAKE_(batch, batch)
  TAKE_(seq, seq)
  TAKE_(lr, lr)
  TAKE_(min_lr, min_lr)
  TAKE_(warmup, warmup)
  TAKE_(wd, weight_decay)
  TAKE_(clip, grad_clip)
  TAKE_(seed, seed)
  TAKE_(val_every, val_every)
  TAKE_(val_batches, val_batches)
  TAKE_(ckpt_every, ckpt_every)
  TAKE_(keep, keep_ckpts)
#undef TAKE_
  c->beta1 = k->beta1;
  c->beta2 = k->beta2;
  c->eps = k->eps;
}

int main(int argc, char **argv) {
  const char *model = NULL, *recipe = NULL, *backend = "auto", *data = NULL, *tokenizer = NULL;
  const char *run_dir = NULL, *resume = NULL;
  bool fresh = false, check = false, fp8_emulate = false, profile = false, no_alto_gemm = false;
  bool mx_dequant = false;
  alto_train_config cfg;
  alto_train_config_default(&cfg);
  cfg.batch = DEFAULT_BATCH;
  cfg.seq = DEFAULT_SEQ;
  given_ g = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage_(stdout);
      return 0;
    } else if (!strcmp(a, "--resume")) {
      resume = (v && strncmp(v, "--", 2) != 0) ? argv[++i] : "latest";
      continue;
    } else if (!strcmp(a, "--fresh")) {
      fresh = true;
      continue;
    } else if (!strcmp(a, "--cublaslt-only")) {
      no_alto_gemm = true;
      continue;
    } else if (!strcmp(a, "--mxfp4-dequant")) {
      mx_dequant = true;
      continue;
    } else if (!strcmp(a, "--check") || !strcmp(a, "--fp8-emulate") || !strcmp(a, "--profile")) {
      *(!strcmp(a, "--check") ? &check : !strcmp(a, "--profile") ? &profile : &fp8_emulate) = true;
      continue;
    }
    if (!v)
      return usage_error_("needs a value", a);
    i++;
    if (!strcmp(a, "--model"))
      model = v;
    else if (!strcmp(a, "--recipe"))
      recipe = v;
    else if (!strcmp(a, "--backend"))
      backend = v;
    else if (!strcmp(a, "--data"))
      data = v;
    else if (!strcmp(a, "--tokenizer"))
      tokenizer = v;
    else if (!strcmp(a, "--run-dir"))
      run_dir = v;
    else if (!strcmp(a, "--steps"))
      ok = g.steps = parse_i64_(v, 1, &cfg.steps);
    else if (!strcmp(a, "--batch"))
      ok = g.batch = parse_i64_(v, 1, &cfg.batch);
    else if (!strcmp(a, "--seq"))
      ok = g.seq = parse_i64_(v, 1, &cfg.seq);
    else if (!strcmp(a, "--lr"))
      ok = g.lr = parse_f64_(v, 0, &cfg.lr);
    else if (!strcmp(a, "--min-lr"))
      ok = g.min_lr = parse_f64_(v, 0, &cfg.min_lr);
    else if (!strcmp(a, "--warmup"))
      ok = g.warmup = parse_i64_(v, 0, &cfg.warmup);
    else if (!strcmp(a, "--weight-decay"))
      ok = g.wd = parse_f64_(v, 0, &cfg.weight_decay);
    else if (!strcmp(a, "--grad-clip"))
      ok = g.clip = parse_f64_(v, 0, &cfg.grad_clip);
    else if (!strcmp(a, "--seed")) {
      char *end;
      errno = 0;
      cfg.seed = strtoull(v, &end, 0);
      ok = g.seed = *v && !*end && !errno && *v != '-';
    } else if (!strcmp(a, "--val-every"))
      ok = g.val_every = parse_i64_(v, 0, &cfg.val_every);
    else if (!strcmp(a, "--val-batches"))
      ok = g.val_batches = parse_i64_(v, 0, &cfg.val_batches);
    else if (!strcmp(a, "--ckpt-every"))
      ok = g.ckpt_every = parse_i64_(v, 0, &cfg.ckpt_every);
    else if (!strcmp(a, "--keep-ckpts"))
      ok = g.keep = parse_i64_(v, 0, &cfg.keep_ckpts);
    else
      return usage_error_("unknown argument", a);
    if (!ok) {
      char msg[160];
      snprintf(msg, sizeof msg, "%s needs %s, got", a,
               !strcmp(a, "--steps") || !strcmp(a, "--batch") || !strcmp(a, "--seq")
                   ? "a positive integer"
               : strstr("--lr --min-lr --weight-decay --grad-clip", a) ? "a non-negative number"
                                                                       : "a non-negative integer");
      return usage_error_(msg, v);
    }
  }
  if (strcmp(backend, "cpu") && strcmp(backend, "cuda") && strcmp(backend, "auto"))
    return usage_error_("--backend must be auto, cuda or cpu, got", backend);
  if (!model)
    return usage_error_("--model is required (e.g. --model llama3/debugmodel)", NULL);
  if (!g.steps && !resume)
    return usage_error_("--steps is required", NULL);
  if (fresh && resume)
    return usage_error_("--fresh and --resume contradict each other", NULL);

  char rbuf[600], rname[600], dbuf[700];
  const char *rpath = recipe ? recipe_path_(recipe, rbuf, sizeof rbuf) : NULL;
  stem_(rpath ? rpath : "bf16", rname, sizeof rname);
  if (!run_dir) {
    snprintf(dbuf, sizeof dbuf, "runs/%s", rname);
    run_dir = dbuf;
  }
  /* Resume: settings not given here come from the checkpoint. */
  char ckpt[4096];
  if (resume) {
    alto_status s = !strcmp(resume, "latest")
                        ? alto_ckpt_latest(run_dir, ckpt, sizeof ckpt)
                        : (snprintf(ckpt, sizeof ckpt, "%s", resume), ALTO_OK);
    alto_ckpt_info info;
    if (s == ALTO_OK)
      s = alto_ckpt_read_info(ckpt, &info);
    if (s != ALTO_OK) {
      fprintf(stderr, "alto-train: %s\n", alto_last_error());
      return EXIT_USER_;
    }
    from_checkpoint_(&cfg, &info.cfg, &g);
    resume = ckpt;
  }
  if (cfg.min_lr > cfg.lr)
    return usage_error_("--min-lr must not exceed --lr", NULL);

  alto_model m;
  alto_recipe *r = NULL;
  alto_train_cpu *cpu = NULL;
  alto_train_gpu *gpu = NULL;
  alto_backend *dev = NULL;
  alto_train_corpus *corpus = NULL;
  alto_train_exec_i ex;
  alto_train_data_i di;
  alto_train_opts o = {
      .cfg = cfg, .run_dir = run_dir, .resume = resume, .fresh = fresh, .progress = -1};
  alto_status s = alto_model_load(model, &m);
  if (s == ALTO_OK && rpath)
    s = alto_recipe_load(rpath, &r);
  if (s == ALTO_OK)
    s = alto_train_identity_make(&m, rpath, &o.id);
  if (s == ALTO_OK && cfg.seq > m.max_seq_len)
    s = alto_error(ALTO_ERR_INVALID_ARG,
                   "--seq %" PRId64 " exceeds the model's max_seq_len %" PRId64, cfg.seq,
                   m.max_seq_len);
  if (s == ALTO_OK && strcmp(backend, "cpu")) {
    alto_status bs = alto_backend_open("cuda", &dev);
    if (bs != ALTO_OK && !strcmp(backend, "cuda"))
      s = alto_error(bs, "--backend cuda: %s", alto_last_error());
    else if (bs != ALTO_OK)
      fprintf(stderr, "alto-train: no GPU (%s): training on the CPU\n", alto_last_error());
  }
  /* A precision schedule over steps is not re-planned mid-run: say so instead of ignoring it. */
  for (int i = 0; s == ALTO_OK && r && i < alto_recipe_lpt_count(r); i++) {
    const alto_lpt_modifier *lm = alto_recipe_lpt(r, i);
    bool steps = lm->start > 0 || lm->end >= 0, dyn = alto_recipe_lpt_dynamic(r, i);
    if (steps || dyn) {
      char at[16] = "";
      if (lm->loc.line > 0)
        snprintf(at, sizeof at, ":%d", lm->loc.line);
      fprintf(stderr,
              "alto-train: note: %s%s: the recipe's choices are made once, at step 0, for the "
              "whole run; %s not re-evaluated during training (re-planning mid-run is not "
              "implemented)\n",
              lm->loc.file ? lm->loc.file : rpath, at,
              steps ? "this modifier's start / end steps are"
                    : "Lua functions of m.step, if this modifier has any, are");
      break;
    }
  }
  if (s == ALTO_OK) {
    fprintf(stderr,
            "alto-train: %s/%s, recipe %s, batch %" PRId64 " x seq %" PRId64 ", %" PRId64
            " steps, run dir %s, backend %s%s%s\n",
            m.family, m.flavor, rpath ? rpath : "none (bf16)", cfg.batch, cfg.seq, cfg.steps,
            run_dir, dev ? "cuda (" : "cpu", dev ? dev->device_name : "", dev ? ")" : "");
    if (dev) {
      alto_train_gpu_opts go = {.progress = stderr,
                                .exec = {.check_quant = check,
                                         .fp8_emulate = fp8_emulate,
                                         .no_alto_gemm = no_alto_gemm,
                                         .mx_dequant = mx_dequant}};
      s = alto_train_gpu_create(dev, &m, r, cfg.batch, cfg.seq, cfg.seed, &go, &gpu, &ex);
      if (s == ALTO_OK) {
        int nk;
        double secs;
        alto_train_gpu_prepare_stats(gpu, &nk, &secs);
        fprintf(stderr, "alto-train: %d kernels ready in %.3f s\n", nk, secs);
      }
    } else {
      s = alto_train_cpu_create(&m, r, cfg.batch, cfg.seq, cfg.seed, &cpu, &ex);
    }
  }
  if (s == ALTO_OK) {
    alto_train_corpus_opts co = {data,      tokenizer, NULL,     (int)m.vocab_size,
                                 cfg.batch, cfg.seq,   cfg.seed, stderr};
    s = alto_train_corpus_open(&co, &corpus, &di);
  }
  alto_train_result res;
  if (s == ALTO_OK) {
    fprintf(stderr,
            "alto-train: %.2fM parameters, %.2fM training tokens, %" PRId64 " tokens per step\n",
            (double)(gpu ? alto_train_gpu_param_count(gpu) : alto_train_cpu_param_count(cpu)) /
                1e6,
            (double)alto_train_corpus_tokens(corpus) / 1e6, cfg.batch * cfg.seq);
    s = alto_train(&o, &ex, &di, &res);
  }
  if (s == ALTO_OK && gpu) {
    char gemms[256];
    alto_exec_gpu_gemm_summary(alto_train_gpu_exec(gpu), gemms, sizeof gemms);
    fprintf(stderr, "alto-train: GEMMs ran as: %s\n", gemms[0] ? gemms : "none");
    char choices[4096];
    alto_exec_gpu_gemm_choices(alto_train_gpu_exec(gpu), choices, sizeof choices);
    if (choices[0])
      fprintf(stderr, "alto-train: FP8 GEMM chosen per configuration (measured once):\n%s\n",
              choices);
    if (check)
      fprintf(stderr, "alto-train: --check: %lld quantizations equal the CPU reference\n",
              (long long)alto_exec_gpu_quant_checked(alto_train_gpu_exec(gpu)));
    if (profile)
      s = alto_exec_gpu_profile(alto_train_gpu_exec(gpu), res.last_step, stderr);
  }
  if (s != ALTO_OK)
    fprintf(stderr, "alto-train: %s\n", alto_last_error());
  alto_train_corpus_free(corpus);
  alto_train_cpu_free(cpu);
  alto_train_gpu_free(gpu);
  alto_backend_close(dev);
  alto_recipe_free(r);
  return s == ALTO_OK ? 0 : s == ALTO_ERR_NUMERIC ? EXIT_NONFINITE_ : EXIT_USER_;
}
