// The SwiGLU backward's outputs quantized as the dY of their linears, without them in memory: da and
// db (ops/swiglu.cuh's element steps on dy, a, b: the SWIGLU_BWD op's bf16 bits) each as fp8_block's
// dual dY (quant_tile128.cuh's TRANS + ROWS_COPY steps: 128x1 along M with the codes transposed for
// wgrad, and 1x128 along the rows for dgrad). In fp8_block the MLP's w1 and w3 read da and db only
// through these quantizations, so da and db (two bf16 tensors of the MLP's hidden size) are never
// written nor read back.
//
// dy, a, b  [rows, cols] bf16; rows and cols multiples of 128
// da:  codes_a [cols, rows] (128x1, transposed), scales_a [rows / 128, cols];
//      codes_a2 [rows, cols] (1x128), scales_a2 [rows, cols / 128] (ROWS_COPY 1) or MN-major
//      [cols / 128, rows] (ROWS_COPY 2)
// db:  likewise codes_b, scales_b, codes_b2, scales_b2
//
// A CTA of NT = 256 threads copies the sigmoid table (33 KB, dynamic shared memory) once and walks
// the 128 x 128 tiles in steps of the grid; per tile a thread computes da for its 8 rows of 8
// columns in registers and quantizes it, then reads the tile's inputs again (from L2) for db: one
// tile's values live at a time, so two CTAs fit an SM's registers (both at once: 172 registers,
// one CTA per SM, and 4 ms on the Llama 3 1b against 3.8 ms of the SwiGLU backward it saves).
#ifndef ALTO_QUANT_DUAL_SWIGLU_BWD_CUH
#define ALTO_QUANT_DUAL_SWIGLU_BWD_CUH

#include "ops/swiglu.cuh"
#include "quant/quant_tile128.cuh"

template <int ELEM, int ROWS_COPY, int NT>
__device__ __forceinline__ void
alto_quant_dual_swiglu_bwd(const alto_u16 *__restrict__ dy, const alto_u16 *__restrict__ a,
                           const alto_u16 *__restrict__ b, alto_idx rows, alto_idx cols,
                           alto_u8 *__restrict__ codes_a, float *__restrict__ scales_a,
                           alto_u8 *__restrict__ codes_a2, float *__restrict__ scales_a2,
                           alto_u8 *__restrict__ codes_b, float *__restrict__ scales_b,
                           alto_u8 *__restrict__ codes_b2, float *__restrict__ scales_b2) {
  constexpr int B = 128, V = 8, LPR = B / V, P = B / (NT / LPR);
  static_assert(P == 8 && (ROWS_COPY == 1 || ROWS_COPY == 2), "256 threads, a row copy");
  static_assert(ALTO_OPS_SIGMOID_N * 4 == 33792, "the table's bytes as compiler/gen.c launches");
  ALTO_DYN_SMEM(float, tab); // ALTO_OPS_SIGMOID_N floats
  alto_sigmoid_tab_fill_<NT>(tab);
  const int tc = threadIdx.x % LPR, g = threadIdx.x / LPR; // column group, row group
  const alto_idx tiles_x = cols / B, tiles = rows / B * tiles_x;
  for (alto_idx t = blockIdx.x; t < tiles; t += gridDim.x) {
    const alto_idx tx = t % tiles_x, ty = t / tiles_x;
#pragma unroll 1
    for (int o = 0; o < 2; o++) { // da, then db (the tile's inputs again, from L2)
      alto_u32 w[P][4]; // the thread's rows g P + p of da or db, packed bf16 pairs
#pragma unroll
      for (int p = 0; p < P; p++) {
        const alto_idx e = (ty * B + g * P + p) * cols + tx * B + tc * V;
        const uint4 pd = *(const uint4 *)(dy + e), pa = *(const uint4 *)(a + e),
                    pb = *(const uint4 *)(b + e);
        const alto_u32 wd4[4] = {pd.x, pd.y, pd.z, pd.w}, wa4[4] = {pa.x, pa.y, pa.z, pa.w},
                       wb4[4] = {pb.x, pb.y, pb.z, pb.w};
#pragma unroll
        for (int k = 0; k < 4; k++) { // alto_swiglu_bwd_bf16_'s steps
          float da0, db0, da1, db1;
          alto_swiglu_bwd1_(alto_ops_lo_(wd4[k]), alto_ops_lo_(wa4[k]), alto_ops_lo_(wb4[k]),
                            alto_sigmoid_bf16_(tab, wa4[k] & 0xFFFFu), &da0, &db0);
          alto_swiglu_bwd1_(alto_ops_hi_(wd4[k]), alto_ops_hi_(wa4[k]), alto_ops_hi_(wb4[k]),
                            alto_sigmoid_bf16_(tab, wa4[k] >> 16), &da1, &db1);
          w[p][k] = o ? alto_ops_pack_bf16x2(db0, db1) : alto_ops_pack_bf16x2(da0, da1);
        }
      }
      alto_t128_quantize_<ELEM, 1, true, NT, true, false, ROWS_COPY>(
          w, o ? codes_b : codes_a, o ? scales_b : scales_a, cols, o ? codes_b2 : codes_a2,
          o ? scales_b2 : scales_a2, tx, ty, rows);
      __syncthreads(); // (the staging buffer and the scales' shared memory are reused)
    }
  }
}

#endif
