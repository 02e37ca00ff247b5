#include "runtime/jit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "runtime/cache.h"
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

alto_status alto_jit_get(alto_backend *b, const alto_gen_kernel *g, alto_jit_fn *out) {
  char key[300];
  snprintf(key, sizeof key, "%s@%s", g->key, b->arch);
  unsigned slot = alto_jit_slot_(key);
  pthread_mutex_lock(&alto_jit_mu_);
  for (alto_jit_entry_ *e = alto_jit_map_[slot]; e; e = e->next)
    if (e->b == b && strcmp(e->key, key) == 0) {
      *out = e->fn;
      alto_jit_stats_.memory_hits++;
      pthread_mutex_unlock(&alto_jit_mu_);
      return ALTO_OK;
    }
  pthread_mutex_unlock(&alto_jit_mu_);

  char gen_hash[64];
  snprintf(gen_hash, sizeof gen_hash, "gen%d-templates%016llx", ALTO_GEN_VERSION,
           (unsigned long long)alto_templates_hash());
  int n_opts = 0;
  const char *const *opts = alto_jit_options(b->target, &n_opts);
  char name[200];
  snprintf(name, sizeof name, "%s%s", g->name, alto_target_info_get(b->target)->ext);
  alto_cache_request req = {
      .kind = b->target == ALTO_TARGET_HIP ? ALTO_CACHE_HIP : ALTO_CACHE_CUDA,
      .name = name,
      .generator_hash = gen_hash,
      .source = g->source,
      .compiler = b->target == ALTO_TARGET_HIP ? "hiprtc" : "nvrtc",
      .compiler_version = b->i->compiler_id(b),
      .arch = b->arch,
      .options = opts,
      .n_options = n_opts,
  };
  alto_cache_entry entry;
  ALTO_TRY(alto_cache_get(&req, alto_jit_compile_, b, &entry));
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
