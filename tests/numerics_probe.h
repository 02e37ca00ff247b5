/* Shared by the NVRTC tests: reads a source file of the tree into memory. */
#ifndef ALTO_TESTS_NUMERICS_PROBE_H
#define ALTO_TESTS_NUMERICS_PROBE_H
#include <stdio.h>
#include <stdlib.h>

static char *probe_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    fclose(f);
    return NULL;
  }
  s[n] = '\0';
  fclose(f);
  return s;
}
#endif
