/* alto_numerics.h: the scalar numerics of every format, shared VERBATIM by the CPU reference
 * (compiled as C11) and the device kernels (CUDA via NVRTC/nvcc, HIP via hiprtc/hipcc).
 *
 * This file is the executable form of ../shared/NUMERICS.md (our choices where that text is
 * silent are in docs/numerics.md). Every function is pure scalar code over fp32/fp64 bits and
 * integer arithmetic, with no library calls whose bits differ between host and device: no
 * log2/pow/exp, no FMA contraction (the host build uses -ffp-contract=off; device code calls
 * the *_rn intrinsics through the ALTO_F* macros below), no flush-to-zero.
 */
#ifndef ALTO_NUMERICS_H
#define ALTO_NUMERICS_H

/* ---- portability --------------------------------------------------------------------------- */
#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(__HIPCC__) || defined(__HIPCC_RTC__)
#define ALTO_HD __host__ __device__ __forceinline__
#else
#define ALTO_HD static inline
#endif
/* The device pass uses the round-to-nearest intrinsics (never contracted into FMAs); the host pass
 * of nvcc/hipcc and the C build use plain operators (the C build compiles with -ffp-contract=off). */
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
#define ALTO_DEVICE_COMPILE 1
#else
#define ALTO_DEVICE_COMPILE 0
#endif

/* hipcc (offline) needs the runtime header for __host__, __forceinline__, uint4, ...; hiprtc has
 * them built in (and its sources must include no ROCm header). */
#if defined(__HIPCC__) && !defined(__HIPCC_RTC__)
#include <hip/hip_runtime.h>
#endif

#if defined(__CUDACC_RTC__) || defined(__HIPCC_RTC__)
/* No C library headers under the runtime compilers. */
typedef unsigned char alto_u8;
typedef unsigned short alto_u16;
typedef unsigned int alto_u32;
typedef int alto_i32;
typedef unsigned long long alto_u64;
typedef long long alto_i64;
#else
#include <stdint.h>
typedef uint8_t alto_u8;
typedef uint16_t alto_u16;
typedef uint32_t alto_u32;
typedef int32_t alto_i32;
typedef uint64_t alto_u64;
typedef int64_t alto_i64;
#endif

/* ---- element formats and scale rules --------------------------------------------------------- */
typedef enum {
  ALTO_ELEM_E2M1, /* FP4: magnitudes {0, .5, 1, 1.5, 2, 3, 4, 6}; no Inf/NaN */
  ALTO_ELEM_E4M3, /* OCP E4M3 "fn": bias 7, max 448, 0x7F/0xFF NaN, no Inf */
  ALTO_ELEM_E5M2, /* E5M2: bias 15, max 57344, IEEE Inf/NaN */
  ALTO_ELEM_BF16,
  ALTO_ELEM_F32,
  ALTO_ELEM_COUNT
} alto_elem;

typedef enum {
  ALTO_SCALE_EVEN,  /* ALTO's rule (default): bump the exponent when the scaled max would round up */
  ALTO_SCALE_FLOOR, /* OCP / torchao default */
  ALTO_SCALE_UOS,   /* ALTO use_uos: smallest 2^t >= amax / 7.25 (MXFP4 only) */
  ALTO_SCALE_RCEIL, /* torchao RCEIL: smallest 2^t >= amax / elem_max */
  ALTO_SCALE_RULE_COUNT
} alto_scale_rule;


/* ---- exact arithmetic: no contraction, no fast paths --------------------------------------- */
/* CUDA's device pass uses the round-to-nearest intrinsics (never contracted into FMAs). ROCm's
 * __fadd_rn & co are plain operators that inherit the translation unit's -ffp-contract, and HIP
 * contracts by default (hiprtc turns __fadd_rn(__fmul_rn(a, b), c) into one v_fmac_f32). So HIP
 * uses plain operators under `#pragma clang fp contract(off)` (exact under any flags but
 * -ffp-contract=fast, which ignores the pragma), and alto passes -ffp-contract=off to hiprtc as
 * well (runtime/jit.c). HIP's plain fp32 division and the conversions are correctly rounded. */
#if defined(__HIPCC__)
#pragma clang fp contract(off)
#endif
#if ALTO_DEVICE_COMPILE && !defined(__HIP_DEVICE_COMPILE__)
#define ALTO_FADD(a, b) __fadd_rn((a), (b))
#define ALTO_FSUB(a, b) __fsub_rn((a), (b))
#define ALTO_FMUL(a, b) __fmul_rn((a), (b))
#define ALTO_FDIV(a, b) __fdiv_rn((a), (b))
#define ALTO_DADD(a, b) __dadd_rn((a), (b))
#define ALTO_DSUB(a, b) __dsub_rn((a), (b))
#define ALTO_DMUL(a, b) __dmul_rn((a), (b))
#define ALTO_DDIV(a, b) __ddiv_rn((a), (b))
#else
#define ALTO_FADD(a, b) ((float)(a) + (float)(b))
#define ALTO_FSUB(a, b) ((float)(a) - (float)(b))
#define ALTO_FMUL(a, b) ((float)(a) * (float)(b))
#define ALTO_FDIV(a, b) ((float)(a) / (float)(b))
#define ALTO_DADD(a, b) ((double)(a) + (double)(b))
#define ALTO_DSUB(a, b) ((double)(a) - (double)(b))
#define ALTO_DMUL(a, b) ((double)(a) * (double)(b))
#define ALTO_DDIV(a, b) ((double)(a) / (double)(b))
#endif

ALTO_HD alto_u32 alto_f32_bits(float x) {
#if ALTO_DEVICE_COMPILE
  return (alto_u32)__float_as_uint(x);
#else
  union {
    float f;
    alto_u32 u;
  } c;
  c.f = x;
  return c.u;
#endif
}

ALTO_HD float alto_f32_from_bits(alto_u32 b) {
#if ALTO_DEVICE_COMPILE
  return __uint_as_float(b);
#else
  union {
    float f;
    alto_u32 u;
  } c;
  c.u = b;
  return c.f;
#endif
}

ALTO_HD alto_u64 alto_f64_bits(double x) {
#if ALTO_DEVICE_COMPILE
  return (alto_u64)__double_as_longlong(x);
#else
  union {
    double f;
    alto_u64 u;
  } c;
  c.f = x;
  return c.u;
#endif
}

ALTO_HD double alto_f64_from_bits(alto_u64 b) {
#if ALTO_DEVICE_COMPILE
  return __longlong_as_double((long long)b);
#else
  union {
    double f;
    alto_u64 u;
  } c;
  c.u = b;
  return c.f;
#endif
}

#define ALTO_F32_NAN_BITS 0x7FC00000u
#define ALTO_F32_INF_BITS 0x7F800000u
#define ALTO_F32_MAX_BITS 0x7F7FFFFFu

ALTO_HD int alto_f32_isnan(float x) { return (alto_f32_bits(x) & 0x7FFFFFFFu) > ALTO_F32_INF_BITS; }
ALTO_HD int alto_f32_isinf(float x) { return (alto_f32_bits(x) & 0x7FFFFFFFu) == ALTO_F32_INF_BITS; }
ALTO_HD float alto_f32_abs(float x) { return alto_f32_from_bits(alto_f32_bits(x) & 0x7FFFFFFFu); }
ALTO_HD alto_u32 alto_f32_sign(float x) { return alto_f32_bits(x) >> 31; }

/* Every NaN a function returns is this one (0x7FC00000): CPU and GPU propagate NaN payloads
 * differently, and the outputs must agree bit for bit. */
ALTO_HD float alto_f32_canon(float x) {
  return alto_f32_isnan(x) ? alto_f32_from_bits(ALTO_F32_NAN_BITS) : x;
}

/* 2^e as fp32 for e in [-149, 127] (exact, subnormals included). */
ALTO_HD float alto_exp2i_f32(int e) {
  if (e >= -126)
    return alto_f32_from_bits((alto_u32)(e + 127) << 23);
  return alto_f32_from_bits(1u << (e + 149));
}

/* ---- bf16 ----------------------------------------------------------------------------------- */
/* fp32 -> bf16, round to nearest even; NaN stays NaN (quiet, sign kept). */
ALTO_HD alto_u16 alto_f32_to_bf16(float x) {
  alto_u32 b = alto_f32_bits(x);
  if ((b & 0x7FFFFFFFu) > ALTO_F32_INF_BITS)
    return (alto_u16)((b >> 16) | 0x0040u);
  b += 0x7FFFu + ((b >> 16) & 1u);
  return (alto_u16)(b >> 16);
}

ALTO_HD float alto_bf16_to_f32(alto_u16 h) { return alto_f32_from_bits((alto_u32)h << 16); }

/* ---- FP8 (E4M3 "fn", E5M2): RNE with saturation to the max finite, NaN -> 0x7F ---------------- */
/* One algorithm for both formats: mbits mantissa bits, bias, smallest normal exponent emin = 1-bias.
 * Normal range: round the fp32 significand to mbits bits (RNE on the bit pattern). Subnormal range:
 * add the magic 2^(emin - mbits + 23), whose ulp is the target's subnormal step, so the fp32 add
 * itself rounds to nearest even; the step count is then the code (it reaches the smallest normal
 * code exactly when rounding carries out). */
ALTO_HD alto_u8 alto_f32_to_fp8_(float x, int mbits, int bias, alto_u8 maxcode, float maxval) {
  alto_u32 b = alto_f32_bits(x);
  alto_u8 sign = (alto_u8)((b >> 24) & 0x80u);
  alto_u32 ab = b & 0x7FFFFFFFu;
  if (ab > ALTO_F32_INF_BITS)
    return 0x7F; /* NaN: 0x7F in both formats, sign dropped */
  if (ab >= ALTO_F32_INF_BITS)
    return (alto_u8)(sign | maxcode); /* +-Inf saturates */
  float a = alto_f32_from_bits(ab);
  int emin = 1 - bias;
  if (ab < ((alto_u32)(emin + 127) << 23)) {
    float magic = alto_exp2i_f32(emin - mbits + 23);
    alto_u32 k = alto_f32_bits(ALTO_FADD(a, magic)) - alto_f32_bits(magic);
    return (alto_u8)(sign | k);
  }
  int shift = 23 - mbits;
  alto_u32 r = ab + ((1u << (shift - 1)) - 1u) + ((ab >> shift) & 1u);
  r &= ~((1u << shift) - 1u);
  if (alto_f32_from_bits(r) > maxval)
    return (alto_u8)(sign | maxcode);
  alto_u32 e = (r >> 23) - 127u + (alto_u32)bias;
  alto_u32 m = (r >> shift) & ((1u << mbits) - 1u);
  return (alto_u8)(sign | (e << mbits) | m);
}

ALTO_HD alto_u8 alto_f32_to_e4m3(float x) { return alto_f32_to_fp8_(x, 3, 7, 0x7E, 448.0f); }
ALTO_HD alto_u8 alto_f32_to_e5m2(float x) { return alto_f32_to_fp8_(x, 2, 15, 0x7B, 57344.0f); }

ALTO_HD float alto_fp8_to_f32_(alto_u8 c, int mbits, int bias, int has_inf) {
  alto_u32 sign = (alto_u32)(c & 0x80u) << 24;
  alto_u32 e = (c & 0x7Fu) >> mbits;
  alto_u32 m = c & ((1u << mbits) - 1u);
  alto_u32 emax = (1u << (7 - mbits)) - 1u;
  if (e == emax && (has_inf ? 1 : m == ((1u << mbits) - 1u))) {
    if (has_inf && m == 0)
      return alto_f32_from_bits(sign | ALTO_F32_INF_BITS);
    return alto_f32_from_bits(sign | ALTO_F32_NAN_BITS);
  }
  if (e == 0) /* subnormal: m * 2^(1 - bias - mbits), exact */
    return alto_f32_from_bits(sign | alto_f32_bits(ALTO_FMUL((float)m,
                                                            alto_exp2i_f32(1 - bias - mbits))));
  return alto_f32_from_bits(sign | ((e - (alto_u32)bias + 127u) << 23) | (m << (23 - mbits)));
}

ALTO_HD float alto_e4m3_to_f32(alto_u8 c) { return alto_fp8_to_f32_(c, 3, 7, 0); }
ALTO_HD float alto_e5m2_to_f32(alto_u8 c) { return alto_fp8_to_f32_(c, 2, 15, 1); }

/* ---- E2M1 (FP4) ------------------------------------------------------------------------------ */
/* Codes 0..7 are the magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}; bit 3 is the sign. */
ALTO_HD float alto_e2m1_to_f32(alto_u8 c) {
  /* magnitude = code/2 for codes 0..4 (0 .. 2), then 3, 4, 6 */
  alto_u32 k = c & 7u;
  float mag = k <= 4u ? ALTO_FMUL((float)k, 0.5f) : (k == 5u ? 3.0f : (k == 6u ? 4.0f : 6.0f));
  return (c & 8u) ? alto_f32_from_bits(alto_f32_bits(mag) | 0x80000000u) : mag;
}

/* RNE onto the grid, saturating at 6 (Inf too); ties go to the even code:
 * 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4. NaN -> 0x7 (+6), as the CUDA cast.
 * Branch-free: one fp32 add per element does the rounding (see alto_e2m1_rne_nonan_). */
ALTO_HD alto_u8 alto_e2m1_rne_nonan_(alto_u32 b) { /* b: the bits of a non-NaN float */
  alto_u32 ab = b & 0x7FFFFFFFu;
  if (ab > 0x40C00000u) /* min(|x|, 6) */
    ab = 0x40C00000u;
  /* The grid spacing is 0.5 on [0, 2), 1 on [2, 4), 2 on [4, 6]: adding M = spacing * 2^23 makes
   * the fp32 add round |x| to a multiple of the spacing (ties to even), and the bits of the sum
   * minus M count the steps t. code = t + 2 * (binade index): 0.5 t, 2 + t, 4 + t. */
  alto_u32 me = (ab >> 23) > 127u ? (ab >> 23) : 127u;
  alto_u32 mb = (me + 22u) << 23;
  alto_u32 t = alto_f32_bits(ALTO_FADD(alto_f32_from_bits(ab), alto_f32_from_bits(mb))) - mb;
  return (alto_u8)(((b >> 28) & 8u) | (t + 2u * (me - 127u)));
}
ALTO_HD alto_u8 alto_f32_to_e2m1(float x) {
  alto_u32 b = alto_f32_bits(x);
  if ((b & 0x7FFFFFFFu) > ALTO_F32_INF_BITS)
    return 0x7;
  return alto_e2m1_rne_nonan_(b);
}

/* floor(p * 2^32) for p in [0, 1), from the bits (the result is below 2^32): p = m 2^(e - 150). */
ALTO_HD alto_u32 alto_sr_threshold_(float p) {
  alto_u32 b = alto_f32_bits(p);
  int e = (int)(b >> 23);
  alto_u32 m = (b & 0x7FFFFFu) | (e ? 0x800000u : 0u);
  int sh = (e ? e : 1) - 118;
  return sh >= 0 ? m << sh : (sh > -32 ? m >> -sh : 0u);
}

/* Stochastic rounding (NUMERICS.md 2.2): with lo <= |x| < hi the neighbouring grid points and
 * p = (|x| - lo) / (hi - lo) (exact in fp32), choose hi iff u < floor(p * 2^32). |x| >= 6 gives 6.
 * lo is |x| truncated onto the grid: the significand cut to one bit for |x| >= 1. */
ALTO_HD alto_u8 alto_f32_to_e2m1_sr(float x, alto_u32 u) {
  alto_u32 b = alto_f32_bits(x);
  alto_u32 ab = b & 0x7FFFFFFFu;
  if (ab > ALTO_F32_INF_BITS)
    return 0x7;
  alto_u32 sign = (b >> 28) & 8u;
  if (ab >= 0x40C00000u)
    return (alto_u8)(sign | 7u);
  alto_u32 k = ab >= 0x3F800000u ? (ab >> 22) - 252u : (ab >= 0x3F000000u ? 1u : 0u);
  float a = alto_f32_from_bits(ab);
  float lo = alto_e2m1_to_f32((alto_u8)k);
  float inv_step = k < 4u ? 2.0f : (k < 6u ? 1.0f : 0.5f); /* 1 / (hi - lo): exact */
  float p = ALTO_FMUL(ALTO_FSUB(a, lo), inv_step);
  if (u < alto_sr_threshold_(p))
    k++;
  return (alto_u8)(sign | k);
}

/* ---- generic element dispatch ------------------------------------------------------------------ */
ALTO_HD float alto_elem_max(alto_elem e) {
  return e == ALTO_ELEM_E2M1 ? 6.0f : (e == ALTO_ELEM_E4M3 ? 448.0f : 57344.0f);
}
/* Mantissa bits and emax (exponent of the largest binade) of the low-precision elements. */
ALTO_HD int alto_elem_mbits(alto_elem e) { return e == ALTO_ELEM_E2M1 ? 1 : (e == ALTO_ELEM_E4M3 ? 3 : 2); }
ALTO_HD int alto_elem_emax(alto_elem e) { return e == ALTO_ELEM_E2M1 ? 2 : (e == ALTO_ELEM_E4M3 ? 8 : 15); }

ALTO_HD alto_u8 alto_elem_encode(alto_elem e, float x) {
  return e == ALTO_ELEM_E2M1 ? alto_f32_to_e2m1(x)
                             : (e == ALTO_ELEM_E4M3 ? alto_f32_to_e4m3(x) : alto_f32_to_e5m2(x));
}
ALTO_HD float alto_elem_decode(alto_elem e, alto_u8 c) {
  return e == ALTO_ELEM_E2M1 ? alto_e2m1_to_f32(c)
                             : (e == ALTO_ELEM_E4M3 ? alto_e4m3_to_f32(c) : alto_e5m2_to_f32(c));
}

/* ---- block statistics -------------------------------------------------------------------------- */
/* max(|x|) that sticks at NaN, as an integer max of the magnitude bits: non-negative floats order
 * like their bits, and every NaN pattern is above Inf. Any order of updates gives the same bits
 * (so GPU tree reductions and the CPU loop agree). Combine two partial results with the same call. */
ALTO_HD float alto_amax_update(float amax, float x) {
  alto_u32 a = alto_f32_bits(x) & 0x7FFFFFFFu, m = alto_f32_bits(amax) & 0x7FFFFFFFu;
  return alto_f32_from_bits(a > m ? a : m);
}

/* ---- E8M0 scales and the MX scale rules (NUMERICS.md 2.1, 3) -------------------------------- */
ALTO_HD float alto_e8m0_to_f32(alto_u8 s) {
  if (s == 0xFFu)
    return alto_f32_from_bits(ALTO_F32_NAN_BITS);
  return alto_exp2i_f32((int)s - 127);
}
/* 2^(127 - s): multiplying by it equals dividing by the scale, bit for bit (s in 0..254). */
ALTO_HD float alto_e8m0_inv_f32(alto_u8 s) { return alto_exp2i_f32(127 - (int)s); }

/* The E8M0 scale of one block from its amax (NaN-sticky, |.| already taken).
 * even:  s = max(E' - emax, 1), E' = exponent field after adding 2^(22 - m) to the fp32 bits
 *        (the carry bumps the exponent exactly when sig >= 2 - 2^-(m+1));
 * floor: s = max(E - emax, 1);
 * uos:   (MXFP4) smallest 2^t >= amax / 7.25: t = e - 2 + (sig > 1.8125); subnormal -> 1; 0 -> 128;
 * rceil: smallest 2^t >= amax / elem_max, clamped to [1, 254]; subnormal or zero -> 1.
 * NaN amax -> 0xFF; Inf -> as the largest finite fp32 (= the largest bf16 for every rule).
 * Working on fp32 bits is exact for bf16 inputs too: a bf16 amax widened to fp32 has the same
 * exponent and significand. */
ALTO_HD alto_u8 alto_mx_scale(float amax, alto_scale_rule rule, alto_elem elem) {
  if (alto_f32_isnan(amax))
    return 0xFF;
  alto_u32 b = alto_f32_bits(amax) & 0x7FFFFFFFu;
  if (b >= ALTO_F32_INF_BITS)
    b = ALTO_F32_MAX_BITS;
  int m = alto_elem_mbits(elem), emax = alto_elem_emax(elem);
  int E = (int)(b >> 23);
  alto_u32 mant = b & 0x7FFFFFu;
  int s;
  switch (rule) {
  case ALTO_SCALE_FLOOR:
    s = E - emax;
    break;
  case ALTO_SCALE_UOS:
    if (b == 0)
      return 128;
    if (E == 0)
      return 1;
    s = E - 2 + (mant > 0x680000u ? 1 : 0); /* sig > 1.8125 = 1 + 13/16 */
    break;
  case ALTO_SCALE_RCEIL: {
    if (E == 0)
      return 1;
    /* elem_max = 1.5 * 2^2 (E2M1), 1.75 * 2^8 (E4M3), 1.75 * 2^15 (E5M2) */
    alto_u32 thr = elem == ALTO_ELEM_E2M1 ? 0x400000u : 0x600000u;
    s = E - emax + (mant > thr ? 1 : 0);
    if (s > 254)
      s = 254;
    break;
  }
  case ALTO_SCALE_EVEN:
  default:
    s = (int)((b + (1u << (22 - m))) >> 23) - emax;
    break;
  }
  return (alto_u8)(s < 1 ? 1 : s);
}

/* One element of an MX block: x * 2^(127-s) cast to the element format, RNE (satfinite for FP8).
 * A NaN block (s = 0xFF) writes code 0 for every element. */
/* The element step of a finite block (s != 0xFF), given inv = alto_e8m0_inv_f32(s): kernels compute
 * inv once per block. A block without NaN has no NaN element: E2M1's NaN test is skipped. */
ALTO_HD alto_u8 alto_mx_encode_inv(float x, float inv, alto_elem elem) {
  float q = ALTO_FMUL(x, inv);
  return elem == ALTO_ELEM_E2M1 ? alto_e2m1_rne_nonan_(alto_f32_bits(q)) : alto_elem_encode(elem, q);
}
ALTO_HD alto_u8 alto_mx_encode_sr_inv(float x, float inv, alto_u32 u) {
  return alto_f32_to_e2m1_sr(ALTO_FMUL(x, inv), u);
}
ALTO_HD alto_u8 alto_mx_encode(float x, alto_u8 s, alto_elem elem) {
  return s == 0xFFu ? (alto_u8)0 : alto_mx_encode_inv(x, alto_e8m0_inv_f32(s), elem);
}
/* The same with stochastic rounding (E2M1 only; u is the element's Philox word). */
ALTO_HD alto_u8 alto_mx_encode_sr(float x, alto_u8 s, alto_u32 u) {
  return s == 0xFFu ? (alto_u8)0 : alto_mx_encode_sr_inv(x, alto_e8m0_inv_f32(s), u);
}
ALTO_HD float alto_mx_decode(alto_u8 c, alto_u8 s, alto_elem elem) {
  return alto_f32_canon(ALTO_FMUL(alto_elem_decode(elem, c), alto_e8m0_to_f32(s)));
}

/* ---- NVFP4 (NUMERICS.md 3): E2M1 elements, block 16, E4M3 inner scale, fp32 outer ------------- */
/* outer = max(amax_tensor / (448 * 6), 1e-30) with two-level scaling, else 1. A NaN amax counts as
 * 0 and an Inf amax as the largest finite fp32 (our choice; NUMERICS.md is silent on Inf). */
ALTO_HD float alto_nvfp4_outer(float amax_tensor, int two_level) {
  if (!two_level)
    return 1.0f;
  float a = alto_f32_isnan(amax_tensor) ? 0.0f : amax_tensor;
  if (alto_f32_isinf(a))
    a = alto_f32_from_bits(ALTO_F32_MAX_BITS);
  float o = ALTO_FDIV(a, 2688.0f);
  return o > 1e-30f ? o : 1e-30f;
}
/* inner = e4m3_rne(clamp((amax_block / outer) / 6, 2^-9, 448)); a NaN block gets 0x7F (E4M3 NaN). */
ALTO_HD alto_u8 alto_nvfp4_inner(float amax_block, float outer) {
  if (alto_f32_isnan(amax_block))
    return 0x7F;
  float v = ALTO_FDIV(ALTO_FDIV(amax_block, outer), 6.0f);
  if (!(v >= 0.001953125f))
    v = 0.001953125f;
  if (v > 448.0f)
    v = 448.0f;
  return alto_f32_to_e4m3(v);
}
/* Element: E2M1(x / (inner * outer)), the product first; a NaN block (inner 0x7F) writes 0. */
/* The divisor inner * outer of a finite block (kernels compute it once per block). */
ALTO_HD float alto_nvfp4_divisor(alto_u8 inner, float outer) {
  return ALTO_FMUL(alto_e4m3_to_f32(inner), outer);
}
ALTO_HD alto_u8 alto_nvfp4_encode_div(float x, float div) {
  return alto_e2m1_rne_nonan_(alto_f32_bits(ALTO_FDIV(x, div)));
}
ALTO_HD alto_u8 alto_nvfp4_encode_sr_div(float x, float div, alto_u32 u) {
  return alto_f32_to_e2m1_sr(ALTO_FDIV(x, div), u);
}
ALTO_HD alto_u8 alto_nvfp4_encode(float x, alto_u8 inner, float outer) {
  return inner == 0x7Fu ? (alto_u8)0 : alto_nvfp4_encode_div(x, alto_nvfp4_divisor(inner, outer));
}
ALTO_HD alto_u8 alto_nvfp4_encode_sr(float x, alto_u8 inner, float outer, alto_u32 u) {
  return inner == 0x7Fu ? (alto_u8)0
                        : alto_nvfp4_encode_sr_div(x, alto_nvfp4_divisor(inner, outer), u);
}
ALTO_HD float alto_nvfp4_decode(alto_u8 c, alto_u8 inner, float outer) {
  return alto_f32_canon(ALTO_FMUL(alto_e2m1_to_f32(c), ALTO_FMUL(alto_e4m3_to_f32(inner), outer)));
}

/* ---- blockwise FP8 (DeepSeek-V3; NUMERICS.md 3) --------------------------------------------------- */
/* d = (float)(max(amax, 1e-12f) / max) with the division in fp64. NaN stays NaN. */
ALTO_HD float alto_fp8_block_scale(float amax, alto_elem elem) {
  float a = amax < 1e-12f ? 1e-12f : amax; /* NaN compares false: kept */
  return alto_f32_canon((float)ALTO_DDIV((double)a, (double)alto_elem_max(elem)));
}
/* Element: fp8(satfinite(x / d)), a true fp32 division. */
ALTO_HD alto_u8 alto_fp8_block_encode(float x, float d, alto_elem elem) {
  return alto_elem_encode(elem, ALTO_FDIV(x, d));
}
ALTO_HD float alto_fp8_block_decode(alto_u8 c, float d, alto_elem elem) {
  return alto_f32_canon(ALTO_FMUL(alto_elem_decode(elem, c), d));
}

/* ---- tensorwise / rowwise FP8 (torchao float8 training) -------------------------------------- */
/* scale = max / max(amax, 1e-12) in fp32; optionally rounded down to a power of two. */
ALTO_HD float alto_fp8_tw_scale(float amax, alto_elem elem, int pow2) {
  float a = amax < 1e-12f ? 1e-12f : amax;
  float s = ALTO_FDIV(alto_elem_max(elem), a);
  if (pow2 && !alto_f32_isnan(s) && !alto_f32_isinf(s))
    s = alto_f32_from_bits(alto_f32_bits(s) & 0xFF800000u);
  return alto_f32_canon(s);
}
ALTO_HD alto_u8 alto_fp8_tw_encode(float x, float scale, alto_elem elem) {
  return alto_elem_encode(elem, ALTO_FMUL(x, scale));
}
ALTO_HD float alto_fp8_tw_decode(alto_u8 c, float scale, alto_elem elem) {
  return alto_f32_canon(ALTO_FDIV(alto_elem_decode(elem, c), scale));
}

/* ---- MX9 / MX6 fake-quant (AMD Quark fake_quantize_mx6_mx9; NUMERICS.md 3) ------------------ */
/* Unbiased exponent field for the statistics: NaN and Inf count as 0, and 0 (or a subnormal)
 * gives -127. Exact for bf16 inputs widened to fp32. */
ALTO_HD int alto_mx69_exp(float x) {
  alto_u32 b = alto_f32_bits(x) & 0x7FFFFFFFu;
  if (b >= ALTO_F32_INF_BITS)
    return -127;
  return (int)(b >> 23) - 127;
}
/* Round half to even in fp32 (torch.round), sign kept (-0.3 -> -0). */
ALTO_HD float alto_round_half_even(float v) {
  float a = alto_f32_abs(v);
  if (!(a < 8388608.0f))
    return v; /* already an integer, or Inf/NaN */
  float r = ALTO_FSUB(ALTO_FADD(a, 8388608.0f), 8388608.0f);
  return alto_f32_from_bits(alto_f32_bits(r) | (alto_f32_bits(v) & 0x80000000u));
}
/* One element: `max_exp` of its block, `demoted` = its pair's prime bit, quant_bit 8 (MX9) / 5 (MX6).
 * scale = 2^(max_exp - demoted - quant_bit + 2); quant_max = fp32(min(2^(max_exp+1) - scale, FLT_MAX))
 * / scale; out = clamp(rne(x / scale), -quant_max, quant_max) * scale. NaN passes, Inf clamps. */
ALTO_HD float alto_mx69_scale(int max_exp, int demoted, int quant_bit) {
  return alto_exp2i_f32(max_exp - demoted - quant_bit + 2);
}
ALTO_HD float alto_mx69_quant_max(int max_exp, float scale) {
  double top = ALTO_DSUB(alto_f64_from_bits((alto_u64)(max_exp + 1 + 1023) << 52), (double)scale);
  double fmax = (double)alto_f32_from_bits(ALTO_F32_MAX_BITS);
  return ALTO_FDIV((float)(top < fmax ? top : fmax), scale);
}
ALTO_HD float alto_mx69_element(float x, int max_exp, int demoted, int quant_bit) {
  float scale = alto_mx69_scale(max_exp, demoted, quant_bit);
  float qmax = alto_mx69_quant_max(max_exp, scale);
  float q = alto_round_half_even(ALTO_FDIV(x, scale));
  if (q > qmax)
    q = qmax;
  if (q < -qmax)
    q = -qmax;
  return alto_f32_canon(ALTO_FMUL(q, scale));
}

/* ---- Philox4x32-10 and the streams (NUMERICS.md 6) ------------------------------------------- */
typedef struct {
  alto_u32 v[4];
} alto_philox4;

ALTO_HD alto_philox4 alto_philox4x32_10(alto_u32 c0, alto_u32 c1, alto_u32 c2, alto_u32 c3,
                                        alto_u32 k0, alto_u32 k1) {
  for (int r = 0; r < 10; r++) {
#if ALTO_DEVICE_COMPILE && !defined(__HIP_DEVICE_COMPILE__)
    /* each product's two halves from one mul.wide.u32 (3-4% faster SR kernels on the H100 than
     * __umulhi and a 32-bit multiply; a C 64-bit product compiles to a 64 x 64 multiply) */
    alto_u64 p0, p1;
    asm("mul.wide.u32 %0, %1, 0xD2511F53;" : "=l"(p0) : "r"(c0));
    asm("mul.wide.u32 %0, %1, 0xCD9E8D57;" : "=l"(p1) : "r"(c2));
    alto_u32 h0 = (alto_u32)(p0 >> 32), l0 = (alto_u32)p0;
    alto_u32 h1 = (alto_u32)(p1 >> 32), l1 = (alto_u32)p1;
#else
    alto_u64 p0 = (alto_u64)0xD2511F53u * c0;
    alto_u64 p1 = (alto_u64)0xCD9E8D57u * c2;
    alto_u32 h0 = (alto_u32)(p0 >> 32), l0 = (alto_u32)p0;
    alto_u32 h1 = (alto_u32)(p1 >> 32), l1 = (alto_u32)p1;
#endif
    alto_u32 n0 = h1 ^ c1 ^ k0;
    alto_u32 n2 = h0 ^ c3 ^ k1;
    c1 = l1;
    c3 = l0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  alto_philox4 out;
  out.v[0] = c0;
  out.v[1] = c1;
  out.v[2] = c2;
  out.v[3] = c3;
  return out;
}

/* The random word of element i (its logical row-major index) of a stream: word i % 4 of Philox with
 * key = seed and counter = (i / 4 low, i / 4 high, stream low, stream high). */
ALTO_HD alto_u32 alto_philox_u32(alto_u64 seed, alto_u64 stream, alto_u64 i) {
  alto_u64 c = i >> 2;
  alto_philox4 r = alto_philox4x32_10((alto_u32)c, (alto_u32)(c >> 32), (alto_u32)stream,
                                      (alto_u32)(stream >> 32), (alto_u32)seed,
                                      (alto_u32)(seed >> 32));
  return r.v[i & 3u];
}

/* What a stream of random numbers is for (part of the stream hash). */
typedef enum { ALTO_RNG_SR = 1, ALTO_RNG_RHT = 2 } alto_rng_purpose;

ALTO_HD alto_u64 alto_mix64(alto_u64 z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/* stream = hash(layer id, tensor role, training step, purpose): splitmix64 finalizers chained over
 * the fields from a fixed start; documented in docs/numerics.md. */
ALTO_HD alto_u64 alto_stream_id(alto_u32 layer, alto_u32 role, alto_u64 step, alto_u32 purpose) {
  alto_u64 h = 0x616C746F5F726E67ull; /* "alto_rng" */
  h = alto_mix64(h ^ layer);
  h = alto_mix64(h ^ (((alto_u64)role << 32) | purpose));
  h = alto_mix64(h ^ step);
  return h;
}

/* ---- randomized Hadamard transform (NUMERICS.md 4) ------------------------------------------- */
/* fp32(1 / sqrt(b)) for b = 16 .. 256 (exact for 16, 64, 256). */
ALTO_HD float alto_rht_norm(int b) {
  switch (b) {
  case 16:
    return 0.25f;
  case 32:
    return alto_f32_from_bits(0x3E3504F3u);
  case 64:
    return 0.125f;
  case 128:
    return alto_f32_from_bits(0x3DB504F3u);
  default:
    return 0.0625f; /* 256 */
  }
}
/* Signs d (random word j, j < b: bit 0 set -> -1) and permutation perm (Fisher-Yates: for
 * i = b-1 .. 1, j = u mod (i+1) with u the word b + (b-1-i); swap perm[i], perm[j]). */
ALTO_HD void alto_rht_make(alto_u64 seed, alto_u64 stream, int b, float *sign, int *perm) {
  for (int j = 0; j < b; j++) {
    sign[j] = (alto_philox_u32(seed, stream, (alto_u64)j) & 1u) ? -1.0f : 1.0f;
    perm[j] = j;
  }
  for (int i = b - 1; i >= 1; i--) {
    alto_u32 u = alto_philox_u32(seed, stream, (alto_u64)(b + (b - 1 - i)));
    int j = (int)(u % (alto_u32)(i + 1));
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
/* y = R x for one chunk of b values, R = (1/sqrt(b)) P D H P^T: t[i] = x[perm[i]] (P^T), butterflies
 * h = 1, 2, 4, ... (H), t[i] *= d[i] (D), y[perm[i]] = t[i] (P), times 1/sqrt(b). t is scratch. */
ALTO_HD void alto_rht_apply(const float *x, float *y, const float *sign, const int *perm, int b,
                            float *t) {
  for (int i = 0; i < b; i++)
    t[i] = x[perm[i]];
  for (int h = 1; h < b; h <<= 1)
    for (int i = 0; i < b; i += 2 * h)
      for (int j = i; j < i + h; j++) {
        float a = t[j], c = t[j + h];
        t[j] = ALTO_FADD(a, c);
        t[j + h] = ALTO_FSUB(a, c);
      }
  float norm = alto_rht_norm(b);
  for (int i = 0; i < b; i++)
    y[perm[i]] = alto_f32_canon(ALTO_FMUL(ALTO_FMUL(t[i], sign[i]), norm));
}

/* ---- DGE multiplier (NUMERICS.md 5) ------------------------------------------------------------ */
/* log2(z) and 2^y in fp64 from +, -, *, / only (no libm: host and device agree bit for bit). */
ALTO_HD double alto_log2_f64_(double z) { /* z > 0, finite */
  alto_u64 b = alto_f64_bits(z);
  int e = (int)((b >> 52) & 0x7FF) - 1023;
  double f = alto_f64_from_bits((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull); /* [1,2) */
  if (f > 1.4142135623730951) {
    f = ALTO_DMUL(f, 0.5);
    e += 1;
  }
  double t = ALTO_DDIV(ALTO_DSUB(f, 1.0), ALTO_DADD(f, 1.0)); /* |t| <= 0.1716 */
  double t2 = ALTO_DMUL(t, t), term = t, sum = 0.0;
  for (int k = 1; k <= 25; k += 2) { /* atanh series: t + t^3/3 + ... */
    sum = ALTO_DADD(sum, ALTO_DDIV(term, (double)k));
    term = ALTO_DMUL(term, t2);
  }
  return ALTO_DADD((double)e, ALTO_DMUL(sum, 2.8853900817779268)); /* 2 / ln 2 */
}
ALTO_HD double alto_exp2_f64_(double y) { /* 0 <= y < 64 */
  int n = (int)y;
  double r = ALTO_DMUL(ALTO_DSUB(y, (double)n), 0.6931471805599453); /* r ln 2 in [0, 0.7) */
  double term = 1.0, sum = 1.0;
  for (int k = 1; k <= 22; k++) {
    term = ALTO_DDIV(ALTO_DMUL(term, r), (double)k);
    sum = ALTO_DADD(sum, term);
  }
  return ALTO_DMUL(sum, alto_f64_from_bits((alto_u64)(n + 1023) << 52));
}
/* g(x) = min((1/k) |2 (x - m) / delta|^(1/k - 1), 3), k = 5, at the UNQUANTIZED weight in element
 * units x = w * 2^(127 - s), clamped to [-6, 6]; [lo, hi] the E2M1 interval with lo <= |x| < hi
 * ([4, 6] for |x| = 6), m its midpoint, delta its width. A NaN scale or weight gives NaN. */
ALTO_HD float alto_dge_multiplier(float w, alto_u8 s) {
  if (s == 0xFFu || alto_f32_isnan(w))
    return alto_f32_from_bits(ALTO_F32_NAN_BITS);
  float x = alto_f32_abs(ALTO_FMUL(w, alto_e8m0_inv_f32(s)));
  if (x > 6.0f)
    x = 6.0f;
  double lo, delta;
  if (x < 2.0f) {
    int k = 0;
    while (k < 3 && x >= ALTO_FMUL((float)(k + 1), 0.5f))
      k++;
    lo = 0.5 * k, delta = 0.5;
  } else if (x < 3.0f) {
    lo = 2.0, delta = 1.0;
  } else if (x < 4.0f) {
    lo = 3.0, delta = 1.0;
  } else {
    lo = 4.0, delta = 2.0;
  }
  /* z = |2 (x - lo - delta/2) / delta|, exact in fp64 */
  double z = ALTO_DDIV(ALTO_DMUL(2.0, ALTO_DSUB(ALTO_DSUB((double)x, lo), ALTO_DMUL(delta, 0.5))),
                       delta);
  if (z < 0.0)
    z = -z;
  if (z == 0.0)
    return 3.0f;
  double y = ALTO_DMUL(-0.8, alto_log2_f64_(z)); /* z^(-0.8) = 2^y, y >= 0 */
  if (y >= 8.0)
    return 3.0f; /* 0.2 * 2^y > 3 already at y > log2(15) */
  double g = ALTO_DMUL(0.2, alto_exp2_f64_(y));
  return g < 3.0 ? (float)g : 3.0f;
}

#endif /* ALTO_NUMERICS_H */
