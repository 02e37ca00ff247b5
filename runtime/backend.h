/* The device backend interface (ARCHITECTURE.md stage 8): one vtable, implemented by runtime/cuda
 * (driver API via dlopen) and runtime/hip (libamdhip64 via dlopen). Device pointers are 64-bit
 * integers on the host. Optional slots may be NULL. */
#ifndef ALTO_RUNTIME_BACKEND_H
#define ALTO_RUNTIME_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "compiler/gen.h"

typedef uint64_t alto_dptr;
typedef struct alto_backend alto_backend;

typedef struct {
  const char *name; /* "cuda", "hip" */
  alto_status (*alloc)(alto_backend *b, size_t bytes, alto_dptr *out);
  void (*free)(alto_backend *b, alto_dptr p);
  alto_status (*memset)(alto_backend *b, alto_dptr p, uint8_t value, size_t bytes);
  alto_status (*h2d)(alto_backend *b, alto_dptr dst, const void *src, size_t bytes);
  alto_status (*d2h)(alto_backend *b, void *dst, alto_dptr src, size_t bytes);
  alto_status (*sync)(alto_backend *b);
  /* Runtime compiler: source -> binary image for b->arch, with the embedded templates on the
   * include path and the given options (log always set; caller frees image and log). */
  alto_status (*compile)(alto_backend *b, const char *name, const char *source,
                         const char *const *options, int n_options, void **image, size_t *size,
                         char **log);
  /* The compiler's name and version, for the cache key ("nvrtc 13.0"). */
  const char *(*compiler_id)(alto_backend *b);
  alto_status (*load)(alto_backend *b, const void *image, size_t size, void **module);
  /* The kernel `name` of a module, allowed `smem_bytes` of dynamic shared memory. */
  alto_status (*function)(alto_backend *b, void *module, const char *name, int smem_bytes,
                          void **fn);
  alto_status (*launch)(alto_backend *b, void *fn, const unsigned grid[3], unsigned threads,
                        unsigned smem_bytes, void **args);
  /* Milliseconds of `iters` calls of fn(ctx) measured with device events (optional). */
  alto_status (*time_ms)(alto_backend *b, void (*fn)(void *), void *ctx, int iters, float *ms);
  /* count 32-bit words at p set to value, asynchronously to the host (optional; h2d from pageable
   * memory instead waits for the device to drain first). */
  alto_status (*memset32)(alto_backend *b, alto_dptr p, uint32_t value, size_t count);
} alto_backend_i;

struct alto_backend {
  const alto_backend_i *i;
  alto_target target;
  char arch[16];        /* "sm_90a", "gfx90a" */
  char device_name[256];
};

/* Opens "cuda" or "hip" on device 0. ALTO_ERR_LIBRARY / ALTO_ERR_DEVICE when not available. */
alto_status alto_backend_open(const char *name, alto_backend **out);
void alto_backend_close(alto_backend *b);

#endif
