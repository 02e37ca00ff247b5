/* Attention on the GPU (templates/attn/, generated and JIT-compiled) against the CPU reference
 * (runtime/cpu/ops.c) computed in fp32 on the same bf16-rounded inputs: forward (O, lse) and
 * backward (dQ, dK, dV) for shapes with tails, GQA ratios 4 and 1, head dims 16 (the debug model),
 * 32, 64 and 128, batch 2, plain causal and sliding window. Tolerances (NUMERICS.md 8, bf16
 * outputs): relative Frobenius error of O, dQ, dK, dV below 1e-2, lse within 1e-3 absolute; no
 * NaN; guard bytes intact; two runs bit-identical. Fresh random data with outliers (never zeros).
 * Skips without a GPU. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/attn_gpu.h"
#include "runtime/cpu/ops.h"
#include "templates/common/alto_numerics.h"
#include "tests/gpu_util.h"
#include "tests/harness.h"

static alto_backend *B;
static alto_test_rng rng;

/* n values: randn * scale with 0.5% x100 outliers, rounded to bf16 (bits in h, values in f). */
static void make_bf16(uint16_t *h, float *f, int64_t n, float scale) {
  alto_test_fill_outliers(&rng, f, n, scale);
  for (int64_t i = 0; i < n; i++) {
    if (f[i] == 0.f)
      f[i] = scale * 1e-3f; /* never zeros */
    h[i] = alto_f32_to_bf16(f[i]);
    f[i] = alto_bf16_to_f32(h[i]);
  }
}

/* Relative Frobenius error of bf16 GPU values against fp32 reference values; counts NaNs. */
static double rel_err(const uint16_t *got, const float *ref, int64_t n, int64_t *nans) {
  double num = 0, den = 0;
  *nans = 0;
  for (int64_t i = 0; i < n; i++) {
    float g = alto_bf16_to_f32(got[i]);
    if (isnan(g) || isinf(g)) {
      (*nans)++;
      continue;
    }
    double d = (double)g - ref[i];
    num += d * d;
    den += (double)ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
}

typedef struct {
  int64_t T, H, G, D, window;
  alto_attn_tiles fwd; /* all zero: the default forward (sm_90a, D 64 / 128: warpgroup MMA) */
  alto_attn_tiles dq;  /* all zero: the default dQ kernel */
  alto_attn_tiles dkdv; /* all zero: the default dK / dV kernel */
} attn_case;

static void run_case(const attn_case *c) {
  const int64_t Bn = 2, T = c->T, H = c->H, G = c->G, D = c->D, W = c->window;
  const int64_t nq = Bn * T * H * D, nkv = Bn * T * G * D, nl = Bn * H * T;
  char what[128];
  alto_attn_tuning tune;
  memset(&tune, 0, sizeof tune);
  tune.fwd = c->fwd, tune.dq = c->dq, tune.dkdv = c->dkdv;
  snprintf(what, sizeof what,
           "B %lld T %lld H %lld G %lld D %lld window %lld fwd %d.%d.%d.%d dq %d.%d.%d.%d dkdv "
           "%d.%d.%d.%d",
           (long long)Bn, (long long)T, (long long)H, (long long)G, (long long)D, (long long)W,
           c->fwd.bm, c->fwd.bn, c->fwd.minb, c->fwd.wg, c->dq.bm, c->dq.bn, c->dq.minb, c->dq.wg,
           c->dkdv.bn, c->dkdv.bq, c->dkdv.minb, c->dkdv.wg);
  uint16_t *hq = malloc(nq * 2), *hk = malloc(nkv * 2), *hv = malloc(nkv * 2),
           *hdo = malloc(nq * 2);
  float *q = malloc(nq * 4), *k = malloc(nkv * 4), *v = malloc(nkv * 4), *dout = malloc(nq * 4);
  make_bf16(hq, q, nq, 0.5f);
  make_bf16(hk, k, nkv, 0.5f);
  make_bf16(hv, v, nkv, 1.0f);
  make_bf16(hdo, dout, nq, 1.0f);

  /* fp32 reference on the bf16-rounded inputs */
  float *out = malloc(nq * 4), *lse = malloc(nl * 4), *dq = malloc(nq * 4), *dk = malloc(nkv * 4),
        *dv = malloc(nkv * 4);
  alto_op_attention(out, lse, q, k, v, Bn, T, H, G, D, W);
  /* The backward reads O as the training step stores it: bf16 (the plan's sdpa.out; the CPU
   * executor widens the same bf16 values). Its delta = rowsum(dO * O) cancels badly when V and dO
   * carry outliers, so the fp32 O would be the reference of another function. */
  float *out16 = malloc(nq * 4);
  for (int64_t i = 0; i < nq; i++)
    out16[i] = alto_bf16_to_f32(alto_f32_to_bf16(out[i]));
  alto_op_attention_bwd(dq, dk, dv, q, k, v, out16, lse, dout, Bn, T, H, G, D, W);
  free(out16);

  gpu_buf gq = gpu_alloc(B, nq * 2), gk = gpu_alloc(B, nkv * 2), gv = gpu_alloc(B, nkv * 2),
          gdo = gpu_alloc(B, nq * 2), ws = gpu_alloc(B, alto_gpu_attention_bwd_workspace(Bn, T, H));
  gpu_upload(B, gq, hq), gpu_upload(B, gk, hk), gpu_upload(B, gv, hv), gpu_upload(B, gdo, hdo);
  gpu_buf go[2], gl[2], gdq[2], gdk[2], gdv[2];
  for (int r = 0; r < 2; r++) {
    go[r] = gpu_alloc(B, nq * 2), gl[r] = gpu_alloc(B, nl * 4);
    gdq[r] = gpu_alloc(B, nq * 2), gdk[r] = gpu_alloc(B, nkv * 2), gdv[r] = gpu_alloc(B, nkv * 2);
    alto_status st = alto_gpu_attention_tuned(B, gpu_ptr(go[r]), gpu_ptr(gl[r]), gpu_ptr(gq),
                                              gpu_ptr(gk), gpu_ptr(gv), Bn, T, H, G, D, W, &tune);
    CHECKF(st == ALTO_OK, "%s: forward: %s", what, alto_last_error());
    /* run 0 with a temporary workspace, run 1 with the caller's; both read run 0's forward */
    st = alto_gpu_attention_bwd(B, gpu_ptr(gdq[r]), gpu_ptr(gdk[r]), gpu_ptr(gdv[r]), gpu_ptr(gq),
                                gpu_ptr(gk), gpu_ptr(gv), gpu_ptr(go[0]), gpu_ptr(gl[0]),
                                gpu_ptr(gdo), Bn, T, H, G, D, W, r ? gpu_ptr(ws) : 0);
    CHECKF(st == ALTO_OK, "%s: backward: %s", what, alto_last_error());
    st = B->i->sync(B);
    CHECKF(st == ALTO_OK, "%s: sync: %s", what, alto_last_error());
  }

  uint16_t *o16[2], *dq16[2], *dk16[2], *dv16[2];
  float *l32[2];
  for (int r = 0; r < 2; r++) {
    o16[r] = malloc(nq * 2), dq16[r] = malloc(nq * 2), dk16[r] = malloc(nkv * 2);
    dv16[r] = malloc(nkv * 2), l32[r] = malloc(nl * 4);
    gpu_download(B, o16[r], go[r], "O");
    gpu_download(B, l32[r], gl[r], "lse");
    gpu_download(B, dq16[r], gdq[r], "dQ");
    gpu_download(B, dk16[r], gdk[r], "dK");
    gpu_download(B, dv16[r], gdv[r], "dV");
  }
  int64_t nan_o, nan_q, nan_k, nan_v, nan_l = 0;
  double eo = rel_err(o16[0], out, nq, &nan_o), eq = rel_err(dq16[0], dq, nq, &nan_q);
  double ek = rel_err(dk16[0], dk, nkv, &nan_k), ev = rel_err(dv16[0], dv, nkv, &nan_v);
  double el = 0;
  for (int64_t i = 0; i < nl; i++) {
    if (!isfinite(l32[0][i])) {
      nan_l++;
      continue;
    }
    /* relative to the lse's own size: with 100x outliers the scores reach ~1e3, where fp32 sums of
     * D products in another order differ by ~1e-3 absolute */
    double d = fabs((double)l32[0][i] - lse[i]) / fmax(1.0, fabs((double)lse[i]));
    el = d > el ? d : el;
  }
  bool same = memcmp(o16[0], o16[1], nq * 2) == 0 && memcmp(l32[0], l32[1], nl * 4) == 0 &&
              memcmp(dq16[0], dq16[1], nq * 2) == 0 && memcmp(dk16[0], dk16[1], nkv * 2) == 0 &&
              memcmp(dv16[0], dv16[1], nkv * 2) == 0;
  fprintf(stderr,
          "  %s: rel err O %.2e dQ %.2e dK %.2e dV %.2e, lse max rel %.2e, non-finite %lld, "
          "%s\n",
          what, eo, eq, ek, ev, el, (long long)(nan_o + nan_q + nan_k + nan_v + nan_l),
          same ? "bit-identical reruns" : "RERUNS DIFFER");
  CHECKF(nan_o + nan_q + nan_k + nan_v + nan_l == 0, "%s: non-finite outputs", what);
  /* O: one bf16 rounding of P before P V; the gradients add the bf16 roundings of dS and of the
   * operands of four more tensor-core products */
  CHECKF(eo < 1e-2, "%s: O relative error %.3e above 1e-2", what, eo);
  CHECKF(eq < 2e-2 && ek < 2e-2 && ev < 2e-2, "%s: gradient relative error above 2e-2", what);
  CHECKF(el < 2e-5, "%s: lse relative error %.3e", what, el);
  CHECKF(same, "%s: two runs differ", what);

  for (int r = 0; r < 2; r++) {
    gpu_free(B, &go[r]), gpu_free(B, &gl[r]), gpu_free(B, &gdq[r]), gpu_free(B, &gdk[r]);
    gpu_free(B, &gdv[r]);
    free(o16[r]), free(dq16[r]), free(dk16[r]), free(dv16[r]), free(l32[r]);
  }
  gpu_free(B, &gq), gpu_free(B, &gk), gpu_free(B, &gv), gpu_free(B, &gdo), gpu_free(B, &ws);
  free(hq), free(hk), free(hv), free(hdo), free(q), free(k), free(v), free(dout);
  free(out), free(lse), free(dq), free(dk), free(dv);
}

/* --small: the cases of T <= 1000 only (compute-sanitizer runs) */
static bool small_only;

static void test_attention(void) {
  static const attn_case cases[] = {
      {1000, 16, 4, 64, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {1000, 16, 4, 128, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {1000, 16, 16, 64, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {1000, 16, 16, 128, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 4, 64, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 4, 128, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 16, 64, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 16, 128, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      /* sliding window: tiles masked at both ends */
      {1000, 16, 4, 128, 300, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 16, 64, 257, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {37, 16, 4, 64, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}}, /* shorter than one tile */
      {1000, 16, 4, 16, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      /* small heads (debug model: 16), GQA */
      {1000, 16, 4, 32, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 16, 16, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {1000, 16, 4, 32, 300, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {37, 16, 4, 16, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      {37, 8, 2, 32, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0}},
      /* the mma.sync forward where sm_90a defaults to the warpgroup MMA, and the latter's other
       * tilings (192 rows: a last CTA past T; 64 rows, two CTAs per SM) */
      {2048 + 64, 16, 4, 64, 0, {128, 64, 0, 2, 0}, {0, 0, 0, 0, 0}, {0}},
      {1000, 16, 4, 128, 300, {128, 64, 0, 1, 0}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 4, 64, 0, {192, 64, 0, 1, 1}, {0, 0, 0, 0, 0}, {0}},
      {1000, 16, 4, 128, 300, {192, 64, 0, 1, 1}, {0, 0, 0, 0, 0}, {0}},
      {1000, 16, 16, 64, 257, {128, 64, 0, 2, 1}, {0, 0, 0, 0, 0}, {0}},
      {37, 16, 4, 128, 0, {64, 64, 0, 2, 1}, {0, 0, 0, 0, 0}, {0}},
      {2048 + 64, 16, 16, 128, 0, {128, 128, 0, 1, 1}, {0, 0, 0, 0, 0}, {0}},
      /* the warpgroup-MMA dQ kernel */
      {2048 + 64, 16, 4, 64, 0, {0, 0, 0, 0, 0}, {64, 64, 0, 2, 1}, {0}},
      {1000, 16, 4, 128, 300, {0, 0, 0, 0, 0}, {128, 64, 0, 1, 1}, {0}},
      {1000, 16, 16, 64, 257, {0, 0, 0, 0, 0}, {192, 64, 0, 1, 1}, {0}},
      {37, 16, 4, 128, 0, {0, 0, 0, 0, 0}, {64, 64, 0, 2, 1}, {0}},
      {2048 + 64, 16, 16, 128, 0, {0, 0, 0, 0, 0}, {128, 64, 0, 1, 1}, {0}},
      /* the warpgroup-MMA dK / dV kernel (192 keys: a last CTA past T) and the mma.sync one
       * where sm_90a defaults to it */
      {2048 + 64, 16, 4, 64, 0, {0}, {0}, {0, 128, 64, 1, 1}},
      {1000, 16, 4, 128, 300, {0}, {0}, {0, 128, 64, 1, 1}},
      {1000, 16, 16, 64, 257, {0}, {0}, {0, 64, 64, 2, 1}},
      {37, 16, 4, 128, 0, {0}, {0}, {0, 128, 32, 1, 1}},
      {2048 + 64, 16, 16, 128, 0, {0}, {0}, {0, 64, 32, 1, 1}},
      {1000, 16, 4, 64, 0, {0}, {0}, {0, 192, 64, 1, 1}},
      {1000, 16, 4, 64, 300, {0}, {0}, {0, 128, 32, 2, 1}},
      {2048 + 64, 16, 4, 64, 0, {0}, {0}, {0, 64, 64, 1, 0}},
      {1000, 16, 4, 128, 300, {0}, {0}, {0, 128, 64, 1, 0}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (!small_only || cases[i].T <= 1000)
      run_case(&cases[i]);
}

static void test_refusals(void) {
  alto_status st = alto_gpu_attention(B, 0, 0, 0, 0, 0, 1, 16, 16, 4, 96, 0);
  CHECK(st == ALTO_ERR_UNSUPPORTED);
  st = alto_gpu_attention(B, 0, 0, 0, 0, 0, 1, 16, 16, 4, 8, 0);
  CHECK(st == ALTO_ERR_UNSUPPORTED);
  st = alto_gpu_attention(B, 0, 0, 0, 0, 0, 1, 16, 16, 5, 64, 0);
  CHECK(st == ALTO_ERR_INVALID_ARG);
  st = alto_gpu_attention(B, 8, 0, 0, 0, 0, 1, 16, 16, 4, 64, 0);
  CHECK(st == ALTO_ERR_INVALID_ARG); /* misaligned */
}

int main(int argc, char **argv) {
  small_only = argc > 1 && strcmp(argv[1], "--small") == 0;
  if (alto_backend_open("cuda", &B) != ALTO_OK)
    alto_test_skip(alto_last_error());
  fprintf(stderr, "GPU: %s (%s)\n", B->device_name, B->arch);
  rng.s = alto_test_seed();
  RUN(test_refusals);
  RUN(test_attention);
  alto_backend_close(B);
  return alto_test_finish();
}
