/* Attention on a GPU backend: runtime/cpu/ops.h's alto_op_attention / alto_op_attention_bwd (the
 * same layouts, grouped-query causal attention, scale 1/sqrt(D), optional sliding window) in bf16
 * with fp32 softmax statistics, as generated, JIT-compiled FlashAttention-2 style kernels
 * (templates/attn/). Arguments are device pointers; the calls are asynchronous on the backend's
 * stream unless a temporary has to be freed. Results are bit-reproducible run to run (no atomics).
 *
 * Requirements: CUDA sm_80+, D in {16, 32, 64, 128}, G > 0 and H % G == 0, every pointer 16-byte
 * aligned; T < 2^30 and H * D < 2^22 (the kernels index positions and tile rows in 32 bits).
 */
#ifndef ALTO_RUNTIME_ATTN_GPU_H
#define ALTO_RUNTIME_ATTN_GPU_H

#include "compiler/gen_attn.h"
#include "runtime/backend.h"

/* The kernel descriptor of one part for a backend's target and arch. */
alto_attnkern alto_attn_kernel(alto_attn_part part, int head_dim, bool causal, alto_target target,
                               const char *arch);

/* out (B*T, H*D) bf16 written; lse (B, H, T) fp32 written (logsumexp of the scaled scores, the
 * backward's input); q (B*T, H*D) bf16; k, v (B*T, G*D) bf16. window > 0: key s is visible to
 * query t when t - window < s <= t (0: plain causal). */
alto_status alto_gpu_attention(alto_backend *b, alto_dptr out, alto_dptr lse, alto_dptr q,
                               alto_dptr k, alto_dptr v, int64_t B, int64_t T, int64_t H, int64_t G,
                               int64_t D, int64_t window);

/* Bytes of the backward's scratch (delta = rowsum(dO * O), fp32 (B, H, T)). */
size_t alto_gpu_attention_bwd_workspace(int64_t B, int64_t T, int64_t H);

/* dq (B*T, H*D), dk, dv (B*T, G*D) bf16 written (=); q, k, v, out (bf16) and lse (fp32 (B, H, T))
 * from the forward; dout (B*T, H*D) bf16. workspace: alto_gpu_attention_bwd_workspace bytes, or 0
 * for a temporary (allocated and freed here, which synchronizes). */
alto_status alto_gpu_attention_bwd(alto_backend *b, alto_dptr dq, alto_dptr dk, alto_dptr dv,
                                   alto_dptr q, alto_dptr k, alto_dptr v, alto_dptr out,
                                   alto_dptr lse, alto_dptr dout, int64_t B, int64_t T, int64_t H,
                                   int64_t G, int64_t D, int64_t window, alto_dptr workspace);

/* Tuning (bench/attn): other tiles per part than the generator's defaults (a zero alto_attn_tiles:
 * the default), and which parts of the backward run (bits 1 << ALTO_ATTN_BWD_DELTA, ...; 0: all;
 * the results are only complete with all). */
typedef struct {
  alto_attn_tiles fwd, dkdv, dq;
  unsigned bwd_parts;
} alto_attn_tuning;

/* alto_gpu_attention and alto_gpu_attention_bwd with tuning (NULL: the defaults). */
alto_status alto_gpu_attention_tuned(alto_backend *b, alto_dptr out, alto_dptr lse, alto_dptr q,
                                     alto_dptr k, alto_dptr v, int64_t B, int64_t T, int64_t H,
                                     int64_t G, int64_t D, int64_t window,
                                     const alto_attn_tuning *tune);
alto_status alto_gpu_attention_bwd_tuned(alto_backend *b, alto_dptr dq, alto_dptr dk, alto_dptr dv,
                                         alto_dptr q, alto_dptr k, alto_dptr v, alto_dptr out,
                                         alto_dptr lse, alto_dptr dout, int64_t B, int64_t T,
                                         int64_t H, int64_t G, int64_t D, int64_t window,
                                         alto_dptr workspace, const alto_attn_tuning *tune);

#endif
