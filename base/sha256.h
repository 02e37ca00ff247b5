/* SHA-256 (FIPS 180-4), for kernel cache keys and binary checksums. No external library: the GPU
 * machine has none. Streaming (init / update / final) and one-shot forms. */
#ifndef ALTO_BASE_SHA256_H
#define ALTO_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ALTO_SHA256_DIGEST_SIZE 32
#define ALTO_SHA256_HEX_SIZE 65 /* 64 hex digits and a NUL */

typedef struct {
  uint32_t h[8];
  uint64_t total; /* bytes hashed so far */
  uint8_t block[64];
  size_t fill; /* bytes pending in block */
} alto_sha256;

void alto_sha256_init(alto_sha256 *s);
void alto_sha256_update(alto_sha256 *s, const void *data, size_t n);
void alto_sha256_final(alto_sha256 *s, uint8_t digest[ALTO_SHA256_DIGEST_SIZE]);

/* One shot: the digest of `n` bytes. */
void alto_sha256_digest(const void *data, size_t n, uint8_t digest[ALTO_SHA256_DIGEST_SIZE]);
/* Lowercase hex of a digest into `hex` (65 bytes with the NUL). */
void alto_sha256_to_hex(const uint8_t digest[ALTO_SHA256_DIGEST_SIZE],
                        char hex[ALTO_SHA256_HEX_SIZE]);
/* One shot, as hex. */
void alto_sha256_hex(const void *data, size_t n, char hex[ALTO_SHA256_HEX_SIZE]);

#endif
