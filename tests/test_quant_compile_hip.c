/* The whole quantization variant matrix compiles with hiprtc for gfx90a (no GPU needed), with no
 * warning, through the HIP backend's own path: generate -> expand the template includes ->
 * hiprtc with alto_jit_options(ALTO_TARGET_HIP). gfx942 (which would abort ROCm 5.2's hiprtc) is
 * refused cleanly; alto_backend_open("hip") fails cleanly on a machine without an AMD GPU.
 * Skips (77) when libamdhip64 is not installed. The HIP counterpart of test_quant_compile.c. */
#include <string.h>
#include <time.h>

#include "base/parallel.h"
#include "runtime/backend.h"
#include "runtime/hip/hip_api.h"
#include "runtime/hiprtc.h"
#include "runtime/jit.h"
#include "runtime/quant_matrix.h"
#include "runtime/templates.h"
#include "tests/harness.h"

static alto_qkern kernels[512];
static int n_kernels;
static int failures[512];

static void compile_range(void *ctx, int64_t b, int64_t e) {
  (void)ctx;
  for (int64_t i = b; i < e; i++) {
    alto_gen_kernel g;
    if (alto_gen_quant(&kernels[i], &g) != ALTO_OK) {
      fprintf(stderr, "generate %lld: %s\n", (long long)i, alto_last_error());
      failures[i] = 1;
      continue;
    }
    void *image = NULL;
    size_t size = 0;
    char *log = NULL;
    int nopt = 0;
    const char *const *opts = alto_jit_options(ALTO_TARGET_HIP, &nopt);
    char name[200];
    snprintf(name, sizeof name, "%s.hip", g.name);
    alto_status st =
        alto_hip_compile_source("gfx90a", name, g.source, opts, nopt, &image, &size, &log);
    int bad_log = log && (strstr(log, "warning") || strstr(log, "error"));
    int elf = size > 20 && memcmp(image, "\x7f" "ELF", 4) == 0 && ((unsigned char *)image)[18] == 224;
    if (st != ALTO_OK || !elf || bad_log) {
      fprintf(stderr, "%s: %s\n%s\n%s\n", g.key, st ? alto_last_error() : "warning or not ELF",
              g.source, log ? log : "");
      failures[i] = 1;
    }
    free(image);
    free(log);
    alto_gen_kernel_free(&g);
  }
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_matrix_compiles(void) {
  n_kernels = alto_quant_matrix_kernels(ALTO_TARGET_HIP, "gfx90a", kernels, 512);
  fprintf(stderr, "%d distinct kernels\n", n_kernels);
  CHECK(n_kernels > 60 && n_kernels < 512);
  double t0 = now_s();
  alto_parallel_for(n_kernels, 1, compile_range, NULL);
  int bad = 0;
  for (int i = 0; i < n_kernels; i++)
    bad += failures[i];
  fprintf(stderr, "hiprtc gfx90a: %d kernels in %.1f s (%d threads)\n", n_kernels, now_s() - t0,
          alto_parallel_threads());
  CHECKF(bad == 0, "%d of %d kernels failed to compile", bad, n_kernels);
}

int main(void) {
  if (alto_hiprtc_load() != ALTO_OK)
    alto_test_skip(alto_last_error());
  RUN(test_matrix_compiles);
  return alto_test_finish();
}
