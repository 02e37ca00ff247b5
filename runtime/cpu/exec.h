/* The plan executor on the CPU backend: one arena laid out by the plan's memory plan, the plan's
 * nodes run in order, each dispatched to runtime/cpu/ops.c or to the CPU reference quantizers
 * (runtime/cpu/quant.h).
 *
 * Buffers hold exactly the plan's dtypes: bf16 activations are stored as bf16 (an op reads them
 * widened to fp32 and its fp32 result is rounded with alto_f32_to_bf16); master weights,
 * gradients, AdamW moments, norm rstd and attention lse are fp32. Quantized operands are the
 * plan's codes + scales buffers written by alto_cpu_quantize; a GEMM with quantized operands
 * dequantizes them and multiplies in fp32. Random streams (NUMERICS.md 6):
 *   SR  of a QUANTIZE node: alto_stream_id(layer, role(node name), step, ALTO_RNG_SR)
 *   RHT of a Linear:        alto_stream_id(layer, role(module name), step, ALTO_RNG_RHT), so the
 *                           forward X and the backward dY of one Linear share R in a step
 * with layer = the node's block (0xFFFFFFFF outside the blocks), role = FNV-1a 32 of the name,
 * and the run seed as the Philox key.
 *
 * Gradients are written (not accumulated) by every backward pass: a caller that accumulates
 * micro-batches sums them itself. The plan must outlive the executor.
 */
#ifndef ALTO_RUNTIME_CPU_EXEC_H
#define ALTO_RUNTIME_CPU_EXEC_H

#include <stdint.h>

#include "base/status.h"
#include "compiler/ir.h"
#include "compiler/model.h"
#include "runtime/cpu/ops.h"
#include "runtime/cpu/quant.h"

typedef struct alto_exec alto_exec;

/* Allocates the arena, checks that every node is one this backend runs (llama3 family: GQA,
 * dense SwiGLU, no biases/sinks; else ALTO_ERR_UNSUPPORTED naming the node) and initializes the
 * parameters from `seed` (alto_exec_init_params). `seed` is also the run seed of SR and RHT. */
alto_status alto_exec_create(const alto_model *m, const alto_plan *p, uint64_t seed,
                             alto_exec **out);
void alto_exec_free(alto_exec *e);

/* TorchTitan's Llama 3 init_weights (depth_init = True), deterministic from `seed` (Philox, one
 * stream per parameter name; independent of the thread count):
 *   tok_embeddings           normal(0, 1)
 *   wq, wk, wv, w1           trunc_normal(0, 0.02, [-2, 2])
 *   wo, w2, w3 of block l    trunc_normal(0, 0.02 / sqrt(2 (l + 1)), [-2, 2])
 *   norms                    ones
 *   output                   trunc_normal(0, dim^-0.5, [-3 std, 3 std])
 * (tied embeddings: the shared table takes the output init). Zeroes gradients and AdamW moments. */
void alto_exec_init_params(alto_exec *e, uint64_t seed);

/* One parameter's init (the rule above for `name`), n floats. */
void alto_exec_init_param(const alto_model *m, const char *name, float *w, int64_t n,
                          uint64_t seed);

/* ---- shared with the device executors (runtime/exec_gpu.c), so both run the same plan ---- */
/* Every node is one the executors run, else ALTO_ERR_UNSUPPORTED "<who> executor: node ...". */
alto_status alto_exec_check_plan(const char *who, const alto_model *m, const alto_plan *p);
/* The quantization spec of a qdesc (no SR stream). */
alto_quant_spec alto_exec_quant_spec(const alto_qdesc *q);
/* The spec of a QUANTIZE node in training step `step`: with SR, seed and the node's stream. */
alto_quant_spec alto_exec_quantize_spec(const alto_node *n, uint64_t seed, int64_t step);
/* The RHT stream of an RHT node in step `step` (one R per module per step: X and dY share it). */
uint64_t alto_exec_rht_stream(const alto_node *n, int64_t step);

/* Buffers by name ("layers.0.attention.wq.weight", "...weight.grad", "loss", "tokens"):
 * the id, or -1. */
int alto_exec_find(const alto_exec *e, const char *name);
const alto_buffer *alto_exec_buffer(const alto_exec *e, int id);
/* The bytes of buffer `id` in the arena (dtype and shape per alto_exec_buffer). */
void *alto_exec_data(alto_exec *e, int id);
/* Parameters in plan order (the optimizer's order): count, name, fp32 data and gradient. */
int alto_exec_n_params(const alto_exec *e);
const char *alto_exec_param_name(const alto_exec *e, int i);
/* fp32 master weight / gradient by name (NULL when absent); *numel set when numel != NULL. */
float *alto_exec_param(alto_exec *e, const char *name, int64_t *numel);
float *alto_exec_grad(alto_exec *e, const char *name, int64_t *numel);

/* tokens, targets (B*T,) row-major (B, T). Tokens in [0, V); a target < 0 is ignored by the
 * loss. ALTO_ERR_INVALID_ARG on an out-of-range id. */
alto_status alto_exec_set_inputs(alto_exec *e, const int32_t *tokens, const int32_t *targets);
/* The check every executor makes of a step's inputs: each of the n tokens in [0, vocab), each
 * target < vocab (negative targets are ignored positions); ALTO_ERR_INVALID_ARG naming the first
 * one outside. */
alto_status alto_exec_check_inputs(const int32_t *tokens, const int32_t *targets, int64_t n,
                                   int64_t vocab);

/* The forward nodes (through the loss); *loss = mean cross-entropy, in double as
 * accumulated (the plan's fp32 "loss" buffer holds it rounded; it may be non-finite: the caller
 * decides). `step` selects the SR and RHT streams. */
alto_status alto_exec_forward(alto_exec *e, int64_t step, double *loss);
/* Forward and backward: every parameter gradient written. */
alto_status alto_exec_forward_backward(alto_exec *e, int64_t step, double *loss);

/* Global L2 norm of all gradients (accumulated in double, deterministic). */
double alto_exec_grad_norm(alto_exec *e);
/* Scales every gradient by s. */
void alto_exec_scale_grads(alto_exec *e, float s);
/* torch.nn.utils.clip_grad_norm_: scales the gradients so that their norm is at most max_norm
 * (max_norm <= 0: no clipping); returns the norm before clipping. */
double alto_exec_clip_grad_norm(alto_exec *e, double max_norm);

/* The plan's ADAMW nodes with these hyperparameters; step counts from 1 (bias correction). */
alto_status alto_exec_optimizer_step(alto_exec *e, const alto_adamw_hparams *h, int64_t step);

#endif
