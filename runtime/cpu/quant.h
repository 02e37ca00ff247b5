/* The CPU reference quantizers (NUMERICS.md, implemented literally through the shared numerics
 * header templates/common/alto_numerics.h). This is the oracle every GPU kernel is checked against,
 * bit for bit: codes, scales, RHT outputs, stochastic rounding.
 *
 * Tensors are row-major 2-D [R, C] or 3-D [E, R, C] (E independent matrices), bf16 or fp32.
 * The quantization axis is -1 (blocks run along C: "1xB along K") or -2 (blocks run along R:
 * "Bx1 along M"); 2-D blocks are BxB tiles of each [R, C] matrix. Every dimension a block runs
 * along must be a multiple of the block size: otherwise ALTO_ERR_INVALID_ARG naming the dim.
 *
 * Layouts (always in the ORIGINAL orientation, NUMERICS.md 1):
 *   codes   FP8 schemes: one byte per element, [E, R, C].
 *           E2M1 schemes: two elements per byte along the axis, even index in the low nibble:
 *           [E, R, C/2] for axis -1, [E, R/2, C] for axis -2 (byte [i, j] = elements [2i, j] low,
 *           [2i+1, j] high).
 *   scales  MX (E8M0 bytes) / NVFP4 (E4M3 bytes) / fp8_block (fp32):
 *           axis -1: [E, R, C/B]; axis -2: [E, R/B, C]; 2-D: [E, R/B, C/B].
 *           fp8_rowwise (fp32): axis -1: [E, R, 1]; axis -2: [E, 1, C].
 *           fp8_tensorwise (fp32): [1] (one scale for the whole tensor, E included).
 *   outer   NVFP4 two-level: one fp32 for the whole tensor (1 when two-level scaling is off).
 * MX9 / MX6 are fake-quant (output in the input dtype) with packed byte formats of their own:
 * see alto_cpu_mx69_*.
 */
#ifndef ALTO_RUNTIME_CPU_QUANT_H
#define ALTO_RUNTIME_CPU_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "compiler/scheme.h"

/* A read-only view of a row-major tensor. ndim 2 ([R, C]) or 3 ([E, R, C]); dims[] in that order. */
typedef struct {
  const void *data;
  alto_elem dtype; /* ALTO_ELEM_BF16 (uint16 bits) or ALTO_ELEM_F32 */
  int ndim;
  int64_t dims[3];
} alto_tensor_view;

/* Everything that selects a quantization variant (a subset of the kernel variant key). */
typedef struct {
  alto_scheme scheme;   /* mxfp4, mxfp8_e4m3, mxfp8_e5m2, nvfp4, fp8_block, fp8_rowwise,
                           fp8_tensorwise (mx9/mx6: see alto_cpu_mx69_*) */
  int axis;             /* -1 or -2 */
  bool block2d;         /* BxB tiles (MX: 32x32, NVFP4: 16x16, fp8_block: 128x128) */
  alto_scale_rule rule; /* MX scale rule (even by default) */
  alto_elem elem;       /* FP8 element for fp8_* schemes (E4M3 or E5M2); ignored otherwise */
  bool sr;              /* stochastic rounding (E2M1 schemes only) */
  uint64_t seed;        /* SR: run seed (Philox key) */
  uint64_t stream;      /* SR: alto_stream_id(layer, role, step, ALTO_RNG_SR) */
  bool two_level;       /* NVFP4: tensorwise outer scale */
  bool pow2_scale;      /* fp8_rowwise / fp8_tensorwise: round scales down to a power of two */
} alto_quant_spec;

/* The spec's defaults: axis -1, 1-D blocks, even rule, E4M3, RNE. */
alto_quant_spec alto_quant_spec_default(alto_scheme scheme);

/* Sizes of a quantized tensor. */
typedef struct {
  int64_t codes_bytes;
  int64_t codes_dims[3]; /* [E, R', C'] as described above (E = 1 for 2-D inputs) */
  int64_t scale_count;   /* number of scale entries */
  int64_t scale_dims[3];
  int scale_bytes; /* bytes per scale entry: 1 (E8M0, E4M3) or 4 (fp32) */
  int block_r, block_c; /* block extent along R and C (1 where none) */
} alto_quant_layout;

/* Checks the spec against the shape and fills the layout; clear error on bad shapes/options. */
alto_status alto_quant_layout_of(const alto_quant_spec *spec, const alto_tensor_view *x,
                                 alto_quant_layout *out);

/* A quantized tensor owned by the caller (alto_quantized_free). */
typedef struct {
  alto_quant_layout layout;
  uint8_t *codes;
  void *scales; /* uint8_t[] or float[] per layout.scale_bytes */
  float outer;  /* NVFP4 outer scale (1 otherwise) */
} alto_quantized;

/* Quantizes x per spec into *out (allocated here). */
alto_status alto_cpu_quantize(const alto_quant_spec *spec, const alto_tensor_view *x,
                              alto_quantized *out);
/* Dequantizes into `y` (dtype bf16 or f32, same dims as the original tensor). */
alto_status alto_cpu_dequantize(const alto_quant_spec *spec, const alto_quantized *q,
                                alto_elem out_dtype, void *y);
void alto_quantized_free(alto_quantized *q);

/* The E4M3 form of an MXFP4 operand, the input of the FP8 GEMM (templates/quant/mx_e4m3.cuh; what
 * alto_gemm_mx_to_fp8 converts to and what the rows kernel's ALTO_ROWS_FORM_MX_TILE quantizes
 * into), from an MXFP4 quantization along K of an [R, K] operand (codes [R][K/2], E8M0 bytes
 * [R][K/32]; K a multiple of 32). Per (row, 128-block along K): e_max = the largest byte of its
 * 1x32 blocks that hold a non-zero code (of all of them when every code is zero), scale
 * 2^(e_max - 133) (exact in fp32, subnormal included), codes RNE(value / scale) in E4M3 (from the
 * exact fp64 value e2m1 x 2^(e - e_max + 6)), into codes [R, K] and scales [R, ceil(K / 128)]
 * row-major. A 0xFF (NaN) byte anywhere in a 128-block makes its scale NaN (nan_block set; the
 * codes follow the same formula and mean nothing). two_d (alto_gemm_mx_to_fp8 with share): the
 * same statistics over 128 rows x 128 along K decide first; where that block has no NaN byte and
 * its non-zero blocks span at most 14 binades, every row of it takes the block's e_max; else its
 * rows as above and *split counts the block. Returns the number of (row, 128-block)s whose
 * non-zero 1x32 blocks span more than 14 binades (rounded, not exact). */
uint32_t alto_cpu_mx_to_e4m3(const uint8_t *mx_codes, const uint8_t *mx_scales, int64_t R,
                             int64_t K, bool two_d, uint8_t *codes, float *scales,
                             uint8_t *nan_block, uint32_t *split);

/* MX9 / MX6 fake-quant (Quark-exact): block `group_size` (16 default) along the last axis,
 * right-padded with zeros; quant_bit 8 (MX9) or 5 (MX6). y has x's dtype and dims. */
alto_status alto_cpu_mx69_fake(const alto_tensor_view *x, int quant_bit, int group_size, void *y);
/* Packed formats (ALTO's layout, group 16 only): MX9 18 bytes per 16 elements
 * [E8M0 max_exp+127 | prime byte (bit j = pair j) | 16 x int8 q]; MX6 12 bytes
 * [E8M0 | prime | 2 sign bytes (bit i = element i) | 8 bytes: low nibbles of q, even element low].
 * The last dim must be a multiple of 16. Packing clamps |q| to 127 / 15 (the format cannot hold
 * Quark's 128 / 16 for a demoted pair) and loses the sign of zero; documented in docs/numerics.md. */
int64_t alto_mx69_packed_bytes(int quant_bit, int64_t n_elements);
alto_status alto_cpu_mx69_pack(const alto_tensor_view *x, int quant_bit, uint8_t *packed);
alto_status alto_cpu_mx69_unpack(const uint8_t *packed, int quant_bit, int64_t n_elements,
                                 alto_elem out_dtype, void *y);

/* Randomized Hadamard transform along the token axis R of each [R, C] matrix, in chunks of b rows
 * (16..256, power of two; R a multiple of b): y = R x per NUMERICS.md 4, signs and permutation
 * from alto_rht_make(seed, stream, b). y is written in out_dtype (bf16 rounding happens here). */
alto_status alto_cpu_rht(const alto_tensor_view *x, int b, uint64_t seed, uint64_t stream,
                         alto_elem out_dtype, void *y);

/* DGE: dW[i] *= alto_dge_multiplier(W[i], scale of W[i]'s block), with W quantized per `q`
 * (an MXFP4 quantization of W, 1-D or 2-D). dw is fp32 with W's dims. */
alto_status alto_cpu_dge(const alto_quant_spec *spec, const alto_tensor_view *w,
                         const alto_quantized *q, float *dw);

/* Element i (row-major) of a view as fp32. */
static inline float alto_tensor_get(const alto_tensor_view *x, int64_t i) {
  if (x->dtype == ALTO_ELEM_BF16)
    return alto_bf16_to_f32(((const uint16_t *)x->data)[i]);
  return ((const float *)x->data)[i];
}
static inline int64_t alto_tensor_numel(const alto_tensor_view *x) {
  int64_t n = 1;
  for (int d = 0; d < x->ndim; d++)
    n *= x->dims[d];
  return n;
}

#endif
