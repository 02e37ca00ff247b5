/* A minimal PNG encoder for plots (no zlib dependency).
 *
 * 8-bit RGB, no interlace, filter 0 on every row, and the zlib stream made of stored
 * (uncompressed) deflate blocks: a plot of 960x600 is ~1.7 MB, which is fine for a run directory
 * and keeps the encoder small enough to read in one sitting. The checksums (CRC-32 of each chunk,
 * Adler-32 of the zlib stream) are exposed for the tests.
 */
#ifndef ALTO_RUNTIME_PNG_H
#define ALTO_RUNTIME_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* CRC-32 (ISO 3309, as PNG uses it) of `n` bytes, continuing from `crc` (0 to start). */
uint32_t alto_png_crc32(uint32_t crc, const void *data, size_t n);
/* Adler-32 (RFC 1950) of `n` bytes, continuing from `adler` (1 to start). */
uint32_t alto_png_adler32(uint32_t adler, const void *data, size_t n);

/* Encodes a w x h RGB image (rows top to bottom, 3 bytes per pixel) into a malloc'ed buffer. */
alto_status alto_png_encode(int w, int h, const uint8_t *rgb, uint8_t **out, size_t *out_len);
/* Encodes and writes `path` atomically (a temporary next to it, then rename). */
alto_status alto_png_write(const char *path, int w, int h, const uint8_t *rgb);

#endif
