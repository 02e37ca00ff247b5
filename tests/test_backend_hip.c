/* alto_backend_open("hip"): on a machine without libamdhip64, ALTO_ERR_LIBRARY; without an AMD GPU
 * (alto's CI), ALTO_ERR_DEVICE saying so, and no crash; with one, a backend whose arch hiprtc can
 * compile for and a round trip through device memory. */
#include <string.h>

#include "runtime/backend.h"
#include "runtime/hiprtc.h"
#include "tests/harness.h"

static void test_open(void) {
  alto_backend *b = NULL;
  alto_status st = alto_backend_open("hip", &b);
  fprintf(stderr, "alto_backend_open(\"hip\"): %s: %s\n", alto_status_name(st),
          st ? alto_last_error() : "ok");
  if (st == ALTO_ERR_LIBRARY) {
    CHECK(b == NULL);
    CHECK(strstr(alto_last_error(), "libamdhip64") != NULL);
    return;
  }
  if (st != ALTO_OK) {
    CHECK(b == NULL);
    CHECKF(st == ALTO_ERR_DEVICE || st == ALTO_ERR_UNSUPPORTED, "%s", alto_status_name(st));
    if (st == ALTO_ERR_DEVICE)
      CHECKF(strstr(alto_last_error(), "no AMD GPU") != NULL, "%s", alto_last_error());
    /* A second open fails the same way (the loader state is sticky, not corrupted). */
    alto_status st2 = alto_backend_open("hip", &b);
    CHECK(st2 == st && b == NULL);
    return;
  }
  /* An AMD GPU: never reached in alto's CI. */
  CHECK(b->target == ALTO_TARGET_HIP && strcmp(b->i->name, "hip") == 0);
  CHECK(alto_hiprtc_arch_supported(b->arch) == ALTO_OK);
  alto_dptr p = 0;
  CHECK(b->i->alloc(b, 256, &p) == ALTO_OK);
  unsigned char h[256], r[256];
  for (int i = 0; i < 256; i++)
    h[i] = (unsigned char)i;
  CHECK(b->i->h2d(b, p, h, sizeof h) == ALTO_OK);
  CHECK(b->i->d2h(b, r, p, sizeof r) == ALTO_OK);
  CHECK(memcmp(h, r, sizeof h) == 0);
  CHECK(b->i->memset(b, p, 7, 256) == ALTO_OK && b->i->sync(b) == ALTO_OK);
  CHECK(b->i->d2h(b, r, p, sizeof r) == ALTO_OK && r[0] == 7 && r[255] == 7);
  b->i->free(b, p);
  alto_backend_close(b);
}

static void test_unknown_name(void) {
  alto_backend *b = NULL;
  CHECK(alto_backend_open("rocm", &b) == ALTO_ERR_INVALID_ARG && b == NULL);
  CHECK(strstr(alto_last_error(), "hip") != NULL);
}

int main(void) {
  RUN(test_open);
  RUN(test_unknown_name);
  return alto_test_finish();
}
