/* The kernel generator (ARCHITECTURE.md stage 6): a kernel descriptor -> a short, readable source
 * stub: a provenance comment, an #include of the hand-written template, and one extern "C" kernel
 * that instantiates it with every constant baked in. CUDA and HIP differ only through the target
 * table in gen.c; the stubs compile standalone with nvcc / hipcc given -I<templates>.
 *
 * This file covers the quantization kernels (templates/quant/). */
#ifndef ALTO_COMPILER_GEN_H
#define ALTO_COMPILER_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "compiler/scheme.h"

#define ALTO_GEN_VERSION 1

typedef enum { ALTO_TARGET_CUDA, ALTO_TARGET_HIP, ALTO_TARGET_COUNT } alto_target;

typedef enum {
  ALTO_QKERN_ROWS,              /* 1xB blocks along the last axis (MX, NVFP4, fp8_block) */
  ALTO_QKERN_TILE,              /* Bx1 column blocks (optional RHT) or BxB 2-D blocks */
  ALTO_QKERN_DEQUANT,           /* codes + scales -> bf16/fp32 */
  ALTO_QKERN_AMAX,              /* tensor amax (NVFP4 two-level, tensorwise FP8) */
  ALTO_QKERN_NVFP4_OUTER,       /* outer scale from the tensor amax */
  ALTO_QKERN_FP8_TENSORWISE,    /* encode with one tensor scale */
  ALTO_QKERN_FP8_ROWWISE_ROWS,  /* one scale per row (axis -1) */
  ALTO_QKERN_FP8_ROWWISE_COLS,  /* one scale per column of each matrix (axis -2) */
  ALTO_QKERN_MX69,              /* MX9 / MX6 fake-quant */
  ALTO_QKERN_RHT,               /* the RHT alone, x -> y (before a two-level NVFP4 scale) */
  ALTO_QKERN_DUAL,              /* X read once: 1x32 along K and R X 32x1 along M (MX) */
  ALTO_QKERN_FP8_COL_AMAX,      /* per-column amax into the scales (before FP8_ROWWISE_COLS) */
  ALTO_QKERN_COUNT
} alto_qkern_kind;

/* Everything that makes one quantization kernel different from another. */
typedef struct {
  alto_qkern_kind kind;
  alto_scheme scheme;
  alto_elem elem;       /* element format of the codes */
  alto_scale_rule rule; /* MX */
  int block_r, block_c; /* block extent along rows / columns (1 where none) */
  bool pack_rows;       /* FP4 packing along axis -2 (rows) instead of -1 */
  bool sr;
  int rht;              /* RHT chunk rows (0: none) */
  bool in_bf16;         /* input bf16 (else fp32) */
  bool out_bf16;        /* DEQUANT / MX69 output */
  bool pow2;            /* FP8 rowwise/tensorwise power-of-two scales */
  int scale_mode;       /* DEQUANT of rowwise/tensorwise: 0 tensor, 1 row, 2 column */
  int quant_bit, group_size; /* MX69 */
  bool codes_t;         /* TILE, FP8 128x1 of a 2-D x, or FP8_ROWWISE_COLS (rows a multiple of 16):
                         * codes written transposed, [cols, rows] */
  bool scales_t;        /* ROWS / DEQUANT, FP8 1x128 of a 2-D x: scales MN-major, [cols/128, rows] */
  bool mx_tile;         /* ROWS, MXFP4 1x32 (CUDA): the E4M3 form of the FP8 GEMM instead of the
                         * MXFP4 codes (quant_rows.cuh ALTO_ROWS_FORM_MX_TILE) */
  alto_elem dq_elem;    /* TILE, FP8 128x1 (in_bf16): re-quantize from FP8 codes of this format with
                         * 1x128 scales (MN-major when dq_scales_t); ALTO_ELEM_E2M1 (0): none */
  bool dq_scales_t;
  bool t_copy;          /* TILE, FP8 128x128 of a 2-D x: also a transposed copy (codes2, scales2) */
  int rows_copy;        /* TILE, FP8 128x1 with codes_t, bf16 2-D x: also the 1x128 quantization
                         * along the rows (codes2, scales2): 1 scales row-major, 2 MN-major */
  bool rows_rq;         /* with rows_copy: the 128x1 codes are of the row copy's dequantization
                         * (fp8_block's wgrad X re-quantized, in the forward: ROWS_RQ) */
  bool swiglu;          /* ROWS, bf16, not NVFP4: x is SwiGLU(x, x2), computed in the kernel */
  bool adamw;           /* TILE, FP8 128x128 or MX / NVFP4 2-D blocks (quant_cols.cuh) of fp32
                         * x: x updated by an AdamW step first (the optimizer quantizes the
                         * weights: opt_grad, opt_m, opt_v, opt_k) */
  bool swiglu_bwd;      /* TILE, FP8 128x1 codes_t + rows_copy, bf16: x, x2, x3 are SwiGLU
                         * backward's dy, a, b; da and db quantized (quant_dual_swiglu_bwd.cuh) */
  alto_target target;
  char arch[16];        /* "sm_90a", "gfx90a" */
} alto_qkern;

typedef struct {
  char key[256];          /* canonical variant string */
  char name[160];         /* the extern "C" kernel name */
  char *source;           /* the stub (owned) */
  const char *template_file; /* "quant/quant_rows.cuh" */
  int threads;            /* CTA size */
  int smem_bytes;         /* dynamic shared memory */
} alto_gen_kernel;

/* The canonical key of a descriptor ("quant.rows.mxfp4.e2m1.b1x32.rne.even.in_bf16.sm_90a"). */
void alto_qkern_key(const alto_qkern *k, char *out, size_t n);

/* Generates the stub; ALTO_ERR_INVALID_ARG for a descriptor no template supports. */
alto_status alto_gen_quant(const alto_qkern *k, alto_gen_kernel *out);
/* alto_gen_quant's refusals alone (no source): ALTO_OK when a template supports the descriptor. */
alto_status alto_gen_quant_check(const alto_qkern *k);
void alto_gen_kernel_free(alto_gen_kernel *g);

/* Launch geometry for a tensor of `rows` x `cols` (R rows per matrix) as the template expects. */
void alto_gen_quant_grid(const alto_qkern *k, int64_t rows, int64_t cols, int64_t R,
                         unsigned grid[3]);

/* Per-target facts (source extension, compiler, names): the table CUDA/HIP differences live in. */
typedef struct {
  const char *name;      /* "cuda", "hip" */
  const char *ext;       /* ".cu", ".hip" */
  const char *compiler;  /* "nvcc", "hipcc" (for repro lines) */
  int warp;              /* 32, 64 */
} alto_target_info;
const alto_target_info *alto_target_info_get(alto_target t);

/* Helpers shared by the generators (quantization, ops, attention). */
/* Appends formatted text to a growing string (*s may be NULL with *len = *cap = 0). */
void alto_gen_appendf(char **s, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The kernel name of a key: "alto_" + the key with every non-alphanumeric replaced by '_'. */
void alto_gen_kernel_name(const char *key, char *name, size_t n);

/* One Hopper wgmma instruction as a device function of the stub (inline asm takes no operand
 * arrays, so the accumulators are spelled out): m64nNkK, fp32 accumulators, A from a shared-memory
 * descriptor or four registers, B from a descriptor. */
typedef struct {
  const char *name;  /* the function's name */
  int n, k;          /* m64nNkK */
  const char *types; /* the instruction's type suffix: "f32.e4m3.e5m2", "f32.bf16.bf16" */
  bool a_regs;       /* A from four 32-bit registers (the mma.m16n8k16 A fragment per warp) */
  int trans_b;       /* -1: no transpose operands (FP8 takes none); 0, 1: imm-trans-b */
  bool rows4;        /* accumulators as float (&d)[N / 8][4] (one 8-column group per row), else
                        float (&d)[N / 2] */
} alto_gen_wgmma_desc;
/* Appends the function: void name(d, desc_a | const alto_u32 (&a)[4], desc_b, bool scale_d);
 * scale_d false: d = A B, else d += A B. */
void alto_gen_wgmma(char **s, size_t *len, size_t *cap, const alto_gen_wgmma_desc *w);

/* Tile kernel columns per thread for a block width (2, or 4 for 128-wide 2-D blocks). */
int alto_gen_tile_cpt(const alto_qkern *k);

#endif
