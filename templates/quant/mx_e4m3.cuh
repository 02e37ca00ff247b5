// mx_e4m3.cuh: the E4M3 form of an MXFP4 operand, the input of the FP8 GEMM (runtime/gemm_gpu.h).
// Per row and 128-block along K (four 1x32 blocks), one power-of-two fp32 scale 2^(e_max - 133)
// and E4M3 codes e2m1 x 2^(e - e_max + 6), with e a 1x32 block's E8M0 byte and e_max the largest
// byte of the 128-block's blocks that hold a non-zero code (of all of them when every code is zero).
// Every E2M1 value times 2^d is an E4M3 value for d in [-8, 6] (6 x 2^6 = 384 <= 448, 0.5 x 2^-8 =
// 2^-9 the smallest subnormal), so the form is exact wherever the non-zero blocks' bytes span at
// most 14; a block that spans more is rounded to nearest even. A 0xFF (NaN) byte makes the scale NaN.
//
// Two writers share these steps, so their bits are one: gemm/mx_to_fp8.cuh converts stored MXFP4
// codes, and quant_rows.cuh (ALTO_ROWS_FORM_MX_TILE) quantizes straight into the form.
#ifndef ALTO_MX_E4M3_CUH
#define ALTO_MX_E4M3_CUH

#include "quant/quant_codes.cuh"

// One 1x32 block's statistics before the 128-block's max-reduction (every entry reduces by max):
// any NaN byte, the byte of a non-zero block, the byte, minus the byte of a non-zero block; absent
// blocks (past the operand) 0 / -1 / -1 / -1000.
__device__ __forceinline__ void alto_mx_e4m3_stats_(int st[4], bool present, bool nonzero, int e) {
  st[0] = present && e == 0xFF ? 1 : 0;
  st[1] = present && nonzero ? e : -1;
  st[2] = present ? e : -1;
  st[3] = present && nonzero ? -e : -1000;
}

// The reduced statistics' e_max.
__device__ __forceinline__ int alto_mx_e4m3_emax_(const int st[4]) {
  return st[1] >= 0 ? st[1] : st[2];
}

// The 128-block's fp32 scale.
__device__ __forceinline__ float alto_mx_e4m3_scale_(const int st[4]) {
  return st[0] ? alto_f32_from_bits(ALTO_F32_NAN_BITS) : alto_exp2i_f32(alto_mx_e4m3_emax_(st) - 133);
}

// Whether the form of the 128-block is inexact (its non-zero blocks span more than 14 binades).
__device__ __forceinline__ bool alto_mx_e4m3_inexact_(const int st[4]) {
  return !st[0] && st[1] >= 0 && st[1] + st[3] > 14;
}

// The E4M3 codes of a block's eight magnitudes x 2^(e - e_max + 6) as a byte table (lut0: codes
// 0-3, lut1: 4-7). The code of e2m1 x p depends on the magnitude code alone, the sign aside (the
// RNE satfinite cast is odd-symmetric, -0 included). d > 6 only for a block of zeros whose byte
// exceeds the non-zero blocks' (its values stay 0).
__device__ __forceinline__ void alto_mx_e4m3_lut_(int e, int e_max, alto_u32 &lut0, alto_u32 &lut1) {
  const int d = e - e_max + 6;
  const float p = d > 6 ? 1.f : d >= -149 ? alto_exp2i_f32(d) : 0.f;
  lut0 = alto_fp8x2_<ALTO_ELEM_E4M3>(ALTO_FMUL(0.0f, p), ALTO_FMUL(0.5f, p)) |
         (alto_fp8x2_<ALTO_ELEM_E4M3>(ALTO_FMUL(1.0f, p), ALTO_FMUL(1.5f, p)) << 16);
  lut1 = alto_fp8x2_<ALTO_ELEM_E4M3>(ALTO_FMUL(2.0f, p), ALTO_FMUL(3.0f, p)) |
         (alto_fp8x2_<ALTO_ELEM_E4M3>(ALTO_FMUL(4.0f, p), ALTO_FMUL(6.0f, p)) << 16);
}

// Eight E2M1 codes (element i in nibble i of w) -> eight E4M3 bytes (element i in byte i of
// o[0..1]): a byte permute per four magnitudes, the sign bits spread by another.
__device__ __forceinline__ void alto_mx_e4m3x8_(alto_u32 w, alto_u32 lut0, alto_u32 lut1,
                                                alto_u32 o[2]) {
  const alto_u32 lo = __byte_perm(lut0, lut1, w & 0x7777u);
  const alto_u32 hi = __byte_perm(lut0, lut1, (w >> 16) & 0x7777u);
  // the nibbles one per byte in element order, for their sign bits
  const alto_u32 ev = w & 0x0F0F0F0Fu, od = (w >> 4) & 0x0F0F0F0Fu;
  o[0] = lo | ((__byte_perm(ev, od, 0x5140u) << 4) & 0x80808080u);
  o[1] = hi | ((__byte_perm(ev, od, 0x7362u) << 4) & 0x80808080u);
}

#endif
