/* The HIP backend (runtime/backend.h over runtime/hip/hip_api.h and runtime/hiprtc.h): its compile
 * path, usable without a GPU (tests/test_quant_compile_hip.c, alto-compile). */
#ifndef ALTO_RUNTIME_HIP_BACKEND_HIP_H
#define ALTO_RUNTIME_HIP_BACKEND_HIP_H

#include <stddef.h>

#include "base/status.h"

/* hiprtc for `arch` over `source` with the embedded templates expanded into it (hiprtc takes no
 * headers): the compile path of the HIP backend, usable without a GPU. The log is always set;
 * the caller frees image and log. */
alto_status alto_hip_compile_source(const char *arch, const char *name, const char *source,
                                    const char *const *options, int n_options, void **image,
                                    size_t *size, char **log);

#endif
