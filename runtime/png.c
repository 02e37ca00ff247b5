/* PNG encoder: signature, IHDR, one IDAT with a stored-block zlib stream, IEND (see png.h). */
#include "runtime/png.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t alto_png_crc32(uint32_t crc, const void *data, size_t n) {
  static uint32_t table[256];
  static int ready; /* benign race: every thread computes the same table */
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1;
  }
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t alto_png_adler32(uint32_t adler, const void *data, size_t n) {
  const uint8_t *p = data;
  uint32_t a = adler & 0xffff, b = adler >> 16;
  while (n > 0) {
    size_t chunk = n < 5552 ? n : 5552; /* the largest run without overflow (zlib's NMAX) */
    n -= chunk;
    while (chunk--) {
      a += *p++;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b << 16) | a;
}

static void put_be32_(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Appends a chunk (length, type, data, CRC of type + data) at *pos. */
static void chunk_(uint8_t *buf, size_t *pos, const char type[4], const uint8_t *data, size_t n) {
  uint8_t *p = buf + *pos;
  put_be32_(p, (uint32_t)n);
  memcpy(p + 4, type, 4);
  if (n)
    memmove(p + 8, data, n);
  put_be32_(p + 8 + n, alto_png_crc32(0, p + 4, n + 4));
  *pos += 12 + n;
}

alto_status alto_png_encode(int w, int h, const uint8_t *rgb, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (w <= 0 || h <= 0 || w > (1 << 15) || h > (1 << 15))
    return alto_error(ALTO_ERR_INVALID_ARG, "png: image size %dx%d out of range (1..32768)", w, h);
  size_t row = 1 + (size_t)w * 3;
  size_t raw = row * (size_t)h;
  size_t nblocks = (raw + 65534) / 65535;
  size_t zlen = 2 + raw + 5 * nblocks + 4;
  size_t total = 8 + (12 + 13) + (12 + zlen) + 12;
  uint8_t *buf = alto_xmalloc(total);
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  memcpy(buf, sig, 8);
  size_t pos = 8;
  uint8_t ihdr[13];
  put_be32_(ihdr, (uint32_t)w);
  put_be32_(ihdr + 4, (uint32_t)h);
  ihdr[8] = 8;  /* bit depth */
  ihdr[9] = 2;  /* color type RGB */
  ihdr[10] = 0; /* deflate */
  ihdr[11] = 0; /* filter method 0 */
  ihdr[12] = 0; /* no interlace */
  chunk_(buf, &pos, "IHDR", ihdr, 13);

  /* The IDAT payload is built in place after the 8 bytes of length and type. */
  uint8_t *z = buf + pos + 8;
  size_t zp = 0;
  z[zp++] = 0x78; /* CMF: deflate, 32K window */
  z[zp++] = 0x01; /* FLG: no dict, fastest; (0x78 << 8 | 0x01) % 31 == 0 */
  uint32_t adler = 1;
  size_t done = 0; /* raw bytes emitted */
  for (size_t b = 0; b < nblocks; b++) {
    size_t len = raw - done < 65535 ? raw - done : 65535;
    z[zp++] = (uint8_t)(b + 1 == nblocks); /* BFINAL, BTYPE 00 (stored) */
    z[zp++] = (uint8_t)len;
    z[zp++] = (uint8_t)(len >> 8);
    z[zp++] = (uint8_t)~len;
    z[zp++] = (uint8_t)(~len >> 8);
    /* Copy `len` bytes of the filtered image stream: byte i of it is row i / row, column
     * i % row (column 0 is the filter byte 0). */
    for (size_t k = 0; k < len;) {
      size_t i = done + k, r = i / row, c = i % row;
      if (c == 0) {
        z[zp + k] = 0;
        k++;
        continue;
      }
      size_t n = row - c < len - k ? row - c : len - k;
      memcpy(z + zp + k, rgb + r * (size_t)w * 3 + (c - 1), n);
      k += n;
    }
    adler = alto_png_adler32(adler, z + zp, len);
    zp += len;
    done += len;
  }
  put_be32_(z + zp, adler);
  zp += 4;
  ALTO_ASSERT(zp == zlen);
  chunk_(buf, &pos, "IDAT", z, zp);
  chunk_(buf, &pos, "IEND", NULL, 0);
  ALTO_ASSERT(pos == total);
  *out = buf;
  *out_len = total;
  return ALTO_OK;
}

alto_status alto_png_write(const char *path, int w, int h, const uint8_t *rgb) {
  uint8_t *png;
  size_t n;
  ALTO_TRY(alto_png_encode(w, h, rgb, &png, &n));
  size_t tl = strlen(path) + 32;
  char *tmp = alto_xmalloc(tl);
  snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  alto_status s = ALTO_OK;
  if (!f) {
    s = alto_error(ALTO_ERR_IO, "cannot write plot %s: %s (is the run directory writable?)", tmp,
                   strerror(errno));
  } else {
    bool ok = fwrite(png, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
      s = alto_error(ALTO_ERR_IO, "cannot write plot %s: %s", path, strerror(errno));
      unlink(tmp);
    }
  }
  free(tmp);
  free(png);
  return s;
}
