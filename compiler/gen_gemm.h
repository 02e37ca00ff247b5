/* Generator entries of alto's own Hopper GEMMs (templates/gemm/): a descriptor -> a readable stub
 * (provenance comment, the wgmma wrapper for the tile width, #include of the template, one
 * extern "C" kernel with the tile, pipeline depth, scale kind and epilogue baked in), its key, and
 * the tile configuration chosen per shape (a pure function, unit-tested in tests/test_gemm_config.c).
 *
 * The kernels (sm_90a only): TMA bulk-tensor loads of K-major E4M3 tiles (128-byte swizzle) into a
 * multi-stage shared-memory ring guarded by mbarriers; one producer warp (TMA for the codes,
 * cp.async for the fp32 scales); two consumer warpgroups of 64 rows each issuing FP8 wgmma with
 * fp32 accumulation, promoted into fp32 registers after every 128-deep K block with the block's
 * scales (DeepGEMM's two-level accumulation; with OUTER scales unscaled, the rows' and columns'
 * scales applied in the epilogue); a persistent grid walking the tiles in L2-friendly
 * groups; bf16 or fp32 output, optionally accumulated into C (beta = 1). M, N, K are runtime. */
#ifndef ALTO_COMPILER_GEN_GEMM_H
#define ALTO_COMPILER_GEN_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler/gen.h"

/* How B (the [N, K] operand) is scaled; A is one fp32 per row per 128 along K (1x128), except in
 * ALTO_GEMM_OUTER. */
typedef enum {
  ALTO_GEMM_B_1X128 = 0,   /* one fp32 per row of B per 128 along K (wgrad; MXFP4 via E4M3) */
  ALTO_GEMM_B_128X128 = 1, /* one fp32 per 128x128 block of B (fprop / dgrad weights) */
  ALTO_GEMM_B_MX = 2,      /* MXFP4 B through alto_gemm_mx_to_fp8, shared (runtime/gemm_gpu.h): not a
                            * kernel of its own; alto_gemm_fp8 runs it as the 128x128 kernel or,
                            * where the conversion could not share every block's scale, the 1x128
                            * one */
  ALTO_GEMM_OUTER = 3,     /* rowwise / tensorwise FP8 (torchao): one fp32 scale per row of A and
                            * per row of B (the same for all K), each a divisor (the value of a
                            * code is code / scale); the K blocks' sums are added unscaled and the
                            * epilogue multiplies by the two reciprocals */
} alto_gemm_bscale;

/* Rows per tile: 64 per consumer warpgroup (wgs 2 or 3; 0 reads as 2). */
#define ALTO_GEMM_BM_OF(wgs) (64 * ((wgs) == 3 ? 3 : 2))
#define ALTO_GEMM_BM 128       /* rows per tile of the two-consumer kernels */
#define ALTO_GEMM_BK 128       /* K per pipeline stage = one scale block */
#define ALTO_GEMM_THREADS_OF(wgs) (ALTO_GEMM_BM_OF(wgs) * 2 + 128) /* + one producer warpgroup */
#define ALTO_GEMM_THREADS 384  /* one producer warpgroup + two consumer warpgroups */
#define ALTO_GEMM_SMEM_MAX (227 * 1024)
#define ALTO_GEMM_EPI_WG_BYTES (2 * 64 * 64) /* the TMA epilogue's staging: 2 buffers per consumer */
#define ALTO_GEMM_WGS3_MAX_BN 128 /* three consumers hold tiles up to 128 wide (160 registers) */

/* The tile configuration of one GEMM. */
typedef struct {
  int bn;      /* columns per tile: a multiple of 16 in [64, 192], or 256 (two 128-wide sub-tiles);
                * not 176 with 128x128 B scales (a tile may span at most two scale blocks) */
  int stages;  /* shared-memory pipeline depth, 2..8 */
  int group_m; /* tile raster: row tiles walked in groups of this many (L2 reuse of B) */
  int ctas;    /* persistent CTAs launched (<= the SM count, <= the tile count; a multiple of
                * cluster; the launch lowers it to what can be resident at once) */
  int cluster; /* 1, or 2: CTA pairs on two row tiles of one column tile share (multicast) B */
  int reg_epilogue; /* 1: C written by register stores even where the TMA epilogue applies (tests
                     * and benchmarks compare the two; the configuration function sets 0) */
  int wgs;          /* consumer warpgroups: 2 (BM 128; 0 reads as 2) or 3 (BM 192, bn <= 128,
                     * cluster 1) */
} alto_gemm_config;

/* The configuration for C[M, N] = A[M, K] B[N, K]^T on a device with sm_count SMs: three consumer
 * warpgroups (BM 192, widths up to 128) for 1x128-scaled B when M > 128, else two (BM 128); the tile
 * width with the best product of (share of the persistent grid's tile slots holding outputs) and
 * (operand reuse bn / (BM + bn)) (ties: the wider tile),
 * the deepest pipeline that fits in shared memory (at most 8), groups of 8 row tiles, CTA pairs
 * multicasting B whenever there are at least two row tiles and two SMs. Pure. */
/* (ALTO_GEMM_B_MX: the 128x128 kind's widths with the 1x128 kind's depth, a configuration both
 * of its kernels can run.) */
alto_gemm_config alto_gemm_config_for(int64_t m, int64_t n, int64_t k, alto_gemm_bscale bscale,
                                      int sm_count);

/* Everything that makes one GEMM kernel different from another (M, N, K are runtime). */
typedef struct {
  alto_gemm_bscale bscale;
  bool out_f32;    /* fp32 output; else bf16 (round to nearest even) */
  bool accumulate; /* C += A B^T (C read in its dtype, the sum rounded once); else C = A B^T */
  int bn, stages, group_m;
  int cluster;        /* 1 or 2 (alto_gemm_config) */
  bool a_e5m2, b_e5m2; /* the operands' codes E5M2 (else E4M3): wgmma takes either on each side */
  alto_target target; /* ALTO_TARGET_CUDA */
  char arch[16];      /* "sm_90a" */
  int wgs;            /* consumer warpgroups, 2 or 3 (alto_gemm_config; 0 reads as 2) */
} alto_gemmkern;

/* The deepest pipeline (at most 8 stages) whose shared memory fits for tile width bn (with wgs
 * consumer warpgroups: 0 or 2, or 3). */
int alto_gemm_max_stages(alto_gemm_bscale bscale, int bn);
int alto_gemm_max_stages_wgs(alto_gemm_bscale bscale, int bn, int wgs);

/* Dynamic shared memory of a kernel: 1 KiB alignment slack, the epilogue's staging buffers, stages x
 * (A tile + B tile + scales + two mbarriers), and with OUTER scales the tile's column reciprocals
 * (bn fp32 per consumer warpgroup). */
int alto_gemm_smem_bytes(const alto_gemmkern *k);

/* The canonical key ("gemm.fp8.a1x128.b128x128.bf16.n128.s6.g8.c2.cuda.sm_90a"; ".acc" when
 * accumulating; OUTER scales "arow.brow"; ".e5m2" after an E5M2 operand's scale kind; ".w3" after
 * the cluster with three consumer warpgroups). */
void alto_gemmkern_key(const alto_gemmkern *k, char *out, size_t n);

/* Generates the stub; ALTO_ERR_INVALID_ARG for a descriptor the template does not support
 * (target not CUDA or arch not sm_90a, tile width, stages, shared memory). */
alto_status alto_gen_gemm(const alto_gemmkern *k, alto_gen_kernel *out);

/* The variants alto-compile and the compile test build: 1x128 with three consumer warpgroups x
 * the widths up to 128 x output dtypes x accumulate; both block scale kinds x output dtypes x
 * accumulate x the tile widths the configuration can choose x clusters 1 and 2, and the OUTER
 * kind x output dtypes x accumulate x widths x A E4M3 or E5M2 (cluster 1: what the configuration
 * picks); stages as the configuration picks them, group 8, E4M3 elsewhere. Returns the count (at
 * most cap written). */
int alto_gemm_variants(alto_target target, const char *arch, alto_gemmkern *out, int cap);

/* The MXFP4 -> E4M3 operand conversion (templates/gemm/mx_to_fp8.cuh; runtime/gemm_gpu.h): one
 * CTA of ALTO_MX_TO_FP8_THREADS per 128-row x 128-K tile of an operand stored in `layout`
 * (alto_mx_layout), its rows' scales shared where exact (share) or not. CUDA only. */
#define ALTO_MX_TO_FP8_THREADS 512
alto_status alto_gen_mx_to_fp8(alto_target target, const char *arch, bool share, int layout,
                               alto_gen_kernel *out);

#endif
