/* cuBLASLt GEMMs against the fp64 CPU reference (NUMERICS.md 8: relative Frobenius error < 8e-3
 * for bf16 output, < 1e-5 for fp32 output):
 *   - bf16 GEMM, every (trans_a, trans_b, accumulate) combination, bf16 and fp32 output, shapes
 *     with tails (odd M, N, K included);
 *   - blockwise FP8 GEMM (A 1x128 along K, B 128x128; and 1x128 x 1x128 for wgrad) against fp64
 *     dequant(A) dequant(B)^T from alto_cpu_quantize / alto_cpu_dequantize, M tails, K/128 not a
 *     multiple of 4 (padded scale rows), scales converted inside the call and ahead of it (the
 *     converted layout checked against the host transform, and both runs bitwise equal);
 *   - per-tensor FP8 GEMM (one fp32 scale per operand, sm_89+), M and K tails, C +=.
 * Random data with outliers (never zeros), guard bytes around every output, poisoned outputs,
 * NaN checks. Skips (77) without a GPU or without libcublasLt; the FP8 part needs sm_90. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu/quant.h"
#include "runtime/cuda/cublaslt.h"
#include "runtime/cuda/driver.h"
#include "tests/gpu_util.h"
#include "tests/harness.h"

static alto_backend *B;
static alto_test_rng rng;
static size_t a_offset; /* bytes: A starts this far into its buffer (pointer alignment test) */

/* c[i, j] = c0[i, j] + sum_k op(A)[i, k] op(B)[j, k] in fp64. a [M, K] or [K, M] when ta;
 * b [N, K] or [K, N] when tb; c, c0 [M, N] (c0 may be NULL). */
static void ref_gemm(double *c, const float *a, const float *b, const double *c0, int64_t m,
                     int64_t n, int64_t k, bool ta, bool tb) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = c0 ? c0[i * n + j] : 0.0;
      for (int64_t kk = 0; kk < k; kk++) {
        double x = ta ? a[kk * m + i] : a[i * k + kk];
        double y = tb ? b[kk * n + j] : b[j * k + kk];
        s += x * y;
      }
      c[i * n + j] = s;
    }
}

/* ||got - ref||_F / ||ref||_F; counts non-finite outputs. */
static double rel_frob(const double *ref, const float *got, int64_t n, int64_t *nonfinite) {
  double num = 0, den = 0;
  *nonfinite = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(got[i])) {
      (*nonfinite)++;
      continue;
    }
    double d = (double)got[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : INFINITY;
}

/* Random values with outliers, rounded to bf16: bits in h, exact values in f. */
static void make_bf16(uint16_t *h, float *f, int64_t n) {
  alto_test_fill_outliers(&rng, f, n, 1.0f);
  for (int64_t i = 0; i < n; i++) {
    h[i] = alto_f32_to_bf16(f[i]);
    f[i] = alto_bf16_to_f32(h[i]);
  }
}

/* The initial C for accumulate (random, in the output dtype): device bytes in dev, values in c0. */
/* A random C (outliers) of n elements in out's dtype uploaded to gc; returns its values in fp64
 * (the caller frees them). */
static double *upload_c0(gpu_buf gc, int64_t n, alto_dtype out) {
  void *dev = malloc(gc.bytes);
  double *c0 = malloc((size_t)n * 8);
  float *f = malloc((size_t)n * 4);
  alto_test_fill_outliers(&rng, f, n, 1.0f);
  for (int64_t i = 0; i < n; i++) {
    if (out == ALTO_DT_BF16) {
      ((uint16_t *)dev)[i] = alto_f32_to_bf16(f[i]);
      c0[i] = alto_bf16_to_f32(((uint16_t *)dev)[i]);
    } else {
      ((float *)dev)[i] = f[i];
      c0[i] = f[i];
    }
  }
  free(f);
  gpu_upload(B, gc, dev);
  free(dev);
  return c0;
}

/* Downloads C (checking guards) as floats. */
static float *download_c(gpu_buf g, int64_t n, alto_dtype out, const char *what) {
  void *raw = malloc(g.bytes);
  gpu_download(B, raw, g, what);
  float *f = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++)
    f[i] = out == ALTO_DT_BF16 ? alto_bf16_to_f32(((uint16_t *)raw)[i]) : ((float *)raw)[i];
  free(raw);
  return f;
}

/* NUMERICS.md 8: 8e-3 for bf16 output, 1e-5 for fp32. cuBLASLt's block-scaled FP8 GEMMs miss the
 * fp32 bound (measured 2.4e-4 on an H100, cuBLASLt 13.1): Hopper's FP8 tensor cores keep a limited
 * accumulator precision (DeepSeek-V3 section 3.3.2) and cuBLASLt does not promote to fp32 often
 * enough. Our own FP8 GEMMs (issue 7) must meet 1e-5; the vendor peer is held to 1e-3 and the gap
 * is recorded in bench/NOTES.md. */
static void check_result(const double *ref, const float *got, int64_t n, alto_dtype out,
                         const char *what, bool vendor_fp8) {
  int64_t bad = 0;
  double err = rel_frob(ref, got, n, &bad);
  double tol = out == ALTO_DT_BF16 ? 8e-3 : (vendor_fp8 ? 1e-3 : 1e-5);
  if (out != ALTO_DT_BF16 && vendor_fp8)
    fprintf(stderr, "     note: %s: fp32-output relative error %.3g\n", what, err);
  CHECKF(bad == 0, "%s: %lld non-finite outputs", what, (long long)bad);
  CHECKF(err < tol, "%s: relative Frobenius error %.3g (tolerance %.0e)", what, err, tol);
}

/* ---- bf16 --------------------------------------------------------------------------------- */

static void run_bf16(int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool acc, alto_dtype out) {
  char what[160];
  snprintf(what, sizeof what, "bf16 M=%lld N=%lld K=%lld ta=%d tb=%d acc=%d out=%s", (long long)m,
           (long long)n, (long long)k, ta, tb, acc, alto_ir_dtype_name(out));
  size_t esz = out == ALTO_DT_BF16 ? 2 : 4;
  uint16_t *ah = malloc((size_t)(m * k) * 2), *bh = malloc((size_t)(n * k) * 2);
  float *af = malloc((size_t)(m * k) * 4), *bf = malloc((size_t)(n * k) * 4);
  make_bf16(ah, af, m * k);
  make_bf16(bh, bf, n * k);
  gpu_buf ga = gpu_alloc(B, (size_t)(m * k) * 2 + a_offset), gb = gpu_alloc(B, (size_t)(n * k) * 2);
  gpu_buf gc = gpu_alloc(B, (size_t)(m * n) * esz);
  CHECK(B->i->h2d(B, gpu_ptr(ga) + a_offset, ah, (size_t)(m * k) * 2) == ALTO_OK);
  gpu_upload(B, gb, bh);
  double *c0 = acc ? upload_c0(gc, m * n, out) : NULL;
  alto_status st = alto_cublaslt_gemm_bf16(gpu_ptr(gc), gpu_ptr(ga) + a_offset, gpu_ptr(gb), m, n,
                                           k, ta, tb, acc, out);
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  CHECKF(B->i->sync(B) == ALTO_OK, "%s: %s", what, alto_last_error());
  if (st == ALTO_OK) {
    double *ref = malloc((size_t)(m * n) * 8);
    ref_gemm(ref, af, bf, c0, m, n, k, ta, tb);
    float *got = download_c(gc, m * n, out, what);
    check_result(ref, got, m * n, out, what, false);
    free(ref);
    free(got);
  }
  gpu_free(B, &ga);
  gpu_free(B, &gb);
  gpu_free(B, &gc);
  free(ah), free(bh), free(af), free(bf), free(c0);
}

static void test_bf16_all_combinations(void) {
  static const int64_t shapes[][3] = {{333, 264, 200}, {97, 75, 131}, {256, 512, 384}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int combo = 0; combo < 8; combo++)
      for (int o = 0; o < 2; o++)
        run_bf16(shapes[s][0], shapes[s][1], shapes[s][2], combo & 1, (combo >> 1) & 1,
                 (combo >> 2) & 1, o ? ALTO_DT_F32 : ALTO_DT_BF16);
}

/* The heuristic runs once per configuration. */
static void test_plan_cache(void) {
  run_bf16(64, 64, 64, false, false, false, ALTO_DT_BF16);
  int before = alto_cublaslt_cached_plans();
  CHECK(before > 0);
  run_bf16(64, 64, 64, false, false, false, ALTO_DT_BF16);
  CHECK(alto_cublaslt_cached_plans() == before);
  run_bf16(64, 64, 64, false, true, false, ALTO_DT_BF16);
  CHECK(alto_cublaslt_cached_plans() == before + 1);
  /* A at a 2-byte aligned address: a separate plan whose algorithm accepts it */
  a_offset = 2;
  run_bf16(64, 64, 64, false, false, false, ALTO_DT_BF16);
  a_offset = 0;
  CHECK(alto_cublaslt_cached_plans() == before + 2);
}

/* ---- FP8 block ---------------------------------------------------------------------------- */

typedef struct {
  alto_quantized q;
  float *deq; /* dequantized values [R, K] */
  gpu_buf codes, scales;
} fp8_operand;

static void fp8_make(fp8_operand *o, int64_t r, int64_t k, alto_cublaslt_scale_mode mode) {
  float *x = malloc((size_t)(r * k) * 4);
  alto_test_fill_outliers(&rng, x, r * k, 1.0f);
  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  s.block2d = mode == ALTO_CUBLASLT_SCALE_128X128;
  s.elem = ALTO_ELEM_E4M3;
  alto_tensor_view v = {x, ALTO_ELEM_F32, 2, {r, k, 0}};
  CHECKF(alto_cpu_quantize(&s, &v, &o->q) == ALTO_OK, "%s", alto_last_error());
  o->deq = malloc((size_t)(r * k) * 4);
  CHECKF(alto_cpu_dequantize(&s, &o->q, ALTO_ELEM_F32, o->deq) == ALTO_OK, "%s", alto_last_error());
  o->codes = gpu_alloc(B, (size_t)o->q.layout.codes_bytes);
  o->scales = gpu_alloc(B, (size_t)o->q.layout.scale_count * 4);
  gpu_upload(B, o->codes, o->q.codes);
  gpu_upload(B, o->scales, o->q.scales);
  free(x);
}

static void fp8_free(fp8_operand *o) {
  gpu_free(B, &o->codes);
  gpu_free(B, &o->scales);
  alto_quantized_free(&o->q);
  free(o->deq);
}

/* Converts o's scales ahead of the GEMM and checks the result against the layout documented in
 * cublaslt.h, computed on the host (padding lanes ignored). Returns the converted buffer. */
static gpu_buf fp8_convert_and_check(const fp8_operand *o, int64_t r, int64_t k,
                                     alto_cublaslt_scale_mode mode, const char *what) {
  size_t bytes = alto_cublaslt_scale_bytes(mode, r, k);
  gpu_buf g = gpu_alloc(B, bytes);
  alto_status st = alto_cublaslt_convert_scales(gpu_ptr(g), gpu_ptr(o->scales), mode, r, k);
  CHECKF(st == ALTO_OK, "%s: convert: %s", what, alto_last_error());
  CHECK(B->i->sync(B) == ALTO_OK);
  float *lt = malloc(bytes);
  gpu_download(B, lt, g, what);
  const float *s = o->q.scales;
  int64_t kb = k / 128, bad = 0;
  if (mode == ALTO_CUBLASLT_SCALE_1X128) {
    int64_t r4 = (r + 3) / 4 * 4;
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < kb; j++)
        bad += memcmp(&lt[j * r4 + i], &s[i * kb + j], 4) != 0;
  } else {
    int64_t kb4 = (kb + 3) / 4 * 4, rb = (r + 127) / 128;
    for (int64_t i = 0; i < rb; i++)
      for (int64_t j = 0; j < kb; j++)
        bad += memcmp(&lt[i * kb4 + j], &s[i * kb + j], 4) != 0;
  }
  CHECKF(bad == 0, "%s: %lld converted scales differ from the documented layout", what,
         (long long)bad);
  free(lt);
  return g;
}

/* lenient: ALTO_ERR_UNSUPPORTED from cuBLASLt is reported, not failed (combinations cuBLASLt may
 * not offer on every version). */
static void run_fp8(int64_t m, int64_t n, int64_t k, alto_cublaslt_scale_mode ma,
                    alto_cublaslt_scale_mode mb, bool acc, alto_dtype out, bool lenient) {
  char what[200];
  snprintf(what, sizeof what, "fp8 M=%lld N=%lld K=%lld A %s x B %s acc=%d out=%s", (long long)m,
           (long long)n, (long long)k, ma == ALTO_CUBLASLT_SCALE_1X128 ? "1x128" : "128x128",
           mb == ALTO_CUBLASLT_SCALE_1X128 ? "1x128" : "128x128", acc, alto_ir_dtype_name(out));
  fp8_operand a, b;
  fp8_make(&a, m, k, ma);
  fp8_make(&b, n, k, mb);
  size_t esz = out == ALTO_DT_BF16 ? 2 : 4;
  gpu_buf gc = gpu_alloc(B, (size_t)(m * n) * esz);
  double *c0 = acc ? upload_c0(gc, m * n, out) : NULL;
  alto_cublaslt_fp8_operand oa = {gpu_ptr(a.codes), gpu_ptr(a.scales), ma, ALTO_DT_FP8_E4M3, false};
  alto_cublaslt_fp8_operand ob = {gpu_ptr(b.codes), gpu_ptr(b.scales), mb, ALTO_DT_FP8_E4M3, false};
  alto_status st = alto_cublaslt_gemm_fp8_block(gpu_ptr(gc), &oa, &ob, m, n, k, acc, out);
  if (lenient && st == ALTO_ERR_UNSUPPORTED) {
    fprintf(stderr, "     note: %s: not offered by this cuBLASLt: %s\n", what, alto_last_error());
    goto done;
  }
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  CHECKF(B->i->sync(B) == ALTO_OK, "%s: %s", what, alto_last_error());
  if (st != ALTO_OK)
    goto done;
  double *ref = malloc((size_t)(m * n) * 8);
  ref_gemm(ref, a.deq, b.deq, c0, m, n, k, false, false);
  float *got = download_c(gc, m * n, out, what);
  check_result(ref, got, m * n, out, what, true);
  if (!acc) { /* the same GEMM with the scales converted ahead: bitwise the same output */
    gpu_buf sa = fp8_convert_and_check(&a, m, k, ma, what);
    gpu_buf sb = fp8_convert_and_check(&b, n, k, mb, what);
    gpu_buf gc2 = gpu_alloc(B, gc.bytes);
    oa.scales = gpu_ptr(sa), oa.scales_lt = true;
    ob.scales = gpu_ptr(sb), ob.scales_lt = true;
    st = alto_cublaslt_gemm_fp8_block(gpu_ptr(gc2), &oa, &ob, m, n, k, false, out);
    CHECKF(st == ALTO_OK, "%s (scales_lt): %s", what, alto_last_error());
    CHECK(B->i->sync(B) == ALTO_OK);
    float *got2 = download_c(gc2, m * n, out, what);
    CHECKF(memcmp(got, got2, (size_t)(m * n) * 4) == 0,
           "%s: scales converted ahead give a different result", what);
    free(got2);
    gpu_free(B, &sa), gpu_free(B, &sb), gpu_free(B, &gc2);
  }
  free(ref);
  free(got);
done:
  gpu_free(B, &gc);
  fp8_free(&a);
  fp8_free(&b);
  free(c0);
}

static void test_fp8_fprop(void) {
  /* M = 4096 + 96 (a tail of a 128-row tile), K/128 = 4 */
  run_fp8(4192, 256, 512, ALTO_CUBLASLT_SCALE_1X128, ALTO_CUBLASLT_SCALE_128X128, false,
          ALTO_DT_BF16, false);
  /* K/128 = 5: 128x128 scale rows padded to 8; M % 4 = 2: 1x128 scale rows padded to 132.
   * cuBLASLt 13.1 on an H100 answers NOT_SUPPORTED for this M (130): reported, not failed. */
  run_fp8(130, 384, 640, ALTO_CUBLASLT_SCALE_1X128, ALTO_CUBLASLT_SCALE_128X128, false,
          ALTO_DT_BF16, true);
  run_fp8(256, 128, 384, ALTO_CUBLASLT_SCALE_1X128, ALTO_CUBLASLT_SCALE_128X128, true, ALTO_DT_BF16,
          true);
}

static void test_fp8_wgrad(void) {
  /* dW [N_out, K_in] = dY^T X, both re-quantized along tokens (the GEMM's K) */
  run_fp8(256, 272, 1024, ALTO_CUBLASLT_SCALE_1X128, ALTO_CUBLASLT_SCALE_1X128, false, ALTO_DT_BF16,
          false);
  run_fp8(128, 144, 512, ALTO_CUBLASLT_SCALE_1X128, ALTO_CUBLASLT_SCALE_1X128, true, ALTO_DT_F32,
          true);
}

/* Per-tensor FP8: E4M3 codes (never NaN, mixed magnitudes) with one fp32 scale per operand; the
 * reference is a_scale b_scale times the fp64 dot products of the code values. */
static void run_fp8_tensor(int64_t m, int64_t n, int64_t k, bool acc, alto_dtype out) {
  char what[160];
  snprintf(what, sizeof what, "fp8 per-tensor M=%lld N=%lld K=%lld acc=%d out=%s", (long long)m,
           (long long)n, (long long)k, acc, alto_ir_dtype_name(out));
  uint8_t *a = malloc((size_t)(m * k)), *b = malloc((size_t)(n * k));
  for (int64_t i = 0; i < m * k + n * k; i++) { /* sign | exponent 1..13 | mantissa */
    uint32_t r = alto_test_u32(&rng);
    uint8_t c = (uint8_t)((r & 0x80) | ((1 + (r >> 8) % 13) << 3) | ((r >> 16) & 7));
    if (i < m * k)
      a[i] = c;
    else
      b[i - m * k] = c;
  }
  float scales[2] = {(float)(0.01 + 0.04 * alto_test_uniform(&rng)),
                     (float)(0.01 + 0.04 * alto_test_uniform(&rng))};
  float *af = malloc((size_t)(m * k) * 4), *bf = malloc((size_t)(n * k) * 4);
  for (int64_t i = 0; i < m * k; i++)
    af[i] = alto_e4m3_to_f32(a[i]);
  for (int64_t i = 0; i < n * k; i++)
    bf[i] = alto_e4m3_to_f32(b[i]);
  size_t esz = out == ALTO_DT_BF16 ? 2 : 4;
  gpu_buf ga = gpu_alloc(B, (size_t)(m * k)), gb = gpu_alloc(B, (size_t)(n * k));
  /* the two scales 16 bytes apart: cuBLASLt wants 16-byte aligned scale pointers */
  float sc[8] = {scales[0], 0, 0, 0, scales[1], 0, 0, 0};
  gpu_buf gs = gpu_alloc(B, sizeof sc), gc = gpu_alloc(B, (size_t)(m * n) * esz);
  gpu_upload(B, ga, a), gpu_upload(B, gb, b), gpu_upload(B, gs, sc);
  double *c0 = acc ? upload_c0(gc, m * n, out) : NULL;
  alto_status st = alto_cublaslt_gemm_fp8_tensor(gpu_ptr(gc), gpu_ptr(ga), gpu_ptr(gs), gpu_ptr(gb),
                                                 gpu_ptr(gs) + 16, m, n, k, acc, out);
  /* a scale 4 bytes past an aligned address: refused here, before cuBLASLt says NOT_SUPPORTED */
  CHECKF(alto_cublaslt_gemm_fp8_tensor(gpu_ptr(gc), gpu_ptr(ga), gpu_ptr(gs), gpu_ptr(gb),
                                       gpu_ptr(gs) + 4, m, n, k, acc, out) == ALTO_ERR_INVALID_ARG,
         "%s: a 4-byte aligned scale accepted", what);
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  CHECKF(B->i->sync(B) == ALTO_OK, "%s: %s", what, alto_last_error());
  if (st == ALTO_OK) {
    /* ref = c0 + sa sb (A B^T): the product first, then scaled and added in fp64 */
    double *ref = malloc((size_t)(m * n) * 8);
    ref_gemm(ref, af, bf, NULL, m, n, k, false, false);
    for (int64_t i = 0; i < m * n; i++)
      ref[i] = ref[i] * scales[0] * scales[1] + (c0 ? c0[i] : 0.0);
    float *got = download_c(gc, m * n, out, what);
    check_result(ref, got, m * n, out, what, true);
    free(ref);
    free(got);
  }
  gpu_free(B, &ga), gpu_free(B, &gb), gpu_free(B, &gs), gpu_free(B, &gc);
  free(a), free(b), free(af), free(bf), free(c0);
}

static void test_fp8_tensor(void) {
  run_fp8_tensor(256, 272, 1024, false, ALTO_DT_BF16);
  run_fp8_tensor(4192, 256, 512, false, ALTO_DT_BF16); /* M tail of a 128-row tile */
  run_fp8_tensor(130, 144, 496, true, ALTO_DT_F32);    /* K not a multiple of 128 */
  CHECK(alto_cublaslt_gemm_fp8_tensor(1, 1, 1, 1, 1, 128, 120, 128, false, ALTO_DT_BF16) ==
        ALTO_ERR_INVALID_ARG);
  CHECK(alto_cublaslt_gemm_fp8_tensor(1, 1, 1, 1, 1, 128, 128, 200, false, ALTO_DT_BF16) ==
        ALTO_ERR_INVALID_ARG);
  CHECK(alto_cublaslt_gemm_fp8_tensor(1, 1, 0, 1, 1, 128, 128, 128, false, ALTO_DT_BF16) ==
        ALTO_ERR_INVALID_ARG);
}

static void test_fp8_other_pairs(void) {
  run_fp8(256, 144, 384, ALTO_CUBLASLT_SCALE_128X128, ALTO_CUBLASLT_SCALE_1X128, false,
          ALTO_DT_BF16, true);
  alto_cublaslt_fp8_operand o = {1, 1, ALTO_CUBLASLT_SCALE_128X128, ALTO_DT_FP8_E4M3, false};
  alto_status st = alto_cublaslt_gemm_fp8_block(1, &o, &o, 128, 128, 128, false, ALTO_DT_BF16);
  CHECK(st == ALTO_ERR_UNSUPPORTED);
  CHECKF(strstr(alto_last_error(), "128x128 x 128x128") != NULL, "%s", alto_last_error());
  o.mode = ALTO_CUBLASLT_SCALE_1X128;
  CHECK(alto_cublaslt_gemm_fp8_block(1, &o, &o, 128, 128, 200, false, ALTO_DT_BF16) ==
        ALTO_ERR_INVALID_ARG);
  CHECK(alto_cublaslt_gemm_fp8_block(1, &o, &o, 128, 120, 128, false, ALTO_DT_BF16) ==
        ALTO_ERR_INVALID_ARG);
}

int main(void) {
  rng.s = alto_test_seed();
  char why[1200];
  if (alto_cublaslt_load() != ALTO_OK) {
    snprintf(why, sizeof why, "%s", alto_last_error());
    alto_test_skip(why);
  }
  if (alto_backend_open("cuda", &B) != ALTO_OK) {
    snprintf(why, sizeof why, "no CUDA GPU: %s", alto_last_error());
    alto_test_skip(why);
  }
  if (alto_cublaslt_init() != ALTO_OK) {
    fprintf(stderr, "alto_cublaslt_init: %s\n", alto_last_error());
    return 1;
  }
  alto_cuda_device_info info;
  CHECK(alto_cuda_device(&info) == ALTO_OK);
  fprintf(stderr, "%s (%s), cuBLASLt %zu\n", info.name, info.arch, alto_cublaslt_version());
  RUN(test_bf16_all_combinations);
  RUN(test_plan_cache);
  if (info.cc_major * 10 + info.cc_minor >= 89)
    RUN(test_fp8_tensor);
  else
    fprintf(stderr, "skip per-tensor FP8 GEMMs: they need sm_89 or later\n");
  if (info.cc_major == 9 && alto_cublaslt_version() >= 120900) {
    RUN(test_fp8_fprop);
    RUN(test_fp8_wgrad);
    RUN(test_fp8_other_pairs);
  } else {
    fprintf(stderr, "skip FP8 block GEMMs: they need sm_90 and cuBLASLt >= 12.9\n");
  }
  alto_cublaslt_shutdown();
  alto_backend_close(B);
  return alto_test_finish();
}
