/* A tiny test harness: assertions that record file:line and keep going, a summary, exit codes
 * for ctest (0 pass, 1 fail, 77 skip), and random data with outliers. */
#ifndef ALTO_TESTS_HARNESS_H
#define ALTO_TESTS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

extern int alto_test_failures;
extern int alto_test_checks;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    alto_test_checks++;                                                                \
    if (!(cond)) {                                                                     \
      alto_test_failures++;                                                            \
      if (alto_test_failures <= 50)                                                    \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
    }                                                                                  \
  } while (0)

#define CHECKF(cond, ...)                                                              \
  do {                                                                                 \
    alto_test_checks++;                                                                \
    if (!(cond)) {                                                                     \
      alto_test_failures++;                                                            \
      if (alto_test_failures <= 50) {                                                  \
        fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);       \
        fprintf(stderr, __VA_ARGS__);                                                  \
        fputc('\n', stderr);                                                           \
      }                                                                                \
    }                                                                                  \
  } while (0)

/* Runs a named test function. */
#define RUN(fn)                                                                        \
  do {                                                                                 \
    int before_ = alto_test_failures;                                                  \
    fn();                                                                              \
    fprintf(stderr, "%-4s %s\n", alto_test_failures == before_ ? "ok" : "FAIL", #fn);  \
  } while (0)

/* Prints the summary; returns the process exit code. */
int alto_test_finish(void);

/* Exits with 77 (ctest "skipped") after printing why. */
void alto_test_skip(const char *why) __attribute__((noreturn));

/* Deterministic test RNG (splitmix64 + Box-Muller). */
typedef struct {
  uint64_t s;
} alto_test_rng;
uint64_t alto_test_u64(alto_test_rng *r);
uint32_t alto_test_u32(alto_test_rng *r);
double alto_test_uniform(alto_test_rng *r); /* [0, 1) */
double alto_test_normal(alto_test_rng *r);
/* randn plus 0.5% outliers scaled x100 (the project's standard test data). */
void alto_test_fill_outliers(alto_test_rng *r, float *x, int64_t n, float scale);

/* A seed from ALTO_TEST_SEED, else fresh from the clock (printed so a failure reproduces). */
uint64_t alto_test_seed(void);

/* True when both files exist and hold the same bytes. */
bool alto_test_files_equal(const char *a, const char *b);

/* A scratch directory for this test ($ALTO_TEST_TMP/<name>), created empty. */
const char *alto_test_tmpdir(const char *name);

#endif
