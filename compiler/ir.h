/* The IR: one training step as an ordered list of ops over named buffers (ARCHITECTURE.md
 * stage 4). One closed op enum with a name table (like ggml). A plan = ops + buffers + the
 * memory plan (offsets in one arena) + the distinct kernel variants.
 *
 * Shapes are row-major, outermost first; "M" is the token count B*T. Quantized tensors are two
 * buffers: codes (FP4 packed two per byte along the quantization axis; FP8 one per byte) and
 * scales (E8M0 for MX, E4M3 for NVFP4, fp32 for the FP8 schemes), NUMERICS.md section 1; a
 * two-level NVFP4 tensor (q.two_level) has a third: its fp32 outer scale, shape (1), E included.
 */
#ifndef ALTO_COMPILER_IR_H
#define ALTO_COMPILER_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/status.h"
#include "compiler/scheme.h"

typedef enum {
  ALTO_OP_QUANTIZE,          /* in: x; out: codes, scales [, outer (q.two_level)] */
  ALTO_OP_DEQUANTIZE,        /* in: codes, scales [, outer]; out: x */
  ALTO_OP_GEMM,              /* in: A [, A scales], B [, B scales] [, bias] [, A outer] [, B outer]
                              * (the outers of two-level NVFP4 operands: alto_ir_gemm_outer);
                              * out: C = op(A) op(B)^T */
  ALTO_OP_GROUPED_GEMM,      /* GEMM per expert over expert-major, 128-padded rows; + offsets */
  ALTO_OP_ATTENTION,         /* in: q, k, v [, sinks]; out: o, lse */
  ALTO_OP_ATTENTION_BWD,     /* in: q, k, v, o, lse, do [, sinks]; out: dq, dk, dv [, dsinks] */
  ALTO_OP_RHT,               /* randomized Hadamard transform along M (NUMERICS.md 4) */
  ALTO_OP_RMSNORM,           /* in: x, w; out: y, rstd */
  ALTO_OP_RMSNORM_BWD,       /* in: dy, x, w, rstd; out: dx, dw */
  ALTO_OP_ROPE,              /* in: x; out: y (in place allowed) */
  ALTO_OP_ROPE_BWD,          /* in: dy; out: dx */
  ALTO_OP_SWIGLU,            /* in: a (gate), b (up); out: silu(a) * b */
  ALTO_OP_SWIGLU_BWD,        /* in: dy, a, b; out: da, db */
  ALTO_OP_EMBED,             /* in: tokens, table; out: x */
  ALTO_OP_EMBED_BWD,         /* in: tokens, dx; out: dtable (accumulate) */
  ALTO_OP_CROSS_ENTROPY,     /* in: logits, targets; out: loss, dlogits (forward and backward) */
  ALTO_OP_ADD,               /* in: a, b; out: a + b */
  ALTO_OP_CAST,              /* in: x; out: x in another dtype (fp32 master weight -> bf16) */
  ALTO_OP_COPY,              /* in: x; out: y; a column slice (iparam: src col, dst col, cols) */
  ALTO_OP_ZERO,              /* out: zero-filled */
  ALTO_OP_MOE_ROUTE,         /* in: router logits; out: top-k ids, top-k weights, counts */
  ALTO_OP_MOE_ROUTE_BWD,     /* in: d top-k weights, logits, ids; out: d logits */
  ALTO_OP_MOE_PERMUTE,       /* in: x, ids, counts; out: x sorted expert-major (padded), row map */
  ALTO_OP_MOE_PERMUTE_BWD,   /* in: dxp, row map; out: dx (sum over the k copies) */
  ALTO_OP_MOE_UNPERMUTE,     /* in: yp, row map, weights; out: y = sum_k w_k yp[row] */
  ALTO_OP_MOE_UNPERMUTE_BWD, /* in: dy, yp, row map, weights; out: dyp, d weights */
  ALTO_OP_DGE_SCALE,         /* in: dW, W, W scales; out: dW * g(W) (NUMERICS.md 5) */
  ALTO_OP_ADAMW,             /* in: param, grad, m, v; out: param, m, v (in place) */
  ALTO_OP_COUNT
} alto_op;
_Static_assert(ALTO_OP_COUNT == 28, "update alto_ir_op_names and the variant rules");

/* "QUANTIZE", "GEMM", ... */
const char *alto_ir_op_name(alto_op op);

typedef enum {
  ALTO_DT_BF16,
  ALTO_DT_F32,
  ALTO_DT_FP4_E2M1, /* packed two per byte */
  ALTO_DT_FP8_E4M3,
  ALTO_DT_FP8_E5M2,
  ALTO_DT_E8M0,
  ALTO_DT_I32,
  ALTO_DT_COUNT
} alto_dtype;

const char *alto_ir_dtype_name(alto_dtype dt);
/* Bytes of `n` elements (FP4: rounded up to whole bytes). */
size_t alto_ir_dtype_bytes(alto_dtype dt, int64_t n);
/* The dtype of the codes of an element format. */
alto_dtype alto_ir_elem_dtype(alto_elem e);

typedef enum { ALTO_ROUND_RNE, ALTO_ROUND_SR, ALTO_ROUND_COUNT } alto_rounding;

/* How a quantized operand is (or was) quantized. Block 1x32 along K = rows 1, cols 32, axis -1;
 * 32x1 along M = rows 32, cols 1, axis -2; a 0 means the whole dimension (rowwise: 1x0 along K;
 * tensorwise: 0x0). */
typedef struct {
  alto_scheme scheme; /* ALTO_SCHEME_BF16: not quantized */
  alto_elem elem;
  int block_rows, block_cols;
  int axis; /* -1 (last, K) or -2 (M) */
  alto_rounding rounding;
  bool rht; /* RHT applied before quantization (by a preceding RHT op) */
  int rht_size;
  alto_scale_rule scale_rule;
  bool two_d; /* 2-D block (32x32, 128x128, 16x16) */
  bool dge;   /* DGE_SCALE: the weight's quantization */
  bool two_level; /* NVFP4: tensorwise outer scale (two_level_scaling: tensorwise) */
  alto_dtype scale_dtype;
} alto_qdesc;

#define ALTO_IR_MAX_IO 8

typedef struct {
  alto_op op;
  int in[ALTO_IR_MAX_IO], n_in;   /* buffer ids */
  int out[ALTO_IR_MAX_IO], n_out; /* buffer ids (may repeat an input: in place) */
  /* The problem shape: GEMM (M, N, K) or (E, M, N, K) for grouped; QUANTIZE/elementwise
   * (rows, cols); ATTENTION (B, H, T, head_dim). */
  int64_t shape[4];
  int rank;
  alto_dtype in_dtype, out_dtype;
  alto_qdesc q;          /* QUANTIZE/DEQUANTIZE: the format; GEMM: of operand A (B in q_b) */
  alto_qdesc q_b;        /* GEMM: of operand B */
  bool trans_a, trans_b; /* GEMM: A is stored (K, M) / B is stored (K, N) */
  bool accumulate;       /* output += result (gradient accumulation, tied embeddings) */
  int64_t iparam[4];     /* op specific: ATTENTION window, sinks, MLA dims; COPY cols */
  int layer;             /* block index or -1 */
  char name[112];        /* "layers.0.attention.wq.fprop.X" */
  int variant;           /* index into the plan's variants (after alto_plan_finish) */
} alto_node;

/* The fp32 outer scale of a two-level NVFP4 tensor (alto_qdesc.two_level), or -1 when it has
 * none: a QUANTIZE's third output, a DEQUANTIZE's third input, or a GEMM's operand 0 (A) or 1 (B)
 * outer (the GEMM's last inputs, A's before B's). */
int alto_ir_outer(const alto_node *n, int operand);

typedef enum {
  ALTO_BUF_INPUT,     /* tokens, targets: written by the loader */
  ALTO_BUF_PARAM,     /* fp32 master weights: live across steps */
  ALTO_BUF_GRAD,      /* fp32 gradients: live across the step */
  ALTO_BUF_OPT_STATE, /* AdamW moments: live across steps */
  ALTO_BUF_SAVED,     /* activations saved from forward for backward */
  ALTO_BUF_TEMP,      /* everything else */
  ALTO_BUF_KIND_COUNT
} alto_buf_kind;

const char *alto_ir_buf_kind_name(alto_buf_kind k);

typedef struct {
  char name[112]; /* "layers.0.attention.wq.fprop.Xq" */
  alto_dtype dtype;
  int64_t shape[4]; /* row-major, outermost first */
  int rank;
  size_t bytes;
  alto_buf_kind kind;
  int first, last; /* lifetime: first and last op that touch it (inclusive) */
  size_t offset;   /* in the arena (memory plan) */
} alto_buffer;

typedef struct alto_variant alto_variant;

typedef struct {
  alto_node *nodes; /* in execution order */
  int n_nodes, cap_nodes;
  alto_buffer *bufs;
  int n_bufs, cap_bufs;
  alto_variant *variants; /* distinct kernel variants, first use first */
  int *variant_uses;      /* nodes per variant */
  int n_variants;
  size_t arena_bytes;      /* the memory plan's peak (offset + bytes max) */
  size_t persistent_bytes; /* params, grads, optimizer state, inputs */
  int n_fwd_end;           /* index of the first backward op */
  int n_bwd_end;           /* index of the first optimizer op */
  int64_t batch, seq;
} alto_plan;

void alto_plan_init(alto_plan *p);
void alto_plan_free(alto_plan *p);
/* Adds a buffer; returns its id. Shape given outermost first, `rank` dims. */
int alto_plan_buffer(alto_plan *p, const char *name, alto_dtype dt, alto_buf_kind kind, int rank,
                     const int64_t *shape);
/* Appends a zero-initialized node (op set, layer -1, variant -1) and returns it. */
alto_node *alto_plan_node(alto_plan *p, alto_op op, const char *name);
/* Lifetimes from the op list (params, grads, optimizer state and inputs span the whole step),
 * then the variant table. Call once after the last node. */
void alto_plan_finish(alto_plan *p, const char *arch);
/* Ops of one kind. */
int alto_plan_count_op(const alto_plan *p, alto_op op);
/* The id of the buffer named `name`, or -1. */
int alto_plan_find_buffer(const alto_plan *p, const char *name);
/* Elements of a buffer (the product of its shape). */
int64_t alto_buffer_numel(const alto_buffer *b);
/* One line per node. */
void alto_plan_print(const alto_plan *p, FILE *f);
/* The scheme descriptor as text: "mxfp4 e2m1 1x32 axis -1 rne" ("bf16" when not quantized). */
void alto_ir_qdesc_str(const alto_qdesc *q, char *buf, size_t n);

#endif
