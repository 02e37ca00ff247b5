/* alto's Hopper FP8 GEMM (runtime/gemm_gpu.h, templates/gemm/) against an fp64 CPU reference
 * computed directly from the codes and scales, C = sum_k (a_ik sa) (b_jk sb):
 *   - shapes with tails in M, N and K (K = 336 = 2 x 128 + 80; 1 x 1 x 16; M = 4096 + 96 with
 *     K = 7168, checked on ~2000 sampled elements, every other shape in full);
 *   - every scale kind (B 1x128, 128x128, MX, and OUTER: one divisor per row of A and of B,
 *     rowwise FP8), bf16 and fp32 output, C = and C += (C pre-filled with
 *     random values of the product's size, read in its dtype, the sum rounded once);
 *   - three scale-grid layouts through the element strides (s_r, s_k): alto's row-major, the
 *     transposed "MN-major" one, and cuBLASLt's padded layouts; unused grid entries hold NaN, so
 *     a wrong index shows as a non-finite output;
 *   - a row pitch larger than N (ldc = N + 8, and an odd ldc): the padding columns untouched;
 *   - every tile width the configuration can choose, forced through an explicit configuration
 *     with few CTAs (each persistent CTA walks many tiles);
 *   - the requirements of the header refused (ALTO_ERR_UNSUPPORTED, or ALTO_ERR_INVALID_ARG for
 *     values that are simply wrong), never launched;
 *   - the MXFP4 -> E4M3 conversion bit-exact against a CPU model of the header's contract
 *     (codes, power-of-two scales, the inexact counter at the 14/15-binade boundary, 1x32 blocks
 *     of zeros, E8M0 bytes 0 and 254, NaN scales),
 *     and an MXFP4 GEMM end to end (both operands converted, B 1x128) against the fp64 product of
 *     the MXFP4-dequantized operands;
 *   - A as E5M2 codes (gradients) with every block and OUTER scale kind.
 * Tolerances (NUMERICS.md 8): relative Frobenius error < 8e-3 for bf16 output (the output's bf16
 * rounding only) and GEMM_F32_TOL for fp32 output (see below), relative to the norm of the terms
 * (the product and, with C +=, the old C: a sum that cancels is only as exact as its terms; a
 * 1x1x16 C += once drew 6.5e-3 against the cancelled sum). Every case also: no NaN/Inf, guard
 * bytes intact, every output element written (outputs start poisoned), two runs bit-identical, and
 * the same bits from the register epilogue.
 * Fresh random data each run (ALTO_TEST_SEED reproduces one). Skips (77) without a CUDA GPU and on
 * devices other than sm_90a. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compiler/gen_gemm.h"
#include "runtime/cuda/driver.h"
#include "runtime/cpu/quant.h"
#include "runtime/gemm_gpu.h"
#include "templates/common/alto_numerics.h"
#include "tests/gpu_util.h"
#include "tests/harness.h"

/* fp32 output: NUMERICS.md 8 asks for 1e-5 against the fp64 product, which no FP8 GEMM on Hopper
 * can give: the FP8 wgmma keeps fewer than fp32's bits in its accumulator (DeepSeek-V3 3.3.2: about
 * 14), which is why the kernel promotes into fp32 registers after every 128-deep K block; within a
 * block the tensor core's own precision remains. Measured on the H100 (2026-11-23, every case of
 * this file): 1.0e-4 to 2.3e-3 relative (the largest on 1x1x16, a single 16-term dot product with
 * cancellation), and bench/gemm's bf16 outputs equal cuBLASLt's block-scaled GEMM bit for bit on
 * the same operands (relative difference 0.0), so cuBLASLt has the same error. The bound is the
 * hardware's, with 2x margin; a layout or scale bug gives errors of order 1. */
#define GEMM_F32_TOL 5e-3
#define GEMM_BF16_TOL 8e-3

#define SAMPLES 2000 /* output elements checked when M N K is too large for a full fp64 product */

static alto_backend *B;
static alto_test_rng rng;
static double e4m3_value[256], e5m2_value[256];

static int64_t cdiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

static int64_t round4(int64_t x) {
  return (x + 3) / 4 * 4;
}

static size_t dsize(alto_dtype t) {
  return t == ALTO_DT_BF16 ? 2 : 4;
}

/* An MXFP4 operand stored as rows of K (alto_mx_layout ALTO_MX_ROWS), 1x32 scales [R, K/32]. */
static alto_mx_src mx_rows_src(alto_dptr codes, alto_dptr scales, int64_t K) {
  return (alto_mx_src){codes, scales, ALTO_MX_ROWS, 1, K / 32, 1};
}

static const char *bscale_name(alto_gemm_bscale b) {
  return b == ALTO_GEMM_B_128X128 ? "128x128"
         : b == ALTO_GEMM_B_MX    ? "mx"
         : b == ALTO_GEMM_OUTER   ? "outer"
                                  : "1x128";
}

/* ---- data ---------------------------------------------------------------------------------- */

/* A random FP8 code, never NaN or Inf: 1% subnormals and zeros, 0.5% outliers in the top two
 * binades, the rest normal. E4M3: magnitudes mostly 2^-4..2^4 (exponent fields 3..11), outliers
 * 128..448 (0x7F / 0xFF excluded); E5M2: mostly 2^-8..2^8, outliers 16384..57344 (exponent field
 * 31 excluded). */
static uint8_t rand_fp8(bool e5m2) {
  const uint32_t mbits = e5m2 ? 2 : 3, top = e5m2 ? 29 : 14, lo = e5m2 ? 7 : 3, span = e5m2 ? 17 : 9;
  uint32_t r = alto_test_u32(&rng);
  uint32_t sign = r & 0x80u, m = (r >> 8) & ((1u << mbits) - 1u), sel = (r >> 12) % 1000u, e;
  if (sel < 5)
    e = top + ((r >> 24) & 1u);
  else if (sel < 15)
    e = 0;
  else
    e = lo + (r >> 24) % span;
  if (!e5m2 && e == 15 && m == 7)
    m = 6;
  return (uint8_t)(sign | (e << mbits) | m);
}
static uint8_t rand_e4m3(void) { return rand_fp8(false); }
static uint8_t rand_e5m2(void) { return rand_fp8(true); }

/* A positive fp32 scale 2^(-8..8) * (1 + u): blocks of very different sizes in one product. */
static float rand_scale(void) {
  int e = (int)(alto_test_u32(&rng) % 17u) - 8;
  return (float)ldexp(1.0 + alto_test_uniform(&rng), e);
}

/* One GEMM problem: codes on host and device, logical scale grids, the checked output elements
 * and the fp64 per-K-block dot products of their codes (shared by both B scale kinds). */
typedef struct {
  int64_t m, n, k, kb;
  bool a_e5m2;    /* A's codes E5M2 (else E4M3) */
  uint8_t *a, *b; /* [M, K], [N, K] E4M3 codes (A: E5M2 with a_e5m2) */
  float *sa;      /* [M, kb] */
  float *sb1;     /* [N, kb] (B 1x128) */
  float *sb2;     /* [ceil(N / 128), kb] (B 128x128) */
  gpu_buf ga, gb;
  int64_t n_check; /* checked elements: all M N, or SAMPLES */
  int64_t *ci, *cj;
  double *dot; /* [n_check, kb] sum over the K block of code values a_ik b_jk */
} gemm_data;

static void data_make_elem(gemm_data *d, int64_t m, int64_t n, int64_t k, bool a_e5m2) {
  memset(d, 0, sizeof *d);
  d->m = m, d->n = n, d->k = k, d->kb = cdiv(k, 128);
  d->a_e5m2 = a_e5m2;
  const double *a_value = a_e5m2 ? e5m2_value : e4m3_value;
  d->a = malloc((size_t)(m * k)), d->b = malloc((size_t)(n * k));
  for (int64_t i = 0; i < m * k; i++)
    d->a[i] = a_e5m2 ? rand_e5m2() : rand_e4m3();
  for (int64_t i = 0; i < n * k; i++)
    d->b[i] = rand_e4m3();
  d->sa = malloc((size_t)(m * d->kb) * 4);
  d->sb1 = malloc((size_t)(n * d->kb) * 4);
  d->sb2 = malloc((size_t)(cdiv(n, 128) * d->kb) * 4);
  for (int64_t i = 0; i < m * d->kb; i++)
    d->sa[i] = rand_scale();
  for (int64_t i = 0; i < n * d->kb; i++)
    d->sb1[i] = rand_scale();
  for (int64_t i = 0; i < cdiv(n, 128) * d->kb; i++)
    d->sb2[i] = rand_scale();
  d->ga = gpu_alloc(B, (size_t)(m * k)), d->gb = gpu_alloc(B, (size_t)(n * k));
  gpu_upload(B, d->ga, d->a);
  gpu_upload(B, d->gb, d->b);
  /* full check up to ~1.5e8 multiply-adds; else the four corners and random elements */
  bool full = (double)m * (double)n * (double)k <= 1.5e8;
  d->n_check = full ? m * n : SAMPLES;
  d->ci = malloc((size_t)d->n_check * 8), d->cj = malloc((size_t)d->n_check * 8);
  for (int64_t t = 0; t < d->n_check; t++) {
    if (full)
      d->ci[t] = t / n, d->cj[t] = t % n;
    else if (t < 4)
      d->ci[t] = (t & 1) ? m - 1 : 0, d->cj[t] = (t & 2) ? n - 1 : 0;
    else
      d->ci[t] = (int64_t)(alto_test_u64(&rng) % (uint64_t)m),
      d->cj[t] = (int64_t)(alto_test_u64(&rng) % (uint64_t)n);
  }
  d->dot = malloc((size_t)(d->n_check * d->kb) * 8);
  for (int64_t t = 0; t < d->n_check; t++) {
    const uint8_t *ar = d->a + d->ci[t] * k, *br = d->b + d->cj[t] * k;
    for (int64_t q = 0; q < d->kb; q++) {
      double s = 0; /* exact: products of E4M3 values summed in fp64 */
      for (int64_t kk = q * 128; kk < k && kk < q * 128 + 128; kk++)
        s += a_value[ar[kk]] * e4m3_value[br[kk]];
      d->dot[t * d->kb + q] = s;
    }
  }
}

static void data_make(gemm_data *d, int64_t m, int64_t n, int64_t k) {
  data_make_elem(d, m, n, k, false);
}

static void data_free(gemm_data *d) {
  gpu_free(B, &d->ga), gpu_free(B, &d->gb);
  free(d->a), free(d->b), free(d->sa), free(d->sb1), free(d->sb2);
  free(d->ci), free(d->cj), free(d->dot);
}

/* The fp64 product at checked element t. */
static double data_product(const gemm_data *d, alto_gemm_bscale bs, int64_t t) {
  int64_t i = d->ci[t], j = d->cj[t];
  double s = 0;
  if (bs == ALTO_GEMM_OUTER) { /* the first K block's scales of the row and the column, divisors */
    for (int64_t q = 0; q < d->kb; q++)
      s += d->dot[t * d->kb + q];
    return s / ((double)d->sa[i * d->kb] * (double)d->sb1[j * d->kb]);
  }
  for (int64_t q = 0; q < d->kb; q++) {
    double sb = bs == ALTO_GEMM_B_1X128 ? d->sb1[j * d->kb + q] : d->sb2[(j / 128) * d->kb + q];
    s += (double)d->sa[i * d->kb + q] * sb * d->dot[t * d->kb + q];
  }
  return s;
}

/* ---- scale layouts ------------------------------------------------------------------------- */

enum { LAYOUT_ROW, LAYOUT_MN, LAYOUT_CUBLASLT, LAYOUT_COUNT };
static const char *const layout_names[LAYOUT_COUNT] = {"row-major", "MN-major", "cuBLASLt"};

/* Strides of a [rows, kb] grid in a layout; one_d: a 1x128 grid (else 128x128 blocks). cuBLASLt's
 * layouts (runtime/cuda/cublaslt.h): 1x128 [kb, round4(rows)], 128x128 [rows, round4(kb)]. */
static void layout_strides(int layout, int64_t rows, int64_t kb, bool one_d, int64_t *s_r,
                           int64_t *s_k) {
  if (layout == LAYOUT_ROW)
    *s_r = kb, *s_k = 1;
  else if (layout == LAYOUT_MN)
    *s_r = 1, *s_k = rows;
  else if (one_d)
    *s_r = 1, *s_k = round4(rows);
  else
    *s_r = round4(kb), *s_k = 1;
}

/* Uploads a logical [rows, kb] grid with strides (s_r, s_k); entries no scale maps to are NaN. */
static gpu_buf layout_upload(const float *s, int64_t rows, int64_t kb, int64_t s_r, int64_t s_k) {
  int64_t count = (rows - 1) * s_r + (kb - 1) * s_k + 1;
  float *h = malloc((size_t)count * 4);
  for (int64_t i = 0; i < count; i++)
    h[i] = NAN;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t q = 0; q < kb; q++)
      h[r * s_r + q * s_k] = s[r * kb + q];
  gpu_buf g = gpu_alloc(B, (size_t)count * 4);
  gpu_upload(B, g, h);
  free(h);
  return g;
}

/* ---- output checks ------------------------------------------------------------------------- */

static double out_value(const uint8_t *c, alto_dtype t, int64_t idx) {
  if (t == ALTO_DT_BF16) {
    uint16_t h;
    memcpy(&h, c + idx * 2, 2);
    return alto_bf16_to_f32(h);
  }
  float f;
  memcpy(&f, c + idx * 4, 4);
  return f;
}

/* The elements (padding included) where two outputs differ in their bits; the first few are
 * printed (row, column, the two values), which shows the pattern of a fault. */
static int64_t differing(const uint8_t *x, const uint8_t *y, alto_dtype t, int64_t m, int64_t n,
                         int64_t ldc, const char *what) {
  const size_t es = t == ALTO_DT_F32 ? 4 : 2;
  int64_t count = 0;
  for (int64_t e = 0; e < m * ldc; e++) {
    if (memcmp(x + e * es, y + e * es, es) == 0)
      continue;
    if (count++ < 4)
      fprintf(stderr, "     %s differs at row %lld column %lld%s: %.8g vs %.8g\n", what,
              (long long)(e / ldc), (long long)(e % ldc), e % ldc >= n ? " (padding)" : "",
              out_value(x, t, e), out_value(y, t, e));
  }
  if (count)
    fprintf(stderr, "     %s: %lld elements differ\n", what, (long long)count);
  return count;
}


static bool out_is_poison(const uint8_t *c, alto_dtype t, int64_t idx) {
  size_t es = dsize(t);
  for (size_t b = 0; b < es; b++)
    if (c[idx * (int64_t)es + (int64_t)b] != GPU_POISON_BYTE)
      return false;
  return true;
}

/* A host image of C [M, ldc] for C +=: the N columns random values of about the product's size
 * (rounded to the output dtype; their widened values in c0), the padding columns poison bytes. */
static uint8_t *make_c0(const gemm_data *d, alto_dtype t, int64_t ldc, double rms, double *c0) {
  size_t es = dsize(t);
  uint8_t *h = malloc((size_t)(d->m * ldc) * es);
  memset(h, GPU_POISON_BYTE, (size_t)(d->m * ldc) * es);
  for (int64_t i = 0; i < d->m; i++)
    for (int64_t j = 0; j < d->n; j++) {
      float v = (float)(alto_test_normal(&rng) * rms);
      int64_t idx = i * ldc + j;
      if (t == ALTO_DT_BF16) {
        uint16_t b = alto_f32_to_bf16(v);
        memcpy(h + idx * 2, &b, 2);
        c0[i * d->n + j] = alto_bf16_to_f32(b);
      } else {
        memcpy(h + idx * 4, &v, 4);
        c0[i * d->n + j] = v;
      }
    }
  return h;
}

typedef struct {
  alto_gemm_bscale bs;
  alto_dtype out;
  bool acc;
  int layout;
  int64_t ldc;                 /* 0: N */
  const alto_gemm_config *cfg; /* NULL: the default */
  /* B MX: false, the per-row grid holds each 128-row block's 128x128 scale (sb2) and the split
   * counter is 0 (the kernel's 128x128 promotion); true, the grid is sb1 and the counter 1 (the
   * 1x128 promotion) */
  bool mx_split;
} gemm_case;

/* Runs one case twice and checks it; returns the relative error (INFINITY when it did not run). */
static double run_case(const gemm_data *d, const gemm_case *c) {
  const int64_t m = d->m, n = d->n, k = d->k, kb = d->kb, ldc = c->ldc ? c->ldc : d->n;
  const size_t es = dsize(c->out);
  char what[200];
  const bool mx = c->bs == ALTO_GEMM_B_MX;
  snprintf(what, sizeof what, "%lldx%lldx%lld%s B %s%s %s %s %s ldc %lld%s", (long long)m,
           (long long)n, (long long)k, d->a_e5m2 ? " A e5m2" : "", bscale_name(c->bs),
           mx ? (c->mx_split ? " (split)" : " (shared)") : "",
           c->out == ALTO_DT_BF16 ? "bf16" : "f32", c->acc ? "C+=" : "C=",
           layout_names[c->layout], (long long)ldc, c->cfg ? " (explicit config)" : "");
  /* scales in the chosen layout: B's grid per row (1x128, MX) or per 128-row block */
  bool b1 = c->bs != ALTO_GEMM_B_128X128;
  int64_t brows = b1 ? n : cdiv(n, 128);
  float *bgrid = c->bs == ALTO_GEMM_B_128X128 || (!mx || c->mx_split) ? NULL
                                                                       : malloc((size_t)(n * kb) * 4);
  for (int64_t j = 0; bgrid && j < n; j++)
    for (int64_t q = 0; q < kb; q++)
      bgrid[j * kb + q] = d->sb2[(j / 128) * kb + q];
  const alto_gemm_bscale ref_bs =
      !mx ? c->bs : c->mx_split ? ALTO_GEMM_B_1X128 : ALTO_GEMM_B_128X128;
  alto_gemm_fp8_operand oa = {gpu_ptr(d->ga), 0, 0, 0, 0, d->a_e5m2},
                        ob = {gpu_ptr(d->gb), 0, 0, 0, 0, false};
  layout_strides(c->layout, m, kb, true, &oa.s_r, &oa.s_k);
  layout_strides(c->layout, brows, kb, b1, &ob.s_r, &ob.s_k);
  gpu_buf gsa = layout_upload(d->sa, m, kb, oa.s_r, oa.s_k);
  gpu_buf gsb = layout_upload(bgrid ? bgrid : b1 ? d->sb1 : d->sb2, brows, kb, ob.s_r, ob.s_k);
  oa.scales = gpu_ptr(gsa), ob.scales = gpu_ptr(gsb);
  gpu_buf gsp = gpu_alloc(B, 4);
  const uint32_t split = c->mx_split ? 1u : 0u;
  gpu_upload(B, gsp, &split);
  if (mx)
    ob.split = gpu_ptr(gsp);
  free(bgrid);
  /* the product at the checked elements; C0 for C += */
  double *ref = malloc((size_t)d->n_check * 8), rms = 0;
  for (int64_t t = 0; t < d->n_check; t++) {
    ref[t] = data_product(d, ref_bs, t);
    rms += ref[t] * ref[t];
  }
  rms = sqrt(rms / (double)d->n_check);
  double *c0 = NULL;
  uint8_t *c0h = NULL;
  if (c->acc) {
    c0 = malloc((size_t)(m * n) * 8);
    c0h = make_c0(d, c->out, ldc, rms > 0 ? rms : 1.0, c0);
  }
  /* runs 0 and 1: the configuration asked for; run 2 the same with the register epilogue (the
   * TMA epilogue, where it applies, must give the same bits) */
  alto_gemm_config regs;
  if (c->cfg) {
    regs = *c->cfg;
  } else {
    alto_cuda_device_info info;
    CHECK(alto_cuda_device(&info) == ALTO_OK);
    regs = alto_gemm_config_for(m, n, k, c->bs, info.sm_count);
  }
  regs.reg_epilogue = 1;
  gpu_buf gc[3];
  alto_status st = ALTO_OK;
  for (int r = 0; r < 3; r++) {
    gc[r] = gpu_alloc(B, (size_t)(m * ldc) * es);
    if (c->acc)
      gpu_upload(B, gc[r], c0h);
    if (st == ALTO_OK)
      st = alto_gemm_fp8(B, gpu_ptr(gc[r]), c->out, ldc, c->acc, &oa, &ob, c->bs, m, n, k,
                         r == 2 ? &regs : c->cfg);
  }
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  alto_status sst = B->i->sync(B);
  CHECKF(sst == ALTO_OK, "%s: sync: %s", what, alto_last_error());
  double err = INFINITY;
  if (st == ALTO_OK && sst == ALTO_OK) {
    uint8_t *out[3];
    for (int r = 0; r < 3; r++) {
      out[r] = malloc((size_t)(m * ldc) * es);
      gpu_download(B, out[r], gc[r], what);
    }
    int64_t nonfinite = 0, unwritten = 0, pad_touched = 0;
    for (int64_t i = 0; i < m; i++) {
      for (int64_t j = 0; j < n; j++) {
        double v = out_value(out[0], c->out, i * ldc + j);
        nonfinite += !isfinite(v);
        unwritten += !c->acc && out_is_poison(out[0], c->out, i * ldc + j);
      }
      for (int64_t j = n; j < ldc; j++)
        pad_touched += !out_is_poison(out[0], c->out, i * ldc + j);
    }
    double num = 0, den = 0;
    for (int64_t t = 0; t < d->n_check; t++) {
      int64_t i = d->ci[t], j = d->cj[t];
      double want = ref[t] + (c0 ? c0[i * n + j] : 0.0);
      double got = out_value(out[0], c->out, i * ldc + j);
      if (!isfinite(got))
        continue;
      num += (got - want) * (got - want);
      /* relative to the terms' magnitudes: with C += a sum that cancels (C ~ -A B) is exact
       * only to the precision of its terms, not of the small result */
      den += ref[t] * ref[t] + (c0 ? c0[i * n + j] * c0[i * n + j] : 0.0);
    }
    err = den > 0 ? sqrt(num / den) : INFINITY;
    double tol0 = c->out == ALTO_DT_BF16 ? GEMM_BF16_TOL : GEMM_F32_TOL;
    for (int64_t t = 0, shown = 0; !(err < tol0) && t < d->n_check && shown < 6; t++) {
      /* a fault's pattern: the first elements off by more than 10x the tolerance */
      int64_t i = d->ci[t], j = d->cj[t];
      double want = ref[t] + (c0 ? c0[i * n + j] : 0.0);
      double got = out_value(out[0], c->out, i * ldc + j);
      if (!(fabs(got - want) <= 10 * tol0 * (fabs(want) + sqrt(den / (double)d->n_check)))) {
        fprintf(stderr, "     row %lld column %lld: %.8g, want %.8g\n", (long long)i,
                (long long)j, got, want);
        shown++;
      }
    }
    bool same = differing(out[0], out[1], c->out, m, n, ldc, "rerun") == 0;
    bool same_regs = differing(out[0], out[2], c->out, m, n, ldc, "register epilogue") == 0;
    double tol = c->out == ALTO_DT_BF16 ? GEMM_BF16_TOL : GEMM_F32_TOL;
    fprintf(stderr, "  %-62s rel err %.3e%s%s%s\n", what, err,
            err < tol ? "" : "  ABOVE TOLERANCE", same ? "" : "  RERUN DIFFERS",
            same_regs ? "" : "  REGISTER EPILOGUE DIFFERS");
    CHECKF(nonfinite == 0, "%s: %lld non-finite outputs", what, (long long)nonfinite);
    CHECKF(unwritten == 0, "%s: %lld outputs never written", what, (long long)unwritten);
    CHECKF(pad_touched == 0, "%s: %lld padding elements (columns N..ldc-1) written", what,
           (long long)pad_touched);
    CHECKF(err < tol, "%s: relative Frobenius error %.3e (tolerance %.0e)", what, err, tol);
    CHECKF(same, "%s: two runs differ", what);
    CHECKF(same_regs, "%s: the TMA and register epilogues differ", what);
    free(out[0]), free(out[1]), free(out[2]);
  }
  gpu_free(B, &gc[0]), gpu_free(B, &gc[1]), gpu_free(B, &gc[2]);
  gpu_free(B, &gsa), gpu_free(B, &gsb), gpu_free(B, &gsp);
  free(ref), free(c0), free(c0h);
  return err;
}

/* Every scale kind x dtype x C =/+= x layout at one pitch (MX: shared and split alternating; not
 * with E5M2 A, which MX never has: its operands are converted to E4M3). */
static void run_all(const gemm_data *d, int64_t ldc) {
  for (int b = 0; b <= ALTO_GEMM_OUTER; b++)
    if (!(b == ALTO_GEMM_B_MX && d->a_e5m2))
    for (int o = 0; o < 2; o++)
      for (int acc = 0; acc < 2; acc++)
        for (int l = 0; l < LAYOUT_COUNT; l++) {
          gemm_case c = {(alto_gemm_bscale)b, o ? ALTO_DT_F32 : ALTO_DT_BF16, acc, l, ldc, NULL,
                         (l + acc + o) % 2 == 1};
          run_case(d, &c);
        }
}

static void test_shapes(void) {
  static const int64_t shapes[][3] = {
      {128, 128, 128},        {1, 1, 16},       {200, 72, 336},
      {4096 + 96, 256, 7168}, {257, 1000, 512}, {130, 136, 1024},
  };
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    gemm_data d;
    data_make(&d, shapes[s][0], shapes[s][1], shapes[s][2]);
    run_all(&d, 0);
    if (d.n == 72 || d.n == 136)
      run_all(&d, d.n + 8);
    if (d.n == 136) { /* an odd pitch: no assumption of aligned rows in the epilogue */
      gemm_case c = {ALTO_GEMM_B_1X128, ALTO_DT_BF16, false, LAYOUT_ROW, d.n + 3, NULL, false};
      run_case(&d, &c);
      c.out = ALTO_DT_F32, c.acc = true;
      run_case(&d, &c);
    }
    data_free(&d);
  }
}

/* Each tile width and cluster size of alto_gemm_variants forced on one shape, with 7 persistent
 * CTAs (8 in pairs) so every CTA walks several tiles and the last wave is partial; pairs with an
 * odd number of row tiles (260 rows) also run a pair whose second tile is past the end. The scale
 * layout alternates between row-major (per-row copies) and cuBLASLt's (bulk copies of the scale
 * columns, M and N multiples of 4). */
static void test_explicit_configs(void) {
  alto_gemmkern v[320];
  int nv = alto_gemm_variants(ALTO_TARGET_CUDA, "sm_90a", v, 320);
  CHECK(nv > 0 && nv <= 320);
  gemm_data d;
  data_make(&d, 260, 1000, 512);
  for (int i = 0; i < nv && i < 320; i++) {
    if (!v[i].out_f32 || v[i].a_e5m2)
      continue; /* fp32 C = and C += per width: the width is what varies here (E4M3 data) */
    alto_gemm_config cfg = {v[i].bn, v[i].stages, v[i].group_m, v[i].cluster == 2 ? 8 : 7,
                            v[i].cluster, 0, v[i].wgs};
    /* the scale layout by width and cluster size */
    int layout = (i / 8 + i % 2) % 2 ? LAYOUT_CUBLASLT : LAYOUT_ROW;
    gemm_case c = {v[i].bscale, ALTO_DT_F32, v[i].accumulate, layout, 0, &cfg, false};
    fprintf(stderr, "  bn %d stages %d cluster %d wgs %d %s%s:", cfg.bn, cfg.stages, cfg.cluster,
            v[i].wgs, layout_names[c.layout], v[i].accumulate ? " C +=" : "");
    run_case(&d, &c);
  }
  data_free(&d);
}

/* The widest tiles (256 columns) with a last column tile mostly past N (2112 = 8 x 256 + 64: its
 * second 128-column half wholly past the end; N = 72 + 256: an odd number of epilogue chunks in
 * it) and few CTAs, so that each walks full and tail tiles one after the other: every dtype and
 * mode, both scale kinds, cuBLASLt's scale layout (the bulk copies), against fp64. */
static void test_wide_tail_tiles(void) {
  static const int64_t ns[] = {2112, 328};
  for (int t = 0; t < 2; t++) {
    gemm_data d;
    data_make(&d, 512, ns[t], 1024);
    for (int b = 0; b <= ALTO_GEMM_OUTER; b++)
      for (int o = 0; o < 2; o++)
        for (int acc = 0; acc < 2; acc++) {
          alto_gemm_config cfg = {256, alto_gemm_max_stages((alto_gemm_bscale)b, 256), 8, 7, 1,
                                  0, 2};
          gemm_case c = {(alto_gemm_bscale)b, o ? ALTO_DT_F32 : ALTO_DT_BF16, acc,
                         LAYOUT_CUBLASLT, 0, &cfg, acc == 1};
          fprintf(stderr, "  bn 256, 7 CTAs:");
          run_case(&d, &c);
        }
    data_free(&d);
  }
}

static void test_refusals(void) {
  gpu_buf a = gpu_alloc(B, 128 * 256 + 64), s = gpu_alloc(B, 4 * 512),
          c = gpu_alloc(B, 128 * 128 * 4);
  alto_gemm_fp8_operand oa = {gpu_ptr(a), gpu_ptr(s), 2, 1, 0, false};
  alto_dptr cp = gpu_ptr(c);
  struct {
    const char *what;
    int64_t m, n, k, ldc;
    alto_dptr codes_off, scales_off;
  } bad[] = {
      {"K = 24 (not a multiple of 16)", 128, 128, 24, 128, 0, 0},
      {"K = 0", 128, 128, 0, 128, 0, 0},
      {"M = 0", 0, 128, 128, 128, 0, 0},
      {"N = 0", 128, 0, 128, 128, 0, 0},
      {"ldc < N", 128, 128, 128, 100, 0, 0},
      {"codes 8-byte aligned", 128, 128, 128, 128, 8, 0},
      {"scales 2-byte aligned", 128, 128, 128, 128, 0, 2},
      {"M = 2^31", (int64_t)1 << 31, 128, 128, 128, 0, 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    alto_gemm_fp8_operand x = oa;
    x.codes += bad[i].codes_off, x.scales += bad[i].scales_off;
    alto_status st = alto_gemm_fp8(B, cp, ALTO_DT_F32, bad[i].ldc, false, &x, &oa,
                                   ALTO_GEMM_B_1X128, bad[i].m, bad[i].n, bad[i].k, NULL);
    /* runtime/gemm_gpu.h promises ALTO_ERR_UNSUPPORTED for each of these; bad values (M = 0,
     * ldc < N) may fairly be ALTO_ERR_INVALID_ARG: accept both, never success */
    CHECKF(st == ALTO_ERR_UNSUPPORTED || st == ALTO_ERR_INVALID_ARG, "%s: %s", bad[i].what,
           alto_status_name(st));
    if (st != ALTO_ERR_UNSUPPORTED)
      fprintf(stderr, "     note: %s: %s (the header says ALTO_ERR_UNSUPPORTED)\n", bad[i].what,
              alto_status_name(st));
    CHECKF(st == ALTO_OK || alto_last_error()[0], "%s: refused without a reason", bad[i].what);
  }
  /* output dtypes other than bf16 / fp32 */
  alto_status st = alto_gemm_fp8(B, cp, ALTO_DT_FP8_E4M3, 128, false, &oa, &oa, ALTO_GEMM_B_1X128,
                                 128, 128, 128, NULL);
  CHECKF(st != ALTO_OK, "fp8 output accepted");
  /* MXFP4 conversion: K a multiple of 32 */
  alto_mx_src mxs = mx_rows_src(gpu_ptr(a), gpu_ptr(a), 48);
  st = alto_gemm_mx_to_fp8(B, &mxs, false, gpu_ptr(a), gpu_ptr(s), 1, 1, 0, 0, 2, 48);
  CHECKF(st != ALTO_OK, "mxfp4 conversion of K = 48 accepted");
  /* ... and scale strides that make a [2, 2] grid overlap */
  mxs = mx_rows_src(gpu_ptr(a), gpu_ptr(a), 256);
  st = alto_gemm_mx_to_fp8(B, &mxs, false, gpu_ptr(a), gpu_ptr(s), 1, 1, 0, 0, 2, 256);
  CHECKF(st != ALTO_OK, "mxfp4 conversion with overlapping scale strides accepted");
  /* the 128x128 form without its split counter, and an MX GEMM without one */
  st = alto_gemm_mx_to_fp8(B, &mxs, true, gpu_ptr(a), gpu_ptr(s), 2, 1, 0, 0, 2, 256);
  CHECKF(st == ALTO_ERR_INVALID_ARG, "128x128 mxfp4 conversion without a counter: %s",
         alto_status_name(st));
  st = alto_gemm_fp8(B, cp, ALTO_DT_F32, 128, false, &oa, &oa, ALTO_GEMM_B_MX, 128, 128, 128, NULL);
  CHECKF(st == ALTO_ERR_INVALID_ARG, "MX GEMM without a split counter: %s", alto_status_name(st));
  st = alto_gemm_fp8(B, cp, ALTO_DT_F32, 128, false, &oa, &oa, (alto_gemm_bscale)7, 128, 128, 128,
                     NULL);
  CHECKF(st == ALTO_ERR_INVALID_ARG, "B scale kind 7: %s", alto_status_name(st));
  /* E5M2 operands of an MX GEMM (converted to E4M3: never E5M2) */
  alto_gemm_fp8_operand e5 = oa;
  e5.e5m2 = true, e5.split = gpu_ptr(s);
  st = alto_gemm_fp8(B, cp, ALTO_DT_F32, 128, false, &e5, &e5, ALTO_GEMM_B_MX, 128, 128, 128, NULL);
  CHECKF(st == ALTO_ERR_INVALID_ARG, "MX GEMM of E5M2 codes: %s", alto_status_name(st));
  CHECK(B->i->sync(B) == ALTO_OK);
  gpu_free(B, &a), gpu_free(B, &s), gpu_free(B, &c);
}

/* ---- MXFP4 -> E4M3 ------------------------------------------------------------------------- */

/* Random MXFP4 operand [R, K]: E2M1 nibbles (every code, -0 included), E8M0 exponents 124..130;
 * with far != 0, in every 7th row one 1x32 block moved `far` binades away (span > 14 when
 * |far| > 14 + 6). */
static void mx_make(uint8_t *mxc, uint8_t *mxs, int64_t R, int64_t K, int far) {
  for (int64_t i = 0; i < R * K / 2; i++)
    mxc[i] = (uint8_t)alto_test_u32(&rng);
  for (int64_t i = 0; i < R * K / 32; i++)
    mxs[i] = (uint8_t)(124 + alto_test_u32(&rng) % 7u);
  if (far)
    for (int64_t r = 0; r < R; r += 7) {
      int64_t j = (int64_t)(alto_test_u32(&rng) % (uint32_t)(K / 32));
      mxs[r * (K / 32) + j] = (uint8_t)(127 + far);
    }
}

/* Converts on the GPU and compares with alto_cpu_mx_to_e4m3 bit for bit, writing the scales row-major
 * and again MN-major ([K/128, R rounded up to 4]). with_counter: pass the inexact counter (else
 * 0). two_d: the 128x128 form, its split counter compared too. Returns the inexact counter's
 * value (0 without). */
static uint32_t mx_check(const uint8_t *mxc, const uint8_t *mxs, int64_t R, int64_t K, bool two_d,
                         bool with_counter, const char *what) {
  int64_t kb = cdiv(K, 128);
  uint8_t *codes = malloc((size_t)(R * K)), *got_c = malloc((size_t)(R * K)),
          *nanb = malloc((size_t)(R * kb));
  float *scales = malloc((size_t)(R * kb) * 4), *got_s = malloc((size_t)(R * kb) * 4);
  uint32_t want_split = 0, got_split = 0;
  uint32_t want_inexact = alto_cpu_mx_to_e4m3(mxc, mxs, R, K, two_d, codes, scales, nanb, &want_split),
           got_inexact = 0;
  gpu_buf gmc = gpu_alloc(B, (size_t)(R * K / 2)), gms = gpu_alloc(B, (size_t)(R * K / 32));
  const int64_t r4 = (R + 3) / 4 * 4;
  gpu_buf gc = gpu_alloc(B, (size_t)(R * K)), gs = gpu_alloc(B, (size_t)(r4 * kb) * 4);
  gpu_buf gi = gpu_alloc(B, 4), gsp = gpu_alloc(B, 4);
  gpu_upload(B, gmc, mxc), gpu_upload(B, gms, mxs);
  for (int mn = 0; mn < 2; mn++) {
    const int64_t s_r = mn ? 1 : kb, s_k = mn ? r4 : 1;
    CHECK(B->i->memset(B, gpu_ptr(gi), 0, 4) == ALTO_OK);
    CHECK(B->i->memset(B, gpu_ptr(gsp), 0, 4) == ALTO_OK);
    const alto_dptr inexact = with_counter ? gpu_ptr(gi) : 0;
    const alto_mx_src src = mx_rows_src(gpu_ptr(gmc), gpu_ptr(gms), K);
    alto_status st = alto_gemm_mx_to_fp8(B, &src, two_d, gpu_ptr(gc), gpu_ptr(gs), s_r, s_k,
                                         inexact, two_d ? gpu_ptr(gsp) : 0, R, K);
    CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
    CHECKF(B->i->sync(B) == ALTO_OK, "%s: %s", what, alto_last_error());
    if (st == ALTO_OK) {
      float *got_grid = malloc((size_t)(r4 * kb) * 4);
      gpu_download(B, got_c, gc, what);
      gpu_download(B, got_grid, gs, what);
      for (int64_t r = 0; r < R; r++)
        for (int64_t q = 0; q < kb; q++)
          got_s[r * kb + q] = got_grid[r * s_r + q * s_k];
      free(got_grid);
      gpu_download(B, &got_inexact, gi, what);
      gpu_download(B, &got_split, gsp, what);
      int64_t bad_c = 0, bad_s = 0, first = -1;
      for (int64_t r = 0; r < R; r++)
        for (int64_t q = 0; q < kb; q++) {
          int64_t si = r * kb + q;
          if (nanb[si]) {
            bad_s += !isnan(got_s[si]);
            continue;
          }
          bad_s += memcmp(&got_s[si], &scales[si], 4) != 0;
          for (int64_t kk = q * 128; kk < K && kk < q * 128 + 128; kk++)
            if (got_c[r * K + kk] != codes[r * K + kk]) {
              if (first < 0)
                first = r * K + kk;
              bad_c++;
            }
        }
      fprintf(stderr,
              "  %s (%s, %s scales): R %lld K %lld: %lld codes, %lld scales differ; inexact %u "
              "(want %u), split %u (want %u)\n",
              what, two_d ? "128x128" : "1x128", mn ? "MN-major" : "row-major", (long long)R,
              (long long)K, (long long)bad_c, (long long)bad_s, got_inexact,
              with_counter ? want_inexact : 0, got_split, want_split);
      CHECKF(got_split == (two_d ? want_split : 0), "%s: split counter %u, want %u", what,
             got_split, two_d ? want_split : 0);
      CHECKF(bad_c == 0, "%s: %lld codes differ (first [%lld, %lld]: 0x%02x, want 0x%02x)", what,
             (long long)bad_c, (long long)(first / K), (long long)(first % K),
             first >= 0 ? got_c[first] : 0, first >= 0 ? codes[first] : 0);
      CHECKF(bad_s == 0, "%s: %lld scales differ", what, (long long)bad_s);
      if (with_counter)
        CHECKF(got_inexact == want_inexact, "%s: inexact counter %u, want %u", what, got_inexact,
               want_inexact);
      else
        CHECKF(got_inexact == 0, "%s: a counter was written without being asked for", what);
    }
  }
  gpu_free(B, &gmc), gpu_free(B, &gms), gpu_free(B, &gc), gpu_free(B, &gs), gpu_free(B, &gi);
  gpu_free(B, &gsp);
  free(codes), free(got_c), free(nanb), free(scales), free(got_s);
  return with_counter ? got_inexact : 0;
}

static void test_mxfp4_conversion(void) {
  static const int64_t shapes[][2] = {{257, 32 * 13}, {64, 4096}};
  for (int two_d = 0; two_d < 2; two_d++)
  for (size_t s = 0; s < 2; s++) {
    int64_t R = shapes[s][0], K = shapes[s][1];
    uint8_t *mxc = malloc((size_t)(R * K / 2)), *mxs = malloc((size_t)(R * K / 32));
    mx_make(mxc, mxs, R, K, 0);
    CHECK(mx_check(mxc, mxs, R, K, two_d, true, "mxfp4->e4m3 exact") == 0);
    /* far blocks, 20 binades up and down: the counter counts their 128-blocks */
    mx_make(mxc, mxs, R, K, 20);
    CHECK(mx_check(mxc, mxs, R, K, two_d, true, "mxfp4->e4m3 far +20") > 0);
    mx_make(mxc, mxs, R, K, -20);
    CHECK(mx_check(mxc, mxs, R, K, two_d, true, "mxfp4->e4m3 far -20") > 0);
    /* the boundary: spans of exactly 14 (exact, not counted) and 15 (counted), in rows 0 and 1 */
    mx_make(mxc, mxs, R, K, 0);
    int64_t k32 = K / 32;
    for (int64_t j = 0; j < 4; j++)
      mxs[j] = 127, mxs[k32 + j] = 127;
    mxs[1] = 113, mxs[k32 + 2] = 112;
    CHECK(mx_check(mxc, mxs, R, K, two_d, true, "mxfp4->e4m3 span 14 / 15") == 1);
    /* extreme exponents, rows 2 and 3: E8M0 0 (the scale 2^-133 is an fp32 subnormal) and 254
     * (6 x 2^127 is above fp32's range: the code must come from e2m1 x 2^(e - e_max + 6), not from
     * dequantized fp32 values) */
    mx_make(mxc, mxs, R, K, 0);
    for (int64_t j = 0; j < k32; j++)
      mxs[2 * k32 + j] = 0, mxs[3 * k32 + j] = 254;
    CHECK(mx_check(mxc, mxs, R, K, two_d, true, "mxfp4->e4m3 E8M0 0 and 254") == 0);
    /* 1x32 blocks of zero codes (E2M1 0x0 and -0 0x8) do not set the scale or the span: row 4,
     * block 0 all zeros at 30 binades up (the others' scale stays; its codes +-0); row 6, every
     * block of the first 128-block zero (the scale from the largest byte; not counted even with
     * bytes 40 apart); row 8, a zero block 30 binades down (not counted) */
    mx_make(mxc, mxs, R, K, 0);
    for (int64_t t = 0; t < 16; t++) {
      mxc[4 * (K / 2) + t] = (uint8_t)(t & 1 ? 0x80 : 0x08);
      mxc[8 * (K / 2) + 16 + t] = 0;
    }
    for (int64_t t = 0; t < 64 && t < K / 2; t++)
      mxc[6 * (K / 2) + t] = (uint8_t)(t & 2 ? 0x88 : 0x00);
    mxs[4 * k32] = 157, mxs[8 * k32 + 1] = 97;
    for (int64_t j = 0; j < 4 && j < k32; j++)
      mxs[6 * k32 + j] = (uint8_t)(j & 1 ? 100 : 140);
    CHECK(mx_check(mxc, mxs, R, K, two_d, true, "mxfp4->e4m3 zero 1x32 blocks") == 0);
    /* a NaN scale: its block's scale NaN (its codes are not specified); no counter */
    mx_make(mxc, mxs, R, K, 0);
    mxs[5 * k32 + 1] = 0xFF;
    mx_check(mxc, mxs, R, K, two_d, false, "mxfp4->e4m3 NaN scale");
    /* rows whose own blocks are close but far from each other's (the 128x128 form shares only
     * what stays exact): row 1 at bytes 138..139 and row 130 (a second row block where R > 128)
     * at 138, the others at mx_make's 124..130: spans 15 (split) and 14 (shared) */
    mx_make(mxc, mxs, R, K, 0);
    for (int64_t j = 0; j < k32; j++) {
      mxs[k32 + j] = (uint8_t)(mxs[k32 + j] % 2 + 144 - 6); /* 138..139 vs 124..130: span 15 */
      if (R > 130)
        mxs[130 * k32 + j] = 138; /* 138 vs 124..130 */
    }
    CHECK(mx_check(mxc, mxs, R, K, two_d, true, "mxfp4->e4m3 rows apart") == 0);
    free(mxc), free(mxs);
  }
}

/* The tile conversion from every stored layout (runtime/gemm_gpu.h alto_mx_layout), per-row and
 * shared scales, 1-D scales (1x32 along K) and 2-D (32x32 blocks: mbr 32): the stored operand is
 * built on the host from a logical [R][K/2] operand and its per-row bytes, and the result must be
 * alto_cpu_mx_to_e4m3's of the logical operand bit for bit (codes, scales, both counters). */
static void mx_layout_check(int64_t R, int64_t K, int layout, bool two_d_scales, int far) {
  char what[160];
  snprintf(what, sizeof what, "mxfp4->e4m3 tile layout %d %s scales R %lld K %lld far %d", layout,
           two_d_scales ? "32x32" : "1x32", (long long)R, (long long)K, far);
  const int64_t k32 = K / 32, kb = cdiv(K, 128), r4 = round4(R);
  uint8_t *mxc = malloc((size_t)(R * K / 2)), *mxs = malloc((size_t)(R * k32));
  mx_make(mxc, mxs, R, K, far);
  /* the stored scales, and the logical per-row bytes they give */
  const int64_t mbr = two_d_scales ? 32 : 1;
  int64_t ms_r, ms_k, n_s;
  if (layout == ALTO_MX_ROWS)
    ms_r = k32, ms_k = 1, n_s = cdiv(R, mbr) * k32;
  else
    ms_r = 1, ms_k = cdiv(R, mbr), n_s = k32 * cdiv(R, mbr);
  uint8_t *st_s = malloc((size_t)n_s);
  for (int64_t i = 0; i < n_s; i++)
    st_s[i] = (uint8_t)(124 + alto_test_u32(&rng) % 7u);
  if (far) /* one far byte in a few places */
    for (int64_t i = 0; i < n_s; i += 37)
      st_s[i] = (uint8_t)(127 + far);
  for (int64_t r = 0; r < R; r++)
    for (int64_t j = 0; j < k32; j++)
      mxs[r * k32 + j] = st_s[(r / mbr) * ms_r + j * ms_k];
  /* the stored codes */
  uint8_t *st_c = calloc((size_t)(R * K / 2), 1);
  for (int64_t r = 0; r < R; r++)
    for (int64_t kk = 0; kk < K; kk++) {
      uint8_t nib = (uint8_t)((mxc[r * (K / 2) + kk / 2] >> (4 * (kk & 1))) & 0xF);
      int64_t byte, shift;
      if (layout == ALTO_MX_ROWS)
        byte = r * (K / 2) + kk / 2, shift = 4 * (kk & 1);
      else if (layout == ALTO_MX_KPAIRS_T)
        byte = (kk / 2) * R + r, shift = 4 * (kk & 1);
      else
        byte = kk * (R / 2) + r / 2, shift = 4 * (r & 1);
      st_c[byte] = (uint8_t)(st_c[byte] | (nib << shift));
    }
  uint8_t *want_c = malloc((size_t)(R * K)), *got_c = malloc((size_t)(R * K)),
          *nanb = malloc((size_t)(R * kb));
  float *want_s = malloc((size_t)(R * kb) * 4), *grid = malloc((size_t)(r4 * kb) * 4);
  gpu_buf gmc = gpu_alloc(B, (size_t)(R * K / 2)), gms = gpu_alloc(B, (size_t)n_s);
  gpu_buf gc = gpu_alloc(B, (size_t)(R * K)), gs = gpu_alloc(B, (size_t)(r4 * kb) * 4);
  gpu_buf gcnt = gpu_alloc(B, 8);
  gpu_upload(B, gmc, st_c), gpu_upload(B, gms, st_s);
  for (int share = 0; share < 2; share++) {
    uint32_t want_split = 0, cnt[2] = {0, 0};
    uint32_t want_inexact =
        alto_cpu_mx_to_e4m3(mxc, mxs, R, K, share, want_c, want_s, nanb, &want_split);
    CHECK(B->i->memset(B, gpu_ptr(gcnt), 0, 8) == ALTO_OK);
    const alto_mx_src src = {gpu_ptr(gmc), gpu_ptr(gms), (alto_mx_layout)layout, mbr, ms_r, ms_k};
    alto_status st = alto_gemm_mx_to_fp8(B, &src, share, gpu_ptr(gc), gpu_ptr(gs), 1, r4,
                                         gpu_ptr(gcnt), gpu_ptr(gcnt) + 4, R, K);
    CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
    CHECKF(B->i->sync(B) == ALTO_OK, "%s: %s", what, alto_last_error());
    if (st != ALTO_OK)
      continue;
    gpu_download(B, got_c, gc, what);
    gpu_download(B, grid, gs, what);
    gpu_download(B, cnt, gcnt, what);
    int64_t bad_c = 0, bad_s = 0;
    for (int64_t r = 0; r < R; r++)
      for (int64_t q = 0; q < kb; q++) {
        bad_s += memcmp(&grid[q * r4 + r], &want_s[r * kb + q], 4) != 0;
        for (int64_t kk = q * 128; kk < K && kk < q * 128 + 128; kk++)
          bad_c += got_c[r * K + kk] != want_c[r * K + kk];
      }
    fprintf(stderr, "  %s %s: %lld codes, %lld scales differ; inexact %u (want %u), split %u (want %u)\n",
            what, share ? "shared" : "per-row", (long long)bad_c, (long long)bad_s, cnt[0],
            want_inexact, cnt[1], share ? want_split : 0);
    CHECKF(bad_c == 0 && bad_s == 0, "%s: %lld codes, %lld scales differ", what, (long long)bad_c,
           (long long)bad_s);
    CHECKF(cnt[0] == want_inexact, "%s: inexact %u, want %u", what, cnt[0], want_inexact);
    CHECKF(cnt[1] == (share ? want_split : 0), "%s: split %u, want %u", what, cnt[1],
           share ? want_split : 0);
  }
  gpu_free(B, &gmc), gpu_free(B, &gms), gpu_free(B, &gc), gpu_free(B, &gs), gpu_free(B, &gcnt);
  free(mxc), free(mxs), free(st_s), free(st_c), free(want_c), free(got_c), free(nanb);
  free(want_s), free(grid);
}

static void test_mxfp4_layouts(void) {
  for (int layout = 0; layout < 3; layout++)
    for (int two_d = 0; two_d < 2; two_d++) {
      mx_layout_check(320, 32 * 13, layout, two_d, 0); /* tails in R (64) and K (32 x 1) */
      mx_layout_check(256, 512, layout, two_d, 20);    /* far bytes: inexact and split blocks */
    }
  /* a transposed layout whose R is not the multiple it needs is refused */
  const alto_mx_src src = {0, 0, ALTO_MX_RPAIRS_T, 1, 1, 1};
  gpu_buf g = gpu_alloc(B, 4096);
  alto_status st = alto_gemm_mx_to_fp8(B, &src, false, gpu_ptr(g), gpu_ptr(g), 1, 48, 0, 0, 48,
                                       64);
  CHECKF(st == ALTO_ERR_UNSUPPORTED || st == ALTO_ERR_INVALID_ARG, "R 48 in layout 2: %s",
         alto_status_name(st));
  gpu_free(B, &g);
}

/* The MXFP4 GEMM end to end: both operands converted, alto_gemm_fp8 with B 1x128 (mx false) or
 * B MX-scaled through the 128x128 conversion (mx true; b_apart: B's row 1 16 binades above the
 * others, so its blocks keep per-row scales and the kernel takes the 1x128 promotion), against the
 * fp64 product of the MXFP4-dequantized operands (e2m1 2^(e - 127), exact). */
static void mxfp4_gemm(int64_t m, int64_t n, int64_t k, alto_dtype out, bool mx, bool b_apart) {
  char what[128];
  snprintf(what, sizeof what, "mxfp4 %lldx%lldx%lld %s B %s%s", (long long)m, (long long)n,
           (long long)k, out == ALTO_DT_BF16 ? "bf16" : "f32", mx ? "mx" : "1x128",
           b_apart ? " (rows apart)" : "");
  int64_t kb = cdiv(k, 128);
  uint8_t *ac = malloc((size_t)(m * k / 2)), *as = malloc((size_t)(m * k / 32));
  uint8_t *bc = malloc((size_t)(n * k / 2)), *bsc = malloc((size_t)(n * k / 32));
  mx_make(ac, as, m, k, 0);
  mx_make(bc, bsc, n, k, 0);
  for (int64_t j = 0; b_apart && j < k / 32; j++)
    bsc[k / 32 + j] = (uint8_t)(bsc[k / 32 + j] + 16);
  gpu_buf g_ac = gpu_alloc(B, (size_t)(m * k / 2)), g_as = gpu_alloc(B, (size_t)(m * k / 32));
  gpu_buf g_bc = gpu_alloc(B, (size_t)(n * k / 2)), g_bs = gpu_alloc(B, (size_t)(n * k / 32));
  /* A's scales MN-major (the bulk path); B's row-major, or MN-major for MX with N % 4 == 0 */
  const int64_t m4 = (m + 3) / 4 * 4, n4 = (n + 3) / 4 * 4;
  const bool b_mn = mx && n % 4 == 0;
  const int64_t sb_r = b_mn ? 1 : kb, sb_k = b_mn ? n4 : 1;
  gpu_buf ea = gpu_alloc(B, (size_t)(m * k)), sa = gpu_alloc(B, (size_t)(m4 * kb) * 4);
  gpu_buf eb = gpu_alloc(B, (size_t)(n * k)), sb = gpu_alloc(B, (size_t)(n4 * kb) * 4);
  gpu_buf gi = gpu_alloc(B, 4), gc = gpu_alloc(B, (size_t)(m * n) * dsize(out));
  gpu_buf gsp = gpu_alloc(B, 4);
  CHECK(B->i->memset(B, gpu_ptr(gsp), 0, 4) == ALTO_OK);
  gpu_upload(B, g_ac, ac), gpu_upload(B, g_as, as), gpu_upload(B, g_bc, bc),
      gpu_upload(B, g_bs, bsc);
  CHECK(B->i->memset(B, gpu_ptr(gi), 0, 4) == ALTO_OK);
  const alto_mx_src src_a = mx_rows_src(gpu_ptr(g_ac), gpu_ptr(g_as), k),
                    src_b = mx_rows_src(gpu_ptr(g_bc), gpu_ptr(g_bs), k);
  alto_status st =
      alto_gemm_mx_to_fp8(B, &src_a, false, gpu_ptr(ea), gpu_ptr(sa), 1, m4, gpu_ptr(gi), 0, m, k);
  if (st == ALTO_OK)
    st = alto_gemm_mx_to_fp8(B, &src_b, mx, gpu_ptr(eb), gpu_ptr(sb), sb_r, sb_k, gpu_ptr(gi),
                             mx ? gpu_ptr(gsp) : 0, n, k);
  alto_gemm_fp8_operand oa = {gpu_ptr(ea), gpu_ptr(sa), 1, m4, 0, false};
  alto_gemm_fp8_operand ob = {gpu_ptr(eb), gpu_ptr(sb), sb_r, sb_k, mx ? gpu_ptr(gsp) : 0, false};
  if (st == ALTO_OK)
    st = alto_gemm_fp8(B, gpu_ptr(gc), out, n, false, &oa, &ob,
                       mx ? ALTO_GEMM_B_MX : ALTO_GEMM_B_1X128, m, n, k, NULL);
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  CHECKF(B->i->sync(B) == ALTO_OK, "%s: %s", what, alto_last_error());
  if (st == ALTO_OK) {
    uint32_t inexact = 1;
    gpu_download(B, &inexact, gi, what);
    CHECKF(inexact == 0, "%s: %u inexact blocks in a conversion that should be exact", what,
           inexact);
    uint32_t split = 0;
    gpu_download(B, &split, gsp, what);
    CHECKF(mx ? (split > 0) == b_apart : split == 0, "%s: %u blocks kept per-row scales", what,
           split);
    uint8_t *c = malloc((size_t)(m * n) * dsize(out));
    gpu_download(B, c, gc, what);
    /* dequantized operands in fp64 */
    double *da = malloc((size_t)(m * k) * 8), *db = malloc((size_t)(n * k) * 8);
    for (int64_t i = 0; i < m * k; i++)
      da[i] = alto_e2m1_to_f32((uint8_t)((ac[i / 2] >> (4 * (i & 1))) & 0xF)) *
              ldexp(1.0, as[i / 32] - 127);
    for (int64_t i = 0; i < n * k; i++)
      db[i] = alto_e2m1_to_f32((uint8_t)((bc[i / 2] >> (4 * (i & 1))) & 0xF)) *
              ldexp(1.0, bsc[i / 32] - 127);
    double num = 0, den = 0;
    int64_t nonfinite = 0;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double want = 0;
        for (int64_t kk = 0; kk < k; kk++)
          want += da[i * k + kk] * db[j * k + kk];
        double got = out_value(c, out, i * n + j);
        if (!isfinite(got)) {
          nonfinite++;
          continue;
        }
        num += (got - want) * (got - want);
        den += want * want;
      }
    double err = den > 0 ? sqrt(num / den) : INFINITY;
    double tol = out == ALTO_DT_BF16 ? GEMM_BF16_TOL : GEMM_F32_TOL;
    fprintf(stderr, "  %-62s rel err %.3e%s\n", what, err, err < tol ? "" : "  ABOVE TOLERANCE");
    CHECKF(nonfinite == 0, "%s: %lld non-finite outputs", what, (long long)nonfinite);
    CHECKF(err < tol, "%s: relative Frobenius error %.3e (tolerance %.0e)", what, err, tol);
    free(c), free(da), free(db);
  }
  gpu_free(B, &g_ac), gpu_free(B, &g_as), gpu_free(B, &g_bc), gpu_free(B, &g_bs);
  gpu_free(B, &ea), gpu_free(B, &sa), gpu_free(B, &eb), gpu_free(B, &sb);
  gpu_free(B, &gi), gpu_free(B, &gc), gpu_free(B, &gsp);
  free(ac), free(as), free(bc), free(bsc);
}

/* C += A B^T with A all zero codes (a zero product, +0 in every accumulator) into fp32 C holding
 * subnormals, +-0, normals and infinities: C must keep every bit (the TMA epilogue adds in L2; a
 * flush of subnormals there would show), by both epilogues. */
static void test_accumulate_identity(void) {
  const int64_t m = 256, n = 256, k = 256, kb = 2;
  gpu_buf ga = gpu_alloc(B, (size_t)(m * k)), gb = gpu_alloc(B, (size_t)(n * k)),
          gs = gpu_alloc(B, (size_t)(m * kb) * 4), gsb = gpu_alloc(B, (size_t)(n * kb) * 4);
  uint8_t *codes = malloc((size_t)(m * k));
  for (int64_t i = 0; i < m * k; i++)
    codes[i] = (uint8_t)(alto_test_u32(&rng) & 0x7E); /* B: finite E4M3 codes */
  gpu_upload(B, gb, codes);
  memset(codes, 0, (size_t)(m * k));
  gpu_upload(B, ga, codes);
  float *sc = malloc((size_t)(n * kb) * 4);
  for (int64_t i = 0; i < n * kb; i++)
    sc[i] = 1.0f;
  gpu_upload(B, gs, sc);
  gpu_upload(B, gsb, sc);
  uint32_t *c0 = malloc((size_t)(m * n) * 4), *out = malloc((size_t)(m * n) * 4);
  for (int64_t i = 0; i < m * n; i++) {
    uint32_t r = alto_test_u32(&rng);
    switch (i % 5) {
    case 0: c0[i] = (r & 0x807FFFFFu) | 1u; break; /* subnormal */
    case 1: c0[i] = r & 0x80000000u; break;        /* +-0 */
    case 2: c0[i] = (r & 0x80000000u) | 0x7F800000u; break; /* +-inf */
    default: c0[i] = (r & 0x807FFFFFu) | 0x3F000000u; break; /* normal */
    }
  }
  alto_gemm_fp8_operand oa = {gpu_ptr(ga), gpu_ptr(gs), kb, 1, 0, false},
                        ob = {gpu_ptr(gb), gpu_ptr(gsb), kb, 1, 0, false};
  for (int regs = 0; regs < 2; regs++) {
    alto_cuda_device_info info;
    CHECK(alto_cuda_device(&info) == ALTO_OK);
    alto_gemm_config cfg = alto_gemm_config_for(m, n, k, ALTO_GEMM_B_1X128, info.sm_count);
    cfg.reg_epilogue = regs;
    gpu_buf gc = gpu_alloc(B, (size_t)(m * n) * 4);
    gpu_upload(B, gc, c0);
    CHECKF(alto_gemm_fp8(B, gpu_ptr(gc), ALTO_DT_F32, n, true, &oa, &ob, ALTO_GEMM_B_1X128, m, n,
                         k, &cfg) == ALTO_OK,
           "%s", alto_last_error());
    CHECK(B->i->sync(B) == ALTO_OK);
    gpu_download(B, out, gc, "C += 0");
    int64_t diff = 0;
    for (int64_t i = 0; i < m * n; i++)
      diff += out[i] != c0[i] && !(c0[i] << 1 == 0 && out[i] << 1 == 0);
    /* (-0 + +0 is +0 in IEEE addition: a -0 in C may become +0) */
    fprintf(stderr, "  C += 0, %s epilogue: %lld of %lld outputs changed\n",
            regs ? "register" : "TMA", (long long)diff, (long long)(m * n));
    CHECKF(diff == 0, "C += 0 (%s epilogue): %lld outputs changed", regs ? "register" : "TMA",
           (long long)diff);
    gpu_free(B, &gc);
  }
  gpu_free(B, &ga), gpu_free(B, &gb), gpu_free(B, &gs), gpu_free(B, &gsb);
  free(codes), free(sc), free(c0), free(out);
}

static void test_mxfp4_gemm(void) {
  for (int mx = 0; mx < 2; mx++) {
    mxfp4_gemm(257, 136, 32 * 13, ALTO_DT_F32, mx, false); /* K tail inside a 128-block */
    mxfp4_gemm(257, 136, 32 * 13, ALTO_DT_BF16, mx, false);
    mxfp4_gemm(128, 256, 4096, ALTO_DT_F32, mx, false);
  }
  /* MX: tiles across two B blocks at every offset (N 1000: widths whose tiles straddle), and the
   * per-row fallback (B's rows apart) */
  mxfp4_gemm(200, 1000, 512, ALTO_DT_F32, true, false);
  mxfp4_gemm(200, 1000, 512, ALTO_DT_F32, true, true);
  mxfp4_gemm(257, 136, 32 * 13, ALTO_DT_BF16, true, true);
}

/* argv: the groups to run (test_mxfp4_layouts ...; all without), e.g. under compute-sanitizer */
/* A as E5M2 codes (the gradient operand of dgrad and wgrad with grad_dtype e5m2): every scale
 * kind but MX, on shapes with tails, against the fp64 product of the E5M2 x E4M3 values. */
static void test_e5m2_a(void) {
  static const int64_t shapes[][3] = {{200, 72, 336}, {4096 + 96, 256, 7168}, {257, 1000, 512}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    gemm_data d;
    data_make_elem(&d, shapes[s][0], shapes[s][1], shapes[s][2], true);
    run_all(&d, 0);
    data_free(&d);
  }
}

static int g_argc;
static char **g_argv;
static bool wanted(const char *name) {
  if (g_argc < 2)
    return true;
  for (int i = 1; i < g_argc; i++)
    if (!strcmp(g_argv[i], name))
      return true;
  return false;
}
#define RUN_IF(fn)                                                                             \
  do {                                                                                         \
    if (wanted(#fn))                                                                           \
      RUN(fn);                                                                                 \
  } while (0)

int main(int argc, char **argv) {
  g_argc = argc, g_argv = argv;
  if (alto_backend_open("cuda", &B) != ALTO_OK)
    alto_test_skip(alto_last_error());
  fprintf(stderr, "GPU: %s (%s)\n", B->device_name, B->arch);
  if (strcmp(B->arch, "sm_90a") != 0) {
    char why[128];
    snprintf(why, sizeof why, "alto's FP8 GEMM needs sm_90a (this GPU: %s)", B->arch);
    alto_backend_close(B);
    alto_test_skip(why);
  }
  rng.s = alto_test_seed();
  for (int c = 0; c < 256; c++)
    e4m3_value[c] = alto_e4m3_to_f32((uint8_t)c), e5m2_value[c] = alto_e5m2_to_f32((uint8_t)c);
  RUN_IF(test_refusals);
  RUN_IF(test_mxfp4_conversion);
  RUN_IF(test_mxfp4_layouts);
  RUN_IF(test_shapes);
  RUN_IF(test_explicit_configs);
  RUN_IF(test_wide_tail_tiles);
  RUN_IF(test_accumulate_identity);
  RUN_IF(test_mxfp4_gemm);
  RUN_IF(test_e5m2_a);
  alto_backend_close(B);
  return alto_test_finish();
}
