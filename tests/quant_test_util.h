/* Helpers shared by the CPU quantizer tests: views, bf16 copies, guarded output buffers, and
 * element/scale accessors written from the layout text of quant.h (not from the library code). */
#ifndef ALTO_TESTS_QUANT_TEST_UTIL_H
#define ALTO_TESTS_QUANT_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "runtime/cpu/quant.h"
#include "tests/harness.h"

static inline alto_tensor_view qt_view(const void *data, alto_elem dtype, int64_t E, int64_t R,
                                       int64_t C) {
  alto_tensor_view v;
  memset(&v, 0, sizeof v);
  v.data = data;
  v.dtype = dtype;
  if (E > 0) {
    v.ndim = 3;
    v.dims[0] = E, v.dims[1] = R, v.dims[2] = C;
  } else {
    v.ndim = 2;
    v.dims[0] = R, v.dims[1] = C;
  }
  return v;
}

static inline uint16_t *qt_to_bf16(const float *x, int64_t n) {
  uint16_t *h = malloc((size_t)n * sizeof *h);
  for (int64_t i = 0; i < n; i++)
    h[i] = alto_f32_to_bf16(x[i]);
  return h;
}

/* Guard bytes around buffers that library routines write into. */
#define QT_GUARD 64
static inline void *qt_guarded_alloc(size_t bytes) {
  uint8_t *p = malloc(bytes + 2 * QT_GUARD);
  memset(p, 0xA5, QT_GUARD);
  memset(p + QT_GUARD, 0x5A, bytes);
  memset(p + QT_GUARD + bytes, 0xA5, QT_GUARD);
  return p + QT_GUARD;
}
/* Checks both guards and frees; returns true when they survived. */
static inline bool qt_guarded_free(void *buf, size_t bytes) {
  uint8_t *p = (uint8_t *)buf - QT_GUARD;
  bool ok = true;
  for (size_t i = 0; i < QT_GUARD; i++)
    ok = ok && p[i] == 0xA5 && p[QT_GUARD + bytes + i] == 0xA5;
  free(p);
  return ok;
}

/* Dequantizes into a guarded buffer (canaries checked), returned as fp32 in a plain buffer. */
static inline float *qt_dequant(const alto_quant_spec *spec, const alto_quantized *q,
                                alto_elem dtype, int64_t n) {
  size_t bytes = (size_t)n * (dtype == ALTO_ELEM_BF16 ? 2 : 4);
  void *g = qt_guarded_alloc(bytes);
  alto_status st = alto_cpu_dequantize(spec, q, dtype, g);
  CHECKF(st == ALTO_OK, "dequantize: %s", alto_last_error());
  float *y = malloc((size_t)n * sizeof *y);
  for (int64_t i = 0; i < n; i++)
    y[i] = dtype == ALTO_ELEM_BF16 ? alto_bf16_to_f32(((uint16_t *)g)[i]) : ((float *)g)[i];
  CHECKF(qt_guarded_free(g, bytes), "dequantize wrote outside its output");
  return y;
}

static inline bool qt_is_e2m1(alto_scheme s) {
  return s == ALTO_SCHEME_MXFP4 || s == ALTO_SCHEME_NVFP4;
}

/* The code of element (e, r, c), per NUMERICS.md 1 / quant.h. */
static inline uint8_t qt_code(const alto_quantized *q, const alto_quant_spec *spec, int64_t e,
                              int64_t r, int64_t c, int64_t R, int64_t C) {
  if (!qt_is_e2m1(spec->scheme))
    return q->codes[(e * R + r) * C + c];
  if (spec->axis == -1)
    return (uint8_t)((q->codes[(e * R + r) * (C / 2) + c / 2] >> ((c & 1) * 4)) & 0xF);
  return (uint8_t)((q->codes[(e * (R / 2) + r / 2) * C + c] >> ((r & 1) * 4)) & 0xF);
}

/* The byte scale of element (e, r, c), per quant.h: [E, R, C/B], [E, R/B, C] or [E, R/B, C/B]. */
static inline uint8_t qt_scale(const alto_quantized *q, const alto_quant_spec *spec, int64_t e,
                               int64_t r, int64_t c, int64_t R, int64_t C) {
  int B = spec->scheme == ALTO_SCHEME_NVFP4 ? 16 : 32;
  int64_t br = (spec->block2d || spec->axis == -2) ? B : 1;
  int64_t bc = (spec->block2d || spec->axis == -1) ? B : 1;
  return ((const uint8_t *)q->scales)[(e * (R / br) + r / br) * (C / bc) + c / bc];
}

static inline bool qt_contains(const char *s, const char *sub) {
  return strstr(s, sub) != NULL;
}

#endif
