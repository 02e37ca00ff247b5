/* Every CPU op's backward against central finite differences, in an fp64 build of ops.c (the llm.c
 * "#include the .c" trick: ALTO_OPS_STATIC makes these copies static, so they never clash with the
 * library's float symbols). Each check is the norm-wise relative error of the analytic gradient
 * of L = sum(w * f(x)) (w random) against (L(x + h) - L(x - h)) / 2h, h = 1e-5: in double the
 * truncation error is ~h^2 and the roundoff ~1e-16/h, both far below the 1e-6 bound. */
#define ALTO_REAL_F64
#define ALTO_OPS_STATIC
#include "runtime/cpu/ops.c"

#include <math.h>
#include <string.h>

#include "tests/harness.h"

static alto_test_rng rng_ = {12345};

static double *randn_(int64_t n) {
  double *x = alto_xmalloc((size_t)n * sizeof *x);
  for (int64_t i = 0; i < n; i++)
    x[i] = alto_test_normal(&rng_);
  return x;
}

static double dotd_(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

typedef double (*loss_fn_)(void *ctx);

/* ||numeric - analytic|| / ||numeric|| over every element of x (n,). */
static double fd_rel_err_(loss_fn_ f, void *ctx, double *x, int64_t n, const double *analytic) {
  const double h = 1e-5;
  double num2 = 0, diff2 = 0;
  for (int64_t i = 0; i < n; i++) {
    double x0 = x[i];
    x[i] = x0 + h;
    double lp = f(ctx);
    x[i] = x0 - h;
    double lm = f(ctx);
    x[i] = x0;
    double g = (lp - lm) / (2 * h);
    num2 += g * g;
    diff2 += (g - analytic[i]) * (g - analytic[i]);
  }
  return sqrt(diff2) / (sqrt(num2) > 1e-300 ? sqrt(num2) : 1e-300);
}

#define CHECK_GRAD_(f, ctx, x, n, g)                                                               \
  do {                                                                                             \
    double e_ = fd_rel_err_(f, ctx, x, n, g);                                                      \
    CHECKF(e_ < 1e-6, "%s: relative error %.3g", #x, e_);                                          \
  } while (0)

/* ---- embedding ---------------------------------------------------------------------------- */
typedef struct {
  int32_t tok[6];
  double *table, *w, *out;
  int64_t M, C;
} embed_t_;

static double embed_loss_(void *ctx) {
  embed_t_ *t = ctx;
  alto_op_embed(t->out, t->tok, t->table, t->M, t->C);
  return dotd_(t->w, t->out, t->M * t->C);
}

static void test_embed(void) {
  embed_t_ t = {{3, 1, 3, 0, 4, 3}, NULL, NULL, NULL, 6, 8};
  int64_t V = 5;
  t.table = randn_(V * t.C);
  t.w = randn_(t.M * t.C);
  t.out = randn_(t.M * t.C);
  double *g = calloc((size_t)(V * t.C), sizeof *g);
  alto_op_embed_bwd(g, t.tok, t.w, t.M, t.C);
  CHECK_GRAD_(embed_loss_, &t, t.table, V * t.C, g);
  free(t.table), free(t.w), free(t.out), free(g);
}

/* ---- RMSNorm ------------------------------------------------------------------------------ */
typedef struct {
  double *x, *nw, *w, *out, *rstd;
  int64_t M, C;
} norm_t_;

static double norm_loss_(void *ctx) {
  norm_t_ *t = ctx;
  alto_op_rmsnorm(t->out, t->rstd, t->x, t->nw, t->M, t->C, 1e-5);
  return dotd_(t->w, t->out, t->M * t->C);
}

static void test_rmsnorm(void) {
  norm_t_ t = {NULL, NULL, NULL, NULL, NULL, 5, 12};
  int64_t N = t.M * t.C;
  t.x = randn_(N), t.nw = randn_(t.C), t.w = randn_(N), t.out = randn_(N), t.rstd = randn_(t.M);
  double *dx = randn_(N), *dx0 = alto_xmalloc((size_t)N * sizeof *dx0), *dw = randn_(t.C);
  norm_loss_(&t);
  alto_op_rmsnorm_bwd(dx, dw, t.w, t.x, t.nw, t.rstd, t.M, t.C, false);
  CHECK_GRAD_(norm_loss_, &t, t.x, N, dx);
  CHECK_GRAD_(norm_loss_, &t, t.nw, t.C, dw);
  /* accumulate: dx += the same gradient */
  memcpy(dx0, dx, (size_t)N * sizeof *dx);
  norm_loss_(&t);
  alto_op_rmsnorm_bwd(dx, dw, t.w, t.x, t.nw, t.rstd, t.M, t.C, true);
  double err = 0;
  for (int64_t i = 0; i < N; i++)
    err = fmax(err, fabs(dx[i] - 2 * dx0[i]));
  CHECKF(err < 1e-12, "accumulate error %g", err);
  free(t.x), free(t.nw), free(t.w), free(t.out), free(t.rstd), free(dx), free(dx0), free(dw);
}

/* ---- RoPE --------------------------------------------------------------------------------- */
typedef struct {
  double *x, *w, *out, *cs, *sn;
  int64_t M, T, NH, D, rot;
} rope_t_;

static double rope_loss_(void *ctx) {
  rope_t_ *t = ctx;
  alto_op_rope(t->out, t->x, t->cs, t->sn, t->M, t->T, t->NH, t->D, t->rot);
  return dotd_(t->w, t->out, t->M * t->NH * t->D);
}

static void test_rope(void) {
  alto_rope r = {.theta = 10000,
                 .scaling = ALTO_ROPE_SCALING_LLAMA3,
                 .factor = 8,
                 .low_freq_factor = 1,
                 .high_freq_factor = 4,
                 .original_max_position = 16};
  for (int pass = 0; pass < 2; pass++) {
    rope_t_ t = {NULL, NULL, NULL, NULL, NULL, 12, 6, 3, 8, pass ? 4 : 8};
    int64_t N = t.M * t.NH * t.D;
    t.x = randn_(N), t.w = randn_(N), t.out = randn_(N);
    t.cs = randn_(t.T * t.rot / 2), t.sn = randn_(t.T * t.rot / 2);
    alto_op_rope_table(t.cs, t.sn, &r, t.T, t.rot);
    double *dx = randn_(N);
    alto_op_rope_bwd(dx, t.w, t.cs, t.sn, t.M, t.T, t.NH, t.D, t.rot);
    CHECK_GRAD_(rope_loss_, &t, t.x, N, dx);
    /* in place gives the same result */
    rope_loss_(&t);
    double *y = alto_xmalloc((size_t)N * sizeof *y);
    memcpy(y, t.x, (size_t)N * sizeof *y);
    alto_op_rope(y, y, t.cs, t.sn, t.M, t.T, t.NH, t.D, t.rot);
    CHECK(memcmp(y, t.out, (size_t)N * sizeof *y) == 0);
    free(t.x), free(t.w), free(t.out), free(t.cs), free(t.sn), free(dx), free(y);
  }
}

/* The HF rotate_half layout at position 1 with plain frequencies, and llama3 scaling: high
 * frequencies kept, low ones divided by the factor. */
static void test_rope_table(void) {
  alto_rope r = {.theta = 500000, .scaling = ALTO_ROPE_SCALING_NONE};
  int64_t rot = 16, h = 8, T = 3;
  double cs[24], sn[24], cs3[24], sn3[24];
  alto_op_rope_table(cs, sn, &r, T, rot);
  for (int64_t i = 0; i < h; i++) {
    double f = pow(500000.0, -(double)(2 * i) / (double)rot);
    CHECK(fabs(cs[h + i] - cos(f)) < 1e-15 && fabs(sn[2 * h + i] - sin(2 * f)) < 1e-15);
  }
  r.scaling = ALTO_ROPE_SCALING_LLAMA3;
  r.factor = 8, r.low_freq_factor = 1, r.high_freq_factor = 4, r.original_max_position = 8192;
  alto_op_rope_table(cs3, sn3, &r, T, rot);
  CHECK(sn3[h + 0] == sn[h + 0]);          /* wavelength 2 pi: high frequency, unchanged */
  double f7 = pow(500000.0, -14.0 / 16.0); /* wavelength ~ 6e5 > 8192: divided by 8 */
  CHECK(fabs(sn3[h + 7] - sin(f7 / 8)) < 1e-15);
}

/* ---- attention ---------------------------------------------------------------------------- */
typedef struct {
  double *q, *k, *v, *w, *out, *lse;
  int64_t B, T, H, G, D, window;
} attn_t_;

static double attn_loss_(void *ctx) {
  attn_t_ *t = ctx;
  alto_op_attention(t->out, t->lse, t->q, t->k, t->v, t->B, t->T, t->H, t->G, t->D, t->window);
  return dotd_(t->w, t->out, t->B * t->T * t->H * t->D);
}

static void test_attention(void) {
  for (int pass = 0; pass < 2; pass++) {
    attn_t_ t = {NULL, NULL, NULL, NULL, NULL, NULL, 2, 7, 4, 2, 4, pass ? 3 : 0};
    int64_t nq = t.B * t.T * t.H * t.D, nk = t.B * t.T * t.G * t.D;
    t.q = randn_(nq), t.k = randn_(nk), t.v = randn_(nk), t.w = randn_(nq), t.out = randn_(nq);
    t.lse = randn_(t.B * t.H * t.T);
    double *dq = randn_(nq), *dk = randn_(nk), *dv = randn_(nk);
    attn_loss_(&t);
    alto_op_attention_bwd(dq, dk, dv, t.q, t.k, t.v, t.out, t.lse, t.w, t.B, t.T, t.H, t.G, t.D,
                          t.window);
    CHECK_GRAD_(attn_loss_, &t, t.q, nq, dq);
    CHECK_GRAD_(attn_loss_, &t, t.k, nk, dk);
    CHECK_GRAD_(attn_loss_, &t, t.v, nk, dv);
    /* causality: the first query attends only to the first key, so its output is v_0 */
    CHECK(fabs(t.out[0] - t.v[0]) < 1e-12);
    free(t.q), free(t.k), free(t.v), free(t.w), free(t.out), free(t.lse);
    free(dq), free(dk), free(dv);
  }
}

/* ---- elementwise -------------------------------------------------------------------------- */
typedef struct {
  double *a, *b, *w, *out;
  int64_t N;
  bool add;
} ew_t_;

static double ew_loss_(void *ctx) {
  ew_t_ *t = ctx;
  if (t->add)
    alto_op_add(t->out, t->a, t->b, t->N);
  else
    alto_op_swiglu(t->out, t->a, t->b, t->N);
  return dotd_(t->w, t->out, t->N);
}

static void test_elementwise(void) {
  ew_t_ t = {NULL, NULL, NULL, NULL, 40, false};
  t.a = randn_(t.N), t.b = randn_(t.N), t.w = randn_(t.N), t.out = randn_(t.N);
  double *da = randn_(t.N), *db = randn_(t.N);
  alto_op_swiglu_bwd(da, db, t.w, t.a, t.b, t.N);
  CHECK_GRAD_(ew_loss_, &t, t.a, t.N, da);
  CHECK_GRAD_(ew_loss_, &t, t.b, t.N, db);
  t.add = true; /* d(a + b) = w for both */
  CHECK_GRAD_(ew_loss_, &t, t.a, t.N, t.w);
  CHECK_GRAD_(ew_loss_, &t, t.b, t.N, t.w);
  free(t.a), free(t.b), free(t.w), free(t.out), free(da), free(db);
}

/* ---- GEMM --------------------------------------------------------------------------------- */
/* Every transpose combination and accumulate against a naive loop. */
static void test_gemm_layouts(void) {
  int64_t m = 9, n = 7, k = 5;
  double *a = randn_(m * k), *b = randn_(n * k), *c = randn_(m * n), *c0 = randn_(m * n);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int acc = 0; acc < 2; acc++) {
        memcpy(c, c0, (size_t)(m * n) * sizeof *c);
        alto_op_gemm(c, a, b, m, n, k, ta, tb, acc);
        double err = 0;
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
              s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[p * n + j] : b[j * k + p]);
            err = fmax(err, fabs(c[i * n + j] - (acc ? c0[i * n + j] + s : s)));
          }
        CHECKF(err < 1e-12, "trans_a %d trans_b %d accumulate %d: error %g", ta, tb, acc, err);
      }
  free(a), free(b), free(c), free(c0);
}

typedef struct {
  double *x, *wt, *w, *y;
  int64_t M, N, K;
} lin_t_;

static double lin_loss_(void *ctx) {
  lin_t_ *t = ctx;
  alto_op_gemm(t->y, t->x, t->wt, t->M, t->N, t->K, false, false, false); /* fprop Y = X W^T */
  return dotd_(t->w, t->y, t->M * t->N);
}

/* The IR's Linear: dgrad dX = dY W (trans_b), wgrad dW = dY^T X (trans_a, trans_b). */
static void test_gemm_linear_grad(void) {
  lin_t_ t = {NULL, NULL, NULL, NULL, 6, 5, 7};
  t.x = randn_(t.M * t.K), t.wt = randn_(t.N * t.K), t.w = randn_(t.M * t.N);
  t.y = randn_(t.M * t.N);
  double *dx = randn_(t.M * t.K), *dw = randn_(t.N * t.K);
  alto_op_gemm(dx, t.w, t.wt, t.M, t.K, t.N, false, true, false);
  alto_op_gemm(dw, t.w, t.x, t.N, t.K, t.M, true, true, false);
  CHECK_GRAD_(lin_loss_, &t, t.x, t.M * t.K, dx);
  CHECK_GRAD_(lin_loss_, &t, t.wt, t.N * t.K, dw);
  free(t.x), free(t.wt), free(t.w), free(t.y), free(dx), free(dw);
}

/* ---- cross-entropy ------------------------------------------------------------------------ */
typedef struct {
  double *logits;
  int32_t targets[5];
  int64_t M, V;
} ce_t_;

static double ce_loss_(void *ctx) {
  ce_t_ *t = ctx;
  return alto_op_cross_entropy(NULL, t->logits, t->targets, t->M, t->V);
}

static void test_cross_entropy(void) {
  ce_t_ t = {NULL, {2, 0, -100, 6, 2}, 5, 7};
  t.logits = randn_(t.M * t.V);
  double *dl = randn_(t.M * t.V);
  double loss = alto_op_cross_entropy(dl, t.logits, t.targets, t.M, t.V);
  CHECK_GRAD_(ce_loss_, &t, t.logits, t.M * t.V, dl);
  /* the mean over the 4 valid rows of -log softmax[target] */
  double ref = 0;
  for (int64_t m = 0; m < t.M; m++) {
    if (t.targets[m] < 0)
      continue;
    double s = 0;
    for (int64_t v = 0; v < t.V; v++)
      s += exp(t.logits[m * t.V + v]);
    ref += log(s) - t.logits[m * t.V + t.targets[m]];
  }
  CHECKF(fabs(loss - ref / 4) < 1e-12, "loss %.15g vs %.15g", loss, ref / 4);
  for (int64_t v = 0; v < t.V; v++)
    CHECK(dl[2 * t.V + v] == 0);
  free(t.logits), free(dl);
}

/* ---- optimizer ---------------------------------------------------------------------------- */
/* Two steps of torch.optim.AdamW on one element, written out. */
static void test_adamw(void) {
  alto_adamw_hparams h = {
      .lr = 1e-2, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  float p = 0.5f, m = 0, v = 0, g[2] = {0.2f, -0.4f};
  double rp = 0.5, rm = 0, rv = 0;
  for (int s = 1; s <= 2; s++) {
    alto_op_adamw(&p, &g[s - 1], &m, &v, 1, &h, s);
    rp *= 1 - h.lr * h.weight_decay;
    rm = h.beta1 * rm + (1 - h.beta1) * g[s - 1];
    rv = h.beta2 * rv + (1 - h.beta2) * g[s - 1] * g[s - 1];
    double mh = rm / (1 - pow(h.beta1, s)), vh = rv / (1 - pow(h.beta2, s));
    rp -= h.lr * mh / (sqrt(vh) + h.eps);
  }
  CHECKF(fabs(p - rp) < 1e-6, "adamw %.9g vs %.9g", p, rp);
  float x[3] = {3, 4, 0};
  CHECK(alto_op_sumsq(x, 3) == 25.0);
  CHECK(fabs(alto_op_clip_factor(5.0, 1.0) - 1.0 / (5.0 + 1e-6)) < 1e-15);
  CHECK(alto_op_clip_factor(0.5, 1.0) == 1.0);
  alto_op_scale(x, 3, 0.5f);
  CHECK(x[0] == 1.5f && x[1] == 2.0f);
}

int main(void) {
  RUN(test_embed);
  RUN(test_rmsnorm);
  RUN(test_rope);
  RUN(test_rope_table);
  RUN(test_attention);
  RUN(test_elementwise);
  RUN(test_gemm_layouts);
  RUN(test_gemm_linear_grad);
  RUN(test_cross_entropy);
  RUN(test_adamw);
  return alto_test_finish();
}
