/* Ahead-of-time compile (ARCHITECTURE.md stage 7; `alto-compile --arch`): generated kernels ->
 * the disk cache for a target arch, on a machine without a GPU (no backend, no module load).
 *
 * The cache requests are the JIT's own (alto_jit_request_make, with the compiler version the
 * backend reports), so a later `alto-train` on a GPU of that arch finds every entry warm. The
 * compile callbacks are NVRTC with the embedded templates as headers (as the CUDA backend
 * compiles) and hiprtc (once the templates can be expanded for it, see alto_aot_ready). */
#ifndef ALTO_RUNTIME_AOT_H
#define ALTO_RUNTIME_AOT_H

#include <stdbool.h>

#include "compiler/gen.h"
#include "runtime/cache.h"

/* The target of an arch: "sm_*" CUDA (NVRTC: sm_75 and newer, see alto_aot_archs), "gfx*" HIP
 * (hiprtc's allow-list, alto_hiprtc_supported_archs). ALTO_ERR_INVALID_ARG naming the valid
 * archs otherwise. Needs no library. */
alto_status alto_aot_arch_check(const char *arch, alto_target *target);
/* The valid archs of a target, comma-separated, for help and messages. */
const char *alto_aot_archs(alto_target t);

/* ALTO_OK when kernels for `t` can be compiled in this process: the runtime compiler loads (and,
 * for HIP, the templates can be expanded for hiprtc). Else the status with what is missing. */
alto_status alto_aot_ready(alto_target t);

/* The cache's compile callbacks (ctx unused): NVRTC with the embedded templates as headers;
 * hiprtc on the source with the templates expanded. */
alto_status alto_aot_compile_cuda(void *ctx, const alto_cache_request *req,
                                  const char *const *options, int n_options,
                                  alto_cache_output *out);
alto_status alto_aot_compile_hip(void *ctx, const alto_cache_request *req,
                                 const char *const *options, int n_options, alto_cache_output *out);

/* Compiles `g` for `arch` into the disk cache, or finds it there: *origin says which. On failure
 * the cache's status and message (ALTO_ERR_COMPILE with the log and a repro command). */
alto_status alto_aot_compile(const alto_gen_kernel *g, alto_target t, const char *arch,
                             alto_cache_origin *origin);

/* --emit-src: the stub as <dir>/<kernel name>.cu (.hip), and every embedded template under
 * <dir>/templates/, so that `nvcc -std=c++17 -arch=sm_90a -cubin -I <dir>/templates
 * <dir>/<name>.cu` (or `hipcc --offload-arch=gfx90a --genco -I <dir>/templates ...`) compiles
 * it standalone. Directories are created as needed; ALTO_ERR_IO naming the path on failure. */
alto_status alto_aot_emit_source(const char *dir, const alto_gen_kernel *g, alto_target t);
alto_status alto_aot_emit_templates(const char *dir);

/* ---- a batch of kernels, compiled in parallel -------------------------------- */

typedef enum {
  ALTO_AOT_COMPILED, /* compiled into the cache */
  ALTO_AOT_CACHED,   /* found in the cache */
  ALTO_AOT_WRITTEN,  /* source written only (compile false) */
  ALTO_AOT_FAILED
} alto_aot_result;

/* Called once per kernel as it finishes, one call at a time (under the batch's lock). `error`
 * is the message of a failure (NULL otherwise); `seconds` the kernel's wall time. */
typedef void (*alto_aot_progress_fn)(void *ctx, int done, int total, const char *key,
                                     alto_aot_result result, double seconds, const char *error);

typedef struct {
  const alto_qkern *kernels;   /* quantization descriptors, generated here; or */
  const alto_gen_kernel *gen;  /* ready stubs of any generator (kernels NULL) */
  int n;
  alto_target target;
  const char *arch;
  int threads;                   /* compile threads (>= 1) */
  const char *emit_dir;          /* write sources here (NULL: none) */
  bool compile;                  /* compile into the cache (else only emit) */
  alto_aot_progress_fn progress; /* may be NULL */
  void *progress_ctx;
} alto_aot_batch;

typedef struct {
  int compiled, cached, written, failed;
  double seconds; /* wall time of the whole batch */
} alto_aot_summary;

/* Runs the batch; never stops early (every failure is reported through `progress` and counted). */
void alto_aot_run(const alto_aot_batch *b, alto_aot_summary *out);

#endif
