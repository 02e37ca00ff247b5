#include "tests/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int alto_test_failures;
int alto_test_checks;

int alto_test_finish(void) {
  fprintf(stderr, "%d checks, %d failed\n", alto_test_checks, alto_test_failures);
  return alto_test_failures ? 1 : 0;
}

void alto_test_skip(const char *why) {
  fprintf(stderr, "SKIP: %s\n", why);
  exit(77);
}

uint64_t alto_test_u64(alto_test_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t alto_test_u32(alto_test_rng *r) { return (uint32_t)(alto_test_u64(r) >> 32); }

double alto_test_uniform(alto_test_rng *r) { return (alto_test_u64(r) >> 11) * 0x1.0p-53; }

double alto_test_normal(alto_test_rng *r) {
  double u1 = alto_test_uniform(r), u2 = alto_test_uniform(r);
  if (u1 < 1e-300)
    u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void alto_test_fill_outliers(alto_test_rng *r, float *x, int64_t n, float scale) {
  for (int64_t i = 0; i < n; i++) {
    double v = alto_test_normal(r) * scale;
    if (alto_test_uniform(r) < 0.005)
      v *= 100.0;
    x[i] = (float)v;
  }
}

uint64_t alto_test_seed(void) {
  const char *s = getenv("ALTO_TEST_SEED");
  uint64_t seed;
  if (s && *s) {
    seed = strtoull(s, NULL, 0);
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
  }
  fprintf(stderr, "seed: ALTO_TEST_SEED=0x%llx\n", (unsigned long long)seed);
  return seed;
}

const char *alto_test_tmpdir(const char *name) {
  static char path[1024];
  const char *base = getenv("ALTO_TEST_TMP");
  if (!base || !*base)
    base = "/tmp/alto-test";
  mkdir(base, 0755);
  snprintf(path, sizeof path, "%s/%s", base, name);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0) { /* best effort */
  }
  mkdir(path, 0755);
  return path;
}

static char *alto_test_slurp_(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  size_t r;
  while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
    len += r;
    if (len == cap)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *n = len;
  return buf;
}

bool alto_test_files_equal(const char *a, const char *b) {
  size_t lx = 0, ly = 0;
  char *x = alto_test_slurp_(a, &lx), *y = alto_test_slurp_(b, &ly);
  bool eq = x && y && lx == ly && memcmp(x, y, lx) == 0;
  free(x);
  free(y);
  return eq;
}
