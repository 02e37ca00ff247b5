#include "runtime/nvrtc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The few NVRTC types and entry points we use, declared here so the build needs no CUDA headers. */
typedef int nvrtcResult_; /* NVRTC_SUCCESS == 0 */
typedef struct nvrtcProgram_st_ *nvrtcProgram_;

static struct {
  void *lib;
  alto_status status;
  char error[1024];
  const char *(*GetErrorString)(nvrtcResult_);
  nvrtcResult_ (*Version)(int *, int *);
  nvrtcResult_ (*CreateProgram)(nvrtcProgram_ *, const char *, const char *, int,
                                const char *const *, const char *const *);
  nvrtcResult_ (*DestroyProgram)(nvrtcProgram_ *);
  nvrtcResult_ (*CompileProgram)(nvrtcProgram_, int, const char *const *);
  nvrtcResult_ (*GetProgramLogSize)(nvrtcProgram_, size_t *);
  nvrtcResult_ (*GetProgramLog)(nvrtcProgram_, char *);
  nvrtcResult_ (*GetCUBINSize)(nvrtcProgram_, size_t *);
  nvrtcResult_ (*GetCUBIN)(nvrtcProgram_, char *);
  nvrtcResult_ (*GetPTXSize)(nvrtcProgram_, size_t *);
  nvrtcResult_ (*GetPTX)(nvrtcProgram_, char *);
} alto_nvrtc_;

static pthread_once_t alto_nvrtc_once_ = PTHREAD_ONCE_INIT;

static void alto_nvrtc_load_once_(void) {
  const char *names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
  char tried[512] = "";
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !alto_nvrtc_.lib; i++) {
    alto_nvrtc_.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!alto_nvrtc_.lib) {
      strncat(tried, i ? ", " : "", sizeof tried - strlen(tried) - 1);
      strncat(tried, names[i], sizeof tried - strlen(tried) - 1);
    }
  }
  if (!alto_nvrtc_.lib) {
    snprintf(alto_nvrtc_.error, sizeof alto_nvrtc_.error,
             "NVRTC not found (tried %s: %s); install the CUDA toolkit's NVRTC or add its lib "
             "directory to LD_LIBRARY_PATH",
             tried, dlerror());
    alto_nvrtc_.status = ALTO_ERR_LIBRARY;
    return;
  }
#define ALTO_NVRTC_SYM_(field, sym)                                                              \
  do {                                                                                           \
    *(void **)&alto_nvrtc_.field = dlsym(alto_nvrtc_.lib, sym);                                  \
    if (!alto_nvrtc_.field) {                                                                    \
      snprintf(alto_nvrtc_.error, sizeof alto_nvrtc_.error, "NVRTC lacks the symbol %s", sym);   \
      alto_nvrtc_.status = ALTO_ERR_LIBRARY;                                                     \
      return;                                                                                    \
    }                                                                                            \
  } while (0)
  ALTO_NVRTC_SYM_(GetErrorString, "nvrtcGetErrorString");
  ALTO_NVRTC_SYM_(Version, "nvrtcVersion");
  ALTO_NVRTC_SYM_(CreateProgram, "nvrtcCreateProgram");
  ALTO_NVRTC_SYM_(DestroyProgram, "nvrtcDestroyProgram");
  ALTO_NVRTC_SYM_(CompileProgram, "nvrtcCompileProgram");
  ALTO_NVRTC_SYM_(GetProgramLogSize, "nvrtcGetProgramLogSize");
  ALTO_NVRTC_SYM_(GetProgramLog, "nvrtcGetProgramLog");
  ALTO_NVRTC_SYM_(GetCUBINSize, "nvrtcGetCUBINSize");
  ALTO_NVRTC_SYM_(GetCUBIN, "nvrtcGetCUBIN");
  ALTO_NVRTC_SYM_(GetPTXSize, "nvrtcGetPTXSize");
  ALTO_NVRTC_SYM_(GetPTX, "nvrtcGetPTX");
#undef ALTO_NVRTC_SYM_
  alto_nvrtc_.status = ALTO_OK;
}

alto_status alto_nvrtc_load(void) {
  pthread_once(&alto_nvrtc_once_, alto_nvrtc_load_once_);
  if (alto_nvrtc_.status != ALTO_OK)
    return alto_error(alto_nvrtc_.status, "%s", alto_nvrtc_.error);
  return ALTO_OK;
}

void alto_nvrtc_version(int *major, int *minor) {
  ALTO_ASSERT(alto_nvrtc_.lib && alto_nvrtc_.status == ALTO_OK);
  *major = *minor = 0;
  alto_nvrtc_.Version(major, minor);
}

/* Checks one NVRTC call; on failure records "<call>: <NVRTC's error string>". */
static alto_status alto_nvrtc_check_(nvrtcResult_ r, const char *call, const char *name) {
  if (r == 0)
    return ALTO_OK;
  return alto_error(ALTO_ERR_COMPILE, "%s failed for %s: %s", call, name,
                    alto_nvrtc_.GetErrorString(r));
}

alto_status alto_nvrtc_compile(const char *name, const char *src, const alto_nvrtc_header *headers,
                               int n_headers, const char *const *options, int n_options,
                               int want_ptx, alto_nvrtc_output *out) {
  memset(out, 0, sizeof *out);
  out->log = alto_xstrdup("");
  ALTO_TRY(alto_nvrtc_load());
  const char **hsrc = alto_xcalloc((size_t)(n_headers > 0 ? n_headers : 1), sizeof(char *));
  const char **hname = alto_xcalloc((size_t)(n_headers > 0 ? n_headers : 1), sizeof(char *));
  for (int i = 0; i < n_headers; i++) {
    hsrc[i] = headers[i].contents;
    hname[i] = headers[i].name;
  }
  nvrtcProgram_ prog = NULL;
  alto_status st = alto_nvrtc_check_(
      alto_nvrtc_.CreateProgram(&prog, src, name, n_headers, hsrc, hname), "nvrtcCreateProgram",
      name);
  free(hsrc);
  free(hname);
  if (st != ALTO_OK)
    return st;
  nvrtcResult_ cr = alto_nvrtc_.CompileProgram(prog, n_options, options);
  size_t log_size = 0;
  if (alto_nvrtc_.GetProgramLogSize(prog, &log_size) == 0 && log_size > 1) {
    free(out->log);
    out->log = alto_xmalloc(log_size);
    if (alto_nvrtc_.GetProgramLog(prog, out->log) != 0)
      out->log[0] = '\0';
  }
  st = alto_nvrtc_check_(cr, "nvrtcCompileProgram", name);
  if (st == ALTO_OK) {
    size_t n = 0;
    st = want_ptx ? alto_nvrtc_check_(alto_nvrtc_.GetPTXSize(prog, &n), "nvrtcGetPTXSize", name)
                  : alto_nvrtc_check_(alto_nvrtc_.GetCUBINSize(prog, &n), "nvrtcGetCUBINSize",
                                      name);
    /* A compute_XX target yields success with size 0 for the cubin: that is an error for us. */
    if (st == ALTO_OK && n == 0)
      st = alto_error(ALTO_ERR_COMPILE, "NVRTC produced an empty %s for %s (a compute_XX target?)",
                      want_ptx ? "PTX" : "cubin", name);
    if (st == ALTO_OK) {
      out->image = alto_xmalloc(n);
      out->image_size = n;
      st = want_ptx ? alto_nvrtc_check_(alto_nvrtc_.GetPTX(prog, out->image), "nvrtcGetPTX", name)
                    : alto_nvrtc_check_(alto_nvrtc_.GetCUBIN(prog, out->image), "nvrtcGetCUBIN",
                                        name);
    }
  }
  alto_nvrtc_.DestroyProgram(&prog);
  return st;
}

void alto_nvrtc_output_free(alto_nvrtc_output *out) {
  free(out->image);
  free(out->log);
  memset(out, 0, sizeof *out);
}
