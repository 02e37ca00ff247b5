/* hiprtc, loaded with dlopen (no link-time dependency: alto runs and its CPU tests pass on a
 * machine without ROCm). Compiles self-contained HIP source to a raw AMDGPU code object (an ELF
 * that hipModuleLoadData takes).
 *
 * Facts about the ROCm 5.2 hiprtc this targets (shared/reference/toolchain.md, section 2):
 *  - it lives in libamdhip64.so.5 (there is no libhiprtc.so);
 *  - it needs -D__HIP_PLATFORM_AMD__ and an arch option, and no GPU;
 *  - it ABORTS the process (inside comgr) for an arch that comgr does not know (gfx940, gfx942,
 *    gfx1100), so the arch is checked against an allow-list before hiprtc sees it;
 *  - the source must be self-contained: #include <hip/...> headers break under hiprtc
 *    (runtime/templates.h's alto_templates_expand inlines the templates);
 *  - it is not thread-safe (concurrent compiles crash): alto_hiprtc_compile serializes. */
#ifndef ALTO_RUNTIME_HIPRTC_H
#define ALTO_RUNTIME_HIPRTC_H

#include <stddef.h>

#include "base/status.h"

/* Loads hiprtc (libamdhip64.so.5, then libamdhip64.so) once; thread-safe. ALTO_ERR_LIBRARY with
 * the names tried and dlerror() when missing. */
alto_status alto_hiprtc_load(void);

/* hiprtc's version (major, minor); alto_hiprtc_load must have succeeded. */
void alto_hiprtc_version(int *major, int *minor);

/* ALTO_OK when this hiprtc can compile for `arch` ("gfx90a", optionally with target features as
 * in "gfx90a:xnack-"); else ALTO_ERR_UNSUPPORTED naming the supported archs. Needs no library. */
alto_status alto_hiprtc_arch_supported(const char *arch);

/* The supported archs, comma-separated ("gfx90a, gfx908, gfx1030"). */
const char *alto_hiprtc_supported_archs(void);

typedef struct {
  void *code; /* the code object (ELF) */
  size_t code_size;
  char *log; /* the compile log ("" when empty); always set, even on failure */
} alto_hiprtc_output;

/* Compiles `src` (named `name` in messages) for `arch`. The options given are passed after
 * "-D__HIP_PLATFORM_AMD__" and "--offload-arch=<arch>", which this function adds; an arch option
 * among `options` is refused (ALTO_ERR_INVALID_ARG: pass it as `arch`, so it is checked). An
 * unsupported arch gives ALTO_ERR_UNSUPPORTED before hiprtc is called; a failed compile gives
 * ALTO_ERR_COMPILE with the log in out->log. Free the output with alto_hiprtc_output_free. */
alto_status alto_hiprtc_compile(const char *name, const char *src, const char *arch,
                                const char *const *options, int n_options, alto_hiprtc_output *out);
void alto_hiprtc_output_free(alto_hiprtc_output *out);

#endif
