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

// ---- 16-byte vectors ---------------------------------------------------------------------------
// The streaming kernels move 16 bytes per access (8 bf16, or 8 fp32 as two 16-byte halves) when
// every pointer is 16-byte aligned (the arena's buffers are 256-byte aligned); elements past the
// last whole vector, or every element of a misaligned call, take the scalar path.
__device__ __forceinline__ bool alto_ops_aligned16(const void *a, const void *b = nullptr,
                                                   const void *c = nullptr, const void *d = nullptr,
                                                   const void *e = nullptr) {
  return (((alto_u64)a | (alto_u64)b | (alto_u64)c | (alto_u64)d | (alto_u64)e) & 15u) == 0;
}

// The two bf16 halves of a 32-bit word as fp32 (exact).
__device__ __forceinline__ float alto_ops_lo_(alto_u32 w) {
  return alto_f32_from_bits(w << 16);
}
__device__ __forceinline__ float alto_ops_hi_(alto_u32 w) {
  return alto_f32_from_bits(w & 0xFFFF0000u);
}

// Two fp32 values rounded to bf16 and packed (lo in the low half), bit for bit alto_f32_to_bf16:
// on sm_80+ one cvt.rn.bf16x2 (round to nearest even, overflow to Inf, subnormals kept), whose
// NaN (the canonical one) is replaced by alto_f32_to_bf16's (sign and payload kept, quieted).
__device__ __forceinline__ alto_u32 alto_ops_pack_bf16x2(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  alto_u32 w;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo));
  if (lo != lo || hi != hi) /* NaN: x != x (no fast-math in the JIT's options) */
    w = (alto_u32)alto_f32_to_bf16(lo) | (alto_u32)alto_f32_to_bf16(hi) << 16;
  return w;
#else
  return (alto_u32)alto_f32_to_bf16(lo) | (alto_u32)alto_f32_to_bf16(hi) << 16;
#endif
}

// 8 consecutive elements at element e (e a multiple of 8, the pointer 16-byte aligned).
template <bool BF16>
__device__ __forceinline__ void alto_ops_load8(const void *x, alto_idx e, float v[8]) {
  if (BF16) {
    const uint4 p = *(const uint4 *)((const alto_u16 *)x + e);
    const alto_u32 w[4] = {p.x, p.y, p.z, p.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
      v[2 * i] = alto_ops_lo_(w[i]);
      v[2 * i + 1] = alto_ops_hi_(w[i]);
    }
  } else {
    const float4 a = ((const float4 *)((const float *)x + e))[0];
    const float4 b = ((const float4 *)((const float *)x + e))[1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
    v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  }
}

template <bool BF16>
__device__ __forceinline__ void alto_ops_store8(void *y, alto_idx e, const float v[8]) {
  if (BF16) {
    uint4 p;
    p.x = alto_ops_pack_bf16x2(v[0], v[1]);
    p.y = alto_ops_pack_bf16x2(v[2], v[3]);
    p.z = alto_ops_pack_bf16x2(v[4], v[5]);
    p.w = alto_ops_pack_bf16x2(v[6], v[7]);
    *(uint4 *)((alto_u16 *)y + e) = p;
  } else {
    float4 *p = (float4 *)((float *)y + e);
    p[0] = make_float4(v[0], v[1], v[2], v[3]);
    p[1] = make_float4(v[4], v[5], v[6], v[7]);
  }
}

// 8 elements' bits copied (e a multiple of 8, 16-byte aligned pointers).
template <bool BF16>
__device__ __forceinline__ void alto_ops_copy8(void *y, alto_idx ey, const void *x, alto_idx ex) {
  if (BF16) {
    *(uint4 *)((alto_u16 *)y + ey) = *(const uint4 *)((const alto_u16 *)x + ex);
  } else {
    const uint4 a = ((const uint4 *)((const float *)x + ex))[0];
    const uint4 b = ((const uint4 *)((const float *)x + ex))[1];
    ((uint4 *)((float *)y + ey))[0] = a;
    ((uint4 *)((float *)y + ey))[1] = b;
  }
}

// The vectors [0, nv) and then the scalar elements [8 nv, n) of a grid-stride loop over n
// elements: nv = n / 8 when `aligned`, else 0 (every element scalar).
#define ALTO_OPS_VEC_LOOP_(v, nv)                                                                  \
  for (alto_idx v = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x; v < (nv);                     \
       v += (alto_idx)gridDim.x * blockDim.x)
#define ALTO_OPS_TAIL_LOOP_(i, nv, n)                                                              \
  for (alto_idx i = (nv)*8 + (alto_idx)blockIdx.x * blockDim.x + threadIdx.x; i < (n);             \
       i += (alto_idx)gridDim.x * blockDim.x)

// i over [0, n) in a grid-stride loop.
#define ALTO_OPS_GRID_STRIDE_(i, n)                                                                \
  for (alto_idx i = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
       i += (alto_idx)gridDim.x * blockDim.x)

#endif
