/* The training-op kernel matrix (templates/ops/) compiles with hiprtc for gfx90a (no GPU needed),
 * with no warning, through the HIP backend's path (wavefront 64: the CTA reductions and the
 * RMSNorm CTA sizes must hold there too). The HIP counterpart of test_ops_compile.c; serial
 * (ROCm 5.2's hiprtc is not thread-safe). Skips (77) when libamdhip64 is not installed. */
#include <string.h>

#include "runtime/hip/backend_hip.h"
#include "runtime/hiprtc.h"
#include "runtime/jit.h"
#include "runtime/ops_gpu.h"
#include "tests/harness.h"

/* As test_quant_compile_hip.c: hiprtc's LLVM replaces a thread's alternate signal stack, which
 * ASan would then fail to unmap. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void) {
  return "use_sigaltstack=0";
}

static void test_matrix_compiles(void) {
  alto_opkern ks[256];
  int n = alto_ops_gpu_matrix(ALTO_TARGET_HIP, "gfx90a", ks, 256), bad = 0;
  CHECK(n > 40);
  for (int i = 0; i < n; i++) {
    alto_gen_kernel g;
    if (alto_gen_ops(&ks[i], &g) != ALTO_OK) {
      fprintf(stderr, "generate %d: %s\n", i, alto_last_error());
      bad++;
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
    if (st != ALTO_OK || size < 20 ||
        memcmp(image,
               "\x7f"
               "ELF",
               4) != 0 ||
        bad_log) {
      fprintf(stderr, "%s: %s\n%s\n%s\n", g.key, st ? alto_last_error() : "warning or not ELF",
              g.source, log ? log : "");
      bad++;
    }
    free(image);
    free(log);
    alto_gen_kernel_free(&g);
  }
  CHECKF(bad == 0, "%d of %d op kernels failed to compile for gfx90a", bad, n);
}

int main(void) {
  if (alto_hiprtc_load() != ALTO_OK)
    alto_test_skip(alto_last_error());
  RUN(test_matrix_compiles);
  return alto_test_finish();
}
