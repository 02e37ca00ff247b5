/* The GPU plan executor: the CPU executor's plan (runtime/cpu/exec.h), run on a device backend
 * (ARCHITECTURE.md stage 8/9). One device arena at the plan's offsets; the nodes in order, each
 * dispatched to a generated, JIT-compiled kernel (runtime/quant_gpu.h, runtime/ops_gpu.h,
 * runtime/attn_gpu.h) or to cuBLASLt (runtime/cuda/cublaslt.h). Everything is asynchronous on the
 * backend's stream; a step synchronizes once, to read the loss.
 *
 * GEMMs: bf16 through cuBLASLt (fp32 accumulation). Quantized linears: MXFP4 x MXFP4 on sm_90a
 * on the FP8 tensor cores (both operands in E4M3 exactly, runtime/gemm_gpu.h, and alto's FP8
 * GEMM: fp32 accumulation promoted every 128 along K; A quantized straight into that form where
 * the GEMMs are its only readers, else converted per GEMM); other MX schemes (and NVFP4 once the
 * plan carries its outer scale), or with opts.mx_dequant, by dequantizing both operands to bf16
 * (their values are exact in bf16) and a bf16 GEMM: the CPU's dequantize-then-fp32-GEMM in
 * another summation order. fp8_block: cuBLASLt's block-scaled FP8 (1x128 by 128x128 for fprop
 * and dgrad, 1x128 by 1x128 for wgrad; codes transposed to K-major where the plan stores them
 * M-major), or, with opts.fp8_emulate, dequantization to fp32 and an fp32 GEMM (the correctness
 * baseline). fp8_rowwise and fp8_tensorwise on sm_90a: alto's FP8 GEMM with one divisor per row of
 * each operand applied in its epilogue (runtime/gemm_gpu.h ALTO_GEMM_OUTER; codes stored M-major
 * transposed first), else (or with opts.fp8_emulate) the fp32 emulation.
 *
 * Quantizers, RHT, embedding, RMSNorm, RoPE, SwiGLU, adds, casts and AdamW produce the CPU
 * executor's bits given the same inputs (each kernel's test states it; opts.check_quant checks
 * every QUANTIZE of a real step against the CPU reference). GEMMs, attention and the reductions
 * (RMSNorm, cross-entropy, gradient norm) differ from the CPU by their summation order.
 */
#ifndef ALTO_RUNTIME_EXEC_GPU_H
#define ALTO_RUNTIME_EXEC_GPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/status.h"
#include "compiler/ir.h"
#include "compiler/model.h"
#include "runtime/backend.h"
#include "runtime/cpu/ops.h"
#include "runtime/jit.h"

typedef struct alto_exec_gpu alto_exec_gpu;

typedef struct {
  /* After every QUANTIZE: download its input and outputs, quantize the input with the CPU
   * reference (alto_cpu_quantize) and compare codes and scales byte for byte; a mismatch is
   * ALTO_ERR_NUMERIC naming the node. Synchronizes per node: for tests and `alto-train --check`. */
  bool check_quant;
  /* FP8 GEMMs by dequantize + fp32 GEMM instead of cuBLASLt block-scaled FP8 (fp8_block) or alto's
   * GEMM with the scales in its epilogue (fp8_rowwise, fp8_tensorwise). */
  bool fp8_emulate;
  /* fp8_block: never alto's own FP8 GEMM (else chosen per configuration by measurement against
   * cuBLASLt) */
  bool no_alto_gemm;
  /* MXFP4 GEMMs by dequantize + bf16 GEMM (the correctness baseline) instead of the FP8 tensor
   * cores (the exact E4M3 conversion and alto's FP8 GEMM, the default on sm_90a) */
  bool mx_dequant;
  /* the FP8 tensor cores for MXFP4 GEMMs of every size (tests); by default only where K >= 1024
   * and the output has at least 128 tiles of 128 x 128: below, the two conversions and launches
   * cost more than the faster GEMM saves (H100: the debug model, K 256 / 768 and 12-tile wgrads,
   * 15.2-15.5 vs 13.5-13.7 ms per step; the 1b's K = 512 dgrads) */
  bool mx_all_sizes;
  /* MXFP4 operands whose only readers are such GEMMs as their A: quantized into the E4M3 form the
   * GEMM reads (runtime/quant_gpu.h mx_tile; the same bits), not converted per GEMM; this option
   * keeps the conversion (tests compare the two) */
  bool mx_no_tile;
} alto_exec_gpu_opts;

/* Checks the plan (alto_exec_check_plan), allocates the arena and the scratch buffers,
 * initializes the parameters on the host with the CPU executor's rule (alto_exec_init_param, so
 * both backends start from the same weights) and uploads them; gradients and moments are zero.
 * The plan and the backend must outlive the executor. */
alto_status alto_exec_gpu_create(alto_backend *b, const alto_model *m, const alto_plan *p,
                                 uint64_t seed, const alto_exec_gpu_opts *opts,
                                 alto_exec_gpu **out);
void alto_exec_gpu_free(alto_exec_gpu *e);

/* Compiles (or loads from the kernel cache) every kernel the plan runs, `threads` at a time,
 * with a progress line on `progress` (NULL: quiet). *n_kernels, *seconds: what it did. */
alto_status alto_exec_gpu_prepare(alto_exec_gpu *e, int threads, FILE *progress, int *n_kernels,
                                  double *seconds);

/* The kernels the executor runs for plan `p` on (target, arch), found without a device (one
 * recorded step on a backend that allocates and launches nothing): what `alto-compile --arch
 * --model` compiles so that training starts warm. Free with alto_jit_recorder_free. */
alto_status alto_exec_gpu_plan_kernels(const alto_model *m, const alto_plan *p, alto_target target,
                                       const char *arch, alto_jit_recorder *out);

/* tokens, targets (B*T) int32, validated as alto_exec_set_inputs does, then uploaded. */
alto_status alto_exec_gpu_set_inputs(alto_exec_gpu *e, const int32_t *tokens,
                                     const int32_t *targets);
/* The forward (and backward) of training step `step` (1-based: the SR and RHT streams); the mean
 * loss into *loss (synchronizes). */
alto_status alto_exec_gpu_forward(alto_exec_gpu *e, int64_t step, double *loss);
alto_status alto_exec_gpu_forward_backward(alto_exec_gpu *e, int64_t step, double *loss);

/* Sum of squares of every gradient in fp64 (synchronizes); every gradient *= s; AdamW. */
alto_status alto_exec_gpu_grad_sumsq(alto_exec_gpu *e, double *sumsq);
alto_status alto_exec_gpu_scale_grads(alto_exec_gpu *e, float s);
/* The next optimizer step reads every gradient * s (the bits of alto_exec_gpu_scale_grads then the
 * step, without a pass over the gradients; they keep their values). For clipping. */
void alto_exec_gpu_defer_grad_scale(alto_exec_gpu *e, float s);
alto_status alto_exec_gpu_optimizer_step(alto_exec_gpu *e, const alto_adamw_hparams *h,
                                         int64_t step);

/* Parameters in plan order with their host mirrors (fp32 master weight, gradient, AdamW
 * moments): what the training loop and checkpoints see. alto_exec_gpu_sync(to_host) fills the
 * mirrors from the device (gradients too); !to_host uploads weights and moments. */
int alto_exec_gpu_n_params(const alto_exec_gpu *e);
void alto_exec_gpu_param(alto_exec_gpu *e, int i, const char **name, int64_t *numel,
                         float **param, float **grad, float **m, float **v);
alto_status alto_exec_gpu_sync(alto_exec_gpu *e, bool to_host);

/* Buffers by name (-1 when absent); their bytes to / from the host (synchronous). */
int alto_exec_gpu_find(const alto_exec_gpu *e, const char *name);
const alto_buffer *alto_exec_gpu_buffer(const alto_exec_gpu *e, int id);
alto_status alto_exec_gpu_read(alto_exec_gpu *e, int id, void *host);
alto_status alto_exec_gpu_write(alto_exec_gpu *e, int id, const void *host);

/* RHT nodes run inside the QUANTIZE after them (one kernel reads x and writes the codes of R x;
 * never with opts.check_quant). */
int alto_exec_gpu_rht_fused(const alto_exec_gpu *e);

/* QUANTIZE outputs written transposed for the GEMMs that read them (fp8_block 128x1: the wgrad
 * operands; fp8_rowwise along axis -2: wgrad's dY and X, dgrad's W; never with opts.check_quant). */
int alto_exec_gpu_codes_transposed(const alto_exec_gpu *e);
/* fp8_block 1x128 scale grids written MN-major for the GEMMs and dequantizations that read them. */
int alto_exec_gpu_scales_mn_major(const alto_exec_gpu *e);
/* DEQUANTIZE + QUANTIZE pairs run as one re-quantization kernel (fp8_block's wgrad X). */
int alto_exec_gpu_requant_fused(const alto_exec_gpu *e);
/* fp8_block forward X quantizations that also write the wgrad's re-quantization (plan_xdual_). */
int alto_exec_gpu_xdual_fused(const alto_exec_gpu *e);
/* How many fp8_block dY pairs (1x128 for dgrad, 128x1 transposed for wgrad) run as one kernel. */
int alto_exec_gpu_dual_fused(const alto_exec_gpu *e);
/* How many SwiGLU outputs are quantized straight from the SwiGLU's inputs (never read back). */
int alto_exec_gpu_swiglu_fused(const alto_exec_gpu *e);
/* MXFP4 quantizations written in the FP8 GEMM's E4M3 form (their GEMMs convert nothing). */
int alto_exec_gpu_mx_tiles(const alto_exec_gpu *e);
/* fp8_block weights quantized with a transposed copy for dgrad (no per-call transposes). */
int alto_exec_gpu_weights_transposed(const alto_exec_gpu *e);
/* Weights whose forward copy the optimizer step writes (the next forward's node skipped):
 * fp8_block weights quantized 128x128 by AdamW's kernel (returned), bf16 copies written by it
 * (*cast, may be NULL). */
int alto_exec_gpu_weights_by_optimizer(const alto_exec_gpu *e, int *cast);

/* QUANTIZE nodes checked against the CPU so far (opts.check_quant). */
int64_t alto_exec_gpu_quant_checked(const alto_exec_gpu *e);
/* The GEMM path of each kind taken so far, for reports: "cublaslt-bf16", "dequant-bf16",
 * "dequant-f32", "cublaslt-fp8-block". Writes a one-line summary. */
/* One line per FP8 GEMM configuration measured so far: shape, scale kinds, the implementation
 * chosen and both timings ("8192x2048x2048 1x128.128x128: alto (cuBLASLt 0.210 ms, alto 0.190
 * ms)"). */
void alto_exec_gpu_gemm_choices(const alto_exec_gpu *e, char *buf, size_t n);
void alto_exec_gpu_gemm_summary(const alto_exec_gpu *e, char *buf, size_t n);

/* Runs step `step` once more (forward + backward + nothing else) timing every node with device
 * events, and writes a per-op-kind breakdown (ms, share, count) to `out`. */
alto_status alto_exec_gpu_profile(alto_exec_gpu *e, int64_t step, FILE *out);

#endif
