/* alto_qargs: the one argument block of every quantization kernel, passed by value. Shared by the
 * host (C: device pointers as 64-bit integers) and the device templates (real pointers), so the
 * layout is identical on both sides: 8-byte fields only. */
#ifndef ALTO_QARGS_H
#define ALTO_QARGS_H

#include "common/alto_numerics.h"

#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(__HIPCC__) || defined(__HIPCC_RTC__)
#define ALTO_DPTR(T) T *
#else
#define ALTO_DPTR(T) alto_u64
#endif

/* The scalars of one AdamW step, as the host computes them (runtime/ops_gpu.c): b1, b2, decay,
 * step_size, sqrt_bc2, eps, the gradient's factor; k[7] unused. */
typedef struct {
  float k[8];
} alto_adamw_k;

typedef struct {
  ALTO_DPTR(const void) x;        /* input [rows, cols] (bf16 or fp32) */
  ALTO_DPTR(void) y;              /* dequantized / fake-quantized output */
  ALTO_DPTR(alto_u8) codes;       /* element codes */
  ALTO_DPTR(void) scales;         /* block / row / tensor scales */
  ALTO_DPTR(float) outer;         /* NVFP4 outer scale (one fp32) */
  ALTO_DPTR(alto_u32) amax_bits;  /* tensor amax scratch (one u32, zeroed first) */
  ALTO_DPTR(const float) rht_sign; /* RHT signs (b) */
  ALTO_DPTR(const int) rht_perm;  /* RHT permutation (b) */
  alto_i64 rows;                  /* all rows (E * R for 3-D tensors) */
  alto_i64 cols;
  alto_i64 R;                     /* rows of one matrix (3-D), = rows for 2-D */
  alto_u64 seed;                  /* Philox key (stochastic rounding) */
  alto_u64 stream;                /* Philox stream (stochastic rounding) */
  ALTO_DPTR(alto_u8) codes2;      /* dual-output kernel: the second (wgrad) copy */
  ALTO_DPTR(void) scales2;
  alto_u64 stream2;
  ALTO_DPTR(const float) x_scales; /* re-quantization: the input codes' fp32 1x128 scales */
  ALTO_DPTR(const void) x2;       /* SwiGLU rows kernel: b of y = SwiGLU(x, b) */
  /* AdamW fused into the weights' 128x128 quantization: x is the fp32 parameter, updated in place
   * (ops/optim.cuh's step) from its gradient and moments, and the updated values are quantized */
  ALTO_DPTR(const float) opt_grad;
  ALTO_DPTR(float) opt_m;
  ALTO_DPTR(float) opt_v;
  alto_adamw_k opt_k;
  /* SwiGLU backward fused into the dual dY quantizations (quant_dual_swiglu_bwd.cuh): x is dy, x2
   * and x3 SwiGLU's inputs a and b; da's outputs in codes, scales, codes2, scales2, db's here */
  ALTO_DPTR(const void) x3;
  ALTO_DPTR(alto_u8) codes3;
  ALTO_DPTR(void) scales3;
  ALTO_DPTR(alto_u8) codes4;
  ALTO_DPTR(void) scales4;
} alto_qargs;

/* The grid of rowwise FP8 along axis -2 (quant_scaled.cuh: alto_fp8_col_amax, then
 * alto_fp8_rowwise_cols; E matrices of R rows, v values per 16 bytes): x strips of 4 x 16 bytes of
 * columns, y row splits (at least ~264 CTAs, two per SM of a 132-SM GPU, while a split keeps 512
 * rows or more), z matrices. */
ALTO_HD void alto_rowwise_cols_grid(alto_i64 E, alto_i64 R, alto_i64 cols, int v, unsigned grid[3]) {
  const alto_i64 strips = (cols + 4 * v - 1) / (4 * v);
  alto_i64 s = (264 + strips * E - 1) / (strips * E), smax = (R + 511) / 512;
  s = s < smax ? s : smax;
  grid[0] = (unsigned)strips;
  grid[1] = (unsigned)(s > 0 ? s : 1);
  grid[2] = (unsigned)E;
}

#endif
