// mx_to_fp8.cuh: an MXFP4 operand (E2M1 codes, E8M0 scales per 1x32 along K) as E4M3 codes with
// one power-of-two fp32 scale per 1x128 along K, the input of the FP8 GEMM (gemm_fp8_sm90.cuh with
// 1x128- or MX-scaled B): quant/mx_e4m3.cuh's form, exact whenever the non-zero 1x32 blocks'
// exponents span at most 14; a block that spans more is rounded (to nearest even) and counted
// (runtime/gemm_gpu.h).
//
// The operand is read in any of the stored layouts of runtime/gemm_gpu.h (rows of K, the transposed
// [K/2][R] of a Bx1 quantization, the transposed [K][R/2] of a weight), one CTA of 512 threads per
// 128 rows x up to ALTO_MX_TILES 128-K tiles, through shared memory; one thread per 1x32 block (16
// code bytes in, 32 out), four consecutive threads per 128-block (a K tail of fewer than four
// blocks leaves threads idle but in the shuffles). With SHARE it takes e_max over the whole 128x128
// tile wherever the tile's non-zero 1x32 blocks span at most 14 and none is NaN: then its 128 rows
// share one scale per K block (still exact), which lets the GEMM promote as with 128x128 weights. A
// tile that cannot share keeps the per-row scales and is counted in a.split.
#ifndef ALTO_MX_TO_FP8_CUH
#define ALTO_MX_TO_FP8_CUH

#include "common/alto_device.h"
#include "gemm/gemm_args.h"
#include "quant/mx_e4m3.cuh"

__device__ __forceinline__ int alto_quad_max_(int v) {
  v = max(v, __shfl_xor_sync(0xffffffffu, v, 1, 4));
  return max(v, __shfl_xor_sync(0xffffffffu, v, 2, 4));
}

// The tile form's 16-byte load for K tile kq of the row block at r0: LAYOUT 0, the thread's own
// 16 bytes (row rl, 1x32 block jl); 1 and 2, its slice of the stored tile (staged in shared memory
// and gathered by alto_mx_gather_). Zeros past the operand.
template <int LAYOUT>
__device__ __forceinline__ uint4 alto_mx_load_(const alto_mx2fp8_args &a, alto_i64 r0,
                                               alto_i64 kq, int rl, int jl) {
  const alto_i64 R = a.rows, K = a.k;
  const int t = threadIdx.x;
  uint4 v = make_uint4(0, 0, 0, 0);
  if (LAYOUT == 0) { // [R][K/2]
    if (r0 + rl < R && (kq * 4 + jl) * 32 < K)
      v = *(const uint4 *)(a.mx_codes + (r0 + rl) * (K / 2) + (kq * 4 + jl) * 16);
  } else if (LAYOUT == 1) { // [K/2][R]: byte (pair p, row r); 64 pairs x 128 rows, 16 rows per load
    const int p = t / 8, c = (t % 8) * 16;
    const alto_i64 kp = kq * 64 + p;
    if (kp < K / 2 && r0 + c < R)
      v = *(const uint4 *)(a.mx_codes + kp * R + r0 + c);
  } else { // [K][R/2]: byte (k, row pair q); 128 k x 64 bytes, 32 rows per load
    const int kk = t / 4, c = (t % 4) * 16;
    const alto_i64 kg = kq * 128 + kk;
    if (kg < K && r0 + 2 * c < R)
      v = *(const uint4 *)(a.mx_codes + kg * (R / 2) + r0 / 2 + c);
  }
  return v;
}
// Where alto_mx_load_'s slice goes in the staged tile (LAYOUT 1: [64 pairs][128 rows]; 2: [128 k]
// [64 row pairs]).
template <int LAYOUT> __device__ __forceinline__ int alto_mx_slot_() {
  const int t = threadIdx.x;
  return LAYOUT == 1 ? (t / 8) * 128 + (t % 8) * 16 : (t / 4) * 64 + (t % 4) * 16;
}
// Row rl's 1x32 block jl from a staged tile: 16 bytes, two elements along K per byte, the even one
// in the low nibble.
template <int LAYOUT>
__device__ __forceinline__ uint4 alto_mx_gather_(const alto_u8 *tile, int rl, int jl) {
  alto_u32 w[4] = {0, 0, 0, 0};
  if (LAYOUT == 1) {
#pragma unroll
    for (int b = 0; b < 16; b++)
      w[b / 4] |= (alto_u32)tile[(jl * 16 + b) * 128 + rl] << (8 * (b % 4));
  } else {
    const int sh = 4 * (rl & 1);
#pragma unroll
    for (int b = 0; b < 16; b++) {
      const alto_u32 lo = (tile[(jl * 32 + 2 * b) * 64 + rl / 2] >> sh) & 0xFu;
      const alto_u32 hi = (tile[(jl * 32 + 2 * b + 1) * 64 + rl / 2] >> sh) & 0xFu;
      w[b / 4] |= (lo | (hi << 4)) << (8 * (b % 4));
    }
  }
  return make_uint4(w[0], w[1], w[2], w[3]);
}

// One thread's 1x32 block (row, j): in its 16 code bytes, e its E8M0 byte; the four lanes of a
// 128-block are consecutive. Every thread of the CTA calls it (the shared form reduces over the
// CTA through part, one int4 per warp); absent blocks (past the operand) only take part.
template <bool SHARE, int WARPS>
__device__ __forceinline__ void alto_mx_block_(const alto_mx2fp8_args &a, int4 *part,
                                               alto_i64 row, alto_i64 j, bool present, uint4 in,
                                               int e) {
  const bool nonzero = ((in.x | in.y | in.z | in.w) & 0x77777777u) != 0;
  // over the 128-block (four lanes)
  int st[4];
  alto_mx_e4m3_stats_(st, present, nonzero, e);
#pragma unroll
  for (int q = 0; q < 4; q++)
    st[q] = alto_quad_max_(st[q]);
  if (SHARE) { // the same over the CTA's 128 rows; shared where exact and without NaN
    int w[4];
#pragma unroll
    for (int q = 0; q < 4; q++) {
      w[q] = st[q];
#pragma unroll
      for (int o = 4; o < 32; o *= 2)
        w[q] = max(w[q], __shfl_xor_sync(0xffffffffu, w[q], o));
    }
    if (threadIdx.x % 32 == 0)
      part[threadIdx.x / 32] = make_int4(w[0], w[1], w[2], w[3]);
    __syncthreads();
#pragma unroll 4
    for (int i = 0; i < WARPS; i++) { // (4 at a time: all 16 loads at once would spill)
      const int4 v = part[i];
      w[0] = max(w[0], v.x), w[1] = max(w[1], v.y), w[2] = max(w[2], v.z), w[3] = max(w[3], v.w);
    }
    const bool shared = !w[0] && !alto_mx_e4m3_inexact_(w);
    if (shared) {
#pragma unroll
      for (int q = 0; q < 4; q++)
        st[q] = w[q];
    } else if (threadIdx.x == 0) {
      atomicAdd((unsigned int *)a.split, 1u);
    }
  }
  if (!present)
    return;
  // the 128-block's scale, and this block's values relative to it
  if ((j & 3) == 0) {
    const alto_i64 b = row * a.s_r + (j / 4) * a.s_k;
    ((float *)a.scales)[b] = alto_mx_e4m3_scale_(st);
    if (alto_mx_e4m3_inexact_(st) && a.inexact)
      atomicAdd((unsigned int *)a.inexact, 1u);
  }
  alto_u32 lut0, lut1;
  alto_mx_e4m3_lut_(e, alto_mx_e4m3_emax_(st), lut0, lut1);
  const alto_u32 w[4] = {in.x, in.y, in.z, in.w};
  alto_u32 o[8];
#pragma unroll
  for (int q = 0; q < 4; q++) // eight elements (nibbles, element i at bits 4i) -> eight codes
    alto_mx_e4m3x8_(w[q], lut0, lut1, o + 2 * q);
  uint4 *dst = (uint4 *)(a.codes + row * a.k + j * 32);
  dst[0] = make_uint4(o[0], o[1], o[2], o[3]);
  dst[1] = make_uint4(o[4], o[5], o[6], o[7]);
}

// One CTA of 512 threads per 128 rows x a.tiles (<= ALTO_MX_TILES) K tiles of 128 of an operand
// stored as LAYOUT, its E8M0 byte of (row r, 1x32 block j) at mx_scales[(r / mbr) * ms_r + j *
// ms_k]; SHARE: each tile's rows share one scale where that stays exact (else per-row scales, the
// tile counted in split).
template <int THREADS, bool SHARE, int LAYOUT>
__device__ __forceinline__ void alto_mx_to_fp8(const alto_mx2fp8_args &a) {
  static_assert(THREADS == 512, "128 rows x 4 blocks per CTA");
  const alto_i64 nsub = a.k / 32, kb = (a.k + 127) / 128;
  constexpr int T = ALTO_MX_TILES;
  __shared__ __align__(16) alto_u8 tile[LAYOUT == 0 ? 16 : T * 8192];
  __shared__ int4 part[T][THREADS / 32];
  const int nt = (int)a.tiles; // K tiles per CTA, 1..T (fewer when the operand is small)
  const alto_i64 groups = (kb + nt - 1) / nt;
  const alto_i64 rb = blockIdx.x / groups, kq0 = (blockIdx.x - rb * groups) * nt;
  const int rl = threadIdx.x / 4, jl = threadIdx.x % 4;
  const alto_i64 row = rb * 128 + rl;
  uint4 raw[T];
  int e[T];
#pragma unroll
  for (int tt = 0; tt < T; tt++) { // every load first
    const alto_i64 j = (kq0 + tt) * 4 + jl;
    const bool in_cta = tt < nt;
    raw[tt] = in_cta ? alto_mx_load_<LAYOUT>(a, rb * 128, kq0 + tt, rl, jl) : make_uint4(0, 0, 0, 0);
    e[tt] = in_cta && row < a.rows && j < nsub ? a.mx_scales[(row / a.mbr) * a.ms_r + j * a.ms_k]
                                               : 0;
  }
  if (LAYOUT != 0) {
#pragma unroll
    for (int tt = 0; tt < T; tt++)
      *(uint4 *)(tile + tt * 8192 + alto_mx_slot_<LAYOUT>()) = raw[tt];
    __syncthreads();
  }
#pragma unroll
  for (int tt = 0; tt < T; tt++) {
    if (tt >= nt) // (the same for the whole CTA)
      break;
    const alto_i64 j = (kq0 + tt) * 4 + jl;
    const bool present = row < a.rows && j < nsub;
    uint4 in = LAYOUT == 0 ? raw[tt] : alto_mx_gather_<LAYOUT>(tile + tt * 8192, rl, jl);
    if (!present)
      in = make_uint4(0, 0, 0, 0);
    alto_mx_block_<SHARE, THREADS / 32>(a, part[tt], row, j, present, in, e[tt]);
  }
}

#endif
