// Quantization along the last axis with 1-D blocks of B consecutive elements ("1xB along K"):
// MX (E8M0 scales), NVFP4 (E4M3 inner scale, fp32 outer), blockwise FP8 (fp32 scales).
//
// x      [rows, cols] bf16 or fp32 (a 3-D [E, R, C] tensor is [E*R, C]); cols % B == 0
// codes  FP4: [rows, cols/2], two elements per byte, even element in the low nibble;
//        FP8: [rows, cols]
// scales [rows, cols/B]: E8M0 / E4M3 bytes, or fp32 for blockwise FP8
// outer  NVFP4 two-level: one fp32 (the tensor's outer scale), or nullptr for 1
//
// One thread owns 16 consecutive elements (two 16-byte loads of bf16); the G = B/16 threads of a
// block are consecutive lanes and combine their amax with shuffles. Bits equal the CPU reference
// (runtime/cpu/quant_mx.c, quant_fp8.c): the same header functions, the same element indices.
#ifndef ALTO_QUANT_ROWS_CUH
#define ALTO_QUANT_ROWS_CUH

#include "common/alto_device.h"

enum { ALTO_QK_MX = 0, ALTO_QK_NVFP4 = 1, ALTO_QK_FP8_BLOCK = 2 };

// The block scale from the block amax, as a byte (MX, NVFP4) or fp32 bits (FP8 block).
template <int KIND, int ELEM, int RULE>
__device__ __forceinline__ alto_u32 alto_block_scale(float amax, float outer) {
  if (KIND == ALTO_QK_MX)
    return alto_mx_scale(amax, (alto_scale_rule)RULE, (alto_elem)ELEM);
  if (KIND == ALTO_QK_NVFP4)
    return alto_nvfp4_inner(amax, outer);
  return alto_f32_bits(alto_fp8_block_scale(amax, (alto_elem)ELEM));
}

// Per-block encoding state, computed once per block: whether the block holds a NaN (then every
// code is 0) and the constant each element needs (MX: 2^(127-s); NVFP4: inner * outer; FP8: d).
struct alto_block_enc {
  bool nan;
  float k;
};
template <int KIND>
__device__ __forceinline__ alto_block_enc alto_block_enc_make(alto_u32 scale, float outer) {
  alto_block_enc b;
  if (KIND == ALTO_QK_MX) {
    b.nan = scale == 0xFFu;
    b.k = alto_e8m0_inv_f32((alto_u8)scale);
  } else if (KIND == ALTO_QK_NVFP4) {
    b.nan = scale == 0x7Fu;
    b.k = alto_nvfp4_divisor((alto_u8)scale, outer);
  } else {
    b.nan = false; /* blockwise FP8 lets a NaN flow through the division: codes 0x7F */
    b.k = alto_f32_from_bits(scale);
  }
  return b;
}

// One element's code in its block (u = the element's random word when SR).
template <int KIND, int ELEM, bool SR>
__device__ __forceinline__ alto_u8 alto_block_encode(float v, const alto_block_enc &b, alto_u32 u) {
  if (b.nan)
    return 0;
  if (KIND == ALTO_QK_MX)
    return SR ? alto_mx_encode_sr_inv(v, b.k, u) : alto_mx_encode_inv(v, b.k, (alto_elem)ELEM);
  if (KIND == ALTO_QK_NVFP4)
    return SR ? alto_nvfp4_encode_sr_div(v, b.k, u) : alto_nvfp4_encode_div(v, b.k);
  return alto_fp8_block_encode(v, b.k, (alto_elem)ELEM);
}

// Packs 16 codes: FP4 two per byte (even element low) into 8 bytes, FP8 into 16 bytes.
template <bool FP4>
__device__ __forceinline__ void alto_store_codes16(alto_u8 *codes, alto_idx e0, const alto_u8 c[16]) {
  if (FP4) {
    uint2 w;
    w.x = w.y = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      w.x |= (alto_u32)(c[2 * i] | (c[2 * i + 1] << 4)) << (8 * i);
      w.y |= (alto_u32)(c[8 + 2 * i] | (c[8 + 2 * i + 1] << 4)) << (8 * i);
    }
    *(uint2 *)(codes + e0 / 2) = w;
  } else {
    uint4 w;
    alto_u32 *wp = (alto_u32 *)&w;
#pragma unroll
    for (int q = 0; q < 4; q++)
      wp[q] = (alto_u32)c[4 * q] | ((alto_u32)c[4 * q + 1] << 8) | ((alto_u32)c[4 * q + 2] << 16) |
              ((alto_u32)c[4 * q + 3] << 24);
    *(uint4 *)(codes + e0) = w;
  }
}

template <int KIND, int ELEM, int B, bool IN_BF16, int RULE, bool SR>
__device__ __forceinline__ void alto_quant_rows(const void *__restrict__ x,
                                                alto_u8 *__restrict__ codes,
                                                void *__restrict__ scales,
                                                const float *__restrict__ outer_ptr,
                                                alto_idx n_elems, alto_u64 seed, alto_u64 stream) {
  constexpr int V = 16;    // elements per thread: two 16-byte loads of bf16
  constexpr int G = B / V; // lanes per block
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  alto_idx t = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x;
  alto_idx e0 = t * V;
  bool active = e0 < n_elems;
  float v[V];
  if (active) {
    alto_load8<IN_BF16>(x, e0, v);
    alto_load8<IN_BF16>(x, e0 + 8, v + 8);
  } else {
#pragma unroll
    for (int i = 0; i < V; i++)
      v[i] = 0.0f;
  }
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < V; i++)
    amax = alto_amax_update(amax, v[i]);
  // Groups of G lanes are aligned (blocks start at multiples of B), so inactive tail lanes only
  // ever meet each other.
#pragma unroll
  for (int m = 1; m < G; m <<= 1)
    amax = alto_amax_update(amax, ALTO_SHFL_XOR(amax, m, ALTO_WARP));
  if (!active)
    return;
  float outer = (KIND == ALTO_QK_NVFP4 && outer_ptr) ? *outer_ptr : 1.0f;
  alto_u32 s = alto_block_scale<KIND, ELEM, RULE>(amax, outer);
  alto_u32 u[V];
#pragma unroll
  for (int i = 0; i < V; i++)
    u[i] = 0;
  if (SR) {
#pragma unroll
    for (int q = 0; q < V / 4; q++) {
      alto_philox4 w = alto_philox_words4(seed, stream, e0 + 4 * q);
#pragma unroll
      for (int i = 0; i < 4; i++)
        u[4 * q + i] = w.v[i];
    }
  }
  const alto_block_enc be = alto_block_enc_make<KIND>(s, outer);
  alto_u8 c[V];
#pragma unroll
  for (int i = 0; i < V; i++)
    c[i] = alto_block_encode<KIND, ELEM, SR>(v[i], be, u[i]);
  alto_store_codes16<FP4>(codes, e0, c);
  if ((t & (G - 1)) == 0) {
    if (KIND == ALTO_QK_FP8_BLOCK)
      ((alto_u32 *)scales)[e0 / B] = s;
    else
      ((alto_u8 *)scales)[e0 / B] = (alto_u8)s;
  }
}

#endif
