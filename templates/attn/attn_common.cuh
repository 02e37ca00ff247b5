// attn_common.cuh: what the attention templates share: the bf16 tensor-core MMA (m16n8k16, fp32
// accumulation, sm_80+ PTX), fragment loads from padded shared-memory tiles, tile staging, masks.
//
// Fragment layouts of mma.m16n8k16 (g = lane / 4, t = lane % 4; pairs are two bf16 in one 32-bit
// register, the lower index in the low half):
//   A (16 x 16, row): a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..)
//   B (16 x 8, col):  b0 (k 2t..2t+1, n g), b1 (k 2t+8..2t+9, n g)
//   C (16 x 8, f32):  c0, c1 (g, 2t..2t+1), c2, c3 (g+8, 2t..2t+1)
// A C tile pair (n-tiles 2j, 2j+1) is, rounded to bf16, the A fragment of k-chunk j: softmax
// probabilities go from one MMA into the next without shared memory.
#ifndef ALTO_ATTN_COMMON_CUH
#define ALTO_ATTN_COMMON_CUH

#include "attn/attn_args.h"
#include "common/alto_device.h"

#define ALTO_ATTN_PAD 8 /* bf16 elements of padding per shared-memory row (16 bytes) */
#define ALTO_ATTN_LOG2E 1.4426950408889634f
#define ALTO_ATTN_LN2 0.6931471805599453f

__device__ __forceinline__ float alto_attn_ninf_() {
  return alto_f32_from_bits(0xFF800000u);
}

// c += a * b, one m16n8k16 bf16 MMA with fp32 accumulation. ALTO_ATTN_HOST_EMULATION: a host
// build that runs the templates as threads (a layout-level check without a GPU) supplies it.
#if defined(ALTO_ATTN_HOST_EMULATION)
void alto_attn_emu_mma_(float c[4], const alto_u32 a[4], const alto_u32 b[2]);
__device__ __forceinline__ void alto_attn_mma_(float c[4], const alto_u32 a[4],
                                               const alto_u32 b[2]) {
  alto_attn_emu_mma_(c, a, b);
}
#else
__device__ __forceinline__ void alto_attn_mma_(float c[4], const alto_u32 a[4],
                                               const alto_u32 b[2]) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
               "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

__device__ __forceinline__ alto_u32 alto_attn_ld32_(const alto_u16 *p) {
  return *(const alto_u32 *)p;
}
__device__ __forceinline__ alto_u32 alto_attn_pack_(alto_u16 lo, alto_u16 hi) {
  return (alto_u32)lo | ((alto_u32)hi << 16);
}
__device__ __forceinline__ alto_u32 alto_attn_pack_f32_(float lo, float hi) {
  return alto_attn_pack_(alto_f32_to_bf16(lo), alto_f32_to_bf16(hi));
}

// A fragment of rows m0.., columns k0.. of X[m][k] (row stride S elements).
template <int S>
__device__ __forceinline__ void alto_attn_ld_a_(alto_u32 a[4], const alto_u16 *X, int m0, int k0) {
  int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
  const alto_u16 *p = X + (m0 + g) * S + k0 + 2 * t;
  a[0] = alto_attn_ld32_(p);
  a[1] = alto_attn_ld32_(p + 8 * S);
  a[2] = alto_attn_ld32_(p + 8);
  a[3] = alto_attn_ld32_(p + 8 * S + 8);
}

// B fragment (k0.., n0..) of a matrix stored n-major, X[n][k] (K tile in Q K^T).
template <int S>
__device__ __forceinline__ void alto_attn_ld_bn_(alto_u32 b[2], const alto_u16 *X, int n0, int k0) {
  int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
  const alto_u16 *p = X + (n0 + g) * S + k0 + 2 * t;
  b[0] = alto_attn_ld32_(p);
  b[1] = alto_attn_ld32_(p + 8);
}

// B fragment (k0.., n0..) of a matrix stored k-major, X[k][n] (V tile in P V).
template <int S>
__device__ __forceinline__ void alto_attn_ld_bk_(alto_u32 b[2], const alto_u16 *X, int k0, int n0) {
  int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
  const alto_u16 *p = X + (k0 + 2 * t) * S + n0 + g;
  b[0] = alto_attn_pack_(p[0], p[S]);
  b[1] = alto_attn_pack_(p[8 * S], p[9 * S]);
}

// The A fragment of k-chunk j from C tiles c[2j], c[2j+1] (rounded to bf16).
__device__ __forceinline__ void alto_attn_c_to_a_(alto_u32 a[4], const float c0[4],
                                                  const float c1[4]) {
  a[0] = alto_attn_pack_f32_(c0[0], c0[1]);
  a[1] = alto_attn_pack_f32_(c0[2], c0[3]);
  a[2] = alto_attn_pack_f32_(c1[0], c1[1]);
  a[3] = alto_attn_pack_f32_(c1[2], c1[3]);
}

// Stages rows [0, R) of a bf16 matrix (row r at src + r * stride) into X[R][D + PAD]; rows at or
// past `valid` are zero (tails: a zero row contributes nothing, and no poison reaches an MMA).
template <int R, int D, int NT>
__device__ __forceinline__ void alto_attn_stage_(alto_u16 *X, const alto_u16 *src, alto_idx stride,
                                                 alto_i64 valid) {
  constexpr int CH = D / 8; /* 16-byte chunks per row */
#pragma unroll 4
  for (int i = threadIdx.x; i < R * CH; i += NT) {
    int r = i / CH, c = (i % CH) * 8;
    uint4 v = make_uint4(0u, 0u, 0u, 0u);
    if (r < valid)
      v = *(const uint4 *)(src + (alto_idx)r * stride + c);
    *(uint4 *)(X + r * (D + ALTO_ATTN_PAD) + c) = v;
  }
}

// Whether key s is visible to query t (both < T).
template <bool CAUSAL>
__device__ __forceinline__ bool alto_attn_visible_(alto_i64 t, alto_i64 s, alto_i64 T,
                                                   alto_i64 window) {
  return t < T && s < T && (!CAUSAL || s <= t) && (window <= 0 || s > t - window);
}

// Reduction over the 4 lanes of a quad (the lanes holding one C row).
__device__ __forceinline__ float alto_attn_quad_max_(float v) {
  v = fmaxf(v, ALTO_SHFL_XOR(v, 1, 32));
  return fmaxf(v, ALTO_SHFL_XOR(v, 2, 32));
}
__device__ __forceinline__ float alto_attn_quad_sum_(float v) {
  v += ALTO_SHFL_XOR(v, 1, 32);
  return v + ALTO_SHFL_XOR(v, 2, 32);
}

// Stores a warp's 16 x (8 NDT) fp32 C tiles as bf16 rows m0.. of dst (row r at dst + r * stride),
// scaled by s[0] (rows g) / s[1] (rows g + 8); rows at or past `valid` are not written.
template <int NDT>
__device__ __forceinline__ void alto_attn_store_rows_(alto_u16 *dst, alto_idx stride, int m0,
                                                      alto_i64 valid, const float c[NDT][4],
                                                      const float s[2]) {
  int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
  for (int h = 0; h < 2; h++) {
    int r = m0 + g + 8 * h;
    if (r >= valid)
      continue;
    alto_u16 *p = dst + (alto_idx)r * stride + 2 * t;
#pragma unroll
    for (int j = 0; j < NDT; j++)
      *(alto_u32 *)(p + 8 * j) = alto_attn_pack_f32_(c[j][2 * h] * s[h], c[j][2 * h + 1] * s[h]);
  }
}

#endif
