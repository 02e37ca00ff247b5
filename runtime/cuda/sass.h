/* Post-compile edits of sm_90 SASS in a cubin (an ELF64 image), in place, sizes unchanged.
 *
 * alto_sass_ffma_yield: a scheduling hint in the spirit of DeepGEMM's "FFMA interleave". A GEMM's
 * promotion (total += partial * scale after every 128-deep K block) is a long run of FFMAs; ptxas
 * lets every other one yield (the rest keep the scale register in the operand reuse cache for the
 * next FFMA, which forbids a warp switch in between), so the warp that promotes keeps its
 * scheduler while the other consumer warpgroup waits to issue its next wgmma. In the first 9/16 of
 * every run of at least 8 consecutive register FFMAs (opcode 0x223), each FFMA that holds its b
 * operand in the reuse cache gives the cache up and may yield. Both are hints: the results do not
 * change, only the issue order (an FFMA without the cached operand reads the register file).
 *
 * Encoding facts used (Volta and later, 128-bit instructions, little-endian 64-bit halves): the
 * opcode in bits 0..11 of the low half (0x223: FFMA R, R, R, R), register b in bits 32..39; in the
 * high half, bit 45 set forbids a yield after the instruction and bit 59 keeps operand b in the
 * reuse cache (checked on NVRTC's output of alto's GEMM: ptxas sets both on every other promotion
 * FFMA, the ones whose successor reads the same scale register). */
#ifndef ALTO_RUNTIME_CUDA_SASS_H
#define ALTO_RUNTIME_CUDA_SASS_H

#include <stddef.h>

#include "base/status.h"

typedef struct {
  int text_sections; /* .text.<kernel> sections seen */
  int runs;          /* FFMA runs of 8 or more */
  int ffma;          /* FFMAs in those runs */
  int changed;       /* FFMAs edited */
} alto_sass_stats;

/* Edits every .text section of the cubin as described above. ALTO_ERR_INVALID_ARG when the image
 * is not a well-formed ELF64 (nothing is written then). stats may be NULL. */
alto_status alto_sass_ffma_yield(void *cubin, size_t size, alto_sass_stats *stats);

#endif
