/* Internal to the lowering: the context and the Linear expansion (lower_linear.c). */
#ifndef ALTO_COMPILER_LOWER_IMPL_H
#define ALTO_COMPILER_LOWER_IMPL_H

#include "compiler/lower.h"

typedef struct {
  int w, dw; /* the parameter and its gradient */
} lower_param_;

/* A cached quantization of a buffer (the same input, the same format: computed once). */
typedef struct {
  int src;
  alto_qdesc q;
  int codes, scales;
  int node; /* the QUANTIZE node; a later write of src invalidates the entry */
} lower_qcache_;

typedef struct {
  const alto_model *m;
  const alto_recipe *r;
  alto_plan *p;
  int64_t B, T, M; /* batch, sequence, tokens M = B*T */
  alto_module *mods;
  int n_mods;
  alto_lowered *out;
  lower_param_ *params; /* in creation order, for the optimizer */
  int n_params, cap_params;
  lower_qcache_ *qcache;
  int n_qcache, cap_qcache;
  int layer; /* the block being lowered, -1 outside */
} lower_ctx_;

/* One Linear (or one projection of a grouped experts bank), lowered. */
typedef struct {
  const alto_lpt_modifier *lpt; /* NULL: bf16 */
  char name[96];                /* "layers.0.attention.wq", "layers.1.moe.experts.w1" */
  int64_t E;                    /* experts (grouped) or 0 */
  int64_t N, K;                 /* weight (N, K) or (E, N, K) */
  int64_t M;                    /* rows of X */
  int counts;                   /* grouped: tokens per expert (E) i32 */
  lower_param_ w, b;            /* b.w < 0 without bias */
  int x;                        /* forward input (M, K) bf16 */
  int wb;                       /* bf16 linears: the weight's bf16 copy (fprop and dgrad) */
  int xq, xs;                   /* fprop X codes, scales */
  int wq, ws;                   /* fprop W codes, scales */
  int xtq, xts;                 /* wgrad X codes, scales (saved from forward) */
  alto_qdesc qx, qw;            /* fprop formats */
} lower_linear_;

lower_param_ lower_param_new_(lower_ctx_ *c, const char *name, int rank, const int64_t *shape);
int lower_buf_(lower_ctx_ *c, const char *name, alto_dtype dt, int rank, int64_t d0, int64_t d1,
               int64_t d2);
alto_node *lower_node_(lower_ctx_ *c, alto_op op, const char *name);
void lower_in_(alto_node *n, int buf);
void lower_out_(alto_node *n, int buf);

/* Looks up the module, asks the recipe and records the choice. */
alto_status lower_resolve_(lower_ctx_ *c, const char *module, const alto_lpt_modifier **lpt);

/* Sets up `l` (params created) for weight (N, K) or (E, N, K) when e > 0. */
alto_status lower_linear_init_(lower_ctx_ *c, lower_linear_ *l, const char *name,
                               const alto_lpt_modifier *lpt, int64_t e, int64_t n, int64_t k,
                               int64_t m, bool bias, const lower_param_ *shared_w);
/* Forward: returns Y (M, N) bf16. */
alto_status lower_linear_fwd_(lower_ctx_ *c, lower_linear_ *l, int x, int *y);
/* Backward: dX (M, K) into *dx (a new buffer when *dx < 0, else accumulated into it); writes
 * the weight gradient. */
alto_status lower_linear_bwd_(lower_ctx_ *c, lower_linear_ *l, int dy, int *dx);

/* The dense SwiGLU MLP (feed_forward, shared_experts), lowered. */
typedef struct {
  lower_linear_ w1, w2, w3;
  int h1, h3, g; /* (M, F) */
} lower_mlp_;

/* One transformer block, lowered: what backward needs from forward. */
typedef struct {
  int x; /* block input (M, C) */
  lower_param_ norm1, norm2;
  int xn1, rstd1, h, xn2, rstd2; /* (M, C), (M,), residual after attention, ... */
  /* attention */
  lower_linear_ wq, wk, wv, wo, wq_a, wq_b, wkv_a, wkv_b;
  lower_param_ sinks, qnorm, kvnorm;
  int qa, qn, qrstd, kv, kvn, kvrstd; /* MLA: (M, q_lora), (M, kv_lora) */
  int qr, kr, v, kvb, kper, o, lse;   /* roped q/k, v, MLA kv_b out and k_pe, out, lse (B, H, T) */
  /* MLP */
  bool moe;
  lower_mlp_ dense, shared;
  bool has_shared;
  lower_linear_ gate, e1, e2, e3;
  int rl, ids, wts, counts, xp, rowmap, eh1, eh3, eg, yp; /* router logits (M, E), ... */
  int64_t Mp; /* rows after the expert-major permutation, padded per expert to 128 */
} lower_layer_;

alto_node *lower_ew_(lower_ctx_ *c, alto_op op, const char *name, int64_t rows, int64_t cols);
lower_param_ lower_norm_param_(lower_ctx_ *c, const char *name, int64_t dim);
void lower_rmsnorm_(lower_ctx_ *c, const char *name, int x, lower_param_ w, int64_t dim, int *y,
                    int *rstd);
void lower_rmsnorm_bwd_(lower_ctx_ *c, const char *name, int dy, int x, lower_param_ w, int rstd,
                        int64_t dim, int *dx);
int lower_add_(lower_ctx_ *c, const char *name, int a, int b, int64_t dim);
int lower_rope_(lower_ctx_ *c, const char *name, alto_op op, int x, int64_t heads, int64_t hd,
                int64_t rot);

/* lower_blocks.c: one transformer block forward (x -> *y) and backward (dres updated in place:
 * d block output in, d block input out). */
alto_status lower_block_fwd_(lower_ctx_ *c, lower_layer_ *L, int i, int x, int *y);
alto_status lower_block_bwd_(lower_ctx_ *c, lower_layer_ *L, int i, int dres);

#endif
