/* bench/gemm: cuBLASLt TFLOP/s for the GEMMs alto's own kernels race against (perf-anchors.md 3.3):
 * bf16 (fp32 accumulation, bf16 out), FP8 block-scaled A 1x128 x B 128x128 (fprop/dgrad; scales
 * converted ahead, and with the conversion inside the call), and FP8 1x128 x 1x128 (wgrad).
 *
 *   build/bench/bench_cublaslt [M N K]     (default: 8192^3 and the Llama 3 8B shapes at M = 8192:
 *                                           N x K = 4096x4096, 14336x4096, 4096x14336)
 *
 * Each GEMM: 3 warm-up calls, then the median of 7 timings of 10 back-to-back calls (device events,
 * no L2 flush: between perf-anchors' "burst" and "sustained"). Inputs are random (bf16 randn with
 * outliers; E4M3 codes with moderate exponents, never zero; positive fp32 scales), C in bf16.
 * FLOPs = 2 M N K. Prints a table; CSV with --csv. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend.h"
#include "runtime/cuda/cublaslt.h"
#include "runtime/cuda/driver.h"
#include "bench/gemm/bench_gemm_util.h"
#include "tests/harness.h"

static alto_backend *B;

enum { KIND_BF16, KIND_FP8_FPROP, KIND_FP8_FPROP_CONV, KIND_FP8_WGRAD, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = {"bf16", "fp8 1x128.128x128",
                                                   "fp8 same+scale conv", "fp8 1x128.1x128"};

typedef struct {
  int kind;
  int64_t m, n, k;
  alto_cuda_ptr a, b, c;
  alto_cublaslt_fp8_operand fa, fb;
  alto_status st;
} gemm_ctx;

static void run_once(void *p) {
  gemm_ctx *g = p;
  if (g->st != ALTO_OK)
    return;
  if (g->kind == KIND_BF16)
    g->st = alto_cublaslt_gemm_bf16(g->c, g->a, g->b, g->m, g->n, g->k, false, false, false,
                                    ALTO_DT_BF16);
  else
    g->st =
        alto_cublaslt_gemm_fp8_block(g->c, &g->fa, &g->fb, g->m, g->n, g->k, false, ALTO_DT_BF16);
}


/* One shape: every kind; returns TFLOP/s per kind (NaN where it failed). */
static void bench_shape(int64_t m, int64_t n, int64_t k, double tflops[KIND_COUNT]) {
  for (int i = 0; i < KIND_COUNT; i++)
    tflops[i] = NAN;
  alto_cuda_ptr a = 0, b = 0, c = 0, sa = 0, sb = 0, sb1 = 0, la = 0, lb = 0, lb1 = 0;
  size_t sa_bytes = (size_t)(m * (k / 128)) * 4,
         sb_bytes = (size_t)(((n + 127) / 128) * (k / 128)) * 4;
  size_t sb1_bytes = (size_t)(n * (k / 128)) * 4;
  if (alto_cuda_malloc(&a, (size_t)(m * k) * 2) || alto_cuda_malloc(&b, (size_t)(n * k) * 2) ||
      alto_cuda_malloc(&c, (size_t)(m * n) * 2) || alto_cuda_malloc(&sa, sa_bytes) ||
      alto_cuda_malloc(&sb, sb_bytes) || alto_cuda_malloc(&sb1, sb1_bytes) ||
      alto_cuda_malloc(&la, alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, m, k)) ||
      alto_cuda_malloc(&lb, alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_128X128, n, k)) ||
      alto_cuda_malloc(&lb1, alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, n, k))) {
    fprintf(stderr, "bench_cublaslt: %s\n", alto_last_error());
    goto done;
  }
  double flops = 2.0 * (double)m * (double)n * (double)k;
  /* bf16: A [M, K], B [N, K] */
  if (bench_fill_pattern(a, (size_t)(m * k) * 2, pat_bf16, BENCH_PAT_BYTES) ||
      bench_fill_pattern(b, (size_t)(n * k) * 2, pat_bf16, BENCH_PAT_BYTES)) {
    fprintf(stderr, "bench_cublaslt: %s\n", alto_last_error());
    goto done;
  }
  gemm_ctx g = {KIND_BF16, m, n, k, a, b, c, {0}, {0}, ALTO_OK};
  float ms = bench_median_ms(B, run_once, &g, &g.st, 10);
  if (g.st != ALTO_OK)
    fprintf(stderr, "bench_cublaslt: bf16 %lldx%lldx%lld: %s\n", (long long)m, (long long)n,
            (long long)k, alto_last_error());
  else
    tflops[KIND_BF16] = flops / (ms * 1e-3) / 1e12;
  /* fp8: the same buffers hold E4M3 codes (the first M*K / N*K bytes) */
  if (bench_fill_pattern(a, (size_t)(m * k), pat_e4m3, BENCH_PAT_BYTES) ||
      bench_fill_pattern(b, (size_t)(n * k), pat_e4m3, BENCH_PAT_BYTES) ||
      bench_fill_pattern(sa, sa_bytes, pat_scale, BENCH_PAT_BYTES) ||
      bench_fill_pattern(sb, sb_bytes, pat_scale, BENCH_PAT_BYTES) ||
      bench_fill_pattern(sb1, sb1_bytes, pat_scale, BENCH_PAT_BYTES) ||
      alto_cublaslt_convert_scales(la, sa, ALTO_CUBLASLT_SCALE_1X128, m, k) ||
      alto_cublaslt_convert_scales(lb, sb, ALTO_CUBLASLT_SCALE_128X128, n, k) ||
      alto_cublaslt_convert_scales(lb1, sb1, ALTO_CUBLASLT_SCALE_1X128, n, k)) {
    fprintf(stderr, "bench_cublaslt: %s\n", alto_last_error());
    goto done;
  }
  for (int kind = KIND_FP8_FPROP; kind < KIND_COUNT; kind++) {
    gemm_ctx f = {kind, m, n, k, a, b, c, {0}, {0}, ALTO_OK};
    bool conv = kind == KIND_FP8_FPROP_CONV;
    f.fa = (alto_cublaslt_fp8_operand){a, conv ? sa : la, ALTO_CUBLASLT_SCALE_1X128,
                                       ALTO_DT_FP8_E4M3, !conv};
    if (kind == KIND_FP8_WGRAD)
      f.fb = (alto_cublaslt_fp8_operand){b, lb1, ALTO_CUBLASLT_SCALE_1X128, ALTO_DT_FP8_E4M3, true};
    else
      f.fb = (alto_cublaslt_fp8_operand){b, conv ? sb : lb, ALTO_CUBLASLT_SCALE_128X128,
                                         ALTO_DT_FP8_E4M3, !conv};
    ms = bench_median_ms(B, run_once, &f, &f.st, 10);
    if (f.st != ALTO_OK)
      fprintf(stderr, "bench_cublaslt: %s %lldx%lldx%lld: %s\n", kind_names[kind], (long long)m,
              (long long)n, (long long)k, alto_last_error());
    else
      tflops[kind] = flops / (ms * 1e-3) / 1e12;
  }
done:
  alto_cuda_sync();
  alto_cuda_free(a), alto_cuda_free(b), alto_cuda_free(c);
  alto_cuda_free(sa), alto_cuda_free(sb), alto_cuda_free(sb1);
  alto_cuda_free(la), alto_cuda_free(lb), alto_cuda_free(lb1);
}

int main(int argc, char **argv) {
  int csv = 0;
  int64_t shapes[8][3] = {
      {8192, 8192, 8192}, {8192, 4096, 4096}, {8192, 14336, 4096}, {8192, 4096, 14336}};
  int ns = 4;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--csv") == 0)
      csv = 1;
    else if (i + 2 < argc) {
      shapes[0][0] = atoll(argv[i]);
      shapes[0][1] = atoll(argv[i + 1]);
      shapes[0][2] = atoll(argv[i + 2]);
      ns = 1;
      i += 2;
    }
  }
  if (alto_cublaslt_load() != ALTO_OK || alto_backend_open("cuda", &B) != ALTO_OK) {
    fprintf(stderr, "bench_cublaslt: %s\n", alto_last_error());
    return 77;
  }
  if (alto_cublaslt_init() != ALTO_OK) {
    fprintf(stderr, "bench_cublaslt: %s\n", alto_last_error());
    return 1;
  }
  bench_make_patterns();
  if (csv)
    printf("M,N,K,%s,%s,%s,%s\n", kind_names[0], kind_names[1], kind_names[2], kind_names[3]);
  else
    printf("GPU %s, cuBLASLt %zu; TFLOP/s (median of 7 x 10 calls), C bf16\n\n"
           "%-22s %10s %19s %19s %17s\n",
           B->device_name, alto_cublaslt_version(), "M x N x K", kind_names[0], kind_names[1],
           kind_names[2], kind_names[3]);
  for (int s = 0; s < ns; s++) {
    double t[KIND_COUNT];
    bench_shape(shapes[s][0], shapes[s][1], shapes[s][2], t);
    char dims[64];
    snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)shapes[s][0], (long long)shapes[s][1],
             (long long)shapes[s][2]);
    if (csv)
      printf("%lld,%lld,%lld,%.1f,%.1f,%.1f,%.1f\n", (long long)shapes[s][0],
             (long long)shapes[s][1], (long long)shapes[s][2], t[0], t[1], t[2], t[3]);
    else
      printf("%-22s %10.1f %19.1f %19.1f %17.1f\n", dims, t[0], t[1], t[2], t[3]);
  }
  alto_cublaslt_shutdown();
  alto_backend_close(B);
  return 0;
}
