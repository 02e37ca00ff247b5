/* The kernel cache: key, in-memory map, lookup, compile and publish (runtime/cache.h). The disk
 * format lives in runtime/cache_disk.c. */
#include "runtime/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/env.h"
#include "base/log.h"
#include "runtime/cache_internal.h"

/* ---- stats ------------------------------------------------------------------------------------
 */

static struct {
  atomic_long memory_hits, disk_hits, compiles, compile_failures, invalid_removed, lost_races;
} alto_cache_stats_;

void alto_cache_stats_get(alto_cache_stats *s) {
  s->memory_hits = atomic_load(&alto_cache_stats_.memory_hits);
  s->disk_hits = atomic_load(&alto_cache_stats_.disk_hits);
  s->compiles = atomic_load(&alto_cache_stats_.compiles);
  s->compile_failures = atomic_load(&alto_cache_stats_.compile_failures);
  s->invalid_removed = atomic_load(&alto_cache_stats_.invalid_removed);
  s->lost_races = atomic_load(&alto_cache_stats_.lost_races);
}

/* ---- entries ----------------------------------------------------------------------------------
 */

void alto_cache_entry_free(alto_cache_entry *e) {
  free(e->binary);
  free(e->log);
  free(e->dir);
  memset(e, 0, sizeof *e);
}

static void alto_cache_entry_copy_(alto_cache_entry *dst, const alto_cache_entry *src) {
  *dst = *src;
  dst->binary = alto_xmalloc(src->binary_size);
  memcpy(dst->binary, src->binary, src->binary_size);
  dst->log = alto_xstrdup(src->log ? src->log : "");
  dst->dir = src->dir ? alto_xstrdup(src->dir) : NULL;
}

/* ---- the in-memory map: key -> entry, chained buckets under one mutex -------------------------
 */

#define ALTO_CACHE_BUCKETS_ 1024

typedef struct alto_cache_node_ {
  alto_cache_entry e;
  struct alto_cache_node_ *next;
} alto_cache_node_;

static struct {
  pthread_mutex_t mu;
  alto_cache_node_ *buckets[ALTO_CACHE_BUCKETS_];
} alto_cache_map_ = {.mu = PTHREAD_MUTEX_INITIALIZER};

static unsigned alto_cache_bucket_(const char *key) {
  /* The key is uniformly distributed hex: its first 3 digits are a fine index. */
  unsigned h = 0;
  for (int i = 0; i < 3; i++)
    h = h * 16 + (unsigned)(key[i] <= '9' ? key[i] - '0' : key[i] - 'a' + 10);
  return h % ALTO_CACHE_BUCKETS_;
}

/* Copies the entry of `key` into *out when present. */
static bool alto_cache_memory_find_(const char *key, alto_cache_entry *out) {
  bool found = false;
  pthread_mutex_lock(&alto_cache_map_.mu);
  for (alto_cache_node_ *n = alto_cache_map_.buckets[alto_cache_bucket_(key)]; n; n = n->next)
    if (strcmp(n->e.key, key) == 0) {
      alto_cache_entry_copy_(out, &n->e);
      found = true;
      break;
    }
  pthread_mutex_unlock(&alto_cache_map_.mu);
  return found;
}

/* Stores a copy of `e`, replacing an entry of the same key. */
static void alto_cache_memory_put_(const alto_cache_entry *e) {
  alto_cache_node_ *node = alto_xcalloc(1, sizeof *node);
  alto_cache_entry_copy_(&node->e, e);
  pthread_mutex_lock(&alto_cache_map_.mu);
  alto_cache_node_ **pp = &alto_cache_map_.buckets[alto_cache_bucket_(e->key)];
  for (; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->e.key, e->key) == 0)
      break;
  alto_cache_node_ *old = *pp;
  node->next = old ? old->next : NULL;
  *pp = node;
  pthread_mutex_unlock(&alto_cache_map_.mu);
  if (old) {
    alto_cache_entry_free(&old->e);
    free(old);
  }
}

void alto_cache_memory_clear(void) {
  pthread_mutex_lock(&alto_cache_map_.mu);
  for (int b = 0; b < ALTO_CACHE_BUCKETS_; b++) {
    alto_cache_node_ *n = alto_cache_map_.buckets[b];
    alto_cache_map_.buckets[b] = NULL;
    while (n) {
      alto_cache_node_ *next = n->next;
      alto_cache_entry_free(&n->e);
      free(n);
      n = next;
    }
  }
  pthread_mutex_unlock(&alto_cache_map_.mu);
}

/* ---- options and key --------------------------------------------------------------------------
 */

/* The request's options followed by the words of ALTO_JIT_EXTRA_OPTIONS. */
typedef struct {
  char *extra; /* a writable copy of the env value, split in place */
  const char **v;
  int n;
} alto_cache_opts_;

static void alto_cache_opts_init_(alto_cache_opts_ *o, const alto_cache_request *req) {
  const char *env = alto_env_get(ALTO_ENV_JIT_EXTRA_OPTIONS);
  o->extra = alto_xstrdup(env ? env : "");
  size_t max = (size_t)req->n_options + strlen(o->extra) / 2 + 1;
  o->v = alto_xcalloc(max, sizeof(char *));
  o->n = 0;
  for (int i = 0; i < req->n_options; i++)
    o->v[o->n++] = req->options[i];
  for (char *save = NULL, *w = strtok_r(o->extra, " \t\n", &save); w;
       w = strtok_r(NULL, " \t\n", &save))
    o->v[o->n++] = w;
  ALTO_ASSERT((size_t)o->n <= max);
}

static void alto_cache_opts_free_(alto_cache_opts_ *o) {
  free(o->extra);
  free(o->v);
}

/* One field of the key: "<tag>\0<length as 20 digits>\0<bytes>", so no two requests collide. */
static void alto_cache_field_(alto_sha256 *s, const char *tag, const char *data) {
  char len[24];
  size_t n = data ? strlen(data) : 0;
  snprintf(len, sizeof len, "%020zu", data ? n : (size_t)UINT64_MAX);
  alto_sha256_update(s, tag, strlen(tag) + 1);
  alto_sha256_update(s, len, strlen(len) + 1);
  if (data)
    alto_sha256_update(s, data, n);
}

static void alto_cache_key_opts_(const alto_cache_request *req, const alto_cache_opts_ *o,
                                 char key[ALTO_SHA256_HEX_SIZE]) {
  alto_sha256 s;
  alto_sha256_init(&s);
  char schema[16];
  snprintf(schema, sizeof schema, "%d", ALTO_CACHE_SCHEMA);
  alto_cache_field_(&s, "schema", schema);
  alto_cache_field_(&s, "kind", req->kind == ALTO_CACHE_HIP ? "hip" : "cuda");
  alto_cache_field_(&s, "generator", req->generator_hash);
  alto_cache_field_(&s, "source", req->source);
  alto_cache_field_(&s, "compiler", req->compiler);
  alto_cache_field_(&s, "compiler_version", req->compiler_version);
  alto_cache_field_(&s, "arch", req->arch);
  for (int i = 0; i < o->n; i++)
    alto_cache_field_(&s, "option", o->v[i]);
  for (int v = 0; v < ALTO_ENV_COUNT; v++) {
    const alto_env_info *info = alto_env_info_get((alto_env_var)v);
    if (!info->affects_output)
      continue;
    alto_cache_field_(&s, "env", info->name);
    alto_cache_field_(&s, "value", alto_env_get((alto_env_var)v)); /* NULL (unset) is distinct */
  }
  uint8_t d[ALTO_SHA256_DIGEST_SIZE];
  alto_sha256_final(&s, d);
  alto_sha256_to_hex(d, key);
}

void alto_cache_key(const alto_cache_request *req, char key[ALTO_SHA256_HEX_SIZE]) {
  alto_cache_opts_ o;
  alto_cache_opts_init_(&o, req);
  alto_cache_key_opts_(req, &o, key);
  alto_cache_opts_free_(&o);
}

/* ---- the root ---------------------------------------------------------------------------------
 */

alto_status alto_cache_root(char *root, size_t cap) {
  const char *dir = alto_env_get(ALTO_ENV_CACHE_DIR);
  const char *from = "ALTO_CACHE_DIR";
  int n;
  if (dir) {
    n = snprintf(root, cap, "%s", dir);
  } else if ((dir = alto_env_get(ALTO_ENV_XDG_CACHE_HOME)) != NULL) {
    from = "XDG_CACHE_HOME";
    n = snprintf(root, cap, "%s/alto", dir);
  } else if ((dir = alto_env_get(ALTO_ENV_HOME)) != NULL) {
    from = "HOME";
    n = snprintf(root, cap, "%s/.cache/alto", dir);
  } else {
    return alto_error(ALTO_ERR_IO,
                      "no kernel cache directory: ALTO_CACHE_DIR, XDG_CACHE_HOME and "
                      "HOME are all unset; set ALTO_CACHE_DIR to a writable directory");
  }
  if (n < 0 || (size_t)n >= cap || (size_t)n > 3000)
    return alto_error(ALTO_ERR_IO,
                      "kernel cache directory path from %s is too long; set "
                      "ALTO_CACHE_DIR to a shorter path",
                      from);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s/tmp", root);
  int err = alto_cache_mkdirs(tmp);
  if (!err && access(root, W_OK) != 0)
    err = errno;
  if (err)
    return alto_error(ALTO_ERR_IO,
                      "the kernel cache directory %s (from %s) cannot be created or written: %s; "
                      "set ALTO_CACHE_DIR to a writable directory",
                      root, from, strerror(err));
  return ALTO_OK;
}

/* ---- compile and publish ----------------------------------------------------------------------
 */

static double alto_cache_now_ms_(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static alto_status alto_cache_compile_(const alto_cache_request *req, const alto_cache_opts_ *o,
                                       const char *key, const char *root,
                                       alto_cache_compile_fn compile, void *ctx,
                                       alto_cache_entry *e) {
  alto_cache_output co = {0};
  alto_error_clear();
  double t0 = alto_cache_now_ms_();
  alto_status st = compile(ctx, req, o->v, o->n, &co);
  double ms = alto_cache_now_ms_() - t0;
  const char *dump = alto_env_get(ALTO_ENV_JIT_DUMP);
  if (st == ALTO_OK && (!co.binary || co.size == 0))
    st = alto_error(ALTO_ERR_COMPILE, "the compile function returned an empty binary");
  if (st != ALTO_OK && st != ALTO_ERR_COMPILE) {
    /* Not a compile error (no compiler library, an arch it cannot target): no report, the
     * compiler's own status and message. */
    atomic_fetch_add(&alto_cache_stats_.compile_failures, 1);
    free(co.binary);
    free(co.log);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", alto_last_error());
    return alto_error(st, "%s: %s %s cannot compile for %s: %s", req->name ? req->name : "kernel",
                      req->compiler, req->compiler_version, req->arch, msg);
  }
  if (st != ALTO_OK) {
    atomic_fetch_add(&alto_cache_stats_.compile_failures, 1);
    char why[1024];
    snprintf(why, sizeof why, "%s", alto_last_error());
    if (dump)
      alto_cache_dump(dump, req, key, NULL, 0, co.log);
    char *report = alto_cache_failure_report(root, req, key, o->v, o->n, co.log, why);
    free(co.binary);
    free(co.log);
    st = alto_error(ALTO_ERR_COMPILE, "%s", report);
    free(report);
    return st;
  }
  atomic_fetch_add(&alto_cache_stats_.compiles, 1);
  memset(e, 0, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", key);
  e->origin = ALTO_CACHE_COMPILED;
  e->binary = co.binary;
  e->binary_size = co.size;
  alto_sha256_hex(co.binary, co.size, e->binary_sha256);
  e->log = co.log ? co.log : alto_xstrdup("");
  e->compile_ms = ms;
  alto_cache_parse_ptxas(e->log, &e->registers, &e->spill_stores, &e->spill_loads);
  if (dump)
    alto_cache_dump(dump, req, key, e->binary, e->binary_size, e->log);
  return ALTO_OK;
}

/* Publishes the compiled entry `e` at `final`: write to <root>/tmp/, then rename(2). When another
 * process published first, theirs replaces `e` (so every process uses the same binary). */
static alto_status alto_cache_publish_(const char *root, const char *final,
                                       const alto_cache_request *req, const alto_cache_opts_ *o,
                                       bool replace, alto_cache_entry *e) {
  char tmp[4096], parent[4200];
  alto_cache_tmp_sweep(root);
  alto_cache_tmp_name(root, "new", e->key, tmp, sizeof tmp);
  snprintf(parent, sizeof parent, "%s", final);
  *strrchr(parent, '/') = '\0';
  const char *what = parent;
  int err = alto_cache_mkdirs(parent);
  if (!err) {
    what = tmp;
    if (mkdir(tmp, 0755) != 0)
      err = errno;
  }
  if (err)
    return alto_error(ALTO_ERR_IO,
                      "cannot create %s in the kernel cache: %s; set ALTO_CACHE_DIR to a writable "
                      "directory",
                      what, strerror(err));
  alto_status st = alto_cache_disk_write(tmp, req, o->v, o->n, e);
  if (st != ALTO_OK) {
    alto_cache_remove_tree(tmp);
    return st;
  }
  if (replace && alto_cache_disk_discard(root, final) == 0)
    alto_log_debug("kernel cache: replaced %s (ALTO_JIT_ALWAYS_COMPILE)", final);
  for (int attempt = 0;; attempt++) {
    if (rename(tmp, final) == 0) {
      e->dir = alto_xstrdup(final);
      return ALTO_OK;
    }
    err = errno;
    if ((err != EEXIST && err != ENOTEMPTY) || attempt == 2) {
      alto_cache_remove_tree(tmp);
      return alto_error(ALTO_ERR_IO, "cannot publish the kernel cache entry %s: %s", final,
                        strerror(err));
    }
    /* Another process won the race: use theirs, unless it is invalid (then replace it). */
    alto_cache_entry theirs;
    char why[512];
    alto_cache_disk_result r = alto_cache_disk_load(final, e->key, req, &theirs, why, sizeof why);
    if (r == ALTO_CACHE_DISK_OK) {
      atomic_fetch_add(&alto_cache_stats_.lost_races, 1);
      alto_cache_remove_tree(tmp);
      theirs.origin = ALTO_CACHE_COMPILED;
      theirs.compile_ms = e->compile_ms;
      alto_cache_entry_free(e);
      *e = theirs;
      return ALTO_OK;
    }
    if (r == ALTO_CACHE_DISK_INVALID) {
      alto_log_warn("kernel cache: invalid entry %s (%s); removing it", final, why);
      if (alto_cache_disk_discard(root, final) == 0)
        atomic_fetch_add(&alto_cache_stats_.invalid_removed, 1);
    }
  }
}

static alto_status alto_cache_check_request_(const alto_cache_request *req) {
  if (!req || !req->source || !req->compiler || !req->compiler_version || !req->arch ||
      !req->generator_hash || (req->n_options > 0 && !req->options) || req->n_options < 0 ||
      (unsigned)req->kind >= ALTO_CACHE_KIND_COUNT)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "alto_cache_get: the request needs kind, source, compiler, "
                      "compiler_version, arch, generator_hash and its options");
  return ALTO_OK;
}

alto_status alto_cache_get(const alto_cache_request *req, alto_cache_compile_fn compile, void *ctx,
                           alto_cache_entry *out) {
  memset(out, 0, sizeof *out);
  ALTO_TRY(alto_cache_check_request_(req));
  alto_cache_opts_ o;
  alto_cache_opts_init_(&o, req);
  char key[ALTO_SHA256_HEX_SIZE];
  alto_cache_key_opts_(req, &o, key);
  bool always = alto_env_get_bool(ALTO_ENV_JIT_ALWAYS_COMPILE);

  if (!always && alto_cache_memory_find_(key, out)) {
    out->origin = ALTO_CACHE_HIT_MEMORY;
    atomic_fetch_add(&alto_cache_stats_.memory_hits, 1);
    alto_cache_opts_free_(&o);
    return ALTO_OK;
  }
  char root[4096], final[4200];
  alto_status st = alto_cache_root(root, sizeof root);
  if (st != ALTO_OK) {
    alto_cache_opts_free_(&o);
    return st;
  }
  snprintf(final, sizeof final, "%s/%.2s/%s", root, key, key);

  if (!always) {
    char why[512];
    alto_cache_disk_result r = alto_cache_disk_load(final, key, req, out, why, sizeof why);
    if (r == ALTO_CACHE_DISK_OK) {
      atomic_fetch_add(&alto_cache_stats_.disk_hits, 1);
      alto_cache_memory_put_(out);
      alto_cache_opts_free_(&o);
      return ALTO_OK;
    }
    if (r == ALTO_CACHE_DISK_INVALID) {
      alto_log_warn("kernel cache: invalid entry %s (%s); removing it and compiling again", final,
                    why);
      if (alto_cache_disk_discard(root, final) == 0)
        atomic_fetch_add(&alto_cache_stats_.invalid_removed, 1);
    }
  }

  st = alto_cache_compile_(req, &o, key, root, compile, ctx, out);
  if (st == ALTO_OK) {
    st = alto_cache_publish_(root, final, req, &o, always, out);
    if (st == ALTO_OK)
      alto_cache_memory_put_(out);
    else
      alto_cache_entry_free(out);
  }
  alto_cache_opts_free_(&o);
  return st;
}
