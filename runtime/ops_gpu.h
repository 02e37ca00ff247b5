/* The training ops that are neither GEMM nor attention, on a GPU backend: the CPU reference's
 * ops (runtime/cpu/ops.h) run as generated, JIT-compiled kernels (templates/ops/, descriptors in
 * compiler/gen_ops.h). Every tensor argument is a device pointer with the shape of the CPU
 * function's same-named argument; activations (x, out, dy, logits, ...) are `dtype`
 * (ALTO_ELEM_BF16 or ALTO_ELEM_F32); the weights these ops read directly (the embedding table, the
 * RMSNorm weight: the fp32 master weights), statistics, parameter gradients and optimizer state
 * are fp32; losses fp64. A bf16 result is the fp32 result rounded to nearest even
 * (alto_f32_to_bf16), as the CPU executor (runtime/cpu/exec.c) rounds its fp32 outputs. Kernels
 * are launched asynchronously on the backend's stream; nothing here synchronizes except
 * alto_ops_gpu_rope_table (an upload).
 *
 * How each op's bits relate to the CPU's (bit for bit, or the rounding of a reduction order or of
 * CUDA's exp / log) is stated in its template and checked in tests/test_ops_gpu.c. Every result is
 * deterministic: the same inputs give the same bits on every run (no float atomics). */
#ifndef ALTO_RUNTIME_OPS_GPU_H
#define ALTO_RUNTIME_OPS_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/gen_ops.h"
#include "runtime/backend.h"
#include "runtime/cpu/ops.h"
#include "runtime/cpu/quant.h"
#include "templates/common/alto_qargs.h"

/* ---- embedding ---------------------------------------------------------------------------- */
/* out (M, C) `dtype` = table (V, C) fp32 [tokens (M,) int32]: fp32 bits copied, or each value
 * rounded to bf16 (RNE); a token outside [0, V) gives a NaN row. */
alto_status alto_ops_gpu_embed(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr tokens,
                               alto_dptr table, int64_t M, int64_t C, int64_t V);
/* dtable (V, C) fp32 += dout (M, C) rows [tokens (M,)], per column in token order: the CPU's bits.
 * scratch: alto_ops_gpu_embed_bwd_scratch_bytes(M, V) bytes (a stable counting sort). Tokens
 * outside [0, V) are skipped. */
size_t alto_ops_gpu_embed_bwd_scratch_bytes(int64_t M, int64_t V);
alto_status alto_ops_gpu_embed_bwd(alto_backend *b, alto_elem dtype, alto_dptr dtable,
                                   alto_dptr tokens, alto_dptr dout, int64_t M, int64_t C,
                                   int64_t V, alto_dptr scratch);

/* ---- RMSNorm ------------------------------------------------------------------------------ */
/* out (M, C) `dtype`, rstd (M,) fp32; x (M, C) `dtype`, w (C,) fp32 (always);
 * C <= ALTO_OPS_NORM_MAX_COLS. */
alto_status alto_ops_gpu_rmsnorm(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr rstd,
                                 alto_dptr x, alto_dptr w, int64_t M, int64_t C, double eps);
/* dx (M, C) `dtype` (=, or += when accumulate), dw (C,) fp32 (=); dy, x (M, C) `dtype`, w (C,)
 * fp32 (always), rstd (M,) fp32.
 * scratch: alto_ops_gpu_rmsnorm_bwd_scratch_bytes(M, C) bytes (the dw partials). */
size_t alto_ops_gpu_rmsnorm_bwd_scratch_bytes(int64_t M, int64_t C);
alto_status alto_ops_gpu_rmsnorm_bwd(alto_backend *b, alto_elem dtype, alto_dptr dx, alto_dptr dw,
                                     alto_dptr dy, alto_dptr x, alto_dptr w, alto_dptr rstd,
                                     int64_t M, int64_t C, bool accumulate, alto_dptr scratch);

/* ---- RoPE --------------------------------------------------------------------------------- */
/* Computes the table on the host (alto_op_rope_table: double, rounded to fp32) and uploads it:
 * cos_t, sin_t (T, rot/2) fp32. Synchronous. */
alto_status alto_ops_gpu_rope_table(alto_backend *b, const alto_rope *rope, int64_t T, int64_t rot,
                                    alto_dptr cos_t, alto_dptr sin_t);
/* out, x (M, NH, D) (out may equal x); cos_t, sin_t (T, rot/2) fp32. */
alto_status alto_ops_gpu_rope(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr x,
                              alto_dptr cos_t, alto_dptr sin_t, int64_t M, int64_t T, int64_t NH,
                              int64_t D, int64_t rot);
/* dx, dy (M, NH, D) (dx may equal dy). */
alto_status alto_ops_gpu_rope_bwd(alto_backend *b, alto_elem dtype, alto_dptr dx, alto_dptr dy,
                                  alto_dptr cos_t, alto_dptr sin_t, int64_t M, int64_t T,
                                  int64_t NH, int64_t D, int64_t rot);

/* ---- elementwise -------------------------------------------------------------------------- */
/* out = silu(gate) * up. out, gate, up (N,) (the CPU's out, a, b). */
alto_status alto_ops_gpu_swiglu(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr gate,
                                alto_dptr up, int64_t N);
/* dgate, dup (N,) written; dy, gate, up (N,). */
alto_status alto_ops_gpu_swiglu_bwd(alto_backend *b, alto_elem dtype, alto_dptr dgate,
                                    alto_dptr dup, alto_dptr dy, alto_dptr gate, alto_dptr up,
                                    int64_t N);
/* out = x + y. out, x, y (N,) (out may equal x or y). */
alto_status alto_ops_gpu_add(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr x,
                             alto_dptr y, int64_t N);

/* ---- loss --------------------------------------------------------------------------------- */
/* Softmax cross-entropy, forward and backward fused. logits (M, V), targets (M,) int32 (< 0:
 * ignored); loss (2,) fp64 = [the mean over valid tokens, the valid-token count]; row_loss (M,)
 * fp64 (0 on ignored rows); dlogits (M, V) = (softmax - onehot) / n_valid (0 on ignored rows),
 * may be 0 (forward only) or equal logits (in place). bf16 on sm_90 with 16-byte aligned buffers
 * and V <= 131056: one pass over the logits (a thread block cluster per row); else three. */
alto_status alto_ops_gpu_cross_entropy(alto_backend *b, alto_elem dtype, alto_dptr dlogits,
                                       alto_dptr loss, alto_dptr row_loss, alto_dptr logits,
                                       alto_dptr targets, int64_t M, int64_t V);

/* ---- optimizer ---------------------------------------------------------------------------- */
/* The scalars of the AdamW step `step` (from 1) as the kernels take them (alto_adamw_k: b1, b2,
 * decay, step_size, sqrt_bc2, eps, grad_scale), computed as the CPU computes them. */
alto_adamw_k alto_ops_gpu_adamw_scalars(const alto_adamw_hparams *h, int64_t step,
                                        float grad_scale);
/* One AdamW step, the CPU's bits. param, grad, m, v (N,) fp32; m, v updated in place. The step
 * reads grad * grad_scale (1: grad as it is): the bits of alto_ops_gpu_scale by grad_scale then
 * the step, without that pass (grad itself is left as it is). copy_bf16 (0: none): (N,) bf16,
 * the updated parameter's bf16 rounding, the bits of alto_ops_gpu_cast after the step. */
alto_status alto_ops_gpu_adamw(alto_backend *b, alto_dptr param, alto_dptr grad, alto_dptr m,
                               alto_dptr v, int64_t N, const alto_adamw_hparams *h, int64_t step,
                               float grad_scale, alto_dptr copy_bf16);
/* out (1,) fp64 = (accumulate ? out : 0) + sum of x^2, x (N,) fp32: call once per gradient tensor,
 * accumulating, for the global norm. scratch: alto_ops_gpu_sumsq_scratch_bytes() bytes. */
size_t alto_ops_gpu_sumsq_scratch_bytes(void);
alto_status alto_ops_gpu_sumsq(alto_backend *b, alto_dptr out, alto_dptr x, int64_t N,
                               bool accumulate, alto_dptr scratch);
/* x (N,) fp32 *= s. */
alto_status alto_ops_gpu_scale(alto_backend *b, alto_dptr x, int64_t N, float s);
/* x (N,) fp32 *= *factor, factor one fp32 in device memory (read when the kernel runs). */
alto_status alto_ops_gpu_scale_by(alto_backend *b, alto_dptr x, int64_t N, alto_dptr factor);
/* Gradient clipping without a host round trip: x (N,) *= (float)alto_op_clip_factor(sqrt(*sumsq),
 * max_norm), sumsq (1,) fp64 on the device (alto_ops_gpu_sumsq's output). */
alto_status alto_ops_gpu_clip(alto_backend *b, alto_dptr x, int64_t N, alto_dptr sumsq,
                              double max_norm);

/* ---- conversions, layout, DGE ------------------------------------------------------------- */
/* out (N,) out_dtype = x (N,) in_dtype, each ALTO_ELEM_BF16 or ALTO_ELEM_F32: fp32 -> bf16 rounds
 * to nearest even exactly as alto_f32_to_bf16 (Inf kept, overflow to Inf, a NaN stays a quiet NaN
 * with its sign), bf16 -> fp32 is exact, equal dtypes copy the bits (out may equal x only then).
 * The executor's CAST: the fp32 master weights to the bf16 GEMM operands. */
alto_status alto_ops_gpu_cast(alto_backend *b, alto_dptr out, alto_elem out_dtype, alto_dptr x,
                              alto_elem in_dtype, int64_t N);
/* out (cols, rows) = x (rows, cols)^T, elem_bytes 1 (FP8 codes), 2 (bf16) or 4 (fp32 scales),
 * bits moved unchanged; any rows, cols; out must not overlap x. For cuBLASLt's FP8 GEMM, which
 * takes K-major operands. */
alto_status alto_ops_gpu_transpose(alto_backend *b, alto_dptr out, alto_dptr x, int64_t rows,
                                   int64_t cols, int elem_bytes);
/* DGE (NUMERICS.md 5): dw (R, C) fp32 *= alto_dge_multiplier(w, the E8M0 scale of w's block);
 * w (R, C) fp32; scales: the E8M0 bytes of w's MXFP4 quantization, laid out as `layout` says
 * (alto_quant_layout_of of w's spec: 1x32, 32x1 or 32x32 blocks; a 3-D (E, R', C) weight passes
 * R = E R'). Bit for bit alto_cpu_dge (a NaN result is NaN, its payload the hardware's). */
alto_status alto_ops_gpu_dge(alto_backend *b, alto_dptr dw, alto_dptr w, alto_dptr scales,
                             const alto_quant_layout *layout, int64_t R, int64_t C);

/* ---- the variant matrix ------------------------------------------------------------------- */
/* Every op kernel alto generates for a target: all kinds, both dtypes (casts: the four pairs),
 * the compiled dims of the shipped models (RMSNorm C, RoPE D / rot), transposes of 1-, 2- and
 * 4-byte elements. CI compiles it (tests/test_ops_compile.c). */
int alto_ops_gpu_matrix(alto_target target, const char *arch, alto_opkern *out, int max);

#endif
