/* cuBLASLt for bf16 GEMMs and DeepSeek-V3 blockwise FP8 GEMMs (ARCHITECTURE.md stage 8: a vendor
 * library where it is the best tool, and the speed peer for alto's own GEMM kernels).
 *
 * Loaded like the driver: dlopen("libcublasLt.so.13"), then .so.12, then .so, on first use; no
 * CUDA header is needed to build and the binary runs without the library (ALTO_ERR_LIBRARY naming
 * it). Every cuBLASLt call is checked; a failure carries the call, the status name
 * ("CUBLAS_STATUS_NOT_SUPPORTED") and cuBLASLt's own description.
 *
 * Semantics are the IR's (compiler/ir.h ALTO_OP_GEMM, runtime/cpu/ops.h alto_op_gemm), row-major:
 *
 *     C[M, N] (+)= op(A) op(B)^T,   op(A) [M, K], op(B) [N, K]
 *     A stored [M, K], or [K, M] when trans_a;  B stored [N, K], or [K, N] when trans_b.
 *
 * Mapping to cuBLASLt (column-major): a row-major [R, C] buffer is the column-major C x R matrix
 * with ld = C, so C row-major is C^T column-major (N x M, ld N), and
 *
 *     C^T [N, M] = op(B) [N, K] * op(A)^T [K, M]
 *
 * i.e. cuBLASLt's "A" is alto's B and cuBLASLt's "B" is alto's A:
 *     cuBLASLt A = alto B: column-major K x N (ld K), op T   [trans_b: N x K (ld N), op N]
 *     cuBLASLt B = alto A: column-major K x M (ld K), op N   [trans_a: M x K (ld M), op T]
 *     cuBLASLt C = D      : column-major N x M (ld N)
 * The plain IR case (both operands K-major) is cuBLASLt's "TN" layout, the one FP8 requires.
 *
 * Alignment rules (cuBLASLt's; see the cuBLAS docs "Tensor Core Usage" and the FP8 notes):
 *   bf16: any M, N, K >= 1 work; the fast tensor-core kernels want every leading dimension
 *     (K, and N or M where a transposed operand has it as ld) a multiple of 8 elements (16 bytes)
 *     and 16-byte aligned pointers. Each pointer's alignment (up to 256 bytes; alto allocations
 *     are 256-byte aligned) is part of the cached plan and given to the heuristic
 *     (MIN_ALIGNMENT_*_BYTES): a less aligned sub-buffer gets an algorithm that accepts it.
 *   fp8 block: both operands K-major (no transposes: FP8 on Hopper is TN only; transpose the codes
 *     and scales first), K a multiple of 128 (one scale per 128-deep K step; 16-byte rows), N a
 *     multiple of 16 (16-byte rows of the fp8 operand and of the output), M any >= 1. A 128x128
 *     operand needs its outer dim a multiple of 128 for alto_cpu_quantize; cuBLASLt itself takes
 *     ceil(R/128) scale rows.
 *
 * Streams: everything runs on the legacy default stream (NULL), the stream alto_cuda_launch uses,
 * so cuBLASLt calls are ordered with alto's kernels. The handle and workspace are process-wide
 * (one device: the one alto_cuda_init made current); calls are serialized by a mutex. */
#ifndef ALTO_RUNTIME_CUDA_CUBLASLT_H
#define ALTO_RUNTIME_CUDA_CUBLASLT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "compiler/ir.h"
#include "runtime/cuda/driver.h"

/* Workspace handed to cuBLASLt (allocated once through the driver at init). */
#define ALTO_CUBLASLT_WORKSPACE_BYTES (32u << 20)

/* Loads libcublasLt (no GPU needed). ALTO_ERR_LIBRARY naming the library when it is missing or
 * lacks a symbol. Idempotent. */
alto_status alto_cublaslt_load(void);

/* Loads the library, creates the handle and allocates the workspace. Call after alto_cuda_init
 * (alto_backend_open("cuda") does it). Idempotent. */
alto_status alto_cublaslt_init(void);

/* Frees the workspace, the cached descriptors and the handle (the library stays loaded). */
void alto_cublaslt_shutdown(void);

/* cublasLtGetVersion() (e.g. 130100 for 13.1.0); 0 when not loaded. */
size_t alto_cublaslt_version(void);

/* Test hook: tries to dlopen `soname` and resolve every symbol alto uses, through the same code
 * (and the same error message) as alto_cublaslt_load, then closes it again. The loaded library is
 * not touched. ALTO_OK when it would load. */
alto_status alto_cublaslt_probe_library(const char *soname);

/* "CUBLAS_STATUS_NOT_SUPPORTED" for a cublasStatus_t value; "CUBLAS_STATUS_<n>?" when unknown. */
const char *alto_cublaslt_status_name(int status);

/* bf16 GEMM with fp32 accumulation: C (+)= op(A) op(B)^T (see the top of this file).
 *   c  [M, N]  out_dtype (ALTO_DT_BF16 or ALTO_DT_F32), row-major; read too when accumulate
 *   a  [M, K]  bf16, or [K, M] when trans_a
 *   b  [N, K]  bf16, or [K, N] when trans_b
 * accumulate: C += (beta = 1), else C = (beta = 0). M, N, K >= 1. */
alto_status alto_cublaslt_gemm_bf16(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b, int64_t m,
                                    int64_t n, int64_t k, bool trans_a, bool trans_b,
                                    bool accumulate, alto_dtype out_dtype);

/* The same with C (+)= alpha op(A) op(B)^T, alpha one fp32 in device memory (read when the GEMM
 * runs: CUBLASLT_POINTER_MODE_DEVICE). Two-level NVFP4 operands: alpha = outer(A) outer(B). */
alto_status alto_cublaslt_gemm_bf16_alpha(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b,
                                          int64_t m, int64_t n, int64_t k, bool trans_a,
                                          bool trans_b, bool accumulate, alto_dtype out_dtype,
                                          alto_cuda_ptr alpha);

/* The same in full fp32 (CUBLAS_COMPUTE_32F, no TF32): a, b fp32. The emulation baseline of
 * quantized GEMMs whose dequantized values bf16 cannot hold exactly (fp8 with fp32 scales). */
alto_status alto_cublaslt_gemm_f32(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b, int64_t m,
                                   int64_t n, int64_t k, bool trans_a, bool trans_b,
                                   bool accumulate, alto_dtype out_dtype);

/* How an FP8 operand [R, K] (R = M for A, N for B) is scaled. */
typedef enum {
  ALTO_CUBLASLT_SCALE_1X128,   /* one fp32 per 1x128 block along K (VEC128_32F) */
  ALTO_CUBLASLT_SCALE_128X128, /* one fp32 per 128x128 block (BLK128x128_32F) */
} alto_cublaslt_scale_mode;

/* Scale layouts. alto's (runtime/cpu/quant.h, fp8_block, row-major fp32; d = amax / 448, the
 * element value is code * d):
 *   1x128    [R, K/128]
 *   128x128  [R/128, K/128]
 * cuBLASLt's (what the GEMM reads; TransformerEngine's "GEMM-ready" format, row-major here):
 *   1x128    [K/128, R4]        R4 = R rounded up to a multiple of 4 (16-byte rows): the TRANSPOSE
 *                               of alto's, R contiguous ("MN-major"), entries R..R4-1 unused
 *   128x128  [ceil(R/128), Kb4] Kb4 = K/128 rounded up to a multiple of 4: alto's with padded rows
 * alto_cublaslt_gemm_fp8_block converts alto's layout on the device (cublasLtMatrixTransform into
 * an internal scratch buffer) unless told the scales are already in cuBLASLt's layout. */
size_t alto_cublaslt_scale_bytes(alto_cublaslt_scale_mode mode, int64_t rows, int64_t k);

/* Converts one operand's scales from alto's layout to cuBLASLt's on the device (cublasLtMatrix-
 * Transform: a transpose for 1x128, a row re-pitch for 128x128). Asynchronous (default stream).
 *   dst  alto_cublaslt_scale_bytes(mode, rows, k) bytes, cuBLASLt layout (above)
 *   src  alto layout (above), fp32
 * rows = R of the operand [R, K]; K a multiple of 128. */
alto_status alto_cublaslt_convert_scales(alto_cuda_ptr dst, alto_cuda_ptr src,
                                         alto_cublaslt_scale_mode mode, int64_t rows, int64_t k);

/* One FP8 operand: codes [R, K] one byte per element (K-major, as alto_cpu_quantize writes them)
 * and fp32 scales per `mode`. */
typedef struct {
  alto_cuda_ptr codes;  /* [R, K] E4M3 (or E5M2) bytes */
  alto_cuda_ptr scales; /* fp32, alto layout, or cuBLASLt layout when scales_lt */
  alto_cublaslt_scale_mode mode;
  alto_dtype elem; /* ALTO_DT_FP8_E4M3 (default recipes) or ALTO_DT_FP8_E5M2 */
  bool scales_lt;  /* scales already in cuBLASLt's layout: no conversion */
} alto_cublaslt_fp8_operand;

/* Blockwise FP8 GEMM, fp32 accumulation with the scales applied per 128-deep K block
 * (cuBLASLt block scaling, CUDA >= 12.9, Hopper sm_90 only):
 *   c  [M, N]  out_dtype (ALTO_DT_BF16; ALTO_DT_F32 where cuBLASLt offers it), row-major
 *   a  codes [M, K], scales per a->mode
 *   b  codes [N, K], scales per b->mode
 *   C (+)= dequant(A) dequant(B)^T
 * Supported scale pairs (cuBLASLt on Hopper): A 1x128 x B 128x128 (fprop Y = X W^T, dgrad with a
 * K-major copy of W), A 1x128 x B 1x128 (wgrad dW = dY^T X with both re-quantized along M, which
 * is then the GEMM's K), A 128x128 x B 1x128. 128x128 x 128x128 is not supported by cuBLASLt
 * (ALTO_ERR_UNSUPPORTED). Other devices: cuBLASLt answers CUBLAS_STATUS_NOT_SUPPORTED, returned as
 * ALTO_ERR_UNSUPPORTED. */
alto_status alto_cublaslt_gemm_fp8_block(alto_cuda_ptr c, const alto_cublaslt_fp8_operand *a,
                                         const alto_cublaslt_fp8_operand *b, int64_t m, int64_t n,
                                         int64_t k, bool accumulate, alto_dtype out_dtype);

/* Per-tensor scaled FP8 GEMM (cuBLASLt's default scalar scaling; sm_89 and later):
 *   c        [M, N]  out_dtype (ALTO_DT_BF16 or ALTO_DT_F32), row-major; read too when accumulate
 *   a        [M, K]  E4M3 codes, K-major;  a_scale: one fp32 on the device
 *   b        [N, K]  E4M3 codes, K-major;  b_scale: one fp32 on the device
 *   C (+)= (a_scale b_scale) codes(A) codes(B)^T, fp32 accumulation
 * K and N multiples of 16 (16-byte rows of the FP8 operands as cuBLASLt sees them), M any >= 1.
 * Both scale pointers 16-byte aligned: cuBLASLt 13.1 refuses a scalar scale at a 4- or 8-byte
 * aligned address with NOT_SUPPORTED (measured on the H100 and H200); ALTO_ERR_INVALID_ARG here.
 * The speed ceiling of FP8 on the tensor cores without block scales (bench/gemm/bench_gemm.c). */
alto_status alto_cublaslt_gemm_fp8_tensor(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr a_scale,
                                          alto_cuda_ptr b, alto_cuda_ptr b_scale, int64_t m,
                                          int64_t n, int64_t k, bool accumulate,
                                          alto_dtype out_dtype);

/* Number of distinct GEMM configurations (shape, dtypes, transposes, scale modes) whose heuristic
 * result is cached (for tests). */
int alto_cublaslt_cached_plans(void);

#endif
