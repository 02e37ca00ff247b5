// Element-code helpers shared by the quantization templates: raw 16-byte row chunks, the FP8 and
// E2M1 casts in pairs, and the per-block encoding state.
//
// Every helper returns the bits of the scalar functions of alto_numerics.h (the CPU reference):
// they are the same computations with fewer instructions. The element kernels were instruction-
// bound (~30 SASS instructions per element) before these: the scalar FP8 cast costs ~20
// instructions, the E2M1 cast ~12, and per-element branches on the block's NaN flag kept the
// compiler from hoisting the block's constants out of the element loop.
#ifndef ALTO_QUANT_CODES_CUH
#define ALTO_QUANT_CODES_CUH

#include "common/alto_device.h"

enum { ALTO_QK_MX = 0, ALTO_QK_NVFP4 = 1, ALTO_QK_FP8_BLOCK = 2 };

// ---- raw input chunks ----------------------------------------------------------------------------
// A thread keeps 16 bytes of a row as 4 raw words (8 bf16 or 4 fp32): amax works on the bits, and
// values are widened one at a time where they are used.

// Value j of a chunk (bf16 widened exactly: the bits shifted up).
template <bool BF16>
__device__ __forceinline__ float alto_raw_val_(const alto_u32 w[4], int j) {
  if (BF16)
    return alto_f32_from_bits((j & 1) ? (w[j / 2] & 0xFFFF0000u) : (w[j / 2] << 16));
  return alto_f32_from_bits(w[j]);
}

// Max of two pairs of 16-bit fields (the magnitudes of two bf16 values per word).
__device__ __forceinline__ alto_u32 alto_max_u16x2_(alto_u32 a, alto_u32 b) {
#if defined(__CUDA_ARCH__)
  return __vmaxu2(a, b);
#else
  alto_u32 lo = (a & 0xFFFFu) > (b & 0xFFFFu) ? (a & 0xFFFFu) : (b & 0xFFFFu);
  alto_u32 hi = (a >> 16) > (b >> 16) ? (a >> 16) : (b >> 16);
  return lo | (hi << 16);
#endif
}

// alto_amax_update over the N values of raw chunks, as one fp32 bit pattern's integer max: bf16
// magnitudes are maxed two per word (a bf16 widens by a shift, which keeps the order).
template <bool BF16, int N>
__device__ __forceinline__ alto_u32 alto_raw_amax_bits_(const alto_u32 (*w)[4]) {
  if (BF16) {
    alto_u32 m = 0;
#pragma unroll
    for (int p = 0; p < N; p++)
#pragma unroll
      for (int i = 0; i < 4; i++)
        m = alto_max_u16x2_(m, w[p][i] & 0x7FFF7FFFu);
    alto_u32 lo = m << 16, hi = m & 0xFFFF0000u;
    return lo > hi ? lo : hi;
  }
  alto_u32 m = 0;
#pragma unroll
  for (int p = 0; p < N; p++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      alto_u32 a = w[p][i] & 0x7FFFFFFFu;
      m = a > m ? a : m;
    }
  return m;
}

// ---- casts -----------------------------------------------------------------------------------------
// FP8 codes of two values, lo in the low byte. On sm_89+ one cvt.rn.satfinite.{e4m3,e5m2}x2.f32
// does both: RNE, saturation to the largest finite value (Inf included) and NaN -> 0x7F, the same
// bits as alto_f32_to_e4m3 / e5m2 (tests/test_numerics_gpu.c compares CUDA's __nv_cvt_float_to_fp8,
// this instruction, with the header on every bf16 pattern and 4M random fp32 on the H100).
// -DALTO_QUANT_SOFT_FP8 (e.g. ALTO_JIT_EXTRA_OPTIONS=-DALTO_QUANT_SOFT_FP8) keeps the scalar cast.
template <int ELEM>
__device__ __forceinline__ alto_u32 alto_fp8x2_(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890 && !defined(ALTO_QUANT_SOFT_FP8)
  unsigned short r;
  if constexpr (ELEM == ALTO_ELEM_E4M3)
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  else
    asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return (alto_u32)alto_elem_encode((alto_elem)ELEM, lo) |
         ((alto_u32)alto_elem_encode((alto_elem)ELEM, hi) << 8);
#endif
}

// (a & m) | (b & ~m) in one LOP3 (the compiler splits it into two when m is a constant).
__device__ __forceinline__ alto_u32 alto_bitsel_(alto_u32 m, alto_u32 a, alto_u32 b) {
#if defined(__CUDA_ARCH__)
  alto_u32 r;
  asm("lop3.b32 %0, %1, %2, %3, 0xE4;" : "=r"(r) : "r"(a), "r"(b), "r"(m)); // (a & c) | (b & ~c)
  return r;
#else
  return (a & m) | (b & ~m);
#endif
}

// a * b + c rounded once.
__device__ __forceinline__ float alto_ffma_(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return fmaf(a, b, c);
#endif
}

// The E2M1 code (sign in bit 3) of a non-NaN value's bits b: alto_e2m1_rne_nonan_'s bits (checked on
// every non-NaN fp32 pattern by tests/quant_host_emu.cpp). The same magic-number add does the
// RNE rounding onto the grid spacing 2^(me-128), me = max(exponent, 127); here the magic also carries
// the code's offset 2 (me - 127) in its low mantissa bits (an even number of steps, so ties still go
// to the even step), and the low 3 bits of the sum are the magnitude's code.
// sign: the bits that carry the sign (b itself, or those of a value of the same sign: x for
// q = x / k with k > 0, whose zero sign the fast division does not keep).
__device__ __forceinline__ alto_u32 alto_e2m1_code_(alto_u32 b, alto_u32 sign) {
  alto_u32 ab = b & 0x7FFFFFFFu;
  ab = ab < 0x40C00000u ? ab : 0x40C00000u; // min(|x|, 6)
  alto_u32 me = ab >> 23;
  me = me > 127u ? me : 127u;
  const alto_u32 mb = me * 0x800002u + (0x0B000000u - 254u); // (me + 22) << 23, + 2 (me - 127)
  const alto_u32 s = alto_f32_bits(ALTO_FADD(alto_f32_from_bits(ab), alto_f32_from_bits(mb)));
  return alto_bitsel_(7u, s, sign >> 28); // no bit above bit 3: its bit 3 is the sign
}
__device__ __forceinline__ alto_u32 alto_e2m1_code_(alto_u32 b) { return alto_e2m1_code_(b, b); }

// ---- E2M1 codes on the FMA pipe ------------------------------------------------------------------
// alto_e2m1_code_ spends five of its seven instructions on the ALU pipe, which issues at half the
// FMA pipe's rate on sm_90; the NVFP4 rows kernel was bound by it (ncu: ALU 74%, DRAM 66%). These
// take the same codes from h = q / 2 with floating-point instructions only.
// With a = |q|, the code is RNE(g(a)) (ties to even) clamped to 7, g(a) = min(2a, a + 2, a/2 + 4):
// g is linear between neighbouring grid values and takes the value k at the k-th, so a rounding
// midpoint of the grid maps to k + 1/2 and the even code wins its ties. With s1 = sat(a/2),
// s2 = sat(a/2 - 1), s3 = sat(a/2 - 2) (each exact: a/2 - 1 on [1, 2) and a/2 - 2 on [2, 3) are
// Sterbenz differences; sat clamps to [0, 1]), min(g(a), 7) = 4 s1 + 2 s2 + s3, and at most one of
// the three lies strictly between 0 and 1 (s2 > 0 needs s1 = 1, s3 > 0 needs s2 = 1). So the sums
// M + 4 s1, + 2 s2, + s3 (M = 2^23; two FMAs and an add, one rounding each) round the one
// fractional term once onto the integers, and the bits of the result are 0x4B000000 + code.
// (alto_e2m1_rne_nonan_'s bits on every non-NaN fp32 q, with h = q * 0.5: tests/quant_host_emu.cpp;
// a q below 2^-125, whose h may round, has code 0 either way.)
__device__ __forceinline__ float alto_sat_abs_add_(float h, float c) { // min(max(|h| + c, 0), 1)
#if defined(__CUDA_ARCH__)
  float r;
  asm("add.rn.sat.f32 %0, %1, %2;" : "=f"(r) : "f"(fabsf(h)), "f"(c));
  return r;
#else
  const float t = fabsf(h) + c;
  return t > 0.0f ? (t < 1.0f ? t : 1.0f) : 0.0f;
#endif
}
__device__ __forceinline__ alto_u32 alto_e2m1_mag_h_(float h) { // 0x4B000000 + the code of |2 h|
  const float s1 = alto_sat_abs_add_(h, 0.0f), s2 = alto_sat_abs_add_(h, -1.0f),
              s3 = alto_sat_abs_add_(h, -2.0f);
  return alto_f32_bits(ALTO_FADD(alto_ffma_(s2, 2.0f, alto_ffma_(s1, 4.0f, 0x1p23f)), s3));
}

// The E2M1 code (sign in bit 3) of a magnitude m = 0x4B000000 + code (alto_e2m1_mag_h_,
// alto_e2m1_sr_mag_h_), signed like the value with bits x.
__device__ __forceinline__ alto_u32 alto_e2m1_signed_(alto_u32 m, alto_u32 x) {
  return (m & 7u) | ((x >> 28) & 8u);
}

// x >> n for n >= 0, 0 for n >= 32 (PTX's shr clamps the shift; C leaves n >= 32 undefined).
__device__ __forceinline__ alto_u32 alto_shr_clamp_(alto_u32 x, alto_u32 n) {
#if defined(__CUDA_ARCH__)
  alto_u32 r;
  asm("shr.b32 %0, %1, %2;" : "=r"(r) : "r"(x), "r"(n));
  return r;
#else
  return n >= 32u ? 0u : x >> n;
#endif
}

// The stochastically rounded E2M1 code (sign in bit 3) of a non-NaN value's bits b with random word
// u: alto_f32_to_e2m1_sr's bits (checked at every decision boundary by tests/quant_host_emu.cpp) in
// ~18 integer instructions instead of ~40. Round up iff u < T, T = floor(p 2^32), p the fraction of
// |x| past its lower grid point lo in units of the spacing, read off the bits of |x| = 1.m 2^(e-127):
//   |x| >= 1 (spacing 2^(e-128): half a binade; [4, 6) has spacing 2 = half of [4, 8)): p is the
//     low 22 significand bits over 2^22, T = bits << 10 (the higher bits shift out);
//   [0.5, 1) (lo = 0.5, spacing 0.5: the whole binade): T = bits << 9;
//   [0, 0.5) (lo = 0): p = 2|x|, T = floor(1.m 2^(e-117)) = (1.m << 8) >> (125 - e), 0 for
//     subnormal |x| (e = 0: shift 125).
// The code below lo: (bits >> 22) - 252 for |x| >= 1 (exponent and top significand bit), 1 on
// [0.5, 1), 0 below; round up adds one (the next grid point, across binades too); |x| >= 6 is 7.
// sign: as alto_e2m1_code_.
__device__ __forceinline__ alto_u32 alto_e2m1_sr_code_(alto_u32 b, alto_u32 u, alto_u32 sign) {
  const alto_u32 ab = b & 0x7FFFFFFFu;
  const bool ge1 = ab >= 0x3F800000u, ge05 = ab >= 0x3F000000u;
  const alto_u32 t = ge1 ? ab << 10
                         : (ge05 ? ab << 9
                                 : alto_shr_clamp_((ab | 0x800000u) << 8, 125u - (ab >> 23)));
  alto_u32 k = ge1 ? (ab >> 22) - 252u : (ge05 ? 1u : 0u);
  k += u < t ? 1u : 0u;
  k = ab >= 0x40C00000u ? 7u : k;
  return k | ((sign >> 28) & 8u);
}
__device__ __forceinline__ alto_u32 alto_e2m1_sr_code_(alto_u32 b, alto_u32 u) {
  return alto_e2m1_sr_code_(b, u, b);
}

// ---- the SR E2M1 code on the FMA pipe ------------------------------------------------------------
// alto_e2m1_sr_code_ below takes ~18 ALU instructions per element; the SR kernels were ALU-bound
// (ncu, session 14: ALU pipe 78%, 46 instructions per element). This takes the same code from
// h = q / 2 with 10 fp32 instructions and 3 ALU ones (ptxas: SHF and two LEA.HI for the bits of u).
// With a = |q| and g(a) = 4 s1 + 2 s2 + s3 as for alto_e2m1_mag_h_ (exact; g = k + p on the k-th
// grid interval, p NUMERICS' fraction, and 7 for a >= 6): "round up iff u < floor(p 2^32)" is
// floor(p 2^32) + ~u >= 2^32, i.e. p + ~u 2^-32 >= 1 (~u is an integer), so the code is
// floor(g + w), w = ~u 2^-32 < 1. w is split into D1 - 1 + E: D1 = 1 + (~u >> 9) 2^-23 and
// E = (~u & 511) 2^-32, both exact floats. The sums are rounded toward -Inf, which keeps
// floor(x) for x >= 0 whenever the integers involved are floats:
//   A = rd(4 s1 + E), t = rd(s3 + D1), t = rd(2 s2 + t), t = rd(A + t), code = floor(t) - 1.
//   a < 2 (s2 = s3 = 0, t = D1 until the last sum): for a >= 0.5, 2a is a multiple of 2^-23 and
//     E < 2^-23, so A = 2a and floor(rd(2a + D1)) = floor(2a + D1 + E) (2a + D1 is a multiple of
//     2^-23 too). For a < 0.5, A <= 1, and floor(rd(A + D1)) = 2 iff A >= 2 - D1, a float (a
//     multiple of 2^-23 in (0, 1]); A = rd(2a + E) is >= it iff 2a + E is.
//   2 <= a < 4 (s1 = 1, s3 = 0): A = rd(4 + E) = 4; t = rd(2 s2 + D1) keeps floor(a - 2 + D1),
//     adding 4 keeps it; a - 2 + D1 is a multiple of 2^-23, so E does not change the floor.
//   4 <= a < 6: likewise with s3 + D1 (s3 a multiple of 2^-22) plus 2 and 4.
//   a >= 6 (Inf too): s1 = s2 = s3 = 1, floor(t) = 8, code 7.
// q below 2^-125 (h may round) has threshold floor(2|q| 2^32) = 0, and so does 2|h|: code 0.
// The result is 0x4B000000 + the code, as alto_e2m1_mag_h_'s (the pack helpers below take it).
// (tests/quant_host_emu.cpp checks it against alto_f32_to_e2m1_sr at every decision boundary; the
// host's round-down sums are round-to-nearest ones corrected by their exact error.) hiprtc takes
// the integer path.
#if defined(__HIP_DEVICE_COMPILE__) || defined(__HIPCC_RTC__)
__device__ __forceinline__ alto_u32 alto_e2m1_sr_mag_h_(float h, alto_u32 u) {
  // 2h is q (exact, or below 2^-124 where the code is 0 either way)
  return 0x4B000000u + (alto_e2m1_sr_code_(alto_f32_bits(ALTO_FADD(h, h)), u, 0u) & 7u);
}
#else
__device__ __forceinline__ float alto_fadd_rd_(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rd(a, b);
#else
  const float s = a + b, bb = s - a, e = (a - (s - bb)) + (b - bb); // s + e = a + b exactly
  return e < 0.0f ? nextafterf(s, -INFINITY) : s;
#endif
}
// a * b + c rounded toward -Inf, for a * b exact (b a power of 2 here)
__device__ __forceinline__ float alto_ffma_rd_(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rd(a, b, c);
#else
  return alto_fadd_rd_(a * b, c);
#endif
}
__device__ __forceinline__ alto_u32 alto_e2m1_sr_mag_h_(float h, alto_u32 u) {
  const float s1 = alto_sat_abs_add_(h, 0.0f), s2 = alto_sat_abs_add_(h, -1.0f),
              s3 = alto_sat_abs_add_(h, -2.0f);
  // 1 + ((u >> 9) + 1) 2^-23 in (1, 2]; 3 minus it is D1 (exact: a multiple of 2^-23 in [1, 2))
  const float d1 = ALTO_FSUB(3.0f, alto_f32_from_bits((u >> 9) + 0x3F800001u));
  // 2^-23 + (u & 511) 2^-32; 2^-22 - 2^-32 minus it is E = (511 - (u & 511)) 2^-32 (exact)
  const float e1 = alto_f32_from_bits(((u << 23) >> 9) + 0x34000000u);
  const float e = ALTO_FSUB(0x1.ff8p-23f, e1);
  const float a = alto_ffma_rd_(s1, 4.0f, e); // 4 s1 exact: s1 <= 1, a subnormal's too
  float t = alto_fadd_rd_(s3, d1);
  t = alto_ffma_rd_(s2, 2.0f, t);
  t = alto_fadd_rd_(a, t);
  return alto_f32_bits(alto_fadd_rd_(t, 8388607.0f)); // 2^23 + floor(t) - 1
}
#endif

// ---- MX E2M1 codes of bf16 inputs, two values per instruction --------------------------------------
// sm_90 has bf16x2 multiply, add and min, and 16-bit-lane max: with them an MX block's E2M1 cast of bf16
// inputs takes ~6 instructions per element instead of ~11 (the scalar path above, fp32 per value).
// On the host the same steps run on a C model of the instructions (IEEE RNE), which
// tests/quant_host_emu.cpp checks against alto_mx_encode_inv for every bf16 pattern and every
// scale; other devices (sm < 90, HIP) take the scalar path.
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || \
    (!defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__) && !defined(__HIPCC_RTC__))
#define ALTO_QUANT_BF16X2 1
#else
#define ALTO_QUANT_BF16X2 0
#endif

#if !defined(__CUDA_ARCH__)
// The host model: each half widened to fp32 (exact), the fp32 result rounded to bf16 (RNE). A product
// or sum of two bf16 values rounded once to bf16 is the bf16 instruction's result.
__device__ __forceinline__ float alto_bf16h_(alto_u32 w, int h) {
  return alto_f32_from_bits(h ? (w & 0xFFFF0000u) : (w << 16));
}
__device__ __forceinline__ alto_u32 alto_bf16x2_pack_(float lo, float hi) {
  return (alto_u32)alto_f32_to_bf16(lo) | ((alto_u32)alto_f32_to_bf16(hi) << 16);
}
#endif
__device__ __forceinline__ alto_u32 alto_bf16x2_mul_(alto_u32 a, alto_u32 b) {
#if defined(__CUDA_ARCH__)
  alto_u32 r;
  asm("mul.rn.bf16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  return alto_bf16x2_pack_(alto_bf16h_(a, 0) * alto_bf16h_(b, 0), alto_bf16h_(a, 1) * alto_bf16h_(b, 1));
#endif
}
__device__ __forceinline__ alto_u32 alto_bf16x2_add_(alto_u32 a, alto_u32 b) {
#if defined(__CUDA_ARCH__)
  alto_u32 r;
  asm("add.rn.bf16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  return alto_bf16x2_pack_(alto_bf16h_(a, 0) + alto_bf16h_(b, 0), alto_bf16h_(a, 1) + alto_bf16h_(b, 1));
#endif
}
__device__ __forceinline__ alto_u32 alto_bf16x2_min_(alto_u32 a, alto_u32 b) { // no NaN operand here
#if defined(__CUDA_ARCH__)
  alto_u32 r;
  asm("min.bf16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  alto_u32 lo = alto_bf16h_(a, 0) < alto_bf16h_(b, 0) ? (a & 0xFFFFu) : (b & 0xFFFFu);
  alto_u32 hi = alto_bf16h_(a, 1) < alto_bf16h_(b, 1) ? (a & 0xFFFF0000u) : (b & 0xFFFF0000u);
  return lo | hi;
#endif
}

// Bytes of a (0..3) and b (4..7) picked by the selector's nibbles, low byte first (PTX prmt.b32):
// a nibble with bit 3 set gives its byte's sign bit replicated (0x00 or 0xFF).
__device__ __forceinline__ alto_u32 alto_prmt_(alto_u32 a, alto_u32 b, alto_u32 sel) {
#if defined(__CUDA_ARCH__)
  alto_u32 r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
#else
  const alto_u64 ab = (alto_u64)a | ((alto_u64)b << 32);
  alto_u32 r = 0;
  for (int i = 0; i < 4; i++) {
    const alto_u32 n = (sel >> (4 * i)) & 0xFu;
    alto_u32 byte = (alto_u32)(ab >> (8 * (n & 7u))) & 0xFFu;
    if (n & 8u)
      byte = (byte & 0x80u) ? 0xFFu : 0u;
    r |= byte << (8 * i);
  }
  return r;
#endif
}

// The E2M1 codes of 8 values (element j in nibble j, its sign in the nibble's bit 3): magnitudes m
// (alto_e2m1_mag_h_), signs those of the 8 bf16 values of w[0..3] (element 2i in the low half of
// w[i]). The low 16 bits of m0 + 16 m1 + 256 m2 + 4096 m3 are the four nibbles (the low 24 bits of
// 0x4B000000 are zero). The sign bytes (bf16 bits 15, 31: bytes 1, 3) are gathered, replicated and
// cut down to bit 3 of each nibble: 4 PRMT and 2 LOP3 for 8 values instead of a shift and a select
// each.
__device__ __forceinline__ alto_u32 alto_e2m1_pack8_bf16_(const alto_u32 m[8], const alto_u32 w[4]) {
  const alto_u32 lo = m[0] + (m[1] << 4) + (m[2] << 8) + (m[3] << 12);
  const alto_u32 hi = m[4] + (m[5] << 4) + (m[6] << 8) + (m[7] << 12);
  const alto_u32 codes = alto_prmt_(lo, hi, 0x5410u);
  const alto_u32 r01 = alto_prmt_(w[0], w[1], 0x7531u); // byte i: the sign byte of element i
  const alto_u32 r23 = alto_prmt_(w[2], w[3], 0x7531u); // of elements 4 + i
  const alto_u32 ev = alto_prmt_(r01, r23, 0xECA8u);    // elements 0, 2, 4, 6: 0x00 / 0xFF
  const alto_u32 od = alto_prmt_(r01, r23, 0xFDB9u);    // elements 1, 3, 5, 7
  return codes | (alto_bitsel_(0x0F0F0F0Fu, ev, od) & 0x88888888u);
}

// The same for 4 columns x 2 rows, packed along the rows (byte i: column i, row 0 in the low
// nibble): m0, m1 the rows' magnitudes, the signs those of the bf16 values of a0, a1 (row 0,
// columns 0..3) and b0, b1 (row 1). m0[i] + (m1[i] << 4) is 0xFB000000 plus the byte; shifted into
// place only byte 0's 0xFB000000 stays below bit 32, and is subtracted.
__device__ __forceinline__ alto_u32 alto_e2m1_pack4x2_bf16_(const alto_u32 m0[4], const alto_u32 m1[4],
                                                            alto_u32 a0, alto_u32 a1, alto_u32 b0,
                                                            alto_u32 b1) {
  const alto_u32 codes = (m0[0] + (m1[0] << 4)) + ((m0[1] + (m1[1] << 4)) << 8) +
                         ((m0[2] + (m1[2] << 4)) << 16) + ((m0[3] + (m1[3] << 4)) << 24) -
                         0xFB000000u;
  const alto_u32 r0 = alto_prmt_(a0, a1, 0xFDB9u); // byte i: column i's sign, 0x00 / 0xFF
  const alto_u32 r1 = alto_prmt_(b0, b1, 0xFDB9u);
  return codes | (alto_bitsel_(0x0F0F0F0Fu, r0, r1) & 0x88888888u);
}
// Byte 0 of a, b, c, d as one word (a in the low byte): the garbage above byte 0 is dropped.
__device__ __forceinline__ alto_u32 alto_bytes4_(alto_u32 a, alto_u32 b, alto_u32 c, alto_u32 d) {
  return alto_prmt_(alto_prmt_(a, b, 0x0040u), alto_prmt_(c, d, 0x0040u), 0x5410u);
}

// Two powers of two 2^(127 - s) (an MX block's alto_e8m0_inv_f32, s in 1..253: every finite E2M1
// scale, so normal numbers) as bf16 bits, lo in the low half: the top halves of their fp32 bits. (A
// NaN block's constant is garbage here; its codes are masked to 0 by the caller.)
__device__ __forceinline__ alto_u32 alto_pow2_bf16x2_(float lo, float hi) {
  return (alto_f32_bits(lo) >> 16) | (alto_f32_bits(hi) & 0xFFFF0000u);
}

// The E2M1 codes (sign in bit 3) of the two bf16 values of w times inv2 (alto_pow2_bf16x2_): the low
// value's in bits 0..3, the high value's in bits 16..19, garbage in the other bits. The bits of
// alto_mx_encode_inv. q = min(|x| 2^(127-s), 6) is exact in bf16 (a power-of-two product; one below
// 2^-126 has code 0 however it rounds), and the magic (me + 6) << 7 + 2 (me - 127) has the grid
// spacing 2^(me-128) as its bf16 ulp: the bf16 add rounds q onto the grid as alto_e2m1_code_'s fp32
// add does, and its low 3 bits are the magnitude's code.
__device__ __forceinline__ alto_u32 alto_mx_e2m1x2_bf16_(alto_u32 w, alto_u32 inv2) {
  const alto_u32 q = alto_bf16x2_min_(alto_bf16x2_mul_(w & 0x7FFF7FFFu, inv2), 0x40C040C0u);
  const alto_u32 m = alto_max_u16x2_(q, 0x3F803F80u) & 0x7F807F80u; // me << 7 in each half
  const alto_u32 mb = m + (m >> 6) + 0x02020202u; // (me + 6) << 7 + 2 (me - 127), no carry out
  return alto_bitsel_(0x00070007u, alto_bf16x2_add_(q, mb), w >> 12); // signs: bits 15, 31 -> 3, 19
}

// ---- per-block encoding --------------------------------------------------------------------------

// E4M3 code -> fp32 (exact; alto_e4m3_to_f32's value): on sm_89+ through the hardware cast to f16.
__device__ __forceinline__ float alto_e4m3_val_(alto_u32 c) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890 && !defined(ALTO_QUANT_SOFT_FP8)
  alto_u32 h2;
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h2) : "h"((unsigned short)c));
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((unsigned short)(h2 & 0xFFFFu)));
  return f;
#else
  return alto_e4m3_to_f32((alto_u8)c);
#endif
}

// alto_nvfp4_inner's byte with fewer instructions: amax / outer skipped when outer is 1 (exact),
// v / 6 as quant_codes' fast division with y = fl32(1/6) (exact for every fp32 significand over the
// E4M3 significand 1.5, see alto_block_q_; below 2^-100 the result may be off, but both values then
// clamp to 2^-9), an infinite a kept (it saturates to 448), and the hardware E4M3 cast of the
// clamped v (finite, RNE: alto_f32_to_e4m3's bits).
__device__ __forceinline__ alto_u32 alto_nvfp4_inner_(float amax, float outer) {
  if (amax != amax)
    return 0x7Fu;
  const float a = outer == 1.0f ? amax : ALTO_FDIV(amax, outer);
  const float y6 = 0x1.555556p-3f; // fl32(1/6)
  const float q0 = ALTO_FMUL(a, y6);
  float v = a <= 0x1.fffffep127f ? alto_ffma_(alto_ffma_(-q0, 6.0f, a), y6, q0) : a;
  if (!(v >= 0.001953125f))
    v = 0.001953125f;
  if (v > 448.0f)
    v = 448.0f;
  return alto_fp8x2_<ALTO_ELEM_E4M3>(v, 0.0f) & 0xFFu;
}

// The block scale from the block amax, as a byte (MX, NVFP4) or fp32 bits (FP8 block).
template <int KIND, int ELEM, int RULE>
__device__ __forceinline__ alto_u32 alto_block_scale(float amax, float outer) {
  if (KIND == ALTO_QK_MX)
    return alto_mx_scale(amax, (alto_scale_rule)RULE, (alto_elem)ELEM);
  if (KIND == ALTO_QK_NVFP4)
    return alto_nvfp4_inner_(amax, outer);
  return alto_f32_bits(alto_fp8_block_scale(amax, (alto_elem)ELEM));
}

// Per-block encoding state, computed once per block: whether the block holds a NaN (then every
// code is 0), the constant each element needs (MX: 2^(127-s); NVFP4: inner * outer; FP8: d) and,
// for the divisions (alto_block_q_), whether they run in fp32 (fast: y = fl32(1/k)) or through fp64
// (r = fl64(1/k)).
struct alto_block_enc {
  bool nan;
  bool fast;
  float k;
  float y;
  double r;
};

// How alto_block_q_ divides: by each block's own choice (b.fast), or forced: F32 (the caller has
// checked b.fast for every block the call sees) or F64 (r set in every block, fast ones included).
enum { ALTO_DIV_ANY = 0, ALTO_DIV_F32 = 1, ALTO_DIV_F64 = 2 };

__device__ __forceinline__ double alto_rcp64_(float k) {
#if defined(__CUDA_ARCH__)
  return __drcp_rn((double)k); // IEEE round to nearest, as 1.0 / k
#else
  return ALTO_DDIV(1.0, (double)k);
#endif
}

template <int KIND>
__device__ __forceinline__ alto_block_enc alto_block_enc_make(alto_u32 scale, float outer) {
  alto_block_enc b;
  if (KIND == ALTO_QK_MX) {
    b.nan = scale == 0xFFu;
    b.k = alto_e8m0_inv_f32((alto_u8)scale);
  } else if (KIND == ALTO_QK_NVFP4) {
    b.nan = scale == 0x7Fu;
    b.k = ALTO_FMUL(alto_e4m3_val_(scale), outer); // alto_nvfp4_divisor
  } else {
    b.nan = false; /* blockwise FP8 lets a NaN flow through the division: codes 0x7F */
    b.k = alto_f32_from_bits(scale);
  }
  // fp32 division (alto_block_q_) where it is exact: a divisor in [2^-69, 2^125] (no NaN) and no
  // element of the block infinite (NVFP4: an Inf block has the largest inner scale 448, 0x7E; FP8:
  // its d is Inf). Elsewhere (extreme two-level outer scales, saturated blocks) fp64.
  b.fast = KIND != ALTO_QK_MX && b.k >= 0x1p-69f && b.k <= 0x1p125f &&
           !(KIND == ALTO_QK_NVFP4 && scale == 0x7Eu);
  b.y = 0.0f;
  b.r = 0.0;
  if (KIND != ALTO_QK_MX) {
    if (b.fast)
      b.y = ALTO_FDIV(1.0f, b.k); // correctly rounded (IEEE)
    else
      b.r = alto_rcp64_(b.k);
  }
  return b;
}

// One element's code in its block (u = the element's random word when SR): the scalar path, used by
// the RHT tile kernels.
template <int KIND, int DIV>
__device__ __forceinline__ float alto_block_h_(float v, const alto_block_enc &b);
template <int KIND, int ELEM, bool SR>
__device__ __forceinline__ alto_u8 alto_block_encode(float v, const alto_block_enc &b, alto_u32 u) {
  if (b.nan)
    return 0;
  static_assert(!SR || (ELEM == ALTO_ELEM_E2M1 && KIND != ALTO_QK_FP8_BLOCK), "SR: E2M1 codes");
  if constexpr (SR) // on the FMA pipe
    return (alto_u8)alto_e2m1_signed_(
        alto_e2m1_sr_mag_h_(alto_block_h_<KIND, ALTO_DIV_ANY>(v, b), u), alto_f32_bits(v));
  if (KIND == ALTO_QK_MX)
    return alto_mx_encode_inv(v, b.k, (alto_elem)ELEM);
  if (KIND == ALTO_QK_NVFP4)
    return alto_nvfp4_encode_div(v, b.k);
  return alto_fp8_block_encode(v, b.k, (alto_elem)ELEM);
}

// The value an element's cast sees: MX x * 2^(127-s); NVFP4 x / (inner * outer); FP8 block x / d,
// always fl32(x / k), the true fp32 division (or, for quotients below 2^-34, a value below 2^-34
// too: every FP8 / E2M1 code of those is a signed zero and their SR threshold floor(2|q| 2^32) is 0).
// Two ways, without the ~11 instructions and slow-path test of an fp32 division:
//  - fast blocks (alto_block_enc_make): q0 = fl(x y), r = x - q0 k (one FMA, exact), q = fl(q0 + r y)
//    (one FMA), y = fl32(1/k). Markstein's theorem (Handbook of Floating-Point Arithmetic, 2nd ed.,
//    4.9): y within half an ulp of 1/k and q0 within one ulp of x/k make q the correctly rounded
//    quotient, barring underflow and overflow; k in [2^-69, 2^125] and |q| >= 2^-34 keep r exact
//    (a multiple of 2^(e(q0) + e(k) - 46) >= 2^-149) and y normal, and finite x keeps r finite.
//    Checked against fp32 division on the CPU: every bf16 significand x every fp32 divisor
//    significand (2^30 pairs), every fp32 significand x every E4M3 significand, 4e9 random fp32
//    pairs over 2^-60 .. 2^83 quotients, 1e10 pairs whose quotient lies within 2 ulps of a rounding
//    midpoint: 0 differences (tests/test_quant_fp8.c keeps a sample of each). A zero quotient takes x's sign (the FMAs
//    would make -0 / k +0).
//  - other blocks: fl32(fl64(x * fl64(1/d))), equal to fl32(x / d) wherever the quotient is normal,
//    and both are below 2^-126 elsewhere. Proof: fl64(x * fl64(1/d)) is within 2^-52 (relative) of
//    z = x / d; z is never an fp32 rounding midpoint of the normal range (a midpoint has 25
//    significant bits, x has 24, so x != m d), and writing x = X 2^a, d = D 2^b, m = M 2^c with
//    integers X, D < 2^24, M < 2^25, |x - m d| is a nonzero multiple of 2^min(a, b + c), so
//    |z - m| / m >= 2^-49: both values round the same way. Inf, NaN and zeros pass through as in
//    the division (d > 0).
// ZERO_SIGN false: a zero quotient may come out +0 for x = -0 (the caller takes the sign from x,
// one instruction fewer per element).
template <int KIND, int DIV = ALTO_DIV_ANY, bool ZERO_SIGN = true>
__device__ __forceinline__ float alto_block_q_(float v, const alto_block_enc &b) {
  if (KIND == ALTO_QK_MX)
    return ALTO_FMUL(v, b.k);
  if (DIV == ALTO_DIV_F32 || (DIV == ALTO_DIV_ANY && b.fast)) {
    const float q0 = ALTO_FMUL(v, b.y);
    const float q = alto_ffma_(alto_ffma_(-q0, b.k, v), b.y, q0);
    if (!ZERO_SIGN)
      return q;
    return alto_f32_from_bits(alto_bitsel_(0x80000000u, alto_f32_bits(v), alto_f32_bits(q))); // -0
  }
  return (float)ALTO_DMUL((double)v, b.r);
}

// h = q / 2 for alto_e2m1_mag_h_, q = alto_block_q_'s quotient: the same steps with the block's
// constants halved or doubled (MX: x 2^(126-s); fast division: y / 2 and 2 k, so q0 and q come out
// halved and r is unchanged; fp64: q * 0.5). Each is exactly q / 2 unless that is below 2^-126,
// where q < 2^-125 and both round to code 0.
template <int KIND, int DIV>
__device__ __forceinline__ float alto_block_h_(float v, const alto_block_enc &b) {
  if (KIND == ALTO_QK_MX)
    return ALTO_FMUL(v, ALTO_FMUL(b.k, 0.5f));
  if (DIV == ALTO_DIV_F32 || (DIV == ALTO_DIV_ANY && b.fast)) {
    const float yh = ALTO_FMUL(b.y, 0.5f), k2 = ALTO_FADD(b.k, b.k);
    const float q0 = ALTO_FMUL(v, yh);
    return alto_ffma_(alto_ffma_(-q0, k2, v), yh, q0);
  }
  return ALTO_FMUL((float)ALTO_DMUL((double)v, b.r), 0.5f);
}

// The codes of two elements of one block, element 0 in the low bits: FP8 two bytes, FP4 one byte
// (element 0 in the low nibble). No NaN test: the caller zeroes the codes of a NaN block (mask).
// u0, u1: the elements' random words when SR.
template <int KIND, int ELEM, bool SR, int DIV = ALTO_DIV_ANY>
__device__ __forceinline__ alto_u32 alto_codes2_(float v0, float v1, const alto_block_enc &b,
                                                 alto_u32 u0, alto_u32 u1) {
  // E2M1 codes take the sign from x (k > 0), so the division need not keep a zero's sign
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  const alto_u32 x0 = alto_f32_bits(v0), x1 = alto_f32_bits(v1);
  if constexpr (FP4 && SR) { // on the FMA pipe, from h = q / 2
    const alto_u32 m0 = alto_e2m1_sr_mag_h_(alto_block_h_<KIND, DIV>(v0, b), u0),
                   m1 = alto_e2m1_sr_mag_h_(alto_block_h_<KIND, DIV>(v1, b), u1);
    return alto_e2m1_signed_(m0, x0) | (alto_e2m1_signed_(m1, x1) << 4);
  }
  const float q0 = alto_block_q_<KIND, DIV, !FP4>(v0, b), q1 = alto_block_q_<KIND, DIV, !FP4>(v1, b);
  if constexpr (!FP4)
    return alto_fp8x2_<ELEM>(q0, q1);
  else // a finite block has no NaN element (NVFP4: x / d of finite values is never NaN)
    return alto_e2m1_code_(alto_f32_bits(q0), x0) | (alto_e2m1_code_(alto_f32_bits(q1), x1) << 4);
}

// All-ones unless the block is NaN (its codes are 0): codes & alto_block_mask_.
template <int KIND>
__device__ __forceinline__ alto_u32 alto_block_mask_(const alto_block_enc &b) {
  return (KIND != ALTO_QK_FP8_BLOCK && b.nan) ? 0u : 0xFFFFFFFFu;
}

#endif
