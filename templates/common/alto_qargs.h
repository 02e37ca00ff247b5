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

/* Column lanes (16 bytes of a row each) per CTA of rowwise FP8 along axis -2 (quant_scaled.cuh's
 * alto_fp8_rowwise_cols; v values per 16 bytes): 4 (64-byte row segments: on the H100 an 8192 x 7168
 * bf16 tensor ran 0.114 ms with 4, 0.187 ms with 2) unless that leaves fewer than ~128 CTAs (one CTA
 * per strip of columns). The generator's grid uses it too. */
ALTO_HD int alto_rowwise_cols_lanes(alto_i64 cols, int v) {
  const alto_i64 chunks = (cols + v - 1) / v;
  return chunks >= 4 * 128 ? 4 : (chunks >= 2 * 128 ? 2 : 1);
}

#endif
