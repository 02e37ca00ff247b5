/* The CUDA driver API, loaded with dlopen("libcuda.so.1") on first use: alto links no CUDA library,
 * so the same binary runs (CPU backend) on a machine without a GPU. Every call is checked and a
 * failure carries the driver's own error name and string. */
#ifndef ALTO_RUNTIME_CUDA_DRIVER_H
#define ALTO_RUNTIME_CUDA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct alto_cuda_module alto_cuda_module; /* opaque: a loaded cubin */
typedef void *alto_cuda_function;                 /* CUfunction */
typedef uint64_t alto_cuda_ptr;                   /* CUdeviceptr */

/* Loads libcuda, initializes it and makes device `ordinal`'s primary context current on this
 * thread. ALTO_ERR_LIBRARY when the driver is missing, ALTO_ERR_DEVICE when no GPU is usable. */
alto_status alto_cuda_init(int ordinal);

/* Device facts (after alto_cuda_init). arch is "sm_90a" for compute capability 9.0 (the "a"
 * variant for the archs that have one: 9.0, 10.x, 12.x), else "sm_XY". */
typedef struct {
  char name[256];
  int cc_major, cc_minor;
  char arch[16];
  int sm_count;
  size_t total_mem;
} alto_cuda_device_info;
alto_status alto_cuda_device(alto_cuda_device_info *info);

alto_status alto_cuda_malloc(alto_cuda_ptr *p, size_t bytes);
void alto_cuda_free(alto_cuda_ptr p);
alto_status alto_cuda_memset(alto_cuda_ptr p, uint8_t value, size_t bytes);
alto_status alto_cuda_memset32(alto_cuda_ptr p, uint32_t value, size_t count);
alto_status alto_cuda_h2d(alto_cuda_ptr dst, const void *src, size_t bytes);
alto_status alto_cuda_d2h(void *dst, alto_cuda_ptr src, size_t bytes);
alto_status alto_cuda_d2d(alto_cuda_ptr dst, alto_cuda_ptr src, size_t bytes);
alto_status alto_cuda_sync(void);
/* Free and total device memory (cuMemGetInfo): the whole device, every process. */
alto_status alto_cuda_mem_info(size_t *free_bytes, size_t *total_bytes);

alto_status alto_cuda_module_load(const void *image, alto_cuda_module **out);
void alto_cuda_module_unload(alto_cuda_module *m);
alto_status alto_cuda_module_function(alto_cuda_module *m, const char *name,
                                      alto_cuda_function *out);
/* Allows `bytes` of dynamic shared memory for f (needed above 48 KiB). */
alto_status alto_cuda_function_set_smem(alto_cuda_function f, int bytes);
/* Launches on the default stream; args are pointers to each argument (as cuLaunchKernel takes). */
alto_status alto_cuda_launch(alto_cuda_function f, unsigned grid_x, unsigned grid_y,
                             unsigned grid_z, unsigned block_x, unsigned block_y, unsigned block_z,
                             unsigned shared_bytes, void **args);

/* Launches a 1-D grid in thread-block clusters of cluster_x CTAs along x (grid_x a multiple of
 * it) on the default stream (cuLaunchKernelEx). */
alto_status alto_cuda_launch_cluster(alto_cuda_function f, unsigned grid_x, unsigned block_x,
                                     unsigned shared_bytes, unsigned cluster_x, void **args);
/* How many clusters of cluster_x CTAs of f (block_x threads, shared_bytes) can be resident at once
 * (cuOccupancyMaxActiveClusters): a persistent grid larger than that runs in two waves. */
alto_status alto_cuda_max_active_clusters(alto_cuda_function f, unsigned block_x,
                                          unsigned shared_bytes, unsigned cluster_x, int *n);
/* The element types and swizzles of alto's tensor maps (values of cuda.h's CUtensorMapDataType
 * and CUtensorMapSwizzle). */
typedef enum { ALTO_TMAP_U8 = 0, ALTO_TMAP_F32 = 7, ALTO_TMAP_BF16 = 9 } alto_tmap_dtype;
typedef enum { ALTO_TMAP_SWZ_64B = 2, ALTO_TMAP_SWZ_128B = 3 } alto_tmap_swizzle;
/* Fills `map` (a CUtensorMap: 128 bytes, 64-byte aligned) for TMA copies of a 2-D tensor: `outer`
 * rows of `inner` elements of `dtype` at `base`, row pitch `pitch` bytes (a multiple of 16, base
 * 16-byte aligned), boxes of box_outer rows x box_inner elements (box_inner x the element size <=
 * the swizzle span), out-of-range elements read as zero and not written. */
alto_status alto_cuda_tensor_map_2d(void *map, alto_tmap_dtype dtype, alto_tmap_swizzle swizzle,
                                    alto_cuda_ptr base, uint64_t inner, uint64_t outer,
                                    uint64_t pitch, unsigned box_inner, unsigned box_outer);
/* Events for timing: elapsed milliseconds of `fn(ctx)` over `iters` launches. */
alto_status alto_cuda_time_ms(void (*fn)(void *ctx), void *ctx, int iters, float *ms);

#endif
