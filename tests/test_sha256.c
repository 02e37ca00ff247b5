/* base/sha256: the FIPS 180-4 / NIST example vectors, one-shot and streamed in odd pieces. */
#include <string.h>

#include "base/sha256.h"
#include "tests/harness.h"

static void check_hex_(const char *msg, size_t n, const char *want) {
  char hex[ALTO_SHA256_HEX_SIZE];
  alto_sha256_hex(msg, n, hex);
  CHECKF(strcmp(hex, want) == 0, "one-shot len %zu: %s != %s", n, hex, want);
  /* The same message fed in pieces of 1, 2, 3, ... bytes must give the same digest. */
  alto_sha256 s;
  alto_sha256_init(&s);
  size_t off = 0;
  for (size_t step = 1; off < n; step++) {
    size_t take = n - off < step ? n - off : step;
    alto_sha256_update(&s, msg + off, take);
    off += take;
  }
  uint8_t d[ALTO_SHA256_DIGEST_SIZE];
  alto_sha256_final(&s, d);
  alto_sha256_to_hex(d, hex);
  CHECKF(strcmp(hex, want) == 0, "streamed len %zu: %s != %s", n, hex, want);
}

static void test_nist_vectors(void) {
  check_hex_("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check_hex_("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(strlen(m448) * 8 == 448);
  check_hex_(m448, strlen(m448),
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                     "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  check_hex_(m896, strlen(m896),
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void) {
  static char a[1000000];
  memset(a, 'a', sizeof a);
  check_hex_(a, sizeof a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary (55, 56, 63, 64 bytes) take the two-block path. */
static void test_padding_boundaries(void) {
  char buf[130];
  memset(buf, 'x', sizeof buf);
  char h1[ALTO_SHA256_HEX_SIZE], h2[ALTO_SHA256_HEX_SIZE];
  alto_sha256_hex(buf, 55, h1);
  alto_sha256_hex(buf, 56, h2);
  CHECK(strcmp(h1, h2) != 0);
  /* sha256("x" * 64), computed with coreutils sha256sum. */
  check_hex_(buf, 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

int main(void) {
  RUN(test_nist_vectors);
  RUN(test_million_a);
  RUN(test_padding_boundaries);
  return alto_test_finish();
}
