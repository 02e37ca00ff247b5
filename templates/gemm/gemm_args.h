/* alto_gemm_args: the one argument block of every GEMM kernel (templates/gemm/), passed by value as
 * a __grid_constant__ parameter so the TMA descriptors inside it can be used in place. Shared by the
 * host (C: device pointers as 64-bit integers) and the device template; the two tensor maps come
 * first (64-byte aligned, 128 bytes each: the driver's CUtensorMap), then 8-byte fields only, so the
 * layout is identical on both sides. */
#ifndef ALTO_GEMM_ARGS_H
#define ALTO_GEMM_ARGS_H

#include "common/alto_qargs.h" /* ALTO_DPTR, alto_u64, alto_i64 */

#if defined(__cplusplus)
#define ALTO_ALIGN64 alignas(64)
#else
#define ALTO_ALIGN64 _Alignas(64)
#endif

/* The driver's CUtensorMap: opaque, 128 bytes, 64-byte aligned (cuTensorMapEncodeTiled fills it). */
typedef struct {
  ALTO_ALIGN64 alto_u64 opaque[16];
} alto_tensor_map;

typedef struct {
  alto_tensor_map tma_a; /* A codes [M, K] bytes, box {128 (K), 128 (rows)}, 128-byte swizzle */
  alto_tensor_map tma_b; /* B codes [N, K] bytes, box {128 (K), BN (rows)}, 128-byte swizzle */
  alto_tensor_map tma_c; /* C [M, N] in its dtype, box {64 bytes (N), 64 (rows)}, 64-byte swizzle
                          * (read only when c_tma) */
  ALTO_DPTR(const float) sa; /* A scale of row i, K block kb: sa[i * sa_r + kb * sa_k] */
  ALTO_DPTR(const float) sb; /* B scale of row (1x128) or row block (128x128) j: sb[j * sb_r + kb * sb_k] */
  ALTO_DPTR(void) c;         /* C [M, N] row-major, row pitch ldc elements, bf16 or fp32 */
  alto_i64 sa_r, sa_k, sb_r, sb_k;
  alto_i64 ldc;
  alto_i64 m, n, k;
  alto_i64 tiles_m, tiles_n, kblocks;
  /* 1 when the scale column of a tile is contiguous and 16-byte aligned (MN-major grid: s_r = 1,
   * s_k and the row count multiples of 4, a 16-byte aligned base): one bulk copy per stage then
   * replaces the per-row 4-byte copies. For B only with 1x128 scales. */
  alto_i64 sa_bulk, sb_bulk;
  /* 1 when the epilogue writes C by TMA (tma_c: C 16-byte aligned, ldc a multiple of 16 bytes;
   * for C += only with fp32 C, added in L2 by the TMA's reduction); else by register stores. */
  alto_i64 c_tma;
  /* MX-scaled B (ALTO_GEMM_B_MX): the conversion's count of B's 128x128 blocks whose rows could
   * not share one scale (alto_gemm_mx_to_fp8 with share), or 0. When set, the kernel runs only if
   * (count != 0) == b_split_run and otherwise returns at once. */
  ALTO_DPTR(const alto_u32) b_split;
  alto_i64 b_split_run;
} alto_gemm_args;

/* The MXFP4 -> E4M3 conversion (templates/gemm/mx_to_fp8.cuh, runtime/gemm_gpu.h). A CTA converts
 * 128 rows x up to ALTO_MX_TILES K tiles of 128, all loads issued before any tile is converted
 * (bytes in flight per thread: one 16-byte load per thread left the kernel at a third of the copy
 * bandwidth). */
#define ALTO_MX_TILES 2
typedef struct {
  ALTO_DPTR(alto_u8) codes;        /* [R, K] E4M3 written */
  ALTO_DPTR(float) scales;         /* [R, ceil(K/128)] fp32 written at r * s_r + kb * s_k */
  ALTO_DPTR(alto_u32) inexact;     /* counter of 128-blocks not converted exactly (may be 0) */
  ALTO_DPTR(const alto_u8) mx_codes;  /* E2M1 codes in the kernel's layout (alto_mx_layout) */
  ALTO_DPTR(const alto_u8) mx_scales; /* E8M0 bytes, addressed by mbr, ms_r, ms_k */
  alto_i64 rows, k;
  alto_i64 s_r, s_k;
  /* shared scales: counter of 128-row x 128-K blocks whose rows could not share one scale (they
   * keep one per row; required) */
  ALTO_DPTR(alto_u32) split;
  /* the E8M0 byte of (row r, 1x32 block j) at mx_scales[(r / mbr) * ms_r + j * ms_k] */
  alto_i64 mbr, ms_r, ms_k;
  alto_i64 tiles; /* K tiles per CTA, 1..ALTO_MX_TILES */
} alto_mx2fp8_args;

#endif
