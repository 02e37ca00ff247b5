/* alto_templates_expand: a generated stub becomes one self-contained text for hiprtc: every
 * embedded template once, no quoted include left, #line directives that point at the template
 * files, and a clean error for an include that is not embedded. */
#include <stdlib.h>
#include <string.h>

#include "runtime/templates.h"
#include "tests/harness.h"

static int count(const char *s, const char *what) {
  int n = 0;
  for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
    n++;
  return n;
}

/* The line that `#line`-aware readers (compilers) attribute to the first occurrence of `what`. */
static void line_of(const char *s, const char *what, char *file, size_t n, int *line) {
  const char *at = strstr(s, what);
  *line = 0;
  file[0] = '\0';
  for (const char *p = s; p && p < at;) {
    const char *nl = strchr(p, '\n');
    if (strncmp(p, "#line ", 6) == 0) {
      const char *q = strchr(p + 6, '"');
      *line = atoi(p + 6) - 1;
      size_t k = (size_t)(strchr(q + 1, '"') - (q + 1));
      snprintf(file, n, "%.*s", (int)(k < n ? k : n - 1), q + 1);
    }
    (*line)++;
    p = nl ? nl + 1 : NULL;
  }
}

static void test_stub(void) {
  const char *stub =
      "// a stub\n#include \"quant/quant_tile.cuh\"\n  #  include \"common/alto_qargs.h\"\n"
      "extern \"C\" __global__ void k(alto_qargs a) {}\n";
  char *s = NULL;
  CHECK(alto_templates_expand("k.hip", stub, &s) == ALTO_OK);
  if (!s)
    return;
  /* tile includes rows, which includes device, which includes numerics; qargs includes numerics
   * again: each is expanded once. */
  CHECK(count(s, "#include \"") == 0);
  CHECK(count(s, "#define ALTO_NUMERICS_H") == 1);
  CHECK(count(s, "#define ALTO_DEVICE_H") == 1);
  CHECK(count(s, "#define ALTO_QUANT_ROWS_CUH") == 1);
  CHECK(count(s, "#define ALTO_QARGS_H") == 1);
  CHECK(count(s, "#include <stdint.h>") == 1); /* host-only branch: left alone */
  CHECK(strstr(s, "#line 1 \"k.hip\"\n") == s);
  /* Lines map back to the files: the kernel is line 4 of k.hip; the guard of alto_device.h is on
   * the line the file has it. */
  char file[64];
  int line;
  line_of(s, "extern \"C\" __global__ void k", file, sizeof file, &line);
  CHECKF(strcmp(file, "k.hip") == 0 && line == 4, "%s:%d", file, line);
  const alto_template_file *dev = alto_template_find("common/alto_device.h");
  CHECK(dev != NULL);
  int want = 1;
  for (const char *p = dev->text; p < strstr(dev->text, "#define ALTO_DEVICE_H"); p++)
    want += *p == '\n';
  line_of(s, "#define ALTO_DEVICE_H", file, sizeof file, &line);
  CHECKF(strcmp(file, "common/alto_device.h") == 0 && line == want, "%s:%d (want %d)", file, line,
         want);
  line_of(s, "#define ALTO_QARGS_H", file, sizeof file, &line);
  CHECKF(strcmp(file, "common/alto_qargs.h") == 0, "%s", file);
  free(s);
}

static void test_missing_include(void) {
  char *s = (char *)1;
  CHECK(alto_templates_expand("bad.hip", "\n#include \"quant/nope.cuh\"\n", &s) ==
        ALTO_ERR_NOT_FOUND);
  CHECK(s == NULL);
  CHECKF(strstr(alto_last_error(), "bad.hip:2") && strstr(alto_last_error(), "quant/nope.cuh"),
         "%s", alto_last_error());
}

/* A template as the source itself, and an include relative to the including template's folder. */
static void test_template_source(void) {
  const alto_template_file *f = alto_template_find("quant/quant_tile.cuh");
  CHECK(f != NULL);
  if (!f)
    return;
  char *s = NULL;
  CHECK(alto_templates_expand(f->name, f->text, &s) == ALTO_OK);
  CHECK(s && count(s, "#define ALTO_QUANT_TILE_CUH") == 1 &&
        count(s, "#define ALTO_NUMERICS_H") == 1);
  free(s);
  s = NULL;
  CHECK(alto_templates_expand("quant/x.cuh", "#include \"quant_rows.cuh\"\n", &s) == ALTO_OK);
  CHECK(s && count(s, "#define ALTO_QUANT_ROWS_CUH") == 1);
  free(s);
  s = NULL;
  CHECK(alto_templates_expand("empty.hip", "", &s) == ALTO_OK && s &&
        strcmp(s, "#line 1 \"empty.hip\"\n") == 0);
  free(s);
}

int main(void) {
  RUN(test_stub);
  RUN(test_missing_include);
  RUN(test_template_source);
  return alto_test_finish();
}
