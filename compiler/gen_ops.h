/* The generator's entries for the training ops that are neither GEMM nor attention (embedding,
 * RMSNorm, RoPE, SwiGLU, add, cross-entropy, AdamW, gradient norm and clipping, dtype casts,
 * transposes, the DGE gradient multiplier): a descriptor
 * (alto_opkern) -> a readable stub over templates/ops/, the same shape as the quantization stubs
 * (compiler/gen.h): provenance, #include, one extern "C" kernel taking alto_opargs by value.
 * Launch geometry is a pure function of the descriptor and the shape (alto_opkern_grid). */
#ifndef ALTO_COMPILER_GEN_OPS_H
#define ALTO_COMPILER_GEN_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler/gen.h"

typedef enum {
  ALTO_OPKERN_EMBED,       /* gather rows of the table */
  ALTO_OPKERN_EMBED_HIST,  /* backward 1/4: token counts */
  ALTO_OPKERN_EMBED_SCAN,  /* backward 2/4: offsets, occurring tokens */
  ALTO_OPKERN_EMBED_RANK,  /* backward 3/4: stable counting sort of the positions */
  ALTO_OPKERN_EMBED_ACCUM, /* backward 4/4: dtable rows += dout rows in token order */
  ALTO_OPKERN_RMSNORM,     /* forward: out, rstd */
  ALTO_OPKERN_RMSNORM_BWD, /* backward: dx, dw partials per chunk of rows */
  ALTO_OPKERN_RMSNORM_DW,  /* backward: dw = the partials summed in order */
  ALTO_OPKERN_ROPE,        /* rotation */
  ALTO_OPKERN_ROPE_BWD,    /* rotation by the negative angle */
  ALTO_OPKERN_SWIGLU,      /* silu(a) * b */
  ALTO_OPKERN_SWIGLU_BWD,  /* da, db */
  ALTO_OPKERN_ADD,         /* a + b */
  ALTO_OPKERN_CE_COUNT,    /* cross-entropy 1/3: valid targets */
  ALTO_OPKERN_CE_ROWS,     /* cross-entropy 2/3: row losses and dlogits */
  ALTO_OPKERN_CE_MEAN,     /* cross-entropy 3/3: the mean loss */
  ALTO_OPKERN_CE_ROWS_CL,  /* cross-entropy 2/3, one pass, a cluster per row (bf16, CUDA sm_90) */
  ALTO_OPKERN_ADAMW,       /* one AdamW step (fp32) */
  ALTO_OPKERN_SUMSQ_PART,  /* sum of squares 1/2: per-CTA partials (fp32 in, fp64 sums) */
  ALTO_OPKERN_SUMSQ_FINAL, /* sum of squares 2/2: one CTA */
  ALTO_OPKERN_SCALE,       /* x *= s, s from the host, a device fp32 or the clip factor of a
                            * device norm */
  ALTO_OPKERN_CAST,        /* bf16 / fp32 -> bf16 / fp32 */
  ALTO_OPKERN_TRANSPOSE,   /* (rows, cols) -> (cols, rows), 1-, 2- or 4-byte elements */
  ALTO_OPKERN_DGE,         /* dw *= the DGE multiplier of w under its MXFP4 scales */
  ALTO_OPKERN_COUNT
} alto_opkern_kind;

/* Everything that makes one op kernel different from another. Fields an op does not use must be
 * zero (alto_opkern_make does that). */
typedef struct {
  alto_opkern_kind kind;
  bool bf16;      /* activations / logits in bf16 (else fp32); CAST: the output; fp32-only: false */
  bool in_bf16;   /* CAST: the input in bf16 (else fp32) */
  int cols;       /* RMSNorm: the model dim C (compiled) */
  int head_dim;   /* RoPE: D (compiled) */
  int rot;        /* RoPE: rotated dims (compiled, even, <= D) */
  int elem_bytes; /* TRANSPOSE: bytes per element (1, 2 or 4) */
  int per_thread; /* CE_ROWS_CL: logits per thread (8, 16 or 32) */
  int cluster;    /* CE_ROWS_CL: CTAs per row, a thread block cluster (1, 2, 4 or 8) */
  bool copy_bf16; /* ADAMW: also the updated parameter's bf16 rounding (out4), a CAST's bits */
  alto_target target;
  char arch[16]; /* "sm_90a", "gfx90a" */
} alto_opkern;

#define ALTO_OPS_NORM_ROWS 32 /* RMSNorm backward: rows per CTA (the dw partial's rows) */
#define ALTO_OPS_NORM_MAX_COLS 32768
#define ALTO_OPS_SUMSQ_MAX_PARTS 1024
#define ALTO_OPS_CE_ROWS 8 /* CE_ROWS_CL: rows per cluster (walked in order) */
#define ALTO_OPS_CE_THREADS 512

const char *alto_opkern_name(alto_opkern_kind k);
/* A descriptor with the unused fields zeroed (CAST: from fp32; TRANSPOSE: use the next two). */
alto_opkern alto_opkern_make(alto_opkern_kind kind, bool bf16, int cols, int head_dim, int rot,
                             alto_target target, const char *arch);
/* CAST from in_bf16 to out_bf16 (bf16 or fp32 each; the same: a copy). */
alto_opkern alto_opkern_make_cast(bool in_bf16, bool out_bf16, alto_target target,
                                  const char *arch);
/* CE_ROWS_CL (bf16 logits, CUDA): per_thread logits per thread, cluster CTAs per row. */
alto_opkern alto_opkern_make_ce_cl(int per_thread, int cluster, alto_target target,
                                   const char *arch);
/* The CE_ROWS_CL shape for a vocab of V: the smallest per_thread, then cluster, that holds a row
 * (V + 16 <= per_thread * cluster * ALTO_OPS_CE_THREADS); false when V is too large. */
bool alto_opkern_ce_cl_shape(int64_t V, int *per_thread, int *cluster);
/* TRANSPOSE of elem_bytes-byte elements (1, 2 or 4). */
alto_opkern alto_opkern_make_transpose(int elem_bytes, alto_target target, const char *arch);
/* Whether the op has a bf16 variant (else fp32 only, or no dtype: TRANSPOSE). */
bool alto_opkern_has_dtype(alto_opkern_kind k);

/* "ops.rmsnorm.c4096.bf16.cuda.sm_90a", "ops.cast.f32_to_bf16.cuda.sm_90a",
 * "ops.transpose.e1.cuda.sm_90a", "ops.ce_rows_cl.e32.k8.bf16.cuda.sm_90a" */
void alto_opkern_key(const alto_opkern *k, char *out, size_t n);
/* The stub; ALTO_ERR_INVALID_ARG for a descriptor no template supports. */
alto_status alto_gen_ops(const alto_opkern *k, alto_gen_kernel *out);

/* CTA size of a kernel. */
int alto_opkern_threads(const alto_opkern *k);
/* Dynamic shared memory of a kernel (bytes). */
int alto_opkern_smem_bytes(const alto_opkern *k);
/* Launch geometry. rows: M tokens (embedding, RMSNorm, cross-entropy), M * NH (RoPE), N elements
 * (elementwise, AdamW, sumsq, scale, cast, DGE: R * C) or the input's rows (transpose); cols: C
 * (embedding, RMSNorm dw) or the input's columns (transpose). */
void alto_opkern_grid(const alto_opkern *k, int64_t rows, int64_t cols, unsigned grid[3]);

#endif
