#include "runtime/cuda/driver.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The driver types we need, declared here so the build needs no CUDA headers. */
typedef int CUresult_; /* CUDA_SUCCESS == 0 */
typedef int CUdevice_;
typedef struct CUctx_st_ *CUcontext_;
typedef struct CUmod_st_ *CUmodule_;
typedef struct CUfunc_st_ *CUfunction_;
typedef struct CUevent_st_ *CUevent_;
typedef struct CUstream_st_ *CUstream_;

enum { CU_ATTR_SM_COUNT_ = 16, CU_ATTR_CC_MAJOR_ = 75, CU_ATTR_CC_MINOR_ = 76 };

struct alto_cuda_module {
  CUmodule_ mod;
};

static struct {
  void *lib;
  alto_status status;
  char error[1024];
  CUdevice_ dev;
  CUcontext_ ctx;
  CUresult_ (*Init)(unsigned);
  CUresult_ (*GetErrorName)(CUresult_, const char **);
  CUresult_ (*GetErrorString)(CUresult_, const char **);
  CUresult_ (*DeviceGetCount)(int *);
  CUresult_ (*DeviceGet)(CUdevice_ *, int);
  CUresult_ (*DeviceGetName)(char *, int, CUdevice_);
  CUresult_ (*DeviceGetAttribute)(int *, int, CUdevice_);
  CUresult_ (*DeviceTotalMem)(size_t *, CUdevice_);
  CUresult_ (*DevicePrimaryCtxRetain)(CUcontext_ *, CUdevice_);
  CUresult_ (*CtxSetCurrent)(CUcontext_);
  CUresult_ (*CtxSynchronize)(void);
  CUresult_ (*MemAlloc)(alto_cuda_ptr *, size_t);
  CUresult_ (*MemGetInfo)(size_t *, size_t *);
  CUresult_ (*MemFree)(alto_cuda_ptr);
  CUresult_ (*MemsetD8)(alto_cuda_ptr, unsigned char, size_t);
  CUresult_ (*MemsetD32)(alto_cuda_ptr, unsigned int, size_t);
  CUresult_ (*MemcpyHtoD)(alto_cuda_ptr, const void *, size_t);
  CUresult_ (*MemcpyDtoH)(void *, alto_cuda_ptr, size_t);
  CUresult_ (*MemcpyDtoD)(alto_cuda_ptr, alto_cuda_ptr, size_t);
  CUresult_ (*ModuleLoadData)(CUmodule_ *, const void *);
  CUresult_ (*ModuleUnload)(CUmodule_);
  CUresult_ (*ModuleGetFunction)(CUfunction_ *, CUmodule_, const char *);
  CUresult_ (*FuncSetAttribute)(CUfunction_, int, int);
  CUresult_ (*LaunchKernel)(CUfunction_, unsigned, unsigned, unsigned, unsigned, unsigned,
                            unsigned, unsigned, CUstream_, void **, void **);
  CUresult_ (*EventCreate)(CUevent_ *, unsigned);
  CUresult_ (*EventRecord)(CUevent_, CUstream_);
  CUresult_ (*EventSynchronize)(CUevent_);
  CUresult_ (*EventElapsedTime)(float *, CUevent_, CUevent_);
  CUresult_ (*EventDestroy)(CUevent_);
  /* optional (CUDA 12.0+): resolved on first use */
  CUresult_ (*LaunchKernelEx)(const void *, CUfunction_, void **, void **);
  CUresult_ (*OccupancyMaxActiveClusters)(int *, CUfunction_, const void *);
  CUresult_ (*TensorMapEncodeTiled)(void *, int, unsigned, void *, const uint64_t *,
                                    const uint64_t *, const unsigned *, const unsigned *, int, int,
                                    int, int);
} alto_cu_;

static pthread_once_t alto_cu_once_ = PTHREAD_ONCE_INIT;

static void alto_cu_load_once_(void) {
  alto_cu_.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!alto_cu_.lib) {
    snprintf(alto_cu_.error, sizeof alto_cu_.error,
             "the CUDA driver (libcuda.so.1) is not available: %s; use --backend cpu, or install "
             "the NVIDIA driver",
             dlerror());
    alto_cu_.status = ALTO_ERR_LIBRARY;
    return;
  }
#define ALTO_CU_SYM_(field, sym)                                                                 \
  do {                                                                                           \
    *(void **)&alto_cu_.field = dlsym(alto_cu_.lib, sym);                                        \
    if (!alto_cu_.field) {                                                                       \
      snprintf(alto_cu_.error, sizeof alto_cu_.error, "libcuda.so.1 lacks the symbol %s", sym);  \
      alto_cu_.status = ALTO_ERR_LIBRARY;                                                        \
      return;                                                                                    \
    }                                                                                            \
  } while (0)
  ALTO_CU_SYM_(Init, "cuInit");
  ALTO_CU_SYM_(GetErrorName, "cuGetErrorName");
  ALTO_CU_SYM_(GetErrorString, "cuGetErrorString");
  ALTO_CU_SYM_(DeviceGetCount, "cuDeviceGetCount");
  ALTO_CU_SYM_(DeviceGet, "cuDeviceGet");
  ALTO_CU_SYM_(DeviceGetName, "cuDeviceGetName");
  ALTO_CU_SYM_(DeviceGetAttribute, "cuDeviceGetAttribute");
  ALTO_CU_SYM_(DeviceTotalMem, "cuDeviceTotalMem_v2");
  ALTO_CU_SYM_(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  ALTO_CU_SYM_(CtxSetCurrent, "cuCtxSetCurrent");
  ALTO_CU_SYM_(CtxSynchronize, "cuCtxSynchronize");
  ALTO_CU_SYM_(MemAlloc, "cuMemAlloc_v2");
  ALTO_CU_SYM_(MemGetInfo, "cuMemGetInfo_v2");
  ALTO_CU_SYM_(MemFree, "cuMemFree_v2");
  ALTO_CU_SYM_(MemsetD8, "cuMemsetD8_v2");
  ALTO_CU_SYM_(MemsetD32, "cuMemsetD32_v2");
  ALTO_CU_SYM_(MemcpyHtoD, "cuMemcpyHtoD_v2");
  ALTO_CU_SYM_(MemcpyDtoH, "cuMemcpyDtoH_v2");
  ALTO_CU_SYM_(MemcpyDtoD, "cuMemcpyDtoD_v2");
  ALTO_CU_SYM_(ModuleLoadData, "cuModuleLoadData");
  ALTO_CU_SYM_(ModuleUnload, "cuModuleUnload");
  ALTO_CU_SYM_(ModuleGetFunction, "cuModuleGetFunction");
  ALTO_CU_SYM_(FuncSetAttribute, "cuFuncSetAttribute");
  ALTO_CU_SYM_(LaunchKernel, "cuLaunchKernel");
  ALTO_CU_SYM_(EventCreate, "cuEventCreate");
  ALTO_CU_SYM_(EventRecord, "cuEventRecord");
  ALTO_CU_SYM_(EventSynchronize, "cuEventSynchronize");
  ALTO_CU_SYM_(EventElapsedTime, "cuEventElapsedTime_v2");
  ALTO_CU_SYM_(EventDestroy, "cuEventDestroy_v2");
#undef ALTO_CU_SYM_
  alto_cu_.status = ALTO_OK;
}

static const char *alto_last_error_of_cu_(CUresult_ r) {
  const char *name = NULL;
  alto_cu_.GetErrorName(r, &name);
  return name ? name : "unknown error";
}

/* "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)" */
static alto_status alto_cu_check_(CUresult_ r, const char *call) {
  if (r == 0)
    return ALTO_OK;
  const char *name = NULL, *str = NULL;
  alto_cu_.GetErrorName(r, &name);
  alto_cu_.GetErrorString(r, &str);
  return alto_error(ALTO_ERR_DEVICE, "%s failed: %s (%s)", call, name ? name : "unknown error",
                    str ? str : "no description");
}

alto_status alto_cuda_init(int ordinal) {
  pthread_once(&alto_cu_once_, alto_cu_load_once_);
  if (alto_cu_.status != ALTO_OK)
    return alto_error(alto_cu_.status, "%s", alto_cu_.error);
  if (!alto_cu_.ctx) {
    ALTO_TRY(alto_cu_check_(alto_cu_.Init(0), "cuInit"));
    int n = 0;
    ALTO_TRY(alto_cu_check_(alto_cu_.DeviceGetCount(&n), "cuDeviceGetCount"));
    if (ordinal < 0 || ordinal >= n)
      return alto_error(ALTO_ERR_DEVICE, "GPU %d requested but %d GPU(s) present", ordinal, n);
    ALTO_TRY(alto_cu_check_(alto_cu_.DeviceGet(&alto_cu_.dev, ordinal), "cuDeviceGet"));
    ALTO_TRY(alto_cu_check_(alto_cu_.DevicePrimaryCtxRetain(&alto_cu_.ctx, alto_cu_.dev),
                            "cuDevicePrimaryCtxRetain"));
  }
  return alto_cu_check_(alto_cu_.CtxSetCurrent(alto_cu_.ctx), "cuCtxSetCurrent");
}

alto_status alto_cuda_device(alto_cuda_device_info *info) {
  if (!alto_cu_.ctx)
    return alto_error(ALTO_ERR_DEVICE, "no CUDA device is open (alto_cuda_init)");
  memset(info, 0, sizeof *info);
  ALTO_TRY(alto_cu_check_(alto_cu_.DeviceGetName(info->name, sizeof info->name - 1, alto_cu_.dev),
                          "cuDeviceGetName"));
  ALTO_TRY(alto_cu_check_(
      alto_cu_.DeviceGetAttribute(&info->cc_major, CU_ATTR_CC_MAJOR_, alto_cu_.dev),
      "cuDeviceGetAttribute"));
  ALTO_TRY(alto_cu_check_(
      alto_cu_.DeviceGetAttribute(&info->cc_minor, CU_ATTR_CC_MINOR_, alto_cu_.dev),
      "cuDeviceGetAttribute"));
  ALTO_TRY(alto_cu_check_(
      alto_cu_.DeviceGetAttribute(&info->sm_count, CU_ATTR_SM_COUNT_, alto_cu_.dev),
      "cuDeviceGetAttribute"));
  ALTO_TRY(alto_cu_check_(alto_cu_.DeviceTotalMem(&info->total_mem, alto_cu_.dev),
                          "cuDeviceTotalMem"));
  int has_a = (info->cc_major == 9 && info->cc_minor == 0) || info->cc_major == 10 ||
              info->cc_major == 12;
  snprintf(info->arch, sizeof info->arch, "sm_%d%d%s", info->cc_major, info->cc_minor,
           has_a ? "a" : "");
  return ALTO_OK;
}

alto_status alto_cuda_malloc(alto_cuda_ptr *p, size_t bytes) {
  return alto_cu_check_(alto_cu_.MemAlloc(p, bytes ? bytes : 1), "cuMemAlloc");
}
void alto_cuda_free(alto_cuda_ptr p) {
  if (p)
    alto_cu_.MemFree(p);
}
alto_status alto_cuda_memset(alto_cuda_ptr p, uint8_t value, size_t bytes) {
  return alto_cu_check_(alto_cu_.MemsetD8(p, value, bytes), "cuMemsetD8");
}
alto_status alto_cuda_memset32(alto_cuda_ptr p, uint32_t value, size_t count) {
  return alto_cu_check_(alto_cu_.MemsetD32(p, value, count), "cuMemsetD32");
}
alto_status alto_cuda_h2d(alto_cuda_ptr dst, const void *src, size_t bytes) {
  return alto_cu_check_(alto_cu_.MemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
}
alto_status alto_cuda_d2h(void *dst, alto_cuda_ptr src, size_t bytes) {
  return alto_cu_check_(alto_cu_.MemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}
alto_status alto_cuda_d2d(alto_cuda_ptr dst, alto_cuda_ptr src, size_t bytes) {
  return alto_cu_check_(alto_cu_.MemcpyDtoD(dst, src, bytes), "cuMemcpyDtoD");
}
alto_status alto_cuda_mem_info(size_t *free_bytes, size_t *total_bytes) {
  return alto_cu_check_(alto_cu_.MemGetInfo(free_bytes, total_bytes), "cuMemGetInfo");
}

alto_status alto_cuda_sync(void) {
  return alto_cu_check_(alto_cu_.CtxSynchronize(), "cuCtxSynchronize");
}

alto_status alto_cuda_module_load(const void *image, alto_cuda_module **out) {
  *out = NULL;
  CUmodule_ mod;
  ALTO_TRY(alto_cu_check_(alto_cu_.ModuleLoadData(&mod, image), "cuModuleLoadData"));
  *out = alto_xcalloc(1, sizeof **out);
  (*out)->mod = mod;
  return ALTO_OK;
}
void alto_cuda_module_unload(alto_cuda_module *m) {
  if (!m)
    return;
  alto_cu_.ModuleUnload(m->mod);
  free(m);
}
alto_status alto_cuda_module_function(alto_cuda_module *m, const char *name,
                                      alto_cuda_function *out) {
  CUfunction_ f;
  alto_status st = alto_cu_check_(alto_cu_.ModuleGetFunction(&f, m->mod, name), "cuModuleGetFunction");
  if (st != ALTO_OK)
    return alto_error(st, "kernel '%s': %s", name, alto_last_error());
  *out = f;
  return ALTO_OK;
}

alto_status alto_cuda_function_set_smem(alto_cuda_function f, int bytes) {
  enum { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES_ = 8 };
  return alto_cu_check_(alto_cu_.FuncSetAttribute((CUfunction_)f,
                                                  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES_,
                                                  bytes),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
}

alto_status alto_cuda_launch(alto_cuda_function f, unsigned gx, unsigned gy, unsigned gz,
                             unsigned bx, unsigned by, unsigned bz, unsigned shared_bytes,
                             void **args) {
  return alto_cu_check_(
      alto_cu_.LaunchKernel((CUfunction_)f, gx, gy, gz, bx, by, bz, shared_bytes, NULL, args, NULL),
      "cuLaunchKernel");
}

alto_status alto_cuda_time_ms(void (*fn)(void *ctx), void *ctx, int iters, float *ms) {
  CUevent_ a, b;
  ALTO_TRY(alto_cu_check_(alto_cu_.EventCreate(&a, 0), "cuEventCreate"));
  ALTO_TRY(alto_cu_check_(alto_cu_.EventCreate(&b, 0), "cuEventCreate"));
  alto_status st = alto_cu_check_(alto_cu_.EventRecord(a, NULL), "cuEventRecord");
  for (int i = 0; i < iters && st == ALTO_OK; i++)
    fn(ctx);
  if (st == ALTO_OK)
    st = alto_cu_check_(alto_cu_.EventRecord(b, NULL), "cuEventRecord");
  if (st == ALTO_OK)
    st = alto_cu_check_(alto_cu_.EventSynchronize(b), "cuEventSynchronize");
  if (st == ALTO_OK)
    st = alto_cu_check_(alto_cu_.EventElapsedTime(ms, a, b), "cuEventElapsedTime");
  alto_cu_.EventDestroy(a);
  alto_cu_.EventDestroy(b);
  return st;
}

alto_status alto_cuda_tensor_map_2d(void *map, alto_tmap_dtype dtype, alto_tmap_swizzle swizzle,
                                    alto_cuda_ptr base, uint64_t inner, uint64_t outer,
                                    uint64_t pitch, unsigned box_inner, unsigned box_outer) {
  ALTO_ASSERT(alto_cu_.lib);
  if (!alto_cu_.TensorMapEncodeTiled)
    *(void **)&alto_cu_.TensorMapEncodeTiled = dlsym(alto_cu_.lib, "cuTensorMapEncodeTiled");
  if (!alto_cu_.TensorMapEncodeTiled)
    return alto_error(ALTO_ERR_LIBRARY, "libcuda.so.1 lacks cuTensorMapEncodeTiled (a driver for "
                                        "CUDA 12.0 or newer is needed for TMA)");
  enum { INTERLEAVE_NONE_ = 0, L2_256B_ = 3, OOB_ZERO_ = 0 };
  const uint64_t dims[2] = {inner, outer}, strides[1] = {pitch};
  const unsigned box[2] = {box_inner, box_outer}, estride[2] = {1, 1};
  CUresult_ r = alto_cu_.TensorMapEncodeTiled(map, (int)dtype, 2, (void *)(uintptr_t)base, dims,
                                              strides, box, estride, INTERLEAVE_NONE_,
                                              (int)swizzle, L2_256B_, OOB_ZERO_);
  if (r != 0)
    return alto_error(ALTO_ERR_DEVICE,
                      "cuTensorMapEncodeTiled(type %d, [%llu, %llu] elements, pitch %llu bytes, "
                      "box %u x %u): %s",
                      (int)dtype, (unsigned long long)outer, (unsigned long long)inner,
                      (unsigned long long)pitch, box_outer, box_inner, alto_last_error_of_cu_(r));
  return ALTO_OK;
}

/* CUlaunchAttribute and CUlaunchConfig as cuda.h lays them out, for a 1-D cluster launch. */
typedef struct {
  int id;
  char pad[4];
  union {
    char pad[64];
    struct {
      unsigned x, y, z;
    } cluster;
  } value;
} alto_cu_attr_;
typedef struct {
  unsigned grid[3], block[3], smem;
  CUstream_ stream;
  alto_cu_attr_ *attrs;
  unsigned n_attrs;
} alto_cu_launch_cfg_;

static alto_status alto_cu_cluster_syms_(void) {
  ALTO_ASSERT(alto_cu_.lib);
  if (!alto_cu_.LaunchKernelEx)
    *(void **)&alto_cu_.LaunchKernelEx = dlsym(alto_cu_.lib, "cuLaunchKernelEx");
  if (!alto_cu_.OccupancyMaxActiveClusters)
    *(void **)&alto_cu_.OccupancyMaxActiveClusters =
        dlsym(alto_cu_.lib, "cuOccupancyMaxActiveClusters");
  if (!alto_cu_.LaunchKernelEx || !alto_cu_.OccupancyMaxActiveClusters)
    return alto_error(ALTO_ERR_LIBRARY, "libcuda.so.1 lacks cuLaunchKernelEx or "
                                        "cuOccupancyMaxActiveClusters (a driver for CUDA 12.0 or "
                                        "newer is needed for thread-block clusters)");
  return ALTO_OK;
}

static void alto_cu_cluster_cfg_(alto_cu_attr_ *attr, alto_cu_launch_cfg_ *cfg, unsigned grid_x,
                                 unsigned block_x, unsigned shared_bytes, unsigned cluster_x) {
  memset(attr, 0, sizeof *attr);
  attr->id = 4; /* CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION */
  attr->value.cluster.x = cluster_x, attr->value.cluster.y = 1, attr->value.cluster.z = 1;
  memset(cfg, 0, sizeof *cfg);
  cfg->grid[0] = grid_x, cfg->grid[1] = 1, cfg->grid[2] = 1;
  cfg->block[0] = block_x, cfg->block[1] = 1, cfg->block[2] = 1;
  cfg->smem = shared_bytes;
  cfg->attrs = attr;
  cfg->n_attrs = 1;
}

alto_status alto_cuda_launch_cluster(alto_cuda_function f, unsigned grid_x, unsigned block_x,
                                     unsigned shared_bytes, unsigned cluster_x, void **args) {
  ALTO_TRY(alto_cu_cluster_syms_());
  alto_cu_attr_ attr;
  alto_cu_launch_cfg_ cfg;
  alto_cu_cluster_cfg_(&attr, &cfg, grid_x, block_x, shared_bytes, cluster_x);
  return alto_cu_check_(alto_cu_.LaunchKernelEx(&cfg, (CUfunction_)f, args, NULL),
                        "cuLaunchKernelEx(cluster)");
}

alto_status alto_cuda_max_active_clusters(alto_cuda_function f, unsigned block_x,
                                          unsigned shared_bytes, unsigned cluster_x, int *n) {
  ALTO_TRY(alto_cu_cluster_syms_());
  alto_cu_attr_ attr;
  alto_cu_launch_cfg_ cfg;
  alto_cu_cluster_cfg_(&attr, &cfg, cluster_x, block_x, shared_bytes, cluster_x);
  return alto_cu_check_(alto_cu_.OccupancyMaxActiveClusters(n, (CUfunction_)f, &cfg),
                        "cuOccupancyMaxActiveClusters");
}
