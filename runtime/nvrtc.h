/* NVRTC, loaded with dlopen (no link-time dependency: alto runs and its CPU tests pass on a
 * machine without the CUDA toolkit). Compiles CUDA C++ source to a cubin (sm_XX) or PTX. */
#ifndef ALTO_RUNTIME_NVRTC_H
#define ALTO_RUNTIME_NVRTC_H

#include <stddef.h>

#include "base/status.h"

/* Loads libnvrtc (libnvrtc.so.13, .so.12, then .so) once; thread-safe. ALTO_ERR_LIBRARY with the
 * names tried and dlerror() when missing. */
alto_status alto_nvrtc_load(void);

/* NVRTC's version (major, minor); alto_nvrtc_load must have succeeded. */
void alto_nvrtc_version(int *major, int *minor);

typedef struct {
  const char *name;     /* the include name, e.g. "alto_numerics.h" */
  const char *contents; /* its text */
} alto_nvrtc_header;

typedef struct {
  void *image;      /* cubin (or PTX text, NUL-terminated, when want_ptx) */
  size_t image_size;
  char *log;        /* the compile log ("" when empty); always set, even on failure */
} alto_nvrtc_output;

/* Compiles `src` (named `name` in messages) with the given options (e.g.
 * "--gpu-architecture=sm_90a", "-std=c++17"). On failure returns ALTO_ERR_COMPILE with the log in
 * out->log. Free the output with alto_nvrtc_output_free. */
alto_status alto_nvrtc_compile(const char *name, const char *src, const alto_nvrtc_header *headers,
                               int n_headers, const char *const *options, int n_options,
                               int want_ptx, alto_nvrtc_output *out);
void alto_nvrtc_output_free(alto_nvrtc_output *out);

#endif
