/* alto's own block-scaled FP8 GEMM on Hopper (templates/gemm/, compiler/gen_gemm.h), and the
 * MXFP4 -> E4M3 operand conversion that lets MXFP4 GEMMs run on the FP8 tensor cores.
 *
 *   C[M, N] (+)= dequant(A)[M, K] dequant(B)[N, K]^T
 *
 * A and B are K-major E4M3 codes (one byte per element, row pitch K bytes) with fp32 scales: A one
 * per row per 128 along K; B one per row per 128 along K (ALTO_GEMM_B_1X128), one per 128x128
 * block (ALTO_GEMM_B_128X128), or, for MXFP4 operands converted with shared scales
 * (alto_gemm_mx_to_fp8 with share), one per row per 128 along K that the 128 rows
 * of a block share wherever the conversion could (ALTO_GEMM_B_MX: two launches, the 128x128
 * kernel reading each block's scale from its first row, which does the work when the conversion's
 * counter is 0, and the 1x128 kernel, which does it otherwise; the other returns at once). The
 * value of a code is code * scale (runtime/cpu/quant.h). The scale grids are addressed with element strides, so alto's row-major layouts and transposed ("MN-major")
 * ones both work without a copy:
 *   scale of A row i, K block kb        sa[i * s_r + kb * s_k]
 *   scale of B row j (1x128)            sb[j * s_r + kb * s_k]
 *   scale of B block j/128 (128x128)    sb[(j / 128) * s_r + kb * s_k]
 *   OUTER: divisor of A row i, B row j  sa[i * s_r], sb[j * s_r] (s_k unused; s_r 0: tensorwise)
 * MN-major 1x128 grids (s_r = 1; s_k, the row count and the base 16-byte multiples: cuBLASLt's
 * layout, what the training step prepares) are the fast case: each pipeline stage loads a tile's
 * scale column with one bulk copy instead of one 4-byte copy per row.
 * ALTO_GEMM_OUTER (rowwise / tensorwise FP8, torchao): the value of a code is code / scale, so
 *   C = (sum over K blocks of the fp32 block sums) * (1 / sa[i]) * (1 / sb[j]) in the epilogue.
 * Accumulation: fp32 wgmma per 128-deep K block, then promoted into fp32 with scale_a * scale_b
 * (so the result is the fp32-accumulated product of the dequantized operands, not bit-exact with
 * any particular summation order; NUMERICS.md 8 tolerances).
 *
 * Requirements (ALTO_ERR_UNSUPPORTED otherwise, with the reason): CUDA backend on sm_90a;
 * K a multiple of 16 (TMA row pitch); codes 16-byte aligned; 1 <= M, N; 1 <= K; M, N, K < 2^31;
 * scales 4-byte aligned; ldc >= N. C is row-major with row pitch ldc elements. Asynchronous on the
 * backend's stream. */
#ifndef ALTO_RUNTIME_GEMM_GPU_H
#define ALTO_RUNTIME_GEMM_GPU_H

#include "compiler/gen_gemm.h"
#include "compiler/ir.h"
#include "runtime/backend.h"

typedef struct {
  alto_dptr codes;  /* [R, K] E4M3 bytes, K-major */
  alto_dptr scales; /* fp32 scale grid, addressed as above */
  int64_t s_r, s_k; /* element strides of the scale grid */
  alto_dptr split;  /* ALTO_GEMM_B_MX only: the u32 counter alto_gemm_mx_to_fp8 (share) wrote */
  bool e5m2;        /* E5M2 codes (else E4M3; not with ALTO_GEMM_B_MX) */
} alto_gemm_fp8_operand;

/* C (+)= A B^T as above. out_dtype ALTO_DT_BF16 or ALTO_DT_F32. cfg NULL: alto_gemm_config_for the
 * shape and the device's SM count. */
alto_status alto_gemm_fp8(alto_backend *b, alto_dptr c, alto_dtype out_dtype, int64_t ldc,
                          bool accumulate, const alto_gemm_fp8_operand *a,
                          const alto_gemm_fp8_operand *bop, alto_gemm_bscale bscale, int64_t m,
                          int64_t n, int64_t k, const alto_gemm_config *cfg);

/* The kernel descriptor alto_gemm_fp8 would launch (for alto-compile and the executor's recorder). */
alto_gemmkern alto_gemm_kernel_for(alto_gemm_bscale bscale, bool out_f32, bool accumulate,
                                   const alto_gemm_config *cfg, const char *arch);

/* Where an MXFP4 operand's codes are, for the logical [R, K] operand of a GEMM (K the reduction):
 * two elements per byte, the even one in the low nibble. */
typedef enum {
  ALTO_MX_ROWS = 0,     /* [R][K/2]: an axis -1 quantization of [R, K] (pairs along K) */
  ALTO_MX_KPAIRS_T = 1, /* [K/2][R]: an axis -2 (Bx1) quantization of the stored [K, R]; byte
                         * (i, r) holds elements (r, 2i), (r, 2i + 1). R a multiple of 16 */
  ALTO_MX_RPAIRS_T = 2, /* [K][R/2]: an axis -1 quantization of the stored [K, R] (a weight read
                         * transposed); byte (k, i) holds elements (2i, k), (2i + 1, k). R a
                         * multiple of 32 */
} alto_mx_layout;

/* An MXFP4 operand as stored: codes in `layout`; the E8M0 byte of (row r, 1x32 block j along K)
 * at scales[(r / mbr) * ms_r + j * ms_k] (mbr 32 for 32x32 2-D blocks, else 1). */
typedef struct {
  alto_dptr codes, scales;
  alto_mx_layout layout;
  int64_t mbr, ms_r, ms_k;
} alto_mx_src;

/* MXFP4 operand -> E4M3 operand with power-of-two fp32 scales per 1x128 along K, so that an MXFP4
 * GEMM runs as alto_gemm_fp8 (one CTA per 128-row x 128-K tile). The form is
 * templates/quant/mx_e4m3.cuh's; its CPU reference is alto_cpu_mx_to_e4m3 (runtime/cpu/quant.h),
 * and an MXFP4 1x32 quantization can write it directly (runtime/quant_gpu.h mx_tile):
 *   src        the stored operand [R, K] (alto_mx_src)
 *   codes      [R, K] E4M3 written
 *   scales     the [R, ceil(K/128)] fp32 grid written at scales[r * s_r + kb * s_k] (row-major:
 *              s_r = ceil(K/128), s_k = 1; MN-major, alto_gemm_fp8's fast case and cuBLASLt's
 *              layout: s_r = 1, s_k = R rounded up to 4): 2^(e_max - 127 - 6),
 *              e_max the largest E8M0 byte among the 128-block's (up to four) 1x32 blocks that hold
 *              a non-zero code (among all of them when every code is zero)
 *   codes      E4M3 round-to-nearest-even of each element's value / scale, i.e. of
 *              e2m1(c) * 2^(e - e_max + 6) for its block's byte e (a block of zeros whose e
 *              exceeds e_max: its codes are +-0)
 *   inexact    one u32 on the device, incremented (atomically) once per 128-block whose non-zero
 *              blocks' bytes span more than 14: there an element of a small block falls below
 *              E4M3's subnormal range and is rounded; elsewhere the conversion is exact (E2M1 x 2^d
 *              is an E4M3 value for d in [-8, 6]). 0 when not wanted.
 *   share      (the B operand of ALTO_GEMM_B_MX) e_max is taken over each block of 128 rows x 128
 *              along K wherever that block's non-zero 1x32 blocks span at most 14 and none has a
 *              NaN byte, so its rows share one scale per K block (written into every row of the
 *              grid, which stays a valid 1x128 grid) and the conversion stays exact. Elsewhere the
 *              block keeps the per-row scales and codes, and `split` (a device u32, required,
 *              zeroed by the caller) is incremented once per such block.
 * K a multiple of 32; codes and src->codes 16-byte aligned. A 128-block with an E8M0 NaN (0xFF)
 * gets a NaN scale (its codes are then unspecified) and is not counted. ALTO_ERR_UNSUPPORTED for a
 * layout whose R is not the multiple it needs. */
alto_status alto_gemm_mx_to_fp8(alto_backend *b, const alto_mx_src *src, bool share,
                                alto_dptr codes, alto_dptr scales, int64_t s_r, int64_t s_k,
                                alto_dptr inexact, alto_dptr split, int64_t R, int64_t K);

#endif
