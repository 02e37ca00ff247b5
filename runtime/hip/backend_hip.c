/* The HIP backend: runtime/backend.h over the HIP runtime (runtime/hip/hip_api.c) and hiprtc
 * (runtime/hiprtc.c). hiprtc takes no headers, so the embedded templates are expanded into the
 * generated source first (alto_templates_expand). No AMD GPU is available to alto's CI: only the
 * compile path is tested there (tests/test_quant_compile_hip.c); see docs/hip.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend.h"
#include "runtime/hip/backend_hip.h"
#include "runtime/hip/hip_api.h"
#include "runtime/hiprtc.h"
#include "runtime/templates.h"

alto_status alto_hip_compile_source(const char *arch, const char *name, const char *source,
                                    const char *const *options, int n_options, void **image,
                                    size_t *size, char **log) {
  *image = NULL;
  *size = 0;
  *log = NULL;
  char *full = NULL;
  alto_status st = alto_templates_expand(name, source, &full);
  if (st != ALTO_OK) {
    *log = alto_xstrdup(alto_last_error());
    return st;
  }
  alto_hiprtc_output out;
  st = alto_hiprtc_compile(name, full, arch, options, n_options, &out);
  free(full);
  *log = out.log;
  *image = out.code;
  *size = out.code_size;
  return st;
}

static alto_status alto_hip_alloc_(alto_backend *b, size_t bytes, alto_dptr *out) {
  (void)b;
  return alto_hip_malloc(out, bytes);
}
static void alto_hip_free_(alto_backend *b, alto_dptr p) {
  (void)b;
  alto_hip_free(p);
}
static alto_status alto_hip_memset_(alto_backend *b, alto_dptr p, uint8_t v, size_t n) {
  (void)b;
  return alto_hip_memset(p, v, n);
}
static alto_status alto_hip_memset32_(alto_backend *b, alto_dptr p, uint32_t v, size_t n) {
  (void)b;
  return alto_hip_memset32(p, v, n);
}
static alto_status alto_hip_h2d_(alto_backend *b, alto_dptr d, const void *s, size_t n) {
  (void)b;
  return alto_hip_h2d(d, s, n);
}
static alto_status alto_hip_d2h_(alto_backend *b, void *d, alto_dptr s, size_t n) {
  (void)b;
  return alto_hip_d2h(d, s, n);
}
static alto_status alto_hip_sync_(alto_backend *b) {
  (void)b;
  return alto_hip_sync();
}

static alto_status alto_hip_compile_(alto_backend *b, const char *name, const char *source,
                                     const char *const *options, int n_options, void **image,
                                     size_t *size, char **log) {
  return alto_hip_compile_source(b->arch, name, source, options, n_options, image, size, log);
}

static const char *alto_hip_compiler_id_(alto_backend *b) {
  (void)b;
  static char id[32];
  int maj = 0, min = 0;
  if (alto_hiprtc_load() == ALTO_OK)
    alto_hiprtc_version(&maj, &min);
  snprintf(id, sizeof id, "%d.%d", maj, min);
  return id;
}

static alto_status alto_hip_load_(alto_backend *b, const void *image, size_t size, void **module) {
  (void)b;
  (void)size;
  return alto_hip_module_load(image, (alto_hip_module **)module);
}
static alto_status alto_hip_function_(alto_backend *b, void *module, const char *name,
                                      int smem_bytes, void **fn) {
  (void)b;
  ALTO_TRY(alto_hip_module_function((alto_hip_module *)module, name, fn));
  return alto_hip_function_set_smem(*fn, smem_bytes);
}
static alto_status alto_hip_launch_(alto_backend *b, void *fn, const unsigned grid[3],
                                    unsigned threads, unsigned smem, void **args) {
  (void)b;
  const unsigned block[3] = {threads, 1, 1};
  return alto_hip_launch(fn, grid, block, smem, args);
}
static alto_status alto_hip_time_(alto_backend *b, void (*fn)(void *), void *ctx, int iters,
                                  float *ms) {
  (void)b;
  return alto_hip_time_ms(fn, ctx, iters, ms);
}

const alto_backend_i alto_backend_hip_i = {
    .name = "hip",
    .alloc = alto_hip_alloc_,
    .free = alto_hip_free_,
    .memset = alto_hip_memset_,
    .h2d = alto_hip_h2d_,
    .d2h = alto_hip_d2h_,
    .sync = alto_hip_sync_,
    .compile = alto_hip_compile_,
    .compiler_id = alto_hip_compiler_id_,
    .load = alto_hip_load_,
    .function = alto_hip_function_,
    .launch = alto_hip_launch_,
    .time_ms = alto_hip_time_,
    .memset32 = alto_hip_memset32_,
};

alto_status alto_backend_hip_open(alto_backend **out) {
  *out = NULL;
  ALTO_TRY(alto_hip_init(0));
  alto_hip_device_info info;
  ALTO_TRY(alto_hip_device(&info));
  alto_status st = alto_hiprtc_arch_supported(info.arch);
  if (st != ALTO_OK)
    return alto_error(st, "AMD GPU '%s' (%s): %s", info.name, info.target_id, alto_last_error());
  ALTO_TRY(alto_hiprtc_load());
  alto_backend *b = alto_xcalloc(1, sizeof *b);
  b->i = &alto_backend_hip_i;
  b->target = ALTO_TARGET_HIP;
  snprintf(b->arch, sizeof b->arch, "%s", info.arch);
  snprintf(b->device_name, sizeof b->device_name, "%s", info.name);
  *out = b;
  return ALTO_OK;
}
