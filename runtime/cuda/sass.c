/* SASS edits in a cubin (runtime/cuda/sass.h). */
#include "runtime/cuda/sass.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static uint64_t rd_(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static void wr64_(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

enum { SASS_OP_FFMA_RRR = 0x223, SASS_MIN_RUN = 8 };
#define SASS_NO_YIELD (1ull << 45) /* set: the warp keeps its scheduler after this one */
#define SASS_REUSE_B (1ull << 59)

static bool is_ffma_(const uint8_t *ins) { return (rd_(ins, 8) & 0xFFF) == SASS_OP_FFMA_RRR; }

/* The first 9/16 of the run ins[0 .. n): every FFMA that keeps its b operand in the reuse cache
 * for the next one (and so may not yield) gives up the cache and may yield. */
static int edit_run_(uint8_t *ins, int n) {
  int changed = 0;
  for (int i = 0; i < n * 9 / 16; i++) {
    uint8_t *p = ins + 16 * i;
    const uint64_t hi = rd_(p + 8, 8);
    if ((hi & SASS_REUSE_B) && (hi & SASS_NO_YIELD)) {
      wr64_(p + 8, hi & ~(SASS_REUSE_B | SASS_NO_YIELD));
      changed++;
    }
  }
  return changed;
}

alto_status alto_sass_ffma_yield(void *cubin, size_t size, alto_sass_stats *stats) {
  alto_sass_stats st = {0, 0, 0, 0};
  uint8_t *img = cubin;
  if (size < 64 || memcmp(img, "\177ELF", 4) != 0 || img[4] != 2 /* ELFCLASS64 */ ||
      img[5] != 1 /* little-endian */)
    return alto_error(ALTO_ERR_INVALID_ARG, "sass: not a little-endian ELF64 image");
  const uint64_t shoff = rd_(img + 0x28, 8);
  const unsigned shentsize = (unsigned)rd_(img + 0x3A, 2), shnum = (unsigned)rd_(img + 0x3C, 2),
                 shstrndx = (unsigned)rd_(img + 0x3E, 2);
  if (shentsize < 64 || shstrndx >= shnum || shoff > size ||
      (uint64_t)shnum * shentsize > size - shoff)
    return alto_error(ALTO_ERR_INVALID_ARG, "sass: section headers out of the image");
  const uint8_t *strh = img + shoff + (uint64_t)shstrndx * shentsize;
  const uint64_t str_off = rd_(strh + 24, 8), str_size = rd_(strh + 32, 8);
  if (str_off > size || str_size > size - str_off)
    return alto_error(ALTO_ERR_INVALID_ARG, "sass: section names out of the image");
  /* check every .text section first, so that a malformed image is left untouched */
  for (int pass = 0; pass < 2; pass++)
    for (unsigned s = 0; s < shnum; s++) {
      const uint8_t *h = img + shoff + (uint64_t)s * shentsize;
      const uint64_t name = rd_(h, 4), off = rd_(h + 24, 8), len = rd_(h + 32, 8);
      const uint32_t type = (uint32_t)rd_(h + 4, 4);
      if (type != 1 /* SHT_PROGBITS */ || name + 6 > str_size ||
          memcmp(img + str_off + name, ".text.", 6) != 0)
        continue;
      if (pass == 0) {
        if (off > size || len > size - off || len % 16)
          return alto_error(ALTO_ERR_INVALID_ARG, "sass: text section %u out of the image", s);
        continue;
      }
      st.text_sections++;
      uint8_t *code = img + off;
      const int n = (int)(len / 16);
      for (int i = 0; i < n;) {
        int j = i;
        while (j < n && is_ffma_(code + 16 * j))
          j++;
        if (j - i >= SASS_MIN_RUN) {
          st.runs++;
          st.ffma += j - i;
          st.changed += edit_run_(code + 16 * i, j - i);
        }
        i = j > i ? j : i + 1;
      }
    }
  if (stats)
    *stats = st;
  return ALTO_OK;
}
