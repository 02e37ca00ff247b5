/* CPU MX / NVFP4 quantizers (runtime/cpu/quant_mx.c, quant.c) against NUMERICS.md 1-3, 6:
 * worked examples, an independent slow re-implementation of MXFP4, the packing layout, the
 * fixed-point and error-bound properties, 2-D block transposition, stochastic rounding, NVFP4's
 * two-level scales, and the error messages for bad inputs. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/quant_test_util.h"

static uint64_t g_seed;

static alto_quant_spec spec_of(alto_scheme s, int axis, bool b2d, alto_scale_rule rule) {
  alto_quant_spec sp = alto_quant_spec_default(s);
  sp.axis = axis;
  sp.block2d = b2d;
  sp.rule = rule;
  return sp;
}

static bool quant_ok(const alto_quant_spec *sp, const alto_tensor_view *v, alto_quantized *q) {
  alto_status st = alto_cpu_quantize(sp, v, q);
  CHECKF(st == ALTO_OK, "quantize: %s", alto_last_error());
  return st == ALTO_OK;
}

/* ---- the independent MXFP4/MXFP8 reference, from the words of NUMERICS.md 2.1-2.2 ---------- */
/* E8M0 scale from a block amax (|.| of the widened input values; NaN-sticky). */
static int ref_scale(float amax_f, alto_scale_rule rule, alto_elem elem) {
  if (isnan(amax_f))
    return 0xFF;
  double a = fabs((double)amax_f);
  if (isinf(a))
    a = FLT_MAX;
  int emax = elem == ALTO_ELEM_E2M1 ? 2 : (elem == ALTO_ELEM_E4M3 ? 8 : 15);
  int mbits = elem == ALTO_ELEM_E2M1 ? 1 : (elem == ALTO_ELEM_E4M3 ? 3 : 2);
  bool normal = a >= FLT_MIN;
  int e = -127;
  double sig = 0.0;
  if (normal) {
    int ex;
    sig = 2.0 * frexp(a, &ex);
    e = ex - 1;
  }
  int s;
  switch (rule) {
  case ALTO_SCALE_EVEN:
    s = e + 127 + ((normal && sig >= 2.0 - ldexp(1.0, -(mbits + 1))) ? 1 : 0) - emax;
    break;
  case ALTO_SCALE_FLOOR:
    s = e + 127 - emax;
    break;
  case ALTO_SCALE_UOS:
    if (a == 0.0)
      return 128;
    if (!normal)
      return 1;
    s = e - 2 + (sig > 1.8125 ? 1 : 0) + 127;
    break;
  default: /* rceil */
    if (!normal)
      return 1;
    s = e - emax + (sig > (elem == ALTO_ELEM_E2M1 ? 1.5 : 1.75) ? 1 : 0) + 127;
    if (s > 254)
      s = 254;
    break;
  }
  return s < 1 ? 1 : s;
}

/* E2M1 code of q: nearest grid point, ties to the even code, >= 6 -> 6, sign kept. */
static uint8_t ref_e2m1(double q) {
  static const double grid[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  uint8_t sign = signbit(q) ? 8 : 0;
  double a = fabs(q);
  if (a >= 6.0)
    return sign | 7;
  int best = 0;
  for (int k = 1; k < 8; k++) {
    double d = fabs(a - grid[k]), db = fabs(a - grid[best]);
    if (d < db || (d == db && k % 2 == 0))
      best = k;
  }
  return (uint8_t)(sign | best);
}

/* ---- golden values ----------------------------------------------------------------------- */
/* Quantizes one 32-element block (given head, zeros after) as mxfp4 with `rule`. */
static void quant_block(alto_scheme sch, alto_scale_rule rule, alto_elem dtype, const float *head,
                        int n, alto_quantized *q, float *dq) {
  float x[32] = {0};
  memcpy(x, head, (size_t)n * sizeof(float));
  uint16_t *h = qt_to_bf16(x, 32);
  alto_tensor_view v = qt_view(dtype == ALTO_ELEM_BF16 ? (void *)h : (void *)x, dtype, 0, 1, 32);
  alto_quant_spec sp = spec_of(sch, -1, false, rule);
  if (quant_ok(&sp, &v, q) && dq) {
    float *y = qt_dequant(&sp, q, ALTO_ELEM_F32, 32);
    memcpy(dq, y, sizeof(float) * 32);
    free(y);
  }
  free(h);
}

static uint8_t nib(const alto_quantized *q, int i) {
  return (uint8_t)((q->codes[i / 2] >> ((i & 1) * 4)) & 0xF);
}

static void test_golden(void) {
  for (int d = 0; d < 2; d++) {
    alto_elem dt = d ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    alto_quantized q;
    const float a[] = {5.0f, 7.5f, 0.738f, -1.25f, -0.30f};
    const uint8_t ac[] = {0x4, 0x6, 0x1, 0x9, 0x8};
    quant_block(ALTO_SCHEME_MXFP4, ALTO_SCALE_EVEN, dt, a, 5, &q, NULL);
    CHECK(((uint8_t *)q.scales)[0] == 128);
    for (int i = 0; i < 5; i++)
      CHECKF(nib(&q, i) == ac[i], "amax 7.5 elem %d: code 0x%x", i, nib(&q, i));
    for (int i = 5; i < 32; i++)
      CHECK(nib(&q, i) == 0);
    alto_quantized_free(&q);
    const float b[] = {5.0f, 2.5f, -1.25f, 0.898f, -0.30f};
    const uint8_t bc[] = {0x6, 0x4, 0xA, 0x2, 0x9};
    quant_block(ALTO_SCHEME_MXFP4, ALTO_SCALE_EVEN, dt, b, 5, &q, NULL);
    CHECK(((uint8_t *)q.scales)[0] == 127);
    for (int i = 0; i < 5; i++)
      CHECKF(nib(&q, i) == bc[i], "amax 5 elem %d: code 0x%x", i, nib(&q, i));
    alto_quantized_free(&q);
    /* EVEN vs UOS: the dequantized amax */
    const float amax[] = {3.6f, 7.0f, 6.5f}, even[] = {4.0f, 8.0f, 6.0f},
                uos[] = {3.0f, 6.0f, 6.0f};
    for (int i = 0; i < 3; i++) {
      float y[32];
      quant_block(ALTO_SCHEME_MXFP4, ALTO_SCALE_EVEN, dt, &amax[i], 1, &q, y);
      CHECKF(y[0] == even[i], "even amax %g -> %g", amax[i], y[0]);
      alto_quantized_free(&q);
      quant_block(ALTO_SCHEME_MXFP4, ALTO_SCALE_UOS, dt, &amax[i], 1, &q, y);
      CHECKF(y[0] == uos[i], "uos amax %g -> %g", amax[i], y[0]);
      alto_quantized_free(&q);
    }
    const float u = 116.5f;
    quant_block(ALTO_SCHEME_MXFP4, ALTO_SCALE_UOS, dt, &u, 1, &q, NULL);
    CHECKF(((uint8_t *)q.scales)[0] == 132, "uos 116.5: s = %d", ((uint8_t *)q.scales)[0]);
    alto_quantized_free(&q);
    /* Inf block: scale as for the largest finite value; Inf -> 6 (code 7), 3e38 -> 4 (code 6) */
    const float inf[] = {INFINITY, 3e38f, -INFINITY};
    const alto_scale_rule rules[] = {ALTO_SCALE_EVEN, ALTO_SCALE_FLOOR, ALTO_SCALE_UOS,
                                     ALTO_SCALE_RCEIL};
    const int want[] = {253, 252, 253, 253};
    for (int r = 0; r < 4; r++) {
      float y[32];
      quant_block(ALTO_SCHEME_MXFP4, rules[r], dt, inf, 3, &q, y);
      CHECKF(((uint8_t *)q.scales)[0] == want[r], "Inf block rule %d: s = %d", r,
             ((uint8_t *)q.scales)[0]);
      if (r == 0) {
        CHECKF(nib(&q, 0) == 0x7 && nib(&q, 1) == 0x6 && nib(&q, 2) == 0xF,
               "Inf block codes %x %x %x", nib(&q, 0), nib(&q, 1), nib(&q, 2));
        CHECK(isinf(y[0]) && y[0] > 0 && isinf(y[2]) && y[2] < 0); /* 6 * 2^126 overflows */
        CHECK(y[3] == 0.0f);
      }
      alto_quantized_free(&q);
    }
    /* NaN block: scale 0xFF, codes 0, dequant NaN */
    const float nan[] = {1.0f, NAN, -2.0f, 3.0f};
    float y[32];
    quant_block(ALTO_SCHEME_MXFP4, ALTO_SCALE_EVEN, dt, nan, 4, &q, y);
    CHECK(((uint8_t *)q.scales)[0] == 0xFF);
    bool zero = true, allnan = true;
    for (int i = 0; i < 16; i++)
      zero = zero && q.codes[i] == 0;
    for (int i = 0; i < 32; i++)
      allnan = allnan && isnan(y[i]);
    CHECK(zero && allnan);
    alto_quantized_free(&q);
    /* MXFP8 Inf blocks */
    const alto_scheme s8[] = {ALTO_SCHEME_MXFP8_E4M3, ALTO_SCHEME_MXFP8_E5M2};
    const int w8[2][2] = {{247, 246}, {240, 239}};
    const uint8_t sat[] = {0x7E, 0x7B};
    for (int k = 0; k < 2; k++)
      for (int r = 0; r < 2; r++) {
        quant_block(s8[k], rules[r], dt, inf, 3, &q, NULL);
        CHECKF(((uint8_t *)q.scales)[0] == w8[k][r], "mxfp8 %d rule %d Inf block: s = %d", k, r,
               ((uint8_t *)q.scales)[0]);
        CHECK(q.codes[0] == sat[k] && q.codes[2] == (sat[k] | 0x80));
        alto_quantized_free(&q);
      }
  }
}

/* ---- random data with every special case ------------------------------------------------- */
/* randn + outliers; per 32x32 tile: zeros (tile 0), exact ties (tile 1), else a random 2^k
 * (k in [-140, 125]: subnormal, zero-clamped and Inf-producing blocks); plus NaN and +-Inf. */
static float *make_data(alto_test_rng *rng, int64_t E, int64_t R, int64_t C) {
  int64_t n = E * R * C;
  float *x = malloc((size_t)n * sizeof *x);
  alto_test_fill_outliers(rng, x, n, 1.0f);
  int64_t tr = R / 32, tc = C / 32;
  for (int64_t e = 0; e < E; e++)
    for (int64_t t = 0; t < tr * tc; t++) {
      int mode = (e == 0 && t < 2) ? (int)t : 2;
      int k = (int)(alto_test_u32(rng) % 266) - 140;
      if (mode == 1)
        k = (int)(alto_test_u32(rng) % 20) - 10;
      for (int64_t r = 0; r < 32; r++)
        for (int64_t c = 0; c < 32; c++) {
          float *p = &x[(e * R + (t / tc) * 32 + r) * C + (t % tc) * 32 + c];
          if (mode == 0)
            *p = 0.0f;
          else if (mode == 1)
            *p = ldexpf((r == c ? 24.0f : (float)(alto_test_u32(rng) % 25)) * 0.25f *
                            (alto_test_u32(rng) & 1 ? -1.0f : 1.0f),
                        k);
          else
            *p = ldexpf(*p, k);
        }
    }
  x[alto_test_u64(rng) % n] = NAN;
  x[alto_test_u64(rng) % n] = INFINITY;
  x[alto_test_u64(rng) % n] = -INFINITY;
  return x;
}

/* Compares alto_cpu_quantize with the slow reference on one configuration. */
static void compare_ref(const float *x, alto_elem dtype, int64_t E, int64_t R, int64_t C,
                        const alto_quant_spec *sp) {
  int64_t n = (E ? E : 1) * R * C, EE = E ? E : 1;
  uint16_t *h = qt_to_bf16(x, n);
  alto_tensor_view v = qt_view(dtype == ALTO_ELEM_BF16 ? (void *)h : (void *)x, dtype, E, R, C);
  alto_quantized q;
  if (!quant_ok(sp, &v, &q)) {
    free(h);
    return;
  }
  alto_elem elem = alto_scheme_elem(sp->scheme);
  int B = 32;
  int64_t br = (sp->block2d || sp->axis == -2) ? B : 1,
          bc = (sp->block2d || sp->axis == -1) ? B : 1;
  CHECK(q.layout.block_r == br && q.layout.block_c == bc);
  int64_t bad_s = 0, bad_c = 0, first = -1;
  for (int64_t e = 0; e < EE; e++)
    for (int64_t r0 = 0; r0 < R; r0 += br)
      for (int64_t c0 = 0; c0 < C; c0 += bc) {
        float amax = 0.0f;
        bool has_nan = false;
        for (int64_t r = r0; r < r0 + br; r++)
          for (int64_t c = c0; c < c0 + bc; c++) {
            float val = alto_tensor_get(&v, (e * R + r) * C + c);
            has_nan = has_nan || isnan(val);
            if (fabsf(val) > amax)
              amax = fabsf(val);
          }
        int s = ref_scale(has_nan ? NAN : amax, sp->rule, elem);
        if (qt_scale(&q, sp, e, r0, c0, R, C) != s)
          bad_s++;
        for (int64_t r = r0; r < r0 + br; r++)
          for (int64_t c = c0; c < c0 + bc; c++) {
            float val = alto_tensor_get(&v, (e * R + r) * C + c);
            uint8_t want;
            if (s == 0xFF)
              want = 0;
            else if (elem == ALTO_ELEM_E2M1)
              want = ref_e2m1(ldexp((double)val, 127 - s));
            else
              want = alto_elem_encode(elem, (float)ldexp((double)val, 127 - s));
            if (qt_code(&q, sp, e, r, c, R, C) != want) {
              if (first < 0)
                first = (e * R + r) * C + c;
              bad_c++;
            }
          }
      }
  CHECKF(bad_s == 0 && bad_c == 0,
         "%s rule %s axis %d %s %s E=%lld: %lld scales, %lld codes differ (first at %lld: x=%a)",
         alto_scheme_name(sp->scheme), alto_scale_rule_name(sp->rule), sp->axis,
         sp->block2d ? "2-D" : "1-D", alto_elem_name(dtype), (long long)E, (long long)bad_s,
         (long long)bad_c, (long long)first, first >= 0 ? alto_tensor_get(&v, first) : 0.0);
  /* dequantization is exact: value * 2^(s-127) (Inf past the fp32 range, NaN for NaN blocks) */
  float *y = qt_dequant(sp, &q, ALTO_ELEM_F32, n);
  int64_t bad_y = 0;
  for (int64_t e = 0; e < EE; e++)
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) {
        int s = qt_scale(&q, sp, e, r, c, R, C);
        uint8_t code = qt_code(&q, sp, e, r, c, R, C);
        float want = s == 0xFF ? NAN : (float)ldexp((double)alto_elem_decode(elem, code), s - 127);
        float got = y[(e * R + r) * C + c];
        if (!(got == want || (isnan(got) && isnan(want))))
          bad_y++;
      }
  CHECKF(bad_y == 0, "%lld dequantized values differ", (long long)bad_y);
  free(y);
  alto_quantized_free(&q);
  free(h);
}

static void test_slow_reference(void) {
  alto_test_rng rng = {g_seed ^ 0x51};
  const int64_t shapes[2][3] = {{3, 64, 96}, {0, 96, 64}};
  const alto_scheme schemes[] = {ALTO_SCHEME_MXFP4, ALTO_SCHEME_MXFP8_E4M3, ALTO_SCHEME_MXFP8_E5M2};
  for (int sh = 0; sh < 2; sh++) {
    int64_t E = shapes[sh][0], R = shapes[sh][1], C = shapes[sh][2];
    float *x = make_data(&rng, E ? E : 1, R, C);
    for (int si = 0; si < 3; si++)
      for (int rule = 0; rule < ALTO_SCALE_RULE_COUNT; rule++) {
        if (si > 0 && rule == ALTO_SCALE_UOS)
          continue;
        for (int d = 0; d < 2; d++)
          for (int geo = 0; geo < 4; geo++) {
            alto_quant_spec sp =
                spec_of(schemes[si], geo & 1 ? -2 : -1, geo >= 2, (alto_scale_rule)rule);
            compare_ref(x, d ? ALTO_ELEM_BF16 : ALTO_ELEM_F32, E, R, C, &sp);
          }
      }
    free(x);
  }
}

/* ---- packing and scale layout ------------------------------------------------------------ */
static void test_packing(void) {
  static const float grid[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  const int64_t E = 2, R = 64, C = 64;
  float *x = malloc(sizeof(float) * E * R * C);
  for (int geo = 0; geo < 3; geo++) { /* axis -1, axis -2, 2-D (packed along axis -2) */
    alto_quant_spec sp = spec_of(ALTO_SCHEME_MXFP4, geo == 0 ? -1 : -2, geo == 2, ALTO_SCALE_EVEN);
    /* code k = (7r + 3c) mod 16: every 32-run along either axis contains 7 (|x| = 6), so the
     * block's scale is exactly its power of two g = f(block) */
    for (int64_t e = 0; e < E; e++)
      for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) {
          int k = (int)((7 * r + 3 * c) % 16);
          int64_t bi = geo == 0 ? r : r / 32, bj = geo == 1 ? c : c / 32;
          int g = (int)((bi * 5 + bj * 3 + e) % 11) - 5;
          x[(e * R + r) * C + c] = ldexpf(k & 8 ? -grid[k & 7] : grid[k & 7], g);
        }
    alto_tensor_view v = qt_view(x, ALTO_ELEM_F32, E, R, C);
    alto_quantized q;
    if (!quant_ok(&sp, &v, &q))
      continue;
    int64_t bad = 0;
    for (int64_t e = 0; e < E; e++)
      for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) {
          int k = (int)((7 * r + 3 * c) % 16);
          uint8_t byte, code;
          if (geo == 0) { /* [E, R, C/2]: elements [r, 2j] low, [r, 2j+1] high */
            byte = q.codes[(e * R + r) * (C / 2) + c / 2];
            code = (uint8_t)(c % 2 ? byte >> 4 : byte & 0xF);
          } else { /* [E, R/2, C]: byte [i, j] = elements [2i, j] low, [2i+1, j] high */
            byte = q.codes[(e * (R / 2) + r / 2) * C + c];
            code = (uint8_t)(r % 2 ? byte >> 4 : byte & 0xF);
          }
          int64_t bi = geo == 0 ? r : r / 32, bj = geo == 1 ? c : c / 32;
          int g = (int)((bi * 5 + bj * 3 + e) % 11) - 5;
          int64_t sd1 = geo == 0 ? R : R / 32, sd2 = geo == 1 ? C : C / 32;
          uint8_t s = ((uint8_t *)q.scales)[(e * sd1 + bi) * sd2 + bj];
          if (code != k || s != 127 + g)
            bad++;
        }
    CHECKF(bad == 0, "packing geometry %d: %lld elements misplaced", geo, (long long)bad);
    CHECK(q.layout.codes_dims[0] == E && q.layout.codes_bytes == E * R * C / 2);
    CHECK(geo == 0 ? q.layout.codes_dims[2] == C / 2 : q.layout.codes_dims[1] == R / 2);
    alto_quantized_free(&q);
  }
  free(x);
}

/* ---- properties: fixed point, error bound, 2-D transposition ----------------------------- */
typedef struct {
  alto_scheme scheme;
  alto_scale_rule rule;
  bool two_level;
} scheme_case;
static const scheme_case k_cases[] = {
    {ALTO_SCHEME_MXFP4, ALTO_SCALE_EVEN, false},
    {ALTO_SCHEME_MXFP4, ALTO_SCALE_FLOOR, false},
    {ALTO_SCHEME_MXFP4, ALTO_SCALE_UOS, false},
    {ALTO_SCHEME_MXFP8_E4M3, ALTO_SCALE_EVEN, false},
    {ALTO_SCHEME_MXFP8_E4M3, ALTO_SCALE_FLOOR, false},
    {ALTO_SCHEME_MXFP8_E5M2, ALTO_SCALE_EVEN, false},
    {ALTO_SCHEME_NVFP4, ALTO_SCALE_EVEN, false},
    {ALTO_SCHEME_NVFP4, ALTO_SCALE_EVEN, true},
};
#define N_CASES (int)(sizeof k_cases / sizeof k_cases[0])

/* Half the width of the grid interval containing |q| (element units). */
static double half_step(alto_elem elem, double q) {
  double a = fabs(q);
  if (elem == ALTO_ELEM_E2M1)
    return a < 2 ? 0.25 : (a < 4 ? 0.5 : 1.0);
  int mb = elem == ALTO_ELEM_E4M3 ? 3 : 2, emin = elem == ALTO_ELEM_E4M3 ? -6 : -14;
  int ex;
  frexp(a, &ex);
  int e = a < ldexp(1.0, emin) ? emin : ex - 1;
  return ldexp(1.0, e - mb - 1);
}

static void test_properties(void) {
  alto_test_rng rng = {g_seed ^ 0x9e};
  const int64_t E = 2, R = 64, C = 96, n = E * R * C;
  float *x = malloc(sizeof(float) * n);
  alto_test_fill_outliers(&rng, x, n, 1.0f);
  for (int ci = 0; ci < N_CASES; ci++)
    for (int geo = 0; geo < 4; geo++)
      for (int d = 0; d < 2; d++) {
        const scheme_case *k = &k_cases[ci];
        alto_quant_spec sp = spec_of(k->scheme, geo & 1 ? -2 : -1, geo >= 2, k->rule);
        sp.two_level = k->two_level;
        alto_tensor_view v = qt_view(x, ALTO_ELEM_F32, E, R, C);
        alto_quantized q, q2;
        if (!quant_ok(&sp, &v, &q))
          continue;
        /* fixed point: quantize(dequantize(q)) == q (bf16 output: MX only; NVFP4's fp32
         * products are not bf16 values) */
        alto_elem dt = d ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
        if (!(d && k->scheme == ALTO_SCHEME_NVFP4)) {
          float *y = qt_dequant(&sp, &q, dt, n);
          alto_tensor_view v2 = qt_view(y, ALTO_ELEM_F32, E, R, C);
          if (quant_ok(&sp, &v2, &q2)) {
            bool same = memcmp(q.codes, q2.codes, (size_t)q.layout.codes_bytes) == 0 &&
                        memcmp(q.scales, q2.scales, (size_t)q.layout.scale_count) == 0 &&
                        fabsf(q.outer - q2.outer) <= 1e-6f * q.outer;
            CHECKF(same, "fixed point: %s rule %s geo %d %s", alto_scheme_name(k->scheme),
                   alto_scale_rule_name(k->rule), geo, alto_elem_name(dt));
            alto_quantized_free(&q2);
          }
          free(y);
        }
        /* |x - dq(x)| <= half a grid step times the block scale (non-saturated elements) */
        if (!d) {
          float *y = qt_dequant(&sp, &q, ALTO_ELEM_F32, n);
          alto_elem elem = alto_scheme_elem(k->scheme);
          int64_t bad = 0;
          for (int64_t e = 0; e < E; e++)
            for (int64_t r = 0; r < R; r++)
              for (int64_t c = 0; c < C; c++) {
                int64_t i = (e * R + r) * C + c;
                uint8_t s = qt_scale(&q, &sp, e, r, c, R, C);
                double scale = k->scheme == ALTO_SCHEME_NVFP4
                                   ? (double)(alto_e4m3_to_f32(s) * q.outer)
                                   : ldexp(1.0, s - 127);
                double qv = x[i] / scale;
                if (fabs(qv) > alto_elem_max(elem))
                  continue;
                double err = fabs((double)x[i] - y[i]);
                if (err > half_step(elem, qv) * scale * (1 + 1e-6) + 1e-37)
                  bad++;
              }
          CHECKF(bad == 0, "error bound: %s geo %d: %lld elements", alto_scheme_name(k->scheme),
                 geo, (long long)bad);
          free(y);
        }
        alto_quantized_free(&q);
      }
  free(x);
}

/* X with 2-D blocks and X^T with 2-D blocks: the same codes (transposed) and transposed scales. */
static void test_transpose_2d(void) {
  alto_test_rng rng = {g_seed ^ 0x7a};
  const int64_t R = 64, C = 96;
  float *x = malloc(sizeof(float) * R * C), *xt = malloc(sizeof(float) * R * C);
  alto_test_fill_outliers(&rng, x, R * C, 1.0f);
  for (int64_t r = 0; r < R; r++)
    for (int64_t c = 0; c < C; c++)
      xt[c * R + r] = x[r * C + c];
  const alto_scheme schemes[] = {ALTO_SCHEME_MXFP4, ALTO_SCHEME_MXFP8_E4M3, ALTO_SCHEME_NVFP4};
  for (int si = 0; si < 3; si++)
    for (int d = 0; d < 2; d++)
      for (int ax = 0; ax < 2; ax++) {
        alto_elem dt = d ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
        uint16_t *h = qt_to_bf16(x, R * C), *ht = qt_to_bf16(xt, R * C);
        alto_tensor_view v = qt_view(d ? (void *)h : (void *)x, dt, 0, R, C);
        alto_tensor_view vt = qt_view(d ? (void *)ht : (void *)xt, dt, 0, C, R);
        alto_quant_spec sp = spec_of(schemes[si], ax ? -2 : -1, true, ALTO_SCALE_EVEN);
        alto_quant_spec spt = spec_of(schemes[si], ax ? -1 : -2, true, ALTO_SCALE_EVEN);
        sp.two_level = spt.two_level = true;
        alto_quantized q, qt;
        if (quant_ok(&sp, &v, &q)) {
          if (quant_ok(&spt, &vt, &qt)) {
            int64_t bad = 0;
            for (int64_t r = 0; r < R; r++)
              for (int64_t c = 0; c < C; c++)
                if (qt_code(&q, &sp, 0, r, c, R, C) != qt_code(&qt, &spt, 0, c, r, C, R) ||
                    qt_scale(&q, &sp, 0, r, c, R, C) != qt_scale(&qt, &spt, 0, c, r, C, R))
                  bad++;
            CHECKF(bad == 0 && q.outer == qt.outer, "transpose %s axis %d %s: %lld differ",
                   alto_scheme_name(schemes[si]), sp.axis, alto_elem_name(dt), (long long)bad);
            alto_quantized_free(&qt);
          }
          alto_quantized_free(&q);
        }
        free(h);
        free(ht);
      }
  free(x);
  free(xt);
}

/* ---- stochastic rounding ------------------------------------------------------------------- */
static void set_threads(const char *n) {
  if (n)
    setenv("ALTO_NUM_THREADS", n, 1);
  else
    unsetenv("ALTO_NUM_THREADS");
}

static void test_sr_unbiased(void) {
  alto_test_rng rng = {g_seed ^ 0x5c};
  const int64_t R = 2048, C = 1024, n = R * C; /* ~10^6 draws of each value */
  const float lo_v = 0.3f, hi_v = -4.7f;       /* between 0 and 0.5, and between -4 and -6 */
  float *x = malloc(sizeof(float) * n);
  for (int64_t i = 0; i < n; i++)
    x[i] = i % 32 == 0 ? 6.0f : (i % 2 ? lo_v : hi_v); /* 6 makes every scale 127 */
  alto_quant_spec sp = spec_of(ALTO_SCHEME_MXFP4, -1, false, ALTO_SCALE_EVEN);
  sp.sr = true;
  sp.seed = alto_test_u64(&rng);
  sp.stream = alto_stream_id(3, 1, alto_test_u64(&rng) % 100000, ALTO_RNG_SR);
  alto_tensor_view v = qt_view(x, ALTO_ELEM_F32, 0, R, C);
  alto_quantized q;
  if (!quant_ok(&sp, &v, &q)) {
    free(x);
    return;
  }
  float *y = qt_dequant(&sp, &q, ALTO_ELEM_F32, n);
  double sum_lo = 0, sum_hi = 0;
  int64_t n_lo = 0, n_hi = 0, bad = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i % 32 == 0)
      bad += y[i] != 6.0f;
    else if (i % 2) {
      bad += !(y[i] == 0.0f || y[i] == 0.5f);
      sum_lo += y[i], n_lo++;
    } else {
      bad += !(y[i] == -4.0f || y[i] == -6.0f);
      sum_hi += y[i], n_hi++;
    }
  }
  CHECKF(bad == 0, "%lld SR results are not a neighbouring grid point", (long long)bad);
  double p_lo = 0.3 / 0.5, p_hi = 0.7 / 2.0; /* P(round away from zero) */
  double sd_lo = 0.5 * sqrt(p_lo * (1 - p_lo) / n_lo), sd_hi = 2.0 * sqrt(p_hi * (1 - p_hi) / n_hi);
  CHECKF(fabs(sum_lo / n_lo - lo_v) < 4 * sd_lo, "SR mean %.6f vs %.6f (sd %.2g)", sum_lo / n_lo,
         lo_v, sd_lo);
  CHECKF(fabs(sum_hi / n_hi - hi_v) < 4 * sd_hi, "SR mean %.6f vs %.6f (sd %.2g)", sum_hi / n_hi,
         hi_v, sd_hi);
  free(y);
  /* determinism: same seed/stream -> same bits; another stream or seed -> different bits */
  alto_quantized q2;
  if (quant_ok(&sp, &v, &q2)) {
    CHECK(memcmp(q.codes, q2.codes, (size_t)q.layout.codes_bytes) == 0);
    alto_quantized_free(&q2);
  }
  sp.stream ^= 1;
  if (quant_ok(&sp, &v, &q2)) {
    CHECK(memcmp(q.codes, q2.codes, (size_t)q.layout.codes_bytes) != 0);
    alto_quantized_free(&q2);
  }
  sp.stream ^= 1;
  sp.seed += 1;
  if (quant_ok(&sp, &v, &q2)) {
    CHECK(memcmp(q.codes, q2.codes, (size_t)q.layout.codes_bytes) != 0);
    alto_quantized_free(&q2);
  }
  alto_quantized_free(&q);
  free(x);
}

/* Element i's random word is Philox(seed, stream, i) with i its row-major index, and the result
 * does not depend on the thread count. */
static void test_sr_index_threads(void) {
  alto_test_rng rng = {g_seed ^ 0x3d};
  const int64_t E = 3, R = 64, C = 96, n = E * R * C;
  float *x = malloc(sizeof(float) * n);
  alto_test_fill_outliers(&rng, x, n, 1.0f);
  uint16_t *h = qt_to_bf16(x, n);
  const char *saved = getenv("ALTO_NUM_THREADS");
  char *saved_copy = saved ? strdup(saved) : NULL;
  for (int si = 0; si < 4; si++) /* scheme (bit 0) x input dtype (bit 1) */
    for (int geo = 0; geo < 3; geo++) {
      alto_quant_spec sp = spec_of(si & 1 ? ALTO_SCHEME_NVFP4 : ALTO_SCHEME_MXFP4,
                                   geo == 0 ? -1 : -2, geo == 2, ALTO_SCALE_EVEN);
      sp.sr = true;
      sp.two_level = true;
      sp.seed = alto_test_u64(&rng);
      sp.stream = alto_test_u64(&rng);
      bool bf = si >> 1;
      alto_tensor_view v =
          qt_view(bf ? (void *)h : (void *)x, bf ? ALTO_ELEM_BF16 : ALTO_ELEM_F32, E, R, C);
      alto_quantized q1, q4;
      set_threads("1");
      bool ok1 = quant_ok(&sp, &v, &q1);
      set_threads("4");
      bool ok4 = quant_ok(&sp, &v, &q4);
      set_threads(saved_copy);
      if (ok1 && ok4) {
        CHECK(memcmp(q1.codes, q4.codes, (size_t)q1.layout.codes_bytes) == 0);
        CHECK(memcmp(q1.scales, q4.scales, (size_t)q1.layout.scale_count) == 0);
        int64_t bad = 0;
        for (int64_t e = 0; e < E; e++)
          for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) {
              int64_t i = (e * R + r) * C + c;
              uint8_t s = qt_scale(&q1, &sp, e, r, c, R, C);
              alto_u32 u = alto_philox_u32(sp.seed, sp.stream, (alto_u64)i);
              float xi = bf ? alto_bf16_to_f32(h[i]) : x[i];
              uint8_t want =
                  si & 1 ? alto_nvfp4_encode_sr(xi, s, q1.outer, u) : alto_mx_encode_sr(xi, s, u);
              bad += qt_code(&q1, &sp, e, r, c, R, C) != want;
            }
        CHECKF(bad == 0, "SR %s geo %d: %lld codes not from Philox(i)", alto_scheme_name(sp.scheme),
               geo, (long long)bad);
      }
      if (ok1)
        alto_quantized_free(&q1);
      if (ok4)
        alto_quantized_free(&q4);
    }
  free(saved_copy);
  free(h);
  free(x);
}

/* ---- NVFP4 ------------------------------------------------------------------------------------
 */
static void test_nvfp4(void) {
  alto_test_rng rng = {g_seed ^ 0x4f};
  const int64_t E = 2, R = 32, C = 64, n = E * R * C;
  float *x = malloc(sizeof(float) * n);
  alto_test_fill_outliers(&rng, x, n, 1.0f);
  for (int64_t c = 0; c < 16; c++) {
    x[(1 * R + 5) * C + 16 + c] = 1e-6f * (c + 1);    /* inner clamps at 2^-9 (outer 1) */
    x[(1 * R + 6) * C + 32 + c] = 1e5f * (c % 3 - 1); /* inner clamps at 448 (outer 1) */
  }
  for (int tl = 0; tl < 2; tl++)
    for (int geo = 0; geo < 3; geo++) {
      alto_quant_spec sp =
          spec_of(ALTO_SCHEME_NVFP4, geo == 1 ? -2 : -1, geo == 2, ALTO_SCALE_EVEN);
      sp.two_level = tl;
      alto_tensor_view v = qt_view(x, ALTO_ELEM_F32, E, R, C);
      alto_quantized q;
      if (!quant_ok(&sp, &v, &q))
        continue;
      float tmax = 0;
      for (int64_t i = 0; i < n; i++)
        tmax = fmaxf(tmax, fabsf(x[i]));
      float outer = tl ? fmaxf(tmax / 2688.0f, 1e-30f) : 1.0f;
      CHECKF(q.outer == outer, "outer %g, expected %g", q.outer, outer);
      int64_t br = geo >= 1 ? 16 : 1, bc = geo != 1 ? 16 : 1, bad = 0;
      for (int64_t e = 0; e < E; e++)
        for (int64_t r0 = 0; r0 < R; r0 += br)
          for (int64_t c0 = 0; c0 < C; c0 += bc) {
            float amax = 0;
            for (int64_t r = r0; r < r0 + br; r++)
              for (int64_t c = c0; c < c0 + bc; c++)
                amax = fmaxf(amax, fabsf(x[(e * R + r) * C + c]));
            float t = amax / outer / 6.0f;
            t = t < 0x1p-9f ? 0x1p-9f : (t > 448.0f ? 448.0f : t);
            uint8_t inner = alto_f32_to_e4m3(t);
            bad += qt_scale(&q, &sp, e, r0, c0, R, C) != inner;
            float div = alto_e4m3_to_f32(inner) * outer;
            for (int64_t r = r0; r < r0 + br; r++)
              for (int64_t c = c0; c < c0 + bc; c++)
                bad += qt_code(&q, &sp, e, r, c, R, C) != ref_e2m1(x[(e * R + r) * C + c] / div);
          }
      CHECKF(bad == 0, "nvfp4 two_level %d geo %d: %lld scales/codes differ", tl, geo,
             (long long)bad);
      if (!tl && geo == 0) {
        CHECK(qt_scale(&q, &sp, 1, 5, 16, R, C) == 0x01); /* 2^-9 */
        CHECK(qt_scale(&q, &sp, 1, 6, 32, R, C) == 0x7E); /* 448 */
      }
      alto_quantized_free(&q);
    }
  /* a NaN block: inner 0x7F, codes 0, dequantized NaN; the other blocks stay finite */
  x[7 * C + 20] = NAN;
  alto_quant_spec sp = spec_of(ALTO_SCHEME_NVFP4, -1, false, ALTO_SCALE_EVEN);
  alto_tensor_view v = qt_view(x, ALTO_ELEM_F32, E, R, C);
  alto_quantized q;
  if (quant_ok(&sp, &v, &q)) {
    CHECK(qt_scale(&q, &sp, 0, 7, 20, R, C) == 0x7F);
    float *y = qt_dequant(&sp, &q, ALTO_ELEM_BF16, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
      bool in_block = i / C == 7 && (i % C) / 16 == 1;
      bad +=
          in_block ? !(isnan(y[i]) && qt_code(&q, &sp, 0, 7, i % C, R, C) == 0) : !isfinite(y[i]);
    }
    CHECKF(bad == 0, "nvfp4 NaN block: %lld wrong", (long long)bad);
    free(y);
    alto_quantized_free(&q);
  }
  free(x);
}

/* ---- bad input ---------------------------------------------------------------------------- */
static void expect_error(alto_quant_spec sp, alto_tensor_view v, const char *sub) {
  alto_quantized q;
  memset(&q, 0x11, sizeof q);
  alto_error_clear();
  alto_status st = alto_cpu_quantize(&sp, &v, &q);
  CHECKF(st == ALTO_ERR_INVALID_ARG && qt_contains(alto_last_error(), sub),
         "expected an error containing '%s', got %d '%s'", sub, (int)st, alto_last_error());
  CHECK(q.codes == NULL && q.scales == NULL);
  alto_quant_layout l;
  CHECK(alto_quant_layout_of(&sp, &v, &l) == ALTO_ERR_INVALID_ARG);
}

static void test_bad_input(void) {
  static float buf[4 * 128 * 128];
  alto_quant_spec sp = spec_of(ALTO_SCHEME_MXFP4, -1, false, ALTO_SCALE_EVEN);
  expect_error(sp, qt_view(buf, ALTO_ELEM_F32, 0, 4, 100),
               "mxfp4 with 1x32 blocks along axis -1 needs the last dim (100) to be a multiple of "
               "32; pad it");
  sp.axis = -2;
  expect_error(sp, qt_view(buf, ALTO_ELEM_F32, 0, 48, 64), "row dim (48) to be a multiple of 32");
  sp.axis = -1;
  sp.block2d = true;
  expect_error(sp, qt_view(buf, ALTO_ELEM_F32, 2, 40, 64), "32x32 blocks needs the row dim (40)");
  sp.block2d = false;
  sp.axis = 0;
  expect_error(sp, qt_view(buf, ALTO_ELEM_F32, 0, 32, 32), "axis 0");
  sp.axis = -1;
  alto_tensor_view v4 = qt_view(buf, ALTO_ELEM_F32, 2, 32, 32);
  v4.ndim = 4;
  expect_error(sp, v4, "ndim 4");
  expect_error(sp, qt_view(buf, ALTO_ELEM_E4M3, 0, 32, 32), "bf16 or f32");
  alto_quant_spec s8 = spec_of(ALTO_SCHEME_MXFP8_E4M3, -1, false, ALTO_SCALE_EVEN);
  s8.sr = true;
  expect_error(s8, qt_view(buf, ALTO_ELEM_F32, 0, 32, 32), "stochastic rounding");
  s8.sr = false;
  s8.rule = ALTO_SCALE_UOS;
  expect_error(s8, qt_view(buf, ALTO_ELEM_F32, 0, 32, 32), "'uos' is defined for mxfp4 only");
  alto_quant_spec nv = spec_of(ALTO_SCHEME_NVFP4, -1, false, ALTO_SCALE_EVEN);
  expect_error(nv, qt_view(buf, ALTO_ELEM_BF16, 0, 16, 24), "multiple of 16");
  alto_quant_spec fb = spec_of(ALTO_SCHEME_FP8_BLOCK, -1, false, ALTO_SCALE_EVEN);
  expect_error(fb, qt_view(buf, ALTO_ELEM_F32, 0, 256, 100), "multiple of 128");
  fb.elem = ALTO_ELEM_E2M1;
  expect_error(fb, qt_view(buf, ALTO_ELEM_F32, 0, 128, 128), "e4m3 or e5m2");
  fb.elem = ALTO_ELEM_E4M3;
  fb.sr = true;
  expect_error(fb, qt_view(buf, ALTO_ELEM_F32, 0, 128, 128), "stochastic rounding");
  alto_quant_spec m9 = spec_of(ALTO_SCHEME_MX9, -1, false, ALTO_SCALE_EVEN);
  expect_error(m9, qt_view(buf, ALTO_ELEM_F32, 0, 16, 16), "alto_cpu_mx69_");

  /* layouts of every scheme */
  alto_quant_layout l;
  alto_tensor_view v = qt_view(buf, ALTO_ELEM_BF16, 2, 256, 384);
  fb.sr = false;
  fb.block2d = true;
  CHECK(alto_quant_layout_of(&fb, &v, &l) == ALTO_OK && l.scale_dims[0] == 2 &&
        l.scale_dims[1] == 2 && l.scale_dims[2] == 3 && l.scale_bytes == 4 &&
        l.codes_bytes == 2 * 256 * 384 && l.block_r == 128 && l.block_c == 128);
  alto_quant_spec rw = spec_of(ALTO_SCHEME_FP8_ROWWISE, -2, false, ALTO_SCALE_EVEN);
  CHECK(alto_quant_layout_of(&rw, &v, &l) == ALTO_OK && l.scale_dims[1] == 1 &&
        l.scale_dims[2] == 384 && l.scale_count == 2 * 384);
  rw.axis = -1;
  CHECK(alto_quant_layout_of(&rw, &v, &l) == ALTO_OK && l.scale_dims[1] == 256 &&
        l.scale_dims[2] == 1);
  alto_quant_spec tw = spec_of(ALTO_SCHEME_FP8_TENSORWISE, -1, false, ALTO_SCALE_EVEN);
  CHECK(alto_quant_layout_of(&tw, &v, &l) == ALTO_OK && l.scale_count == 1 && l.scale_bytes == 4);
  nv.block2d = true;
  CHECK(alto_quant_layout_of(&nv, &v, &l) == ALTO_OK && l.scale_dims[1] == 16 &&
        l.scale_dims[2] == 24 && l.codes_dims[2] == 192 && l.scale_bytes == 1);
  sp = spec_of(ALTO_SCHEME_MXFP4, -2, false, ALTO_SCALE_EVEN);
  CHECK(alto_quant_layout_of(&sp, &v, &l) == ALTO_OK && l.codes_dims[1] == 128 &&
        l.codes_dims[2] == 384 && l.scale_dims[1] == 8 && l.scale_dims[2] == 384);
}

int main(void) {
  g_seed = alto_test_seed();
  RUN(test_golden);
  RUN(test_slow_reference);
  RUN(test_packing);
  RUN(test_properties);
  RUN(test_transpose_2d);
  RUN(test_sr_unbiased);
  RUN(test_sr_index_threads);
  RUN(test_nvfp4);
  RUN(test_bad_input);
  return alto_test_finish();
}
