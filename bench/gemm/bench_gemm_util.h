/* Shared by the GEMM benchmarks (bench_cublaslt.c, bench_gemm.c): the timing method (3 warm-up
 * calls, then the median of 7 timings of `iters` back-to-back calls with device events) and the
 * device fill from a repeated random host pattern. Header-only; include once per benchmark. */
#ifndef ALTO_BENCH_GEMM_UTIL_H
#define ALTO_BENCH_GEMM_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "runtime/backend.h"
#include "runtime/cuda/driver.h"

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

#endif
