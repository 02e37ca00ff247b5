// The SwiGLU backward's outputs quantized as the dY of their linears, without them in memory: da and
// db (ops/swiglu.cuh's element steps on dy, a, b: the SWIGLU_BWD op's bf16 bits) each as fp8_block's
// dual dY (quant_tile128.cuh's TRANS + ROWS_COPY steps: 128x1 along M with the codes transposed for
// wgrad, and 1x128 along the rows for dgrad). In fp8_block the MLP's w1 and w3 read da and db only
// through these quantizations, so da and db (two bf16 tensors of the MLP's hidden size) are never
// written nor read back: 10 bytes move per element position instead of the 18 of the SwiGLU
// backward and the two dual kernels apart.
//
// dy, a, b  [rows, cols] bf16; rows and cols multiples of 128
// da:  codes_a [cols, rows] (128x1, transposed), scales_a [rows / 128, cols];
//      codes_a2 [rows, cols] (1x128), scales_a2 [rows, cols / 128] (ROWS_COPY 1) or MN-major
//      [cols / 128, rows] (ROWS_COPY 2)
// db:  likewise codes_b, scales_b, codes_b2, scales_b2
//
// One CTA of NT = 512 threads per SM, persistent over the 128 x 128 tiles (in steps of the grid):
// threads 0-255 make da, threads 256-511 db. Dynamic shared memory (compiler/gen.c launches with
// its size): the sigmoid table (33 KB, copied once), then one stage of a tile's three inputs
// (3 x 32 KB), filled with cp.async. Per tile:
//   1. wait for the stage; each thread computes its output (da or db) for its 8 rows of 8 columns
//      from it into registers (bf16 pairs);
//   2. the stage is free: the next tile's inputs start streaming in;
//   3. each half quantizes its output from the registers (alto_t128_quantize_ with two groups of
//      256 threads, each with its own shared memory) while those loads fly.
// So the reads of tile i + 1 overlap the quantizations and the stores of tile i. (Session 7's
// kernel read the inputs into registers with nothing in flight while it quantized, at one CTA of
// 256 threads per SM: slower than the three kernels apart; so was this one with 256 threads making
// both outputs in turn: 8 warps per SM leave the quantization latency-bound.)
#ifndef ALTO_QUANT_DUAL_SWIGLU_BWD_CUH
#define ALTO_QUANT_DUAL_SWIGLU_BWD_CUH

#include "ops/swiglu.cuh"
#include "quant/quant_tile128.cuh"

// Starts the copies of tile t's dy, a, b (their rows of 128 bf16) into the stage; one commit.
template <int NT>
__device__ __forceinline__ void alto_swiglu_bwd_fetch_(alto_u16 *stage, const alto_u16 *dy,
                                                       const alto_u16 *a, const alto_u16 *b,
                                                       alto_idx cols, alto_idx tx, alto_idx ty) {
  constexpr int B = 128, CHUNKS = B * B / 8; // 16-byte chunks per input tile
  static_assert(3 * CHUNKS % NT == 0, "whole rounds of the CTA");
#pragma unroll 4
  for (int i = threadIdx.x; i < 3 * CHUNKS; i += NT) {
    const int in = i / CHUNKS, c = i % CHUNKS, r = c / (B / 8), q = c % (B / 8);
    const alto_u16 *src = in == 0 ? dy : in == 1 ? a : b;
    alto_cp_async16(stage + (alto_idx)in * B * B + r * B + q * 8,
                    src + (ty * B + r) * cols + tx * B + q * 8);
  }
  alto_cp_async_commit();
}

template <int ELEM, int ROWS_COPY, int NT>
__device__ __forceinline__ void
alto_quant_dual_swiglu_bwd(const alto_u16 *__restrict__ dy, const alto_u16 *__restrict__ a,
                           const alto_u16 *__restrict__ b, alto_idx rows, alto_idx cols,
                           alto_u8 *__restrict__ codes_a, float *__restrict__ scales_a,
                           alto_u8 *__restrict__ codes_a2, float *__restrict__ scales_a2,
                           alto_u8 *__restrict__ codes_b, float *__restrict__ scales_b,
                           alto_u8 *__restrict__ codes_b2, float *__restrict__ scales_b2) {
  constexpr int B = 128, V = 8, LPR = B / V, NH = NT / 2, P = B / (NH / LPR);
  static_assert(P == 8 && (ROWS_COPY == 1 || ROWS_COPY == 2), "512 threads, a row copy");
  static_assert(ALTO_OPS_SIGMOID_N * 4 == 33792 && 33792 % 16 == 0,
                "the table's bytes as compiler/gen.c launches; the stage 16-byte aligned");
  ALTO_DYN_SMEM(float, tab); // ALTO_OPS_SIGMOID_N floats, then the stage
  alto_u16 *stage = (alto_u16 *)(tab + ALTO_OPS_SIGMOID_N); // [3][B][B]: dy, a, b
  const alto_idx tiles_x = cols / B, tiles = rows / B * tiles_x;
  alto_idx t = blockIdx.x;
  if (t < tiles)
    alto_swiglu_bwd_fetch_<NT>(stage, dy, a, b, cols, t % tiles_x, t / tiles_x);
  alto_sigmoid_tab_fill_<NT>(tab); // (while the first tile streams in)
  const int half = threadIdx.x / NH, tid = threadIdx.x % NH; // half 0: da, 1: db
  const int tc = tid % LPR, g = tid / LPR;                   // column group, row group
  for (; t < tiles; t += gridDim.x) {
    const alto_idx tx = t % tiles_x, ty = t / tiles_x;
    alto_cp_async_wait_all();
    __syncthreads(); // the stage (and, the first time, the table) is the CTA's
    alto_u32 w[P][4]; // the thread's rows g P + p of da or db, packed bf16 pairs
#pragma unroll
    for (int p = 0; p < P; p++) {
      const int e = (g * P + p) * B + tc * V;
      const uint4 pd = *(const uint4 *)(stage + e), pa = *(const uint4 *)(stage + B * B + e),
                  pb = *(const uint4 *)(stage + 2 * B * B + e);
      const alto_u32 wd4[4] = {pd.x, pd.y, pd.z, pd.w}, wa4[4] = {pa.x, pa.y, pa.z, pa.w},
                     wb4[4] = {pb.x, pb.y, pb.z, pb.w};
#pragma unroll
      for (int k = 0; k < 4; k++) { // alto_swiglu_bwd_bf16_'s steps
        float da0, db0, da1, db1;
        alto_swiglu_bwd1_(alto_ops_lo_(wd4[k]), alto_ops_lo_(wa4[k]), alto_ops_lo_(wb4[k]),
                          alto_sigmoid_bf16_(tab, wa4[k] & 0xFFFFu), &da0, &db0);
        alto_swiglu_bwd1_(alto_ops_hi_(wd4[k]), alto_ops_hi_(wa4[k]), alto_ops_hi_(wb4[k]),
                          alto_sigmoid_bf16_(tab, wa4[k] >> 16), &da1, &db1);
        w[p][k] = half ? alto_ops_pack_bf16x2(db0, db1) : alto_ops_pack_bf16x2(da0, da1);
      }
    }
    __syncthreads(); // every thread is done with the stage
    if (t + gridDim.x < tiles)
      alto_swiglu_bwd_fetch_<NT>(stage, dy, a, b, cols, (t + gridDim.x) % tiles_x,
                                 (t + gridDim.x) / tiles_x);
    alto_t128_quantize_<ELEM, 1, true, NH, true, false, ROWS_COPY, 2>(
        w, half ? codes_b : codes_a, half ? scales_b : scales_a, cols, half ? codes_b2 : codes_a2,
        half ? scales_b2 : scales_a2, tx, ty, rows);
  }
}

#endif
