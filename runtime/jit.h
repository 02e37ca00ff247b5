/* The JIT (ARCHITECTURE.md stage 7): a generated kernel -> a loaded device function, through the
 * backend's runtime compiler, memoized in this process (and cached on disk: runtime/cache.c). */
#ifndef ALTO_RUNTIME_JIT_H
#define ALTO_RUNTIME_JIT_H

#include "compiler/gen.h"
#include "runtime/backend.h"

typedef struct {
  void *fn;       /* backend function handle */
  int threads;    /* CTA size the stub was generated for */
  int smem_bytes; /* dynamic shared memory per CTA */
} alto_jit_fn;

/* Compiles (or finds) and loads g for b. On a compile failure: ALTO_ERR_COMPILE with the
 * numbered source, the log and a repro command. */
alto_status alto_jit_get(alto_backend *b, const alto_gen_kernel *g, alto_jit_fn *out);

/* The compiler options of a target (part of every cache key). */
const char *const *alto_jit_options(alto_target t, int *n);

/* Statistics of this process: kernels compiled, found in memory. */
typedef struct {
  int compiled, memory_hits, disk_hits;
  double compile_ms;
} alto_jit_stats;
alto_jit_stats alto_jit_get_stats(void);

#endif
