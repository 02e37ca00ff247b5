/* FP8 schemes of the CPU reference (NUMERICS.md 1 and 3): fp8_block, fp8_rowwise, fp8_tensorwise,
 * and the DeepSeek-V3 double quantization, checked against an independent slow re-implementation
 * (fp64 scales, nearest FP8 value found by enumerating every finite code), hand-computed goldens,
 * error bounds and guard bytes. quant.c (the dispatcher) lives on another branch: a test-local
 * helper lays out and allocates the quantized tensor per quant.h and calls the entry points. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu/quant_fp8.h"
#include "runtime/cpu/quant_internal.h"
#include "tests/harness.h"

static alto_test_rng rng;

/* ---- guarded buffers: canaries on both sides of every output ------------------------------- */
#define GUARD 64
static void *galloc(size_t n) {
  uint8_t *p = malloc(n + 2 * GUARD + 16);
  memcpy(p, &n, sizeof n);
  memset(p + 16, 0xA5, GUARD);
  memset(p + 16 + GUARD, 0xCD, n);
  memset(p + 16 + GUARD + n, 0x5A, GUARD);
  return p + 16 + GUARD;
}
static void gfree(void *q) { /* CHECKs the canaries */
  if (!q)
    return;
  uint8_t *p = (uint8_t *)q - GUARD - 16;
  size_t n;
  memcpy(&n, p, sizeof n);
  int ok = 1;
  for (int i = 0; i < GUARD; i++)
    ok &= p[16 + i] == 0xA5 && p[16 + GUARD + n + i] == 0x5A;
  CHECKF(ok, "guard bytes around a %zu-byte output were overwritten", n);
  free(p);
}

/* ---- the layout of quant.h, filled by hand -------------------------------------------------- */
static alto_quant_spec spec_of(alto_scheme s, int axis, bool b2d, alto_elem elem, bool pow2) {
  alto_quant_spec sp;
  memset(&sp, 0, sizeof sp);
  sp.scheme = s, sp.axis = axis, sp.block2d = b2d, sp.elem = elem, sp.pow2_scale = pow2;
  return sp;
}

static void t_alloc(const alto_quant_spec *sp, int64_t E, int64_t R, int64_t C, alto_quantized *q) {
  memset(q, 0, sizeof *q);
  alto_quant_layout *l = &q->layout;
  l->codes_dims[0] = E, l->codes_dims[1] = R, l->codes_dims[2] = C;
  l->codes_bytes = E * R * C;
  int64_t *s = l->scale_dims;
  l->block_r = l->block_c = 1;
  if (sp->scheme == ALTO_SCHEME_FP8_BLOCK) {
    l->block_r = (sp->block2d || sp->axis == -2) ? 128 : 1;
    l->block_c = (sp->block2d || sp->axis == -1) ? 128 : 1;
    s[0] = E, s[1] = R / l->block_r, s[2] = C / l->block_c;
  } else if (sp->scheme == ALTO_SCHEME_FP8_ROWWISE) {
    s[0] = E, s[1] = sp->axis == -1 ? R : 1, s[2] = sp->axis == -1 ? 1 : C;
  } else {
    s[0] = s[1] = s[2] = 1;
  }
  l->scale_count = s[0] * s[1] * s[2];
  l->scale_bytes = 4;
  q->codes = galloc((size_t)l->codes_bytes);
  q->scales = galloc((size_t)l->scale_count * 4);
  q->outer = 1.0f;
}
static void t_free(alto_quantized *q) {
  gfree(q->codes);
  gfree(q->scales);
  memset(q, 0, sizeof *q);
}
static void plain_free(alto_quantized *q) { /* alto_cpu_fp8_block_requant allocates with malloc */
  free(q->codes);
  free(q->scales);
}

/* ---- independent reference: every finite FP8 value, nearest with ties to the even code ------- */
typedef struct {
  double mag[128];
  int maxcode, halfsub_log2;
  double max;
} fp8_table;
static fp8_table e4m3, e5m2;

static void table_init(fp8_table *t, int m, int bias, int maxcode) {
  t->maxcode = maxcode;
  for (int c = 0; c <= maxcode; c++) {
    int e = c >> m, f = c & ((1 << m) - 1);
    t->mag[c] = e == 0 ? ldexp(f, 1 - bias - m) : ldexp(1.0 + ldexp(f, -m), e - bias);
  }
  t->max = t->mag[maxcode];
  t->halfsub_log2 = -bias - m; /* half the smallest subnormal */
}
static const fp8_table *table_of(alto_elem e) {
  return e == ALTO_ELEM_E4M3 ? &e4m3 : &e5m2;
}

static uint8_t ref_encode(float v, alto_elem elem) {
  const fp8_table *t = table_of(elem);
  if (isnan(v))
    return 0x7F;
  uint8_t sign = signbit(v) ? 0x80 : 0;
  double a = fabs((double)v);
  if (a >= t->max)
    return sign | (uint8_t)t->maxcode;
  int best = 0;
  double bd = a;
  for (int c = 1; c <= t->maxcode; c++) {
    double d = fabs(a - t->mag[c]);
    if (d < bd || (d == bd && c % 2 == 0))
      best = c, bd = d;
  }
  return sign | (uint8_t)best;
}
static double ref_decode(uint8_t c, alto_elem elem) {
  const fp8_table *t = table_of(elem);
  if ((c & 0x7F) > t->maxcode)
    return NAN; /* E4M3 0x7F; E5M2 Inf/NaN codes are never produced */
  return (c & 0x80) ? -t->mag[c & 0x7F] : t->mag[c & 0x7F];
}

static float bf16r(float x) { /* round to bf16 and back (RNE), independently of the header */
  uint32_t b;
  memcpy(&b, &x, 4);
  if (isnan(x))
    return x;
  b = (b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u;
  memcpy(&x, &b, 4);
  return x;
}

/* A test tensor: fp32 values (already bf16-representable for bf16) and its view. */
typedef struct {
  float *f;
  uint16_t *h;
  alto_tensor_view v;
} tensor;

static void tensor_make(tensor *t, alto_elem dt, int ndim, int64_t E, int64_t R, int64_t C) {
  int64_t n = E * R * C;
  t->f = malloc((size_t)n * 4);
  t->h = malloc((size_t)n * 2);
  t->v.dtype = dt, t->v.ndim = ndim;
  if (ndim == 3)
    t->v.dims[0] = E, t->v.dims[1] = R, t->v.dims[2] = C;
  else
    t->v.dims[0] = R, t->v.dims[1] = C;
  t->v.data = dt == ALTO_ELEM_BF16 ? (void *)t->h : (void *)t->f;
}
/* Call after changing f: rounds to bf16 where the dtype is bf16 and fills the bits. */
static void tensor_sync(tensor *t) {
  int64_t n = alto_tensor_numel(&t->v);
  for (int64_t i = 0; i < n; i++) {
    if (t->v.dtype == ALTO_ELEM_BF16)
      t->f[i] = bf16r(t->f[i]);
    uint32_t b;
    memcpy(&b, &t->f[i], 4);
    t->h[i] = (uint16_t)(b >> 16);
  }
}
static void tensor_free(tensor *t) {
  free(t->f);
  free(t->h);
}

/* Random data with outliers; each row scaled by 2^[-24, 24] so block scales spread widely. */
static void tensor_fill(tensor *t, int64_t rows, int64_t C) {
  alto_test_fill_outliers(&rng, t->f, rows * C, 1.0f);
  for (int64_t r = 0; r < rows; r++) {
    float s = ldexpf(1.0f, (int)(alto_test_u32(&rng) % 49) - 24);
    if (alto_test_u32(&rng) % 16 == 0)
      s = 1e-30f; /* amax below the 1e-12 clamp */
    for (int64_t c = 0; c < C; c++)
      t->f[r * C + c] *= s;
  }
  tensor_sync(t);
}

/* The reference scale of every block, by brute force over the block's elements. */
static float ref_block_scale(const tensor *t, const alto_quant_spec *sp, int64_t e, int64_t r,
                             int64_t c, int64_t R, int64_t C) {
  int64_t br = (sp->block2d || sp->axis == -2) ? 128 : 1,
          bc = (sp->block2d || sp->axis == -1) ? 128 : 1;
  int64_t r0 = r / br * br, c0 = c / bc * bc;
  double amax = 0;
  int nan = 0;
  for (int64_t i = r0; i < r0 + br; i++)
    for (int64_t j = c0; j < c0 + bc; j++) {
      double a = fabs((double)t->f[(e * R + i) * C + j]);
      nan |= isnan(a);
      amax = a > amax ? a : amax;
    }
  if (nan)
    return NAN;
  if (amax < (double)1e-12f)
    amax = (double)1e-12f;
  return (float)(amax / table_of(sp->elem)->max);
}

static int same_f32(float a, float b) {
  return memcmp(&a, &b, 4) == 0 || (isnan(a) && isnan(b));
}

/* The shared casts every scheme here relies on (NUMERICS.md 1): exhaustively on bf16 inputs, and on
 * random fp32 bit patterns, against the enumeration; decode is the table. */
static void test_fp8_casts(void) {
  int64_t bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    uint32_t b = h << 16;
    float x;
    memcpy(&x, &b, 4);
    bad += alto_f32_to_e4m3(x) != ref_encode(x, ALTO_ELEM_E4M3);
    bad += alto_f32_to_e5m2(x) != ref_encode(x, ALTO_ELEM_E5M2);
  }
  for (int i = 0; i < 100000; i++) {
    uint32_t b = alto_test_u32(&rng);
    if (i & 1) /* concentrate near the FP8 ranges */
      b = (b & 0x807FFFFFu) | ((uint32_t)(100 + alto_test_u32(&rng) % 48) << 23);
    float x;
    memcpy(&x, &b, 4);
    bad += alto_f32_to_e4m3(x) != ref_encode(x, ALTO_ELEM_E4M3);
    bad += alto_f32_to_e5m2(x) != ref_encode(x, ALTO_ELEM_E5M2);
  }
  for (int c = 0; c < 256; c++) {
    bad += !same_f32(alto_e4m3_to_f32((uint8_t)c), (float)ref_decode((uint8_t)c, ALTO_ELEM_E4M3));
    if ((c & 0x7F) <= 0x7B)
      bad += !same_f32(alto_e5m2_to_f32((uint8_t)c), (float)ref_decode((uint8_t)c, ALTO_ELEM_E5M2));
  }
  CHECKF(bad == 0, "%lld fp8 casts differ from the enumeration", (long long)bad);
}

/* Scales seen by check_block_case, and how many were powers of two (a bf16 amax of 7 * 2^k gives
 * one now and then; NUMERICS.md: "not a power of two" in general). */
static int64_t scales_pow2, scales_total;

/* ---- fp8_block: library == slow reference, bit for bit ------------------------------------- */
static void check_block_case(alto_elem dt, alto_elem elem, int axis, bool b2d, int ndim, int64_t E,
                             int64_t R, int64_t C, int poison) {
  alto_quant_spec sp = spec_of(ALTO_SCHEME_FP8_BLOCK, axis, b2d, elem, false);
  tensor t;
  tensor_make(&t, dt, ndim, E, R, C);
  tensor_fill(&t, E * R, C);
  if (poison) { /* one zero block, one NaN element (block of element 5 of row 1 / column) */
    for (int64_t r = 0; r < (axis == -1 && !b2d ? 1 : 128); r++)
      for (int64_t c = 0; c < (axis == -2 && !b2d ? 1 : 128); c++)
        t.f[r * C + c] = 0.0f;
    t.f[(int64_t)200 * C + 5] = NAN;
    tensor_sync(&t);
  }
  alto_quantized q;
  t_alloc(&sp, E, R, C, &q);
  CHECKF(alto_cpu_quantize_fp8_(&sp, &t.v, &q) == ALTO_OK, "%s", alto_last_error());
  const float *sc = q.scales;
  int64_t n = E * R * C, bad_codes = 0, bad_scales = 0, bad_deq = 0, bad_err = 0, pow2 = 0;
  float *y = galloc((size_t)n * 4);
  uint16_t *yh = galloc((size_t)n * 2);
  CHECK(alto_cpu_dequantize_fp8_(&sp, &q, ALTO_ELEM_F32, y) == ALTO_OK);
  CHECK(alto_cpu_dequantize_fp8_(&sp, &q, ALTO_ELEM_BF16, yh) == ALTO_OK);
  int64_t br = q.layout.block_r, bc = q.layout.block_c, SR = R / br, SC = C / bc;
  float *rs = malloc((size_t)q.layout.scale_count * 4);
  for (int64_t s = 0; s < q.layout.scale_count; s++)
    rs[s] = ref_block_scale(&t, &sp, s / (SR * SC), s / SC % SR * br, s % SC * bc, R, C);
  for (int64_t e = 0; e < E; e++)
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) {
        int64_t i = (e * R + r) * C + c, si = (e * SR + r / br) * SC + c / bc;
        float d = rs[si];
        bad_scales += !same_f32(sc[si], d);
        uint8_t code = ref_encode(t.f[i] / d, elem);
        bad_codes += q.codes[i] != code;
        float yd = (float)(ref_decode(code, elem) * (double)d);
        bad_deq += !same_f32(y[i], yd) || !same_f32(alto_bf16_to_f32(yh[i]), bf16r(yd));
        double relh = elem == ALTO_ELEM_E4M3 ? 0x1p-4 : 0x1p-3, x = t.f[i];
        double bound = (relh * fabs(x) + ldexp(d, table_of(elem)->halfsub_log2)) * 1.0001;
        if (!isnan(d))
          bad_err += !(fabs(y[i] - x) <= bound);
        if (r % br == 0 && c % bc == 0) {
          uint32_t b;
          memcpy(&b, &d, 4);
          pow2 += (b & 0x7FFFFFu) == 0;
        }
      }
  CHECKF(bad_scales == 0, "%lld scales differ from the fp64 reference", (long long)bad_scales);
  CHECKF(bad_codes == 0, "%lld codes differ from the enumerated nearest value",
         (long long)bad_codes);
  CHECKF(bad_deq == 0, "%lld dequantized values differ", (long long)bad_deq);
  CHECKF(bad_err == 0, "%lld elements beyond the error bound", (long long)bad_err);
  scales_pow2 += pow2, scales_total += q.layout.scale_count;
  if (poison) {
    float dz = sc[0];
    CHECKF(same_f32(dz, (float)((double)1e-12f / table_of(elem)->max)) &&
               fabs(dz * table_of(elem)->max / 1e-12 - 1) < 1e-6,
           "zero block scale %g", dz);
    int64_t nan_si = (200 / br) * SC + 5 / bc, nan_codes = 0;
    CHECK(isnan(sc[nan_si]));
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++)
        if ((r / br) * SC + c / bc == nan_si)
          nan_codes += q.codes[r * C + c] == 0x7F && isnan(y[r * C + c]);
    CHECKF(nan_codes == br * bc, "%lld of the NaN block's codes are 0x7F", (long long)nan_codes);
  } else {
    /* dequant(quant) is a fixed point: re-quantizing the dequantized tensor gives the same codes
     * and (for fp32) the same scales up to one ulp (448 * d is rounded to fp32 on the way). */
    for (int pass = 0; pass < 2; pass++) {
      alto_tensor_view v = {pass ? (void *)yh : (void *)y,
                            pass ? ALTO_ELEM_BF16 : ALTO_ELEM_F32,
                            ndim,
                            {t.v.dims[0], t.v.dims[1], t.v.dims[2]}};
      alto_quantized q2;
      t_alloc(&sp, E, R, C, &q2);
      CHECK(alto_cpu_quantize_fp8_(&sp, &v, &q2) == ALTO_OK);
      CHECKF(memcmp(q2.codes, q.codes, (size_t)n) == 0, "requantized codes differ (pass %d)", pass);
      int64_t far = 0;
      for (int64_t s = 0; !pass && s < q.layout.scale_count; s++)
        far += !(fabsf(((float *)q2.scales)[s] - sc[s]) <= nextafterf(sc[s], INFINITY) - sc[s]);
      CHECKF(far == 0, "%lld requantized scales moved more than one ulp", (long long)far);
      t_free(&q2);
    }
  }
  free(rs);
  gfree(y);
  gfree(yh);
  t_free(&q);
  tensor_free(&t);
}

static void test_fp8_block_reference(void) {
  scales_pow2 = scales_total = 0;
  for (int k = 0; k < 12; k++) {
    alto_elem dt = k & 1 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    alto_elem elem = k & 2 ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
    int shape = k / 4; /* 0: 1x128 along -1, 1: 128x1 along -2, 2: 128x128 */
    int ndim = (k % 3) ? 3 : 2;
    int64_t E = ndim == 3 ? 2 : 1;
    check_block_case(dt, elem, shape == 1 ? -2 : -1, shape == 2, ndim, E, 256, 128 + 128 * (k & 1),
                     0);
  }
  CHECKF(scales_pow2 * 16 < scales_total, "%lld of %lld scales are powers of two",
         (long long)scales_pow2, (long long)scales_total);
}

static void test_fp8_block_special(void) {
  check_block_case(ALTO_ELEM_F32, ALTO_ELEM_E4M3, -1, false, 2, 1, 256, 256, 1);
  check_block_case(ALTO_ELEM_BF16, ALTO_ELEM_E4M3, -2, false, 2, 1, 256, 256, 1);
  check_block_case(ALTO_ELEM_F32, ALTO_ELEM_E5M2, -1, true, 2, 1, 256, 256, 1);
}

/* Results do not depend on the number of threads. */
static void test_fp8_threads(void) {
  alto_quant_spec sp = spec_of(ALTO_SCHEME_FP8_BLOCK, -2, false, ALTO_ELEM_E4M3, false);
  tensor t;
  tensor_make(&t, ALTO_ELEM_F32, 3, 3, 384, 128);
  tensor_fill(&t, 3 * 384, 128);
  alto_quantized q[2];
  const char *old = getenv("ALTO_NUM_THREADS");
  char *saved = old ? strdup(old) : NULL;
  for (int k = 0; k < 2; k++) {
    setenv("ALTO_NUM_THREADS", k ? "7" : "1", 1);
    t_alloc(&sp, 3, 384, 128, &q[k]);
    CHECK(alto_cpu_quantize_fp8_(&sp, &t.v, &q[k]) == ALTO_OK);
  }
  CHECK(memcmp(q[0].codes, q[1].codes, 3 * 384 * 128) == 0);
  CHECK(memcmp(q[0].scales, q[1].scales, (size_t)q[0].layout.scale_count * 4) == 0);
  if (saved)
    setenv("ALTO_NUM_THREADS", saved, 1);
  else
    unsetenv("ALTO_NUM_THREADS");
  free(saved);
  t_free(&q[0]);
  t_free(&q[1]);
  tensor_free(&t);
}

/* DeepSeek-V3 double quantization: requant == quantizing the dequantized tensor 128x1 directly. */
static void test_fp8_double_quant(void) {
  for (int k = 0; k < 4; k++) {
    alto_elem dt = k & 1 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    int64_t E = k & 2 ? 2 : 1, R = 256, C = 384;
    alto_quant_spec fs = spec_of(ALTO_SCHEME_FP8_BLOCK, -1, false, ALTO_ELEM_E4M3, false);
    alto_quant_spec ws = spec_of(ALTO_SCHEME_FP8_BLOCK, -2, false, ALTO_ELEM_E4M3, false);
    tensor t;
    tensor_make(&t, ALTO_ELEM_BF16, E > 1 ? 3 : 2, E, R, C);
    tensor_fill(&t, E * R, C);
    alto_quantized fwd, direct, rq;
    t_alloc(&fs, E, R, C, &fwd);
    CHECK(alto_cpu_quantize_fp8_(&fs, &t.v, &fwd) == ALTO_OK);
    void *y = galloc((size_t)(E * R * C) * 4);
    CHECK(alto_cpu_dequantize_fp8_(&fs, &fwd, dt, y) == ALTO_OK);
    alto_tensor_view v = {y, dt, 3, {E, R, C}};
    t_alloc(&ws, E, R, C, &direct);
    CHECK(alto_cpu_quantize_fp8_(&ws, &v, &direct) == ALTO_OK);
    CHECKF(alto_cpu_fp8_block_requant(&fs, &fwd, dt, &ws, &rq) == ALTO_OK, "%s", alto_last_error());
    CHECK(memcmp(&rq.layout, &direct.layout, sizeof rq.layout) == 0);
    CHECK(memcmp(rq.codes, direct.codes, (size_t)(E * R * C)) == 0);
    CHECK(memcmp(rq.scales, direct.scales, (size_t)direct.layout.scale_count * 4) == 0);
    /* ... and it is not the same as quantizing the original tensor 128x1 (it is double) */
    alto_quantized orig;
    t_alloc(&ws, E, R, C, &orig);
    CHECK(alto_cpu_quantize_fp8_(&ws, &t.v, &orig) == ALTO_OK);
    CHECK(memcmp(rq.codes, orig.codes, (size_t)(E * R * C)) != 0);
    CHECK(alto_cpu_fp8_block_requant(&ws, &fwd, dt, &ws, &orig) == ALTO_ERR_INVALID_ARG);
    CHECK(alto_cpu_fp8_block_requant(&fs, &fwd, dt, &fs, &orig) == ALTO_ERR_INVALID_ARG);
    CHECK(alto_cpu_fp8_block_requant(&fs, &fwd, ALTO_ELEM_E4M3, &ws, &orig) ==
          ALTO_ERR_INVALID_ARG);
    t_free(&orig);
    plain_free(&rq);
    t_free(&direct);
    gfree(y);
    t_free(&fwd);
    tensor_free(&t);
  }
}

/* ---- rowwise / tensorwise: scale = max / amax in fp32, element fp8(x * scale) -----------------
 */
static void check_tw_case(alto_scheme sch, int axis, alto_elem elem, bool pow2, alto_elem dt,
                          int ndim) {
  int64_t E = ndim == 3 ? 2 : 1, R = ndim == 3 ? 48 : 96, C = ndim == 3 ? 80 : 64, n = E * R * C;
  alto_quant_spec sp = spec_of(sch, axis, false, elem, pow2);
  tensor t;
  tensor_make(&t, dt, ndim, E, R, C);
  tensor_fill(&t, E * R, C);
  alto_quantized q;
  t_alloc(&sp, E, R, C, &q);
  CHECKF(alto_cpu_quantize_fp8_(&sp, &t.v, &q) == ALTO_OK, "%s", alto_last_error());
  float *y = galloc((size_t)n * 4);
  CHECK(alto_cpu_dequantize_fp8_(&sp, &q, ALTO_ELEM_F32, y) == ALTO_OK);
  const float *sc = q.scales;
  int64_t ns = q.layout.scale_count, bad_scale = 0, bad_code = 0, bad_deq = 0, bad_err = 0;
  float *amax = calloc((size_t)ns, 4);
  for (int64_t i = 0; i < n; i++) {
    int64_t e = i / (R * C), r = i / C % R, c = i % C;
    int64_t s = sch == ALTO_SCHEME_FP8_TENSORWISE ? 0 : (axis == -1 ? e * R + r : e * C + c);
    amax[s] = fmaxf(amax[s], fabsf(t.f[i]));
  }
  for (int64_t s = 0; s < ns; s++) {
    float exact = (float)table_of(elem)->max / fmaxf(amax[s], 1e-12f);
    if (!pow2) {
      bad_scale += !same_f32(sc[s], exact);
    } else {
      int ex;
      bad_scale += !(frexpf(sc[s], &ex) == 0.5f && sc[s] <= exact && sc[s] * 2 > exact);
    }
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t e = i / (R * C), r = i / C % R, c = i % C;
    float s = sc[sch == ALTO_SCHEME_FP8_TENSORWISE ? 0 : (axis == -1 ? e * R + r : e * C + c)];
    uint8_t code = ref_encode(t.f[i] * s, elem);
    bad_code += q.codes[i] != code;
    bad_deq += !same_f32(y[i], (float)(ref_decode(code, elem) / (double)s));
    double relh = elem == ALTO_ELEM_E4M3 ? 0x1p-4 : 0x1p-3;
    double bound = (relh * fabsf(t.f[i]) + ldexp(1.0 / s, table_of(elem)->halfsub_log2)) * 1.0001;
    bad_err += !(fabs((double)y[i] - t.f[i]) <= bound);
  }
  CHECKF(bad_scale == 0, "%s axis %d: %lld bad scales", alto_scheme_name(sch), axis,
         (long long)bad_scale);
  CHECKF(bad_code == 0, "%s axis %d: %lld codes differ", alto_scheme_name(sch), axis,
         (long long)bad_code);
  CHECK(bad_deq == 0);
  CHECKF(bad_err == 0, "%lld elements beyond the error bound", (long long)bad_err);
  free(amax);
  gfree(y);
  t_free(&q);
  tensor_free(&t);
}

static void test_fp8_rowwise_tensorwise_reference(void) {
  static const alto_scheme sch[3] = {ALTO_SCHEME_FP8_ROWWISE, ALTO_SCHEME_FP8_ROWWISE,
                                     ALTO_SCHEME_FP8_TENSORWISE};
  for (int k = 0; k < 24; k++)
    check_tw_case(sch[k % 3], k % 3 == 1 ? -2 : -1, k & 4 ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3,
                  (k & 8) != 0, k & 16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32, k % 2 ? 3 : 2);
}

/* Hand-computed goldens (E4M3: 112 = 0x6E, 224 = 0x76, 448 = 0x7E, 56 = 0x66, 28 = 0x5E,
 * 144 = 0x71, 0.15625 = 0x22; E5M2 14336 = 0x73, 57344 = 0x7B). */
static void golden(alto_scheme sch, int axis, alto_elem elem, bool pow2, int64_t R, int64_t C,
                   const float *x, const float *scales, const uint8_t *codes) {
  alto_quant_spec sp = spec_of(sch, axis, false, elem, pow2);
  alto_tensor_view v = {x, ALTO_ELEM_F32, 2, {R, C}};
  alto_quantized q;
  t_alloc(&sp, 1, R, C, &q);
  CHECK(alto_cpu_quantize_fp8_(&sp, &v, &q) == ALTO_OK);
  for (int64_t s = 0; s < q.layout.scale_count; s++)
    CHECKF(same_f32(((float *)q.scales)[s], scales[s]), "%s scale %lld: %.9g, want %.9g",
           alto_scheme_name(sch), (long long)s, ((float *)q.scales)[s], scales[s]);
  for (int64_t i = 0; i < R * C; i++)
    CHECKF(q.codes[i] == codes[i], "%s code %lld: 0x%02X, want 0x%02X", alto_scheme_name(sch),
           (long long)i, q.codes[i], codes[i]);
  t_free(&q);
}

static void test_fp8_goldens(void) {
  float big = 448.0f / 1e-12f, third = 448.0f / 3.0f;
  const float x1[12] = {1, -2, 0.5f, 4, 0, 0, 0, 0, 3, 1, -0.001f, 0};
  golden(ALTO_SCHEME_FP8_ROWWISE, -1, ALTO_ELEM_E4M3, false, 3, 4, x1,
         (const float[]){112, big, third},
         (const uint8_t[]){0x6E, 0xF6, 0x66, 0x7E, 0, 0, 0, 0, 0x7E, 0x71, 0xA2, 0});
  const float x2[6] = {1, 0, -8, 4, 0, 2};
  golden(ALTO_SCHEME_FP8_ROWWISE, -2, ALTO_ELEM_E4M3, false, 2, 3, x2,
         (const float[]){112, big, 56}, (const uint8_t[]){0x6E, 0, 0xFE, 0x7E, 0, 0x6E});
  const float x3[4] = {1, 2, -4, 0.25f};
  golden(ALTO_SCHEME_FP8_TENSORWISE, -1, ALTO_ELEM_E4M3, false, 2, 2, x3, (const float[]){112},
         (const uint8_t[]){0x6E, 0x76, 0xFE, 0x5E});
  const float x4[3] = {3, 1, 0.5f}; /* 448/3 = 149.33 rounds down to 128 */
  golden(ALTO_SCHEME_FP8_ROWWISE, -1, ALTO_ELEM_E4M3, true, 1, 3, x4, (const float[]){128},
         (const uint8_t[]){0x7C, 0x70, 0x68});
  const float x5[2] = {1, -4}; /* gradients in E5M2: 57344 / 4 */
  golden(ALTO_SCHEME_FP8_TENSORWISE, -1, ALTO_ELEM_E5M2, false, 1, 2, x5, (const float[]){14336},
         (const uint8_t[]){0x73, 0xFB});
}

/* Inf and NaN, as docs/numerics_fp8_mx69.md states: an Inf block scale is Inf (finite elements
 * code 0, Inf 0x7F); rowwise: Inf amax -> scale 0, NaN amax -> NaN scale and codes 0x7F. */
static void test_fp8_nonfinite(void) {
  static float x[2 * 128];
  for (int i = 0; i < 256; i++)
    x[i] = (float)(i % 7) - 3.0f;
  x[3] = INFINITY, x[128 + 9] = NAN;
  alto_tensor_view v = {x, ALTO_ELEM_F32, 2, {2, 128}};
  alto_quant_spec sp = spec_of(ALTO_SCHEME_FP8_BLOCK, -1, false, ALTO_ELEM_E4M3, false);
  alto_quantized q;
  t_alloc(&sp, 1, 2, 128, &q);
  CHECK(alto_cpu_quantize_fp8_(&sp, &v, &q) == ALTO_OK);
  CHECK(isinf(((float *)q.scales)[0]) && isnan(((float *)q.scales)[1]));
  CHECK(q.codes[3] == 0x7F && q.codes[0] == 0x80 && q.codes[1] == 0x80 && q.codes[4] == 0);
  for (int i = 128; i < 256; i++)
    CHECK(q.codes[i] == 0x7F);
  t_free(&q);
  sp = spec_of(ALTO_SCHEME_FP8_ROWWISE, -1, false, ALTO_ELEM_E4M3, false);
  t_alloc(&sp, 1, 2, 128, &q);
  CHECK(alto_cpu_quantize_fp8_(&sp, &v, &q) == ALTO_OK);
  CHECK(((float *)q.scales)[0] == 0.0f && isnan(((float *)q.scales)[1]));
  CHECK(q.codes[3] == 0x7F && q.codes[0] == 0x80 && q.codes[4] == 0 && q.codes[200] == 0x7F);
  t_free(&q);
}

/* ---- bad inputs: clear errors, nothing written past the outputs ------------------------------ */
static void expect_err(const alto_quant_spec *sp, const alto_tensor_view *v, const char *needle) {
  int nd = v->ndim == 3 ? 3 : 2; /* a bad ndim: lay out the first two dims */
  int64_t E = nd == 3 ? v->dims[0] : 1, R = v->dims[nd - 2], C = v->dims[nd - 1];
  alto_quantized q;
  t_alloc(sp, E, R, C, &q);
  alto_error_clear();
  CHECKF(alto_cpu_quantize_fp8_(sp, v, &q) == ALTO_ERR_INVALID_ARG, "no error for '%s'", needle);
  CHECKF(strstr(alto_last_error(), needle) != NULL, "message '%s' lacks '%s'", alto_last_error(),
         needle);
  t_free(&q);
}

static void test_fp8_bad_inputs(void) {
  static float buf[256 * 256];
  alto_quant_spec blk = spec_of(ALTO_SCHEME_FP8_BLOCK, -1, false, ALTO_ELEM_E4M3, false);
  alto_quant_spec col = spec_of(ALTO_SCHEME_FP8_BLOCK, -2, false, ALTO_ELEM_E4M3, false);
  alto_quant_spec b2d = spec_of(ALTO_SCHEME_FP8_BLOCK, -1, true, ALTO_ELEM_E4M3, false);
  expect_err(&blk, &(alto_tensor_view){buf, ALTO_ELEM_F32, 2, {4, 100}}, "C = 100");
  expect_err(&col, &(alto_tensor_view){buf, ALTO_ELEM_F32, 3, {2, 100, 128}}, "R = 100");
  expect_err(&b2d, &(alto_tensor_view){buf, ALTO_ELEM_F32, 2, {128, 192}}, "C = 192");
  expect_err(&blk, &(alto_tensor_view){buf, ALTO_ELEM_E4M3, 2, {4, 128}}, "dtype");
  alto_tensor_view v4 = {buf, ALTO_ELEM_F32, 2, {4, 128}};
  v4.ndim = 4;
  expect_err(&blk, &v4, "4 dims");
  alto_quant_spec e2m1 = spec_of(ALTO_SCHEME_FP8_BLOCK, -1, false, ALTO_ELEM_E2M1, false);
  expect_err(&e2m1, &(alto_tensor_view){buf, ALTO_ELEM_F32, 2, {4, 128}}, "e4m3 or e5m2");
  alto_quant_spec mx = spec_of(ALTO_SCHEME_MXFP4, -1, false, ALTO_ELEM_E4M3, false);
  expect_err(&mx, &(alto_tensor_view){buf, ALTO_ELEM_F32, 2, {4, 128}}, "mxfp4");
  alto_quant_spec ax = spec_of(ALTO_SCHEME_FP8_ROWWISE, 0, false, ALTO_ELEM_E4M3, false);
  expect_err(&ax, &(alto_tensor_view){buf, ALTO_ELEM_F32, 2, {4, 128}}, "axis 0");
  alto_quant_spec rw2d = spec_of(ALTO_SCHEME_FP8_ROWWISE, -1, true, ALTO_ELEM_E4M3, false);
  expect_err(&rw2d, &(alto_tensor_view){buf, ALTO_ELEM_F32, 2, {4, 128}}, "2-D blocks");
  /* a layout that does not match the tensor, and a bad output dtype */
  alto_tensor_view v = {buf, ALTO_ELEM_F32, 2, {4, 256}};
  alto_quantized q;
  t_alloc(&blk, 1, 4, 128, &q);
  CHECK(alto_cpu_quantize_fp8_(&blk, &v, &q) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "does not match") != NULL);
  CHECK(alto_cpu_dequantize_fp8_(&blk, &q, ALTO_ELEM_E5M2, buf) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_cpu_quantize_fp8_(&blk, NULL, &q) == ALTO_ERR_INVALID_ARG);
  t_free(&q);
}

int main(void) {
  rng.s = alto_test_seed();
  table_init(&e4m3, 3, 7, 0x7E);
  table_init(&e5m2, 2, 15, 0x7B);
  CHECK(e4m3.max == 448.0 && e5m2.max == 57344.0 && e4m3.mag[1] == 0x1p-9);
  RUN(test_fp8_casts);
  RUN(test_fp8_goldens);
  RUN(test_fp8_block_reference);
  RUN(test_fp8_block_special);
  RUN(test_fp8_threads);
  RUN(test_fp8_double_quant);
  RUN(test_fp8_rowwise_tensorwise_reference);
  RUN(test_fp8_nonfinite);
  RUN(test_fp8_bad_inputs);
  return alto_test_finish();
}
