/* Quantization on a GPU backend: the same spec as the CPU reference (runtime/cpu/quant.h), run as
 * generated, JIT-compiled kernels (templates/quant/). The outputs have the CPU reference's layouts
 * and bits. */
#ifndef ALTO_RUNTIME_QUANT_GPU_H
#define ALTO_RUNTIME_QUANT_GPU_H

#include "compiler/gen.h"
#include "runtime/backend.h"
#include "templates/common/alto_qargs.h"
#include "runtime/cpu/quant.h"

/* Device buffers of a quantized tensor, sized per alto_quant_layout_of. */
typedef struct {
  alto_dptr codes;
  alto_dptr scales;
  alto_dptr outer;   /* NVFP4: one fp32 (written when two-level, else 1.0 is written) */
  alto_dptr scratch; /* 4 bytes: the tensor amax (NVFP4 two-level, tensorwise FP8) */
  bool codes_t;      /* codes written transposed, [cols, rows] (K-major for a GEMM reducing over
                      * the rows): fp8_block 128x1 (axis -2, E4M3 / E5M2) or fp8_rowwise along
                      * axis -2 (rows a multiple of 16) of a 2-D x only */
  bool scales_t;     /* scales MN-major, [cols / 128, rows] (the FP8 GEMMs' 1x128 layout), written
                      * and read so: fp8_block 1x128 (axis -1) of a 2-D x only */
  alto_dptr codes_tr; /* when set: also a transposed copy, codes [cols, rows] and scales_tr the
                       * scale grid transposed: fp8_block 128x128 of a 2-D x only (the weights) */
  alto_dptr scales_tr;
  bool mx_tile;       /* MXFP4 1x32 along the last dim of a 2-D x with cols % 128 == 0 (CUDA): the
                       * quantization's E4M3 form (templates/quant/mx_e4m3.cuh), the MXFP4 operand
                       * of the FP8 GEMM, instead of the MXFP4 codes and scales: codes [rows, cols]
                       * E4M3, scales fp32 MN-major [cols / 128, rows rounded up to 4]; the bits
                       * alto_gemm_mx_to_fp8 (no share) makes of the MXFP4 codes and scales
                       * (alto_cpu_mx_to_e4m3) */
} alto_gpu_quantized;

/* Randomized Hadamard transform fused into a column quantization (b = 0: none). `table` holds the
 * signs and the permutation on the device once alto_gpu_rht_upload has run; without it every
 * quantization uploads them itself (and synchronizes: fine for tests, slow in a loop). */
typedef struct {
  int b;
  uint64_t seed, stream;
  alto_dptr table; /* b floats (signs) then b ints (permutation); 0: not uploaded */
} alto_gpu_rht;

/* Computes the transform of (seed, stream, b) and uploads it (allocating the table once). */
alto_status alto_gpu_rht_upload(alto_backend *b, alto_gpu_rht *rht);
void alto_gpu_rht_free(alto_backend *b, alto_gpu_rht *rht);

/* The kernels a quantization runs, in order (at most 4); returns their count. An RHT kernel
 * (ALTO_QKERN_RHT) writes R x to a temporary that the kernels after it read. */
#define ALTO_QUANT_MAX_KERNELS 4
int alto_quant_kernels(const alto_quant_spec *spec, alto_elem in_dtype, const alto_gpu_rht *rht,
                       alto_target target, const char *arch, alto_qkern out[ALTO_QUANT_MAX_KERNELS]);
/* The dequantization kernel of a spec. */
alto_qkern alto_dequant_kernel(const alto_quant_spec *spec, alto_elem out_dtype, alto_target target,
                               const char *arch);
/* The MX9 / MX6 kernel. */
alto_qkern alto_mx69_kernel(int quant_bit, int group_size, alto_elem dtype, alto_target target,
                            const char *arch);

/* The RHT alone (the plan's RHT node): y = R x along the rows (dim -2) in chunks of rht->b,
 * in x's dtype (bf16 rounding of the fp32 transform, as alto_cpu_rht with out_dtype = x's).
 * rht->table must be uploaded (alto_gpu_rht_upload). The last dim must be even (the kernels
 * transform column pairs; ALTO_ERR_INVALID_ARG otherwise). Asynchronous. */
alto_qkern alto_rht_kernel(alto_elem dtype, int rht_b, alto_target target, const char *arch);
alto_status alto_gpu_rht_apply(alto_backend *b, const alto_tensor_view *x, alto_dptr xd,
                         const alto_gpu_rht *rht, alto_dptr y);

/* Whether alto_gpu_quantize takes (spec, x, rht) (the same checks and errors, nothing launched);
 * rht_fused (may be NULL): set when the RHT runs inside the quantization kernel itself (MX and
 * one-level NVFP4; two-level NVFP4 transforms into a temporary first, for the amax of R x). */
alto_status alto_gpu_quantize_check(const alto_backend *b, const alto_quant_spec *spec,
                                    const alto_tensor_view *x, const alto_gpu_rht *rht,
                                    bool *rht_fused);
/* x: a view whose data field is ignored (shape and dtype only); xd: the device tensor. With rht,
 * the spec must be a column quantization (axis -2, 1-D blocks), as the wgrad operand R X is. */
alto_status alto_gpu_quantize(alto_backend *b, const alto_quant_spec *spec,
                              const alto_tensor_view *x, alto_dptr xd, const alto_gpu_rht *rht,
                              const alto_gpu_quantized *q);
/* Re-quantization: the values a DEQUANTIZE to bf16 of (in_codes, in_scales) (fp8_block, 1x128
 * along the last dim, per `from`; in_scales MN-major when in_scales_t) would write, quantized per
 * `spec` (fp8_block 128x1 along the rows) without that bf16 tensor: the same bits as
 * alto_gpu_dequantize then alto_gpu_quantize. x: the bf16 view of those values (shape only), 2-D,
 * rows and cols multiples of 128. */
alto_status alto_gpu_requantize(alto_backend *b, const alto_quant_spec *spec,
                                const alto_tensor_view *x, const alto_quant_spec *from,
                                alto_dptr in_codes, alto_dptr in_scales, bool in_scales_t,
                                const alto_gpu_quantized *q);
/* SwiGLU backward (da, db from dy, a, b: the SWIGLU_BWD op's bf16 bits) and the fp8_block dual
 * quantization of each (as alto_gpu_quantize_dual: `fprop` 1x128 along the last dim, `wgrad` 128x1
 * with codes transposed) in one kernel, da and db never written: qa_* receive da's copies, qb_*
 * db's (in the same layouts). x: the view of da (shape only: 2-D bf16, dims multiples of 128);
 * dy, a, b of that shape. Bit-exact, but on the H100 slower than the SwiGLU backward and the two
 * dual kernels apart (bench/NOTES.md, session 7), so the GPU executor does not use it (yet). */
alto_status alto_gpu_quantize_dual_swiglu_bwd(alto_backend *b, const alto_quant_spec *fprop,
                                              const alto_quant_spec *wgrad,
                                              const alto_tensor_view *x, alto_dptr dy,
                                              alto_dptr a, alto_dptr bd,
                                              const alto_gpu_quantized *qa_fprop,
                                              const alto_gpu_quantized *qa_wgrad,
                                              const alto_gpu_quantized *qb_fprop,
                                              const alto_gpu_quantized *qb_wgrad);
/* One AdamW step of the fp32 parameter `param` (2-D; grad, m, v of its shape, m and v updated;
 * k: alto_ops_gpu_adamw_scalars) with the updated parameter quantized in 2-D blocks: fp8_block
 * 128x128, dims multiples of 128, and its transposed copy when q->codes_tr (quant_tile128.cuh
 * ADAMW), or one-level MX / NVFP4 (quant_cols.cuh ADAMW). param read once, the bits of
 * alto_ops_gpu_adamw then alto_gpu_quantize. x: param's view. */
alto_status alto_gpu_quantize_adamw(alto_backend *b, const alto_quant_spec *spec,
                                    const alto_tensor_view *x, alto_dptr param, alto_dptr grad,
                                    alto_dptr m, alto_dptr v, const alto_adamw_k *k,
                                    const alto_gpu_quantized *q);
/* ALTO_OK when alto_gpu_quantize_adamw takes this quantization (transposed: with the copy). */
alto_status alto_gpu_quantize_adamw_check(const alto_backend *b, const alto_quant_spec *spec,
                                          const alto_tensor_view *x, bool transposed);
/* x = SwiGLU(a, b) quantized along its last dim without reading x back (quant_rows_swiglu.cuh):
 * the bits of the SWIGLU op then alto_gpu_quantize. x: the view of SwiGLU's output (shape only,
 * bf16); a, b: its inputs, bf16 of that shape; y: where x itself is written (the SWIGLU op's
 * bits), or 0 for nowhere. MX and fp8_block 1-D blocks along the last dim (axis -1; scales
 * MN-major with q->scales_t, the E4M3 form with q->mx_tile, as alto_gpu_quantize). */
alto_status alto_gpu_quantize_swiglu(alto_backend *b, const alto_quant_spec *spec,
                                     const alto_tensor_view *x, alto_dptr a, alto_dptr bd,
                                     alto_dptr y, const alto_gpu_quantized *q);
/* The fused dual-output kernel: X read once, written as `fprop` (axis -1, 1x32) and as R X per
 * `wgrad` (axis -2, 32x1, the same scheme, rule, rounding and seed; its own SR stream). MX schemes.
 * fp8_block without an RHT: x (2-D bf16, dims multiples of 128) as `fprop` 1x128 (scales MN-major
 * when q_fprop->scales_t) and `wgrad` 128x1 with its codes transposed (q_wgrad->codes_t must be
 * set): the backward dY of a linear, read once for dgrad and wgrad. */
alto_qkern alto_dual_kernel(const alto_quant_spec *fprop, alto_elem in_dtype, int rht_b,
                            alto_target target, const char *arch);
alto_status alto_gpu_quantize_dual(alto_backend *b, const alto_quant_spec *fprop,
                                   const alto_quant_spec *wgrad, const alto_tensor_view *x,
                                   alto_dptr xd, const alto_gpu_rht *rht,
                                   const alto_gpu_quantized *q_fprop,
                                   const alto_gpu_quantized *q_wgrad);
/* fp8_block's forward X of a linear, read once: `fprop` 1x128 along the last dim (scales MN-major
 * when q_fprop->scales_t) and the wgrad's `wgrad` 128x1 (codes transposed: q_wgrad->codes_t) of
 * that copy dequantized to bf16 (NUMERICS.md 7's re-quantization), the bits of alto_gpu_quantize,
 * alto_gpu_dequantize and alto_gpu_quantize (or alto_gpu_requantize) in one kernel. x: 2-D bf16,
 * dims multiples of 128. */
alto_status alto_gpu_quantize_x_dual(alto_backend *b, const alto_quant_spec *fprop,
                                     const alto_quant_spec *wgrad, const alto_tensor_view *x,
                                     alto_dptr xd, const alto_gpu_quantized *q_fprop,
                                     const alto_gpu_quantized *q_wgrad);

alto_status alto_gpu_dequantize(alto_backend *b, const alto_quant_spec *spec,
                                const alto_tensor_view *x, const alto_gpu_quantized *q,
                                alto_elem out_dtype, alto_dptr y);
alto_status alto_gpu_mx69(alto_backend *b, const alto_tensor_view *x, alto_dptr xd, int quant_bit,
                          int group_size, alto_dptr y);

#endif
