#include "runtime/jit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "runtime/cache.h"
#include "runtime/hiprtc.h"
#include "runtime/nvrtc.h"
#include "runtime/templates.h"

/* Compiler options per target: one table, part of every cache key. */
static const char *const alto_jit_cuda_opts_[] = {"-std=c++17", "-lineinfo", "--ptxas-options=-v"};
/* HIP: -ffp-contract=off because ROCm's __fadd_rn & co are plain operators that HIP would fuse
 * into FMAs (see alto_numerics.h); denormals kept, as on the CPU and CUDA (the gfx9 default, made
 * explicit). */
static const char *const alto_jit_hip_opts_[] = {"-std=c++17", "-O3", "-ffp-contract=off",
                                                 "-fno-gpu-flush-denormals-to-zero"};

const char *const *alto_jit_options(alto_target t, int *n) {
  if (t == ALTO_TARGET_HIP) {
    *n = (int)(sizeof alto_jit_hip_opts_ / sizeof alto_jit_hip_opts_[0]);
    return alto_jit_hip_opts_;
  }
  *n = (int)(sizeof alto_jit_cuda_opts_ / sizeof alto_jit_cuda_opts_[0]);
  return alto_jit_cuda_opts_;
}

void alto_jit_request_make(const alto_gen_kernel *g, alto_target target, const char *arch,
                           const char *compiler_version, alto_jit_request *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->generator_hash, sizeof r->generator_hash, "gen%d-templates%016llx", ALTO_GEN_VERSION,
           (unsigned long long)alto_templates_hash());
  snprintf(r->name, sizeof r->name, "%s%s", g->name, alto_target_info_get(target)->ext);
  int n_opts = 0;
  const char *const *opts = alto_jit_options(target, &n_opts);
  r->req = (alto_cache_request){
      .kind = target == ALTO_TARGET_HIP ? ALTO_CACHE_HIP : ALTO_CACHE_CUDA,
      .name = r->name,
      .generator_hash = r->generator_hash,
      .source = g->source,
      .compiler = target == ALTO_TARGET_HIP ? "hiprtc" : "nvrtc",
      .compiler_version = compiler_version,
      .arch = arch,
      .options = opts,
      .n_options = n_opts,
  };
}

/* Each target's runtime compiler is loaded only when that target is asked for. */
static char alto_jit_versions_[ALTO_TARGET_COUNT][32];
static pthread_once_t alto_jit_versions_once_[ALTO_TARGET_COUNT] = {PTHREAD_ONCE_INIT,
                                                                    PTHREAD_ONCE_INIT};

static void alto_jit_version_set_(alto_target t, int maj, int min) {
  snprintf(alto_jit_versions_[t], sizeof alto_jit_versions_[t], "%d.%d", maj, min);
}
static void alto_jit_version_cuda_(void) {
  int maj = 0, min = 0;
  if (alto_nvrtc_load() == ALTO_OK)
    alto_nvrtc_version(&maj, &min);
  alto_jit_version_set_(ALTO_TARGET_CUDA, maj, min);
}
static void alto_jit_version_hip_(void) {
  int maj = 0, min = 0;
  if (alto_hiprtc_load() == ALTO_OK)
    alto_hiprtc_version(&maj, &min);
  alto_jit_version_set_(ALTO_TARGET_HIP, maj, min);
}

const char *alto_jit_compiler_version(alto_target t) {
  _Static_assert(ALTO_TARGET_COUNT == 2, "add the target's compiler version here");
  ALTO_ASSERT((unsigned)t < ALTO_TARGET_COUNT);
  pthread_once(&alto_jit_versions_once_[t],
               t == ALTO_TARGET_HIP ? alto_jit_version_hip_ : alto_jit_version_cuda_);
  return alto_jit_versions_[t];
}

typedef struct alto_jit_entry_ {
  char key[300];
  alto_backend *b;
  alto_jit_fn fn;
  struct alto_jit_entry_ *next;
} alto_jit_entry_;

static pthread_mutex_t alto_jit_mu_ = PTHREAD_MUTEX_INITIALIZER;
static alto_jit_entry_ *alto_jit_map_[256];
static alto_jit_stats alto_jit_stats_;

static unsigned alto_jit_slot_(const char *key) {
  unsigned h = 2166136261u;
  for (const char *p = key; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return h & 255u;
}

alto_jit_stats alto_jit_get_stats(void) {
  pthread_mutex_lock(&alto_jit_mu_);
  alto_jit_stats s = alto_jit_stats_;
  pthread_mutex_unlock(&alto_jit_mu_);
  return s;
}

/* The cache's compile callback: the backend's runtime compiler (templates on the include path). */
static alto_status alto_jit_compile_(void *ctx, const alto_cache_request *req,
                                     const char *const *options, int n_options,
                                     alto_cache_output *out) {
  alto_backend *b = ctx;
  return b->i->compile(b, req->name, req->source, options, n_options, &out->binary, &out->size,
                       &out->log);
}

static _Thread_local alto_jit_recorder *alto_jit_rec_;

void alto_jit_record(alto_jit_recorder *r) {
  alto_jit_rec_ = r;
}

void alto_jit_recorder_free(alto_jit_recorder *r) {
  for (int i = 0; i < r->n; i++)
    alto_gen_kernel_free(&r->k[i]);
  free(r->k);
  memset(r, 0, sizeof *r);
}

static void alto_jit_record_(alto_jit_recorder *r, const alto_gen_kernel *g) {
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->k[i].key, g->key) == 0)
      return;
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 64;
    r->k = alto_xrealloc(r->k, (size_t)r->cap * sizeof *r->k);
  }
  r->k[r->n] = *g;
  r->k[r->n++].source = alto_xstrdup(g->source);
}

alto_status alto_jit_precompile(alto_backend *b, const alto_gen_kernel *g,
                                alto_cache_origin *origin) {
  alto_jit_request r;
  alto_jit_request_make(g, b->target, b->arch, b->i->compiler_id(b), &r);
  alto_cache_entry entry;
  ALTO_TRY(alto_cache_get(&r.req, alto_jit_compile_, b, &entry));
  if (origin)
    *origin = entry.origin;
  alto_cache_entry_free(&entry);
  return ALTO_OK;
}

/* The in-memory map's entry for (b, key@arch): true and *out set on a hit. */
static bool alto_jit_lookup_(alto_backend *b, const char *kernel_key, alto_jit_fn *out) {
  char key[300];
  snprintf(key, sizeof key, "%s@%s", kernel_key, b->arch);
  unsigned slot = alto_jit_slot_(key);
  bool hit = false;
  pthread_mutex_lock(&alto_jit_mu_);
  for (alto_jit_entry_ *e = alto_jit_map_[slot]; e && !hit; e = e->next)
    if (e->b == b && strcmp(e->key, key) == 0) {
      *out = e->fn;
      alto_jit_stats_.memory_hits++;
      hit = true;
    }
  pthread_mutex_unlock(&alto_jit_mu_);
  return hit;
}

alto_status alto_jit_get_keyed(alto_backend *b, const char *key, alto_jit_gen_fn gen,
                               const void *desc, alto_jit_fn *out) {
  if (!alto_jit_rec_ && alto_jit_lookup_(b, key, out))
    return ALTO_OK;
  alto_gen_kernel g;
  ALTO_TRY(gen(desc, &g));
  ALTO_ASSERT_MSG(strcmp(g.key, key) == 0, "a kernel's key differs from its generator's");
  alto_status st = alto_jit_get(b, &g, out);
  alto_gen_kernel_free(&g);
  return st;
}

alto_status alto_jit_get(alto_backend *b, const alto_gen_kernel *g, alto_jit_fn *out) {
  if (alto_jit_rec_) {
    alto_jit_record_(alto_jit_rec_, g);
    *out = (alto_jit_fn){NULL, g->threads, g->smem_bytes};
    return ALTO_OK;
  }
  if (alto_jit_lookup_(b, g->key, out))
    return ALTO_OK;
  char key[300];
  snprintf(key, sizeof key, "%s@%s", g->key, b->arch);
  unsigned slot = alto_jit_slot_(key);

  alto_jit_request r;
  alto_jit_request_make(g, b->target, b->arch, b->i->compiler_id(b), &r);
  alto_cache_entry entry;
  ALTO_TRY(alto_cache_get(&r.req, alto_jit_compile_, b, &entry));
  void *module = NULL;
  alto_status st = b->i->load(b, entry.binary, entry.binary_size, &module);
  alto_jit_fn fn = {NULL, g->threads, g->smem_bytes};
  if (st == ALTO_OK)
    st = b->i->function(b, module, g->name, g->smem_bytes, &fn.fn);
  if (st == ALTO_OK && entry.spill_stores > 0)
    alto_log_debug("%s: %d registers, %d bytes of spill stores", g->name, entry.registers,
                   entry.spill_stores);
  alto_cache_origin origin = entry.origin;
  double ms = entry.compile_ms;
  alto_cache_entry_free(&entry);
  ALTO_TRY(st);

  alto_jit_entry_ *e = alto_xcalloc(1, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", key);
  e->b = b;
  e->fn = fn;
  pthread_mutex_lock(&alto_jit_mu_);
  e->next = alto_jit_map_[slot];
  alto_jit_map_[slot] = e;
  if (origin == ALTO_CACHE_COMPILED) {
    alto_jit_stats_.compiled++;
    alto_jit_stats_.compile_ms += ms;
  } else {
    alto_jit_stats_.disk_hits++;
  }
  pthread_mutex_unlock(&alto_jit_mu_);
  *out = fn;
  return ALTO_OK;
}
