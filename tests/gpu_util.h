/* Test helpers for device buffers: guard bytes on both sides of every output (checked on readback),
 * poisoned contents so an unwritten element shows. Header-only; include once per test. */
#ifndef ALTO_TESTS_GPU_UTIL_H
#define ALTO_TESTS_GPU_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "runtime/backend.h"
#include "tests/harness.h"

#define GPU_GUARD 256
#define GPU_GUARD_BYTE 0xA5
#define GPU_POISON_BYTE 0x5A

typedef struct {
  alto_dptr base;
  size_t bytes;
} gpu_buf;

static gpu_buf gpu_alloc(alto_backend *b, size_t bytes) {
  gpu_buf g = {0, bytes};
  CHECK(b->i->alloc(b, bytes + 2 * GPU_GUARD, &g.base) == ALTO_OK);
  CHECK(b->i->memset(b, g.base, GPU_GUARD_BYTE, GPU_GUARD) == ALTO_OK);
  CHECK(b->i->memset(b, g.base + GPU_GUARD, GPU_POISON_BYTE, bytes) == ALTO_OK);
  CHECK(b->i->memset(b, g.base + GPU_GUARD + bytes, GPU_GUARD_BYTE, GPU_GUARD) == ALTO_OK);
  return g;
}
static alto_dptr gpu_ptr(gpu_buf g) { return g.base + GPU_GUARD; }
static void gpu_upload(alto_backend *b, gpu_buf g, const void *src) {
  CHECK(b->i->h2d(b, gpu_ptr(g), src, g.bytes) == ALTO_OK);
}
/* Reads the buffer back into dst (g.bytes), checking both guards. */
static void gpu_download(alto_backend *b, void *dst, gpu_buf g, const char *what) {
  uint8_t *all = malloc(g.bytes + 2 * GPU_GUARD);
  CHECKF(b->i->d2h(b, all, g.base, g.bytes + 2 * GPU_GUARD) == ALTO_OK, "%s", alto_last_error());
  int bad = 0;
  for (size_t i = 0; i < GPU_GUARD; i++)
    bad += all[i] != GPU_GUARD_BYTE || all[GPU_GUARD + g.bytes + i] != GPU_GUARD_BYTE;
  CHECKF(bad == 0, "%s: %d guard bytes overwritten", what, bad);
  memcpy(dst, all + GPU_GUARD, g.bytes);
  free(all);
}
static void gpu_free(alto_backend *b, gpu_buf *g) {
  if (g->base)
    b->i->free(b, g->base);
  g->base = 0;
}

#endif
