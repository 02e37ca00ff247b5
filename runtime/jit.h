/* The JIT (ARCHITECTURE.md stage 7): a generated kernel -> a loaded device function, through the
 * backend's runtime compiler, memoized in this process (and cached on disk: runtime/cache.c). */
#ifndef ALTO_RUNTIME_JIT_H
#define ALTO_RUNTIME_JIT_H

#include "compiler/gen.h"
#include "runtime/backend.h"
#include "runtime/cache.h"

typedef struct {
  void *fn;       /* backend function handle */
  int threads;    /* CTA size the stub was generated for */
  int smem_bytes; /* dynamic shared memory per CTA */
} alto_jit_fn;

/* Compiles (or finds) and loads g for b. On a compile failure: ALTO_ERR_COMPILE with the
 * numbered source, the log and a repro command. */
alto_status alto_jit_get(alto_backend *b, const alto_gen_kernel *g, alto_jit_fn *out);

/* alto_jit_get for a kernel known by its canonical key (the generator's key function; cheap):
 * a kernel this process already loaded for b comes back without its source being generated again
 * (the launch paths run this per launch); otherwise, and while recording, gen(desc) generates it
 * and alto_jit_get runs. */
typedef alto_status (*alto_jit_gen_fn)(const void *desc, alto_gen_kernel *out);
alto_status alto_jit_get_keyed(alto_backend *b, const char *key, alto_jit_gen_fn gen,
                               const void *desc, alto_jit_fn *out);

/* Recording (alto_exec_gpu_prepare): while a recorder is set on the calling thread, alto_jit_get
 * neither compiles nor loads: it adds a copy of g to the recorder (once per key) and returns a
 * function whose fn is NULL, which must not be launched (the caller runs on a backend whose
 * launch does nothing). NULL stops recording. */
typedef struct {
  alto_gen_kernel *k;
  int n, cap;
} alto_jit_recorder;
void alto_jit_record(alto_jit_recorder *r);
void alto_jit_recorder_free(alto_jit_recorder *r);

/* Compiles g into the disk cache for b's arch and compiler, or finds it there, without loading
 * it (thread safe: the runtime compilers are; hiprtc is serialized inside). */
alto_status alto_jit_precompile(alto_backend *b, const alto_gen_kernel *g,
                                alto_cache_origin *origin);

/* The compiler options of a target (part of every cache key). */
const char *const *alto_jit_options(alto_target t, int *n);

/* The cache request of a generated kernel for (target, arch, compiler version): the one place it
 * is built, used by the JIT and by the ahead-of-time compile (runtime/aot.c, `alto-compile
 * --arch`), so both find the same disk entries. r->req points into r and into g: keep both alive
 * (and do not copy r) while the request is in use. */
typedef struct {
  alto_cache_request req;
  char name[200];          /* "<kernel name>.cu" */
  char generator_hash[64]; /* "gen<version>-templates<hash>" */
} alto_jit_request;
void alto_jit_request_make(const alto_gen_kernel *g, alto_target target, const char *arch,
                           const char *compiler_version, alto_jit_request *r);

/* The compiler version that goes into the key of a target's requests ("13.0"; "0.0" when the
 * runtime compiler cannot be loaded): what the backends' compiler_id returns. */
const char *alto_jit_compiler_version(alto_target t);

/* Statistics of this process: kernels compiled, found in memory. */
typedef struct {
  int compiled, memory_hits, disk_hits;
  double compile_ms;
} alto_jit_stats;
alto_jit_stats alto_jit_get_stats(void);

#endif
