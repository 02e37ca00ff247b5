/* The CPU backend's ops: forward and backward of every op the llama3 family needs, as plain C
 * loops in the style of llm.c's train_gpt2.c. Notation: B batch, T sequence, M = B*T tokens, C
 * model dim, H query heads, G kv heads, D head dim, F ffn dim, V vocab.
 *
 * Math is in `alto_real`: float by default, double when compiled with -DALTO_REAL_F64 (the fp64
 * build is for finite-difference gradient tests; tests/test_ops_grad.c includes ops.c with
 * ALTO_REAL_F64 and ALTO_OPS_STATIC defined, so its copies are static and never clash with the
 * library's float symbols). Rows run in parallel with alto_parallel_for; every output element is
 * computed by one thread in a fixed order, so results do not depend on the thread count.
 *
 * Gradient ops write (=) their outputs unless they take an `accumulate` flag (+=); parameter
 * gradients (dw of RMSNorm, dtable of the embedding) follow the IR: see each function.
 */
#ifndef ALTO_RUNTIME_CPU_OPS_H
#define ALTO_RUNTIME_CPU_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler/model.h"

#ifdef ALTO_REAL_F64
typedef double alto_real;
#else
typedef float alto_real;
#endif

#ifdef ALTO_OPS_STATIC
#define ALTO_OPS_API static __attribute__((unused))
#else
#define ALTO_OPS_API
#endif

/* ---- embedding ---------------------------------------------------------------------------- */
/* out[m] = table[tokens[m]]. out (M, C), tokens (M,), table (V, C). Tokens must be in [0, V). */
ALTO_OPS_API void alto_op_embed(alto_real *out, const int32_t *tokens, const alto_real *table,
                                int64_t M, int64_t C);
/* dtable[tokens[m]] += dout[m] (scatter-add; parallel over columns, rows in order).
 * dtable (V, C), tokens (M,), dout (M, C). */
ALTO_OPS_API void alto_op_embed_bwd(alto_real *dtable, const int32_t *tokens, const alto_real *dout,
                                    int64_t M, int64_t C);

/* ---- RMSNorm ------------------------------------------------------------------------------ */
/* out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps). out (M, C), rstd (M,), x (M, C), w (C,). */
ALTO_OPS_API void alto_op_rmsnorm(alto_real *out, alto_real *rstd, const alto_real *x,
                                  const alto_real *w, int64_t M, int64_t C, double eps);
/* dx (=, or += when accumulate) and dw (=, summed over rows). dx (M, C), dw (C,), dy (M, C),
 * x (M, C), w (C,), rstd (M,) from the forward. */
ALTO_OPS_API void alto_op_rmsnorm_bwd(alto_real *dx, alto_real *dw, const alto_real *dy,
                                      const alto_real *x, const alto_real *w, const alto_real *rstd,
                                      int64_t M, int64_t C, bool accumulate);

/* ---- RoPE (Hugging Face rotate_half layout) ------------------------------------------------ */
/* The rotation table of positions [0, T): cos, sin (T, rot/2), from inv_freq[i] =
 * theta^(-2i/rot) with the model's scaling (llama3: factor, low/high_freq_factor,
 * original_max_position, as HF's _compute_llama3_parameters). Computed in double. */
ALTO_OPS_API void alto_op_rope_table(alto_real *cos_t, alto_real *sin_t, const alto_rope *rope,
                                     int64_t T, int64_t rot);
/* Rotates the last `rot` dims of every head: with h = rot/2 and j < h on those dims,
 * y[j] = x[j] cos - x[j+h] sin, y[j+h] = x[j+h] cos + x[j] sin at position m % T.
 * out, x (M, NH, D) (out may equal x); cos_t, sin_t (T, rot/2). */
ALTO_OPS_API void alto_op_rope(alto_real *out, const alto_real *x, const alto_real *cos_t,
                               const alto_real *sin_t, int64_t M, int64_t T, int64_t NH, int64_t D,
                               int64_t rot);
/* The transpose (rotation by -angle). dx, dy (M, NH, D) (dx may equal dy). */
ALTO_OPS_API void alto_op_rope_bwd(alto_real *dx, const alto_real *dy, const alto_real *cos_t,
                                   const alto_real *sin_t, int64_t M, int64_t T, int64_t NH,
                                   int64_t D, int64_t rot);

/* ---- attention ---------------------------------------------------------------------------- */
/* Grouped-query causal attention, scale 1/sqrt(D); query head h reads kv head h / (H/G).
 * window > 0: key s is visible to query t when t - window < s <= t. Softmax in alto_real.
 * out (B*T, H*D), lse (B, H, T) logsumexp of the scaled scores, q (B*T, H*D), k, v (B*T, G*D). */
ALTO_OPS_API void alto_op_attention(alto_real *out, alto_real *lse, const alto_real *q,
                                    const alto_real *k, const alto_real *v, int64_t B, int64_t T,
                                    int64_t H, int64_t G, int64_t D, int64_t window);
/* dq (B*T, H*D), dk, dv (B*T, G*D) written (=); q, k, v, out, lse from the forward; dout
 * (B*T, H*D). Parallel over (b, kv head): each owns its dk, dv and its query heads' dq. */
ALTO_OPS_API void alto_op_attention_bwd(alto_real *dq, alto_real *dk, alto_real *dv,
                                        const alto_real *q, const alto_real *k, const alto_real *v,
                                        const alto_real *out, const alto_real *lse,
                                        const alto_real *dout, int64_t B, int64_t T, int64_t H,
                                        int64_t G, int64_t D, int64_t window);

/* ---- elementwise -------------------------------------------------------------------------- */
/* out = silu(a) * b. out, a, b (N,). */
ALTO_OPS_API void alto_op_swiglu(alto_real *out, const alto_real *a, const alto_real *b, int64_t N);
/* da, db (N,) written; dy, a, b (N,). */
ALTO_OPS_API void alto_op_swiglu_bwd(alto_real *da, alto_real *db, const alto_real *dy,
                                     const alto_real *a, const alto_real *b, int64_t N);
/* out = a + b. out, a, b (N,). */
ALTO_OPS_API void alto_op_add(alto_real *out, const alto_real *a, const alto_real *b, int64_t N);

/* ---- GEMM --------------------------------------------------------------------------------- */
/* C (m, n) = op(A) op(B)^T over k, as the IR: A is stored (m, k), or (k, m) when trans_a; B is
 * stored (n, k), or (k, n) when trans_b. accumulate: C += instead of C =. Each C element sums
 * its k products in order (fp32 accumulation in the float build). */
ALTO_OPS_API void alto_op_gemm(alto_real *c, const alto_real *a, const alto_real *b, int64_t m,
                               int64_t n, int64_t k, bool trans_a, bool trans_b, bool accumulate);

/* ---- loss --------------------------------------------------------------------------------- */
/* Softmax cross-entropy, mean over the tokens whose target is >= 0 (targets < 0 are ignored,
 * as PyTorch's ignore_index). Returns the loss (accumulated in double); dlogits (M, V) =
 * (softmax - onehot) / n_valid (0 on ignored rows), may be NULL. logits (M, V), targets (M,). */
ALTO_OPS_API double alto_op_cross_entropy(alto_real *dlogits, const alto_real *logits,
                                          const int32_t *targets, int64_t M, int64_t V);

/* ---- optimizer ---------------------------------------------------------------------------- */
typedef struct {
  double lr;           /* this step's learning rate (the schedule is the caller's) */
  double beta1, beta2; /* 0.9, 0.95 in TorchTitan */
  double eps;          /* 1e-8 */
  double weight_decay; /* decoupled: p -= lr * wd * p (0.1 in TorchTitan) */
} alto_adamw_hparams;

/* One AdamW step (PyTorch's torch.optim.AdamW, step counted from 1): decoupled weight decay,
 * bias-corrected moments. param, grad, m, v (N,); m, v updated in place. */
ALTO_OPS_API void alto_op_adamw(float *param, const float *grad, float *m, float *v, int64_t N,
                                const alto_adamw_hparams *h, int64_t step);
/* Sum of squares of x (N,), in double over fixed chunks combined in order (deterministic). */
ALTO_OPS_API double alto_op_sumsq(const float *x, int64_t N);
/* x *= s. x (N,). */
ALTO_OPS_API void alto_op_scale(float *x, int64_t N, float s);
/* Gradient clipping: the factor to multiply every gradient by for a global norm `norm`
 * (min(1, max_norm / (norm + 1e-6)), torch.nn.utils.clip_grad_norm_). */
ALTO_OPS_API double alto_op_clip_factor(double norm, double max_norm);

#endif
