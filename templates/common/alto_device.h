// alto_device.h: the small vendor layer every device template includes. CUDA and HIP differ only in
// the names below (shuffles, launch bounds); everything numeric comes from alto_numerics.h.
#ifndef ALTO_DEVICE_H
#define ALTO_DEVICE_H

#if defined(__HIPCC__) && !defined(__HIPCC_RTC__)
/* hipcc (a standalone build of an `alto-compile --emit-src` file): __forceinline__, uint4,
 * make_float4 come from the HIP headers; hiprtc has them built in and takes no #include <hip/>. */
#include <hip/hip_runtime.h>
#endif
#include "common/alto_numerics.h"

// The vendor table: every CUDA/HIP difference the templates see. Checked under hiprtc (ROCm 5.2,
// gfx90a) by tests/test_quant_compile_hip.c: the rest (uint4, float4, make_float4, __float_as_uint,
// __double2ull_rz, __launch_bounds__, __forceinline__, extern __shared__, `if constexpr`) is
// common to both. The rounding of the arithmetic is alto_numerics.h's (ALTO_FADD & co).
#if defined(__HIPCC__) || defined(__HIPCC_RTC__)
#define ALTO_SHFL_XOR(v, mask, width) __shfl_xor((v), (mask), (width))
#if defined(__AMDGCN_WAVEFRONT_SIZE)
#define ALTO_WARP __AMDGCN_WAVEFRONT_SIZE /* 64 on CDNA (gfx908, gfx90a), 32 on RDNA (gfx1030) */
#else
#define ALTO_WARP 64
#endif
#define ALTO_HAS_SYNCWARP 0 /* (hiprtc of ROCm 5.2 has no __syncwarp: no warp-staged stores) */
#define ALTO_SYNCWARP() ((void)0)
#else
#define ALTO_SHFL_XOR(v, mask, width) __shfl_xor_sync(0xffffffffu, (v), (mask), (width))
#define ALTO_WARP 32
#define ALTO_HAS_SYNCWARP 1
#define ALTO_SYNCWARP() __syncwarp()
#endif

typedef alto_i64 alto_idx; /* element indices: tensors beyond 2^31 elements are normal */

// The kernel's dynamic shared memory as an array of T (the launch gives its size; the host
// emulation of the templates defines its own).
#ifndef ALTO_DYN_SMEM
#define ALTO_DYN_SMEM(T, name) extern __shared__ __align__(16) T name[]
#endif

// Loads 8 consecutive elements starting at element e (16-byte aligned for bf16, 32 for fp32).
template <bool BF16>
__device__ __forceinline__ void alto_load8(const void *x, alto_idx e, float v[8]) {
  if (BF16) {
    uint4 p = *(const uint4 *)((const alto_u16 *)x + e);
    alto_u32 w[4] = {p.x, p.y, p.z, p.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
      v[2 * i] = alto_bf16_to_f32((alto_u16)(w[i] & 0xFFFFu));
      v[2 * i + 1] = alto_bf16_to_f32((alto_u16)(w[i] >> 16));
    }
  } else {
    const float4 *p = (const float4 *)((const float *)x + e);
    float4 a = p[0], b = p[1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
    v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  }
}

// One element as fp32 (bf16 widened exactly).
template <bool BF16>
__device__ __forceinline__ float alto_load1(const void *x, alto_idx e) {
  return BF16 ? alto_bf16_to_f32(((const alto_u16 *)x)[e]) : ((const float *)x)[e];
}

// Stores 8 consecutive fp32 values as bf16 or fp32 (aligned as alto_load8).
template <bool BF16>
__device__ __forceinline__ void alto_store8(void *y, alto_idx e, const float v[8]) {
  if (BF16) {
    uint4 p;
    p.x = (alto_u32)alto_f32_to_bf16(v[0]) | ((alto_u32)alto_f32_to_bf16(v[1]) << 16);
    p.y = (alto_u32)alto_f32_to_bf16(v[2]) | ((alto_u32)alto_f32_to_bf16(v[3]) << 16);
    p.z = (alto_u32)alto_f32_to_bf16(v[4]) | ((alto_u32)alto_f32_to_bf16(v[5]) << 16);
    p.w = (alto_u32)alto_f32_to_bf16(v[6]) | ((alto_u32)alto_f32_to_bf16(v[7]) << 16);
    *(uint4 *)((alto_u16 *)y + e) = p;
  } else {
    float4 *p = (float4 *)((float *)y + e);
    p[0] = make_float4(v[0], v[1], v[2], v[3]);
    p[1] = make_float4(v[4], v[5], v[6], v[7]);
  }
}

template <bool BF16>
__device__ __forceinline__ void alto_store1(void *y, alto_idx e, float v) {
  if (BF16)
    ((alto_u16 *)y)[e] = alto_f32_to_bf16(v);
  else
    ((float *)y)[e] = v;
}

// Shared-memory staging in the input dtype (bf16 bits or fp32): values written back after an RHT
// are rounded to the operand dtype there, as NUMERICS.md 4 requires.
template <bool BF16> struct alto_smem_type_ { typedef float type; };
template <> struct alto_smem_type_<true> { typedef alto_u16 type; };
template <bool BF16>
__device__ __forceinline__ typename alto_smem_type_<BF16>::type alto_smem_from_f32_(float v) {
  return (typename alto_smem_type_<BF16>::type)(BF16 ? (float)alto_f32_to_bf16(v) : v);
}
template <>
__device__ __forceinline__ alto_u16 alto_smem_from_f32_<true>(float v) { return alto_f32_to_bf16(v); }
template <>
__device__ __forceinline__ float alto_smem_from_f32_<false>(float v) { return v; }
template <bool BF16>
__device__ __forceinline__ float alto_smem_to_f32_(typename alto_smem_type_<BF16>::type v);
template <>
__device__ __forceinline__ float alto_smem_to_f32_<true>(alto_u16 v) { return alto_bf16_to_f32(v); }
template <>
__device__ __forceinline__ float alto_smem_to_f32_<false>(float v) { return v; }

// The random words of elements e .. e+3 (e a multiple of 4): one Philox call.
__device__ __forceinline__ alto_philox4 alto_philox_words4(alto_u64 seed, alto_u64 stream,
                                                          alto_idx e) {
  alto_u64 c = (alto_u64)e >> 2;
  return alto_philox4x32_10((alto_u32)c, (alto_u32)(c >> 32), (alto_u32)stream,
                            (alto_u32)(stream >> 32), (alto_u32)seed, (alto_u32)(seed >> 32));
}

#endif
