/* bench/quant: effective bandwidth of every quantization kernel and of the dequantization kernels
 * (codes + scales back to the input dtype; "dq ..." rows) in bytes read + bytes written per second,
 * against a device-to-device copy of the input measured in the same run.
 *
 *   build/bench/bench_quant [--f32] [--only SUBSTR]... [M K]   (default M = 8192, K = 7168, bf16)
 *
 * --f32 takes an fp32 input (the copy then moves fp32 too); --only runs the kernels whose name
 * contains SUBSTR (repeatable).
 * Each kernel: 5 warm-up launches, then the median of 7 timings of 20 launches (device events).
 * Inputs are random (randn + 0.5% outliers), never zeros. Prints a table; CSV with --csv. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/driver.h"
#include "runtime/quant_gpu.h"
#include "tests/harness.h"

static alto_backend *B;
static int64_t M = 8192, K = 7168;
static int in_f32;
static const char *only[16];
static int n_only;

static int selected(const char *name) {
  if (n_only == 0)
    return 1;
  for (int i = 0; i < n_only; i++)
    if (strstr(name, only[i]))
      return 1;
  return 0;
}

typedef struct {
  const char *name;
  alto_quant_spec spec, wgrad; /* wgrad: the dual kernel's second copy */
  int rht;
  int dual; /* 2: fp8_block's forward X (alto_gpu_quantize_x_dual) */
  int dequant; /* time alto_gpu_dequantize (to the input dtype) of spec's codes */
  int codes_t; /* codes written transposed (alto_gpu_quantized.codes_t); dual: see below */
  int mx_tile; /* the E4M3 form of the FP8 GEMM (alto_gpu_quantized.mx_tile) */
  int requant; /* alto_gpu_requantize: spec's 128x1 transposed codes from 1x128 codes (MN-major
                * scales) of the input, made once before timing (fp8_block's wgrad X) */
} bench_case;

typedef struct {
  const bench_case *bc;
  alto_tensor_view x;
  alto_dptr xd;
  alto_gpu_quantized q, q2;
  alto_gpu_rht rht;
  alto_status st;
  alto_dptr y; /* dequant output */
} bench_ctx;

static void run_once(void *p) {
  bench_ctx *c = p;
  if (c->st != ALTO_OK)
    return;
  if (c->bc->dequant)
    c->st = alto_gpu_dequantize(B, &c->bc->spec, &c->x, &c->q, c->x.dtype, c->y);
  else if (c->bc->requant)
    c->st = alto_gpu_requantize(B, &c->bc->spec, &c->x, &c->bc->wgrad, c->q2.codes, c->q2.scales,
                                true, &c->q);
  else if (c->bc->dual == 2)
    c->st = alto_gpu_quantize_x_dual(B, &c->bc->spec, &c->bc->wgrad, &c->x, c->xd, &c->q, &c->q2);
  else if (c->bc->dual)
    c->st = alto_gpu_quantize_dual(B, &c->bc->spec, &c->bc->wgrad, &c->x, c->xd, &c->rht, &c->q,
                                   &c->q2);
  else
    c->st = alto_gpu_quantize(B, &c->bc->spec, &c->x, c->xd, c->rht.b ? &c->rht : NULL, &c->q);
}

typedef struct {
  alto_dptr dst, src;
  size_t bytes;
} copy_ctx;
static void run_copy(void *p) {
  copy_ctx *c = p;
  alto_cuda_d2d(c->dst, c->src, c->bytes);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static float median_ms(void (*fn)(void *), void *ctx, int iters) {
  float t[7], ms;
  for (int w = 0; w < 5; w++)
    fn(ctx);
  for (int r = 0; r < 7; r++) {
    if (B->i->time_ms(B, fn, ctx, iters, &ms) != ALTO_OK)
      return NAN;
    t[r] = ms / (float)iters;
  }
  qsort(t, 7, sizeof t[0], cmp_float);
  return t[3];
}

int main(int argc, char **argv) {
  int csv = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--csv") == 0)
      csv = 1;
    else if (strcmp(argv[i], "--f32") == 0)
      in_f32 = 1;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && n_only < 16)
      only[n_only++] = argv[++i];
    else if (i + 1 < argc) {
      M = atoll(argv[i]);
      K = atoll(argv[++i]);
    }
  }
  if (alto_backend_open("cuda", &B) != ALTO_OK) {
    fprintf(stderr, "bench_quant: %s\n", alto_last_error());
    return 77;
  }
  size_t n = (size_t)(M * K), esz = in_f32 ? 4 : 2;
  alto_elem dtype = in_f32 ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
  float *xf = malloc(n * 4);
  uint16_t *xb = malloc(n * 2);
  alto_test_rng rng = {12345};
  alto_test_fill_outliers(&rng, xf, (int64_t)n, 1.0f);
  for (size_t i = 0; i < n; i++)
    xb[i] = alto_f32_to_bf16(xf[i]);
  alto_dptr xd, dst, codes, scales, codes2, scales2, small;
  if (B->i->alloc(B, n * esz, &xd) || B->i->alloc(B, n * esz, &dst) || B->i->alloc(B, n, &codes) ||
      B->i->alloc(B, n / 8 + 1024, &scales) || B->i->alloc(B, n, &codes2) ||
      B->i->alloc(B, n / 8 + 1024, &scales2) || B->i->alloc(B, 256, &small)) {
    fprintf(stderr, "bench_quant: %s\n", alto_last_error());
    return 1;
  }
  B->i->h2d(B, xd, in_f32 ? (const void *)xf : (const void *)xb, n * esz);

  copy_ctx cc = {dst, xd, n * esz};
  float copy_ms = median_ms(run_copy, &cc, 20);
  double copy_gbs = 2.0 * (double)n * esz / (copy_ms * 1e-3) / 1e9;

  alto_quant_spec mx4 = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  bench_case cases[48];
  int nc = 0;
#define ADD(nm, ...) cases[nc++] = (bench_case){nm, __VA_ARGS__, 0, 0, 0, 0}
  alto_quant_spec s = mx4;
  ADD("mxfp4 1x32 along K", s, s, 0, 0);
  s.sr = true, s.seed = 1, s.stream = 2;
  ADD("mxfp4 1x32 along K, SR", s, s, 0, 0);
  ADD("mxfp4 1x32 along K, SR, E4M3 form", s, s, 0, 0);
  cases[nc - 1].mx_tile = 1;
  s = mx4;
  ADD("mxfp4 1x32 along K, E4M3 form", s, s, 0, 0);
  cases[nc - 1].mx_tile = 1;
  s = mx4, s.axis = -2;
  ADD("mxfp4 32x1 along M", s, s, 0, 0);
  ADD("mxfp4 32x1 along M, RHT32", s, s, 32, 0);
  s.sr = true, s.seed = 1, s.stream = 2;
  ADD("mxfp4 32x1 along M, RHT32, SR", s, s, 32, 0);
  s = mx4, s.block2d = true;
  ADD("mxfp4 32x32 (2-D)", s, s, 0, 0);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E4M3);
  ADD("mxfp8 e4m3 1x32 along K", s, s, 0, 0);
  s.axis = -2;
  ADD("mxfp8 e4m3 32x1 along M", s, s, 0, 0);
  s.block2d = true;
  ADD("mxfp8 e4m3 32x32 (2-D)", s, s, 0, 0);
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  ADD("nvfp4 1x16 along K", s, s, 0, 0);
  s.two_level = true;
  ADD("nvfp4 1x16 two-level", s, s, 0, 0);
  s.two_level = false, s.axis = -2;
  ADD("nvfp4 16x1 along M", s, s, 0, 0);
  ADD("nvfp4 16x1 along M, RHT16", s, s, 16, 0);
  s.block2d = true;
  ADD("nvfp4 16x16 (2-D)", s, s, 0, 0);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  ADD("fp8 1x128 along K", s, s, 0, 0);
  s.axis = -2;
  ADD("fp8 128x1 along M", s, s, 0, 0);
  ADD("fp8 128x1 along M, codes transposed", s, s, 0, 0);
  cases[nc - 1].codes_t = 1;
  s.block2d = true;
  ADD("fp8 128x128 (2-D)", s, s, 0, 0);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_ROWWISE);
  ADD("fp8 rowwise", s, s, 0, 0);
  s.axis = -2;
  ADD("fp8 rowwise along M", s, s, 0, 0);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_TENSORWISE);
  ADD("fp8 tensorwise", s, s, 0, 0);
  alto_quant_spec f = mx4, w = mx4;
  w.axis = -2;
  ADD("dual mxfp4: 1x32 K + RHT32 32x1 M", f, w, 32, 1);
  f.sr = w.sr = true, f.seed = w.seed = 3, f.stream = 4, w.stream = 5;
  ADD("dual mxfp4 + RHT32 + SR", f, w, 32, 1);
  f = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), w = f;
  w.axis = -2;
  ADD("dual fp8: 1x128 K + 128x1 M transposed", f, w, 0, 1); /* the training step's dY */
  cases[nc - 1].codes_t = 1;
  ADD("requant fp8: 128x1 M transposed from 1x128", w, f, 0, 0); /* the training step's X */
  cases[nc - 1].codes_t = 1, cases[nc - 1].requant = 1;
  ADD("xdual fp8: 1x128 K + 128x1 of its dequant", f, w, 0, 2); /* the step's X, in forward */
  cases[nc - 1].codes_t = 1;
#undef ADD
  /* dequantization of every scheme, both axes (the GPU trainer's GEMM emulation) */
  {
    const struct {
      alto_scheme sch;
      int axis, block2d;
      const char *name;
    } dq[] = {{ALTO_SCHEME_MXFP4, -1, 0, "dq mxfp4 1x32 along K"},
              {ALTO_SCHEME_MXFP4, -2, 0, "dq mxfp4 32x1 along M"},
              {ALTO_SCHEME_MXFP4, -2, 1, "dq mxfp4 32x32 (2-D)"},
              {ALTO_SCHEME_MXFP8_E4M3, -1, 0, "dq mxfp8 e4m3 1x32 along K"},
              {ALTO_SCHEME_MXFP8_E4M3, -2, 0, "dq mxfp8 e4m3 32x1 along M"},
              {ALTO_SCHEME_NVFP4, -1, 0, "dq nvfp4 1x16 along K"},
              {ALTO_SCHEME_NVFP4, -2, 0, "dq nvfp4 16x1 along M"},
              {ALTO_SCHEME_FP8_BLOCK, -1, 0, "dq fp8 1x128 along K"},
              {ALTO_SCHEME_FP8_BLOCK, -2, 0, "dq fp8 128x1 along M"},
              {ALTO_SCHEME_FP8_BLOCK, -2, 1, "dq fp8 128x128 (2-D)"},
              {ALTO_SCHEME_FP8_ROWWISE, -1, 0, "dq fp8 rowwise along K"},
              {ALTO_SCHEME_FP8_ROWWISE, -2, 0, "dq fp8 rowwise along M"},
              {ALTO_SCHEME_FP8_TENSORWISE, -1, 0, "dq fp8 tensorwise"}};
    for (size_t i = 0; i < sizeof dq / sizeof dq[0]; i++) {
      alto_quant_spec q = alto_quant_spec_default(dq[i].sch);
      q.axis = dq[i].axis, q.block2d = dq[i].block2d;
      cases[nc++] = (bench_case){dq[i].name, q, q, 0, 0, 1, 0, 0, 0};
    }
  }

  if (csv)
    printf("kernel,ms,GB/s,fraction_of_copy\n");
  else
    printf("GPU %s, M=%lld K=%lld %s; device-to-device copy: %.3f ms, %.0f GB/s (read+write)\n\n"
           "%-40s %9s %9s %8s\n",
           B->device_name, (long long)M, (long long)K, in_f32 ? "f32" : "bf16", copy_ms, copy_gbs,
           "kernel", "ms", "GB/s", "of copy");
  for (int i = 0; i < nc; i++) {
    if (!selected(cases[i].name))
      continue;
    bench_ctx c = {&cases[i], {NULL, dtype, 2, {M, K, 0}}, xd,
                   /* a dual case's codes_t: the second copy's codes transposed, the first's
                    * scales MN-major (fp8_block dY as training lays it out) */
                   {codes, scales, small, small + 64, cases[i].codes_t && !cases[i].dual,
                    cases[i].codes_t && cases[i].dual, 0, 0, cases[i].mx_tile != 0},
                   {codes2, scales2, small + 128, small + 192, cases[i].codes_t && cases[i].dual,
                    cases[i].requant != 0, 0, 0, false},
                   {cases[i].rht, 9, 10, 0}, ALTO_OK, dst};
    if (c.rht.b && alto_gpu_rht_upload(B, &c.rht) != ALTO_OK) { /* once, as training does */
      printf("%-40s %s\n", cases[i].name, alto_last_error());
      continue;
    }
    alto_quant_layout l, l2;
    if (alto_quant_layout_of(&cases[i].spec, &c.x, &l) != ALTO_OK) {
      printf("%-40s %s\n", cases[i].name, alto_last_error());
      continue;
    }
    alto_quant_layout_of(&cases[i].wgrad, &c.x, &l2);
    if (cases[i].dequant && /* codes and scales to dequantize: the input's */
        alto_gpu_quantize(B, &cases[i].spec, &c.x, c.xd, NULL, &c.q) != ALTO_OK) {
      printf("%-40s quantize failed: %s\n", cases[i].name, alto_last_error());
      continue;
    }
    if (cases[i].requant && /* the 1x128 codes (MN-major scales) it starts from */
        alto_gpu_quantize(B, &cases[i].wgrad, &c.x, c.xd, NULL, &c.q2) != ALTO_OK) {
      printf("%-40s quantize failed: %s\n", cases[i].name, alto_last_error());
      continue;
    }
    float ms = median_ms(run_once, &c, 20);
    if (c.st != ALTO_OK) {
      printf("%-40s failed: %s\n", cases[i].name, alto_last_error());
      continue;
    }
    double bytes = /* the input (or, dequantizing, the output) + codes + scales */
        (double)n * esz + (double)l.codes_bytes + (double)(l.scale_count * l.scale_bytes);
    if (cases[i].mx_tile) /* E4M3 codes, fp32 scales per 128 */
      bytes = (double)n * esz + (double)n + (double)n / 32;
    if (cases[i].dual)
      bytes += (double)l2.codes_bytes + (double)(l2.scale_count * l2.scale_bytes);
    if (cases[i].requant) /* 1x128 codes and scales in, not the bf16 input */
      bytes += (double)l2.codes_bytes + (double)(l2.scale_count * l2.scale_bytes) -
               (double)n * esz;
    alto_gpu_rht_free(B, &c.rht);
    double gbs = bytes / (ms * 1e-3) / 1e9;
    if (csv)
      printf("%s,%.4f,%.1f,%.3f\n", cases[i].name, ms, gbs, gbs / copy_gbs);
    else
      printf("%-40s %9.4f %9.0f %7.0f%%\n", cases[i].name, ms, gbs, 100.0 * gbs / copy_gbs);
  }
  alto_backend_close(B);
  return 0;
}
