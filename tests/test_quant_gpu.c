/* Every quantization variant on the GPU (generated, JIT-compiled) equals the CPU reference bit for
 * bit: codes, scales, outer scales, SR included; RHT fused into the column quantization; the
 * dequantizers; MX9/MX6. Fresh random data with outliers, NaN and Inf blocks, shapes with tails,
 * guard bytes around every output. Skips without a GPU. */
#include <math.h>
#include <string.h>

#include "runtime/cpu/ops.h"
#include "runtime/cpu/quant.h"
#include "runtime/ops_gpu.h"
#include "runtime/quant_gpu.h"
#include "runtime/quant_matrix.h"
#include "tests/gpu_util.h"
#include "tests/harness.h"

static alto_backend *B;
static alto_test_rng rng;

static int same_bits_f32(const float *a, const float *b, int64_t n, int64_t *first) {
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t x, y;
    memcpy(&x, &a[i], 4);
    memcpy(&y, &b[i], 4);
    if (x != y && !(isnan(a[i]) && isnan(b[i]))) {
      if (!bad)
        *first = i;
      bad++;
    }
  }
  return bad;
}

static int64_t first_diff(const uint8_t *a, const uint8_t *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return i;
  return -1;
}

/* x: fp32 values (randn + 0.5% x100 outliers), with a NaN block and an Inf block when asked. */
static void make_input(float *x, int64_t rows, int64_t cols, int specials) {
  alto_test_fill_outliers(&rng, x, rows * cols, 1.0f);
  if (specials) { /* at fixed places when the shape has them (small shapes: the last rows) */
    int64_t r0 = rows > 5 ? 5 : 0, r1 = rows > 71 ? 70 : rows - 1, c1 = cols > 201 ? 200 : 0;
    x[r0 * cols + (cols > 40 ? 40 : 0)] = NAN; /* one NaN: its block (any orientation) is NaN */
    x[r1 * cols + c1] = INFINITY;              /* one Inf */
    if (c1 + 1 < cols)
      x[(r1 + 1 < rows ? r1 + 1 : r1) * cols + c1 + 1] = -INFINITY;
  }
}

/* Downloads a GPU quantization and compares it with the CPU reference's, byte for byte. */
static void compare_quant(const alto_quantized *ref, gpu_buf gc, gpu_buf gs, const char *what,
                          const char *copy) {
  uint8_t *codes = malloc(gc.bytes), *scales = malloc(gs.bytes);
  gpu_download(B, codes, gc, what);
  gpu_download(B, scales, gs, what);
  int64_t d = first_diff(ref->codes, codes, (int64_t)gc.bytes);
  CHECKF(d < 0, "%s (%s): codes differ first at byte %lld", what, copy, (long long)d);
  d = first_diff(ref->scales, scales, (int64_t)gs.bytes);
  CHECKF(d < 0, "%s (%s): scales differ first at byte %lld", what, copy, (long long)d);
  free(codes);
  free(scales);
}

/* The dual-output kernel against two CPU quantizations: x along K, and R x along M. */
static void run_dual(const alto_qcase *c, const alto_tensor_view *x, gpu_buf gx, const char *what) {
  alto_quant_spec f = c->spec, w = c->spec;
  w.axis = -2;
  w.stream = c->spec.stream + 1;
  alto_gpu_rht rht = {c->rht, 0x77, alto_stream_id(4, 1, 3, ALTO_RNG_RHT), 0};
  int64_t n = alto_tensor_numel(x);
  size_t esz = x->dtype == ALTO_ELEM_BF16 ? 2 : 4;
  void *xr = malloc((size_t)n * esz);
  CHECK(alto_cpu_rht(x, rht.b, rht.seed, rht.stream, x->dtype, xr) == ALTO_OK);
  alto_tensor_view xrv = *x;
  xrv.data = xr;
  alto_quantized rf, rw;
  CHECKF(alto_cpu_quantize(&f, x, &rf) == ALTO_OK, "%s", alto_last_error());
  CHECKF(alto_cpu_quantize(&w, &xrv, &rw) == ALTO_OK, "%s", alto_last_error());
  gpu_buf cf = gpu_alloc(B, (size_t)rf.layout.codes_bytes),
          sf = gpu_alloc(B, (size_t)(rf.layout.scale_count * rf.layout.scale_bytes)),
          cw = gpu_alloc(B, (size_t)rw.layout.codes_bytes),
          sw = gpu_alloc(B, (size_t)(rw.layout.scale_count * rw.layout.scale_bytes));
  alto_gpu_quantized qf = {gpu_ptr(cf), gpu_ptr(sf), 0, 0, false, false, 0, 0, false},
                     qw = {gpu_ptr(cw), gpu_ptr(sw), 0, 0, false, false, 0, 0, false};
  alto_status st = alto_gpu_quantize_dual(B, &f, &w, x, gpu_ptr(gx), &rht, &qf, &qw);
  CHECKF(st == ALTO_OK, "%s: %s", what, alto_last_error());
  compare_quant(&rf, cf, sf, what, "fprop copy");
  compare_quant(&rw, cw, sw, what, "wgrad copy");
  gpu_free(B, &cf), gpu_free(B, &sf), gpu_free(B, &cw), gpu_free(B, &sw);
  alto_quantized_free(&rf);
  alto_quantized_free(&rw);
  free(xr);
}

/* Every input is multiplied by this power of two (the extreme-scale cases of test_matrix). */
static float input_scale = 1.0f;

static void run_case(const alto_qcase *c, alto_elem dtype, int ndim, const int64_t *dims) {
  alto_tensor_view x = {NULL, dtype, ndim, {dims[0], dims[1], ndim == 3 ? dims[2] : 0}};
  int64_t n = alto_tensor_numel(&x), cols = dims[ndim - 1], rows = n / cols;
  float *xf = malloc((size_t)n * 4);
  uint16_t *xb = malloc((size_t)n * 2);
  int specials =
      c->kind == ALTO_QCASE_MX69 || (c->spec.scheme != ALTO_SCHEME_FP8_TENSORWISE &&
                                     !(c->spec.scheme == ALTO_SCHEME_NVFP4 && c->spec.two_level));
  make_input(xf, rows, cols, specials);
  for (int64_t i = 0; i < n; i++) {
    xf[i] *= input_scale; /* a power of two: exact, barring fp32 underflow */
    xb[i] = alto_f32_to_bf16(xf[i]);
    if (dtype == ALTO_ELEM_BF16)
      xf[i] = alto_bf16_to_f32(xb[i]);
  }
  x.data = dtype == ALTO_ELEM_BF16 ? (const void *)xb : (const void *)xf;
  size_t esz = dtype == ALTO_ELEM_BF16 ? 2 : 4;
  gpu_buf gx = gpu_alloc(B, (size_t)n * esz);
  gpu_upload(B, gx, x.data);
  char what[200];
  snprintf(what, sizeof what, "%s %s [%lld x %lld]", c->label,
           dtype == ALTO_ELEM_BF16 ? "bf16" : "f32", (long long)rows, (long long)cols);

  if (c->kind == ALTO_QCASE_MX69) {
    void *ref = malloc((size_t)n * esz), *got = malloc((size_t)n * esz);
    CHECKF(alto_cpu_mx69_fake(&x, c->quant_bit, c->group_size, ref) == ALTO_OK, "%s",
           alto_last_error());
    gpu_buf gy = gpu_alloc(B, (size_t)n * esz);
    alto_status st = alto_gpu_mx69(B, &x, gpu_ptr(gx), c->quant_bit, c->group_size, gpu_ptr(gy));
    CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "%s: %s", what, alto_last_error());
    gpu_download(B, got, gy, what);
    int64_t d = first_diff(ref, got, n * (int64_t)esz);
    CHECKF(d < 0, "%s: mx69 output differs at byte %lld", what, (long long)d);
    gpu_free(B, &gy);
    free(ref);
    free(got);
    gpu_free(B, &gx);
    free(xf);
    free(xb);
    return;
  }

  if (c->kind == ALTO_QCASE_DUAL) {
    run_dual(c, &x, gx, what);
    gpu_free(B, &gx);
    free(xf);
    free(xb);
    return;
  }

  /* CPU reference: RHT (rounded to the input dtype) then quantize */
  const alto_quant_spec *spec = &c->spec;
  alto_tensor_view xq = x;
  void *xr = NULL;
  alto_gpu_rht rht = {c->rht, 0x1234, alto_stream_id(2, 5, 9, ALTO_RNG_RHT), 0};
  if (c->rht && ndim == 2) /* the uploaded-table path on the big shape, per-call on the small */
    CHECKF(alto_gpu_rht_upload(B, &rht) == ALTO_OK, "%s", alto_last_error());
  if (c->rht) {
    xr = malloc((size_t)n * esz);
    CHECKF(alto_cpu_rht(&x, c->rht, rht.seed, rht.stream, dtype, xr) == ALTO_OK, "%s",
           alto_last_error());
    xq.data = xr;
  }
  alto_quantized ref;
  alto_status st = alto_cpu_quantize(spec, &xq, &ref);
  CHECKF(st == ALTO_OK, "%s: cpu: %s", what, alto_last_error());
  if (st != ALTO_OK) {
    gpu_free(B, &gx);
    free(xf), free(xb), free(xr);
    return;
  }
  const alto_quant_layout *L = &ref.layout;
  size_t scale_bytes = (size_t)L->scale_count * (size_t)L->scale_bytes;
  gpu_buf gc = gpu_alloc(B, (size_t)L->codes_bytes), gs = gpu_alloc(B, scale_bytes),
          go = gpu_alloc(B, 4), gt = gpu_alloc(B, 4);
  alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), gpu_ptr(go), gpu_ptr(gt), false, false, 0, 0, false};
  st = alto_gpu_quantize(B, spec, &x, gpu_ptr(gx), c->rht ? &rht : NULL, &q);
  CHECKF(st == ALTO_OK, "%s: gpu: %s", what, alto_last_error());
  st = B->i->sync(B);
  CHECKF(st == ALTO_OK, "%s: sync: %s", what, alto_last_error());
  uint8_t *codes = malloc((size_t)L->codes_bytes), *scales = malloc(scale_bytes);
  float outer = 0;
  gpu_download(B, codes, gc, what);
  gpu_download(B, scales, gs, what);
  gpu_download(B, &outer, go, what);
  int64_t d = first_diff(ref.codes, codes, L->codes_bytes);
  CHECKF(d < 0, "%s: codes differ first at byte %lld (cpu 0x%02x gpu 0x%02x)", what, (long long)d,
         d >= 0 ? ref.codes[d] : 0, d >= 0 ? codes[d] : 0);
  d = first_diff(ref.scales, scales, (int64_t)scale_bytes);
  CHECKF(d < 0, "%s: scales differ first at byte %lld", what, (long long)d);
  if (spec->scheme == ALTO_SCHEME_NVFP4)
    CHECKF(memcmp(&outer, &ref.outer, 4) == 0, "%s: outer %a vs %a", what, outer, ref.outer);

  /* dequantize on the GPU from the GPU's codes, both output dtypes */
  for (int od = 0; od < 2; od++) {
    alto_elem odt = od ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
    size_t osz = od ? 4 : 2;
    void *yr = malloc((size_t)n * osz), *yg = malloc((size_t)n * osz);
    CHECKF(alto_cpu_dequantize(spec, &ref, odt, yr) == ALTO_OK, "%s", alto_last_error());
    gpu_buf gy = gpu_alloc(B, (size_t)n * osz);
    st = alto_gpu_dequantize(B, spec, &x, &q, odt, gpu_ptr(gy));
    CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "%s: dequant: %s", what, alto_last_error());
    gpu_download(B, yg, gy, what);
    int64_t f = -1;
    int bad = od ? same_bits_f32(yr, yg, n, &f) : 0;
    if (!od) {
      for (int64_t i = 0; i < n; i++) {
        uint16_t a = ((uint16_t *)yr)[i], g = ((uint16_t *)yg)[i];
        int an = (a & 0x7FFF) > 0x7F80, gn = (g & 0x7FFF) > 0x7F80;
        if (a != g && !(an && gn) && !bad++)
          f = i;
      }
    }
    CHECKF(bad == 0, "%s: dequant to %s differs at %d elements (first %lld)", what,
           od ? "f32" : "bf16", bad, (long long)f);
    gpu_free(B, &gy);
    free(yr);
    free(yg);
  }
  gpu_free(B, &gc), gpu_free(B, &gs), gpu_free(B, &go), gpu_free(B, &gt), gpu_free(B, &gx);
  alto_gpu_rht_free(B, &rht);
  free(codes), free(scales), free(xf), free(xb), free(xr);
  alto_quantized_free(&ref);
}

/* Command line: test_quant_gpu [--quick] [SUBSTR]...: only the cases whose label contains one of
 * the SUBSTRs (e.g. "mxfp8", "axis-2", "fp8_rowwise"); --quick takes 1024 instead of 4096 rows for
 * the big shape (the CPU reference dominates the run time). */
static const char *filters[32];
static int n_filters, quick;

static int selected(const char *label) {
  if (n_filters == 0)
    return 1;
  for (int i = 0; i < n_filters; i++)
    if (strstr(label, filters[i]))
      return 1;
  return 0;
}

/* Shapes: a big one with a row tail (4096 + 96 rows, K = 7168) where the blocks allow it, and a
 * 3-D one with a column tail that no CTA covers exactly. */
static void test_matrix(void) {
  alto_qcase cases[128];
  int nc = alto_quant_matrix(cases, 128);
  const int64_t big_rows = quick ? 1024 : 4096;
  for (int i = 0; i < nc; i++) {
    const alto_qcase *c = &cases[i];
    if (!selected(c->label))
      continue;
    int need = 32; /* rows must be a multiple of the blocks / RHT chunks along them */
    if (c->kind != ALTO_QCASE_MX69) {
      if (c->spec.scheme == ALTO_SCHEME_FP8_BLOCK)
        need = 128;
      if (c->rht > need)
        need = c->rht;
    }
    int64_t big[2] = {need <= 32 ? big_rows + 96 : big_rows + need, 7168};
    int64_t small[3] = {3, need <= 32 ? 96 : need,
                        c->spec.scheme == ALTO_SCHEME_FP8_BLOCK ? 1152 : 1056};
    if (c->kind == ALTO_QCASE_MX69)
      small[2] = 1000 + c->group_size / 2; /* a row tail that is padded */
    for (int d = 0; d < 2; d++) {
      alto_elem dt = d ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
      int before = alto_test_failures;
      run_case(c, dt, 2, big);
      run_case(c, dt, 3, small);
      if (c->kind == ALTO_QCASE_QUANT) {
        const alto_quant_spec *sp = &c->spec;
        bool blocked =
            sp->scheme != ALTO_SCHEME_FP8_ROWWISE && sp->scheme != ALTO_SCHEME_FP8_TENSORWISE;
        /* rows not 16-byte aligned: the element loads of quant_tile128 / quant_cols (column
         * blocks), quant_scaled's rowwise rows and the tensorwise tail */
        if ((blocked && sp->axis == -2 && !sp->block2d && !c->rht && !sp->sr) ||
            (sp->scheme == ALTO_SCHEME_FP8_ROWWISE && sp->axis == -1)) {
          int64_t odd[2] = {256, 1030};
          run_case(c, dt, 2, odd);
        }
        if (sp->scheme == ALTO_SCHEME_FP8_ROWWISE && sp->axis == -1) {
          int64_t longrow[2] = {4, 20000}; /* beyond the registers: the two-read path */
          run_case(c, dt, 2, longrow);
        }
        if (sp->scheme == ALTO_SCHEME_FP8_TENSORWISE) {
          int64_t tail[2] = {5, 1030}; /* n % 16 != 0 */
          run_case(c, dt, 2, tail);
        }
        if (sp->scheme == ALTO_SCHEME_NVFP4 || sp->scheme == ALTO_SCHEME_FP8_BLOCK) {
          /* divisors outside the fp32 division's range (quant_codes.cuh: tiny two-level outer
           * scales, saturated NVFP4 inner scales) and huge fp8_block scales inside it */
          const float extreme[3] = {0x1p-120f, 0x1p-60f, 0x1p100f};
          for (int k = 0; k < 3; k++) {
            input_scale = extreme[k];
            run_case(c, dt, 3, small);
          }
          input_scale = 1.0f;
        }
      }
      fprintf(stderr, "  %-4s %s %s\n", alto_test_failures == before ? "ok" : "FAIL", c->label,
              d ? "f32" : "bf16");
    }
  }
}

/* A random [R, C] input with outliers and specials: xf, and xb its bf16 rounding; with bf16 the
 * fp32 copy holds the rounded values too. Returns the view of the one in dtype dt. */
static alto_tensor_view make_2d_(int64_t R, int64_t C, alto_elem dt, float **xf, uint16_t **xb) {
  *xf = malloc((size_t)(R * C) * 4);
  *xb = malloc((size_t)(R * C) * 2);
  make_input(*xf, R, C, 1);
  for (int64_t i = 0; i < R * C; i++) {
    (*xb)[i] = alto_f32_to_bf16((*xf)[i]);
    if (dt == ALTO_ELEM_BF16)
      (*xf)[i] = alto_bf16_to_f32((*xb)[i]);
  }
  alto_tensor_view x = {dt == ALTO_ELEM_F32 ? (const void *)*xf : (const void *)*xb, dt, 2, {R, C, 0}};
  return x;
}

/* dst [C, R] = src [R, C] transposed, es-byte elements. */
static void transpose_(void *dst, const void *src, int64_t R, int64_t C, size_t es) {
  for (int64_t r = 0; r < R; r++)
    for (int64_t c = 0; c < C; c++)
      memcpy((char *)dst + (size_t)(c * R + r) * es, (const char *)src + (size_t)(r * C + c) * es, es);
}

/* fp8_block 128x1 and fp8_rowwise along axis -2 with the codes written transposed
 * (alto_gpu_quantized.codes_t: the wgrad GEMM's K-major operands) against the CPU's codes
 * transposed, and the CPU's scales; guard bytes after the codes; a 3-D tensor, and rowwise rows
 * that are not a multiple of 16, are refused. */
static void test_codes_t(void) {
  if (!selected("codes_t"))
    return;
  const int64_t shapes[3][2] = {{quick ? 1024 : 4096, 7168}, {1152, 1030}, {384, 200}};
  for (int row = 0; row < 2; row++)
  for (int el = 0; el < 2; el++)
    for (int d = 0; d < 2; d++)
      for (int si = 0; si < 3; si++) {
        const int64_t R = shapes[si][0], C = shapes[si][1], n = R * C;
        alto_elem dt = d ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
        alto_quant_spec spec =
            alto_quant_spec_default(row ? ALTO_SCHEME_FP8_ROWWISE : ALTO_SCHEME_FP8_BLOCK);
        spec.elem = el ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
        spec.axis = -2;
        float *xf;
        uint16_t *xb;
        alto_tensor_view x = make_2d_(R, C, dt, &xf, &xb);
        alto_quantized ref;
        CHECKF(alto_cpu_quantize(&spec, &x, &ref) == ALTO_OK, "%s", alto_last_error());
        size_t sb = (size_t)(ref.layout.scale_count * ref.layout.scale_bytes);
        gpu_buf gx = gpu_alloc(B, (size_t)n * (d ? 4 : 2)), gc = gpu_alloc(B, (size_t)n + 64),
                gs = gpu_alloc(B, sb);
        gpu_upload(B, gx, x.data);
        uint8_t *got = malloc((size_t)n + 64), *scales = malloc(sb), *want = malloc((size_t)n);
        memset(got, 0x5A, (size_t)n + 64);
        CHECK(B->i->h2d(B, gpu_ptr(gc), got, (size_t)n + 64) == ALTO_OK);
        alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), 0, 0, true, false, 0, 0, false};
        alto_status st = alto_gpu_quantize(B, &spec, &x, gpu_ptr(gx), NULL, &q);
        CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "codes_t: %s", alto_last_error());
        CHECK(B->i->d2h(B, got, gpu_ptr(gc), (size_t)n + 64) == ALTO_OK);
        gpu_download(B, scales, gs, "codes_t");
        transpose_(want, ref.codes, R, C, 1);
        int64_t dc = first_diff(want, got, n), ds = first_diff(ref.scales, scales, (int64_t)sb);
        int guard = 1;
        for (int i = 0; i < 64; i++)
          guard &= got[n + i] == 0x5A;
        CHECKF(dc < 0 && ds < 0 && guard, "codes_t %s %s [%lld x %lld]: codes differ at %lld, "
               "scales at %lld%s", el ? "e5m2" : "e4m3", d ? "f32" : "bf16", (long long)R,
               (long long)C, (long long)dc, (long long)ds, guard ? "" : ", wrote past the codes");
        fprintf(stderr, "  %-4s %s %s codes transposed %s [%lld x %lld]\n",
                dc < 0 && ds < 0 && guard ? "ok" : "FAIL", row ? "fp8_rowwise axis -2" :
                "fp8_block 128x1", el ? "e5m2" : "e4m3", d ? "f32" : "bf16", (long long)R,
                (long long)C);
        if (si == 2 && el == 0 && d == 0) { /* 3-D: refused, nothing launched */
          alto_tensor_view x3 = {xb, dt, 3, {3, 128, 200}};
          CHECK(alto_gpu_quantize(B, &spec, &x3, gpu_ptr(gx), NULL, &q) == ALTO_ERR_INVALID_ARG);
          CHECK(strstr(alto_last_error(), "transposed codes") != NULL);
          if (row) { /* rows not a multiple of 16 */
            alto_tensor_view x2 = {xb, dt, 2, {376, 200, 0}};
            CHECK(alto_gpu_quantize(B, &spec, &x2, gpu_ptr(gx), NULL, &q) == ALTO_ERR_INVALID_ARG);
          }
        }
        gpu_free(B, &gx), gpu_free(B, &gc), gpu_free(B, &gs);
        free(xf), free(xb), free(got), free(scales), free(want);
        alto_quantized_free(&ref);
      }
}

/* fp8_block's dual outputs of the bf16 tensor x (elements `el`) against the CPU's: the 1x128 copy
 * (codes fc, scales fs, MN-major when scales_t) and the 128x1 copy with transposed codes (wc, ws),
 * of x or (rq: the forward X's kernel) of the 1x128 copy dequantized to bf16 by the CPU.
 * d: the first differing byte of each (-1: none), in that order. */
static void dual_diff_(const alto_tensor_view *x, alto_elem el, bool scales_t, bool rq, gpu_buf fc,
                       gpu_buf fs, gpu_buf wc, gpu_buf ws, int64_t d[4]) {
  const int64_t R = x->dims[0], C = x->dims[1], n = R * C, nb = C / 128;
  alto_quant_spec fsp = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), wsp = fsp;
  fsp.elem = wsp.elem = el;
  wsp.axis = -2;
  alto_quantized rf, rw;
  CHECKF(alto_cpu_quantize(&fsp, x, &rf) == ALTO_OK, "%s", alto_last_error());
  uint16_t *y = NULL; /* rq: the DEQUANTIZE's bf16 values */
  alto_tensor_view yv = *x;
  if (rq) {
    y = malloc((size_t)n * 2);
    CHECKF(alto_cpu_dequantize(&fsp, &rf, ALTO_ELEM_BF16, y) == ALTO_OK, "%s", alto_last_error());
    yv.data = y;
  }
  CHECKF(alto_cpu_quantize(&wsp, &yv, &rw) == ALTO_OK, "%s", alto_last_error());
  free(y);
  uint8_t *gfc = malloc((size_t)n), *gwc = malloc((size_t)n), *want = malloc((size_t)n);
  float *gfs = malloc((size_t)(R * nb * 4)), *fwant = malloc((size_t)(R * nb * 4));
  float *gws = malloc((size_t)((R / 128) * C * 4));
  gpu_download(B, gfc, fc, "dual 1x128 codes");
  gpu_download(B, gfs, fs, "dual 1x128 scales");
  gpu_download(B, gwc, wc, "dual 128x1 codes");
  gpu_download(B, gws, ws, "dual 128x1 scales");
  if (scales_t)
    transpose_(fwant, rf.scales, R, nb, 4);
  else
    memcpy(fwant, rf.scales, (size_t)(R * nb * 4));
  transpose_(want, rw.codes, R, C, 1);
  d[0] = first_diff(rf.codes, gfc, n);
  d[1] = first_diff((const uint8_t *)fwant, (const uint8_t *)gfs, R * nb * 4);
  d[2] = first_diff(want, gwc, n);
  d[3] = first_diff(rw.scales, (const uint8_t *)gws, (R / 128) * C * 4);
  free(gfc), free(gwc), free(want), free(gfs), free(fwant), free(gws);
  alto_quantized_free(&rf);
  alto_quantized_free(&rw);
}

/* fp8_block's dual kernel of dY (alto_gpu_quantize_dual without an RHT): one read of a bf16 x,
 * its 128x1 quantization with the codes transposed and its 1x128 quantization (scales row-major
 * or MN-major), each against the CPU's; guard bytes around every output (gpu_buf); f32 inputs and
 * a last dim that is not a multiple of 128 are refused. rq: the forward X's kernel
 * (alto_gpu_quantize_x_dual), its 128x1 copy of the 1x128 copy's dequantization. */
static void test_fp8_dual(void) {
  if (!selected("fp8_dual"))
    return;
  const int64_t shapes[3][2] = {{quick ? 1024 : 4096, 7168}, {384, 1152}, {128, 256}};
  for (int rq = 0; rq < 2; rq++)
  for (int el = 0; el < 2; el++)
    for (int st_ = 0; st_ < 2; st_++)
      for (int si = 0; si < 3; si++) {
        const int64_t R = shapes[si][0], C = shapes[si][1], n = R * C, nb = C / 128;
        alto_quant_spec fs = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), ws = fs;
        fs.elem = ws.elem = el ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
        ws.axis = -2;
        float *xf;
        uint16_t *xb;
        alto_tensor_view x = make_2d_(R, C, ALTO_ELEM_BF16, &xf, &xb);
        gpu_buf gx = gpu_alloc(B, (size_t)n * 2), gfc = gpu_alloc(B, (size_t)n),
                gfs = gpu_alloc(B, (size_t)(R * nb * 4)), gwc = gpu_alloc(B, (size_t)n),
                gws = gpu_alloc(B, (size_t)((R / 128) * C * 4));
        gpu_upload(B, gx, xb);
        alto_gpu_quantized qf = {gpu_ptr(gfc), gpu_ptr(gfs), 0, 0, false, st_ == 1, 0, 0, false};
        alto_gpu_quantized qw = {gpu_ptr(gwc), gpu_ptr(gws), 0, 0, true, false, 0, 0, false};
        alto_status st =
            rq ? alto_gpu_quantize_x_dual(B, &fs, &ws, &x, gpu_ptr(gx), &qf, &qw)
               : alto_gpu_quantize_dual(B, &fs, &ws, &x, gpu_ptr(gx), NULL, &qf, &qw);
        CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "fp8_dual: %s", alto_last_error());
        int64_t d[4];
        dual_diff_(&x, fs.elem, st_ == 1, rq, gfc, gfs, gwc, gws, d);
        int ok = d[0] < 0 && d[1] < 0 && d[2] < 0 && d[3] < 0;
        CHECKF(ok, "fp8_dual%s %s%s [%lld x %lld]: 1x128 codes differ at %lld, scales at %lld; "
               "128x1 codes at %lld, scales at %lld", rq ? " (X)" : "", el ? "e5m2" : "e4m3",
               st_ ? " (MN-major)" : "", (long long)R, (long long)C, (long long)d[0],
               (long long)d[1], (long long)d[2], (long long)d[3]);
        fprintf(stderr, "  %-4s fp8_block %s dual%s: 1x128%s + 128x1 transposed%s [%lld x %lld]\n",
                ok ? "ok" : "FAIL", el ? "e5m2" : "e4m3", rq ? " (forward X)" : "",
                st_ ? " (scales MN-major)" : "", rq ? " of its dequantization" : "", (long long)R,
                (long long)C);
        if (si == 2 && el == 0 && st_ == 0 && rq) {
          alto_tensor_view x96 = {xb, ALTO_ELEM_BF16, 2, {R, 96, 0}};
          CHECK(alto_gpu_quantize_x_dual(B, &fs, &ws, &x96, gpu_ptr(gx), &qf, &qw) ==
                ALTO_ERR_INVALID_ARG);
        }
        if (si == 2 && el == 0 && st_ == 0 && !rq) { /* refused, nothing launched */
          alto_tensor_view xf32 = {xf, ALTO_ELEM_F32, 2, {R, C, 0}};
          CHECK(alto_gpu_quantize_dual(B, &fs, &ws, &xf32, gpu_ptr(gx), NULL, &qf, &qw) ==
                ALTO_ERR_INVALID_ARG);
          CHECK(strstr(alto_last_error(), "dual-output") != NULL);
          alto_tensor_view x96 = {xb, ALTO_ELEM_BF16, 2, {R, 96, 0}};
          CHECK(alto_gpu_quantize_dual(B, &fs, &ws, &x96, gpu_ptr(gx), NULL, &qf, &qw) ==
                ALTO_ERR_INVALID_ARG);
        }
        gpu_free(B, &gx), gpu_free(B, &gfc), gpu_free(B, &gfs), gpu_free(B, &gwc), gpu_free(B, &gws);
        free(xf), free(xb);
      }
}

/* SwiGLU backward + the dual dY quantization of both outputs (alto_gpu_quantize_dual_swiglu_bwd,
 * fp8_block's MLP): against the CPU's alto_op_swiglu_bwd rounded to bf16 (the SWIGLU_BWD op's
 * bits) then quantized 1x128 and 128x1, for da and db; both element formats, both 1x128 scale
 * layouts; a tensor the persistent grid walks several times (4096 x 7168: 1792 tiles over 264
 * CTAs) and small ones; NaN / Inf in the inputs; guard bytes. */
static void test_swiglu_bwd_dual(void) {
  if (!selected("swiglu_bwd"))
    return;
  const int64_t shapes[3][2] = {{quick ? 1024 : 4096, 7168}, {384, 1152}, {128, 256}};
  for (int el = 0; el < 2; el++)
    for (int st_ = 0; st_ < 2; st_++)
      for (int si = 0; si < 3; si++) {
        if (el && si == 0)
          continue;
        const int64_t R = shapes[si][0], C = shapes[si][1], n = R * C, nb = C / 128;
        alto_quant_spec fs = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), ws = fs;
        fs.elem = ws.elem = el ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
        ws.axis = -2;
        float *df, *af, *bf;
        uint16_t *db16, *ab16, *bb16;
        make_2d_(R, C, ALTO_ELEM_BF16, &df, &db16);
        make_2d_(R, C, ALTO_ELEM_BF16, &af, &ab16);
        alto_tensor_view x = make_2d_(R, C, ALTO_ELEM_BF16, &bf, &bb16);
        float *ga = malloc((size_t)n * 4), *gb = malloc((size_t)n * 4);
        alto_op_swiglu_bwd(ga, gb, df, af, bf, n);
        uint16_t *h[2] = {malloc((size_t)n * 2), malloc((size_t)n * 2)};
        for (int64_t i = 0; i < n; i++)
          h[0][i] = alto_f32_to_bf16(ga[i]), h[1][i] = alto_f32_to_bf16(gb[i]);
        gpu_buf gd = gpu_alloc(B, (size_t)n * 2), gaa = gpu_alloc(B, (size_t)n * 2),
                gbb = gpu_alloc(B, (size_t)n * 2);
        gpu_upload(B, gd, db16), gpu_upload(B, gaa, ab16), gpu_upload(B, gbb, bb16);
        gpu_buf gfc[2], gfs[2], gwc[2], gws[2];
        alto_gpu_quantized qf[2], qw[2];
        for (int t = 0; t < 2; t++) {
          gfc[t] = gpu_alloc(B, (size_t)n), gfs[t] = gpu_alloc(B, (size_t)(R * nb * 4));
          gwc[t] = gpu_alloc(B, (size_t)n), gws[t] = gpu_alloc(B, (size_t)((R / 128) * C * 4));
          qf[t] = (alto_gpu_quantized){gpu_ptr(gfc[t]), gpu_ptr(gfs[t]), 0, 0, false, st_ == 1, 0, 0, false};
          qw[t] = (alto_gpu_quantized){gpu_ptr(gwc[t]), gpu_ptr(gws[t]), 0, 0, true, false, 0, 0, false};
        }
        alto_status st = alto_gpu_quantize_dual_swiglu_bwd(B, &fs, &ws, &x, gpu_ptr(gd),
                                                           gpu_ptr(gaa), gpu_ptr(gbb), &qf[0],
                                                           &qw[0], &qf[1], &qw[1]);
        CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "swiglu_bwd dual: %s", alto_last_error());
        int ok = 1;
        for (int t = 0; t < 2; t++) { /* da, db against the CPU's */
          alto_tensor_view vt = {h[t], ALTO_ELEM_BF16, 2, {R, C, 0}};
          int64_t d[4];
          dual_diff_(&vt, fs.elem, st_ == 1, false, gfc[t], gfs[t], gwc[t], gws[t], d);
          int okt = d[0] < 0 && d[1] < 0 && d[2] < 0 && d[3] < 0;
          CHECKF(okt, "swiglu_bwd %s %s%s [%lld x %lld]: 1x128 codes differ at %lld, scales at "
                 "%lld; 128x1 codes at %lld, scales at %lld", t ? "db" : "da",
                 el ? "e5m2" : "e4m3", st_ ? " (MN-major)" : "", (long long)R, (long long)C,
                 (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3]);
          ok = ok && okt;
        }
        fprintf(stderr, "  %-4s SwiGLU backward + fp8_block %s dual of da and db%s [%lld x %lld]\n",
                ok ? "ok" : "FAIL", el ? "e5m2" : "e4m3", st_ ? " (scales MN-major)" : "",
                (long long)R, (long long)C);
        if (si == 2 && el == 0 && st_ == 0) { /* db's copies in another layout: refused */
          alto_gpu_quantized bad = qf[1];
          bad.scales_t = true;
          CHECK(alto_gpu_quantize_dual_swiglu_bwd(B, &fs, &ws, &x, gpu_ptr(gd), gpu_ptr(gaa),
                                                  gpu_ptr(gbb), &qf[0], &qw[0], &bad,
                                                  &qw[1]) == ALTO_ERR_INVALID_ARG);
        }
        for (int t = 0; t < 2; t++)
          gpu_free(B, &gfc[t]), gpu_free(B, &gfs[t]), gpu_free(B, &gwc[t]), gpu_free(B, &gws[t]);
        gpu_free(B, &gd), gpu_free(B, &gaa), gpu_free(B, &gbb);
        free(df), free(af), free(bf), free(db16), free(ab16), free(bb16), free(ga), free(gb);
        free(h[0]), free(h[1]);
      }
}

/* SwiGLU(a, b) as the SWIGLU op writes it: the CPU's values rounded to bf16 (n elements, owned). */
static uint16_t *swiglu_bf16_(const float *a, const float *b, int64_t n) {
  float *y = malloc((size_t)n * 4);
  uint16_t *yb = malloc((size_t)n * 2);
  alto_op_swiglu(y, a, b, n);
  for (int64_t i = 0; i < n; i++)
    yb[i] = alto_f32_to_bf16(y[i]);
  free(y);
  return yb;
}

/* SwiGLU's output quantized from its inputs (alto_gpu_quantize_swiglu): against the CPU's
 * alto_op_swiglu rounded to bf16 (the SWIGLU op's bits) then quantized, for fp8_block (scales
 * row-major and MN-major), MXFP4 (RNE and SR) and MXFP8; a tensor that takes the grid several
 * steps (4096 x 7168) and small ones, the small ones with y written too (the SWIGLU op's bits);
 * NaN / Inf in the inputs (make_2d_); guard bytes (gpu_buf). */
static void test_swiglu_quant(void) {
  if (!selected("swiglu"))
    return;
  const struct {
    alto_scheme s;
    bool sr, scales_t;
    const char *name;
  } cs[] = {{ALTO_SCHEME_FP8_BLOCK, false, false, "fp8_block 1x128"},
            {ALTO_SCHEME_FP8_BLOCK, false, true, "fp8_block 1x128 (scales MN-major)"},
            {ALTO_SCHEME_MXFP4, false, false, "mxfp4 1x32"},
            {ALTO_SCHEME_MXFP4, true, false, "mxfp4 1x32 SR"},
            {ALTO_SCHEME_MXFP8_E4M3, false, false, "mxfp8 e4m3 1x32"}};
  const int64_t shapes[3][2] = {{quick ? 1024 : 4096, 7168}, {384, 1152}, {128, 256}};
  for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
    for (int si = 0; si < 3; si++) {
      const int64_t R = shapes[si][0], C = shapes[si][1], n = R * C;
      alto_quant_spec spec = alto_quant_spec_default(cs[ci].s);
      spec.sr = cs[ci].sr, spec.seed = 0x5EED, spec.stream = 77;
      float *af, *bf;
      uint16_t *ab, *bb;
      alto_tensor_view va = make_2d_(R, C, ALTO_ELEM_BF16, &af, &ab);
      alto_tensor_view vb = make_2d_(R, C, ALTO_ELEM_BF16, &bf, &bb);
      (void)vb;
      uint16_t *yb = swiglu_bf16_(af, bf, n);
      alto_tensor_view vy = {yb, ALTO_ELEM_BF16, 2, {R, C, 0}};
      alto_quantized ref;
      CHECKF(alto_cpu_quantize(&spec, &vy, &ref) == ALTO_OK, "%s", alto_last_error());
      size_t cb = (size_t)ref.layout.codes_bytes,
             sb = (size_t)(ref.layout.scale_count * ref.layout.scale_bytes);
      const bool wy = si > 0; /* y written too (the MX recipes, which quantize it along M) */
      gpu_buf ga = gpu_alloc(B, (size_t)n * 2), gb = gpu_alloc(B, (size_t)n * 2),
              gc = gpu_alloc(B, cb), gs = gpu_alloc(B, sb),
              gy = gpu_alloc(B, wy ? (size_t)n * 2 : 16);
      gpu_upload(B, ga, ab);
      gpu_upload(B, gb, bb);
      alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), 0, 0, false, cs[ci].scales_t, 0, 0, false};
      alto_status st = alto_gpu_quantize_swiglu(B, &spec, &va, gpu_ptr(ga), gpu_ptr(gb),
                                                wy ? gpu_ptr(gy) : 0, &q);
      CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "swiglu %s: %s", cs[ci].name,
             alto_last_error());
      if (wy) { /* the SWIGLU op's bits */
        uint16_t *y = malloc((size_t)n * 2);
        gpu_download(B, y, gy, "swiglu y");
        int64_t yd = 0; /* (a NaN's sign may differ: the device's bf16 NaN is 0x7FC0) */
        for (int64_t i = 0; i < n; i++)
          yd += y[i] != yb[i] && !((y[i] & 0x7FFF) > 0x7F80 && (yb[i] & 0x7FFF) > 0x7F80);
        CHECKF(yd == 0, "swiglu %s [%lld x %lld]: %lld of y differ", cs[ci].name, (long long)R,
               (long long)C, (long long)yd);
        free(y);
      }
      uint8_t *codes = malloc(cb), *scales = malloc(sb), *want = malloc(sb);
      gpu_download(B, codes, gc, "swiglu codes");
      gpu_download(B, scales, gs, "swiglu scales");
      if (cs[ci].scales_t)
        transpose_(want, ref.scales, R, C / 128, 4);
      else
        memcpy(want, ref.scales, sb);
      int64_t dc = first_diff(ref.codes, codes, (int64_t)cb), ds = first_diff(want, scales, (int64_t)sb);
      CHECKF(dc < 0 && ds < 0, "swiglu %s [%lld x %lld]: codes differ at %lld, scales at %lld",
             cs[ci].name, (long long)R, (long long)C, (long long)dc, (long long)ds);
      fprintf(stderr, "  %-4s %s of SwiGLU's inputs [%lld x %lld]\n", dc < 0 && ds < 0 ? "ok" : "FAIL",
              cs[ci].name, (long long)R, (long long)C);
      if (ci == 0 && si == 2) { /* NVFP4 and column blocks are refused */
        alto_quant_spec nv = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
        CHECK(alto_gpu_quantize_swiglu(B, &nv, &va, gpu_ptr(ga), gpu_ptr(gb), 0, &q) ==
              ALTO_ERR_INVALID_ARG);
        alto_quant_spec col = spec;
        col.axis = -2;
        CHECK(alto_gpu_quantize_swiglu(B, &col, &va, gpu_ptr(ga), gpu_ptr(gb), 0, &q) ==
              ALTO_ERR_INVALID_ARG);
      }
      gpu_free(B, &ga), gpu_free(B, &gb), gpu_free(B, &gc), gpu_free(B, &gs), gpu_free(B, &gy);
      free(af), free(bf), free(ab), free(bb), free(yb), free(codes), free(scales), free(want);
      alto_quantized_free(&ref);
    }
}

/* MXFP4 1x32 straight into the FP8 GEMM's E4M3 form (alto_gpu_quantized.mx_tile), of x and of
 * SwiGLU's inputs, RNE and SR, bf16 and fp32: against the CPU's MXFP4 quantization through
 * alto_cpu_mx_to_e4m3 (codes [R, C]; scales MN-major [C / 128, R rounded up to 4], the padding
 * rows untouched), guard bytes (gpu_buf). Rows with tails (4096 + 99), make_input's NaN / Inf,
 * and per row a 1x32 block 2^-20 or 2^-40 below the rest (inexact 128-blocks, rounded) and a zero
 * block. Shapes the form does not take are refused. */
static void test_mx_tile(void) {
  if (!selected("mx_tile"))
    return;
  const int64_t shapes[2][2] = {{quick ? 1029 : 4195, 7168}, {37, 1152}};
  for (int c = 0; c < 6; c++)
    for (int si = 0; si < 2; si++) {
      const bool sr = c & 1, f32 = c / 2 == 1, swiglu = c / 2 == 2;
      const int64_t R = shapes[si][0], C = shapes[si][1], n = R * C, kb = C / 128;
      const int64_t r4 = (R + 3) / 4 * 4;
      alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
      spec.sr = sr, spec.seed = 0x5EED, spec.stream = 79;
      float *xf, *bf;
      uint16_t *xb, *bb;
      alto_tensor_view x = make_2d_(R, C, f32 ? ALTO_ELEM_F32 : ALTO_ELEM_BF16, &xf, &xb);
      alto_tensor_view vb = make_2d_(R, C, ALTO_ELEM_BF16, &bf, &bb);
      (void)vb;
      for (int64_t r = 0; r < R; r++) {
        const int64_t j = (r * 5 % (C / 32)) * 32;
        for (int64_t k = 0; k < 32; k++) {
          if (r % 7 == 3)
            xf[r * C + j + k] = ldexpf(xf[r * C + j + k], r % 2 ? -20 : -40);
          if (r % 5 == 1)
            xf[r * C + (j + 64) % C + k] = 0.0f;
        }
      }
      for (int64_t i = 0; i < n; i++) {
        xb[i] = alto_f32_to_bf16(xf[i]);
        if (!f32)
          xf[i] = alto_bf16_to_f32(xb[i]);
      }
      alto_tensor_view vy = x; /* the values quantized: x, or SwiGLU(x, b) rounded to bf16 */
      uint16_t *yb = swiglu ? swiglu_bf16_(xf, bf, n) : NULL;
      if (swiglu)
        vy.data = yb;
      alto_quantized ref;
      CHECKF(alto_cpu_quantize(&spec, &vy, &ref) == ALTO_OK, "%s", alto_last_error());
      uint8_t *want_c = malloc((size_t)n), *nanb = malloc((size_t)(R * kb));
      float *rs = malloc((size_t)(R * kb) * 4), *want_s = malloc((size_t)(r4 * kb) * 4);
      uint32_t split;
      uint32_t inexact = alto_cpu_mx_to_e4m3(ref.codes, ref.scales, R, C, false, want_c, rs, nanb,
                                             &split);
      gpu_buf gx = gpu_alloc(B, (size_t)n * (f32 ? 4 : 2)), gb = gpu_alloc(B, (size_t)n * 2),
              gc = gpu_alloc(B, (size_t)n), gs = gpu_alloc(B, (size_t)(r4 * kb) * 4);
      gpu_upload(B, gx, x.data), gpu_upload(B, gb, bb);
      CHECK(B->i->memset(B, gpu_ptr(gs), 0xA5, (size_t)(r4 * kb) * 4) == ALTO_OK);
      memset(want_s, 0xA5, (size_t)(r4 * kb) * 4);
      for (int64_t r = 0; r < R; r++)
        for (int64_t q = 0; q < kb; q++)
          want_s[q * r4 + r] = rs[r * kb + q];
      alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), 0, 0, false, false, 0, 0, true};
      alto_status st = swiglu ? alto_gpu_quantize_swiglu(B, &spec, &x, gpu_ptr(gx), gpu_ptr(gb), 0,
                                                         &q)
                              : alto_gpu_quantize(B, &spec, &x, gpu_ptr(gx), NULL, &q);
      CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "mx_tile: %s", alto_last_error());
      uint8_t *codes = malloc((size_t)n);
      float *scales = malloc((size_t)(r4 * kb) * 4);
      gpu_download(B, codes, gc, "mx_tile codes");
      gpu_download(B, scales, gs, "mx_tile scales");
      int64_t dc = first_diff(want_c, codes, n),
              ds = first_diff((const uint8_t *)want_s, (const uint8_t *)scales, r4 * kb * 4);
      CHECKF(dc < 0 && ds < 0 && inexact > 0,
             "mx_tile %s%s %s [%lld x %lld]: codes differ at %lld, scales at %lld (%u inexact)",
             swiglu ? "of swiglu" : "", sr ? " sr" : "", f32 ? "f32" : "bf16", (long long)R,
             (long long)C, (long long)dc, (long long)ds, inexact);
      fprintf(stderr, "  %-4s mxfp4 1x32 E4M3 form%s%s %s [%lld x %lld] (%u inexact 128-blocks)\n",
              dc < 0 && ds < 0 ? "ok" : "FAIL", swiglu ? " of SwiGLU" : "", sr ? " SR" : "",
              f32 ? "f32" : "bf16", (long long)R, (long long)C, inexact);
      if (c == 0 && si == 1) { /* refused: a last dim not a multiple of 128, column blocks */
        alto_tensor_view odd = {NULL, ALTO_ELEM_BF16, 2, {32, 1056, 0}};
        CHECK(alto_gpu_quantize(B, &spec, &odd, gpu_ptr(gx), NULL, &q) == ALTO_ERR_INVALID_ARG);
        alto_quant_spec col = spec;
        col.axis = -2;
        alto_tensor_view x64 = {NULL, ALTO_ELEM_BF16, 2, {64, 1152, 0}};
        CHECK(alto_gpu_quantize(B, &col, &x64, gpu_ptr(gx), NULL, &q) == ALTO_ERR_INVALID_ARG);
        CHECK(strstr(alto_last_error(), "E4M3 form") != NULL);
      }
      gpu_free(B, &gx), gpu_free(B, &gb), gpu_free(B, &gc), gpu_free(B, &gs);
      free(xf), free(xb), free(bf), free(bb), free(yb), free(want_c), free(nanb), free(rs);
      free(want_s), free(codes), free(scales);
      alto_quantized_free(&ref);
    }
}

/* fp8_block 1x128 with the scales written MN-major (alto_gpu_quantized.scales_t: the layout the FP8
 * GEMMs read for a 1x128 operand): codes equal the CPU's, scales the CPU's transposed, and the
 * dequantization reading them MN-major equals the CPU's dequantization (both output dtypes). */
static void test_scales_t(void) {
  if (!selected("scales_t"))
    return;
  const int64_t shapes[2][2] = {{quick ? 1024 : 4096, 7168}, {256, 1152}};
  for (int el = 0; el < 2; el++)
    for (int d = 0; d < 2; d++)
      for (int si = 0; si < 2; si++) {
        const int64_t R = shapes[si][0], C = shapes[si][1], n = R * C, nb = C / 128;
        alto_elem dt = d ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
        alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
        spec.elem = el ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
        float *xf;
        uint16_t *xb;
        alto_tensor_view x = make_2d_(R, C, dt, &xf, &xb);
        alto_quantized ref;
        CHECKF(alto_cpu_quantize(&spec, &x, &ref) == ALTO_OK, "%s", alto_last_error());
        gpu_buf gx = gpu_alloc(B, (size_t)n * (d ? 4 : 2)), gc = gpu_alloc(B, (size_t)n),
                gs = gpu_alloc(B, (size_t)(R * nb * 4)), gy = gpu_alloc(B, (size_t)n * 4);
        gpu_upload(B, gx, x.data);
        alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), 0, 0, false, true, 0, 0, false};
        alto_status st = alto_gpu_quantize(B, &spec, &x, gpu_ptr(gx), NULL, &q);
        CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "scales_t: %s", alto_last_error());
        uint8_t *codes = malloc((size_t)n);
        float *scales = malloc((size_t)(R * nb * 4)), *want = malloc((size_t)(R * nb * 4));
        gpu_download(B, codes, gc, "scales_t");
        gpu_download(B, scales, gs, "scales_t");
        transpose_(want, ref.scales, R, nb, 4);
        int64_t dc = first_diff(ref.codes, codes, n), ds = first_diff((const uint8_t *)want, (const uint8_t *)scales, R * nb * 4);
        int bad_dq = 0;
        for (int od = 0; od < 2; od++) { /* dequantize reading the MN-major scales */
          size_t osz = od ? 4 : 2;
          void *yr = malloc((size_t)n * osz), *yg = malloc((size_t)n * osz);
          CHECK(alto_cpu_dequantize(&spec, &ref, od ? ALTO_ELEM_F32 : ALTO_ELEM_BF16, yr) == ALTO_OK);
          st = alto_gpu_dequantize(B, &spec, &x, &q, od ? ALTO_ELEM_F32 : ALTO_ELEM_BF16,
                                   gpu_ptr(gy));
          CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "%s", alto_last_error());
          CHECK(B->i->d2h(B, yg, gpu_ptr(gy), (size_t)n * osz) == ALTO_OK);
          bad_dq += memcmp(yr, yg, (size_t)n * osz) != 0;
          free(yr), free(yg);
        }
        CHECKF(dc < 0 && ds < 0 && !bad_dq,
               "scales_t %s %s [%lld x %lld]: codes differ at %lld, scales at %lld, %d dequant "
               "outputs differ", el ? "e5m2" : "e4m3", d ? "f32" : "bf16", (long long)R,
               (long long)C, (long long)dc, (long long)ds, bad_dq);
        fprintf(stderr, "  %-4s fp8_block %s 1x128 scales MN-major %s [%lld x %lld]\n",
                dc < 0 && ds < 0 && !bad_dq ? "ok" : "FAIL", el ? "e5m2" : "e4m3",
                d ? "f32" : "bf16", (long long)R, (long long)C);
        gpu_free(B, &gx), gpu_free(B, &gc), gpu_free(B, &gs), gpu_free(B, &gy);
        free(xf), free(xb), free(codes), free(scales), free(want);
        alto_quantized_free(&ref);
      }
}

/* The weights' 128x128 quantization with its transposed copy (codes c, scales s, copies ct, st of an
 * [R, C] tensor) equal the CPU's ref and ref transposed. */
static bool weight_copy_ok_(const alto_quantized *ref, gpu_buf c, gpu_buf s, gpu_buf ct, gpu_buf st,
                            int64_t R, int64_t C) {
  const int64_t n = R * C, ns = (R / 128) * (C / 128);
  uint8_t *gc = malloc((size_t)n), *gct = malloc((size_t)n), *want = malloc((size_t)n);
  float *gs = malloc((size_t)ns * 4), *gst = malloc((size_t)ns * 4), *swant = malloc((size_t)ns * 4);
  gpu_download(B, gc, c, "128x128 codes");
  gpu_download(B, gct, ct, "128x128 transposed codes");
  gpu_download(B, gs, s, "128x128 scales");
  gpu_download(B, gst, st, "128x128 transposed scales");
  transpose_(want, ref->codes, R, C, 1);
  transpose_(swant, ref->scales, R / 128, C / 128, 4);
  const bool ok = first_diff(ref->codes, gc, n) < 0 && first_diff(want, gct, n) < 0 &&
                  memcmp(gs, ref->scales, (size_t)ns * 4) == 0 &&
                  memcmp(gst, swant, (size_t)ns * 4) == 0;
  free(gc), free(gct), free(want), free(gs), free(gst), free(swant);
  return ok;
}

/* AdamW and a weight's 2-D block quantization in one kernel (alto_gpu_quantize_adamw, the
 * optimizer step of the weights): the parameter, moments, codes and scales (and fp8_block's
 * transposed copies) equal the CPU's alto_op_adamw (on the gradient times the clip factor, rounded
 * in fp32 as the executor's clip does) followed by its quantization; inputs with outliers and
 * specials (a NaN's payload may differ between the CPU and the GPU, not its being a NaN); guard
 * bytes. */
static void adamw_case_(const alto_quant_spec *spec, const char *what, int64_t R, int64_t C,
                        float gscale) {
  const int64_t n = R * C, step = 7;
  const alto_adamw_hparams h = {3e-3, 0.9, 0.95, 1e-8, 0.1};
  const bool fp8 = spec->scheme == ALTO_SCHEME_FP8_BLOCK; /* (with the transposed copy) */
  float *w, *g, *m, *v;
  uint16_t *wb, *gb;
  alto_tensor_view x = make_2d_(R, C, ALTO_ELEM_F32, &w, &wb);
  make_2d_(R, C, ALTO_ELEM_F32, &g, &gb);
  m = malloc((size_t)n * 4), v = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) {
    m[i] = 0.01f * (float)(alto_test_uniform(&rng) - 0.5);
    v[i] = 1e-4f * (float)alto_test_uniform(&rng);
  }
  alto_quant_layout lay;
  CHECKF(alto_quant_layout_of(spec, &x, &lay) == ALTO_OK, "%s", alto_last_error());
  const size_t sbytes = (size_t)(lay.scale_count * lay.scale_bytes);
  gpu_buf gw = gpu_alloc(B, (size_t)n * 4), gg = gpu_alloc(B, (size_t)n * 4),
          gm = gpu_alloc(B, (size_t)n * 4), gv = gpu_alloc(B, (size_t)n * 4),
          gc = gpu_alloc(B, (size_t)lay.codes_bytes), gs = gpu_alloc(B, sbytes),
          gct = gpu_alloc(B, fp8 ? (size_t)n : 16), gst = gpu_alloc(B, fp8 ? sbytes : 16);
  gpu_upload(B, gw, w), gpu_upload(B, gg, g), gpu_upload(B, gm, m), gpu_upload(B, gv, v);
  /* the CPU: the clip's fp32 multiply, the step, the quantization */
  float *gsc = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++)
    gsc[i] = g[i] * gscale;
  alto_op_adamw(w, gsc, m, v, n, &h, step);
  alto_quantized ref;
  CHECKF(alto_cpu_quantize(spec, &x, &ref) == ALTO_OK, "%s", alto_last_error());
  alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), 0, 0, false, false,
                          fp8 ? gpu_ptr(gct) : 0, fp8 ? gpu_ptr(gst) : 0, false};
  alto_adamw_k k = alto_ops_gpu_adamw_scalars(&h, step, gscale);
  alto_status st = alto_gpu_quantize_adamw(B, spec, &x, gpu_ptr(gw), gpu_ptr(gg), gpu_ptr(gm),
                                           gpu_ptr(gv), &k, &q);
  CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "adamw %s: %s", what, alto_last_error());
  float *w2 = malloc((size_t)n * 4), *m2 = malloc((size_t)n * 4), *v2 = malloc((size_t)n * 4);
  gpu_download(B, w2, gw, "adamw param"), gpu_download(B, m2, gm, "adamw m");
  gpu_download(B, v2, gv, "adamw v");
  int64_t sd = 0, first = 0; /* bits differ (a NaN's payload aside: the inputs hold NaNs) */
  sd += same_bits_f32(w, w2, n, &first) + same_bits_f32(m, m2, n, &first) +
        same_bits_f32(v, v2, n, &first);
  const int failed = alto_test_failures;
  if (fp8)
    CHECKF(weight_copy_ok_(&ref, gc, gs, gct, gst, R, C), "adamw %s: quantization differs", what);
  else
    compare_quant(&ref, gc, gs, what, "AdamW");
  CHECKF(sd == 0, "adamw %s [%lld x %lld]: %lld step values differ", what, (long long)R,
         (long long)C, (long long)sd);
  fprintf(stderr, "  %-4s AdamW + %s [%lld x %lld] clip %g\n",
          alto_test_failures == failed && sd == 0 ? "ok" : "FAIL", what, (long long)R, (long long)C,
          gscale);
  gpu_free(B, &gw), gpu_free(B, &gg), gpu_free(B, &gm), gpu_free(B, &gv);
  gpu_free(B, &gc), gpu_free(B, &gs), gpu_free(B, &gct), gpu_free(B, &gst);
  free(w), free(wb), free(g), free(gb), free(m), free(v), free(gsc), free(w2), free(m2);
  free(v2);
  alto_quantized_free(&ref);
}

static void test_adamw_quant(void) {
  if (!selected("adamw"))
    return;
  alto_quant_spec fp8 = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK),
                  mx4 = alto_quant_spec_default(ALTO_SCHEME_MXFP4),
                  mx8 = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E4M3),
                  nv4 = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  fp8.block2d = mx4.block2d = mx8.block2d = nv4.block2d = true;
  nv4.two_level = false;
  for (int cf = 0; cf < 2; cf++) {
    const float gscale = cf ? 0.5f : 1.0f;
    adamw_case_(&fp8, "fp8_block 128x128 + transposed copy", quick ? 1024 : 2048, 8192, gscale);
    adamw_case_(&fp8, "fp8_block 128x128 + transposed copy", 512, 2048, gscale);
    adamw_case_(&mx4, "mxfp4 32x32", quick ? 1024 : 2048, 8192, gscale);
    /* 4160 columns: the last CTA's tail threads hold no columns (and read none) */
    adamw_case_(&mx4, "mxfp4 32x32", 96, 4160, gscale);
    adamw_case_(&mx8, "mxfp8 32x32", 512, 2048, gscale);
    adamw_case_(&nv4, "nvfp4 16x16 one-level", 96, 4160, gscale);
  }
  /* refused: bf16 parameters, 1-D blocks, two-level NVFP4, a copy of MX blocks, a copy without
   * its scales */
  float *w;
  uint16_t *wb;
  alto_tensor_view x = make_2d_(512, 2048, ALTO_ELEM_F32, &w, &wb), xb = x;
  xb.dtype = ALTO_ELEM_BF16;
  alto_quant_spec rows = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), nv2 = nv4;
  nv2.two_level = true;
  CHECK(alto_gpu_quantize_adamw_check(B, &rows, &x, false) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_gpu_quantize_adamw_check(B, &fp8, &xb, false) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_gpu_quantize_adamw_check(B, &nv2, &x, false) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_gpu_quantize_adamw_check(B, &mx4, &x, true) == ALTO_ERR_INVALID_ARG);
  CHECK(alto_gpu_quantize_adamw_check(B, &mx4, &x, false) == ALTO_OK);
  alto_gpu_quantized half = {1, 1, 0, 0, false, false, 1, 0, false};
  alto_adamw_k k = {{0}};
  CHECK(alto_gpu_quantize_adamw(B, &fp8, &x, 1, 1, 1, 1, &k, &half) == ALTO_ERR_INVALID_ARG);
  free(w), free(wb);
}

/* fp8_block 128x128 with a transposed copy (alto_gpu_quantized.codes_tr / scales_tr: the weights'
 * operand of dgrad): codes and scales as the CPU's, the copies as the CPU's transposed, fp32 and
 * bf16 inputs; a copy without its scales is refused. */
static void test_weight_copy(void) {
  if (!selected("t_copy"))
    return;
  const int64_t shapes[2][2] = {{2048, 8192}, {512, 2048}};
  for (int d = 0; d < 2; d++)
    for (int si = 0; si < 2; si++) {
      const int64_t R = shapes[si][0], C = shapes[si][1], n = R * C, ns = (R / 128) * (C / 128);
      alto_elem dt = d ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
      alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
      spec.block2d = true;
      float *xf;
      uint16_t *xb;
      alto_tensor_view x = make_2d_(R, C, dt, &xf, &xb);
      alto_quantized ref;
      CHECKF(alto_cpu_quantize(&spec, &x, &ref) == ALTO_OK, "%s", alto_last_error());
      gpu_buf gx = gpu_alloc(B, (size_t)n * (d ? 4 : 2)), gc = gpu_alloc(B, (size_t)n),
              gs = gpu_alloc(B, (size_t)ns * 4), gct = gpu_alloc(B, (size_t)n),
              gst = gpu_alloc(B, (size_t)ns * 4);
      gpu_upload(B, gx, x.data);
      alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), 0, 0, false, false, gpu_ptr(gct),
                              gpu_ptr(gst), false};
      alto_status st = alto_gpu_quantize(B, &spec, &x, gpu_ptr(gx), NULL, &q);
      CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "t_copy: %s", alto_last_error());
      int ok = weight_copy_ok_(&ref, gc, gs, gct, gst, R, C);
      CHECKF(ok, "t_copy %s [%lld x %lld]: codes, copy or scales differ", d ? "f32" : "bf16",
             (long long)R, (long long)C);
      fprintf(stderr, "  %-4s fp8_block 128x128 + transposed copy %s [%lld x %lld]\n",
              ok ? "ok" : "FAIL", d ? "f32" : "bf16", (long long)R, (long long)C);
      if (d == 0 && si == 0) {
        alto_gpu_quantized bad = q;
        bad.scales_tr = 0;
        CHECK(alto_gpu_quantize(B, &spec, &x, gpu_ptr(gx), NULL, &bad) == ALTO_ERR_INVALID_ARG);
      }
      gpu_free(B, &gx), gpu_free(B, &gc), gpu_free(B, &gs), gpu_free(B, &gct), gpu_free(B, &gst);
      free(xf), free(xb);
      alto_quantized_free(&ref);
    }
}

/* Re-quantization (alto_gpu_requantize: fp8_block's wgrad X from its saved 1x128 codes): against
 * the CPU's dequantization to bf16 then 128x1 quantization, input scales row-major and MN-major,
 * codes plain and transposed, E4M3 and E5M2 inputs; a 3-D tensor is refused. */
static void test_requant(void) {
  if (!selected("requant"))
    return;
  const int64_t R = quick ? 1024 : 4096, C = 2048, n = R * C, nb = C / 128;
  for (int v = 0; v < 8; v++) {
    const int el = v & 1, st = (v >> 1) & 1, tr = (v >> 2) & 1;
    alto_quant_spec from = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), spec = from;
    from.elem = el ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
    spec.axis = -2;
    float *xf;
    uint16_t *xb, *y = malloc((size_t)n * 2);
    alto_tensor_view x = make_2d_(R, C, ALTO_ELEM_BF16, &xf, &xb);
    alto_quantized src, ref;
    CHECK(alto_cpu_quantize(&from, &x, &src) == ALTO_OK);
    CHECK(alto_cpu_dequantize(&from, &src, ALTO_ELEM_BF16, y) == ALTO_OK);
    alto_tensor_view yv = {y, ALTO_ELEM_BF16, 2, {R, C, 0}};
    CHECK(alto_cpu_quantize(&spec, &yv, &ref) == ALTO_OK);
    float *xs = malloc((size_t)(R * nb * 4));
    if (st)
      transpose_(xs, src.scales, R, nb, 4);
    else
      memcpy(xs, src.scales, (size_t)(R * nb * 4));
    size_t sb = (size_t)(ref.layout.scale_count * ref.layout.scale_bytes);
    gpu_buf gc_in = gpu_alloc(B, (size_t)n), gs_in = gpu_alloc(B, (size_t)(R * nb * 4)),
            gc = gpu_alloc(B, (size_t)n), gs = gpu_alloc(B, sb);
    gpu_upload(B, gc_in, src.codes);
    gpu_upload(B, gs_in, xs);
    alto_gpu_quantized q = {gpu_ptr(gc), gpu_ptr(gs), 0, 0, tr != 0, false, 0, 0, false};
    alto_status s = alto_gpu_requantize(B, &spec, &yv, &from, gpu_ptr(gc_in), gpu_ptr(gs_in),
                                        st != 0, &q);
    CHECKF(s == ALTO_OK && B->i->sync(B) == ALTO_OK, "requant: %s", alto_last_error());
    uint8_t *got = malloc((size_t)n), *want = malloc((size_t)n), *scales = malloc(sb);
    gpu_download(B, got, gc, "requant");
    gpu_download(B, scales, gs, "requant");
    if (tr)
      transpose_(want, ref.codes, R, C, 1);
    else
      memcpy(want, ref.codes, (size_t)n);
    int64_t dc = first_diff(want, got, n), ds = first_diff(ref.scales, scales, (int64_t)sb);
    CHECKF(dc < 0 && ds < 0, "requant %s%s%s: codes differ at %lld, scales at %lld",
           el ? "e5m2" : "e4m3", st ? " MN-major" : "", tr ? " transposed" : "", (long long)dc,
           (long long)ds);
    fprintf(stderr, "  %-4s requant %s 1x128%s -> 128x1%s [%lld x %lld]\n",
            dc < 0 && ds < 0 ? "ok" : "FAIL", el ? "e5m2" : "e4m3", st ? " (MN-major)" : "",
            tr ? " transposed" : "", (long long)R, (long long)C);
    if (v == 0) { /* a 3-D tensor: refused, nothing launched */
      alto_tensor_view y3 = {y, ALTO_ELEM_BF16, 3, {2, R / 2, C}};
      CHECK(alto_gpu_requantize(B, &spec, &y3, &from, gpu_ptr(gc_in), gpu_ptr(gs_in), false, &q) ==
            ALTO_ERR_INVALID_ARG);
    }
    gpu_free(B, &gc_in), gpu_free(B, &gs_in), gpu_free(B, &gc), gpu_free(B, &gs);
    free(xf), free(xb), free(y), free(xs), free(got), free(want), free(scales);
    alto_quantized_free(&src);
    alto_quantized_free(&ref);
  }
}

/* y = R x alone (alto_gpu_rht_apply: the trainer's RHT nodes) against alto_cpu_rht, bit for bit
 * (NaN and Inf included), b = 16, 32 (quant_rht.cuh) and 64 (quant_tile.cuh), both dtypes. */
static void test_rht_apply(void) {
  if (!selected("rht apply"))
    return;
  const int bs[3] = {16, 32, 64};
  for (int d = 0; d < 2; d++)
    for (int i = 0; i < 3; i++) {
      alto_elem dt = d ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
      const int64_t dims[3] = {2, 128, 1030}, rows = dims[0] * dims[1], n = rows * dims[2];
      alto_tensor_view x = {NULL, dt, 3, {dims[0], dims[1], dims[2]}};
      size_t esz = d ? 4 : 2;
      float *xf = malloc((size_t)n * 4);
      uint16_t *xb = malloc((size_t)n * 2);
      make_input(xf, rows, dims[2], 1);
      for (int64_t k = 0; k < n; k++)
        xb[k] = alto_f32_to_bf16(xf[k]);
      x.data = d ? (const void *)xf : (const void *)xb;
      alto_gpu_rht rht = {bs[i], 0xABC, alto_stream_id(1, 2, 3, ALTO_RNG_RHT), 0};
      void *ref = malloc((size_t)n * esz), *got = malloc((size_t)n * esz);
      CHECK(alto_cpu_rht(&x, rht.b, rht.seed, rht.stream, dt, ref) == ALTO_OK);
      gpu_buf gx = gpu_alloc(B, (size_t)n * esz), gy = gpu_alloc(B, (size_t)n * esz);
      gpu_upload(B, gx, x.data);
      CHECKF(alto_gpu_rht_upload(B, &rht) == ALTO_OK, "%s", alto_last_error());
      alto_status st = alto_gpu_rht_apply(B, &x, gpu_ptr(gx), &rht, gpu_ptr(gy));
      CHECKF(st == ALTO_OK && B->i->sync(B) == ALTO_OK, "rht apply: %s", alto_last_error());
      gpu_download(B, got, gy, "rht apply");
      int64_t f = first_diff(ref, got, n * (int64_t)esz);
      CHECKF(f < 0, "rht apply b=%d %s: differs at byte %lld", bs[i], d ? "f32" : "bf16",
             (long long)f);
      fprintf(stderr, "  %-4s rht apply b=%d %s\n", f < 0 ? "ok" : "FAIL", bs[i],
              d ? "f32" : "bf16");
      alto_gpu_rht_free(B, &rht);
      gpu_free(B, &gx), gpu_free(B, &gy);
      free(ref), free(got), free(xf), free(xb);
    }
  /* an odd last dim: refused (the kernels transform column pairs), nothing launched */
  alto_tensor_view odd = {NULL, ALTO_ELEM_BF16, 2, {32, 7}};
  alto_gpu_rht r32 = {32, 1, 2, 256}; /* (a table address past the upload check; never read) */
  CHECK(alto_gpu_rht_apply(B, &odd, 0, &r32, 0) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "even last dim") != NULL);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    else if (n_filters < 32)
      filters[n_filters++] = argv[i];
  }
  if (alto_backend_open("cuda", &B) != ALTO_OK)
    alto_test_skip(alto_last_error());
  fprintf(stderr, "GPU: %s (%s)\n", B->device_name, B->arch);
  rng.s = alto_test_seed();
  RUN(test_matrix);
  RUN(test_rht_apply);
  RUN(test_codes_t);
  RUN(test_fp8_dual);
  RUN(test_swiglu_quant);
  RUN(test_swiglu_bwd_dual);
  RUN(test_scales_t);
  RUN(test_mx_tile);
  RUN(test_requant);
  RUN(test_weight_copy);
  RUN(test_adamw_quant);
  alto_backend_close(B);
  return alto_test_finish();
}
