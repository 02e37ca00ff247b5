/* The quantization variant matrix: every (scheme, blocks, axis, rule, rounding, RHT) combination
 * alto generates kernels for. alto-compile compiles it, CI compiles it for sm_90a (NVRTC) and
 * gfx90a (hiprtc), and the GPU test checks every entry bit for bit against the CPU reference. */
#ifndef ALTO_RUNTIME_QUANT_MATRIX_H
#define ALTO_RUNTIME_QUANT_MATRIX_H

#include "runtime/quant_gpu.h"

typedef enum { ALTO_QCASE_QUANT, ALTO_QCASE_MX69, ALTO_QCASE_DUAL } alto_qcase_kind;

typedef struct {
  alto_qcase_kind kind;
  alto_quant_spec spec; /* QUANT; DUAL: the fprop copy (the wgrad copy is its axis -2 twin) */
  int rht;              /* QUANT: fused RHT chunk (0: none); DUAL: the RHT of the wgrad copy */
  int quant_bit, group_size; /* MX69 */
  char label[96];
} alto_qcase;

/* Fills up to `max` cases; returns the count. */
int alto_quant_matrix(alto_qcase *out, int max);

/* Every distinct kernel of the matrix for a target (quantize for both input dtypes, dequantize to
 * both output dtypes, MX69). Returns the count (<= max). */
int alto_quant_matrix_kernels(alto_target target, const char *arch, alto_qkern *out, int max);

#endif
