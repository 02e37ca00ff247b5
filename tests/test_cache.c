/* runtime/cache: hits (memory, disk), the key, concurrent processes, corrupt entries, the JIT
 * knobs, compile failures and an unwritable directory. A fake compile function stands in for the
 * compiler; NVRTC and hiprtc are used too when they load. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/env.h"
#include "base/json.h"
#include "runtime/cache.h"
#include "runtime/hiprtc.h"
#include "runtime/nvrtc.h"
#include "tests/harness.h"

/* ---- a fake compiler: deterministic bytes from source and options, a ptxas-like log ---------- */

typedef struct {
  atomic_int calls;
  int sleep_us;
  bool fail;
} fake_ctx;

#define FAKE_SIZE 4096

static void fake_bytes(const alto_cache_request *req, const char *const *opts, int n_opts,
                       unsigned char *buf) {
  alto_sha256 s;
  alto_sha256_init(&s);
  alto_sha256_update(&s, req->source, strlen(req->source));
  alto_sha256_update(&s, req->arch, strlen(req->arch));
  for (int i = 0; i < n_opts; i++)
    alto_sha256_update(&s, opts[i], strlen(opts[i]) + 1);
  uint8_t d[ALTO_SHA256_DIGEST_SIZE];
  alto_sha256_final(&s, d);
  memcpy(buf, "FAKEBIN", 8);
  for (int i = 8; i < FAKE_SIZE; i++)
    buf[i] = (unsigned char)(d[i % 32] ^ (unsigned char)(i * 7));
}

static alto_status fake_compile(void *ctx, const alto_cache_request *req,
                                const char *const *options, int n_options, alto_cache_output *out) {
  fake_ctx *f = ctx;
  atomic_fetch_add(&f->calls, 1);
  if (f->sleep_us)
    usleep((useconds_t)f->sleep_us);
  if (f->fail) {
    out->log = alto_xstrdup("kernel.cu(3): error: identifier \"oops\" is undefined\n"
                            "1 error detected in the compilation of \"kernel.cu\".\n");
    return alto_error(ALTO_ERR_COMPILE, "fake compile failed");
  }
  out->binary = alto_xmalloc(FAKE_SIZE);
  out->size = FAKE_SIZE;
  fake_bytes(req, options, n_options, out->binary);
  out->log =
      alto_xstrdup("ptxas info    : Compiling entry function 'k' for 'sm_90a'\n"
                   "ptxas info    : Function properties for k\n"
                   "    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
                   "ptxas info    : Used 42 registers, used 0 barriers, 380 bytes cmem[0]\n");
  return ALTO_OK;
}

static const char *base_opts[] = {"-std=c++17", "-default-device"};

static alto_cache_request make_req(const char *source) {
  alto_cache_request r = {.kind = ALTO_CACHE_CUDA,
                          .name = "test_kernel",
                          .generator_hash = "gen-1",
                          .source = source,
                          .compiler = "fake",
                          .compiler_version = "1.0",
                          .arch = "sm_90a",
                          .options = base_opts,
                          .n_options = 2};
  return r;
}

static const char *src_a = "extern \"C\" __global__ void k(float *y) {\n  y[0] = 1.0f;\n}\n";

static bool file_exists(const char *dir, const char *name) {
  char p[4400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat st;
  return stat(p, &st) == 0;
}

/* Number of entries in a directory other than . and .. (-1 when it cannot be opened). */
static int dir_count(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
  closedir(d);
  return n;
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  fclose(f);
  buf[got] = '\0';
  if (len)
    *len = got;
  return buf;
}

static void use_cache_dir(const char *name) {
  setenv("ALTO_CACHE_DIR", alto_test_tmpdir(name), 1);
  alto_cache_memory_clear();
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_hits(void) {
  use_cache_dir("cache_hits");
  fake_ctx f = {0};
  alto_cache_request req = make_req(src_a);
  alto_cache_entry e;
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_OK);
  CHECK(e.origin == ALTO_CACHE_COMPILED && f.calls == 1);
  CHECK(e.binary_size == FAKE_SIZE && memcmp(e.binary, "FAKEBIN", 8) == 0);
  CHECK(e.registers == 42 && e.spill_stores == 8 && e.spill_loads == 4);
  CHECK(strlen(e.key) == 64 && e.dir && strstr(e.dir, e.key) != NULL);
  CHECK(e.dir && file_exists(e.dir, "kernel.cu") && file_exists(e.dir, "kernel.cubin") &&
        file_exists(e.dir, "meta.json"));
  /* meta.json holds what the brief promises. */
  char path[4400];
  snprintf(path, sizeof path, "%s/meta.json", e.dir ? e.dir : "");
  size_t len = 0;
  char *text = read_all(path, &len);
  alto_json *meta = NULL;
  CHECK(text && alto_json_parse(text, len, "meta.json", NULL, &meta) == ALTO_OK);
  if (meta) {
    const alto_json *schema = alto_json_get_type(meta, "schema", ALTO_JSON_NUMBER);
    CHECK(schema && schema->i64 == ALTO_CACHE_SCHEMA);
    CHECK(strcmp(alto_json_get_string(meta, "key"), e.key) == 0);
    CHECK(strcmp(alto_json_get_string(meta, "compiler"), "fake") == 0);
    CHECK(strcmp(alto_json_get_string(meta, "compiler_version"), "1.0") == 0);
    CHECK(strcmp(alto_json_get_string(meta, "arch"), "sm_90a") == 0);
    CHECK(strcmp(alto_json_get_string(meta, "binary_sha256"), e.binary_sha256) == 0);
    const alto_json *opts = alto_json_get_type(meta, "options", ALTO_JSON_ARRAY);
    CHECK(opts && opts->count == 2);
    const alto_json *regs = alto_json_get_type(meta, "registers", ALTO_JSON_NUMBER);
    CHECK(regs && regs->i64 == 42);
    CHECK(strstr(alto_json_get_string(meta, "log"), "Used 42 registers") != NULL);
    alto_json_free(meta);
  }
  free(text);

  alto_cache_entry m;
  CHECK(alto_cache_get(&req, fake_compile, &f, &m) == ALTO_OK);
  CHECK(m.origin == ALTO_CACHE_HIT_MEMORY && f.calls == 1);
  CHECK(m.binary_size == e.binary_size && memcmp(m.binary, e.binary, e.binary_size) == 0);
  alto_cache_memory_clear();
  alto_cache_entry d;
  CHECK(alto_cache_get(&req, fake_compile, &f, &d) == ALTO_OK);
  CHECK(d.origin == ALTO_CACHE_HIT_DISK && f.calls == 1);
  CHECK(d.binary_size == e.binary_size && memcmp(d.binary, e.binary, e.binary_size) == 0);
  CHECK(d.registers == 42 && d.spill_stores == 8 && strcmp(d.log, e.log) == 0);
  CHECK(strcmp(d.binary_sha256, e.binary_sha256) == 0 && strcmp(d.key, e.key) == 0);
  alto_cache_entry_free(&e);
  alto_cache_entry_free(&m);
  alto_cache_entry_free(&d);
}

static bool key_differs(const alto_cache_request *a, const alto_cache_request *b) {
  char ka[ALTO_SHA256_HEX_SIZE], kb[ALTO_SHA256_HEX_SIZE];
  alto_cache_key(a, ka);
  alto_cache_key(b, kb);
  return strcmp(ka, kb) != 0;
}

static void test_key(void) {
  alto_cache_request base = make_req(src_a);
  char k1[ALTO_SHA256_HEX_SIZE], k2[ALTO_SHA256_HEX_SIZE];
  alto_cache_key(&base, k1);
  alto_cache_key(&base, k2);
  CHECK(strcmp(k1, k2) == 0 && strlen(k1) == 64 && strspn(k1, "0123456789abcdef") == 64);

  alto_cache_request r = base;
  r.source = "extern \"C\" __global__ void k(float *y) {\n  y[0] = 2.0f;\n}\n";
  CHECK(key_differs(&base, &r));
  r = base;
  r.arch = "sm_100a";
  CHECK(key_differs(&base, &r));
  r = base;
  r.compiler_version = "1.1";
  CHECK(key_differs(&base, &r));
  r = base;
  r.compiler = "nvrtc";
  CHECK(key_differs(&base, &r));
  r = base;
  r.generator_hash = "gen-2";
  CHECK(key_differs(&base, &r));
  r = base;
  r.kind = ALTO_CACHE_HIP;
  CHECK(key_differs(&base, &r));
  const char *more[] = {"-std=c++17", "-default-device", "-lineinfo"};
  r = base;
  r.options = more;
  r.n_options = 3;
  CHECK(key_differs(&base, &r));
  const char *swapped[] = {"-default-device", "-std=c++17"};
  r = base;
  r.options = swapped;
  CHECK(key_differs(&base, &r));
  const char *changed[] = {"-std=c++20", "-default-device"};
  r = base;
  r.options = changed;
  CHECK(key_differs(&base, &r));
  /* Fields are length-prefixed: moving bytes from one field to the next changes the key. */
  alto_cache_request x = base, y = base;
  x.compiler = "ab";
  x.compiler_version = "c";
  y.compiler = "a";
  y.compiler_version = "bc";
  CHECK(key_differs(&x, &y));
  /* The name is for humans only. */
  r = base;
  r.name = "another_name";
  CHECK(!key_differs(&base, &r));

  /* Every env var flagged as changing output changes the key; the others do not. */
  int flagged = 0;
  for (int v = 0; v < ALTO_ENV_COUNT; v++) {
    const alto_env_info *info = alto_env_info_get((alto_env_var)v);
    if (strcmp(info->name, "HOME") == 0 || strcmp(info->name, "ALTO_CACHE_DIR") == 0)
      continue; /* needed by the other tests; not flagged (test_base checks the flags) */
    const char *old = getenv(info->name);
    char *saved = old ? alto_xstrdup(old) : NULL;
    setenv(info->name, "-DALTO_TEST_VALUE=1", 1);
    alto_cache_key(&base, k2);
    CHECKF((strcmp(k1, k2) != 0) == info->affects_output, "%s", info->name);
    flagged += info->affects_output;
    /* A value that adds no option (ALTO_JIT_EXTRA_OPTIONS=" ") still counts: the key holds the
     * raw value of each flagged variable, not only its effect. */
    setenv(info->name, " ", 1);
    alto_cache_key(&base, k2);
    CHECKF((strcmp(k1, k2) != 0) == info->affects_output, "%s=' '", info->name);
    if (saved)
      setenv(info->name, saved, 1);
    else
      unsetenv(info->name);
    free(saved);
  }
  CHECK(flagged >= 1);
  alto_cache_key(&base, k2);
  CHECK(strcmp(k1, k2) == 0);
}

/* ---- many processes at once -------------------------------------------------------------------
 */

#define N_PROCS 8
#define N_VARIANTS 4

static const char *variant_src[N_VARIANTS] = {
    "extern \"C\" __global__ void v0(float *y) { y[0] = 0.0f; }\n",
    "extern \"C\" __global__ void v1(float *y) { y[0] = 1.0f; }\n",
    "extern \"C\" __global__ void v2(float *y) { y[0] = 2.0f; }\n",
    "extern \"C\" __global__ void v3(float *y) { y[0] = 3.0f; }\n",
};

static const char *nvrtc_src =
    "extern \"C\" __global__ void alto_scale(float *y, float a, int n) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n)\n"
    "    y[i] *= a;\n"
    "}\n";
static const char *nvrtc_opts[] = {"-std=c++17", "--ptxas-options=-v"};
static char nvrtc_version[32];

static alto_cache_request nvrtc_req(const char *src) {
  alto_cache_request r = make_req(src);
  r.name = "alto_scale";
  r.compiler = "nvrtc";
  r.compiler_version = nvrtc_version;
  r.options = nvrtc_opts;
  r.n_options = 2;
  return r;
}

/* One child: every variant (starting at a different one) plus, when NVRTC is there, the real
 * compile; returns the exit code (0 when every binary is right). */
static int race_child(int index, int ready_fd, int report_fd) {
  char c;
  if (read(ready_fd, &c, 1) < 0) { /* returns 0 at EOF: the parent released everyone */
  }
  alto_cache_memory_clear();
  fake_ctx f = {.sleep_us = 30000};
  int bad = 0;
  for (int j = 0; j < N_VARIANTS; j++) {
    alto_cache_request req = make_req(variant_src[(index + j) % N_VARIANTS]);
    alto_cache_entry e;
    unsigned char want[FAKE_SIZE];
    fake_bytes(&req, req.options, req.n_options, want);
    if (alto_cache_get(&req, fake_compile, &f, &e) != ALTO_OK || e.binary_size != FAKE_SIZE ||
        memcmp(e.binary, want, FAKE_SIZE) != 0)
      bad++;
    alto_cache_entry_free(&e);
  }
  if (nvrtc_version[0]) {
    alto_cache_request req = nvrtc_req(nvrtc_src);
    alto_cache_entry e;
    if (alto_cache_get(&req, alto_cache_compile_nvrtc, NULL, &e) != ALTO_OK || e.binary_size < 4 ||
        memcmp(e.binary,
               "\x7f"
               "ELF",
               4) != 0) {
      fprintf(stderr, "child %d: %s\n", index, alto_last_error());
      bad++;
    }
    alto_cache_entry_free(&e);
  }
  /* Report lost races (publishes that found the entry there) to the parent. */
  alto_cache_stats st;
  alto_cache_stats_get(&st);
  if (write(report_fd, &st.lost_races, sizeof st.lost_races) != sizeof st.lost_races)
    bad++;
  return bad ? 1 : 0;
}

static void test_concurrent_processes(void) {
  use_cache_dir("cache_race");
  const char *root = getenv("ALTO_CACHE_DIR");
  int fds[2], report[2];
  CHECK(pipe(fds) == 0 && pipe(report) == 0);
  pid_t pids[N_PROCS];
  for (int i = 0; i < N_PROCS; i++) {
    fflush(NULL);
    pids[i] = fork();
    if (pids[i] == 0) {
      close(fds[1]);
      close(report[0]);
      _exit(race_child(i, fds[0], report[1]));
    }
  }
  close(fds[0]);
  close(fds[1]); /* releases all children at once */
  close(report[1]);
  for (int i = 0; i < N_PROCS; i++) {
    int status = 0;
    CHECK(pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i]);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", i, status);
  }
  /* Two children start on each variant at the same moment and compile for 30 ms: races were
   * lost (and resolved by using the winner's entry). */
  long lost = 0, one = 0;
  while (read(report[0], &one, sizeof one) == sizeof one)
    lost += one;
  close(report[0]);
  CHECKF(lost >= 1, "no lost publish race among %d processes", N_PROCS);
  /* Exactly one valid entry per key, nothing left in tmp/, nothing else in the root. */
  int n_keys = N_VARIANTS + (nvrtc_version[0] ? 1 : 0);
  char keys[N_VARIANTS + 1][ALTO_SHA256_HEX_SIZE];
  alto_cache_request reqs[N_VARIANTS + 1];
  for (int j = 0; j < n_keys; j++) {
    reqs[j] = j < N_VARIANTS ? make_req(variant_src[j]) : nvrtc_req(nvrtc_src);
    alto_cache_key(&reqs[j], keys[j]);
  }
  char path[4400];
  snprintf(path, sizeof path, "%s/tmp", root);
  CHECKF(dir_count(path) == 0, "%d leftovers in tmp/", dir_count(path));
  int entries = 0, others = 0;
  DIR *d = opendir(root);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || strcmp(de->d_name, "tmp") == 0)
      continue;
    if (strlen(de->d_name) != 2) {
      others++;
      continue;
    }
    snprintf(path, sizeof path, "%s/%s", root, de->d_name);
    DIR *sub = opendir(path);
    struct dirent *se;
    while (sub && (se = readdir(sub)) != NULL) {
      if (se->d_name[0] == '.')
        continue;
      bool known = false;
      for (int j = 0; j < n_keys; j++)
        known |= strcmp(se->d_name, keys[j]) == 0 && strncmp(keys[j], de->d_name, 2) == 0;
      CHECKF(known, "unexpected entry %s/%s", path, se->d_name);
      entries++;
    }
    if (sub)
      closedir(sub);
  }
  if (d)
    closedir(d);
  CHECK(others == 0);
  CHECKF(entries == n_keys, "%d entries for %d keys", entries, n_keys);
  /* Each loads from disk, valid, without compiling. */
  alto_cache_memory_clear();
  fake_ctx f = {0};
  for (int j = 0; j < n_keys; j++) {
    alto_cache_entry e;
    alto_status st = alto_cache_get(&reqs[j], fake_compile, &f, &e);
    CHECKF(st == ALTO_OK && e.origin == ALTO_CACHE_HIT_DISK, "key %d: %s", j, alto_last_error());
    if (j == N_VARIANTS)
      CHECKF(e.registers > 0 && e.spill_stores == 0, "nvrtc ptxas: %d registers, %d spills",
             e.registers, e.spill_stores);
    alto_cache_entry_free(&e);
  }
  CHECK(f.calls == 0);
}

/* ---- many threads at once: the in-memory map and the publish under one process ------------- */

typedef struct {
  int index;
  fake_ctx *f;
  int bad;
} thread_arg;

static void *race_thread(void *p) {
  thread_arg *a = p;
  for (int round = 0; round < 3; round++)
    for (int j = 0; j < N_VARIANTS; j++) {
      alto_cache_request req = make_req(variant_src[(a->index + j) % N_VARIANTS]);
      unsigned char want[FAKE_SIZE];
      fake_bytes(&req, req.options, req.n_options, want);
      alto_cache_entry e;
      if (alto_cache_get(&req, fake_compile, a->f, &e) != ALTO_OK || e.binary_size != FAKE_SIZE ||
          memcmp(e.binary, want, FAKE_SIZE) != 0)
        a->bad++;
      alto_cache_entry_free(&e);
    }
  return NULL;
}

static void test_concurrent_threads(void) {
  use_cache_dir("cache_threads");
  fake_ctx f = {.sleep_us = 20000};
  pthread_t t[8];
  thread_arg args[8];
  for (int i = 0; i < 8; i++) {
    args[i] = (thread_arg){.index = i, .f = &f};
    CHECK(pthread_create(&t[i], NULL, race_thread, &args[i]) == 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    CHECK(args[i].bad == 0);
  }
  /* Each variant compiled at least once and at most once per thread that raced on it; the
   * later rounds were memory hits. */
  CHECK(f.calls >= N_VARIANTS && f.calls <= 8 * N_VARIANTS / 2 + N_VARIANTS);
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s/tmp", getenv("ALTO_CACHE_DIR"));
  CHECK(dir_count(tmp) == 0);
}

/* ---- corrupt entries --------------------------------------------------------------------------
 */

typedef enum {
  CORRUPT_TRUNCATE_BINARY,
  CORRUPT_FLIP_BINARY,
  CORRUPT_META_GARBAGE,
  CORRUPT_META_MISSING,
  CORRUPT_BINARY_MISSING,
  CORRUPT_META_KEY,
  CORRUPT_SOURCE,
  CORRUPT_COUNT
} corruption;

static void corrupt(const char *dir, corruption c) {
  char bin[4400], meta[4400], src[4400];
  snprintf(bin, sizeof bin, "%s/kernel.cubin", dir);
  snprintf(meta, sizeof meta, "%s/meta.json", dir);
  snprintf(src, sizeof src, "%s/kernel.cu", dir);
  switch (c) {
  case CORRUPT_TRUNCATE_BINARY:
    CHECK(truncate(bin, FAKE_SIZE / 2) == 0);
    break;
  case CORRUPT_FLIP_BINARY: {
    int fd = open(bin, O_RDWR);
    unsigned char b = 0;
    CHECK(fd >= 0 && pread(fd, &b, 1, 1000) == 1);
    b ^= 0x10;
    CHECK(pwrite(fd, &b, 1, 1000) == 1);
    close(fd);
    break;
  }
  case CORRUPT_META_GARBAGE: {
    FILE *f = fopen(meta, "w");
    fputs("{\"schema\": 1, \"key\": \"", f); /* as if the write was cut short */
    fclose(f);
    break;
  }
  case CORRUPT_META_MISSING:
    CHECK(unlink(meta) == 0);
    break;
  case CORRUPT_BINARY_MISSING:
    CHECK(unlink(bin) == 0);
    break;
  case CORRUPT_META_KEY: { /* a valid meta.json of another key */
    char *text = read_all(meta, NULL);
    char *k = text ? strstr(text, "\"key\": \"") : NULL;
    CHECK(k != NULL);
    if (k)
      memset(k + 8, '0', 16);
    FILE *f = fopen(meta, "w");
    fputs(text ? text : "", f);
    fclose(f);
    free(text);
    break;
  }
  case CORRUPT_SOURCE: {
    FILE *f = fopen(src, "a");
    fputs("// edited\n", f);
    fclose(f);
    break;
  }
  case CORRUPT_COUNT:
    break;
  }
}

static void test_corrupt_entries(void) {
  use_cache_dir("cache_corrupt");
  fake_ctx f = {0};
  alto_cache_request req = make_req(src_a);
  alto_cache_entry good;
  CHECK(alto_cache_get(&req, fake_compile, &f, &good) == ALTO_OK);
  for (int c = 0; c < CORRUPT_COUNT; c++) {
    corrupt(good.dir, (corruption)c);
    alto_cache_memory_clear();
    alto_cache_stats before, after;
    alto_cache_stats_get(&before);
    int calls = f.calls;
    alto_cache_entry e;
    CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_OK);
    alto_cache_stats_get(&after);
    CHECKF(e.origin == ALTO_CACHE_COMPILED && f.calls == calls + 1, "corruption %d not caught", c);
    CHECKF(after.invalid_removed == before.invalid_removed + 1, "corruption %d not removed", c);
    CHECK(e.binary_size == good.binary_size &&
          memcmp(e.binary, good.binary, good.binary_size) == 0);
    alto_cache_entry_free(&e);
    /* Rebuilt: valid again from disk. */
    alto_cache_memory_clear();
    CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_OK);
    CHECKF(e.origin == ALTO_CACHE_HIT_DISK, "corruption %d: not rebuilt", c);
    alto_cache_entry_free(&e);
  }
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s/tmp", getenv("ALTO_CACHE_DIR"));
  CHECK(dir_count(tmp) == 0);
  alto_cache_entry_free(&good);

  /* What a crashed process left in tmp/ goes at the next publish once it is an hour old. */
  char stale[4500], fresh[4500], file[4600];
  snprintf(stale, sizeof stale, "%s/new-0123456789abcdef-1-0-0", tmp);
  snprintf(fresh, sizeof fresh, "%s/new-0123456789abcdef-2-0-0", tmp);
  CHECK(mkdir(stale, 0755) == 0 && mkdir(fresh, 0755) == 0);
  snprintf(file, sizeof file, "%s/kernel.cu", stale);
  FILE *fp = fopen(file, "w");
  fclose(fp);
  struct timeval old_times[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
  CHECK(utimes(stale, old_times) == 0);
  alto_cache_request other = make_req("// another kernel\n");
  alto_cache_entry e;
  CHECK(alto_cache_get(&other, fake_compile, &f, &e) == ALTO_OK && e.origin == ALTO_CACHE_COMPILED);
  alto_cache_entry_free(&e);
  struct stat st;
  CHECK(stat(stale, &st) != 0 && stat(fresh, &st) == 0);
  rmdir(fresh);
}

static void test_always_compile_and_dump(void) {
  use_cache_dir("cache_knobs");
  const char *dump = alto_test_tmpdir("cache_dump");
  fake_ctx f = {0};
  alto_cache_request req = make_req(src_a);
  req.name = "my kernel/v1"; /* made file-safe in dump names */
  alto_cache_entry e;
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_OK && f.calls == 1);
  alto_cache_entry_free(&e);
  setenv("ALTO_JIT_ALWAYS_COMPILE", "1", 1);
  setenv("ALTO_JIT_DUMP", dump, 1);
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_OK);
  CHECK(e.origin == ALTO_CACHE_COMPILED && f.calls == 2);
  char stem[256], name[300];
  snprintf(stem, sizeof stem, "my_kernel_v1-%.16s", e.key);
  alto_cache_entry_free(&e);
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_OK);
  CHECK(e.origin == ALTO_CACHE_COMPILED && f.calls == 3);
  alto_cache_entry_free(&e);
  unsetenv("ALTO_JIT_ALWAYS_COMPILE");
  unsetenv("ALTO_JIT_DUMP");
  const char *exts[] = {".cu", ".log", ".cubin"};
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "%s%s", stem, exts[i]);
    CHECKF(file_exists(dump, name), "dump lacks %s", name);
  }
  snprintf(name, sizeof name, "%s/%s.cu", dump, stem);
  char *text = read_all(name, NULL);
  CHECK(text && strcmp(text, src_a) == 0);
  free(text);
  snprintf(name, sizeof name, "%s/%s.log", dump, stem);
  text = read_all(name, NULL);
  CHECK(text && strstr(text, "Used 42 registers") != NULL);
  free(text);
  /* The republished entry is valid, and there is one of it. */
  alto_cache_memory_clear();
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_OK);
  CHECK(e.origin == ALTO_CACHE_HIT_DISK && f.calls == 3);
  alto_cache_entry_free(&e);
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s/tmp", getenv("ALTO_CACHE_DIR"));
  CHECK(dir_count(tmp) == 0);
}

static void test_compile_failure(void) {
  use_cache_dir("cache_fail");
  fake_ctx f = {.fail = true};
  const char *src = "extern \"C\" __global__ void k(float *y) {\n"
                    "  float x = 1.0f;\n"
                    "  y[0] = oops;\n"
                    "}\n";
  alto_cache_request req = make_req(src);
  alto_cache_entry e;
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_ERR_COMPILE);
  const char *msg = alto_last_error();
  CHECKF(strstr(msg, "   3 |   y[0] = oops;") != NULL, "no numbered source in:\n%s", msg);
  CHECK(strstr(msg, "identifier \"oops\" is undefined") != NULL);
  CHECK(strstr(msg, "fake compile failed") != NULL);
  CHECK(strstr(msg, "nvcc -arch=sm_90a -cubin -std=c++17 -default-device ") != NULL);
  const char *failed = strstr(msg, "/failed/");
  CHECK(failed != NULL);
  CHECK(e.binary == NULL && e.binary_size == 0 && e.dir == NULL);
  char key[ALTO_SHA256_HEX_SIZE], dir[4400];
  alto_cache_key(&req, key);
  snprintf(dir, sizeof dir, "%s/%.2s/%s", getenv("ALTO_CACHE_DIR"), key, key);
  struct stat st;
  CHECK(stat(dir, &st) != 0); /* never published */
  snprintf(dir, sizeof dir, "%s/failed/test_kernel-%.16s.cu", getenv("ALTO_CACHE_DIR"), key);
  CHECK(stat(dir, &st) == 0); /* the repro's source */
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_ERR_COMPILE && f.calls == 2);

  /* A long source shows its first 200 lines; a HIP request gets a hipcc repro. */
  char *big = malloc(300 * 32);
  big[0] = '\0';
  for (int i = 1; i <= 300; i++)
    sprintf(big + strlen(big), "// line %d\n", i);
  req = make_req(big);
  req.kind = ALTO_CACHE_HIP;
  req.arch = "gfx90a";
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_ERR_COMPILE);
  msg = alto_last_error();
  CHECK(strstr(msg, "first 200 of 300 lines") != NULL);
  CHECK(strstr(msg, " 200 | // line 200\n") != NULL && strstr(msg, "line 201") == NULL);
  CHECK(strstr(msg, "hipcc --genco --no-gpu-bundle-output --offload-arch=gfx90a") != NULL);
  free(big);

  if (nvrtc_version[0]) { /* the real thing: NVRTC's own log in the message */
    alto_cache_request r = nvrtc_req("extern \"C\" __global__ void k(float *y) {\n"
                                     "  y[0] = undefined_thing;\n}\n");
    CHECK(alto_cache_get(&r, alto_cache_compile_nvrtc, NULL, &e) == ALTO_ERR_COMPILE);
    msg = alto_last_error();
    CHECKF(strstr(msg, "identifier \"undefined_thing\" is undefined") != NULL, "%s", msg);
    CHECK(strstr(msg, "   2 |   y[0] = undefined_thing;") != NULL);
  }
}

static void test_cache_dir(void) {
  const char *base = alto_test_tmpdir("cache_dirs");
  char file[2048], bad[4400], want[4400], root[4096];
  snprintf(file, sizeof file, "%s/a_file", base);
  FILE *fp = fopen(file, "w");
  fputs("x", fp);
  fclose(fp);
  snprintf(bad, sizeof bad, "%s/cache", file); /* under a regular file: fails even for root */
  setenv("ALTO_CACHE_DIR", bad, 1);
  alto_cache_memory_clear();
  fake_ctx f = {0};
  alto_cache_request req = make_req(src_a);
  alto_cache_entry e;
  CHECK(alto_cache_get(&req, fake_compile, &f, &e) == ALTO_ERR_IO);
  CHECK(strstr(alto_last_error(), bad) != NULL);
  CHECK(strstr(alto_last_error(), "set ALTO_CACHE_DIR") != NULL);
  CHECK(f.calls == 0);

  /* Fallbacks: $XDG_CACHE_HOME/alto, then $HOME/.cache/alto. */
  const char *home = getenv("HOME");
  char *saved_home = home ? alto_xstrdup(home) : NULL;
  unsetenv("ALTO_CACHE_DIR");
  snprintf(want, sizeof want, "%s/xdg", base);
  setenv("XDG_CACHE_HOME", want, 1);
  CHECK(alto_cache_root(root, sizeof root) == ALTO_OK);
  strcat(want, "/alto");
  CHECK(strcmp(root, want) == 0);
  unsetenv("XDG_CACHE_HOME");
  snprintf(want, sizeof want, "%s/home", base);
  setenv("HOME", want, 1);
  CHECK(alto_cache_root(root, sizeof root) == ALTO_OK);
  strcat(want, "/.cache/alto");
  CHECK(strcmp(root, want) == 0 && dir_count(want) == 1); /* holds tmp/ */
  if (saved_home)
    setenv("HOME", saved_home, 1);
  else
    unsetenv("HOME");
  free(saved_home);
}

static void test_ptxas_parse(void) {
  int r, ss, sl;
  alto_cache_parse_ptxas("ptxas info    : Used 40 registers, used 1 barriers, 8192 bytes smem\n"
                         "    0 bytes stack frame, 12 bytes spill stores, 12 bytes spill loads\n"
                         "ptxas info    : Used 128 registers, 380 bytes cmem[0]\n"
                         "    8 bytes stack frame, 0 bytes spill stores, 20 bytes spill loads\n",
                         &r, &ss, &sl);
  CHECK(r == 128 && ss == 12 && sl == 20);
  alto_cache_parse_ptxas("no ptxas output here", &r, &ss, &sl);
  CHECK(r == -1 && ss == -1 && sl == -1);
  alto_cache_parse_ptxas(NULL, &r, &ss, &sl);
  CHECK(r == -1);
}

static void test_hiprtc_entry(void) {
  if (alto_hiprtc_load() != ALTO_OK) {
    fprintf(stderr, "  (hiprtc not installed: HIP entry not checked)\n");
    return;
  }
  use_cache_dir("cache_hip");
  int maj, min;
  alto_hiprtc_version(&maj, &min);
  char version[32];
  snprintf(version, sizeof version, "%d.%d", maj, min);
  alto_cache_request req = make_req(nvrtc_src);
  req.kind = ALTO_CACHE_HIP;
  req.compiler = "hiprtc";
  req.compiler_version = version;
  req.arch = "gfx90a";
  req.options = NULL;
  req.n_options = 0;
  alto_cache_entry e;
  alto_status st = alto_cache_get(&req, alto_cache_compile_hiprtc, NULL, &e);
  CHECKF(st == ALTO_OK, "%s", alto_last_error());
  CHECK(e.binary_size > 4 && memcmp(e.binary,
                                    "\x7f"
                                    "ELF",
                                    4) == 0);
  CHECK(e.dir && file_exists(e.dir, "kernel.hip") && file_exists(e.dir, "kernel.hsaco"));
  alto_cache_entry_free(&e);
  req.arch = "gfx942"; /* refused before hiprtc could abort the process */
  CHECK(alto_cache_get(&req, alto_cache_compile_hiprtc, NULL, &e) == ALTO_ERR_UNSUPPORTED);
  CHECK(strstr(alto_last_error(), "gfx90a, gfx908, gfx1030") != NULL);
}

int main(void) {
  if (alto_nvrtc_load() == ALTO_OK) {
    int maj, min;
    alto_nvrtc_version(&maj, &min);
    snprintf(nvrtc_version, sizeof nvrtc_version, "%d.%d", maj, min);
  } else {
    fprintf(stderr, "NVRTC not available: real compiles not checked (%s)\n", alto_last_error());
  }
  unsetenv("ALTO_JIT_ALWAYS_COMPILE");
  unsetenv("ALTO_JIT_DUMP");
  unsetenv("ALTO_JIT_EXTRA_OPTIONS");
  RUN(test_hits);
  RUN(test_key);
  RUN(test_concurrent_processes);
  RUN(test_concurrent_threads);
  RUN(test_corrupt_entries);
  RUN(test_always_compile_and_dump);
  RUN(test_compile_failure);
  RUN(test_cache_dir);
  RUN(test_ptxas_parse);
  RUN(test_hiprtc_entry);
  alto_cache_memory_clear();
  return alto_test_finish();
}
