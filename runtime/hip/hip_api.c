#include "runtime/hip/hip_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The HIP types we need, declared here so the build needs no HIP headers (ROCm 5.2 values). */
typedef int hipError_; /* hipSuccess == 0 */
typedef struct ihipModule_t_ *hipModule_;
typedef struct ihipModuleSymbol_t_ *hipFunction_;
typedef struct ihipEvent_t_ *hipEvent_;
typedef struct ihipStream_t_ *hipStream_;

enum {
  HIP_ATTR_CU_COUNT_ = 63,       /* hipDeviceAttributeMultiprocessorCount */
  HIP_ATTR_SMEM_PER_BLOCK_ = 74, /* hipDeviceAttributeMaxSharedMemoryPerBlock */
  HIP_ATTR_WARP_SIZE_ = 87,      /* hipDeviceAttributeWarpSize */
};
/* hipGetDeviceProperties (the unversioned symbol keeps the ROCm 5 layout, also in ROCm 6) writes a
 * 792-byte hipDeviceProp_t in ROCm 5.2; gcnArchName (char[256]) is at offset 396. The buffer is
 * larger than any version's struct, and the name read there is checked to start with "gfx". */
enum { HIP_PROP_BYTES_ = 8192, HIP_PROP_GCN_ARCH_NAME_ = 396 };

struct alto_hip_module {
  hipModule_ mod;
};

static struct {
  void *lib;
  alto_status status;
  char error[1024];
  int dev;
  int ready;
  int smem_per_block;
  const char *(*GetErrorName)(hipError_);
  const char *(*GetErrorString)(hipError_);
  hipError_ (*Init)(unsigned);
  hipError_ (*GetDeviceCount)(int *);
  hipError_ (*SetDevice)(int);
  hipError_ (*DeviceGetName)(char *, int, int);
  hipError_ (*DeviceGetAttribute)(int *, int, int);
  hipError_ (*DeviceTotalMem)(size_t *, int);
  hipError_ (*GetDeviceProperties)(void *, int);
  hipError_ (*DeviceSynchronize)(void);
  hipError_ (*Malloc)(void **, size_t);
  hipError_ (*Free)(void *);
  hipError_ (*MemsetD8)(void *, unsigned char, size_t);
  hipError_ (*MemsetD32)(void *, int, size_t);
  hipError_ (*MemcpyHtoD)(void *, void *, size_t);
  hipError_ (*MemcpyDtoH)(void *, void *, size_t);
  hipError_ (*ModuleLoadData)(hipModule_ *, const void *);
  hipError_ (*ModuleUnload)(hipModule_);
  hipError_ (*ModuleGetFunction)(hipFunction_ *, hipModule_, const char *);
  hipError_ (*ModuleLaunchKernel)(hipFunction_, unsigned, unsigned, unsigned, unsigned, unsigned,
                                  unsigned, unsigned, hipStream_, void **, void **);
  hipError_ (*EventCreate)(hipEvent_ *);
  hipError_ (*EventRecord)(hipEvent_, hipStream_);
  hipError_ (*EventSynchronize)(hipEvent_);
  hipError_ (*EventElapsedTime)(float *, hipEvent_, hipEvent_);
  hipError_ (*EventDestroy)(hipEvent_);
} alto_hip_;

static pthread_once_t alto_hip_once_ = PTHREAD_ONCE_INIT;

static void alto_hip_load_once_(void) {
  const char *names[] = {"libamdhip64.so.5", "libamdhip64.so"};
  const char *last_err = "";
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !alto_hip_.lib; i++) {
    alto_hip_.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!alto_hip_.lib) {
      const char *e = dlerror();
      last_err = e ? e : "";
    }
  }
  if (!alto_hip_.lib) {
    snprintf(alto_hip_.error, sizeof alto_hip_.error,
             "the HIP runtime (libamdhip64.so.5 or libamdhip64.so) is not available: %s; use "
             "--backend cpu, or install ROCm's HIP runtime (Debian: apt-get install libamdhip64-5)",
             last_err);
    alto_hip_.status = ALTO_ERR_LIBRARY;
    return;
  }
#define ALTO_HIP_SYM_(field, sym)                                                                  \
  do {                                                                                             \
    *(void **)&alto_hip_.field = dlsym(alto_hip_.lib, sym);                                        \
    if (!alto_hip_.field) {                                                                        \
      snprintf(alto_hip_.error, sizeof alto_hip_.error, "libamdhip64 lacks the symbol %s", sym);   \
      alto_hip_.status = ALTO_ERR_LIBRARY;                                                         \
      return;                                                                                      \
    }                                                                                              \
  } while (0)
  ALTO_HIP_SYM_(GetErrorName, "hipGetErrorName");
  ALTO_HIP_SYM_(GetErrorString, "hipGetErrorString");
  ALTO_HIP_SYM_(Init, "hipInit");
  ALTO_HIP_SYM_(GetDeviceCount, "hipGetDeviceCount");
  ALTO_HIP_SYM_(SetDevice, "hipSetDevice");
  ALTO_HIP_SYM_(DeviceGetName, "hipDeviceGetName");
  ALTO_HIP_SYM_(DeviceGetAttribute, "hipDeviceGetAttribute");
  ALTO_HIP_SYM_(DeviceTotalMem, "hipDeviceTotalMem");
  ALTO_HIP_SYM_(GetDeviceProperties, "hipGetDeviceProperties");
  ALTO_HIP_SYM_(DeviceSynchronize, "hipDeviceSynchronize");
  ALTO_HIP_SYM_(Malloc, "hipMalloc");
  ALTO_HIP_SYM_(Free, "hipFree");
  ALTO_HIP_SYM_(MemsetD8, "hipMemsetD8");
  ALTO_HIP_SYM_(MemsetD32, "hipMemsetD32");
  ALTO_HIP_SYM_(MemcpyHtoD, "hipMemcpyHtoD");
  ALTO_HIP_SYM_(MemcpyDtoH, "hipMemcpyDtoH");
  ALTO_HIP_SYM_(ModuleLoadData, "hipModuleLoadData");
  ALTO_HIP_SYM_(ModuleUnload, "hipModuleUnload");
  ALTO_HIP_SYM_(ModuleGetFunction, "hipModuleGetFunction");
  ALTO_HIP_SYM_(ModuleLaunchKernel, "hipModuleLaunchKernel");
  ALTO_HIP_SYM_(EventCreate, "hipEventCreate");
  ALTO_HIP_SYM_(EventRecord, "hipEventRecord");
  ALTO_HIP_SYM_(EventSynchronize, "hipEventSynchronize");
  ALTO_HIP_SYM_(EventElapsedTime, "hipEventElapsedTime");
  ALTO_HIP_SYM_(EventDestroy, "hipEventDestroy");
#undef ALTO_HIP_SYM_
  alto_hip_.status = ALTO_OK;
}

/* "hipMalloc failed: hipErrorOutOfMemory (out of memory)" */
static alto_status alto_hip_check_(hipError_ r, const char *call) {
  if (r == 0)
    return ALTO_OK;
  const char *name = alto_hip_.GetErrorName(r), *str = alto_hip_.GetErrorString(r);
  return alto_error(ALTO_ERR_DEVICE, "%s failed: %s (%s)", call, name ? name : "unknown error",
                    str ? str : "no description");
}

static void *alto_hip_vp_(alto_hip_ptr p) {
  return (void *)(uintptr_t)p;
}

alto_status alto_hip_init(int ordinal) {
  pthread_once(&alto_hip_once_, alto_hip_load_once_);
  if (alto_hip_.status != ALTO_OK)
    return alto_error(alto_hip_.status, "%s", alto_hip_.error);
  if (!alto_hip_.ready) {
    /* Without an AMD GPU (no /dev/kfd) ROCm 5.2's hipInit returns hipErrorInvalidDevice and
     * hipGetDeviceCount hipErrorNoDevice: both mean "no AMD GPU", said so plainly. */
    hipError_ ri = alto_hip_.Init(0);
    int n = 0;
    hipError_ rc = alto_hip_.GetDeviceCount(&n);
    if (ri != 0 || rc != 0 || n == 0) {
      hipError_ r = ri != 0 ? ri : rc;
      const char *nm = r ? alto_hip_.GetErrorName(r) : "0 devices";
      return alto_error(ALTO_ERR_DEVICE,
                        "no AMD GPU was found (%s: %s); the HIP backend needs a ROCm-supported "
                        "AMD GPU and its driver (/dev/kfd); use --backend cpu or cuda",
                        ri != 0 ? "hipInit" : "hipGetDeviceCount", nm ? nm : "unknown error");
    }
    if (ordinal < 0 || ordinal >= n)
      return alto_error(ALTO_ERR_DEVICE, "AMD GPU %d requested but %d GPU(s) present", ordinal, n);
    alto_hip_.dev = ordinal;
    ALTO_TRY(alto_hip_check_(
        alto_hip_.DeviceGetAttribute(&alto_hip_.smem_per_block, HIP_ATTR_SMEM_PER_BLOCK_, ordinal),
        "hipDeviceGetAttribute(MaxSharedMemoryPerBlock)"));
    alto_hip_.ready = 1;
  }
  return alto_hip_check_(alto_hip_.SetDevice(alto_hip_.dev), "hipSetDevice");
}

alto_status alto_hip_device(alto_hip_device_info *info) {
  ALTO_ASSERT(alto_hip_.ready);
  memset(info, 0, sizeof *info);
  int d = alto_hip_.dev;
  ALTO_TRY(alto_hip_check_(alto_hip_.DeviceGetName(info->name, sizeof info->name - 1, d),
                           "hipDeviceGetName"));
  ALTO_TRY(alto_hip_check_(alto_hip_.DeviceGetAttribute(&info->cu_count, HIP_ATTR_CU_COUNT_, d),
                           "hipDeviceGetAttribute(MultiprocessorCount)"));
  ALTO_TRY(alto_hip_check_(alto_hip_.DeviceGetAttribute(&info->warp_size, HIP_ATTR_WARP_SIZE_, d),
                           "hipDeviceGetAttribute(WarpSize)"));
  ALTO_TRY(alto_hip_check_(alto_hip_.DeviceTotalMem(&info->total_mem, d), "hipDeviceTotalMem"));
  char *prop = alto_xcalloc(1, HIP_PROP_BYTES_);
  alto_status st =
      alto_hip_check_(alto_hip_.GetDeviceProperties(prop, d), "hipGetDeviceProperties");
  if (st == ALTO_OK) {
    const char *gcn = prop + HIP_PROP_GCN_ARCH_NAME_;
    if (strncmp(gcn, "gfx", 3) != 0 || !memchr(gcn, '\0', 256))
      st = alto_error(ALTO_ERR_DEVICE,
                      "hipGetDeviceProperties: no gcnArchName where ROCm 5 puts it (this "
                      "libamdhip64 has another hipDeviceProp_t layout)");
    else {
      snprintf(info->target_id, sizeof info->target_id, "%s", gcn);
      size_t n = strcspn(gcn, ":");
      snprintf(info->arch, sizeof info->arch, "%.*s", (int)(n < 15 ? n : 15), gcn);
    }
  }
  free(prop);
  return st;
}

alto_status alto_hip_malloc(alto_hip_ptr *p, size_t bytes) {
  void *q = NULL;
  ALTO_TRY(alto_hip_check_(alto_hip_.Malloc(&q, bytes ? bytes : 1), "hipMalloc"));
  *p = (alto_hip_ptr)(uintptr_t)q;
  return ALTO_OK;
}
void alto_hip_free(alto_hip_ptr p) {
  if (p)
    alto_hip_.Free(alto_hip_vp_(p));
}
alto_status alto_hip_memset(alto_hip_ptr p, uint8_t value, size_t bytes) {
  return alto_hip_check_(alto_hip_.MemsetD8(alto_hip_vp_(p), value, bytes), "hipMemsetD8");
}
alto_status alto_hip_memset32(alto_hip_ptr p, uint32_t value, size_t count) {
  return alto_hip_check_(alto_hip_.MemsetD32(alto_hip_vp_(p), (int)value, count), "hipMemsetD32");
}
alto_status alto_hip_h2d(alto_hip_ptr dst, const void *src, size_t bytes) {
  return alto_hip_check_(alto_hip_.MemcpyHtoD(alto_hip_vp_(dst), (void *)src, bytes),
                         "hipMemcpyHtoD");
}
alto_status alto_hip_d2h(void *dst, alto_hip_ptr src, size_t bytes) {
  return alto_hip_check_(alto_hip_.MemcpyDtoH(dst, alto_hip_vp_(src), bytes), "hipMemcpyDtoH");
}
alto_status alto_hip_sync(void) {
  return alto_hip_check_(alto_hip_.DeviceSynchronize(), "hipDeviceSynchronize");
}

alto_status alto_hip_module_load(const void *image, alto_hip_module **out) {
  *out = NULL;
  hipModule_ mod;
  ALTO_TRY(alto_hip_check_(alto_hip_.ModuleLoadData(&mod, image), "hipModuleLoadData"));
  *out = alto_xcalloc(1, sizeof **out);
  (*out)->mod = mod;
  return ALTO_OK;
}
void alto_hip_module_unload(alto_hip_module *m) {
  if (!m)
    return;
  alto_hip_.ModuleUnload(m->mod);
  free(m);
}
alto_status alto_hip_module_function(alto_hip_module *m, const char *name, alto_hip_function *out) {
  hipFunction_ f;
  alto_status st =
      alto_hip_check_(alto_hip_.ModuleGetFunction(&f, m->mod, name), "hipModuleGetFunction");
  if (st != ALTO_OK)
    return alto_error(st, "kernel '%s': %s", name, alto_last_error());
  *out = f;
  return ALTO_OK;
}

/* AMD GPUs need no opt-in for dynamic LDS: any amount up to the per-block limit launches. */
alto_status alto_hip_function_set_smem(alto_hip_function f, int bytes) {
  (void)f;
  if (bytes > alto_hip_.smem_per_block)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "kernel needs %d bytes of shared memory (LDS); this AMD GPU has %d per block",
                      bytes, alto_hip_.smem_per_block);
  return ALTO_OK;
}

alto_status alto_hip_launch(alto_hip_function f, const unsigned grid[3], const unsigned block[3],
                            unsigned shared_bytes, void **args) {
  return alto_hip_check_(alto_hip_.ModuleLaunchKernel((hipFunction_)f, grid[0], grid[1], grid[2],
                                                      block[0], block[1], block[2], shared_bytes,
                                                      NULL, args, NULL),
                         "hipModuleLaunchKernel");
}

alto_status alto_hip_time_ms(void (*fn)(void *ctx), void *ctx, int iters, float *ms) {
  hipEvent_ a, b;
  ALTO_TRY(alto_hip_check_(alto_hip_.EventCreate(&a), "hipEventCreate"));
  alto_status st = alto_hip_check_(alto_hip_.EventCreate(&b), "hipEventCreate");
  if (st != ALTO_OK) {
    alto_hip_.EventDestroy(a);
    return st;
  }
  st = alto_hip_check_(alto_hip_.EventRecord(a, NULL), "hipEventRecord");
  for (int i = 0; i < iters && st == ALTO_OK; i++)
    fn(ctx);
  if (st == ALTO_OK)
    st = alto_hip_check_(alto_hip_.EventRecord(b, NULL), "hipEventRecord");
  if (st == ALTO_OK)
    st = alto_hip_check_(alto_hip_.EventSynchronize(b), "hipEventSynchronize");
  if (st == ALTO_OK)
    st = alto_hip_check_(alto_hip_.EventElapsedTime(ms, a, b), "hipEventElapsedTime");
  alto_hip_.EventDestroy(a);
  alto_hip_.EventDestroy(b);
  return st;
}
