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
#define ALTO_DEVICE_COMPILE 1
#define ALTO_HD __host__ __device__ __forceinline__
#else
#define ALTO_DEVICE_COMPILE 0
#define ALTO_HD static inline
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

#endif /* ALTO_NUMERICS_H */
