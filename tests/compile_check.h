/* Shared by the kernel-matrix compile tests: compiles generated kernels in parallel with NVRTC for
 * an arch (the JIT's own options and embedded templates) and reports each failure with its source
 * and log. A kernel fails on a compile error, an empty binary, a warning, a ptxas "Potential
 * Performance Loss" note (wgmma serialized), or (when asked) a register spill. Header-only;
 * include once per test. */
#ifndef ALTO_TESTS_COMPILE_CHECK_H
#define ALTO_TESTS_COMPILE_CHECK_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/parallel.h"
#include "compiler/gen.h"
#include "runtime/jit.h"

alto_status alto_cuda_compile_source(const char *arch, const char *name, const char *source,
                                     const char *const *options, int n_options, void **image,
                                     size_t *size, char **log);

/* Generates kernel i of the set being checked. */
typedef alto_status (*compile_check_gen)(int i, alto_gen_kernel *g);

typedef struct {
  compile_check_gen gen;
  const char *arch;
  bool fail_on_spill;
  int *failures;
} compile_check_ctx_;

/* True when ptxas -v reported a nonzero "N bytes spill stores". */
static bool compile_check_spills_(const char *log) {
  const char *spill = log ? strstr(log, "bytes spill stores") : NULL;
  if (!spill)
    return false;
  const char *p = spill;
  while (p > log && p[-1] == ' ')
    p--;
  return p > log && p[-1] != '0';
}

static void compile_check_range_(void *arg, int64_t b, int64_t e) {
  compile_check_ctx_ *c = arg;
  for (int64_t i = b; i < e; i++) {
    alto_gen_kernel g;
    if (c->gen((int)i, &g) != ALTO_OK) {
      fprintf(stderr, "generate %lld: %s\n", (long long)i, alto_last_error());
      c->failures[i] = 1;
      continue;
    }
    void *image = NULL;
    size_t size = 0;
    char *log = NULL;
    int nopt = 0;
    const char *const *opts = alto_jit_options(ALTO_TARGET_CUDA, &nopt);
    alto_status st =
        alto_cuda_compile_source(c->arch, g.name, g.source, opts, nopt, &image, &size, &log);
    bool spills = c->fail_on_spill && compile_check_spills_(log);
    /* ptxas's "Potential Performance Loss" infos (e.g. C7514: wgmma serialized) count as failures */
    bool perf = log && strstr(log, "Potential Performance Loss");
    if (st != ALTO_OK || size == 0 || (log && strstr(log, "warning")) || spills || perf) {
      fprintf(stderr, "%s: %s\n%s\n%s\n", g.key,
              st ? alto_last_error()
                 : (spills ? "register spills" : perf ? "ptxas: potential performance loss" : "warning"),
              g.source, log ? log : "");
      c->failures[i] = 1;
    }
    free(image);
    free(log);
    alto_gen_kernel_free(&g);
  }
}

/* Compiles kernels 0..n-1; returns how many failed. */
static int compile_check_all(int n, compile_check_gen gen, const char *arch, bool fail_on_spill) {
  int *failures = calloc((size_t)(n > 0 ? n : 1), sizeof(int));
  compile_check_ctx_ c = {gen, arch, fail_on_spill, failures};
  alto_parallel_for(n, 1, compile_check_range_, &c);
  int bad = 0;
  for (int i = 0; i < n; i++)
    bad += failures[i];
  free(failures);
  return bad;
}

#endif
