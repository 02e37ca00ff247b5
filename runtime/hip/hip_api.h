/* The HIP runtime (libamdhip64.so.5), loaded with dlopen on first use: alto links no ROCm library,
 * so the same binary runs (CPU backend) on a machine without one. Every call is checked and a
 * failure carries HIP's own error name and string. The few HIP types are declared in hip_api.c:
 * the build needs no HIP headers. Mirrors runtime/cuda/driver.h. */
#ifndef ALTO_RUNTIME_HIP_HIP_API_H
#define ALTO_RUNTIME_HIP_HIP_API_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct alto_hip_module alto_hip_module; /* opaque: a loaded code object */
typedef void *alto_hip_function;                /* hipFunction_t */
typedef uint64_t alto_hip_ptr;                  /* a device address */

/* Loads libamdhip64, initializes it and makes device `ordinal` current on this thread.
 * ALTO_ERR_LIBRARY when the runtime is missing, ALTO_ERR_DEVICE when no AMD GPU is usable. */
alto_status alto_hip_init(int ordinal);

/* Device facts (after alto_hip_init). arch is the processor of gcnArchName ("gfx90a" for
 * "gfx90a:sramecc+:xnack-"), target_id the full name. */
typedef struct {
  char name[256];
  char arch[16];
  char target_id[256];
  int cu_count, warp_size;
  size_t total_mem;
} alto_hip_device_info;
alto_status alto_hip_device(alto_hip_device_info *info);

alto_status alto_hip_malloc(alto_hip_ptr *p, size_t bytes);
void alto_hip_free(alto_hip_ptr p);
alto_status alto_hip_memset(alto_hip_ptr p, uint8_t value, size_t bytes);
alto_status alto_hip_memset32(alto_hip_ptr p, uint32_t value, size_t count);
alto_status alto_hip_h2d(alto_hip_ptr dst, const void *src, size_t bytes);
alto_status alto_hip_d2h(void *dst, alto_hip_ptr src, size_t bytes);
alto_status alto_hip_sync(void);

alto_status alto_hip_module_load(const void *image, alto_hip_module **out);
void alto_hip_module_unload(alto_hip_module *m);
alto_status alto_hip_module_function(alto_hip_module *m, const char *name, alto_hip_function *out);
/* Allows `bytes` of dynamic shared memory (LDS) for f. */
alto_status alto_hip_function_set_smem(alto_hip_function f, int bytes);
/* Launches on the null stream; args are pointers to each argument (as hipModuleLaunchKernel). */
alto_status alto_hip_launch(alto_hip_function f, const unsigned grid[3], const unsigned block[3],
                            unsigned shared_bytes, void **args);

/* Events for timing: elapsed milliseconds of `fn(ctx)` over `iters` launches. */
alto_status alto_hip_time_ms(void (*fn)(void *ctx), void *ctx, int iters, float *ms);

#endif
