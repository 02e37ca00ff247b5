#include "runtime/hiprtc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The few hiprtc types and entry points we use, declared here so the build needs no HIP headers. */
typedef int hiprtcResult_; /* HIPRTC_SUCCESS == 0 */
typedef struct hiprtcProgram_st_ *hiprtcProgram_;

/* The archs comgr 2.4 (ROCm 5.2) compiles without aborting, as probed in toolchain.md. comgr's
 * ISA list has more (gfx6xx-gfx90c, gfx10xx) but only these were checked; add one here only
 * after compiling a kernel for it with this hiprtc. */
static const char *const alto_hiprtc_archs_[] = {"gfx90a", "gfx908", "gfx1030"};
#define ALTO_HIPRTC_N_ARCHS_ (sizeof alto_hiprtc_archs_ / sizeof alto_hiprtc_archs_[0])

static struct {
  void *lib;
  alto_status status;
  char error[1024];
  const char *(*GetErrorString)(hiprtcResult_);
  hiprtcResult_ (*Version)(int *, int *);
  hiprtcResult_ (*CreateProgram)(hiprtcProgram_ *, const char *, const char *, int, const char **,
                                 const char **);
  hiprtcResult_ (*DestroyProgram)(hiprtcProgram_ *);
  hiprtcResult_ (*CompileProgram)(hiprtcProgram_, int, const char **);
  hiprtcResult_ (*GetProgramLogSize)(hiprtcProgram_, size_t *);
  hiprtcResult_ (*GetProgramLog)(hiprtcProgram_, char *);
  hiprtcResult_ (*GetCodeSize)(hiprtcProgram_, size_t *);
  hiprtcResult_ (*GetCode)(hiprtcProgram_, char *);
} alto_hiprtc_;

static pthread_once_t alto_hiprtc_once_ = PTHREAD_ONCE_INIT;
/* ROCm 5.2's hiprtc is not thread-safe: two concurrent hiprtcCompileProgram calls crash inside
 * libamdhip64 (SIGSEGV, seen with tests/test_quant_compile_hip.c on 2 threads); newer hiprtc
 * serializes internally (ROCm/hip#3826). So every program's life runs under this lock. */
static pthread_mutex_t alto_hiprtc_mu_ = PTHREAD_MUTEX_INITIALIZER;

static void alto_hiprtc_load_once_(void) {
  const char *names[] = {"libamdhip64.so.5", "libamdhip64.so"};
  char tried[256] = "";
  const char *last_err = "";
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !alto_hiprtc_.lib; i++) {
    alto_hiprtc_.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!alto_hiprtc_.lib) {
      const char *e = dlerror();
      last_err = e ? e : "";
      strncat(tried, i ? ", " : "", sizeof tried - strlen(tried) - 1);
      strncat(tried, names[i], sizeof tried - strlen(tried) - 1);
    }
  }
  if (!alto_hiprtc_.lib) {
    snprintf(alto_hiprtc_.error, sizeof alto_hiprtc_.error,
             "hiprtc not found (tried %s: %s); install ROCm's HIP runtime (Debian: apt-get install "
             "libamdhip64-dev rocm-device-libs libamd-comgr-dev libhiprtc-builtins5) or add its "
             "lib directory to LD_LIBRARY_PATH",
             tried, last_err);
    alto_hiprtc_.status = ALTO_ERR_LIBRARY;
    return;
  }
#define ALTO_HIPRTC_SYM_(field, sym)                                                               \
  do {                                                                                             \
    *(void **)&alto_hiprtc_.field = dlsym(alto_hiprtc_.lib, sym);                                  \
    if (!alto_hiprtc_.field) {                                                                     \
      snprintf(alto_hiprtc_.error, sizeof alto_hiprtc_.error,                                      \
               "libamdhip64 lacks the hiprtc symbol %s (ROCm 5.x or newer needed)", sym);          \
      alto_hiprtc_.status = ALTO_ERR_LIBRARY;                                                      \
      return;                                                                                      \
    }                                                                                              \
  } while (0)
  ALTO_HIPRTC_SYM_(GetErrorString, "hiprtcGetErrorString");
  ALTO_HIPRTC_SYM_(Version, "hiprtcVersion");
  ALTO_HIPRTC_SYM_(CreateProgram, "hiprtcCreateProgram");
  ALTO_HIPRTC_SYM_(DestroyProgram, "hiprtcDestroyProgram");
  ALTO_HIPRTC_SYM_(CompileProgram, "hiprtcCompileProgram");
  ALTO_HIPRTC_SYM_(GetProgramLogSize, "hiprtcGetProgramLogSize");
  ALTO_HIPRTC_SYM_(GetProgramLog, "hiprtcGetProgramLog");
  ALTO_HIPRTC_SYM_(GetCodeSize, "hiprtcGetCodeSize");
  ALTO_HIPRTC_SYM_(GetCode, "hiprtcGetCode");
#undef ALTO_HIPRTC_SYM_
  alto_hiprtc_.status = ALTO_OK;
}

alto_status alto_hiprtc_load(void) {
  pthread_once(&alto_hiprtc_once_, alto_hiprtc_load_once_);
  if (alto_hiprtc_.status != ALTO_OK)
    return alto_error(alto_hiprtc_.status, "%s", alto_hiprtc_.error);
  return ALTO_OK;
}

void alto_hiprtc_version(int *major, int *minor) {
  ALTO_ASSERT(alto_hiprtc_.lib && alto_hiprtc_.status == ALTO_OK);
  *major = *minor = 0;
  alto_hiprtc_.Version(major, minor);
}

const char *alto_hiprtc_supported_archs(void) {
  return "gfx90a, gfx908, gfx1030";
}

alto_status alto_hiprtc_arch_supported(const char *arch) {
  if (!arch || !*arch)
    return alto_error(ALTO_ERR_INVALID_ARG, "hiprtc needs a target arch (one of %s)",
                      alto_hiprtc_supported_archs());
  /* "gfx90a:sramecc+:xnack-": the processor is the part before the first ':'. */
  size_t n = strcspn(arch, ":");
  for (size_t i = 0; i < ALTO_HIPRTC_N_ARCHS_; i++)
    if (strlen(alto_hiprtc_archs_[i]) == n && strncmp(arch, alto_hiprtc_archs_[i], n) == 0)
      return ALTO_OK;
  return alto_error(ALTO_ERR_UNSUPPORTED,
                    "hiprtc arch '%s' is not supported by alto's hiprtc (ROCm 5.2 comgr): "
                    "supported archs are %s; this hiprtc would abort the process on '%s' (gfx940, "
                    "gfx942 and gfx11xx are unknown to it), so it is not called; use a newer ROCm "
                    "or compile offline with hipcc",
                    arch, alto_hiprtc_supported_archs(), arch);
}

static alto_status alto_hiprtc_check_(hiprtcResult_ r, const char *call, const char *name) {
  if (r == 0)
    return ALTO_OK;
  const char *s = alto_hiprtc_.GetErrorString ? alto_hiprtc_.GetErrorString(r) : NULL;
  return alto_error(ALTO_ERR_COMPILE, "%s failed for %s: %s (hiprtcResult %d)", call, name,
                    s ? s : "unknown error", r);
}

static int alto_hiprtc_is_arch_option_(const char *o) {
  return strncmp(o, "--offload-arch", 14) == 0 || strncmp(o, "--gpu-architecture", 18) == 0 ||
         strncmp(o, "-arch", 5) == 0 || strncmp(o, "--amdgpu-target", 15) == 0 ||
         strncmp(o, "-mcpu", 5) == 0;
}

alto_status alto_hiprtc_compile(const char *name, const char *src, const char *arch,
                                const char *const *options, int n_options,
                                alto_hiprtc_output *out) {
  memset(out, 0, sizeof *out);
  out->log = alto_xstrdup("");
  ALTO_TRY(alto_hiprtc_arch_supported(arch));
  for (int i = 0; i < n_options; i++)
    if (alto_hiprtc_is_arch_option_(options[i]))
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "hiprtc option '%s' for %s: pass the arch as the `arch` argument of "
                        "alto_hiprtc_compile (it is checked against %s), not as an option",
                        options[i], name, alto_hiprtc_supported_archs());
  ALTO_TRY(alto_hiprtc_load());

  char arch_opt[128];
  snprintf(arch_opt, sizeof arch_opt, "--offload-arch=%s", arch);
  const char **opts = alto_xcalloc((size_t)n_options + 2, sizeof(char *));
  opts[0] = "-D__HIP_PLATFORM_AMD__";
  opts[1] = arch_opt;
  for (int i = 0; i < n_options; i++)
    opts[2 + i] = options[i];

  hiprtcProgram_ prog = NULL;
  pthread_mutex_lock(&alto_hiprtc_mu_);
  alto_status st = alto_hiprtc_check_(alto_hiprtc_.CreateProgram(&prog, src, name, 0, NULL, NULL),
                                      "hiprtcCreateProgram", name);
  if (st != ALTO_OK) {
    pthread_mutex_unlock(&alto_hiprtc_mu_);
    free(opts);
    return st;
  }
  hiprtcResult_ cr = alto_hiprtc_.CompileProgram(prog, n_options + 2, opts);
  free(opts);
  size_t log_size = 0;
  if (alto_hiprtc_.GetProgramLogSize(prog, &log_size) == 0 && log_size > 1) {
    free(out->log);
    out->log = alto_xcalloc(log_size + 1, 1);
    if (alto_hiprtc_.GetProgramLog(prog, out->log) != 0)
      out->log[0] = '\0';
  }
  st = alto_hiprtc_check_(cr, "hiprtcCompileProgram", name);
  if (st == ALTO_OK) {
    size_t n = 0;
    st = alto_hiprtc_check_(alto_hiprtc_.GetCodeSize(prog, &n), "hiprtcGetCodeSize", name);
    if (st == ALTO_OK && n == 0)
      st = alto_error(ALTO_ERR_COMPILE, "hiprtc produced an empty code object for %s (%s)", name,
                      arch);
    if (st == ALTO_OK) {
      out->code = alto_xmalloc(n);
      out->code_size = n;
      st = alto_hiprtc_check_(alto_hiprtc_.GetCode(prog, out->code), "hiprtcGetCode", name);
    }
  }
  alto_hiprtc_.DestroyProgram(&prog);
  pthread_mutex_unlock(&alto_hiprtc_mu_);
  return st;
}

void alto_hiprtc_output_free(alto_hiprtc_output *out) {
  free(out->code);
  free(out->log);
  memset(out, 0, sizeof *out);
}
