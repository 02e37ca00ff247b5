// SwiGLU forward and backward over N elements (bf16 or fp32, one dtype). Each element is the CPU
// reference's sequence of fp32 operations (runtime/cpu/ops.c), no contractions, with the sigmoid
// s = (float)(1 / (1 + exp(-(double)a))):
//
// swiglu      out = (a s) b                                          out, a, b (N,)
// swiglu_bwd  da = ((dy b) s) (1 + a (1 - s)), db = (dy a) s          da, db, dy, a, b (N,)
//
// bf16: a takes 65536 values, so s comes from a table of the CPU's own sigmoids
// (ops/sigmoid_bf16.h, computed with glibc's exp and checked against the host libm): every result
// is the CPU's, bit for bit. Each CTA copies the table (33 KB) into shared memory once and then
// streams 16-byte vectors (8 elements, the next vector loaded while this one is computed), about
// 64 elements per thread. fp32: s in double with CUDA's exp, whose last bit may differ from
// glibc's, so s (and the results) may differ from the CPU's by an ulp in rare elements (the test's
// bound).
#ifndef ALTO_OPS_SWIGLU_CUH
#define ALTO_OPS_SWIGLU_CUH

#include "ops/ops_common.cuh"

#define ALTO_OPS_SIGMOID_QUAL alignas(16) static __device__ const
#include "ops/sigmoid_bf16.h"

#define ALTO_OPS_SIGMOID_N (2 * ALTO_OPS_SIGMOID_PER)

__device__ __forceinline__ float alto_sigmoid_ref(float a) {
  return (float)ALTO_DDIV(1.0, ALTO_DADD(1.0, exp(-(double)a)));
}

// The CPU's sigmoid of the bf16 with bits p (the low 16 bits of p; the rest zero).
__device__ __forceinline__ float alto_sigmoid_bf16_(const float *tab, alto_u32 p) {
  alto_u32 u = p & 0x7FFFu;
  u = u < ALTO_OPS_SIGMOID_LO ? ALTO_OPS_SIGMOID_LO : u;
  u = u > ALTO_OPS_SIGMOID_HI - 1 ? ALTO_OPS_SIGMOID_HI - 1 : u;
  return tab[(p >> 15) * ALTO_OPS_SIGMOID_PER + u - ALTO_OPS_SIGMOID_LO];
}

// The table into shared memory (every thread of the CTA calls it).
template <int NT> __device__ __forceinline__ void alto_sigmoid_tab_fill_(float *tab) {
  const uint4 *src = (const uint4 *)alto_ops_sigmoid_bf16_tab;
  for (int i = threadIdx.x; i < ALTO_OPS_SIGMOID_N / 4; i += NT)
    ((uint4 *)tab)[i] = src[i];
  __syncthreads();
}

/* one bf16 pair of each operand -> the packed pair of out */
__device__ __forceinline__ alto_u32 alto_swiglu2_(const float *tab, alto_u32 wa, alto_u32 wb) {
  const float a0 = alto_ops_lo_(wa), a1 = alto_ops_hi_(wa);
  const float s0 = alto_sigmoid_bf16_(tab, wa & 0xFFFFu), s1 = alto_sigmoid_bf16_(tab, wa >> 16);
  return alto_ops_pack_bf16x2(ALTO_FMUL(ALTO_FMUL(a0, s0), alto_ops_lo_(wb)),
                              ALTO_FMUL(ALTO_FMUL(a1, s1), alto_ops_hi_(wb)));
}

/* da and db of one element */
__device__ __forceinline__ void alto_swiglu_bwd1_(float d, float a, float b, float s, float *da,
                                                  float *db) {
  const float ds = ALTO_FADD(1.0f, ALTO_FMUL(a, ALTO_FSUB(1.0f, s)));
  *da = ALTO_FMUL(ALTO_FMUL(ALTO_FMUL(d, b), s), ds);
  *db = ALTO_FMUL(ALTO_FMUL(d, a), s);
}

template <int NT>
__device__ __forceinline__ void alto_swiglu_bf16_(alto_u16 *out, const alto_u16 *a,
                                                  const alto_u16 *b, alto_i64 n) {
  alignas(16) __shared__ float tab[ALTO_OPS_SIGMOID_N];
  const alto_idx nv = alto_ops_aligned16(out, a, b) ? n / 8 : 0;
  const alto_idx stride = (alto_idx)gridDim.x * NT;
  alto_idx v = (alto_idx)blockIdx.x * NT + threadIdx.x;
  uint4 pa = {0, 0, 0, 0}, pb = {0, 0, 0, 0}; /* the next vector: loads in flight during the fill */
  if (v < nv)
    pa = ((const uint4 *)a)[v], pb = ((const uint4 *)b)[v];
  alto_sigmoid_tab_fill_<NT>(tab);
  for (; v < nv; v += stride) {
    const uint4 ca = pa, cb = pb;
    if (v + stride < nv)
      pa = ((const uint4 *)a)[v + stride], pb = ((const uint4 *)b)[v + stride];
    uint4 o;
    o.x = alto_swiglu2_(tab, ca.x, cb.x);
    o.y = alto_swiglu2_(tab, ca.y, cb.y);
    o.z = alto_swiglu2_(tab, ca.z, cb.z);
    o.w = alto_swiglu2_(tab, ca.w, cb.w);
    ((uint4 *)out)[v] = o;
  }
  ALTO_OPS_TAIL_LOOP_(i, nv, n) {
    const float av = alto_bf16_to_f32(a[i]);
    out[i] = alto_f32_to_bf16(
        ALTO_FMUL(ALTO_FMUL(av, alto_sigmoid_bf16_(tab, a[i])), alto_bf16_to_f32(b[i])));
  }
}

template <int NT>
__device__ __forceinline__ void alto_swiglu_bwd_bf16_(alto_u16 *da, alto_u16 *db,
                                                      const alto_u16 *dy, const alto_u16 *a,
                                                      const alto_u16 *b, alto_i64 n) {
  alignas(16) __shared__ float tab[ALTO_OPS_SIGMOID_N];
  const alto_idx nv = alto_ops_aligned16(da, db, dy, a, b) ? n / 8 : 0;
  const alto_idx stride = (alto_idx)gridDim.x * NT;
  alto_idx v = (alto_idx)blockIdx.x * NT + threadIdx.x;
  uint4 pd = {0, 0, 0, 0}, pa = {0, 0, 0, 0}, pb = {0, 0, 0, 0};
  if (v < nv)
    pd = ((const uint4 *)dy)[v], pa = ((const uint4 *)a)[v], pb = ((const uint4 *)b)[v];
  alto_sigmoid_tab_fill_<NT>(tab);
  for (; v < nv; v += stride) {
    const alto_u32 wd[4] = {pd.x, pd.y, pd.z, pd.w}, wa[4] = {pa.x, pa.y, pa.z, pa.w},
                   wb[4] = {pb.x, pb.y, pb.z, pb.w};
    if (v + stride < nv)
      pd = ((const uint4 *)dy)[v + stride], pa = ((const uint4 *)a)[v + stride],
      pb = ((const uint4 *)b)[v + stride];
    alto_u32 oa[4], ob[4];
#pragma unroll
    for (int k = 0; k < 4; k++) {
      float da0, db0, da1, db1;
      alto_swiglu_bwd1_(alto_ops_lo_(wd[k]), alto_ops_lo_(wa[k]), alto_ops_lo_(wb[k]),
                        alto_sigmoid_bf16_(tab, wa[k] & 0xFFFFu), &da0, &db0);
      alto_swiglu_bwd1_(alto_ops_hi_(wd[k]), alto_ops_hi_(wa[k]), alto_ops_hi_(wb[k]),
                        alto_sigmoid_bf16_(tab, wa[k] >> 16), &da1, &db1);
      oa[k] = alto_ops_pack_bf16x2(da0, da1);
      ob[k] = alto_ops_pack_bf16x2(db0, db1);
    }
    uint4 o;
    o.x = oa[0], o.y = oa[1], o.z = oa[2], o.w = oa[3];
    ((uint4 *)da)[v] = o;
    o.x = ob[0], o.y = ob[1], o.z = ob[2], o.w = ob[3];
    ((uint4 *)db)[v] = o;
  }
  ALTO_OPS_TAIL_LOOP_(i, nv, n) {
    float x, y;
    alto_swiglu_bwd1_(alto_bf16_to_f32(dy[i]), alto_bf16_to_f32(a[i]), alto_bf16_to_f32(b[i]),
                      alto_sigmoid_bf16_(tab, a[i]), &x, &y);
    da[i] = alto_f32_to_bf16(x);
    db[i] = alto_f32_to_bf16(y);
  }
}

template <int NT>
__device__ __forceinline__ void alto_swiglu_f32_(float *out, const float *a, const float *b,
                                                 alto_i64 n) {
  const alto_idx nv = alto_ops_aligned16(out, a, b) ? n / 8 : 0;
  ALTO_OPS_VEC_LOOP_(v, nv) {
    float x[8], y[8];
    alto_ops_load8<false>(a, v * 8, x);
    alto_ops_load8<false>(b, v * 8, y);
#pragma unroll
    for (int i = 0; i < 8; i++)
      x[i] = ALTO_FMUL(ALTO_FMUL(x[i], alto_sigmoid_ref(x[i])), y[i]);
    alto_ops_store8<false>(out, v * 8, x);
  }
  ALTO_OPS_TAIL_LOOP_(i, nv, n) {
    out[i] = ALTO_FMUL(ALTO_FMUL(a[i], alto_sigmoid_ref(a[i])), b[i]);
  }
}

template <int NT>
__device__ __forceinline__ void alto_swiglu_bwd_f32_(float *da, float *db, const float *dy,
                                                     const float *a, const float *b, alto_i64 n) {
  const alto_idx nv = alto_ops_aligned16(da, db, dy, a, b) ? n / 8 : 0;
  ALTO_OPS_VEC_LOOP_(v, nv) {
    float d[8], x[8], y[8], ra[8], rb[8];
    alto_ops_load8<false>(dy, v * 8, d);
    alto_ops_load8<false>(a, v * 8, x);
    alto_ops_load8<false>(b, v * 8, y);
#pragma unroll
    for (int i = 0; i < 8; i++)
      alto_swiglu_bwd1_(d[i], x[i], y[i], alto_sigmoid_ref(x[i]), &ra[i], &rb[i]);
    alto_ops_store8<false>(da, v * 8, ra);
    alto_ops_store8<false>(db, v * 8, rb);
  }
  ALTO_OPS_TAIL_LOOP_(i, nv, n) {
    alto_swiglu_bwd1_(dy[i], a[i], b[i], alto_sigmoid_ref(a[i]), &da[i], &db[i]);
  }
}

// NT threads per CTA (the stub's); grid: alto_opkern_grid.
template <bool BF16, int NT>
__device__ __forceinline__ void alto_swiglu(void *out, const void *a, const void *b, alto_i64 n) {
  if constexpr (BF16)
    alto_swiglu_bf16_<NT>((alto_u16 *)out, (const alto_u16 *)a, (const alto_u16 *)b, n);
  else
    alto_swiglu_f32_<NT>((float *)out, (const float *)a, (const float *)b, n);
}

template <bool BF16, int NT>
__device__ __forceinline__ void alto_swiglu_bwd(void *da, void *db, const void *dy, const void *a,
                                                const void *b, alto_i64 n) {
  if constexpr (BF16)
    alto_swiglu_bwd_bf16_<NT>((alto_u16 *)da, (alto_u16 *)db, (const alto_u16 *)dy,
                              (const alto_u16 *)a, (const alto_u16 *)b, n);
  else
    alto_swiglu_bwd_f32_<NT>((float *)da, (float *)db, (const float *)dy, (const float *)a,
                             (const float *)b, n);
}

#endif
