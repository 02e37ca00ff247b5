#include "runtime/jit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

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

/* Formats the source with line numbers, the log and a repro line into the error message. */
static alto_status alto_jit_compile_error_(alto_backend *b, const alto_gen_kernel *g,
                                           const char *log) {
  size_t cap = strlen(g->source) * 2 + strlen(log) + 1024, len = 0;
  char *msg = alto_xmalloc(cap);
  len += (size_t)snprintf(msg + len, cap - len, "failed to compile %s for %s:\n", g->name, b->arch);
  int line = 1;
  for (const char *p = g->source; *p && len + 16 < cap; line++) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    len += (size_t)snprintf(msg + len, cap - len, "%4d | %.*s\n", line, (int)n, p);
    p += n + (e ? 1 : 0);
  }
  const alto_target_info *t = alto_target_info_get(b->target);
  len += (size_t)snprintf(msg + len, cap - len,
                          "compiler log:\n%s\nrepro: alto-compile --emit-src DIR, then %s %s -I "
                          "DIR/templates DIR/%s%s\n",
                          log, t->compiler,
                          b->target == ALTO_TARGET_CUDA ? "-std=c++17 -cubin -arch=" : "--offload-arch=",
                          g->name, t->ext);
  (void)len;
  alto_status st = alto_error(ALTO_ERR_COMPILE, "%s", msg);
  free(msg);
  return st;
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

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  void *image = NULL;
  size_t size = 0;
  char *log = NULL;
  alto_status st = b->i->compile(b, g->name, g->source, &image, &size, &log);
  if (st != ALTO_OK) {
    st = alto_jit_compile_error_(b, g, log ? log : "");
    free(log);
    free(image);
    return st;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  free(log);
  void *module = NULL;
  st = b->i->load(b, image, size, &module);
  free(image);
  ALTO_TRY(st);
  alto_jit_fn fn = {NULL, g->threads, g->smem_bytes};
  ALTO_TRY(b->i->function(b, module, g->name, g->smem_bytes, &fn.fn));

  alto_jit_entry_ *e = alto_xcalloc(1, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", key);
  e->b = b;
  e->fn = fn;
  pthread_mutex_lock(&alto_jit_mu_);
  e->next = alto_jit_map_[slot];
  alto_jit_map_[slot] = e;
  alto_jit_stats_.compiled++;
  alto_jit_stats_.compile_ms +=
      (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  pthread_mutex_unlock(&alto_jit_mu_);
  *out = fn;
  return ALTO_OK;
}
