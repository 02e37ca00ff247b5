/* base/: status messages, the env registry, the parallel loop. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "base/parallel.h"
#include "base/status.h"
#include "tests/harness.h"

static void test_status(void) {
  alto_status s = alto_error(ALTO_ERR_PARSE, "recipe.yaml:%d:%d: unknown key '%s'", 3, 5, "sheme");
  CHECK(s == ALTO_ERR_PARSE);
  CHECK(strcmp(alto_last_error(), "recipe.yaml:3:5: unknown key 'sheme'") == 0);
  CHECK(strcmp(alto_status_name(ALTO_ERR_IO), "ALTO_ERR_IO") == 0);
  CHECK(strcmp(alto_status_name((alto_status)999), "ALTO_ERR_UNKNOWN") == 0);
  alto_error_clear();
  CHECK(alto_last_error()[0] == '\0');
}

/* docs/env.md must list exactly the variables of the registry. */
static void test_env_documented(void) {
  FILE *f = fopen(ALTO_SOURCE_DIR "/docs/env.md", "r");
  CHECK(f != NULL);
  if (!f)
    return;
  static char doc[1 << 16];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  doc[n] = '\0';
  fclose(f);
  for (int v = 0; v < ALTO_ENV_COUNT; v++) {
    char needle[128];
    snprintf(needle, sizeof needle, "| `%s` |", alto_env_info_get((alto_env_var)v)->name);
    const char *row = strstr(doc, needle);
    CHECKF(row != NULL, "docs/env.md lacks a row for %s", needle);
    if (!row)
      continue;
    /* The "changes output" column says **yes** exactly for the variables in the cache key. */
    const char *eol = strchr(row, '\n');
    size_t row_len = eol ? (size_t)(eol - row) : strlen(row);
    char row_text[512];
    snprintf(row_text, sizeof row_text, "%.*s", (int)row_len, row);
    bool doc_yes = strstr(row_text, "| **yes** |") != NULL;
    CHECKF(doc_yes == alto_env_info_get((alto_env_var)v)->affects_output,
           "docs/env.md row %s: 'changes output' disagrees with the registry", needle);
  }
  int rows = 0;
  for (const char *p = doc; (p = strstr(p, "\n| `")) != NULL; p++)
    rows++;
  CHECKF(rows == ALTO_ENV_COUNT, "docs/env.md has %d rows, registry %d", rows, ALTO_ENV_COUNT);
}

static void test_env_values(void) {
  setenv("ALTO_NUM_THREADS", "3", 1);
  CHECK(alto_env_get_long(ALTO_ENV_NUM_THREADS, 0) == 3);
  CHECK(alto_parallel_threads() == 3);
  setenv("ALTO_NUM_THREADS", "x3", 1);
  CHECK(alto_env_get_long(ALTO_ENV_NUM_THREADS, 7) == 7);
  unsetenv("ALTO_NUM_THREADS");
  setenv("NO_COLOR", "", 1);
  CHECK(alto_env_get_bool(ALTO_ENV_NO_COLOR));
  unsetenv("NO_COLOR");
  CHECK(!alto_env_get_bool(ALTO_ENV_NO_COLOR));
}

static int64_t counts[10007];
static void mark(void *ctx, int64_t b, int64_t e) {
  (void)ctx;
  for (int64_t i = b; i < e; i++)
    counts[i]++;
}

static void test_parallel(void) {
  setenv("ALTO_NUM_THREADS", "5", 1);
  alto_parallel_for(10007, 1, mark, NULL);
  alto_parallel_for(3, 1000, mark, NULL);
  unsetenv("ALTO_NUM_THREADS");
  int bad = 0;
  for (int i = 0; i < 10007; i++)
    bad += counts[i] != (i < 3 ? 2 : 1);
  CHECK(bad == 0);
}

int main(void) {
  RUN(test_status);
  RUN(test_env_documented);
  RUN(test_env_values);
  RUN(test_parallel);
  return alto_test_finish();
}
