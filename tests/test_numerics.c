/* The scalar numerics header (templates/common/alto_numerics.h) against independently written slow
 * references: every bf16 bit pattern and 10^7 random fp32 values through each element cast, the
 * Random123 known-answer vectors for Philox4x32-10, and the MX scale rules at their boundaries. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "templates/common/alto_numerics.h"
#include "tests/harness.h"

/* ---- slow references: enumerate the representable values, take the nearest, ties to even ---- */
typedef struct {
  double val[128]; /* magnitude of code c (c < n) */
  int n;           /* number of finite non-negative codes, in increasing order */
} grid_t;

static grid_t grid_e4m3, grid_e5m2, grid_e2m1;

static void build_grids(void) {
  /* E4M3: codes 0..0x7E (0x7F is NaN); value from the definition, not from the header. */
  for (int c = 0; c <= 0x7E; c++) {
    int e = c >> 3, m = c & 7;
    grid_e4m3.val[c] = e == 0 ? m * ldexp(1.0, -9) : (1.0 + m / 8.0) * ldexp(1.0, e - 7);
  }
  grid_e4m3.n = 0x7F;
  /* E5M2: codes 0..0x7B (0x7C is Inf). */
  for (int c = 0; c <= 0x7B; c++) {
    int e = c >> 2, m = c & 3;
    grid_e5m2.val[c] = e == 0 ? m * ldexp(1.0, -16) : (1.0 + m / 4.0) * ldexp(1.0, e - 15);
  }
  grid_e5m2.n = 0x7C;
  const double fp4[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  memcpy(grid_e2m1.val, fp4, sizeof fp4);
  grid_e2m1.n = 8;
}

/* Nearest code to |x| (binary search), ties to the even code, saturating at the largest. */
static int nearest_code(const grid_t *g, double a) {
  if (a >= g->val[g->n - 1])
    return g->n - 1;
  int lo = 0, hi = g->n - 1; /* val[lo] <= a < val[hi] */
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (g->val[mid] <= a)
      lo = mid;
    else
      hi = mid;
  }
  double dl = a - g->val[lo], dh = g->val[hi] - a;
  if (dl < dh)
    return lo;
  if (dh < dl)
    return hi;
  return (lo & 1) ? hi : lo;
}

static uint8_t ref_cast(const grid_t *g, int sign_bit, uint8_t nan_code, float x) {
  if (isnan(x))
    return nan_code;
  int c = nearest_code(g, fabs((double)x)); /* Inf saturates */
  return (uint8_t)(c | (signbit(x) ? sign_bit : 0));
}
static uint8_t ref_e4m3(float x) { return ref_cast(&grid_e4m3, 0x80, 0x7F, x); }
static uint8_t ref_e5m2(float x) { return ref_cast(&grid_e5m2, 0x80, 0x7F, x); }
static uint8_t ref_e2m1(float x) { return ref_cast(&grid_e2m1, 0x8, 0x7, x); }

static float bits_f(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

static int check_all_casts(float x) {
  int bad = 0;
  uint8_t a, r;
  if ((a = alto_f32_to_e4m3(x)) != (r = ref_e4m3(x))) {
    bad++;
    CHECKF(0, "e4m3(%a) = 0x%02x, reference 0x%02x", x, a, r);
  }
  if ((a = alto_f32_to_e5m2(x)) != (r = ref_e5m2(x))) {
    bad++;
    CHECKF(0, "e5m2(%a) = 0x%02x, reference 0x%02x", x, a, r);
  }
  if ((a = alto_f32_to_e2m1(x)) != (r = ref_e2m1(x))) {
    bad++;
    CHECKF(0, "e2m1(%a) = 0x%x, reference 0x%x", x, a, r);
  }
  return bad;
}

static void test_casts_exhaustive_bf16(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++)
    bad += check_all_casts(alto_bf16_to_f32((uint16_t)h));
  CHECKF(bad == 0, "%d bf16 patterns disagree", bad);
}

static void test_casts_random_fp32(void) {
  alto_test_rng rng = {alto_test_seed()};
  int bad = 0;
  for (int i = 0; i < 10000000 && bad < 20; i++) {
    uint32_t b;
    switch (i & 3) {
    case 0: /* any bit pattern */
      b = alto_test_u32(&rng);
      break;
    case 1: /* magnitudes around the formats' ranges: exponent in [2^-20, 2^20) */
      b = (alto_test_u32(&rng) & 0x807FFFFFu) | ((uint32_t)(107 + alto_test_u32(&rng) % 40) << 23);
      break;
    case 2: /* exact midpoints between neighbouring codes, and their fp32 neighbours */
    {
      const grid_t *g = (i >> 2) % 3 == 0 ? &grid_e4m3 : ((i >> 2) % 3 == 1 ? &grid_e5m2 : &grid_e2m1);
      int c = (int)(alto_test_u32(&rng) % (uint32_t)(g->n - 1));
      float mid = (float)((g->val[c] + g->val[c + 1]) / 2);
      uint32_t mb;
      memcpy(&mb, &mid, 4);
      b = mb + (uint32_t)((int)(alto_test_u32(&rng) % 3) - 1);
      if (alto_test_u32(&rng) & 1)
        b |= 0x80000000u;
      break;
    }
    default: /* around the saturation points and the smallest subnormals */
    {
      const float pts[] = {448.0f, 464.0f, 480.0f, 57344.0f, 61440.0f, 6.0f, 5.0f,
                           0x1p-9f, 0x1p-10f, 0x1p-16f, 0x1p-17f, 0x1p-6f, 0x1p-14f, 0.25f};
      float p = pts[alto_test_u32(&rng) % (sizeof pts / sizeof pts[0])];
      memcpy(&b, &p, 4);
      b += (uint32_t)((int)(alto_test_u32(&rng) % 9) - 4);
      break;
    }
    }
    bad += check_all_casts(bits_f(b));
  }
  CHECKF(bad == 0, "%d random fp32 values disagree", bad);
}

/* Specials, named so a failure says which rule broke. */
static void test_casts_specials(void) {
  CHECK(alto_f32_to_e4m3(448.0f) == 0x7E);
  CHECK(alto_f32_to_e4m3(464.0f) == 0x7E);  /* tie -> even (448), also saturation */
  CHECK(alto_f32_to_e4m3(1e30f) == 0x7E);
  CHECK(alto_f32_to_e4m3(-INFINITY) == 0xFE);
  CHECK(alto_f32_to_e4m3(NAN) == 0x7F);
  CHECK(alto_f32_to_e4m3(-NAN) == 0x7F);
  CHECK(alto_f32_to_e4m3(-0.0f) == 0x80);
  CHECK(alto_f32_to_e4m3(0x1p-10f) == 0x00); /* half the smallest subnormal: tie -> 0 */
  CHECK(alto_f32_to_e4m3(0x1.8p-9f) == 0x02); /* 1.5 steps: tie -> even code 2 */
  CHECK(alto_f32_to_e4m3(0x1.fp-7f) == 0x08); /* rounds up into the smallest normal */
  CHECK(alto_f32_to_e5m2(INFINITY) == 0x7B);
  CHECK(alto_f32_to_e5m2(65536.0f) == 0x7B); /* never Inf */
  CHECK(alto_f32_to_e5m2(NAN) == 0x7F);
  CHECK(alto_f32_to_e2m1(0.25f) == 0 && alto_f32_to_e2m1(0.75f) == 2 && alto_f32_to_e2m1(1.25f) == 2);
  CHECK(alto_f32_to_e2m1(1.75f) == 4 && alto_f32_to_e2m1(2.5f) == 4 && alto_f32_to_e2m1(3.5f) == 6);
  CHECK(alto_f32_to_e2m1(5.0f) == 6 && alto_f32_to_e2m1(5.0001f) == 7 && alto_f32_to_e2m1(1e9f) == 7);
  CHECK(alto_f32_to_e2m1(-0.0f) == 0x8 && alto_f32_to_e2m1(NAN) == 0x7);
}

/* Decoders: every code against the definition. */
static void test_decoders(void) {
  int bad = 0;
  for (int c = 0; c < 256; c++) {
    double s = (c & 0x80) ? -1.0 : 1.0;
    int k = c & 0x7F;
    float v4 = alto_e4m3_to_f32((uint8_t)c), v5 = alto_e5m2_to_f32((uint8_t)c);
    if (k == 0x7F)
      bad += !isnan(v4);
    else
      bad += v4 != (float)(s * grid_e4m3.val[k]) || !!signbit(v4) != (c >= 0x80);
    if (k == 0x7C)
      bad += !(isinf(v5) && !!signbit(v5) == (c >= 0x80));
    else if (k > 0x7C)
      bad += !isnan(v5);
    else
      bad += v5 != (float)(s * grid_e5m2.val[k]) || !!signbit(v5) != (c >= 0x80);
    /* round trip of every finite code */
    if (k != 0x7F)
      bad += alto_f32_to_e4m3(v4) != (uint8_t)c;
    if (k < 0x7C)
      bad += alto_f32_to_e5m2(v5) != (uint8_t)c;
  }
  for (int c = 0; c < 16; c++) {
    float v = alto_e2m1_to_f32((uint8_t)c);
    bad += v != (float)((c & 8 ? -1 : 1) * grid_e2m1.val[c & 7]) || !!signbit(v) != (c >= 8);
    bad += alto_f32_to_e2m1(v) != c;
  }
  for (int s = 0; s < 255; s++)
    bad += alto_e8m0_to_f32((uint8_t)s) != (float)ldexp(1.0, s - 127) ||
           alto_e8m0_inv_f32((uint8_t)s) != (float)ldexp(1.0, 127 - s);
  bad += !isnan(alto_e8m0_to_f32(0xFF));
  CHECKF(bad == 0, "%d decoder mismatches", bad);
}

static void test_bf16(void) {
  alto_test_rng rng = {alto_test_seed()};
  int bad = 0;
  for (int i = 0; i < 1000000; i++) {
    uint32_t b = alto_test_u32(&rng);
    float x = bits_f(b);
    uint16_t h = alto_f32_to_bf16(x);
    if (isnan(x)) {
      bad += !isnan(alto_bf16_to_f32(h)) || (h >> 15) != (b >> 31);
      continue;
    }
    /* reference: nearest bf16 in double, ties to even mantissa */
    uint32_t lo = b & 0xFFFF0000u, hi = lo + 0x10000u;
    /* the value above the largest finite bf16 is 2^128 (the rounding boundary to Inf) */
    double vhi = (hi & 0x7FFFFFFFu) == 0x7F800000u ? copysign(ldexp(1.0, 128), x) : bits_f(hi);
    double dl = fabs((double)x - (double)bits_f(lo)), dh = fabs(vhi - (double)x);
    uint32_t want = dl < dh ? lo : (dh < dl ? hi : (((lo >> 16) & 1) ? hi : lo));
    if (isinf(x))
      want = b;
    bad += h != (uint16_t)(want >> 16);
  }
  CHECKF(bad == 0, "%d fp32->bf16 mismatches", bad);
}

/* ---- stochastic rounding decision (NUMERICS.md 2.2) ---- */
static void test_sr_decision(void) {
  /* p = 0.25 between 1 and 1.5 (1.125): hi iff u < 2^30 */
  CHECK(alto_f32_to_e2m1_sr(1.125f, 0x3FFFFFFFu) == 3);
  CHECK(alto_f32_to_e2m1_sr(1.125f, 0x40000000u) == 2);
  CHECK(alto_f32_to_e2m1_sr(-1.125f, 0u) == 0xB);
  CHECK(alto_f32_to_e2m1_sr(2.0f, 0u) == 4); /* on the grid: p = 0, never up */
  CHECK(alto_f32_to_e2m1_sr(6.0f, 0u) == 7 && alto_f32_to_e2m1_sr(1e30f, 0u) == 7);
  CHECK(alto_f32_to_e2m1_sr(5.0f, 0x7FFFFFFFu) == 7 && alto_f32_to_e2m1_sr(5.0f, 0x80000000u) == 6);
  CHECK(alto_f32_to_e2m1_sr(0.0f, 0u) == 0); /* exactly 0 never rounds up */
  CHECK(alto_f32_to_e2m1_sr(-0.0f, 0u) == 8);
  /* tiny |q|: p*2^32 < 1 -> never up */
  CHECK(alto_f32_to_e2m1_sr(0x1p-40f, 0u) == 0);
  CHECK(alto_f32_to_e2m1_sr(0x1p-33f, 0u) == 1 && alto_f32_to_e2m1_sr(0x1p-33f, 1u) == 0);
  /* exhaustive over bf16 inputs with a few thresholds: result is a neighbour and matches the rule */
  int bad = 0;
  const uint32_t us[] = {0u, 1u, 0x12345678u, 0x80000000u, 0xFFFFFFFFu};
  for (uint32_t h = 0; h < 65536; h++) {
    float x = alto_bf16_to_f32((uint16_t)h);
    if (isnan(x))
      continue;
    double a = fabs((double)x);
    for (int k = 0; k < 5; k++) {
      uint8_t c = alto_f32_to_e2m1_sr(x, us[k]);
      int lo = 0;
      while (lo < 7 && grid_e2m1.val[lo + 1] <= a)
        lo++;
      int want = lo;
      if (lo < 7) {
        double p = (a - grid_e2m1.val[lo]) / (grid_e2m1.val[lo + 1] - grid_e2m1.val[lo]);
        if ((uint64_t)us[k] < (uint64_t)floor(p * 4294967296.0))
          want = lo + 1;
      }
      bad += c != (uint8_t)(want | (signbit(x) ? 8 : 0));
    }
  }
  CHECKF(bad == 0, "%d SR decisions differ from the rule", bad);
}

/* ---- Philox4x32-10: Random123 known-answer vectors (kat_vectors) ---- */
static void test_philox_kat(void) {
  struct {
    uint32_t ctr[4], key[2], out[4];
  } kat[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (int t = 0; t < 3; t++) {
    alto_philox4 r = alto_philox4x32_10(kat[t].ctr[0], kat[t].ctr[1], kat[t].ctr[2], kat[t].ctr[3],
                                        kat[t].key[0], kat[t].key[1]);
    for (int w = 0; w < 4; w++)
      CHECKF(r.v[w] == kat[t].out[w], "kat %d word %d: %08x != %08x", t, w, r.v[w], kat[t].out[w]);
  }
  /* element i -> word i%4 of counter (i/4 lo, i/4 hi, stream lo, stream hi), key = seed */
  uint64_t seed = 0x0123456789ABCDEFull, stream = 0xFEDCBA9876543210ull, i = 0x500000007ull;
  alto_philox4 r = alto_philox4x32_10((uint32_t)(i >> 2), (uint32_t)(i >> 34), (uint32_t)stream,
                                      (uint32_t)(stream >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
  CHECK(alto_philox_u32(seed, stream, i) == r.v[3]);
}

static void test_streams_distinct(void) {
  /* no two (layer, role, step, purpose) of a grid collide, and neighbours differ in many bits */
  enum { N = 8 * 8 * 64 * 2 };
  static uint64_t h[N];
  int n = 0;
  for (uint32_t l = 0; l < 8; l++)
    for (uint32_t r = 0; r < 8; r++)
      for (uint64_t s = 0; s < 64; s++)
        for (uint32_t p = 1; p <= 2; p++)
          h[n++] = alto_stream_id(l, r, s, p);
  int dup = 0;
  for (int a = 0; a < N; a++)
    for (int b = a + 1; b < N; b++)
      dup += h[a] == h[b];
  CHECK(dup == 0);
  CHECK(alto_stream_id(0, 0, 0, 1) != alto_stream_id(0, 0, 1, 1));
  CHECK(alto_stream_id(1, 0, 0, 1) != alto_stream_id(0, 1, 0, 1));
}

/* ---- MX scale rules against their definitions in words (frexp, exact comparisons) ---- */
static int ref_scale(float amax, alto_scale_rule rule, alto_elem elem) {
  if (isnan(amax))
    return 0xFF;
  if (isinf(amax))
    amax = FLT_MAX;
  int m = elem == ALTO_ELEM_E2M1 ? 1 : (elem == ALTO_ELEM_E4M3 ? 3 : 2);
  int emax = elem == ALTO_ELEM_E2M1 ? 2 : (elem == ALTO_ELEM_E4M3 ? 8 : 15);
  double emaxv = elem == ALTO_ELEM_E2M1 ? 6.0 : (elem == ALTO_ELEM_E4M3 ? 448.0 : 57344.0);
  int normal = amax >= FLT_MIN;
  int fe;
  double sig = normal ? 2.0 * frexp((double)amax, &fe) : 0.0; /* amax = sig * 2^(fe-1) */
  int e = normal ? fe - 1 : -127;
  int s;
  switch (rule) {
  case ALTO_SCALE_EVEN:
    s = e + 127 + (normal && sig >= 2.0 - ldexp(1.0, -(m + 1)) ? 1 : 0) - emax;
    break;
  case ALTO_SCALE_FLOOR:
    s = e + 127 - emax;
    break;
  case ALTO_SCALE_UOS: { /* smallest t with 2^t >= amax / 7.25, i.e. 7.25 * 2^t >= amax exactly */
    if (amax == 0.0f)
      return 128;
    if (!normal)
      return 1;
    int t = -200;
    while (7.25 * ldexp(1.0, t) < (double)amax)
      t++;
    s = t + 127;
    break;
  }
  default: { /* rceil: smallest t with elem_max * 2^t >= amax, clamped to [1, 254] */
    if (!normal)
      return 1;
    int t = -200;
    while (emaxv * ldexp(1.0, t) < (double)amax)
      t++;
    s = t + 127;
    if (s > 254)
      s = 254;
    break;
  }
  }
  return s < 1 ? 1 : s;
}

static int check_scale(float amax) {
  int bad = 0;
  const alto_elem elems[3] = {ALTO_ELEM_E2M1, ALTO_ELEM_E4M3, ALTO_ELEM_E5M2};
  for (int r = 0; r < ALTO_SCALE_RULE_COUNT; r++)
    for (int k = 0; k < 3; k++) {
      if (r == ALTO_SCALE_UOS && k > 0)
        continue; /* uos is defined for MXFP4 only */
      int got = alto_mx_scale(amax, (alto_scale_rule)r, elems[k]);
      int want = ref_scale(amax, (alto_scale_rule)r, elems[k]);
      if (got != want) {
        bad++;
        CHECKF(0, "scale(%a, rule %d, elem %d) = %d, reference %d", amax, r, k, got, want);
      }
    }
  return bad;
}

static void test_scale_rules(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 0x7F81; h++) /* every non-negative bf16 up to Inf, and one NaN */
    bad += check_scale(alto_bf16_to_f32((uint16_t)h));
  alto_test_rng rng = {alto_test_seed()};
  for (int i = 0; i < 200000; i++)
    bad += check_scale(bits_f(alto_test_u32(&rng) & 0x7FFFFFFFu));
  CHECKF(bad == 0, "%d scale mismatches", bad);

  /* Boundaries, named. */
  CHECK(alto_mx_scale(1.75f, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 126);             /* bump */
  CHECK(alto_mx_scale(nextafterf(1.75f, 0), ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 125);
  CHECK(alto_mx_scale(1.75f, ALTO_SCALE_FLOOR, ALTO_ELEM_E2M1) == 125);
  CHECK(alto_mx_scale(4.0f, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 127);              /* power of 2 */
  CHECK(alto_mx_scale(7.5f, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 128);              /* ALTO's example */
  CHECK(alto_mx_scale(5.0f, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 127);
  CHECK(alto_mx_scale(116.5f, ALTO_SCALE_UOS, ALTO_ELEM_E2M1) == 132);             /* ALTO says 131 */
  CHECK(alto_mx_scale(0.0f, ALTO_SCALE_UOS, ALTO_ELEM_E2M1) == 128);
  CHECK(alto_mx_scale(0x1p-130f, ALTO_SCALE_UOS, ALTO_ELEM_E2M1) == 1);
  CHECK(alto_mx_scale(0.0f, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 1);
  CHECK(alto_mx_scale(0x1p-140f, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 1);
  CHECK(alto_mx_scale(0x1.ep-127f, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 1);         /* subnormal+bump */
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 253);
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_UOS, ALTO_ELEM_E2M1) == 253);
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_RCEIL, ALTO_ELEM_E2M1) == 253);
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_FLOOR, ALTO_ELEM_E2M1) == 252);
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_EVEN, ALTO_ELEM_E4M3) == 247);
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_FLOOR, ALTO_ELEM_E4M3) == 246);
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_EVEN, ALTO_ELEM_E5M2) == 240);
  CHECK(alto_mx_scale(INFINITY, ALTO_SCALE_FLOOR, ALTO_ELEM_E5M2) == 239);
  CHECK(alto_mx_scale(NAN, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1) == 0xFF);
  CHECK(alto_mx_scale(1.9375f, ALTO_SCALE_EVEN, ALTO_ELEM_E4M3) == 120);           /* E4M3 bump */
  CHECK(alto_mx_scale(nextafterf(1.9375f, 0), ALTO_SCALE_EVEN, ALTO_ELEM_E4M3) == 119);
  CHECK(alto_mx_scale(1.875f, ALTO_SCALE_EVEN, ALTO_ELEM_E5M2) == 113);            /* E5M2 bump */
  CHECK(alto_mx_scale(1.5f, ALTO_SCALE_RCEIL, ALTO_ELEM_E2M1) == 125);
  CHECK(alto_mx_scale(nextafterf(1.5f, 2), ALTO_SCALE_RCEIL, ALTO_ELEM_E2M1) == 126);

  /* NUMERICS.md 2.1: UOS equals reading t from the RNE fp32 quotient amax / 7.25; RCEIL equals
   * ceil on the fp32 quotient amax / 6 and torchao's multiply by fp32(1/6). */
  int bad_q = 0;
  for (int i = 0; i < 400000; i++) {
    float amax = bits_f((alto_test_u32(&rng) % 0x7F000000u) + 0x00800000u); /* normal, finite */
    float q = amax / 7.25f;
    uint32_t qb;
    memcpy(&qb, &q, 4);
    int t = (int)(qb >> 23) - 127 + ((qb & 0x7FFFFF) ? 1 : 0); /* ceil(log2 q) from the bits */
    int want = t + 127 < 1 ? 1 : t + 127;
    bad_q += alto_mx_scale(amax, ALTO_SCALE_UOS, ALTO_ELEM_E2M1) != want;
    float q6 = amax * (1.0f / 6.0f);
    memcpy(&qb, &q6, 4);
    t = (int)(qb >> 23) - 127 + ((qb & 0x7FFFFF) ? 1 : 0);
    want = t + 127 < 1 ? 1 : (t + 127 > 254 ? 254 : t + 127);
    if (q6 >= FLT_MIN)
      bad_q += alto_mx_scale(amax, ALTO_SCALE_RCEIL, ALTO_ELEM_E2M1) != want;
  }
  CHECKF(bad_q == 0, "%d quotient-form mismatches", bad_q);
}

/* ---- MX9 / MX6 element rule and round-half-even ---- */
static void test_mx69_scalar(void) {
  CHECK(alto_round_half_even(2.5f) == 2.0f && alto_round_half_even(3.5f) == 4.0f);
  CHECK(alto_round_half_even(-0.5f) == 0.0f && signbit(alto_round_half_even(-0.3f)));
  CHECK(alto_round_half_even(8388609.0f) == 8388609.0f);
  CHECK(isnan(alto_round_half_even(NAN)));
  /* the worked example: block max 128 (max_exp 7) */
  CHECK(alto_mx69_element(1.4f, 7, 0, 8) == 2.0f);
  CHECK(alto_mx69_element(1.4f, 7, 1, 8) == 1.0f);
  CHECK(alto_mx69_element(100.0f, 7, 1, 5) == 96.0f);
  CHECK(alto_mx69_element(128.0f, 7, 0, 5) == 128.0f);
  CHECK(alto_mx69_quant_max(7, alto_mx69_scale(7, 0, 8)) == 127.0f);
  CHECK(alto_mx69_quant_max(7, alto_mx69_scale(7, 1, 8)) == 255.0f);
  CHECK(alto_mx69_quant_max(7, alto_mx69_scale(7, 1, 5)) == 31.0f);
  CHECK(alto_mx69_element(INFINITY, 7, 0, 8) == 254.0f);
  CHECK(isnan(alto_mx69_element(NAN, 7, 0, 8)));
  CHECK(alto_mx69_exp(0.0f) == -127 && alto_mx69_exp(INFINITY) == -127 && alto_mx69_exp(3.0f) == 1);
}

/* ---- block amax: NaN-sticky, order-independent ---- */
static void test_amax(void) {
  CHECK(alto_amax_update(0.0f, -3.0f) == 3.0f && alto_amax_update(3.0f, 2.0f) == 3.0f);
  CHECK(isnan(alto_amax_update(NAN, 1.0f)) && isnan(alto_amax_update(1.0f, NAN)));
  CHECK(isnan(alto_amax_update(INFINITY, -NAN)) && isnan(alto_amax_update(alto_amax_update(0, NAN), INFINITY)));
  CHECK(alto_amax_update(1.0f, -INFINITY) == INFINITY && !signbit(alto_amax_update(0.0f, -0.0f)));
  CHECK(alto_amax_update(0x1p-149f, -0x1p-148f) == 0x1p-148f);
}

/* ---- NVFP4 scales ---- */
static void test_nvfp4_scalar(void) {
  CHECK(alto_nvfp4_outer(2688.0f, 1) == 1.0f && alto_nvfp4_outer(5.0f, 0) == 1.0f);
  CHECK(alto_nvfp4_outer(0.0f, 1) == 1e-30f && alto_nvfp4_outer(NAN, 1) == 1e-30f);
  CHECK(alto_nvfp4_inner(0.0f, 1.0f) == 0x01);         /* clamped up to 2^-9 */
  CHECK(alto_nvfp4_inner(6.0f * 1000.0f, 1.0f) == 0x7E); /* clamped down to 448 */
  CHECK(alto_nvfp4_inner(6.0f, 1.0f) == 0x38);           /* 1.0 */
  CHECK(alto_nvfp4_inner(NAN, 1.0f) == 0x7F);
  CHECK(alto_nvfp4_encode(3.0f, 0x38, 1.0f) == 0x5 && alto_nvfp4_encode(1.0f, 0x7F, 1.0f) == 0);
  CHECK(alto_nvfp4_decode(0x7, 0x40, 0.5f) == 6.0f); /* 6 * (2 * 0.5) */
}

/* ---- DGE multiplier ---- */
static void test_dge(void) {
  const float grid[] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int i = 0; i < 8; i++) {
    CHECKF(fabsf(alto_dge_multiplier(grid[i], 127) - 0.2f) < 1e-6f, "g(%g)=%g", grid[i],
           alto_dge_multiplier(grid[i], 127));
    CHECK(alto_dge_multiplier(-grid[i], 127) == alto_dge_multiplier(grid[i], 127));
  }
  CHECK(alto_dge_multiplier(0.25f, 127) == 3.0f && alto_dge_multiplier(5.0f, 127) == 3.0f);
  CHECK(fabsf(alto_dge_multiplier(0.26f, 127) - 2.6265f) < 1e-3f);
  CHECK(alto_dge_multiplier(0.52f, 128) == alto_dge_multiplier(0.26f, 127)); /* element units */
  CHECK(alto_dge_multiplier(100.0f, 127) == alto_dge_multiplier(6.0f, 127));  /* clamp to 6 */
  CHECK(isnan(alto_dge_multiplier(1.0f, 0xFF)));
  /* against libm over a dense sweep (the header uses its own log2/exp2) */
  double worst = 0;
  for (int i = 0; i <= 60000; i++) {
    float x = 6.0f * (float)i / 60000.0f;
    double lo, d;
    if (x < 2) {
      lo = floor(x * 2) / 2;
      if (lo > 1.5)
        lo = 1.5;
      d = 0.5;
    } else if (x < 4) {
      lo = floor(x);
      d = 1;
    } else {
      lo = 4;
      d = 2;
    }
    double z = fabs(2 * (x - (lo + d / 2)) / d);
    double g = z == 0 ? 3 : fmin(0.2 * pow(z, -0.8), 3);
    double err = fabs(alto_dge_multiplier(x, 127) - g) / g;
    if (err > worst)
      worst = err;
  }
  CHECKF(worst < 2e-7, "DGE relative error %g", worst);
}

/* ---- RHT constants ---- */
static void test_rht_norm(void) {
  for (int b = 16; b <= 256; b *= 2)
    CHECK(alto_rht_norm(b) == (float)(1.0 / sqrt((double)b)));
}

int main(void) {
  build_grids();
  RUN(test_casts_specials);
  RUN(test_casts_exhaustive_bf16);
  RUN(test_casts_random_fp32);
  RUN(test_decoders);
  RUN(test_bf16);
  RUN(test_sr_decision);
  RUN(test_philox_kat);
  RUN(test_streams_distinct);
  RUN(test_scale_rules);
  RUN(test_mx69_scalar);
  RUN(test_amax);
  RUN(test_nvfp4_scalar);
  RUN(test_dge);
  RUN(test_rht_norm);
  return alto_test_finish();
}
