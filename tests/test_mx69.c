/* MX9 / MX6 (NUMERICS.md 3): Quark's fake_quantize_mx6_mx9 against an independent fp64
 * re-implementation (exponents via frexp), the worked example, the Quark golden pattern, padding,
 * specials, and ALTO's packed byte formats (layout, round trip, the documented differences). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu/quant.h"
#include "tests/harness.h"

static alto_test_rng rng;

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
  uint8_t *p = (uint8_t *)q - GUARD - 16;
  size_t n;
  memcpy(&n, p, sizeof n);
  int ok = 1;
  for (int i = 0; i < GUARD; i++)
    ok &= p[16 + i] == 0xA5 && p[16 + GUARD + n + i] == 0x5A;
  CHECKF(ok, "guard bytes around a %zu-byte output were overwritten", n);
  free(p);
}

static float bf16r(float x) { /* RNE to bf16 and back, independently of the header */
  uint32_t b;
  if (isnan(x))
    return x;
  memcpy(&b, &x, 4);
  b = (b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u;
  memcpy(&x, &b, 4);
  return x;
}
static uint32_t bits(float x) {
  uint32_t b;
  memcpy(&b, &x, 4);
  return b;
}
static int same(float a, float b) {
  return bits(a) == bits(b) || (isnan(a) && isnan(b));
}

/* ---- tensors: fp32 values (bf16-representable for bf16) and the view over them ------------- */
typedef struct {
  float *f;
  uint16_t *h;
  alto_tensor_view v;
  int64_t n;
} tensor;
static void tensor_make(tensor *t, alto_elem dt, int ndim, const int64_t *dims) {
  t->v.dtype = dt, t->v.ndim = ndim, t->n = 1;
  for (int d = 0; d < ndim; d++)
    t->v.dims[d] = dims[d], t->n *= dims[d];
  t->f = calloc((size_t)t->n, 4);
  t->h = calloc((size_t)t->n, 2);
  t->v.data = dt == ALTO_ELEM_BF16 ? (void *)t->h : (void *)t->f;
}
static void tensor_sync(tensor *t) {
  for (int64_t i = 0; i < t->n; i++) {
    if (t->v.dtype == ALTO_ELEM_BF16)
      t->f[i] = bf16r(t->f[i]);
    t->h[i] = (uint16_t)(bits(t->f[i]) >> 16);
  }
}
static void tensor_free(tensor *t) {
  free(t->f);
  free(t->h);
}
/* y (in the tensor's dtype) as fp32 */
static float yget(const tensor *t, const void *y, int64_t i) {
  if (t->v.dtype == ALTO_ELEM_F32)
    return ((const float *)y)[i];
  uint32_t b = (uint32_t)((const uint16_t *)y)[i] << 16;
  float f;
  memcpy(&f, &b, 4);
  return f;
}
static void *fake(const tensor *t, int qb, int group) {
  void *y = galloc((size_t)t->n * (t->v.dtype == ALTO_ELEM_BF16 ? 2 : 4));
  CHECKF(alto_cpu_mx69_fake(&t->v, qb, group, y) == ALTO_OK, "%s", alto_last_error());
  return y;
}

/* ---- independent reference, fp64 ------------------------------------------------------------ */
static int ref_exp(double a) { /* the exponent field of a finite |x|: -127 for zero/subnormal */
  if (!isfinite(a) || a < 0x1p-126)
    return -127;
  int e;
  frexp(a, &e);
  return e - 1;
}
/* Fake-quant of one row of C values; also the scale of each element (scale_out may be NULL). */
static void ref_row(const float *x, int64_t C, int qb, int g, int bf16, float *y,
                    double *scale_out) {
  for (int64_t c0 = 0; c0 < C; c0 += g) {
    double amax = 0;
    for (int64_t i = c0; i < c0 + g && i < C; i++)
      if (isfinite(x[i]) && fabs(x[i]) > amax)
        amax = fabs(x[i]);
    int me = ref_exp(amax);
    for (int64_t i = c0; i < c0 + g && i < C; i++) {
      int64_t p = i - (i - c0) % 2; /* first element of the pair */
      double a0 = isfinite(x[p]) ? fabs(x[p]) : 0;
      double a1 = p + 1 < C && isfinite(x[p + 1]) ? fabs(x[p + 1]) : 0;
      int dem = me - ref_exp(a0) >= 1 && me - ref_exp(a1) >= 1;
      double scale = ldexp(1.0, me - dem - qb + 2);
      double top = ldexp(1.0, me + 1) - scale;
      double qmax = (top < FLT_MAX ? top : FLT_MAX) / scale;
      double q = nearbyint((double)x[i] / scale); /* default mode: ties to even */
      q = q > qmax ? qmax : (q < -qmax ? -qmax : q);
      y[i] = (float)(q * scale);
      if (bf16)
        y[i] = bf16r(y[i]);
      if (scale_out)
        scale_out[i] = scale;
    }
  }
}

/* Random data with outliers; rows scaled by 2^[-40, 40]; sprinkled specials. */
static void fill(tensor *t, int specials) {
  int64_t C = t->v.dims[t->v.ndim - 1];
  alto_test_fill_outliers(&rng, t->f, t->n, 1.0f);
  for (int64_t r = 0; r < t->n / C; r++) {
    float s = ldexpf(1.0f, (int)(alto_test_u32(&rng) % 81) - 40);
    uint32_t kind = alto_test_u32(&rng) % 16;
    if (kind == 0)
      s = 1e-40f; /* subnormal fp32 */
    if (kind == 1)
      s = 1e36f; /* near the top of the range: quant_max clamps at FLT_MAX */
    for (int64_t c = 0; c < C; c++)
      t->f[r * C + c] *= s;
  }
  static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, FLT_MAX, -1e-45f};
  for (int64_t k = 0; specials && k < t->n / 64 + 1; k++)
    t->f[alto_test_u64(&rng) % (uint64_t)t->n] = sp[alto_test_u32(&rng) % (specials > 1 ? 7 : 2)];
  tensor_sync(t);
}

static void test_reference_random(void) {
  for (int k = 0; k < 8; k++) {
    int qb = k & 1 ? 5 : 8, group = k & 4 ? 32 : 16;
    alto_elem dt = k & 2 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    /* 56 = 3.5 blocks of 16, 1.75 of 32: padding on every row; 57: a pair half padding */
    int64_t C = k & 2 ? 57 : 56, dims[3] = {3, 16, C};
    tensor t;
    tensor_make(&t, dt, k % 3 ? 3 : 2, k % 3 ? dims : dims + 1);
    fill(&t, 2);
    void *y = fake(&t, qb, group);
    int64_t bad = 0;
    float *ref = malloc((size_t)t.n * 4);
    for (int64_t r = 0; r < t.n / C; r++)
      ref_row(t.f + r * C, C, qb, group, dt == ALTO_ELEM_BF16, ref + r * C, NULL);
    for (int64_t i = 0; i < t.n; i++)
      bad += !same(yget(&t, y, i), ref[i]);
    CHECKF(bad == 0, "qb %d group %d %s: %lld elements differ from the fp64 reference", qb, group,
           alto_elem_name(dt), (long long)bad);
    free(ref);
    gfree(y);
    tensor_free(&t);
  }
}

/* The NUMERICS.md worked example, bf16 and fp32, group 16 and (with zero padding) 32. */
static void test_worked_example(void) {
  static const float x[8] = {128, 1.4f, 1.4f, 1.4f, 100, 3, 0.26f, 0.74f};
  static const float mx9[8] = {128, 2, 1, 1, 100, 3, 0, 1}, mx6[8] = {128, 0, 0, 0, 96, 0, 0, 0};
  for (int k = 0; k < 8; k++) {
    int qb = k & 1 ? 5 : 8, group = k & 4 ? 32 : 16;
    tensor t;
    tensor_make(&t, k & 2 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32, 2, (const int64_t[]){1, 16});
    memcpy(t.f, x, sizeof x);
    tensor_sync(&t);
    void *y = fake(&t, qb, group);
    for (int i = 0; i < 16; i++)
      CHECKF(yget(&t, y, i) == (i < 8 ? (qb == 8 ? mx9 : mx6)[i] : 0.0f),
             "MX%d group %d element %d: %g", qb + 1, group, i, yget(&t, y, i));
    gfree(y);
    tensor_free(&t);
  }
}

/* Quark's golden pattern: a 1x2x3x4 tensor of 10, 20, ..., 240 round-trips exactly under MX9
 * (every block's values are multiples of its scale), and so does one row of 10 .. 220 (22
 * elements, padded). MX6 does not: [10, 20, 30, 40] -> [10, 20, 32, 40] (scale 4 for 30's pair). */
static void test_quark_golden(void) {
  for (int k = 0; k < 2; k++) {
    alto_elem dt = k ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    tensor a, b;
    tensor_make(&a, dt, 3, (const int64_t[]){2, 3, 4}); /* [1, 2, 3, 4] with the leading 1 folded */
    tensor_make(&b, dt, 2, (const int64_t[]){1, 22});
    for (int i = 0; i < 24; i++)
      a.f[i] = 10.0f * (float)(i + 1);
    for (int i = 0; i < 22; i++)
      b.f[i] = 10.0f * (float)(i + 1);
    tensor_sync(&a);
    tensor_sync(&b);
    void *ya = fake(&a, 8, 16), *yb = fake(&b, 8, 16), *y6 = fake(&a, 5, 16);
    for (int i = 0; i < 24; i++)
      CHECKF(same(yget(&a, ya, i), a.f[i]), "MX9 golden %d: %g", i, yget(&a, ya, i));
    for (int i = 0; i < 22; i++)
      CHECKF(same(yget(&b, yb, i), b.f[i]), "MX9 golden row %d: %g", i, yget(&b, yb, i));
    static const float want6[4] = {10, 20, 32, 40};
    for (int i = 0; i < 4; i++)
      CHECKF(yget(&a, y6, i) == want6[i], "MX6 golden %d: %g", i, yget(&a, y6, i));
    gfree(ya);
    gfree(yb);
    gfree(y6);
    tensor_free(&a);
    tensor_free(&b);
  }
}

/* A last dim of 20 (and 21: a pair half padding): the first 16 as the first block alone, the
 * tail as if zero-padded. */
static void test_padding(void) {
  for (int k = 0; k < 8; k++) {
    int C = k & 4 ? 21 : 20, nt = C - 16;
    int qb = k & 1 ? 5 : 8;
    alto_elem dt = k & 2 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    tensor t, h, tl;
    tensor_make(&t, dt, 2, (const int64_t[]){6, C});
    tensor_make(&h, dt, 2, (const int64_t[]){1, 16});
    tensor_make(&tl, dt, 2, (const int64_t[]){1, 16});
    fill(&t, 0);
    void *y = fake(&t, qb, 16);
    for (int r = 0; r < 6; r++) {
      memcpy(h.f, t.f + r * C, 16 * 4);
      memset(tl.f, 0, 16 * 4);
      memcpy(tl.f, t.f + r * C + 16, (size_t)nt * 4);
      tensor_sync(&h);
      tensor_sync(&tl);
      void *yh = fake(&h, qb, 16), *yt = fake(&tl, qb, 16);
      int bad = 0;
      for (int i = 0; i < 16; i++)
        bad += !same(yget(&t, y, r * C + i), yget(&h, yh, i));
      for (int i = 0; i < nt; i++)
        bad += !same(yget(&t, y, r * C + 16 + i), yget(&tl, yt, i));
      CHECKF(bad == 0, "row %d: %d elements depend on the padding", r, bad);
      gfree(yh);
      gfree(yt);
    }
    gfree(y);
    tensor_free(&t);
    tensor_free(&h);
    tensor_free(&tl);
  }
}

/* NaN passes through; +-Inf clamps to +-quant_max * scale; -0 stays -0. */
static void test_specials(void) {
  for (int k = 0; k < 2; k++) {
    tensor t;
    tensor_make(&t, k ? ALTO_ELEM_BF16 : ALTO_ELEM_F32, 2, (const int64_t[]){1, 16});
    const float x[8] = {INFINITY, 1.0f, -INFINITY, 0.0f, NAN, 0.5f, -0.0f, -1e-3f};
    memcpy(t.f, x, sizeof x);
    tensor_sync(&t);
    void *y = fake(&t, 8, 16);
    /* statistics see Inf and NaN as 0: max_exp 0. (Inf, 1) is not demoted: scale 2^-6, qmax 127;
     * (-Inf, 0) is: scale 2^-7, qmax 255; (NaN, 0.5) is demoted: 0.5 -> 64 * 2^-7 */
    CHECK(yget(&t, y, 0) == 127.0f / 64);
    CHECK(yget(&t, y, 1) == 1.0f);
    CHECK(yget(&t, y, 2) == -255.0f / 128);
    CHECK(isnan(yget(&t, y, 4)));
    CHECK(yget(&t, y, 5) == 0.5f);
    CHECK(bits(yget(&t, y, 6)) == 0x80000000u && bits(yget(&t, y, 7)) == 0x80000000u);
    CHECK(bits(yget(&t, y, 3)) == 0);
    gfree(y);
    tensor_free(&t);
  }
}

/* ---- packed formats -------------------------------------------------------------------------- */
static void test_packed_layout(void) {
  CHECK(alto_mx69_packed_bytes(8, 32) == 36 && alto_mx69_packed_bytes(5, 32) == 24);
  CHECK(alto_mx69_packed_bytes(8, 20) < 0 && alto_mx69_packed_bytes(7, 32) < 0);
  static const float x[8] = {128, 1.4f, 1.4f, 1.4f, 100, 3, 0.26f, 0.74f};
  static const uint8_t mx9[2][18] = {
      {134, 0xFE, 64, 1, 1, 1, 100, 3, 0, 1},
      {134, 0xFE, 0xC0, 0xFF, 0xFF, 0xFF, 0x9C, 0xFD, 0, 0xFF}}; /* negated */
  static const uint8_t mx6[2][12] = {{134, 0xFE, 0, 0, 0x08, 0, 0x0C, 0},
                                     {134, 0xFE, 0x11, 0, 0x08, 0, 0x04, 0}};
  for (int k = 0; k < 8; k++) {
    int qb = k & 1 ? 5 : 8, neg = (k >> 1) & 1;
    tensor t;
    tensor_make(&t, k & 4 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32, 2, (const int64_t[]){1, 16});
    for (int i = 0; i < 8; i++)
      t.f[i] = neg ? -x[i] : x[i];
    tensor_sync(&t);
    int nb = qb == 8 ? 18 : 12;
    uint8_t *p = galloc((size_t)nb);
    CHECK(alto_cpu_mx69_pack(&t.v, qb, p) == ALTO_OK);
    CHECKF(memcmp(p, qb == 8 ? mx9[neg] : mx6[neg], (size_t)nb) == 0,
           "MX%d%s bytes: %02X %02X %02X %02X %02X %02X %02X %02X", qb + 1, neg ? " negated" : "",
           p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
    void *y = galloc(16 * 4), *yf = fake(&t, qb, 16);
    CHECK(alto_cpu_mx69_unpack(p, qb, 16, t.v.dtype, y) == ALTO_OK);
    for (int i = 0; i < 16; i++) /* equal to fake-quant up to the sign of zero */
      CHECKF(yget(&t, y, i) == yget(&t, yf, i), "unpack %d: %g", i, yget(&t, y, i));
    gfree(y);
    gfree(yf);
    gfree(p);
    tensor_free(&t);
  }
}

/* pack -> unpack == fake-quant, except (documented) |q| > 127 / 15 clamps to 127 / 15 and -0
 * unpacks as +0; the test asserts that these are the only differences, and that they occur. */
static void test_packed_round_trip(void) {
  for (int k = 0; k < 4; k++) {
    int qb = k & 1 ? 5 : 8;
    double lim = qb == 8 ? 127 : 15;
    alto_elem dt = k & 2 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    tensor t;
    tensor_make(&t, dt, 3, (const int64_t[]){2, 12, 64});
    fill(&t, 1);
    const float inj[4] = {4.0f, 0.0f, 3.99f, -3.99f}; /* a demoted pair that rounds to 128 / 16 */
    memcpy(t.f + 64, inj, sizeof inj);
    for (int i = 68; i < 80; i++)
      t.f[i] = 0.1f;
    for (int i = 128; i < 144; i++) /* Inf in a demoted pair */
      t.f[i] = i == 130 ? INFINITY : (i == 140 ? 1.0f : 0.0f);
    t.f[200] = -0.0f;
    tensor_sync(&t);
    int64_t nb = alto_mx69_packed_bytes(qb, t.n);
    uint8_t *p = galloc((size_t)nb);
    CHECKF(alto_cpu_mx69_pack(&t.v, qb, p) == ALTO_OK, "%s", alto_last_error());
    void *y = galloc((size_t)t.n * 4), *yf = fake(&t, qb, 16);
    CHECK(alto_cpu_mx69_unpack(p, qb, t.n, dt, y) == ALTO_OK);
    double *scale = malloc((size_t)t.n * 8);
    float *ref = malloc((size_t)t.n * 4);
    for (int64_t r = 0; r < t.n / 64; r++)
      ref_row(t.f + r * 64, 64, qb, 16, dt == ALTO_ELEM_BF16, ref + r * 64, scale + r * 64);
    int64_t clamped = 0, negzero = 0, other = 0;
    for (int64_t i = 0; i < t.n; i++) {
      float a = yget(&t, y, i), f = yget(&t, yf, i);
      if (same(a, f))
        continue;
      if (bits(f) == 0x80000000u && bits(a) == 0)
        negzero++;
      else if (fabs(f) > lim * scale[i] && a == copysign(lim * scale[i], f))
        clamped++;
      else
        other++;
    }
    CHECKF(other == 0, "MX%d: %lld undocumented pack/unpack differences", qb + 1, (long long)other);
    CHECKF(clamped >= 2 && negzero >= 1, "documented cases not exercised (%lld clamped, %lld -0)",
           (long long)clamped, (long long)negzero);
    free(scale);
    free(ref);
    gfree(y);
    gfree(yf);
    gfree(p);
    tensor_free(&t);
  }
}

/* ---- bad inputs --------------------------------------------------------------------------------
 */
static void expect(alto_status s, const char *needle) {
  CHECKF(s == ALTO_ERR_INVALID_ARG, "no error for '%s'", needle);
  CHECKF(strstr(alto_last_error(), needle) != NULL, "message '%s' lacks '%s'", alto_last_error(),
         needle);
}

static void test_bad_inputs(void) {
  static float buf[64], y[64];
  static uint8_t p[128];
  alto_tensor_view v = {buf, ALTO_ELEM_F32, 1, {64}};
  expect(alto_cpu_mx69_fake(&v, 8, 16, y), "1 dims");
  v.ndim = 4;
  expect(alto_cpu_mx69_fake(&v, 8, 16, y), "4 dims");
  v = (alto_tensor_view){buf, ALTO_ELEM_E4M3, 2, {2, 32}};
  expect(alto_cpu_mx69_fake(&v, 8, 16, y), "dtype");
  v.dtype = ALTO_ELEM_F32;
  expect(alto_cpu_mx69_fake(&v, 8, 0, y), "group_size 0");
  expect(alto_cpu_mx69_fake(&v, 8, 7, y), "group_size 7");
  expect(alto_cpu_mx69_fake(&v, 7, 16, y), "quant_bit 7");
  expect(alto_cpu_mx69_pack(&v, 4, p), "quant_bit 4");
  v.dims[1] = 20, v.dims[0] = 3;
  expect(alto_cpu_mx69_pack(&v, 8, p), "last dim 20");
  expect(alto_cpu_mx69_unpack(p, 8, 20, ALTO_ELEM_F32, y), "20 elements");
  expect(alto_cpu_mx69_unpack(p, 8, 16, ALTO_ELEM_E4M3, y), "dtype");
  expect(alto_cpu_mx69_fake(NULL, 8, 16, y), "no input");
}

int main(void) {
  rng.s = alto_test_seed();
  RUN(test_worked_example);
  RUN(test_quark_golden);
  RUN(test_specials);
  RUN(test_padding);
  RUN(test_reference_random);
  RUN(test_packed_layout);
  RUN(test_packed_round_trip);
  RUN(test_bad_inputs);
  return alto_test_finish();
}
