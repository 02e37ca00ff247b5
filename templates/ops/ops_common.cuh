// Shared pieces of the training-op kernels (templates/ops/): deterministic CTA reductions and the
// correctly rounded square roots. Every reduction here combines values in one fixed tree order
// (a shuffle butterfly inside each warp, then the warps' results in warp order), so a kernel
// gives the same bits on every run: no atomics on floating-point values anywhere in ops/.
#ifndef ALTO_OPS_COMMON_CUH
#define ALTO_OPS_COMMON_CUH

#include "common/alto_device.h"
#include "common/alto_opargs.h"

#if defined(__HIPCC__) || defined(__HIPCC_RTC__)
#define ALTO_FSQRT(x) sqrtf(x) /* correctly rounded in HIP's default mode */
#define ALTO_DSQRT(x) sqrt(x)
#else
#define ALTO_FSQRT(x) __fsqrt_rn(x)
#define ALTO_DSQRT(x) __dsqrt_rn(x)
#endif

__device__ __forceinline__ float alto_ops_add_(float a, float b) {
  return ALTO_FADD(a, b);
}
__device__ __forceinline__ double alto_ops_add_(double a, double b) {
  return ALTO_DADD(a, b);
}
__device__ __forceinline__ int alto_ops_add_(int a, int b) {
  return a + b;
}
/* max that ignores NaN in b (as the CPU's `l > mx ? l : mx` scan does) */
__device__ __forceinline__ float alto_ops_max_(float a, float b) {
  return b > a ? b : a;
}

// Sum (MAX false) or max (MAX true) over the CTA of NT threads; every thread gets the result.
// sh holds NT / ALTO_WARP + 1 values; calls may follow each other without a barrier in between
// (the result travels through the last slot, which the next call writes only after a barrier).
template <int NT, bool MAX, typename T> __device__ __forceinline__ T alto_block_reduce(T v, T *sh) {
  constexpr int NW = NT / ALTO_WARP;
#pragma unroll
  for (int o = ALTO_WARP / 2; o > 0; o >>= 1) {
    T u = ALTO_SHFL_XOR(v, o, ALTO_WARP);
    v = MAX ? alto_ops_max_(v, u) : alto_ops_add_(v, u);
  }
  if (NW == 1)
    return v;
  const int lane = threadIdx.x % ALTO_WARP, warp = threadIdx.x / ALTO_WARP;
  if (lane == 0)
    sh[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = sh[0];
    for (int i = 1; i < NW; i++) /* in warp order: fixed */
      w = MAX ? alto_ops_max_(w, sh[i]) : alto_ops_add_(w, sh[i]);
    if (lane == 0)
      sh[NW] = w;
  }
  __syncthreads();
  return sh[NW];
}

template <int NT, typename T> __device__ __forceinline__ T alto_block_sum(T v, T *sh) {
  return alto_block_reduce<NT, false, T>(v, sh);
}
template <int NT> __device__ __forceinline__ float alto_block_max(float v, float *sh) {
  return alto_block_reduce<NT, true, float>(v, sh);
}

// Raw element copy (bf16 or fp32 bits unchanged, NaN payloads included).
template <bool BF16>
__device__ __forceinline__ void alto_copy1(void *y, alto_idx ey, const void *x, alto_idx ex) {
  if (BF16)
    ((alto_u16 *)y)[ey] = ((const alto_u16 *)x)[ex];
  else
    ((alto_u32 *)y)[ey] = ((const alto_u32 *)x)[ex];
}

// One element converted: the same dtype copies the bits; bf16 -> fp32 widens exactly (NaN payload
// kept); fp32 -> bf16 rounds to nearest even (alto_f32_to_bf16: a NaN stays a quiet NaN, sign
// kept), bit for bit the CPU's conversions.
template <bool IN_BF16, bool OUT_BF16>
__device__ __forceinline__ void alto_cast1(void *y, alto_idx ey, const void *x, alto_idx ex) {
  if (IN_BF16 == OUT_BF16)
    alto_copy1<IN_BF16>(y, ey, x, ex);
  else if (OUT_BF16)
    ((alto_u16 *)y)[ey] = alto_f32_to_bf16(alto_f32_from_bits(((const alto_u32 *)x)[ex]));
  else
    ((alto_u32 *)y)[ey] = (alto_u32)((const alto_u16 *)x)[ex] << 16;
}

// i over [0, n) in a grid-stride loop.
#define ALTO_OPS_GRID_STRIDE_(i, n)                                                                \
  for (alto_idx i = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
       i += (alto_idx)gridDim.x * blockDim.x)

#endif
