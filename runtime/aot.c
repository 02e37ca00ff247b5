#include "runtime/aot.h"

#include "runtime/hip/backend_hip.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/parallel.h"
#include "runtime/cache_internal.h"
#include "runtime/hiprtc.h"
#include "runtime/jit.h"
#include "runtime/nvrtc.h"
#include "runtime/templates.h"

/* runtime/cuda/backend_cuda.c: NVRTC with the embedded templates as headers (the backend's own
 * compile, so AOT binaries are the JIT's bit for bit). */
alto_status alto_cuda_compile_source(const char *arch, const char *name, const char *source,
                                     const char *const *options, int n_options, void **image,
                                     size_t *size, char **log);

/* The NVRTC archs alto accepts: CUDA 12/13 targets from Turing on (CUDA 13 dropped older ones).
 * "a" variants enable the arch-specific instructions (sm_90a: wgmma, TMA multicast). */
static const char *const alto_aot_nvrtc_archs_[] = {
    "sm_75",  "sm_80",   "sm_86",  "sm_87",   "sm_89",  "sm_90",   "sm_90a", "sm_100", "sm_100a",
    "sm_103", "sm_103a", "sm_110", "sm_110a", "sm_120", "sm_120a", "sm_121", "sm_121a"};
#define ALTO_AOT_N_NVRTC_ (sizeof alto_aot_nvrtc_archs_ / sizeof alto_aot_nvrtc_archs_[0])

static char alto_aot_nvrtc_list_[256];
static pthread_once_t alto_aot_list_once_ = PTHREAD_ONCE_INIT;

static void alto_aot_list_init_(void) {
  size_t o = 0;
  for (size_t i = 0; i < ALTO_AOT_N_NVRTC_; i++)
    o += (size_t)snprintf(alto_aot_nvrtc_list_ + o, sizeof alto_aot_nvrtc_list_ - o, "%s%s",
                          i ? ", " : "", alto_aot_nvrtc_archs_[i]);
}

const char *alto_aot_archs(alto_target t) {
  if (t == ALTO_TARGET_HIP)
    return alto_hiprtc_supported_archs();
  pthread_once(&alto_aot_list_once_, alto_aot_list_init_);
  return alto_aot_nvrtc_list_;
}

alto_status alto_aot_arch_check(const char *arch, alto_target *target) {
  if (strncmp(arch, "sm_", 3) == 0) {
    *target = ALTO_TARGET_CUDA;
    for (size_t i = 0; i < ALTO_AOT_N_NVRTC_; i++)
      if (strcmp(arch, alto_aot_nvrtc_archs_[i]) == 0)
        return ALTO_OK;
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "unknown CUDA arch '%s' (NVRTC targets sm_75 and newer); valid: %s", arch,
                      alto_aot_archs(ALTO_TARGET_CUDA));
  }
  if (strncmp(arch, "gfx", 3) == 0) {
    *target = ALTO_TARGET_HIP;
    if (alto_hiprtc_arch_supported(arch) == ALTO_OK)
      return ALTO_OK;
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "HIP arch '%s' is not in hiprtc's allow-list (it aborts on archs its comgr "
                      "does not know); valid: %s",
                      arch, alto_aot_archs(ALTO_TARGET_HIP));
  }
  return alto_error(ALTO_ERR_INVALID_ARG, "unknown arch '%s'; valid: CUDA %s; HIP %s", arch,
                    alto_aot_archs(ALTO_TARGET_CUDA), alto_aot_archs(ALTO_TARGET_HIP));
}

/* HIP include expansion. hiprtc takes self-contained source only (runtime/hiprtc.h): the stub's
 * #include of the templates must be inlined first. That expansion is being added to
 * runtime/templates.c; when it lands, call it here (this is the only place to change). */
alto_status alto_aot_ready(alto_target t) {
  if (t == ALTO_TARGET_CUDA)
    return alto_nvrtc_load();
  return alto_hiprtc_load();
}

alto_status alto_aot_compile_cuda(void *ctx, const alto_cache_request *req,
                                  const char *const *options, int n_options,
                                  alto_cache_output *out) {
  (void)ctx;
  return alto_cuda_compile_source(req->arch, req->name, req->source, options, n_options,
                                  &out->binary, &out->size, &out->log);
}

alto_status alto_aot_compile_hip(void *ctx, const alto_cache_request *req,
                                 const char *const *options, int n_options,
                                 alto_cache_output *out) {
  (void)ctx;
  return alto_hip_compile_source(req->arch, req->name, req->source, options, n_options,
                                 &out->binary, &out->size, &out->log);
}

alto_status alto_aot_compile(const alto_gen_kernel *g, alto_target t, const char *arch,
                             alto_cache_origin *origin) {
  alto_jit_request r;
  alto_jit_request_make(g, t, arch, alto_jit_compiler_version(t), &r);
  alto_cache_entry e;
  ALTO_TRY(alto_cache_get(
      &r.req, t == ALTO_TARGET_HIP ? alto_aot_compile_hip : alto_aot_compile_cuda, NULL, &e));
  *origin = e.origin;
  alto_cache_entry_free(&e);
  return ALTO_OK;
}

/* ---- --emit-src ------------------------------------------------------------------------------ */

static alto_status alto_aot_write_(const char *path, const char *text, size_t len) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    int err = alto_cache_mkdirs(dir);
    if (err)
      return alto_error(ALTO_ERR_IO, "cannot create the directory %s: %s", dir, strerror(err));
  }
  int err = alto_cache_write_file(path, text, len);
  if (err)
    return alto_error(ALTO_ERR_IO, "cannot write %s: %s", path, strerror(err));
  return ALTO_OK;
}

alto_status alto_aot_emit_source(const char *dir, const alto_gen_kernel *g, alto_target t) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s%s", dir, g->name, alto_target_info_get(t)->ext) >=
      (int)sizeof path)
    return alto_error(ALTO_ERR_IO, "--emit-src directory path too long: %s", dir);
  return alto_aot_write_(path, g->source, strlen(g->source));
}

alto_status alto_aot_emit_templates(const char *dir) {
  for (int i = 0; i < alto_template_count; i++) {
    const alto_template_file *f = &alto_template_files[i];
    char path[4096];
    if (snprintf(path, sizeof path, "%s/templates/%s", dir, f->name) >= (int)sizeof path)
      return alto_error(ALTO_ERR_IO, "--emit-src directory path too long: %s", dir);
    ALTO_TRY(alto_aot_write_(path, f->text, f->size));
  }
  return ALTO_OK;
}

/* ---- batches --------------------------------------------------------------------------------- */

typedef struct {
  const alto_aot_batch *b;
  pthread_mutex_t mu;
  int next, done;
  alto_aot_summary sum;
} alto_aot_run_;

static double alto_aot_now_(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static alto_status alto_aot_one_(const alto_aot_batch *b, int i, char *key, size_t key_cap,
                                 alto_aot_result *res) {
  alto_gen_kernel g;
  if (b->gen) {
    g = b->gen[i];
    snprintf(key, key_cap, "%s", g.key);
  } else {
    alto_qkern_key(&b->kernels[i], key, key_cap);
    ALTO_TRY(alto_gen_quant(&b->kernels[i], &g));
  }
  alto_status st = b->emit_dir ? alto_aot_emit_source(b->emit_dir, &g, b->target) : ALTO_OK;
  alto_cache_origin origin = ALTO_CACHE_COMPILED;
  if (st == ALTO_OK && b->compile)
    st = alto_aot_compile(&g, b->target, b->arch, &origin);
  if (!b->gen)
    alto_gen_kernel_free(&g);
  *res = !b->compile                     ? ALTO_AOT_WRITTEN
         : origin == ALTO_CACHE_COMPILED ? ALTO_AOT_COMPILED
                                         : ALTO_AOT_CACHED;
  return st;
}

/* One worker: takes the next kernel until none is left (dynamic: compile times differ). */
static void alto_aot_worker_(void *ctx, int64_t begin, int64_t end) {
  alto_aot_run_ *r = ctx;
  const alto_aot_batch *b = r->b;
  for (int64_t w = begin; w < end; w++) {
    for (;;) {
      pthread_mutex_lock(&r->mu);
      int i = r->next < b->n ? r->next++ : -1;
      pthread_mutex_unlock(&r->mu);
      if (i < 0)
        break;
      double t0 = alto_aot_now_();
      char key[256];
      alto_aot_result res = ALTO_AOT_FAILED;
      alto_status st = alto_aot_one_(b, i, key, sizeof key, &res);
      if (st != ALTO_OK)
        res = ALTO_AOT_FAILED;
      double dt = alto_aot_now_() - t0;
      pthread_mutex_lock(&r->mu);
      r->done++;
      if (res == ALTO_AOT_COMPILED)
        r->sum.compiled++;
      else if (res == ALTO_AOT_CACHED)
        r->sum.cached++;
      else if (res == ALTO_AOT_WRITTEN)
        r->sum.written++;
      else
        r->sum.failed++;
      if (b->progress)
        b->progress(b->progress_ctx, r->done, b->n, key, res, dt,
                    st == ALTO_OK ? NULL : alto_last_error());
      pthread_mutex_unlock(&r->mu);
    }
  }
}

void alto_aot_run(const alto_aot_batch *b, alto_aot_summary *out) {
  alto_aot_run_ r;
  memset(&r, 0, sizeof r);
  r.b = b;
  pthread_mutex_init(&r.mu, NULL);
  double t0 = alto_aot_now_();
  int threads = b->threads < 1 ? 1 : b->threads;
  if (threads > b->n)
    threads = b->n > 0 ? b->n : 1;
  alto_parallel_for_threads(threads, 1, threads, alto_aot_worker_, &r);
  pthread_mutex_destroy(&r.mu);
  r.sum.seconds = alto_aot_now_() - t0;
  *out = r.sum;
}
