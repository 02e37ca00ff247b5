/* Every training op on the GPU (templates/ops/, generated and JIT-compiled) against the CPU
 * reference (runtime/cpu/ops.c), forward and backward, on fresh random data with outliers (0.5%
 * x100), shapes with tails (M = 4096 + 96 rows, dims 256 and 4096, vocab 2048 and 128256), bf16
 * and fp32 activations with the weights in fp32 as the plan holds them (the embedding table, the
 * RMSNorm weight), guard bytes around every output, NaN checks, and determinism (each op run
 * twice: the same bits). Skips without a GPU.
 *
 * Tolerances (u = 2^-24, fp32's unit roundoff; "+ bf16" = one bf16 ulp of the value on top, as
 * the two sides round fp32 results that may differ slightly):
 *   bit for bit   embedding (gather: the fp32 row, or its bf16 rounding, NaN payloads and the
 *                 rounding's edge cases included; scatter-add: same adds in the same token order),
 *                 RoPE, add, AdamW, scale / clip: the same sequence of IEEE fp32 operations.
 *   RMSNorm       only the row sums differ in order (a tree on the GPU, a loop on the CPU). Each
 *                 sum's error is <= (C - 1) u sum|terms|, so: rstd relative (C + 8) u (a sum of
 *                 squares, halved by the square root, both sides); out that plus 4 u (+ bf16);
 *                 dx from the dot's bound 2 (C + 2) u sum|w dy x| propagated through
 *                 r (w dy - x coef), plus 4 u of each term; dw (two-pass over chunks of 32 rows
 *                 vs one loop): 2 (M + 2) u sum_m |dy x r|.
 *   SwiGLU        both sides compute sigmoid as (float)(1 / (1 + exp(-(double)a))). bf16: the
 *                 GPU's sigmoid is a table of the CPU's (ops/sigmoid_bf16.h, glibc's exp), so
 *                 every result is bit for bit. fp32: CUDA's double exp is within an ulp of
 *                 glibc's, so s differs by at most one fp32 ulp in rare elements: out, db 6 u
 *                 relative; da 8 u (|da| + |dy b s| (1 + |a|)) (1 - s cancels). Almost every
 *                 element is identical (the count is printed).
 *   cross-entropy double sums of V terms in another order, CUDA's exp / log (bf16: most terms by
 *                 a table-driven exp within 2^-51): the log-sum-exp agrees to ~V 2^-52, so
 *                 dlogits (fp32 roundings of a double) differ by at most an ulp: 2^-22 (|d| +
 *                 1/n_valid) (+ bf16); row losses V 2^-50 + 2^-50 (|loss| + |logit_t|); the mean
 *                 the same per row. bf16 on sm_90 runs the one-pass cluster kernel (the vocabs
 *                 below: one CTA, and clusters of 8 for 128256; 1001: rows not 16-byte aligned).
 *   sum of squares  double, another order: relative 2 N 2^-53.
 */
#include <math.h>
#include <string.h>

#include "runtime/cpu/ops.h"
#include "runtime/cpu/quant.h"
#include "runtime/ops_gpu.h"
#include "tests/gpu_util.h"
#include "tests/harness.h"

static alto_backend *B;
static alto_test_rng rng;
static const double U = 1.0 / 16777216.0; /* 2^-24 */

/* ---- host data in a device dtype ------------------------------------------------------------ */
/* Activations as the GPU sees them (bf16 bits or fp32) and as the CPU sees them (fp32, widened
 * exactly from the same bits). */
typedef struct {
  bool bf16;
  int64_t n;
  void *dev; /* host copy of the device bytes */
  float *f;  /* the same values as fp32 */
  gpu_buf g;
} act;

static size_t esz(bool bf16) {
  return bf16 ? 2 : 4;
}

static act act_new(int64_t n, bool bf16, float scale) {
  act a = {bf16, n, malloc((size_t)n * esz(bf16)), malloc((size_t)n * 4), {0, 0}};
  alto_test_fill_outliers(&rng, a.f, n, scale);
  for (int64_t i = 0; i < n; i++) {
    if (bf16) {
      ((uint16_t *)a.dev)[i] = alto_f32_to_bf16(a.f[i]);
      a.f[i] = alto_bf16_to_f32(((uint16_t *)a.dev)[i]);
    } else {
      ((float *)a.dev)[i] = a.f[i];
    }
  }
  a.g = gpu_alloc(B, (size_t)n * esz(bf16));
  gpu_upload(B, a.g, a.dev);
  return a;
}

static void act_free(act *a) {
  gpu_free(B, &a->g);
  free(a->dev);
  free(a->f);
}

/* An output buffer of n elements (poisoned, guarded). */
static gpu_buf out_new(int64_t n, size_t elem) {
  return gpu_alloc(B, (size_t)n * elem);
}

/* Downloads n elements of a bf16/fp32 buffer as fp32. */
static float *fetch(gpu_buf g, bool bf16, int64_t n, const char *what) {
  void *raw = malloc((size_t)n * esz(bf16));
  float *f = malloc((size_t)n * 4);
  gpu_download(B, raw, g, what);
  for (int64_t i = 0; i < n; i++)
    f[i] = bf16 ? alto_bf16_to_f32(((uint16_t *)raw)[i]) : ((float *)raw)[i];
  free(raw);
  return f;
}

static void *fetch_raw(gpu_buf g, const char *what) {
  void *raw = malloc(g.bytes);
  gpu_download(B, raw, g, what);
  return raw;
}

static void sync_ok(const char *what) {
  alto_status st = B->i->sync(B);
  CHECKF(st == ALTO_OK, "%s: sync: %s", what, alto_last_error());
}

/* got (the GPU's, as fp32) against ref (the CPU's fp32, rounded here to the output dtype): with
 * no bound (bound NULL, rel 0) bit for bit; else |got - ref| <= bound[i] + rel |ref| (+ one bf16
 * ulp when bf16). NaN only where the reference is NaN. */
static void expect(const char *what, const float *got, const float *ref, int64_t n, bool bf16,
                   const double *bound, double rel) {
  int64_t bad = 0, differ = 0, first = -1;
  double worst = 0;
  bool exact = !bound && rel == 0;
  for (int64_t i = 0; i < n; i++) {
    float r = bf16 ? alto_bf16_to_f32(alto_f32_to_bf16(ref[i])) : ref[i];
    uint32_t gb, rb;
    memcpy(&gb, &got[i], 4);
    memcpy(&rb, &r, 4);
    if (gb == rb || (isnan(got[i]) && isnan(r)))
      continue;
    differ++;
    double tol = exact ? -1 : (bound ? bound[i] : 0) + rel * fabs((double)ref[i]);
    if (!exact && bf16)
      tol += ldexp(fmax(fabs((double)r), fabs((double)got[i])), -7);
    double err = fabs((double)got[i] - (double)r);
    if (!(err <= tol)) { /* NaN err fails too */
      if (!bad++)
        first = i;
    } else if (tol > 0 && err / tol > worst) {
      worst = err / tol;
    }
  }
  CHECKF(bad == 0, "%s: %lld of %lld elements out of tolerance (first %lld: gpu %.9g cpu %.9g)",
         what, (long long)bad, (long long)n, (long long)first, first >= 0 ? got[first] : 0.0,
         first >= 0 ? ref[first] : 0.0);
  if (!exact)
    fprintf(stderr, "    %-44s %lld of %lld not bit-identical, worst err/tol %.3f\n", what,
            (long long)differ, (long long)n, worst);
}

/* Two runs of one op gave the same bytes. */
static void expect_same(const char *what, gpu_buf a, gpu_buf b) {
  void *x = fetch_raw(a, what), *y = fetch_raw(b, what);
  CHECKF(a.bytes == b.bytes && memcmp(x, y, a.bytes) == 0, "%s: two runs differ", what);
  free(x);
  free(y);
}

/* fp32 patterns every conversion to bf16 must get right: ties to even (down and up), a carry
 * into the exponent, overflow to Inf, quiet and signaling NaNs with payloads (both signs), Inf,
 * signed zeros, subnormals (smallest, largest, one that rounds to a normal). */
static const uint32_t SPECIAL_F32[] = {
    0x3F808000u, 0x3F818000u, 0xBF808000u, 0x3F80FFFFu, 0x3FFFFFFFu, 0x7F7FFFFFu, 0xFF7FFFFFu,
    0x7F7F7FFFu, 0x7F7F8000u, 0x7FC00000u, 0x7FC00001u, 0xFFC12345u, 0x7F800001u, 0xFF812345u,
    0x7F800000u, 0xFF800000u, 0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x007F8000u,
    0x00008000u, 0x00018000u, 0x3F800000u, 0x1F800000u};
#define N_SPECIAL_F32 ((int64_t)(sizeof SPECIAL_F32 / sizeof SPECIAL_F32[0]))

/* Writes the special patterns into an fp32 act at element e (and re-uploads it). */
static void act_put_specials(act *a, int64_t e) {
  ALTO_ASSERT(!a->bf16 && e + N_SPECIAL_F32 <= a->n);
  memcpy(a->f + e, SPECIAL_F32, sizeof SPECIAL_F32);
  memcpy((float *)a->dev + e, SPECIAL_F32, sizeof SPECIAL_F32);
  gpu_upload(B, a->g, a->dev);
}

/* The device bytes equal the CPU's fp32 values stored in the output dtype (bf16: alto_f32_to_bf16,
 * the CPU executor's rounding; fp32: the bits), NaN payloads included. */
static void expect_bits(const char *what, gpu_buf g, const float *ref, int64_t n, bool bf16) {
  uint8_t *got = fetch_raw(g, what), *want = malloc((size_t)n * esz(bf16));
  for (int64_t i = 0; i < n; i++)
    if (bf16)
      ((uint16_t *)want)[i] = alto_f32_to_bf16(ref[i]);
    else
      memcpy(want + 4 * i, &ref[i], 4);
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; i++)
    if (memcmp(got + i * (int64_t)esz(bf16), want + i * (int64_t)esz(bf16), esz(bf16)) && !bad++)
      first = i;
  CHECKF(bad == 0, "%s: %lld of %lld elements differ in bits (first %lld)", what, (long long)bad,
         (long long)n, (long long)first);
  free(got);
  free(want);
}

/* ---- embedding ---------------------------------------------------------------------------- */
/* Tokens in [0, V) with a heavy hitter (30% one token: lists longer than the rank kernel's
 * chunk) and a second one, the rest uniform. */
static int32_t *tokens_new(int64_t M, int64_t V) {
  int32_t *t = malloc((size_t)M * 4);
  for (int64_t m = 0; m < M; m++) {
    double u = alto_test_uniform(&rng);
    t[m] = u < 0.3    ? (int32_t)(V / 3)
           : u < 0.35 ? (int32_t)(V - 1)
                      : (int32_t)(alto_test_u64(&rng) % (uint64_t)V);
  }
  return t;
}

static void test_embedding_case(int64_t M, int64_t C, int64_t V, bool bf16) {
  char what[128];
  snprintf(what, sizeof what, "embed M%lld C%lld V%lld %s", (long long)M, (long long)C,
           (long long)V, bf16 ? "bf16" : "f32");
  int32_t *tok = tokens_new(M, V);
  gpu_buf gt = gpu_alloc(B, (size_t)M * 4);
  gpu_upload(B, gt, tok);
  /* forward: the fp32 table (the master weight; the special patterns in the heavy hitter's row)
   * gathered into the output dtype: fp32 bits, or each value rounded to bf16 as the CPU executor
   * rounds the CPU op's fp32 rows */
  act table = act_new(V * C, false, 1.0f);
  if (C >= N_SPECIAL_F32)
    act_put_specials(&table, (V / 3) * C);
  float *ref = malloc((size_t)(M * C) * 4);
  alto_op_embed(ref, tok, table.f, M, C);
  gpu_buf o1 = out_new(M * C, esz(bf16)), o2 = out_new(M * C, esz(bf16));
  alto_elem dt = bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  CHECKF(alto_ops_gpu_embed(B, dt, gpu_ptr(o1), gpu_ptr(gt), gpu_ptr(table.g), M, C, V) == ALTO_OK,
         "%s", alto_last_error());
  CHECK(alto_ops_gpu_embed(B, dt, gpu_ptr(o2), gpu_ptr(gt), gpu_ptr(table.g), M, C, V) == ALTO_OK);
  sync_ok(what);
  expect_bits(what, o1, ref, M * C, bf16);
  expect_same(what, o1, o2);
  free(ref);
  gpu_free(B, &o1), gpu_free(B, &o2);
  act_free(&table);

  /* backward: dtable (fp32, random start) += dout rows, token order per column: bits */
  snprintf(what, sizeof what, "embed_bwd M%lld C%lld V%lld %s", (long long)M, (long long)C,
           (long long)V, bf16 ? "bf16" : "f32");
  act dout = act_new(M * C, bf16, 1.0f);
  act dt0 = act_new(V * C, false, 0.1f);
  float *dref = malloc((size_t)(V * C) * 4);
  memcpy(dref, dt0.f, (size_t)(V * C) * 4);
  alto_op_embed_bwd(dref, tok, dout.f, M, C);
  gpu_buf scratch = gpu_alloc(B, alto_ops_gpu_embed_bwd_scratch_bytes(M, V));
  gpu_buf d2 = out_new(V * C, 4);
  gpu_upload(B, d2, dt0.dev);
  alto_status st = alto_ops_gpu_embed_bwd(B, dt, gpu_ptr(dt0.g), gpu_ptr(gt), gpu_ptr(dout.g), M, C,
                                          V, gpu_ptr(scratch));
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  CHECK(alto_ops_gpu_embed_bwd(B, dt, gpu_ptr(d2), gpu_ptr(gt), gpu_ptr(dout.g), M, C, V,
                               gpu_ptr(scratch)) == ALTO_OK);
  sync_ok(what);
  float *got = fetch(dt0.g, false, V * C, what);
  expect(what, got, dref, V * C, false, NULL, 0);
  expect_same(what, dt0.g, d2);
  free(got);
  free(dref);
  gpu_free(B, &scratch), gpu_free(B, &d2), gpu_free(B, &gt);
  act_free(&dout);
  act_free(&dt0);
  free(tok);
}

static void test_embedding(void) {
  for (int bf = 0; bf < 2; bf++) {
    test_embedding_case(4096 + 96, 4096, 2048, bf);
    test_embedding_case(4096 + 96, 256, 128256, bf);
    test_embedding_case(5, 256, 2048, bf); /* fewer tokens than one chunk */
  }
}

/* ---- RMSNorm ------------------------------------------------------------------------------ */
static void test_rmsnorm_case(int64_t M, int64_t C, bool bf16, bool accumulate) {
  char what[128];
  snprintf(what, sizeof what, "rmsnorm M%lld C%lld %s", (long long)M, (long long)C,
           bf16 ? "bf16" : "f32");
  alto_elem dt = bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  const double eps = 1e-5;
  act x = act_new(M * C, bf16, 1.0f), w = act_new(C, false, 0.3f); /* w: the fp32 master */
  float *ref = malloc((size_t)(M * C) * 4), *rstd = malloc((size_t)M * 4);
  alto_op_rmsnorm(ref, rstd, x.f, w.f, M, C, eps);
  gpu_buf o = out_new(M * C, esz(bf16)), r = out_new(M, 4), o2 = out_new(M * C, esz(bf16)),
          r2 = out_new(M, 4);
  CHECKF(alto_ops_gpu_rmsnorm(B, dt, gpu_ptr(o), gpu_ptr(r), gpu_ptr(x.g), gpu_ptr(w.g), M, C,
                              eps) == ALTO_OK,
         "%s", alto_last_error());
  CHECK(alto_ops_gpu_rmsnorm(B, dt, gpu_ptr(o2), gpu_ptr(r2), gpu_ptr(x.g), gpu_ptr(w.g), M, C,
                             eps) == ALTO_OK);
  sync_ok(what);
  float *got = fetch(o, bf16, M * C, what), *grstd = fetch(r, false, M, what);
  double rel_r = (double)(C + 8) * U;
  expect(what, grstd, rstd, M, false, NULL, rel_r);
  expect(what, got, ref, M * C, bf16, NULL, rel_r + 4 * U);
  expect_same(what, o, o2);
  expect_same(what, r, r2);
  free(got);
  free(grstd);

  /* backward from the CPU's rstd (uploaded), so only the backward's own sums differ */
  snprintf(what, sizeof what, "rmsnorm_bwd M%lld C%lld %s%s", (long long)M, (long long)C,
           bf16 ? "bf16" : "f32", accumulate ? " accumulate" : "");
  act dy = act_new(M * C, bf16, 1.0f), dx0 = act_new(M * C, bf16, 1.0f);
  gpu_buf gr = gpu_alloc(B, (size_t)M * 4);
  gpu_upload(B, gr, rstd);
  float *dx = malloc((size_t)(M * C) * 4), *dw = malloc((size_t)C * 4);
  memcpy(dx, dx0.f, (size_t)(M * C) * 4);
  alto_op_rmsnorm_bwd(dx, dw, dy.f, x.f, w.f, rstd, M, C, accumulate);
  double *bdx = malloc((size_t)(M * C) * sizeof *bdx), *bdw = calloc((size_t)C, sizeof *bdw);
  for (int64_t m = 0; m < M; m++) {
    const float *xr = x.f + m * C, *dyr = dy.f + m * C;
    double A = 0, dot = 0, rr = rstd[m];
    for (int64_t c = 0; c < C; c++) {
      A += fabs((double)w.f[c] * dyr[c] * xr[c]);
      dot += (double)w.f[c] * dyr[c] * xr[c];
      bdw[c] += fabs((double)dyr[c] * xr[c] * rr);
    }
    double coef = dot / (double)C * rr * rr;
    double dcoef = 2.0 * (double)(C + 2) * U * A / (double)C * rr * rr + 4 * U * fabs(coef);
    for (int64_t c = 0; c < C; c++)
      bdx[m * C + c] = rr * fabs((double)xr[c]) * dcoef +
                       4 * U * rr * (fabs((double)w.f[c] * dyr[c]) + fabs(xr[c] * coef)) +
                       (accumulate ? 2 * U * fabs((double)dx[m * C + c]) : 0);
  }
  for (int64_t c = 0; c < C; c++)
    bdw[c] *= 2.0 * (double)(M + 2) * U;
  gpu_buf scratch = gpu_alloc(B, alto_ops_gpu_rmsnorm_bwd_scratch_bytes(M, C));
  gpu_buf gdw = out_new(C, 4), gdx2 = out_new(M * C, esz(bf16)), gdw2 = out_new(C, 4);
  gpu_upload(B, gdx2, dx0.dev);
  alto_status st =
      alto_ops_gpu_rmsnorm_bwd(B, dt, gpu_ptr(dx0.g), gpu_ptr(gdw), gpu_ptr(dy.g), gpu_ptr(x.g),
                               gpu_ptr(w.g), gpu_ptr(gr), M, C, accumulate, gpu_ptr(scratch));
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  CHECK(alto_ops_gpu_rmsnorm_bwd(B, dt, gpu_ptr(gdx2), gpu_ptr(gdw2), gpu_ptr(dy.g), gpu_ptr(x.g),
                                 gpu_ptr(w.g), gpu_ptr(gr), M, C, accumulate,
                                 gpu_ptr(scratch)) == ALTO_OK);
  sync_ok(what);
  float *gdx = fetch(dx0.g, bf16, M * C, what), *gdwf = fetch(gdw, false, C, what);
  expect(what, gdx, dx, M * C, bf16, bdx, 0);
  char what_dw[160];
  snprintf(what_dw, sizeof what_dw, "%s dw", what);
  expect(what_dw, gdwf, dw, C, false, bdw, 0);
  expect_same(what, dx0.g, gdx2);
  expect_same(what_dw, gdw, gdw2);
  free(gdx), free(gdwf), free(dx), free(dw), free(bdx), free(bdw), free(ref), free(rstd);
  gpu_free(B, &o), gpu_free(B, &r), gpu_free(B, &o2), gpu_free(B, &r2), gpu_free(B, &gr);
  gpu_free(B, &scratch), gpu_free(B, &gdw), gpu_free(B, &gdx2), gpu_free(B, &gdw2);
  act_free(&x), act_free(&w), act_free(&dy), act_free(&dx0);
}

static void test_rmsnorm(void) {
  for (int bf = 0; bf < 2; bf++) {
    test_rmsnorm_case(4096 + 96, 4096, bf, false);
    test_rmsnorm_case(4096 + 96, 256, bf, true);
    test_rmsnorm_case(7, 1000, bf, false); /* one partial chunk; C not a multiple of the CTA */
  }
}

/* ---- RoPE --------------------------------------------------------------------------------- */
static void test_rope_case(int64_t M, int64_t T, int64_t NH, int64_t D, int64_t rot, bool bf16,
                           bool in_place) {
  char what[128];
  snprintf(what, sizeof what, "rope M%lld T%lld NH%lld D%lld rot%lld %s%s", (long long)M,
           (long long)T, (long long)NH, (long long)D, (long long)rot, bf16 ? "bf16" : "f32",
           in_place ? " in place" : "");
  alto_elem dt = bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  alto_rope rope = {.theta = 500000,
                    .scaling = ALTO_ROPE_SCALING_LLAMA3,
                    .factor = 8,
                    .low_freq_factor = 1,
                    .high_freq_factor = 4,
                    .original_max_position = 8192};
  int64_t h = rot / 2, n = M * NH * D;
  float *cs = malloc((size_t)(T * h) * 4), *sn = malloc((size_t)(T * h) * 4);
  alto_op_rope_table(cs, sn, &rope, T, rot);
  gpu_buf gc = gpu_alloc(B, (size_t)(T * h) * 4), gs = gpu_alloc(B, (size_t)(T * h) * 4);
  CHECKF(alto_ops_gpu_rope_table(B, &rope, T, rot, gpu_ptr(gc), gpu_ptr(gs)) == ALTO_OK, "%s",
         alto_last_error());
  float *tc = fetch(gc, false, T * h, what), *ts = fetch(gs, false, T * h, what);
  CHECKF(memcmp(tc, cs, (size_t)(T * h) * 4) == 0 && memcmp(ts, sn, (size_t)(T * h) * 4) == 0,
         "%s: uploaded table differs", what);
  free(tc), free(ts);
  for (int bwd = 0; bwd < 2; bwd++) {
    act x = act_new(n, bf16, 1.0f);
    float *ref = malloc((size_t)n * 4);
    (bwd ? alto_op_rope_bwd : alto_op_rope)(ref, x.f, cs, sn, M, T, NH, D, rot);
    gpu_buf o = in_place ? x.g : out_new(n, esz(bf16)), o2 = out_new(n, esz(bf16));
    alto_status (*fn)(alto_backend *, alto_elem, alto_dptr, alto_dptr, alto_dptr, alto_dptr,
                      int64_t, int64_t, int64_t, int64_t, int64_t) =
        bwd ? alto_ops_gpu_rope_bwd : alto_ops_gpu_rope;
    /* the second run first, while x is intact */
    CHECK(fn(B, dt, gpu_ptr(o2), gpu_ptr(x.g), gpu_ptr(gc), gpu_ptr(gs), M, T, NH, D, rot) ==
          ALTO_OK);
    CHECKF(fn(B, dt, gpu_ptr(o), gpu_ptr(x.g), gpu_ptr(gc), gpu_ptr(gs), M, T, NH, D, rot) ==
               ALTO_OK,
           "%s", alto_last_error());
    sync_ok(what);
    float *got = fetch(o, bf16, n, what);
    expect(bwd ? "rope backward" : what, got, ref, n, bf16, NULL, 0);
    expect_same(what, o, o2);
    free(got), free(ref);
    if (!in_place)
      gpu_free(B, &o);
    gpu_free(B, &o2);
    act_free(&x);
  }
  free(cs), free(sn);
  gpu_free(B, &gc), gpu_free(B, &gs);
}

static void test_rope(void) {
  for (int bf = 0; bf < 2; bf++) {
    test_rope_case(4096 + 96, 1000, 8, 128, 128, bf, false); /* positions wrap at T */
    test_rope_case(4096 + 96, 4096, 4, 128, 64, bf, bf);     /* partial rotation */
    test_rope_case(333, 333, 16, 64, 64, bf, true);
    test_rope_case(100, 64, 16, 16, 16, bf, false); /* the debug model's head dim */
    test_rope_case(100, 64, 4, 6, 4, bf, true);     /* not whole vectors: element by element */
  }
}

/* ---- elementwise -------------------------------------------------------------------------- */
static void test_elementwise_case(int64_t N, bool bf16) {
  char what[128];
  alto_elem dt = bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  const char *d = bf16 ? "bf16" : "f32";
  act a = act_new(N, bf16, 2.0f), b = act_new(N, bf16, 1.0f), dy = act_new(N, bf16, 1.0f);
  float *r1 = malloc((size_t)N * 4), *r2 = malloc((size_t)N * 4);
  gpu_buf o1 = out_new(N, esz(bf16)), o2 = out_new(N, esz(bf16)), o3 = out_new(N, esz(bf16)),
          o4 = out_new(N, esz(bf16));

  snprintf(what, sizeof what, "add N%lld %s", (long long)N, d);
  alto_op_add(r1, a.f, b.f, N);
  CHECKF(alto_ops_gpu_add(B, dt, gpu_ptr(o1), gpu_ptr(a.g), gpu_ptr(b.g), N) == ALTO_OK, "%s",
         alto_last_error());
  CHECK(alto_ops_gpu_add(B, dt, gpu_ptr(o2), gpu_ptr(a.g), gpu_ptr(b.g), N) == ALTO_OK);
  sync_ok(what);
  float *got = fetch(o1, bf16, N, what);
  expect(what, got, r1, N, bf16, NULL, 0);
  expect_same(what, o1, o2);
  free(got);

  snprintf(what, sizeof what, "swiglu N%lld %s", (long long)N, d);
  alto_op_swiglu(r1, a.f, b.f, N);
  CHECKF(alto_ops_gpu_swiglu(B, dt, gpu_ptr(o1), gpu_ptr(a.g), gpu_ptr(b.g), N) == ALTO_OK, "%s",
         alto_last_error());
  CHECK(alto_ops_gpu_swiglu(B, dt, gpu_ptr(o2), gpu_ptr(a.g), gpu_ptr(b.g), N) == ALTO_OK);
  sync_ok(what);
  got = fetch(o1, bf16, N, what);
  expect(what, got, r1, N, bf16, NULL, bf16 ? 0 : 6 * U);
  expect_same(what, o1, o2);
  free(got);
  if (N > 1) { /* misaligned by one element: the scalar path */
    CHECK(alto_ops_gpu_swiglu(B, dt, gpu_ptr(o2) + esz(bf16), gpu_ptr(a.g) + esz(bf16),
                              gpu_ptr(b.g) + esz(bf16), N - 1) == ALTO_OK);
    sync_ok(what);
    got = fetch(o2, bf16, N, what);
    expect("swiglu misaligned", got + 1, r1 + 1, N - 1, bf16, NULL, bf16 ? 0 : 6 * U);
    free(got);
  }

  snprintf(what, sizeof what, "swiglu_bwd N%lld %s", (long long)N, d);
  alto_op_swiglu_bwd(r1, r2, dy.f, a.f, b.f, N);
  CHECKF(alto_ops_gpu_swiglu_bwd(B, dt, gpu_ptr(o1), gpu_ptr(o2), gpu_ptr(dy.g), gpu_ptr(a.g),
                                 gpu_ptr(b.g), N) == ALTO_OK,
         "%s", alto_last_error());
  CHECK(alto_ops_gpu_swiglu_bwd(B, dt, gpu_ptr(o3), gpu_ptr(o4), gpu_ptr(dy.g), gpu_ptr(a.g),
                                gpu_ptr(b.g), N) == ALTO_OK);
  sync_ok(what);
  double *bound = malloc((size_t)N * sizeof *bound);
  for (int64_t i = 0; i < N; i++) {
    double s = 1.0 / (1.0 + exp(-(double)a.f[i]));
    bound[i] =
        8 * U * (fabs((double)r1[i]) + fabs((double)dy.f[i] * b.f[i] * s) * (1 + fabs(a.f[i])));
  }
  got = fetch(o1, bf16, N, what);
  expect(what, got, r1, N, bf16, bf16 ? NULL : bound, 0);
  free(got);
  got = fetch(o2, bf16, N, what);
  expect("swiglu_bwd db", got, r2, N, bf16, NULL, bf16 ? 0 : 6 * U);
  free(got);
  expect_same(what, o1, o3);
  expect_same(what, o2, o4);

  /* add in place: out = x */
  alto_op_add(r1, a.f, b.f, N);
  CHECK(alto_ops_gpu_add(B, dt, gpu_ptr(a.g), gpu_ptr(a.g), gpu_ptr(b.g), N) == ALTO_OK);
  sync_ok("add in place");
  got = fetch(a.g, bf16, N, "add in place");
  expect("add in place", got, r1, N, bf16, NULL, 0);
  free(got), free(bound), free(r1), free(r2);
  gpu_free(B, &o1), gpu_free(B, &o2), gpu_free(B, &o3), gpu_free(B, &o4);
  act_free(&a), act_free(&b), act_free(&dy);
}

static void test_elementwise(void) {
  for (int bf = 0; bf < 2; bf++) {
    test_elementwise_case((4096 + 96) * 1024 + 7, bf);
    test_elementwise_case(3, bf);
  }
}

/* ---- cross-entropy ------------------------------------------------------------------------ */
static void test_ce_case(int64_t M, int64_t V, bool bf16, int mode /* 0 out, 1 in place, 2 fwd */) {
  char what[128];
  snprintf(what, sizeof what, "cross_entropy M%lld V%lld %s%s", (long long)M, (long long)V,
           bf16 ? "bf16" : "f32",
           mode == 1   ? " in place"
           : mode == 2 ? " forward only"
                       : "");
  alto_elem dt = bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  act lg = act_new(M * V, bf16, 2.0f);
  int32_t *tg = malloc((size_t)M * 4);
  for (int64_t m = 0; m < M; m++)
    tg[m] = alto_test_uniform(&rng) < 0.1 ? -100 : (int32_t)(alto_test_u64(&rng) % (uint64_t)V);
  int64_t n_valid = 0;
  for (int64_t m = 0; m < M; m++)
    n_valid += tg[m] >= 0;
  float *dref = mode == 2 ? NULL : malloc((size_t)(M * V) * 4);
  double loss = alto_op_cross_entropy(dref, lg.f, tg, M, V);
  gpu_buf gt = gpu_alloc(B, (size_t)M * 4), gl = out_new(2, 8), grl = out_new(M, 8),
          gl2 = out_new(2, 8), grl2 = out_new(M, 8);
  gpu_upload(B, gt, tg);
  gpu_buf gd = mode == 0 ? out_new(M * V, esz(bf16)) : lg.g, gd2 = {0, 0};
  alto_dptr d1 = mode == 2 ? 0 : gpu_ptr(gd), d2 = 0;
  if (mode != 1) { /* the determinism run (not in place: the logits must stay) */
    if (mode == 0)
      gd2 = out_new(M * V, esz(bf16));
    d2 = mode == 0 ? gpu_ptr(gd2) : 0;
    CHECK(alto_ops_gpu_cross_entropy(B, dt, d2, gpu_ptr(gl2), gpu_ptr(grl2), gpu_ptr(lg.g),
                                     gpu_ptr(gt), M, V) == ALTO_OK);
  }
  alto_status st = alto_ops_gpu_cross_entropy(B, dt, d1, gpu_ptr(gl), gpu_ptr(grl), gpu_ptr(lg.g),
                                              gpu_ptr(gt), M, V);
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  sync_ok(what);
  double gloss[2], *rl = malloc((size_t)M * 8);
  gpu_download(B, gloss, gl, what);
  gpu_download(B, rl, grl, what);
  /* row losses against a double recomputation of the CPU's (the CPU returns only the mean) */
  double mean_tol = 0;
  int bad = 0;
  for (int64_t m = 0; m < M; m++) {
    const float *l = lg.f + m * V;
    double ref = 0;
    if (tg[m] >= 0) {
      float mx = -INFINITY;
      for (int64_t v = 0; v < V; v++)
        mx = l[v] > mx ? l[v] : mx;
      double s = 0;
      for (int64_t v = 0; v < V; v++)
        s += exp((double)(l[v] - mx));
      ref = (double)mx + log(s) - (double)l[tg[m]];
    }
    double tol =
        (double)V * ldexp(1, -50) + ldexp(fabs(ref) + fabs((double)l[tg[m] < 0 ? 0 : tg[m]]), -50);
    mean_tol += tol;
    if (!(fabs(rl[m] - ref) <= tol) && bad++ < 5)
      fprintf(stderr, "    %s row %lld: gpu %.17g cpu %.17g\n", what, (long long)m, rl[m], ref);
  }
  CHECKF(bad == 0, "%s: %d row losses out of tolerance", what, bad);
  mean_tol = n_valid ? mean_tol / (double)n_valid : 0;
  CHECKF(fabs(gloss[0] - loss) <= mean_tol + ldexp(fabs(loss), -50) && gloss[1] == (double)n_valid,
         "%s: loss gpu %.17g cpu %.17g (tol %.3g), valid %g vs %lld", what, gloss[0], loss,
         mean_tol, gloss[1], (long long)n_valid);
  if (mode != 1) {
    expect_same(what, gl, gl2);
    expect_same(what, grl, grl2);
  }
  if (dref) {
    double inv_n = n_valid ? 1.0 / (double)n_valid : 0;
    double *bound = malloc((size_t)(M * V) * sizeof *bound);
    for (int64_t i = 0; i < M * V; i++)
      bound[i] = ldexp(fabs((double)dref[i]) + inv_n, -22);
    float *got = fetch(gd, bf16, M * V, what);
    expect(what, got, dref, M * V, bf16, bound, 0);
    if (mode == 0)
      expect_same(what, gd, gd2);
    free(got), free(bound);
  }
  if (mode == 0)
    gpu_free(B, &gd), gpu_free(B, &gd2);
  gpu_free(B, &gt), gpu_free(B, &gl), gpu_free(B, &grl), gpu_free(B, &gl2), gpu_free(B, &grl2);
  act_free(&lg);
  free(tg), free(dref), free(rl);
}

static void test_cross_entropy(void) {
  for (int bf = 0; bf < 2; bf++) {
    test_ce_case(4096 + 96, 2048, bf, 0);
    test_ce_case(1024 + 96, 128256, bf, 0);
    test_ce_case(300, 2048, bf, 1);
    test_ce_case(300, 5000, bf, 2);
    test_ce_case(300, 1001, bf, 0);  /* rows start and end inside 16-byte groups */
    test_ce_case(130, 40000, bf, 1); /* clusters of 4, in place */
  }
}

/* ---- optimizer ---------------------------------------------------------------------------- */
static void test_adamw(void) {
  const int64_t N = (1 << 22) + 7;
  act p = act_new(N, false, 0.05f), g = act_new(N, false, 1e-3f);
  float *m = calloc((size_t)N, 4), *v = calloc((size_t)N, 4);
  gpu_buf gm = gpu_alloc(B, (size_t)N * 4), gv = gpu_alloc(B, (size_t)N * 4);
  gpu_upload(B, gm, m);
  gpu_upload(B, gv, v);
  alto_adamw_hparams h = {
      .lr = 3e-4, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  for (int64_t step = 1; step <= 3; step++) {
    /* step 2: clipped, the factor folded into the GPU's step (the CPU scales the gradient first;
     * the device keeps the unscaled one) */
    const float gs = step == 2 ? 0.3713f : 1.0f;
    if (step == 2)
      for (int64_t i = 0; i < N; i++)
        g.f[i] *= gs;
    alto_op_adamw(p.f, g.f, m, v, N, &h, step);
    /* step 3 also writes the bf16 copy of the new parameter (the bf16 weights of the next
     * forward): a CAST's bits */
    gpu_buf gcopy = gpu_alloc(B, (size_t)N * 2);
    CHECKF(alto_ops_gpu_adamw(B, gpu_ptr(p.g), gpu_ptr(g.g), gpu_ptr(gm), gpu_ptr(gv), N, &h,
                              step, gs, step == 3 ? gpu_ptr(gcopy) : 0) == ALTO_OK,
           "%s", alto_last_error());
    sync_ok("adamw");
    if (step == 3) {
      uint16_t *cp = malloc((size_t)N * 2);
      gpu_download(B, cp, gcopy, "adamw bf16 copy");
      int64_t bad = 0;
      for (int64_t i = 0; i < N; i++)
        bad += cp[i] != alto_f32_to_bf16(p.f[i]);
      CHECKF(bad == 0, "adamw bf16 copy: %lld of %lld differ from the CPU's cast", (long long)bad,
             (long long)N);
      free(cp);
    }
    gpu_free(B, &gcopy);
    float *gp = fetch(p.g, false, N, "adamw param"), *gmm = fetch(gm, false, N, "adamw m"),
          *gvv = fetch(gv, false, N, "adamw v");
    expect("adamw param", gp, p.f, N, false, NULL, 0);
    expect("adamw m", gmm, m, N, false, NULL, 0);
    expect("adamw v", gvv, v, N, false, NULL, 0);
    free(gp), free(gmm), free(gvv);
    h.lr *= 0.5;
    /* a fresh gradient each step, with outliers */
    alto_test_fill_outliers(&rng, g.f, N, 1e-3f);
    gpu_upload(B, g.g, g.f);
  }
  CHECK(alto_ops_gpu_adamw(B, gpu_ptr(p.g), gpu_ptr(g.g), gpu_ptr(gm), gpu_ptr(gv), N, &h, 0, 1.0f,
                           0) == ALTO_ERR_INVALID_ARG);
  free(m), free(v);
  gpu_free(B, &gm), gpu_free(B, &gv);
  act_free(&p), act_free(&g);
}

/* The global norm over two tensors (accumulated), then clipping on the device and by a host scale.
 */
static void test_clip(void) {
  const int64_t N1 = 3 * 1000 * 1000 + 5, N2 = 77;
  act x1 = act_new(N1, false, 1.0f), x2 = act_new(N2, false, 10.0f);
  gpu_buf scratch = gpu_alloc(B, alto_ops_gpu_sumsq_scratch_bytes()), ss = out_new(1, 8),
          ss2 = out_new(1, 8);
  for (int run = 0; run < 2; run++) {
    gpu_buf o = run ? ss2 : ss;
    CHECKF(alto_ops_gpu_sumsq(B, gpu_ptr(o), gpu_ptr(x1.g), N1, false, gpu_ptr(scratch)) == ALTO_OK,
           "%s", alto_last_error());
    CHECK(alto_ops_gpu_sumsq(B, gpu_ptr(o), gpu_ptr(x2.g), N2, true, gpu_ptr(scratch)) == ALTO_OK);
  }
  sync_ok("sumsq");
  double got;
  gpu_download(B, &got, ss, "sumsq");
  double ref = alto_op_sumsq(x1.f, N1) + alto_op_sumsq(x2.f, N2);
  CHECKF(fabs(got - ref) <= 2.0 * (double)(N1 + N2) * ldexp(ref, -53), "sumsq gpu %.17g cpu %.17g",
         got, ref);
  expect_same("sumsq", ss, ss2);
  /* clip to a norm below the actual one (factor < 1), from the GPU's own sum of squares */
  double max_norm = 0.25 * sqrt(ref);
  float s = (float)alto_op_clip_factor(sqrt(got), max_norm);
  CHECK(s < 1.0f);
  alto_op_scale(x1.f, N1, s);
  CHECKF(alto_ops_gpu_clip(B, gpu_ptr(x1.g), N1, gpu_ptr(ss), max_norm) == ALTO_OK, "%s",
         alto_last_error());
  sync_ok("clip");
  float *g1 = fetch(x1.g, false, N1, "clip");
  expect("clip", g1, x1.f, N1, false, NULL, 0);
  free(g1);
  alto_op_scale(x2.f, N2, 0.37f);
  CHECK(alto_ops_gpu_scale(B, gpu_ptr(x2.g), N2, 0.37f) == ALTO_OK);
  sync_ok("scale");
  float *g2 = fetch(x2.g, false, N2, "scale");
  expect("scale", g2, x2.f, N2, false, NULL, 0);
  free(g2);
  /* by a device factor (the two-level NVFP4 GEMMs' alpha): 0.37 again, then 1 / 1024 */
  const float f[2] = {0.37f, 1.0f / 1024};
  gpu_buf fd = out_new(2, 4);
  gpu_upload(B, fd, f);
  for (int k = 0; k < 2; k++) {
    alto_op_scale(x2.f, N2, f[k]);
    CHECKF(alto_ops_gpu_scale_by(B, gpu_ptr(x2.g), N2, gpu_ptr(fd) + 4 * (alto_dptr)k) == ALTO_OK,
           "%s", alto_last_error());
  }
  CHECK(alto_ops_gpu_scale_by(B, gpu_ptr(x2.g), N2, 0) == ALTO_ERR_INVALID_ARG);
  sync_ok("scale_by");
  g2 = fetch(x2.g, false, N2, "scale_by");
  expect("scale_by", g2, x2.f, N2, false, NULL, 0);
  free(g2);
  gpu_free(B, &fd);
  /* an empty tensor's sum of squares is 0 */
  CHECK(alto_ops_gpu_sumsq(B, gpu_ptr(ss2), gpu_ptr(x1.g), 0, false, gpu_ptr(scratch)) == ALTO_OK);
  sync_ok("sumsq empty");
  gpu_download(B, &got, ss2, "sumsq empty");
  CHECK(got == 0.0);
  gpu_free(B, &scratch), gpu_free(B, &ss), gpu_free(B, &ss2);
  act_free(&x1), act_free(&x2);
}

/* ---- casts -------------------------------------------------------------------------------- */
/* Every pair of bf16 / fp32. fp32 inputs: each bf16 pattern (all 65536: every sign, exponent, NaN
 * payload) with the low halves 0, 0x7FFF, 0x8000 (the ties), 0x8001, 0xFFFF, and random ones,
 * then the special patterns and random values (N odd); bf16 inputs: all 65536 patterns, then
 * random ones. The result's bytes against alto_f32_to_bf16 / the exact widening / the input's. */
static void test_cast_case(bool in_bf16, bool out_bf16, int64_t N) {
  char what[96];
  snprintf(what, sizeof what, "cast %s -> %s N%lld", in_bf16 ? "bf16" : "f32",
           out_bf16 ? "bf16" : "f32", (long long)N);
  static const uint32_t lows[] = {0x0000u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu, 0};
  uint32_t *x32 = malloc((size_t)N * 4);
  uint16_t *x16 = malloc((size_t)N * 2);
  for (int64_t i = 0; i < N; i++) {
    uint32_t r = alto_test_u32(&rng);
    int64_t sweep = i / 65536;
    if (in_bf16) {
      x16[i] = i < 65536 ? (uint16_t)i : (uint16_t)r;
    } else if (sweep < 6) {
      uint32_t lo = sweep < 5 ? lows[sweep] : (r & 0xFFFFu);
      x32[i] = (uint32_t)(i % 65536) << 16 | lo;
    } else if (i - 6 * 65536 < N_SPECIAL_F32) {
      x32[i] = SPECIAL_F32[i - 6 * 65536];
    } else {
      float f = (float)alto_test_normal(&rng);
      memcpy(&x32[i], &f, 4);
      if (i % 3 == 0)
        x32[i] = r; /* any pattern */
    }
  }
  size_t in_sz = in_bf16 ? 2 : 4, out_sz = out_bf16 ? 2 : 4;
  void *want = malloc((size_t)N * out_sz);
  for (int64_t i = 0; i < N; i++) {
    uint32_t v = in_bf16 ? (uint32_t)x16[i] << 16 : x32[i]; /* the value as fp32 bits */
    float f;
    memcpy(&f, &v, 4);
    if (out_bf16)
      ((uint16_t *)want)[i] = in_bf16 ? x16[i] : alto_f32_to_bf16(f);
    else
      ((uint32_t *)want)[i] = v;
  }
  gpu_buf gx = gpu_alloc(B, (size_t)N * in_sz), go = out_new(N, out_sz);
  gpu_upload(B, gx, in_bf16 ? (void *)x16 : (void *)x32);
  alto_elem in_dt = in_bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  alto_elem out_dt = out_bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  CHECKF(alto_ops_gpu_cast(B, gpu_ptr(go), out_dt, gpu_ptr(gx), in_dt, N) == ALTO_OK, "%s: %s",
         what, alto_last_error());
  sync_ok(what);
  uint8_t *got = fetch_raw(go, what);
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < N; i++)
    if (memcmp(got + i * (int64_t)out_sz, (uint8_t *)want + i * (int64_t)out_sz, out_sz) && !bad++)
      first = i;
  CHECKF(bad == 0, "%s: %lld elements differ in bits (first %lld)", what, (long long)bad,
         (long long)first);
  free(got), free(want), free(x32), free(x16);
  gpu_free(B, &gx), gpu_free(B, &go);
}

static void test_cast(void) {
  const int64_t N = 6 * 65536 + 2 * 1000 * 1000 + 7;
  for (int in_bf = 0; in_bf < 2; in_bf++)
    for (int out_bf = 0; out_bf < 2; out_bf++) {
      test_cast_case(in_bf, out_bf, N);
      test_cast_case(in_bf, out_bf, 3);
    }
  /* in place between equal dtypes is a copy; between different sizes it is refused */
  CHECK(alto_ops_gpu_cast(B, 256, ALTO_ELEM_BF16, 256, ALTO_ELEM_F32, 8) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_ops_gpu_cast(B, 0, ALTO_ELEM_E4M3, 0, ALTO_ELEM_F32, 8) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_ops_gpu_cast(B, 0, ALTO_ELEM_F32, 0, ALTO_ELEM_BF16, 0) == ALTO_OK); /* empty */
}

/* ---- DGE ---------------------------------------------------------------------------------- */
/* dw *= g(w / scale) on an MXFP4 weight (E, R, C) (E > 1: flattened to E R rows), 1-D blocks
 * along either axis or 2-D blocks, against alto_cpu_dge: bit for bit (NaN as NaN). w: random
 * with outliers, the special patterns (NaN and Inf blocks: scale 0xFF, or clamped), and, after
 * quantizing, every 37th element moved onto an E2M1 interval edge or midpoint of its block's
 * scale (where g is 3, or its branches meet). */
static void test_dge_case(int64_t E, int64_t R, int64_t C, int axis, bool block2d) {
  char what[96];
  snprintf(what, sizeof what, "dge E%lld R%lld C%lld %s", (long long)E, (long long)R, (long long)C,
           block2d      ? "32x32"
           : axis == -1 ? "1x32"
                        : "32x1");
  const int64_t n = E * R * C;
  act w = act_new(n, false, 0.02f), dw = act_new(n, false, 1e-3f);
  act_put_specials(&w, n / 2);
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  spec.axis = axis;
  spec.block2d = block2d;
  alto_tensor_view v = {w.f, ALTO_ELEM_F32, E > 1 ? 3 : 2, {E > 1 ? E : R, E > 1 ? R : C, C}};
  alto_quantized q;
  CHECKF(alto_cpu_quantize(&spec, &v, &q) == ALTO_OK, "%s: %s", what, alto_last_error());
  static const float edges[] = {0.25f, 0.5f, 0.75f, 1.0f, 1.25f, 1.75f, 2.0f,
                                2.5f,  3.0f, 3.5f,  4.0f, 5.0f,  6.0f,  7.0f};
  const uint8_t *sc = q.scales;
  for (int64_t i = 0; i < n; i += 37) {
    int64_t e = i / (R * C), r = i / C % R, c = i % C;
    uint8_t s8 = sc[(e * q.layout.scale_dims[1] + r / q.layout.block_r) * q.layout.scale_dims[2] +
                    c / q.layout.block_c];
    if (s8 == 0xFF)
      continue;
    float m = edges[(i / 37) % (int64_t)(sizeof edges / sizeof edges[0])];
    w.f[i] = (i & 1 ? -m : m) * ldexpf(1.0f, (int)s8 - 127);
    ((float *)w.dev)[i] = w.f[i];
  }
  gpu_upload(B, w.g, w.dev);
  float *ref = malloc((size_t)n * 4);
  memcpy(ref, dw.f, (size_t)n * 4);
  CHECKF(alto_cpu_dge(&spec, &v, &q, ref) == ALTO_OK, "%s: %s", what, alto_last_error());
  gpu_buf gs = gpu_alloc(B, (size_t)q.layout.scale_count);
  gpu_upload(B, gs, q.scales);
  alto_status st =
      alto_ops_gpu_dge(B, gpu_ptr(dw.g), gpu_ptr(w.g), gpu_ptr(gs), &q.layout, E * R, C);
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  sync_ok(what);
  float *got = fetch(dw.g, false, n, what);
  expect(what, got, ref, n, false, NULL, 0);
  int64_t nans = 0;
  for (int64_t i = 0; i < n; i++)
    nans += isnan(ref[i]);
  CHECKF(nans > 0 && nans < n / 2, "%s: %lld NaN results (the NaN blocks)", what, (long long)nans);
  /* a layout that does not describe (E R, C) is refused */
  CHECK(alto_ops_gpu_dge(B, gpu_ptr(dw.g), gpu_ptr(w.g), gpu_ptr(gs), &q.layout, E * R + 32, C) ==
        ALTO_ERR_INVALID_ARG);
  free(got), free(ref);
  alto_quantized_free(&q);
  gpu_free(B, &gs);
  act_free(&w), act_free(&dw);
}

static void test_dge(void) {
  test_dge_case(1, 1024 + 96, 512, -1, true); /* 2-D blocks, R and C multiples of 32 */
  test_dge_case(1, 1024 + 96, 512, -1, false);
  test_dge_case(1, 1024 + 96, 512, -2, false);
  test_dge_case(1, 77, 96, -1, false); /* 1-D: the other dim anything */
  test_dge_case(1, 64, 77, -2, false);
  test_dge_case(3, 64, 96, -1, true); /* 3-D (experts), flattened */
}

/* ---- transpose ---------------------------------------------------------------------------- */
static void test_transpose_case(int64_t rows, int64_t cols, int eb) {
  char what[96];
  snprintf(what, sizeof what, "transpose %lld x %lld, %d-byte elements", (long long)rows,
           (long long)cols, eb);
  const size_t bytes = (size_t)(rows * cols) * (size_t)eb;
  uint8_t *x = malloc(bytes > 0 ? bytes : 1), *want = malloc(bytes > 0 ? bytes : 1);
  for (size_t i = 0; i < bytes; i++)
    x[i] = (uint8_t)alto_test_u32(&rng);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++)
      memcpy(want + (size_t)(c * rows + r) * (size_t)eb, x + (size_t)(r * cols + c) * (size_t)eb,
             (size_t)eb);
  gpu_buf gx = gpu_alloc(B, bytes), go = gpu_alloc(B, bytes);
  gpu_upload(B, gx, x);
  CHECKF(alto_ops_gpu_transpose(B, gpu_ptr(go), gpu_ptr(gx), rows, cols, eb) == ALTO_OK, "%s: %s",
         what, alto_last_error());
  sync_ok(what);
  uint8_t *got = fetch_raw(go, what); /* guard bytes checked */
  CHECKF(memcmp(got, want, bytes) == 0, "%s: differs", what);
  free(got), free(x), free(want);
  gpu_free(B, &gx), gpu_free(B, &go);
}

static void test_transpose(void) {
  test_transpose_case(4096 + 96, 7168, 1); /* an FP8 operand, rows not a multiple of the tile */
  test_transpose_case(7168, 4096 + 96, 1);
  test_transpose_case(4096 + 96, 7168 / 32, 4); /* its fp32 scales (1x32 blocks) */
  /* bytes in whole 64 x 64 tiles: the vector path (alto_transpose_u8_64), many tiles per CTA */
  test_transpose_case(8192, 2048, 1);
  test_transpose_case(192, 8192 + 64, 1);
  for (int eb = 1; eb <= 4; eb *= 2) {
    test_transpose_case(129, 33, eb);
    test_transpose_case(64, 64, eb); /* exactly one tile (eb 4: four) */
    test_transpose_case(1, 1000, eb);
    test_transpose_case(1000, 1, eb);
    test_transpose_case(3, 5, eb);
  }
  CHECK(alto_ops_gpu_transpose(B, 0, 0, 4, 4, 3) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_ops_gpu_transpose(B, 256, 256, 4, 4, 1) == ALTO_ERR_INVALID_ARG); /* in place */
  CHECK(alto_ops_gpu_transpose(B, 0, 0, 0, 4, 1) == ALTO_OK);                  /* empty */
}

/* Bad arguments are refused with a message, not launched. */
static void test_bad_args(void) {
  CHECK(alto_ops_gpu_add(B, ALTO_ELEM_E4M3, 0, 0, 0, 8) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_ops_gpu_rmsnorm(B, ALTO_ELEM_F32, 0, 0, 0, 0, 4, 40000, 1e-5) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_ops_gpu_rope(B, ALTO_ELEM_F32, 0, 0, 0, 0, 4, 4, 2, 64, 65) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_ops_gpu_swiglu(B, ALTO_ELEM_F32, 0, 0, 0, -1) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_ops_gpu_swiglu(B, ALTO_ELEM_F32, 0, 0, 0, 0) == ALTO_OK); /* empty: nothing launched */
}

int main(void) {
  if (alto_backend_open("cuda", &B) != ALTO_OK)
    alto_test_skip(alto_last_error());
  fprintf(stderr, "GPU: %s (%s)\n", B->device_name, B->arch);
  rng.s = alto_test_seed();
  RUN(test_bad_args);
  RUN(test_elementwise);
  RUN(test_adamw);
  RUN(test_clip);
  RUN(test_rope);
  RUN(test_rmsnorm);
  RUN(test_embedding);
  RUN(test_cross_entropy);
  RUN(test_cast);
  RUN(test_dge);
  RUN(test_transpose);
  alto_backend_close(B);
  return alto_test_finish();
}
