/* The kernel cache on disk: entry files, meta.json, validation, removal, dumps and failure
 * reports (see runtime/cache.h for the layout). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/env.h"
#include "base/json.h"
#include "base/log.h"
#include "runtime/cache_internal.h"

#define ALTO_CACHE_REPORT_LINES_ 200   /* source lines shown in a failure report */
#define ALTO_CACHE_REPORT_LOG_ 12000   /* log bytes shown in a failure report */
#define ALTO_CACHE_MAX_FILE_ (1 << 30) /* larger files in an entry are treated as corrupt */
#define ALTO_CACHE_STR2_(x) #x
#define ALTO_CACHE_STR_(x) ALTO_CACHE_STR2_(x)

const char *alto_cache_source_file(alto_cache_kind kind) {
  ALTO_ASSERT((unsigned)kind < ALTO_CACHE_KIND_COUNT);
  return kind == ALTO_CACHE_HIP ? "kernel.hip" : "kernel.cu";
}

const char *alto_cache_binary_file(alto_cache_kind kind) {
  ALTO_ASSERT((unsigned)kind < ALTO_CACHE_KIND_COUNT);
  return kind == ALTO_CACHE_HIP ? "kernel.hsaco" : "kernel.cubin";
}

/* ---- files ------------------------------------------------------------------------------------
 */

int alto_cache_mkdirs(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return ENAMETOOLONG;
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return errno;
    *p = c;
    if (!c)
      break;
  }
  struct stat st;
  if (stat(buf, &st) != 0)
    return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

int alto_cache_write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      return e;
    }
    p += w;
    len -= (size_t)w;
  }
  return close(fd) == 0 ? 0 : errno;
}

/* Reads `name` relative to the directory fd (so all files of an entry come from one directory,
 * even if the path is replaced meanwhile); the result is NUL-terminated. 0 or an errno. */
static int alto_cache_read_at_(int dirfd, const char *name, char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > ALTO_CACHE_MAX_FILE_) {
    close(fd);
    return EINVAL;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char *buf = alto_xmalloc(n + 1);
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  buf[got] = '\0';
  *data = buf;
  *len = got;
  return 0;
}

void alto_cache_remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      char child[4096];
      snprintf(child, sizeof child, "%s/%s", path, de->d_name);
      struct stat st;
      if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
        alto_cache_remove_tree(child);
      else
        unlink(child);
    }
    closedir(d);
  }
  rmdir(path);
}

void alto_cache_tmp_name(const char *root, const char *prefix, const char *key, char *path,
                         size_t cap) {
  static atomic_long counter;
  long n = atomic_fetch_add(&counter, 1);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(path, cap, "%s/tmp/%s-%.16s-%ld-%ld-%ld", root, prefix, key, (long)getpid(), n,
           (long)ts.tv_nsec);
}

void alto_cache_tmp_sweep(const char *root) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/tmp", root);
  DIR *d = opendir(dir);
  if (!d)
    return;
  time_t now = time(NULL);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strncmp(de->d_name, "new-", 4) != 0 && strncmp(de->d_name, "trash-", 6) != 0)
      continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && now - st.st_mtime > 3600) {
      alto_log_debug("kernel cache: removing the stale %s", path);
      alto_cache_remove_tree(path);
    }
  }
  closedir(d);
}

int alto_cache_disk_discard(const char *root, const char *dir) {
  char trash[4096];
  const char *base = strrchr(dir, '/');
  alto_cache_tmp_name(root, "trash", base ? base + 1 : dir, trash, sizeof trash);
  if (rename(dir, trash) != 0)
    return errno;
  alto_cache_remove_tree(trash);
  return 0;
}

/* ---- entries ----------------------------------------------------------------------------------
 */

static void alto_cache_write_env_(alto_json_writer *w) {
  alto_json_begin_object(w);
  for (int v = 0; v < ALTO_ENV_COUNT; v++) {
    const alto_env_info *info = alto_env_info_get((alto_env_var)v);
    if (!info->affects_output)
      continue;
    const char *val = alto_env_get((alto_env_var)v);
    alto_json_key(w, info->name);
    if (val)
      alto_json_string(w, val);
    else
      alto_json_null(w);
  }
  alto_json_end_object(w);
}

static void alto_cache_int_or_null_(alto_json_writer *w, const char *key, int v) {
  alto_json_key(w, key);
  if (v >= 0)
    alto_json_int(w, v);
  else
    alto_json_null(w);
}

alto_status alto_cache_disk_write(const char *dir, const alto_cache_request *req,
                                  const char *const *options, int n_options,
                                  const alto_cache_entry *e) {
  char src_sha[ALTO_SHA256_HEX_SIZE];
  size_t src_len = strlen(req->source);
  alto_sha256_hex(req->source, src_len, src_sha);

  alto_json_writer w;
  alto_json_writer_init(&w, 2);
  alto_json_begin_object(&w);
  alto_json_key(&w, "schema");
  alto_json_int(&w, ALTO_CACHE_SCHEMA);
  alto_json_key(&w, "key");
  alto_json_string(&w, e->key);
  alto_json_key(&w, "name");
  alto_json_string(&w, req->name ? req->name : "");
  alto_json_key(&w, "kind");
  alto_json_string(&w, req->kind == ALTO_CACHE_HIP ? "hip" : "cuda");
  alto_json_key(&w, "compiler");
  alto_json_string(&w, req->compiler);
  alto_json_key(&w, "compiler_version");
  alto_json_string(&w, req->compiler_version);
  alto_json_key(&w, "arch");
  alto_json_string(&w, req->arch);
  alto_json_key(&w, "generator_hash");
  alto_json_string(&w, req->generator_hash);
  alto_json_key(&w, "options");
  alto_json_begin_array(&w);
  for (int i = 0; i < n_options; i++)
    alto_json_string(&w, options[i]);
  alto_json_end_array(&w);
  alto_json_key(&w, "env");
  alto_cache_write_env_(&w);
  alto_json_key(&w, "source_file");
  alto_json_string(&w, alto_cache_source_file(req->kind));
  alto_json_key(&w, "source_size");
  alto_json_int(&w, (int64_t)src_len);
  alto_json_key(&w, "source_sha256");
  alto_json_string(&w, src_sha);
  alto_json_key(&w, "binary_file");
  alto_json_string(&w, alto_cache_binary_file(req->kind));
  alto_json_key(&w, "binary_size");
  alto_json_int(&w, (int64_t)e->binary_size);
  alto_json_key(&w, "binary_sha256");
  alto_json_string(&w, e->binary_sha256);
  alto_json_key(&w, "compile_ms");
  alto_json_double(&w, e->compile_ms);
  alto_json_key(&w, "created_unix");
  alto_json_int(&w, (int64_t)time(NULL));
  alto_cache_int_or_null_(&w, "registers", e->registers);
  alto_cache_int_or_null_(&w, "spill_stores", e->spill_stores);
  alto_cache_int_or_null_(&w, "spill_loads", e->spill_loads);
  alto_json_key(&w, "log");
  alto_json_string(&w, e->log ? e->log : "");
  alto_json_end_object(&w);
  size_t meta_len = 0;
  char *meta = alto_json_writer_take(&w, &meta_len);
  alto_json_writer_free(&w);

  struct {
    const char *name;
    const void *data;
    size_t len;
  } files[3] = {{alto_cache_source_file(req->kind), req->source, src_len},
                {alto_cache_binary_file(req->kind), e->binary, e->binary_size},
                {"meta.json", meta, meta_len}}; /* meta last: its presence marks completeness */
  alto_status st = ALTO_OK;
  for (int i = 0; i < 3 && st == ALTO_OK; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
    int err = alto_cache_write_file(path, files[i].data, files[i].len);
    if (err)
      st = alto_error(ALTO_ERR_IO,
                      "cannot write the kernel cache file %s: %s; free disk space or set "
                      "ALTO_CACHE_DIR to a writable directory",
                      path, strerror(err));
  }
  free(meta);
  return st;
}

/* The integer member `key` (>= 0), or -1 when null/absent. */
static int alto_cache_meta_int_(const alto_json *m, const char *key) {
  const alto_json *v = alto_json_get_type(m, key, ALTO_JSON_NUMBER);
  return v && v->is_int && v->i64 >= 0 && v->i64 <= INT32_MAX ? (int)v->i64 : -1;
}

/* Validates a parsed meta.json and the files it describes; NULL when valid, else the reason. */
static const char *alto_cache_check_(int dirfd, const alto_json *m, const char *key,
                                     const alto_cache_request *req, char **binary,
                                     size_t *binary_size, char *buf, size_t cap) {
  const alto_json *schema = alto_json_get_type(m, "schema", ALTO_JSON_NUMBER);
  if (!schema || !schema->is_int || schema->i64 != ALTO_CACHE_SCHEMA)
    return "meta.json: schema missing or not " ALTO_CACHE_STR_(ALTO_CACHE_SCHEMA);
  const char *mkey = alto_json_get_string(m, "key");
  if (!mkey || strcmp(mkey, key) != 0)
    return "meta.json: key does not match the directory";
  const char *bsha = alto_json_get_string(m, "binary_sha256");
  const char *ssha = alto_json_get_string(m, "source_sha256");
  const alto_json *bsize = alto_json_get_type(m, "binary_size", ALTO_JSON_NUMBER);
  if (!bsha || !ssha || !bsize || !bsize->is_int)
    return "meta.json: binary_size, binary_sha256 or source_sha256 missing";
  const alto_json *log = alto_json_get_type(m, "log", ALTO_JSON_STRING);
  if (!log)
    return "meta.json: log missing";

  char *src = NULL;
  size_t src_len = 0;
  int err = alto_cache_read_at_(dirfd, alto_cache_source_file(req->kind), &src, &src_len);
  if (err) {
    snprintf(buf, cap, "%s unreadable: %s", alto_cache_source_file(req->kind), strerror(err));
    return buf;
  }
  char sha[ALTO_SHA256_HEX_SIZE];
  alto_sha256_hex(src, src_len, sha);
  bool src_ok = strcmp(sha, ssha) == 0 && strcmp(src, req->source) == 0;
  free(src);
  if (!src_ok)
    return "the source does not match its sha256 or the request";

  err = alto_cache_read_at_(dirfd, alto_cache_binary_file(req->kind), binary, binary_size);
  if (err) {
    snprintf(buf, cap, "%s unreadable: %s", alto_cache_binary_file(req->kind), strerror(err));
    return buf;
  }
  if ((int64_t)*binary_size != bsize->i64 || *binary_size == 0) {
    snprintf(buf, cap, "%s has %zu bytes, meta.json says %lld", alto_cache_binary_file(req->kind),
             *binary_size, (long long)bsize->i64);
    return buf;
  }
  alto_sha256_hex(*binary, *binary_size, sha);
  if (strcmp(sha, bsha) != 0) {
    snprintf(buf, cap, "%s sha256 %.16s... != %.16s... in meta.json",
             alto_cache_binary_file(req->kind), sha, bsha);
    return buf;
  }
  return NULL;
}

alto_cache_disk_result alto_cache_disk_load(const char *dir, const char *key,
                                            const alto_cache_request *req, alto_cache_entry *out,
                                            char *why, size_t why_cap) {
  memset(out, 0, sizeof *out);
  why[0] = '\0';
  int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    if (errno == ENOENT)
      return ALTO_CACHE_DISK_ABSENT;
    snprintf(why, why_cap, "cannot open the entry directory: %s", strerror(errno));
    return ALTO_CACHE_DISK_INVALID;
  }
  char *meta_text = NULL;
  size_t meta_len = 0;
  alto_json *meta = NULL;
  char *binary = NULL;
  size_t binary_size = 0;
  const char *bad = NULL;
  char buf[512];
  int err = alto_cache_read_at_(dirfd, "meta.json", &meta_text, &meta_len);
  if (err) {
    snprintf(buf, sizeof buf, "meta.json unreadable: %s", strerror(err));
    bad = buf;
  } else if (alto_json_parse(meta_text, meta_len, "meta.json", NULL, &meta) != ALTO_OK) {
    snprintf(buf, sizeof buf, "meta.json does not parse: %s", alto_last_error());
    bad = buf;
  } else if (meta->type != ALTO_JSON_OBJECT) {
    bad = "meta.json is not an object";
  } else {
    bad = alto_cache_check_(dirfd, meta, key, req, &binary, &binary_size, buf, sizeof buf);
  }
  close(dirfd);
  if (bad) {
    snprintf(why, why_cap, "%s", bad);
    free(binary);
  } else {
    snprintf(out->key, sizeof out->key, "%s", key);
    out->origin = ALTO_CACHE_HIT_DISK;
    out->binary = binary;
    out->binary_size = binary_size;
    snprintf(out->binary_sha256, sizeof out->binary_sha256, "%s",
             alto_json_get_string(meta, "binary_sha256"));
    out->log = alto_xstrdup(alto_json_get_string(meta, "log"));
    const alto_json *ms = alto_json_get_type(meta, "compile_ms", ALTO_JSON_NUMBER);
    out->compile_ms = ms ? ms->num : 0.0;
    out->registers = alto_cache_meta_int_(meta, "registers");
    out->spill_stores = alto_cache_meta_int_(meta, "spill_stores");
    out->spill_loads = alto_cache_meta_int_(meta, "spill_loads");
    out->dir = alto_xstrdup(dir);
  }
  alto_json_free(meta);
  free(meta_text);
  return bad ? ALTO_CACHE_DISK_INVALID : ALTO_CACHE_DISK_OK;
}

/* ---- dumps and failure reports ----------------------------------------------------------------
 */

/* "<dir>/<name>-<key16>" with the name made file-safe. */
static void alto_cache_stem_(const char *dir, const alto_cache_request *req, const char *key,
                             char *stem, size_t cap) {
  char name[96];
  const char *n = req->name && *req->name ? req->name : "kernel";
  size_t i = 0;
  for (; n[i] && i < sizeof name - 1; i++) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    name[i] = ok ? c : '_';
  }
  name[i] = '\0';
  snprintf(stem, cap, "%s/%s-%.16s", dir, name, key);
}

static const char *alto_cache_ext_(const char *file) {
  return strrchr(file, '.');
}

void alto_cache_dump(const char *dump_dir, const alto_cache_request *req, const char *key,
                     const void *binary, size_t size, const char *log) {
  int err = alto_cache_mkdirs(dump_dir);
  if (err) {
    alto_log_warn("ALTO_JIT_DUMP: cannot create %s: %s; nothing dumped", dump_dir, strerror(err));
    return;
  }
  char stem[4096], path[4200];
  alto_cache_stem_(dump_dir, req, key, stem, sizeof stem);
  snprintf(path, sizeof path, "%s%s", stem, alto_cache_ext_(alto_cache_source_file(req->kind)));
  err = alto_cache_write_file(path, req->source, strlen(req->source));
  if (!err) {
    snprintf(path, sizeof path, "%s.log", stem);
    err = alto_cache_write_file(path, log ? log : "", log ? strlen(log) : 0);
  }
  if (!err && binary) {
    snprintf(path, sizeof path, "%s%s", stem, alto_cache_ext_(alto_cache_binary_file(req->kind)));
    err = alto_cache_write_file(path, binary, size);
  }
  if (err)
    alto_log_warn("ALTO_JIT_DUMP: cannot write %s: %s", path, strerror(err));
}

typedef struct {
  char *buf;
  size_t len, cap;
} alto_cache_sb_;

static void alto_cache_sb_put_(alto_cache_sb_ *sb, const char *s, size_t n) {
  if (sb->len + n + 1 > sb->cap) {
    sb->cap = (sb->len + n + 1) * 2;
    sb->buf = alto_xrealloc(sb->buf, sb->cap);
  }
  memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = '\0';
}

static void alto_cache_sb_str_(alto_cache_sb_ *sb, const char *s) {
  alto_cache_sb_put_(sb, s, strlen(s));
}

/* A shell word: as is when plain, else single-quoted. */
static void alto_cache_sb_word_(alto_cache_sb_ *sb, const char *w) {
  if (*w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+") ==
                strlen(w)) {
    alto_cache_sb_str_(sb, w);
    return;
  }
  alto_cache_sb_str_(sb, "'");
  for (const char *p = w; *p; p++)
    if (*p == '\'')
      alto_cache_sb_str_(sb, "'\\''");
    else
      alto_cache_sb_put_(sb, p, 1);
  alto_cache_sb_str_(sb, "'");
}

static bool alto_cache_is_arch_option_(const char *o) {
  return strncmp(o, "--gpu-architecture", 18) == 0 || strncmp(o, "-arch", 5) == 0 ||
         strncmp(o, "--offload-arch", 14) == 0;
}

char *alto_cache_failure_report(const char *root, const alto_cache_request *req, const char *key,
                                const char *const *options, int n_options, const char *log,
                                const char *why) {
  /* Keep the source and log where the repro command can find them. */
  char src_path[4200] = "";
  if (root) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/failed", root);
    if (alto_cache_mkdirs(dir) == 0) {
      char stem[4096], path[4200];
      alto_cache_stem_(dir, req, key, stem, sizeof stem);
      snprintf(path, sizeof path, "%s%s", stem, alto_cache_ext_(alto_cache_source_file(req->kind)));
      if (alto_cache_write_file(path, req->source, strlen(req->source)) == 0)
        snprintf(src_path, sizeof src_path, "%s", path);
      snprintf(path, sizeof path, "%s.log", stem);
      (void)alto_cache_write_file(path, log ? log : "", log ? strlen(log) : 0);
    }
  }
  if (!src_path[0])
    snprintf(src_path, sizeof src_path, "%s", alto_cache_source_file(req->kind));

  alto_cache_sb_ sb = {0};
  char line[1024];
  snprintf(line, sizeof line, "%s (key %.16s): %s %s failed to compile it for %s: %s\n",
           req->name ? req->name : "kernel", key, req->compiler, req->compiler_version, req->arch,
           why && *why ? why : "compile error");
  alto_cache_sb_str_(&sb, line);
  alto_cache_sb_str_(&sb, "--- compile log ---\n");
  size_t log_len = log ? strlen(log) : 0;
  if (log_len == 0)
    alto_cache_sb_str_(&sb, "(empty)\n");
  else {
    alto_cache_sb_put_(&sb, log,
                       log_len > ALTO_CACHE_REPORT_LOG_ ? ALTO_CACHE_REPORT_LOG_ : log_len);
    if (log_len > ALTO_CACHE_REPORT_LOG_)
      alto_cache_sb_str_(&sb, "\n... (log truncated; the whole log is next to the source)");
    if (log[log_len - 1] != '\n')
      alto_cache_sb_str_(&sb, "\n");
  }
  alto_cache_sb_str_(&sb, "--- repro ---\n");
  if (req->kind == ALTO_CACHE_HIP) {
    alto_cache_sb_str_(&sb, "hipcc --genco --no-gpu-bundle-output --offload-arch=");
    alto_cache_sb_word_(&sb, req->arch);
    alto_cache_sb_str_(&sb, " -D__HIP_PLATFORM_AMD__");
  } else {
    alto_cache_sb_str_(&sb, "nvcc -arch=");
    alto_cache_sb_word_(&sb, req->arch);
    alto_cache_sb_str_(&sb, " -cubin");
  }
  for (int i = 0; i < n_options; i++) {
    if (alto_cache_is_arch_option_(options[i]))
      continue;
    alto_cache_sb_str_(&sb, " ");
    alto_cache_sb_word_(&sb, options[i]);
  }
  alto_cache_sb_str_(&sb, " ");
  alto_cache_sb_word_(&sb, src_path);
  alto_cache_sb_str_(&sb,
                     req->kind == ALTO_CACHE_HIP ? " -o kernel.hsaco\n" : " -o kernel.cubin\n");

  int total = 0;
  for (const char *p = req->source; *p; p++)
    total += *p == '\n';
  if (*req->source && req->source[strlen(req->source) - 1] != '\n')
    total++;
  alto_cache_sb_str_(&sb, "--- source ");
  alto_cache_sb_str_(&sb, src_path);
  snprintf(line, sizeof line, " (%s%d lines) ---\n",
           total > ALTO_CACHE_REPORT_LINES_ ? "first 200 of " : "", total);
  alto_cache_sb_str_(&sb, line);
  const char *p = req->source;
  for (int n = 1; *p && n <= ALTO_CACHE_REPORT_LINES_; n++) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    snprintf(line, sizeof line, "%4d | ", n);
    alto_cache_sb_str_(&sb, line);
    alto_cache_sb_put_(&sb, p, len);
    alto_cache_sb_str_(&sb, "\n");
    p = eol ? eol + 1 : p + len;
  }
  return sb.buf;
}
