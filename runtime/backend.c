#include "runtime/backend.h"

#include <stdlib.h>
#include <string.h>

alto_status alto_backend_cuda_open(alto_backend **out);
alto_status alto_backend_hip_open(alto_backend **out);

alto_status alto_backend_open(const char *name, alto_backend **out) {
  *out = NULL;
  if (strcmp(name, "cuda") == 0)
    return alto_backend_cuda_open(out);
  if (strcmp(name, "hip") == 0)
    return alto_backend_hip_open(out);
  return alto_error(ALTO_ERR_INVALID_ARG, "unknown GPU backend '%s' (valid: cuda, hip)", name);
}

void alto_backend_close(alto_backend *b) { free(b); }
