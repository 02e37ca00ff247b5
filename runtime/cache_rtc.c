/* The ready compile functions of the kernel cache (NVRTC, hiprtc) and the ptxas log parser. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cache.h"
#include "runtime/hiprtc.h"
#include "runtime/nvrtc.h"

void alto_cache_parse_ptxas(const char *log, int *registers, int *spill_stores, int *spill_loads) {
  *registers = *spill_stores = *spill_loads = -1;
  if (!log)
    return;
  /* Every number followed by " registers", " bytes spill stores" or " bytes spill loads" (ptxas
   * -v prints one set per kernel): keep the largest of each. */
  for (const char *p = log; *p; p++) {
    if (!isdigit((unsigned char)*p) || (p > log && isdigit((unsigned char)p[-1])))
      continue;
    char *end = NULL;
    long v = strtol(p, &end, 10);
    if (v < 0 || v > 1 << 30)
      continue;
    int *slot = NULL;
    if (strncmp(end, " registers", 10) == 0)
      slot = registers;
    else if (strncmp(end, " bytes spill stores", 19) == 0)
      slot = spill_stores;
    else if (strncmp(end, " bytes spill loads", 18) == 0)
      slot = spill_loads;
    if (slot && (int)v > *slot)
      *slot = (int)v;
  }
}

alto_status alto_cache_compile_nvrtc(void *ctx, const alto_cache_request *req,
                                     const char *const *options, int n_options,
                                     alto_cache_output *out) {
  (void)ctx;
  bool has_arch = false;
  for (int i = 0; i < n_options; i++)
    has_arch |=
        strncmp(options[i], "--gpu-architecture", 18) == 0 || strncmp(options[i], "-arch", 5) == 0;
  char arch_opt[128];
  snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s", req->arch);
  const char **opts = alto_xcalloc((size_t)n_options + 1, sizeof(char *));
  int n = 0;
  if (!has_arch)
    opts[n++] = arch_opt;
  for (int i = 0; i < n_options; i++)
    opts[n++] = options[i];
  alto_nvrtc_output o;
  alto_status st =
      alto_nvrtc_compile(req->name ? req->name : "kernel.cu", req->source, NULL, 0, opts, n, 0, &o);
  free(opts);
  out->binary = o.image;
  out->size = o.image_size;
  out->log = o.log;
  if (st != ALTO_OK) {
    free(out->binary);
    out->binary = NULL;
    out->size = 0;
  }
  return st;
}

alto_status alto_cache_compile_hiprtc(void *ctx, const alto_cache_request *req,
                                      const char *const *options, int n_options,
                                      alto_cache_output *out) {
  (void)ctx;
  alto_hiprtc_output o;
  alto_status st = alto_hiprtc_compile(req->name ? req->name : "kernel.hip", req->source, req->arch,
                                       options, n_options, &o);
  out->binary = o.code;
  out->size = o.code_size;
  out->log = o.log;
  if (st != ALTO_OK) {
    free(out->binary);
    out->binary = NULL;
    out->size = 0;
  }
  return st;
}
