// The residual add over N elements (bf16 or fp32, one dtype): out = a + b, out, a, b (N,) (out may
// equal a or b), bit for bit the CPU's (one fp32 add, rounded to bf16 as the CPU executor does).
// Grid-stride over 16-byte vectors (8 elements per thread and step), then the scalar tail.
// SwiGLU is in ops/swiglu.cuh.
#ifndef ALTO_OPS_ELEMENTWISE_CUH
#define ALTO_OPS_ELEMENTWISE_CUH

#include "ops/ops_common.cuh"

template <bool BF16>
__device__ __forceinline__ void alto_add(void *out, const void *a, const void *b, alto_i64 n) {
  const alto_idx nv = alto_ops_aligned16(out, a, b) ? n / 8 : 0;
  ALTO_OPS_VEC_LOOP_(v, nv) {
    float x[8], y[8];
    alto_ops_load8<BF16>(a, v * 8, x);
    alto_ops_load8<BF16>(b, v * 8, y);
#pragma unroll
    for (int i = 0; i < 8; i++)
      x[i] = ALTO_FADD(x[i], y[i]);
    alto_ops_store8<BF16>(out, v * 8, x);
  }
  ALTO_OPS_TAIL_LOOP_(i, nv, n) {
    alto_store1<BF16>(out, i, ALTO_FADD(alto_load1<BF16>(a, i), alto_load1<BF16>(b, i)));
  }
}

#endif
