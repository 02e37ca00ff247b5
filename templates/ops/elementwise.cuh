// Elementwise ops over N elements (bf16 or fp32, one dtype), grid-stride: SwiGLU forward and
// backward, and the residual add. Each element is the CPU reference's sequence of operations
// (runtime/cpu/ops.c), no contractions: add is bit for bit; SwiGLU's sigmoid is
// (float)(1 / (1 + exp(-(double)a))) on both sides, where CUDA's double exp may differ from
// glibc's by an ulp of double: the fp32 results then differ in rare elements by one ulp.
//
// swiglu      out = silu(a) * b                      out, a, b (N,)
// swiglu_bwd  da = dy b s (1 + a (1 - s)), db = dy a s (s = sigmoid(a))   da, db, dy, a, b (N,)
// add         out = a + b                            out, a, b (N,)
#ifndef ALTO_OPS_ELEMENTWISE_CUH
#define ALTO_OPS_ELEMENTWISE_CUH

#include "ops/ops_common.cuh"

__device__ __forceinline__ float alto_sigmoid_ref(float a) {
  return (float)ALTO_DDIV(1.0, ALTO_DADD(1.0, exp(-(double)a)));
}

template <bool BF16>
__device__ __forceinline__ void alto_swiglu(void *out, const void *a, const void *b, alto_i64 n) {
  ALTO_OPS_GRID_STRIDE_(i, n) {
    const float av = alto_load1<BF16>(a, i);
    alto_store1<BF16>(out, i,
                      ALTO_FMUL(ALTO_FMUL(av, alto_sigmoid_ref(av)), alto_load1<BF16>(b, i)));
  }
}

template <bool BF16>
__device__ __forceinline__ void alto_swiglu_bwd(void *da, void *db, const void *dy, const void *a,
                                                const void *b, alto_i64 n) {
  ALTO_OPS_GRID_STRIDE_(i, n) {
    const float av = alto_load1<BF16>(a, i), s = alto_sigmoid_ref(av), d = alto_load1<BF16>(dy, i);
    const float bv = alto_load1<BF16>(b, i);
    const float ds = ALTO_FADD(1.0f, ALTO_FMUL(av, ALTO_FSUB(1.0f, s)));
    alto_store1<BF16>(da, i, ALTO_FMUL(ALTO_FMUL(ALTO_FMUL(d, bv), s), ds));
    alto_store1<BF16>(db, i, ALTO_FMUL(ALTO_FMUL(d, av), s));
  }
}

template <bool BF16>
__device__ __forceinline__ void alto_add(void *out, const void *a, const void *b, alto_i64 n) {
  ALTO_OPS_GRID_STRIDE_(i, n) {
    alto_store1<BF16>(out, i, ALTO_FADD(alto_load1<BF16>(a, i), alto_load1<BF16>(b, i)));
  }
}

#endif
