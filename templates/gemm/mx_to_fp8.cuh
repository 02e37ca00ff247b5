// mx_to_fp8.cuh: an MXFP4 operand (E2M1 codes, E8M0 scales per 1x32 along K) as E4M3 codes with
// one power-of-two fp32 scale per 1x128 along K, the input of the FP8 GEMM (gemm_fp8_sm90.cuh with
// 1x128- or MX-scaled B). Every E2M1 value times 2^d is an E4M3 value for d in [-8, 6] (6 x 2^6 =
// 384 <= 448, 0.5 x 2^-8 = 2^-9 the smallest subnormal), so with the 128-block's scale
// 2^(e_max - 6) the conversion is exact whenever the non-zero 1x32 blocks' exponents span at most
// 14; a block that spans more is rounded (to nearest even) and counted (runtime/gemm_gpu.h).
//
// The 128x128 form (TWO_D) takes e_max over 128 rows x 128 along K instead, wherever that block's
// non-zero 1x32 blocks span at most 14 and none is NaN: then its 128 rows share one scale per K
// block (still exact), which lets the GEMM promote as with 128x128 weights. A block that cannot
// share keeps the 1x128 form's per-row scales and is counted in a.split.
//
// One thread per 1x32 block (16 code bytes in, 32 out), four consecutive threads per 128-block
// (a K tail of fewer than four blocks leaves threads idle but in the shuffles); TWO_D: one CTA of
// 512 threads per 128-row x 128-K block.
#ifndef ALTO_MX_TO_FP8_CUH
#define ALTO_MX_TO_FP8_CUH

#include "common/alto_device.h"
#include "gemm/gemm_args.h"
#include "quant/quant_codes.cuh"

__device__ __forceinline__ int alto_quad_max_(int v) {
  v = max(v, __shfl_xor_sync(0xffffffffu, v, 1, 4));
  return max(v, __shfl_xor_sync(0xffffffffu, v, 2, 4));
}

template <int THREADS, bool TWO_D>
__device__ __forceinline__ void alto_mx_to_fp8(const alto_mx2fp8_args &a) {
  static_assert(!TWO_D || THREADS == 512, "the 128x128 form: 128 rows x 4 blocks per CTA");
  const alto_i64 nsub = a.k / 32, kb = (a.k + 127) / 128, per_row = kb * 4;
  alto_i64 row, j;
  if (TWO_D) {
    const alto_i64 rb = blockIdx.x / kb, kq = blockIdx.x - rb * kb;
    row = rb * 128 + threadIdx.x / 4;
    j = kq * 4 + threadIdx.x % 4;
  } else {
    const alto_i64 t = (alto_i64)blockIdx.x * THREADS + threadIdx.x;
    row = t / per_row;
    j = t - row * per_row;
  }
  const bool live = row < a.rows, present = live && j < nsub;
  uint4 in = make_uint4(0, 0, 0, 0);
  int e = 0;
  if (present) {
    in = *(const uint4 *)(a.mx_codes + row * (a.k / 2) + j * 16);
    e = a.mx_scales[row * nsub + j];
  }
  const bool nonzero = ((in.x | in.y | in.z | in.w) & 0x77777777u) != 0;
  // over the 128-block (four lanes): any NaN byte, the largest byte of a non-zero block, the
  // largest byte, minus the smallest byte of a non-zero block (-1 / -1000 where there is none)
  int st[4] = {present && e == 0xFF ? 1 : 0, present && nonzero ? e : -1, present ? e : -1,
               present && nonzero ? -e : -1000};
#pragma unroll
  for (int q = 0; q < 4; q++)
    st[q] = alto_quad_max_(st[q]);
  if (TWO_D) { // the same over the CTA's 128 rows; shared where exact and without NaN
    __shared__ int part[THREADS / 32][4];
    int w[4];
#pragma unroll
    for (int q = 0; q < 4; q++) {
      w[q] = st[q];
#pragma unroll
      for (int o = 4; o < 32; o *= 2)
        w[q] = max(w[q], __shfl_xor_sync(0xffffffffu, w[q], o));
      if (threadIdx.x % 32 == 0)
        part[threadIdx.x / 32][q] = w[q];
    }
    __syncthreads();
#pragma unroll
    for (int q = 0; q < 4; q++) {
      w[q] = part[0][q];
      for (int i = 1; i < THREADS / 32; i++)
        w[q] = max(w[q], part[i][q]);
    }
    const bool shared = !w[0] && (w[1] < 0 || w[1] + w[3] <= 14);
    if (shared) {
#pragma unroll
      for (int q = 0; q < 4; q++)
        st[q] = w[q];
    } else if (threadIdx.x == 0) {
      atomicAdd((unsigned int *)a.split, 1u);
    }
  }
  const int nan = st[0], hi = st[1], any = st[2], lo = -st[3];
  const int e_max = hi >= 0 ? hi : any;
  if (!present)
    return;
  // the 128-block's scale 2^(e_max - 127 - 6), and this block's values relative to it
  if ((j & 3) == 0) {
    const alto_i64 b = row * a.s_r + (j / 4) * a.s_k;
    ((float *)a.scales)[b] = nan ? alto_f32_from_bits(ALTO_F32_NAN_BITS)
                                 : alto_exp2i_f32(e_max - 133);
    if (!nan && hi >= 0 && hi - lo > 14 && a.inexact)
      atomicAdd((unsigned int *)a.inexact, 1u);
  }
  const int d = e - e_max + 6;
  // d > 6 only for a block of zeros whose scale exceeds the non-zero blocks' (its values stay 0)
  const float p = d > 6 ? 1.f : d >= -149 ? alto_exp2i_f32(d) : 0.f;
  const alto_u32 w[4] = {in.x, in.y, in.z, in.w};
  alto_u32 o[8];
#pragma unroll
  for (int q = 0; q < 4; q++) {
#pragma unroll
    for (int h = 0; h < 2; h++) { // two bytes = four elements -> four E4M3 codes
      const alto_u32 b = w[q] >> (16 * h);
      const float v0 = alto_e2m1_to_f32((alto_u8)(b & 0xF)) * p;
      const float v1 = alto_e2m1_to_f32((alto_u8)((b >> 4) & 0xF)) * p;
      const float v2 = alto_e2m1_to_f32((alto_u8)((b >> 8) & 0xF)) * p;
      const float v3 = alto_e2m1_to_f32((alto_u8)((b >> 12) & 0xF)) * p;
      o[2 * q + h] = alto_fp8x2_<ALTO_ELEM_E4M3>(v0, v1) |
                     (alto_fp8x2_<ALTO_ELEM_E4M3>(v2, v3) << 16);
    }
  }
  uint4 *dst = (uint4 *)(a.codes + row * a.k + j * 32);
  dst[0] = make_uint4(o[0], o[1], o[2], o[3]);
  dst[1] = make_uint4(o[4], o[5], o[6], o[7]);
}

#endif
