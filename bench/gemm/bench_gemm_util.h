/* Shared by the GEMM benchmarks (bench_cublaslt.c, bench_gemm.c): the timing method (3 warm-up
 * calls, then the median of 7 timings of `iters` back-to-back calls with device events), the
 * random 1 MiB host patterns and the device fill that repeats them. Header-only; include once per
 * benchmark. */
#ifndef ALTO_BENCH_GEMM_UTIL_H
#define ALTO_BENCH_GEMM_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "runtime/backend.h"
#include "runtime/cuda/driver.h"
#include "tests/harness.h"

static int bench_cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Milliseconds per call of run(ctx), or NaN when timing fails or *st (the call's status) is set. */
static float bench_median_ms(alto_backend *b, void (*run)(void *), void *ctx,
                             const alto_status *st, int iters) {
  float t[7], ms;
  for (int w = 0; w < 3; w++)
    run(ctx);
  for (int r = 0; r < 7; r++) {
    if (b->i->time_ms(b, run, ctx, iters, &ms) != ALTO_OK || *st != ALTO_OK)
      return NAN;
    t[r] = ms / (float)iters;
  }
  qsort(t, 7, sizeof t[0], bench_cmp_float);
  return t[3];
}

/* Fills a device buffer of `bytes` with a repeated host pattern of pat_bytes. */
static alto_status bench_fill_pattern(alto_cuda_ptr dst, size_t bytes, const void *pat,
                                      size_t pat_bytes) {
  for (size_t off = 0; off < bytes; off += pat_bytes) {
    size_t n = bytes - off < pat_bytes ? bytes - off : pat_bytes;
    ALTO_TRY(alto_cuda_h2d(dst + off, pat, n));
  }
  return ALTO_OK;
}

enum { BENCH_PAT_BYTES = 1 << 20 };
static uint16_t pat_bf16[BENCH_PAT_BYTES / 2];
static uint8_t pat_e4m3[BENCH_PAT_BYTES], pat_e2m1[BENCH_PAT_BYTES], pat_e8m0[BENCH_PAT_BYTES];
static float pat_scale[BENCH_PAT_BYTES / 4];

/* The patterns (fixed seed): bf16 randn with outliers; E4M3 codes sign | exponent 4..11 |
 * mantissa (never 0 or NaN); E2M1 nibble pairs with E8M0 exponents 120..127 (spans <= 7 binades:
 * the MXFP4 -> E4M3 conversion is exact); fp32 scales in [0.002, 0.006). */
static void bench_make_patterns(void) {
  alto_test_rng rng = {0x5eed};
  static float f[BENCH_PAT_BYTES / 2];
  alto_test_fill_outliers(&rng, f, BENCH_PAT_BYTES / 2, 1.0f);
  for (int i = 0; i < BENCH_PAT_BYTES / 2; i++)
    pat_bf16[i] = alto_f32_to_bf16(f[i]);
  for (int i = 0; i < BENCH_PAT_BYTES; i++) {
    uint32_t r = alto_test_u32(&rng);
    pat_e4m3[i] = (uint8_t)((r & 0x80) | ((4 + (r >> 8) % 8) << 3) | ((r >> 16) & 7));
    pat_e2m1[i] = (uint8_t)(r >> 20);
    pat_e8m0[i] = (uint8_t)(120 + (r >> 28) % 8);
  }
  for (int i = 0; i < BENCH_PAT_BYTES / 4; i++)
    pat_scale[i] = (float)(0.002 + 0.004 * alto_test_uniform(&rng));
}

#endif
