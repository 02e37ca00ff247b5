/* The CPU plan executor on a whole tiny Llama 3 (2 layers, dim 64, 4 heads / 2 kv heads, ffn
 * 128, vocab 64, batch 8 x seq 16 = 128 tokens, the smallest M an MXFP4 plan takes):
 *   - gradient check of the full model against finite differences (an fp32 copy of the plan)
 *   - the bf16 plan's gradients agree with the fp32 plan's
 *   - the bf16 recipe overfits one batch with AdamW
 *   - the mxfp4 and nvfp4 (two-level: the outer scales as plan buffers) recipes run with finite
 *     loss and gradients, loss within a few % of bf16, gradients pointing the same way
 *   - determinism: same seed -> same bits; ALTO_NUM_THREADS=1 vs 2 -> same bits */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/lower.h"
#include "compiler/memplan.h"
#include "compiler/recipe.h"
#include "runtime/cpu/exec.h"
#include "tests/harness.h"

static const char *tiny_yaml_ = "family: llama3\n"
                                "flavor: tiny\n"
                                "dim: 64\n"
                                "n_layers: 2\n"
                                "vocab_size: 64\n"
                                "max_seq_len: 128\n"
                                "norm: rmsnorm\n"
                                "norm_eps: 1.0e-5\n"
                                "tied_embeddings: false\n"
                                "rope:\n"
                                "  theta: 10000\n"
                                "  scaling: llama3\n"
                                "  factor: 8\n"
                                "  low_freq_factor: 1\n"
                                "  high_freq_factor: 4\n"
                                "  original_max_position: 32\n"
                                "attention:\n"
                                "  kind: gqa\n"
                                "  n_heads: 4\n"
                                "  n_kv_heads: 2\n"
                                "mlp:\n"
                                "  kind: swiglu\n"
                                "  ffn_dim: 128\n";

#define B_ 8
#define T_ 16
#define M_ (B_ * T_)
#define SEED_ 1234

static alto_model model_;
static int32_t tokens_[M_], targets_[M_];

/* Parameters the gradient checks sample: every kind of op upstream of them is on the path. */
static const char *sampled_[] = {"tok_embeddings.weight",
                                 "layers.0.attention_norm.weight",
                                 "layers.0.attention.wq.weight",
                                 "layers.0.attention.wk.weight",
                                 "layers.0.attention.wv.weight",
                                 "layers.0.attention.wo.weight",
                                 "layers.0.feed_forward.w1.weight",
                                 "layers.1.feed_forward.w2.weight",
                                 "layers.1.feed_forward.w3.weight",
                                 "layers.1.ffn_norm.weight",
                                 "norm.weight",
                                 "output.weight"};
#define N_SAMPLED_ (int)(sizeof sampled_ / sizeof *sampled_)

static void setup_(void) {
  ALTO_ASSERT(alto_model_load_string("tiny.yaml", tiny_yaml_, strlen(tiny_yaml_), &model_) ==
              ALTO_OK);
  alto_test_rng r = {42};
  /* sequences of a fixed random permutation walk: learnable next-token targets */
  for (int b = 0; b < B_; b++)
    for (int t = 0; t < T_; t++) {
      tokens_[b * T_ + t] = (int32_t)(alto_test_u32(&r) % 64);
      targets_[b * T_ + t] = (int32_t)(alto_test_u32(&r) % 64);
    }
  targets_[5] = -100; /* an ignored position */
}

/* NULL recipe path: bf16. */
static alto_lowered lower_(const char *recipe_path) {
  alto_recipe *r = NULL;
  if (recipe_path)
    ALTO_ASSERT(alto_recipe_load(recipe_path, &r) == ALTO_OK);
  alto_lower_opts o = {B_, T_, ""};
  alto_lowered l;
  alto_status s = alto_lower(&model_, r, &o, &l);
  ALTO_ASSERT_MSG(s == ALTO_OK, alto_last_error());
  alto_recipe_free(r);
  return l;
}

/* The same plan with every bf16 buffer in fp32 (a new memory plan): exact-ish gradients. */
static void to_fp32_(alto_plan *p) {
  for (int i = 0; i < p->n_bufs; i++) {
    alto_buffer *b = &p->bufs[i];
    if (b->dtype != ALTO_DT_BF16)
      continue;
    int64_t n = 1;
    for (int d = 0; d < b->rank; d++)
      n *= b->shape[d];
    b->dtype = ALTO_DT_F32;
    b->bytes = alto_ir_dtype_bytes(ALTO_DT_F32, n);
  }
  ALTO_ASSERT(alto_memplan_assign(p) == ALTO_OK && alto_memplan_verify(p) == ALTO_OK);
}

static alto_exec *exec_(const alto_plan *p, uint64_t seed) {
  alto_exec *e;
  alto_status s = alto_exec_create(&model_, p, seed, &e);
  ALTO_ASSERT_MSG(s == ALTO_OK, alto_last_error());
  ALTO_ASSERT(alto_exec_set_inputs(e, tokens_, targets_) == ALTO_OK);
  return e;
}

static double fwd_(alto_exec *e) {
  double loss;
  ALTO_ASSERT(alto_exec_forward(e, 1, &loss) == ALTO_OK);
  return loss;
}

static double dot_(const float *a, const float *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += (double)a[i] * (double)b[i];
  return s;
}

/* Finite differences of the fp32 plan's loss along u = g/|g| for each sampled parameter, and for
 * its largest-gradient element, step h = 0.1. Tolerance: the fp32 forward's rounding makes the
 * loss (accumulated in double) a noisy function of the weights, an error that falls as 1/h; the
 * truncation error grows as h^2. Measured on this model: at h = 3e-3, 1e-2, 3e-2, 0.1 the worst
 * relative errors were 4.5e-2, 2.4e-2, 1.2e-2, 1.7e-3 (gradients of 1e-5..1e-1 at init), i.e.
 * still noise-dominated at 0.1. So h = 0.1 with a 1e-2 bound: 5x margin, and any wrong factor,
 * sign, transpose or missing term of a backward (errors of O(1)) fails it. The ops' backward
 * formulas themselves are checked to 1e-6 in fp64 by test_ops_grad. */
static void test_grad_check_fp32(void) {
  alto_lowered l = lower_(NULL);
  to_fp32_(&l.plan);
  alto_exec *e = exec_(&l.plan, SEED_);
  double loss;
  CHECK(alto_exec_forward_backward(e, 1, &loss) == ALTO_OK);
  CHECKF(fabs(loss - log(64)) < 1.0, "initial loss %g", loss);
  for (int s = 0; s < N_SAMPLED_; s++) {
    int64_t n;
    float *w = alto_exec_param(e, sampled_[s], &n), *gp = alto_exec_grad(e, sampled_[s], NULL);
    ALTO_ASSERT(w && gp);
    float *g = alto_xmalloc((size_t)n * sizeof *g), *w0 = alto_xmalloc((size_t)n * sizeof *w0);
    memcpy(g, gp, (size_t)n * sizeof *g);
    memcpy(w0, w, (size_t)n * sizeof *w0);
    double gn = sqrt(dot_(g, g, n)), h = 0.1;
    for (int64_t i = 0; i < n; i++)
      w[i] = w0[i] + (float)(h * g[i] / gn);
    double lp = fwd_(e);
    for (int64_t i = 0; i < n; i++)
      w[i] = w0[i] - (float)(h * g[i] / gn);
    double lm = fwd_(e);
    memcpy(w, w0, (size_t)n * sizeof *w);
    double fd = (lp - lm) / (2 * h), err = fabs(fd - gn) / gn;
    CHECKF(err < 1e-2, "%s: |g| %.6g, finite difference %.6g (rel %.3g)", sampled_[s], gn, fd, err);
    int64_t im = 0;
    for (int64_t i = 1; i < n; i++)
      im = fabsf(g[i]) > fabsf(g[im]) ? i : im;
    double he = h;
    w[im] = w0[im] + (float)he;
    lp = fwd_(e);
    w[im] = w0[im] - (float)he;
    lm = fwd_(e);
    w[im] = w0[im];
    fd = (lp - lm) / (2 * he);
    err = fabs(fd - g[im]) / fabs(g[im]);
    CHECKF(err < 1e-2, "%s[%lld]: g %.6g, finite difference %.6g (rel %.3g)", sampled_[s],
           (long long)im, g[im], fd, err);
    free(g);
    free(w0);
  }
  alto_exec_free(e);
  alto_lowered_free(&l);
}

/* Gradients of the bf16 plan against the fp32 plan's (same init): bf16 activations perturb them
 * by ~1%, so cosine similarity > 0.98 and the losses agree to 1%. */
static void test_bf16_matches_fp32(void) {
  alto_lowered l32 = lower_(NULL), l16 = lower_(NULL);
  to_fp32_(&l32.plan);
  alto_exec *e32 = exec_(&l32.plan, SEED_), *e16 = exec_(&l16.plan, SEED_);
  double a, b;
  CHECK(alto_exec_forward_backward(e32, 1, &a) == ALTO_OK);
  CHECK(alto_exec_forward_backward(e16, 1, &b) == ALTO_OK);
  CHECKF(fabs(a - b) < 0.01 * a, "fp32 loss %g, bf16 loss %g", a, b);
  for (int s = 0; s < N_SAMPLED_; s++) {
    int64_t n;
    float *g32 = alto_exec_grad(e32, sampled_[s], &n),
          *g16 = alto_exec_grad(e16, sampled_[s], NULL);
    double cos = dot_(g32, g16, n) / sqrt(dot_(g32, g32, n) * dot_(g16, g16, n));
    CHECKF(cos > 0.98, "%s: cosine %.4f", sampled_[s], cos);
  }
  alto_exec_free(e32);
  alto_exec_free(e16);
  alto_lowered_free(&l32);
  alto_lowered_free(&l16);
}

static double train_(alto_exec *e, int steps, double lr) {
  alto_adamw_hparams h = {.lr = lr, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0};
  double loss = 0;
  for (int s = 1; s <= steps; s++) {
    ALTO_ASSERT(alto_exec_forward_backward(e, s, &loss) == ALTO_OK);
    alto_exec_clip_grad_norm(e, 1.0);
    ALTO_ASSERT(alto_exec_optimizer_step(e, &h, s) == ALTO_OK);
  }
  ALTO_ASSERT(alto_exec_forward(e, steps + 1, &loss) == ALTO_OK);
  return loss;
}

static void test_overfit_bf16(void) {
  alto_lowered l = lower_(NULL);
  alto_exec *e = exec_(&l.plan, SEED_);
  double first = fwd_(e), last = train_(e, 300, 1e-2);
  fprintf(stderr, "  bf16 overfit: loss %.4f -> %.4f after 300 steps\n", first, last);
  CHECKF(last < 0.05, "loss %g after 300 steps", last);
  alto_exec_free(e);
  alto_lowered_free(&l);
}

static bool all_finite_(alto_exec *e) {
  for (int i = 0; i < alto_exec_n_params(e); i++) {
    int64_t n;
    const float *g = alto_exec_grad(e, alto_exec_param_name(e, i), &n);
    for (int64_t j = 0; j < n; j++)
      if (!isfinite(g[j]))
        return false;
  }
  return true;
}

/* Two-level NVFP4: every QUANTIZE has its outer scale, every quantized GEMM both operands'. */
static void check_outers_(const alto_plan *p) {
  int quant = 0, gemm = 0;
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *n = &p->nodes[i];
    if (n->op == ALTO_OP_QUANTIZE) {
      int o = alto_ir_outer(n, 0);
      CHECKF(o >= 0 && p->bufs[o].dtype == ALTO_DT_F32 && p->bufs[o].bytes == 4, "%s", n->name);
      quant++;
    } else if (n->op == ALTO_OP_GEMM && n->q.scheme == ALTO_SCHEME_NVFP4) {
      int oa = alto_ir_outer(n, 0), ob = alto_ir_outer(n, 1);
      CHECKF(n->n_in == 6 && oa >= 0 && ob >= 0 && oa != ob, "%s", n->name);
      for (int j = 0; j < p->n_nodes && oa >= 0 && ob >= 0; j++) { /* written with its scales */
        const alto_node *q = &p->nodes[j];
        if (q->op == ALTO_OP_QUANTIZE && (q->out[1] == n->in[1] || q->out[1] == n->in[3]))
          CHECKF(alto_ir_outer(q, 0) == (q->out[1] == n->in[1] ? oa : ob), "%s", n->name);
      }
      gemm++;
    }
  }
  CHECK(quant > 0 && gemm == 2 * 7 * 3); /* 2 layers x 7 linears x fprop / dgrad / wgrad */
}

static void test_low_precision_(const char *recipe, const char *what) {
  alto_lowered lb = lower_(NULL), lm = lower_(recipe);
  CHECK(alto_plan_count_op(&lm.plan, ALTO_OP_QUANTIZE) > 0);
  CHECK(alto_plan_count_op(&lm.plan, ALTO_OP_RHT) > 0);
  if (strstr(what, "nvfp4"))
    check_outers_(&lm.plan);
  alto_exec *eb = exec_(&lb.plan, SEED_), *em = exec_(&lm.plan, SEED_);
  double a, b;
  CHECK(alto_exec_forward_backward(eb, 1, &a) == ALTO_OK);
  CHECK(alto_exec_forward_backward(em, 1, &b) == ALTO_OK);
  fprintf(stderr, "  loss bf16 %.5f %s %.5f\n", a, what, b);
  CHECK(isfinite(b) && all_finite_(em));
  CHECKF(fabs(a - b) < 0.03 * a, "bf16 loss %g, %s loss %g", a, what, b);
  /* the quantized gradients point the same way as the bf16 ones (a wrong RHT pairing of X and
   * dY gives cosines near 0) */
  double min_cos = 1;
  for (int s = 0; s < N_SAMPLED_; s++) {
    int64_t n;
    float *g1 = alto_exec_grad(eb, sampled_[s], &n), *g2 = alto_exec_grad(em, sampled_[s], NULL);
    double cos = dot_(g1, g2, n) / sqrt(dot_(g1, g1, n) * dot_(g2, g2, n));
    CHECKF(cos > 0.8, "%s: cosine %.4f", sampled_[s], cos);
    min_cos = cos < min_cos ? cos : min_cos;
  }
  fprintf(stderr, "  %s vs bf16 gradients: smallest cosine %.3f\n", what, min_cos);
  /* SR and RHT draw fresh noise per step: step 2's gradients differ from step 1's, and the
   * same step repeats exactly */
  int64_t n;
  const char *wq = "layers.0.attention.wq.weight";
  float *g = alto_exec_grad(em, wq, &n), *g1 = alto_xmalloc((size_t)n * sizeof *g1);
  memcpy(g1, g, (size_t)n * sizeof *g1);
  CHECK(alto_exec_forward_backward(em, 2, &b) == ALTO_OK);
  CHECK(memcmp(g1, g, (size_t)n * sizeof *g1) != 0);
  CHECK(alto_exec_forward_backward(em, 1, &b) == ALTO_OK);
  CHECK(memcmp(g1, g, (size_t)n * sizeof *g1) == 0);
  /* a few training steps keep it finite and lower the loss */
  double last = train_(em, 20, 1e-2);
  CHECKF(isfinite(last) && last < a, "%s loss %g after 20 steps (start %g)", what, last, a);
  free(g1);
  alto_exec_free(eb);
  alto_exec_free(em);
  alto_lowered_free(&lb);
  alto_lowered_free(&lm);
}

static void test_mxfp4(void) {
  test_low_precision_(ALTO_SOURCE_DIR "/recipes/llama3_mxfp4.yaml", "mxfp4");
}

static void test_nvfp4(void) {
  test_low_precision_(ALTO_SOURCE_DIR "/recipes/nvfp4.yaml", "nvfp4");
}

/* Loss and every gradient and parameter bit after 3 training steps. */
static uint64_t run_hash_(const alto_plan *p, uint64_t seed) {
  alto_exec *e = exec_(p, seed);
  double loss = train_(e, 3, 1e-3);
  uint64_t h = 1469598103934665603ull, bits;
  memcpy(&bits, &loss, 8);
  h = (h ^ bits) * 1099511628211ull;
  for (int i = 0; i < alto_exec_n_params(e); i++) {
    int64_t n;
    const char *name = alto_exec_param_name(e, i);
    const uint32_t *w = (const uint32_t *)alto_exec_param(e, name, &n);
    const uint32_t *g = (const uint32_t *)alto_exec_grad(e, name, NULL);
    for (int64_t j = 0; j < n; j++)
      h = ((h ^ w[j]) * 1099511628211ull ^ g[j]) * 1099511628211ull;
  }
  alto_exec_free(e);
  return h;
}

static void test_determinism(void) {
  alto_lowered lb = lower_(NULL), lm = lower_(ALTO_SOURCE_DIR "/recipes/llama3_mxfp4.yaml");
  const alto_plan *plans[2] = {&lb.plan, &lm.plan};
  for (int k = 0; k < 2; k++) {
    setenv("ALTO_NUM_THREADS", "2", 1);
    uint64_t a = run_hash_(plans[k], SEED_), b = run_hash_(plans[k], SEED_);
    uint64_t other = run_hash_(plans[k], SEED_ + 1);
    setenv("ALTO_NUM_THREADS", "1", 1);
    uint64_t one = run_hash_(plans[k], SEED_);
    CHECKF(a == b, "%s: same seed, different bits", k ? "mxfp4" : "bf16");
    CHECKF(a == one, "%s: 1 vs 2 threads differ", k ? "mxfp4" : "bf16");
    CHECK(a != other);
  }
  unsetenv("ALTO_NUM_THREADS");
  alto_lowered_free(&lb);
  alto_lowered_free(&lm);
}

/* Bad inputs are errors, not crashes. */
static void test_errors(void) {
  alto_lowered l = lower_(NULL);
  alto_exec *e = exec_(&l.plan, SEED_);
  int32_t bad[M_];
  memcpy(bad, tokens_, sizeof bad);
  bad[3] = 64;
  CHECK(alto_exec_set_inputs(e, bad, targets_) == ALTO_ERR_INVALID_ARG);
  alto_adamw_hparams h = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8};
  CHECK(alto_exec_optimizer_step(e, &h, 0) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_exec_param(e, "no.such.weight", NULL) == NULL);
  CHECK(alto_exec_n_params(e) == 2 + 2 * 9 + 1);
  alto_exec_free(e);
  alto_lowered_free(&l);
  /* DGE with NVFP4's E4M3 x fp32 scales: refused when the executor is made, naming the node */
  static const char dge[] = "training_stage:\n  lpt_modifiers:\n    LowPrecisionTrainingModifier:\n"
                            "      scheme: nvfp4\n      use_dge: true\n"
                            "      two_level_scaling: tensorwise\n";
  alto_recipe *r = NULL;
  CHECK(alto_recipe_load_string("nvfp4_dge.yaml", dge, sizeof dge - 1, &r) == ALTO_OK);
  alto_lower_opts o = {B_, T_, ""};
  CHECK(alto_lower(&model_, r, &o, &l) == ALTO_OK);
  e = NULL;
  CHECK(alto_exec_create(&model_, &l.plan, SEED_, &e) == ALTO_ERR_UNSUPPORTED && !e);
  CHECKF(strstr(alto_last_error(), "wgrad.dge") && strstr(alto_last_error(), "MXFP4"), "%s",
         alto_last_error());
  alto_recipe_free(r);
  alto_lowered_free(&l);
}

int main(void) {
  setup_();
  RUN(test_grad_check_fp32);
  RUN(test_bf16_matches_fp32);
  RUN(test_overfit_bf16);
  RUN(test_mxfp4);
  RUN(test_nvfp4);
  RUN(test_determinism);
  RUN(test_errors);
  return alto_test_finish();
}
