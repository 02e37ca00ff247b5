/* The whole quantization variant matrix compiles with hiprtc for gfx90a (no GPU needed), with no
 * warning, through the HIP backend's own path: generate -> expand the template includes ->
 * hiprtc with alto_jit_options(ALTO_TARGET_HIP). gfx942 (which would abort ROCm 5.2's hiprtc) is
 * refused cleanly. Skips (77) when libamdhip64 is not installed. The HIP counterpart of
 * test_quant_compile.c; serial, because ROCm 5.2's hiprtc is not thread-safe (runtime/hiprtc.c
 * serializes it: test_concurrent_callers checks that lock). About 40 s on one core. */
#include <string.h>
#include <time.h>

#include "base/parallel.h"
#include "runtime/backend.h"
#include "runtime/hip/backend_hip.h"
#include "runtime/hiprtc.h"
#include "runtime/jit.h"
#include "runtime/quant_matrix.h"
#include "runtime/templates.h"
#include "tests/harness.h"

/* Under ASan (build-san): hiprtc's LLVM replaces a thread's alternate signal stack, and ASan then
 * fails to unmap "its" stack when a worker thread exits ("unable to unmap", CHECK failed). ASan's
 * own alternate stack is not needed here. Unused outside sanitizer builds. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void) {
  return "use_sigaltstack=0";
}

static alto_qkern kernels[512];
static int n_kernels;
static int failures[512];

static const char *compile_arch = "gfx90a";

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
        alto_hip_compile_source(compile_arch, name, g.source, opts, nopt, &image, &size, &log);
    int bad_log = log && (strstr(log, "warning") || strstr(log, "error"));
    int elf = size > 20 &&
              memcmp(image,
                     "\x7f"
                     "ELF",
                     4) == 0 &&
              ((unsigned char *)image)[18] == 224;
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
  compile_range(NULL, 0, n_kernels);
  int bad = 0;
  for (int i = 0; i < n_kernels; i++)
    bad += failures[i];
  fprintf(stderr, "hiprtc gfx90a: %d kernels in %.1f s\n", n_kernels, now_s() - t0);
  CHECKF(bad == 0, "%d of %d kernels failed to compile", bad, n_kernels);
}

/* Two threads compiling at once (as alto-compile does) must not crash ROCm 5.2's hiprtc. */
static void test_concurrent_callers(void) {
  n_kernels = alto_quant_matrix_kernels(ALTO_TARGET_HIP, "gfx90a", kernels, 512);
  CHECK(n_kernels >= 4);
  memset(failures, 0, sizeof failures);
  alto_parallel_for(4, 1, compile_range, NULL);
  CHECK(failures[0] + failures[1] + failures[2] + failures[3] == 0);
}

/* gfx942 would abort the process inside hiprtc: refused before it is called, for every kernel
 * kind (the arch check comes before any hiprtc call, so this takes no time). */
static void test_gfx942_refused(void) {
  alto_qkern ks[512];
  int n = alto_quant_matrix_kernels(ALTO_TARGET_HIP, "gfx942", ks, 512);
  CHECK(n > 60);
  for (int i = 0; i < n; i++) {
    alto_gen_kernel g;
    if (alto_gen_quant(&ks[i], &g) != ALTO_OK)
      continue;
    void *image = NULL;
    size_t size = 0;
    char *log = NULL;
    int nopt = 0;
    const char *const *opts = alto_jit_options(ALTO_TARGET_HIP, &nopt);
    alto_status st =
        alto_hip_compile_source("gfx942", g.name, g.source, opts, nopt, &image, &size, &log);
    CHECKF(st == ALTO_ERR_UNSUPPORTED, "%s: %s", g.key, alto_status_name(st));
    CHECK(image == NULL && size == 0 && log != NULL);
    if (i == 0)
      CHECKF(strstr(alto_last_error(), "gfx942") && strstr(alto_last_error(), "gfx90a"), "%s",
             alto_last_error());
    free(log);
    alto_gen_kernel_free(&g);
  }
}

int main(void) {
  RUN(test_gfx942_refused); /* needs no library */
  if (alto_hiprtc_load() != ALTO_OK) {
    if (alto_test_failures)
      return alto_test_finish();
    alto_test_skip(alto_last_error());
  }
  RUN(test_concurrent_callers);
  memset(failures, 0, sizeof failures);
  RUN(test_matrix_compiles);
  return alto_test_finish();
}
