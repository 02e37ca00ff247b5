/* The CUDA backend: runtime/backend.h over the driver API (runtime/cuda/driver.c) and NVRTC. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend.h"
#include "runtime/cuda/driver.h"
#include "runtime/jit.h"
#include "runtime/nvrtc.h"
#include "runtime/templates.h"

static alto_status alto_cu_alloc_(alto_backend *b, size_t bytes, alto_dptr *out) {
  (void)b;
  return alto_cuda_malloc(out, bytes);
}
static void alto_cu_free_(alto_backend *b, alto_dptr p) {
  (void)b;
  alto_cuda_free(p);
}
static alto_status alto_cu_memset_(alto_backend *b, alto_dptr p, uint8_t v, size_t n) {
  (void)b;
  return alto_cuda_memset(p, v, n);
}
static alto_status alto_cu_memset32_(alto_backend *b, alto_dptr p, uint32_t v, size_t n) {
  (void)b;
  return alto_cuda_memset32(p, v, n);
}
static alto_status alto_cu_h2d_(alto_backend *b, alto_dptr d, const void *s, size_t n) {
  (void)b;
  return alto_cuda_h2d(d, s, n);
}
static alto_status alto_cu_d2h_(alto_backend *b, void *d, alto_dptr s, size_t n) {
  (void)b;
  return alto_cuda_d2h(d, s, n);
}
static alto_status alto_cu_sync_(alto_backend *b) {
  (void)b;
  return alto_cuda_sync();
}

/* NVRTC options for a generated stub; the embedded templates are passed as headers. */
alto_status alto_cuda_compile_source(const char *arch, const char *name, const char *source,
                                     const char *const *options, int n_options, void **image,
                                     size_t *size, char **log) {
  alto_nvrtc_header *h = alto_xcalloc((size_t)alto_template_count, sizeof *h);
  for (int i = 0; i < alto_template_count; i++)
    h[i] = (alto_nvrtc_header){alto_template_files[i].name, alto_template_files[i].text};
  char archopt[64];
  snprintf(archopt, sizeof archopt, "--gpu-architecture=%s", arch);
  const char **opts = alto_xcalloc((size_t)n_options + 1, sizeof(char *));
  opts[0] = archopt;
  for (int i = 0; i < n_options; i++)
    opts[i + 1] = options[i];
  alto_nvrtc_output out;
  alto_status st =
      alto_nvrtc_compile(name, source, h, alto_template_count, opts, n_options + 1, 0, &out);
  free(opts);
  free(h);
  *log = out.log;
  out.log = NULL;
  *image = out.image;
  *size = out.image_size;
  out.image = NULL;
  alto_nvrtc_output_free(&out);
  return st;
}

static alto_status alto_cu_compile_(alto_backend *b, const char *name, const char *source,
                                    const char *const *options, int n_options, void **image,
                                    size_t *size, char **log) {
  return alto_cuda_compile_source(b->arch, name, source, options, n_options, image, size, log);
}

static const char *alto_cu_compiler_id_(alto_backend *b) {
  (void)b;
  return alto_jit_compiler_version(ALTO_TARGET_CUDA); /* the same string alto-compile --arch keys */
}

static alto_status alto_cu_load_(alto_backend *b, const void *image, size_t size, void **module) {
  (void)b;
  (void)size;
  return alto_cuda_module_load(image, (alto_cuda_module **)module);
}
static alto_status alto_cu_function_(alto_backend *b, void *module, const char *name,
                                     int smem_bytes, void **fn) {
  (void)b;
  ALTO_TRY(alto_cuda_module_function((alto_cuda_module *)module, name, fn));
  if (smem_bytes > 0) /* (static + dynamic above 48 KB needs the attribute, whatever the split) */
    return alto_cuda_function_set_smem(*fn, smem_bytes);
  return ALTO_OK;
}
static alto_status alto_cu_launch_(alto_backend *b, void *fn, const unsigned grid[3],
                                   unsigned threads, unsigned smem, void **args) {
  (void)b;
  return alto_cuda_launch(fn, grid[0], grid[1], grid[2], threads, 1, 1, smem, args);
}
static alto_status alto_cu_time_(alto_backend *b, void (*fn)(void *), void *ctx, int iters,
                                 float *ms) {
  (void)b;
  return alto_cuda_time_ms(fn, ctx, iters, ms);
}

const alto_backend_i alto_backend_cuda_i = {
    "cuda",          alto_cu_alloc_, alto_cu_free_,     alto_cu_memset_, alto_cu_h2d_,
    alto_cu_d2h_,    alto_cu_sync_,  alto_cu_compile_,  alto_cu_compiler_id_, alto_cu_load_,
    alto_cu_function_, alto_cu_launch_, alto_cu_time_, alto_cu_memset32_,
};

alto_status alto_backend_cuda_open(alto_backend **out) {
  *out = NULL;
  ALTO_TRY(alto_cuda_init(0));
  ALTO_TRY(alto_nvrtc_load());
  alto_cuda_device_info info;
  ALTO_TRY(alto_cuda_device(&info));
  alto_backend *b = alto_xcalloc(1, sizeof *b);
  b->i = &alto_backend_cuda_i;
  b->target = ALTO_TARGET_CUDA;
  snprintf(b->arch, sizeof b->arch, "%s", info.arch);
  snprintf(b->device_name, sizeof b->device_name, "%s", info.name);
  *out = b;
  return ALTO_OK;
}
