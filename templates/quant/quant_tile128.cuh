// Blockwise FP8 with 128-row blocks: 128x1 column blocks ("128x1 along M": one scale per 128 rows
// of one column, the wgrad operands) and 128x128 2-D blocks (the weights, every step).
//
// x      [rows, cols] bf16 or fp32 (3-D [E, R, C] = [E*R, C]); rows % 128 == 0 (R % 128 == 0 keeps
//        blocks inside one matrix); 2-D blocks: cols % 128 == 0
// codes  [rows, cols], one FP8 byte per element
// scales fp32 d; 128x1: [rows/128, cols]; 128x128: [rows/128, cols/128]
//
// A CTA of NT threads (256 for bf16, 512 for fp32) quantizes one 128 x 128 tile: one 2-D block, or
// 128 column blocks. A thread owns V adjacent columns, 16 bytes of a row (V = 8 bf16 or 4 fp32);
// LPR = 128 / V threads cover a tile row, the CTA covers RPP = NT / LPR rows per pass, and a thread
// keeps its P = 128 / RPP = 8 rows in 32 registers as raw bits: x is read once, with all 8 loads of
// the thread in flight before the first use. Then
//   1. each thread's amax per column over its P rows;
//   2. 128x1: per-column partials through shared memory, one thread per column reduces them and
//      writes the scale; 128x128: a shuffle reduction per warp, the warps' results through shared
//      memory, and every thread derives the (one) scale;
//   3. each thread encodes its rows from registers and stores V code bytes per row.
// Consecutive threads read consecutive 16-byte chunks of a row and write consecutive 8- or 4-byte
// chunks of codes. The generic tile kernel (quant_tile.cuh) ran these blocks with 32-thread CTAs in
// which each thread walked 128 rows twice with 2-byte loads: too few bytes in flight per SM (28-33%
// of copy bandwidth); staging its tiles in shared memory with 32 threads was slower still.
//
// Bits equal the CPU reference (runtime/cpu/quant_fp8.c): alto_amax_update's order-free integer
// max, alto_fp8_block_scale, and the element x / d (the fp32 division's value, alto_block_q_)
// cast as alto_f32_to_e4m3 / e5m2 do (quant_codes.cuh's alto_fp8x2_).
#ifndef ALTO_QUANT_TILE128_CUH
#define ALTO_QUANT_TILE128_CUH

#include "common/alto_qargs.h"
#include "ops/optim.cuh"
#include "quant/dequant.cuh"
#include "quant/quant_codes.cuh"
#include "quant/quant_rows.cuh"

// The 16 bytes of a thread's columns in one row, as 4 words: one 16-byte load (FULL: all V columns
// exist and rows are 16-byte aligned), else element loads of the n < V columns that exist (zeros
// after them, which no amax sees: |0| is the identity of the max).
template <bool BF16, bool FULL>
__device__ __forceinline__ void alto_t128_load_(const void *__restrict__ x, alto_idx e, int n,
                                                alto_u32 w[4]) {
  constexpr int V = BF16 ? 8 : 4;
  if (FULL) {
    uint4 u = *(const uint4 *)((const unsigned char *)x + e * (BF16 ? 2 : 4));
    w[0] = u.x, w[1] = u.y, w[2] = u.z, w[3] = u.w;
    return;
  }
  w[0] = w[1] = w[2] = w[3] = 0;
#pragma unroll
  for (int j = 0; j < V; j++) // constant indices keep w[] in registers
    if (j < n) {
      if (BF16)
        w[j / 2] |= (alto_u32)((const alto_u16 *)x)[e + j] << (16 * (j & 1));
      else
        w[j] = ((const alto_u32 *)x)[e + j];
    }
}

// The 4 x 4 byte transpose: a[i] = bytes (i, 0..3) -> b[j] = bytes (0..3, j), byte i = row i.
__device__ __forceinline__ void alto_t128_tr4_(const alto_u32 a[4], alto_u32 b[4]) {
  const alto_u32 t0 = alto_prmt_(a[0], a[1], 0x5140u), t1 = alto_prmt_(a[0], a[1], 0x7362u);
  const alto_u32 t2 = alto_prmt_(a[2], a[3], 0x5140u), t3 = alto_prmt_(a[2], a[3], 0x7362u);
  b[0] = alto_prmt_(t0, t2, 0x5410u), b[1] = alto_prmt_(t0, t2, 0x7632u);
  b[2] = alto_prmt_(t1, t3, 0x5410u), b[3] = alto_prmt_(t1, t3, 0x7632u);
}

// TRANS (128x1 blocks of a 2-D x only): codes written transposed, [cols, rows] (codes[c * rows +
// r], the K-major operand of the wgrad GEMM dW = dY^T X with K = rows), scales as always. A thread
// then owns 8 consecutive rows (r0 + g P + p) instead of every RPP-th; its P x V code bytes are
// transposed in registers (byte permutes), staged per column in shared memory (chunks of 16 rows
// swizzled by column group), and the CTA writes each column's 128 bytes with 16-byte stores.
//
// DQ_ELEM (E4M3 / E5M2; 0: none): re-quantization, x is FP8 codes [rows, cols] of that format with
// fp32 1x128 scales x_scales (row-major [rows, cols / 128], or MN-major [cols / 128, rows] with
// DQ_SCALES_T), and the values quantized are their dequantization rounded to bf16, bit for bit what
// a DEQUANTIZE to bf16 writes (dequant.cuh's element steps): the wgrad's X re-quantized 128x1 from
// its saved fprop codes without the bf16 tensor in between. cols % 128 == 0.
//
// TRANS_COPY (128x128 blocks of a 2-D x: the weights): the codes and scales as always, and a
// transposed copy of both, codes2 [cols, rows] and scales2 [cols / 128, rows / 128] (the operand
// W^T of the dgrad GEMM dX = dY W, K-major), through the same stage as TRANS.
//
// ROWS_COPY (with TRANS, bf16 x, cols % 128 == 0: the dY of a linear, read once for both of its
// backward GEMMs): also x's 1x128 quantization along the rows (the dgrad operand), codes2 [rows,
// cols] and scales2 [rows, cols / 128] (ROWS_COPY 1) or MN-major [cols / 128, rows] (2), with
// quant_rows.cuh's steps (the amax of a row's 128 values over the 16 threads that hold it, then
// alto_encode8_): the bits of the rows kernel.
//
// ROWS_RQ (with ROWS_COPY: the forward's X of an fp8_block linear, read once for its fprop copy
// and its wgrad copy): the 128x1 quantization is of the row copy's dequantization rounded to bf16
// instead of x, bit for bit a DQ_ELEM re-quantization of codes2, scales2 (NUMERICS.md 7's wgrad X),
// written in the forward instead of re-read from the saved codes in the backward.
//
// ADAMW (128x128 blocks of fp32 x: the weights, quantized by the optimizer step): x is the
// parameter, read once, updated in place with ops/optim.cuh's element step from opt_grad and the
// moments opt_m, opt_v (updated too) and the step's scalars opt_k, and the updated values are
// quantized: the bits of the AdamW kernel followed by this kernel on its output.
// ROWS_COPY: the 1x128 quantization of one row's 8 bf16 values wp (columns c .. c + 7 of row r,
// the row's 128 values held by LPR consecutive lanes), with quant_rows.cuh's steps (the amax over
// the LPR lanes, then alto_encode8_): codes2 [rows, cols], scales2 row-major [rows, cols / 128]
// (ROWS_COPY 1) or MN-major [cols / 128, rows] (2). RQ: wp then holds the copy's dequantization
// rounded to bf16, bit for bit what a DEQUANTIZE to bf16 of codes2, scales2 writes (the DQ_ELEM
// path's steps), so that the 128x1 quantization of wp is fp8_block's re-quantization of the wgrad X.
template <int ELEM, int LPR, int ROWS_COPY, bool RQ>
__device__ __forceinline__ void alto_t128_row_copy_(alto_u32 (&wp)[4], alto_u8 *__restrict__ codes2,
                                                    float *__restrict__ scales2, alto_idx r,
                                                    alto_idx c, alto_idx cols, alto_idx tx,
                                                    alto_idx rows, int tc) {
  float ra = alto_f32_from_bits(alto_raw_amax_bits_<true, 1>(&wp));
#pragma unroll
  for (int m = 1; m < LPR; m <<= 1) // LPR consecutive lanes, aligned
    ra = alto_amax_update(ra, ALTO_SHFL_XOR(ra, m, ALTO_WARP));
  const alto_u32 s = alto_block_scale<ALTO_QK_FP8_BLOCK, ELEM, 0>(ra, 1.0f);
  const alto_block_enc be = alto_block_enc_make<ALTO_QK_FP8_BLOCK>(s, 1.0f);
  const alto_u32 u[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  alto_u32 o[2];
  if (be.fast)
    alto_encode8_<ALTO_QK_FP8_BLOCK, ELEM, false, true, ALTO_DIV_F32>(&wp, 0, be, u, o);
  else
    alto_encode8_<ALTO_QK_FP8_BLOCK, ELEM, false, true, ALTO_DIV_F64>(&wp, 0, be, u, o);
  *(uint2 *)(codes2 + r * cols + c) = uint2{o[0], o[1]};
  if (tc == 0)
    scales2[ROWS_COPY == 2 ? tx * rows + r : r * (cols / 128) + tx] = alto_f32_from_bits(s);
  if constexpr (RQ) {
    const float d = alto_f32_from_bits(s);
#pragma unroll
    for (int q = 0; q < 4; q++) {
      float v0, v1;
      alto_fp8x2_f32_<ELEM>((q < 2 ? o[0] : o[1]) >> (16 * (q % 2)), v0, v1);
      wp[q] = alto_dq_bf16x2_(alto_dq_apply_<ALTO_DQ_FP8_BLOCK>(v0, d),
                              alto_dq_apply_<ALTO_DQ_FP8_BLOCK>(v1, d));
    }
  }
}

// Steps 1 to 3 on the values of one tile (tile column tx, tile row ty of a [rows, cols] tensor)
// held as alto_quant_tile128 loads them: w[p] the 16 bytes of the thread's columns in its row p.
template <int ELEM, int BC, bool IN_BF16, int NT, bool TRANS, bool TRANS_COPY, int ROWS_COPY,
          bool ROWS_RQ = false>
__device__ __forceinline__ void
alto_t128_quantize_(alto_u32 (&w)[128 / (NT / (128 / (IN_BF16 ? 8 : 4)))][4],
                    alto_u8 *__restrict__ codes, void *__restrict__ scales, alto_idx cols,
                    alto_u8 *__restrict__ codes2, float *__restrict__ scales2, alto_idx tx,
                    alto_idx ty, alto_idx rows) {
  constexpr int B = 128;
  constexpr int V = IN_BF16 ? 8 : 4;
  constexpr int LPR = B / V;
  constexpr int RPP = NT / LPR;
  constexpr int P = B / RPP;
  constexpr int NW = NT / ALTO_WARP;
  constexpr bool STAGE = TRANS || TRANS_COPY;
  __shared__ float s_part[BC == 1 ? RPP * B : NW];
  __shared__ float s_d[BC == 1 ? B : 1];
  const int tc = threadIdx.x % LPR, g = threadIdx.x / LPR;
  const alto_idx c0 = tx * B, c = c0 + tc * V, r0 = ty * B, sb = ty;
  const int n = cols - c >= V ? V : (cols > c ? (int)(cols - c) : 0);
  const bool full = BC == B || (n == V && cols % V == 0);
#define ALTO_T128_ROW_(p) (STAGE ? g * P + (p) : (p) * RPP + g)
  static_assert(!ROWS_RQ || ROWS_COPY != 0, "the re-quantization is of the row copy");
  if constexpr (ROWS_RQ) // the row copy first: the values quantized below are its dequantization
#pragma unroll
    for (int p = 0; p < P; p++)
      alto_t128_row_copy_<ELEM, LPR, ROWS_COPY, true>(w[p], codes2, scales2,
                                                      r0 + ALTO_T128_ROW_(p), c, cols, tx, rows,
                                                      tc);
  // 1. amax per column over this thread's rows
  float amax[V];
  if constexpr (IN_BF16) { // alto_amax_update on the 16-bit halves: bf16 widens by a shift
    alto_u32 m[4] = {0, 0, 0, 0};
#pragma unroll
    for (int p = 0; p < P; p++)
#pragma unroll
      for (int i = 0; i < 4; i++)
        m[i] = alto_max_u16x2_(m[i], w[p][i] & 0x7FFF7FFFu);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      amax[2 * i] = alto_f32_from_bits(m[i] << 16);
      amax[2 * i + 1] = alto_f32_from_bits(m[i] & 0xFFFF0000u);
    }
  } else {
#pragma unroll
    for (int j = 0; j < V; j++) {
      amax[j] = 0.0f;
#pragma unroll
      for (int p = 0; p < P; p++)
        amax[j] = alto_amax_update(amax[j], alto_raw_val_<false>(w[p], j));
    }
  }

  // the 1x128 copy (row g P + p is held by the LPR threads of g)
  if constexpr (ROWS_COPY != 0 && !ROWS_RQ)
#pragma unroll
    for (int p = 0; p < P; p++)
      alto_t128_row_copy_<ELEM, LPR, ROWS_COPY, false>(w[p], codes2, scales2,
                                                       r0 + ALTO_T128_ROW_(p), c, cols, tx, rows,
                                                       tc);

  // 2. block amax and scales
  float d[V];
  if constexpr (BC == 1) {
#pragma unroll
    for (int j = 0; j < V; j++)
      s_part[g * B + tc * V + j] = amax[j];
    __syncthreads();
    if (threadIdx.x < B) {
      float a = 0.0f;
#pragma unroll
      for (int k = 0; k < RPP; k++)
        a = alto_amax_update(a, s_part[k * B + threadIdx.x]);
      float dc = alto_fp8_block_scale(a, (alto_elem)ELEM);
      s_d[threadIdx.x] = dc;
      if (c0 + threadIdx.x < cols)
        ((float *)scales)[sb * cols + c0 + threadIdx.x] = dc;
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < V; j++)
      d[j] = s_d[tc * V + j];
  } else {
    float a = amax[0];
#pragma unroll
    for (int j = 1; j < V; j++)
      a = alto_amax_update(a, amax[j]);
#pragma unroll
    for (int m = 1; m < ALTO_WARP; m <<= 1)
      a = alto_amax_update(a, ALTO_SHFL_XOR(a, m, ALTO_WARP));
    if (threadIdx.x % ALTO_WARP == 0)
      s_part[threadIdx.x / ALTO_WARP] = a;
    __syncthreads();
    a = s_part[0];
#pragma unroll
    for (int k = 1; k < NW; k++)
      a = alto_amax_update(a, s_part[k]);
    const float db = alto_fp8_block_scale(a, (alto_elem)ELEM);
    if (threadIdx.x == 0) {
      ((float *)scales)[sb * (cols / B) + tx] = db;
      if (TRANS_COPY)
        scales2[tx * (rows / B) + sb] = db;
    }
#pragma unroll
    for (int j = 0; j < V; j++)
      d[j] = db;
  }
  if (n == 0 && !STAGE) // (STAGE: every thread takes part in the staging; tail columns are zeros)
    return;

  // 3. codes: x / d (the fp32 division, through quant_codes.cuh's alto_block_q_: a reciprocal per
  // column and two FMAs per element, or fp64 for a column whose d is out of the fast range) cast
  // to FP8, V bytes per row
  alto_block_enc be[V];
#pragma unroll
  for (int j = 0; j < V; j++)
    be[j] = alto_block_enc_make<ALTO_QK_FP8_BLOCK>(alto_f32_bits(d[j]), 1.0f);
  alto_u32 cw[P][V / 4]; // row p: V code bytes, little-endian
#pragma unroll
  for (int p = 0; p < P; p++)
#pragma unroll
    for (int j = 0; j < V; j += 4) {
      float q[4];
#pragma unroll
      for (int i = 0; i < 4; i++)
        q[i] = alto_block_q_<ALTO_QK_FP8_BLOCK>(alto_raw_val_<IN_BF16>(w[p], j + i), be[j + i]);
      cw[p][j / 4] = alto_fp8x2_<ELEM>(q[0], q[1]) | (alto_fp8x2_<ELEM>(q[2], q[3]) << 16);
    }
  if constexpr (!TRANS) { // the row-major codes (TRANS_COPY: 2-D blocks, all V columns exist)
#pragma unroll
    for (int p = 0; p < P; p++) {
      alto_u8 *o = codes + (r0 + ALTO_T128_ROW_(p)) * cols + c;
      if (full) {
        if constexpr (V == 8)
          *(uint2 *)o = uint2{cw[p][0], cw[p][1]};
        else
          *(alto_u32 *)o = cw[p][0];
      } else {
#pragma unroll
        for (int j = 0; j < V; j++)
          if (j < n)
            o[j] = (alto_u8)(cw[p][j / 4] >> (8 * (j % 4)));
      }
    }
  }
  if constexpr (STAGE) { // the transposed codes
    constexpr int LDS = B + 16; // bytes per staged column: 16-byte aligned rows of the readout
    __shared__ __align__(16) alto_u8 s_t[B * LDS];
    // column tc V + j: rows g P .. g P + 7 as two words, at 16-byte chunk (g / 2) of the column,
    // swizzled by the column's group of 8 (so a warp's columns spread over the banks)
#pragma unroll
    for (int j = 0; j < V; j += 4) {
      alto_u32 lo[4], hi[4];
      const alto_u32 a0[4] = {cw[0][j / 4], cw[1][j / 4], cw[2][j / 4], cw[3][j / 4]};
      const alto_u32 a1[4] = {cw[4][j / 4], cw[5][j / 4], cw[6][j / 4], cw[7][j / 4]};
      alto_t128_tr4_(a0, lo);
      alto_t128_tr4_(a1, hi);
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int col = tc * V + j + i;
        const int chunk = (g / 2) ^ ((col / 8) & 7);
        *(uint2 *)(s_t + col * LDS + chunk * 16 + (g & 1) * 8) = uint2{lo[i], hi[i]};
      }
    }
    __syncthreads();
    #pragma unroll
    for (int k = 0; k < B * 8 / NT; k++) { // 8 chunks of 16 rows per column
      const int i = threadIdx.x + k * NT, col = i / 8, q = i % 8;
      if (c0 + col < cols) {
        const uint4 u = *(const uint4 *)(s_t + col * LDS + (q ^ ((col / 8) & 7)) * 16);
        *(uint4 *)((TRANS_COPY ? codes2 : codes) + (c0 + col) * rows + r0 + q * 16) = u;
      }
    }
  }
#undef ALTO_T128_ROW_
}

template <int ELEM, int BC, bool IN_BF16, int NT, bool TRANS = false, int DQ_ELEM = 0,
          bool DQ_SCALES_T = false, bool TRANS_COPY = false, int ROWS_COPY = 0, bool ADAMW = false,
          bool ROWS_RQ = false>
__device__ __forceinline__ void alto_quant_tile128(const void *__restrict__ x,
                                                   alto_u8 *__restrict__ codes,
                                                   void *__restrict__ scales, alto_idx cols,
                                                   const float *__restrict__ x_scales = nullptr,
                                                   alto_u8 *__restrict__ codes2 = nullptr,
                                                   float *__restrict__ scales2 = nullptr,
                                                   const float *__restrict__ opt_grad = nullptr,
                                                   float *__restrict__ opt_m = nullptr,
                                                   float *__restrict__ opt_v = nullptr,
                                                   alto_adamw_k opt_k = alto_adamw_k{}) {
  constexpr int B = 128;
  constexpr int V = IN_BF16 ? 8 : 4; // columns per thread: 16 bytes of a row
  constexpr int LPR = B / V;         // threads per tile row
  constexpr int RPP = NT / LPR;      // rows per pass of the CTA
  constexpr int P = B / RPP;         // rows per thread
  static_assert(BC == 1 || BC == B, "128x1 or 128x128 blocks");
  static_assert(NT % LPR == 0 && B % RPP == 0 && NT >= B, "the CTA covers whole tile rows");
  static_assert(!TRANS || (BC == 1 && P == 8 && V % 4 == 0), "transposed codes: 128x1, 8 rows");
  static_assert(!TRANS_COPY || (BC == B && !TRANS && P == 8 && V % 4 == 0),
                "a transposed copy: 128x128, 8 rows");
  static_assert(!ROWS_COPY || (TRANS && IN_BF16 && !DQ_ELEM), "a row copy: 128x1 transposed, bf16");
  static_assert(!ADAMW || (BC == B && !IN_BF16 && !DQ_ELEM), "AdamW: 128x128 blocks of fp32");
  constexpr bool STAGE = TRANS || TRANS_COPY; // the transposed codes go through shared memory
  // (step 2's shared memory, in alto_t128_quantize_: 128x1: amax partials [row group][column],
  // then the column scales; 128x128: one amax per warp)

  const int tc = threadIdx.x % LPR, g = threadIdx.x / LPR; // column group, row group
  const alto_idx c0 = (alto_idx)blockIdx.x * B; // first column of the tile
  const alto_idx c = c0 + tc * V;               // first column of this thread
  const alto_idx r0 = (alto_idx)blockIdx.y * B; // first row of the tile
  const int n = cols - c >= V ? V : (cols > c ? (int)(cols - c) : 0); // columns that exist here
  // 16-byte accesses: all V columns exist and rows are 16-byte aligned (always for 2-D blocks)
  const bool full = BC == B || (n == V && cols % V == 0);

#define ALTO_T128_ROW_(p) (STAGE ? g * P + (p) : (p) * RPP + g) // the thread's row p in the tile
  static_assert(!DQ_ELEM || (IN_BF16 && BC == 1), "re-quantization: bf16 values, 128x1 blocks");
  alto_u32 w[P][4]; // rows r0 + ALTO_T128_ROW_(p), p < P
  if constexpr (DQ_ELEM != 0) { // the dequantized bf16 values of V codes per row (cols % 128 == 0)
    const alto_idx rows = (alto_idx)gridDim.y * B;
#pragma unroll
    for (int p = 0; p < P; p++) {
      const alto_idx r = r0 + ALTO_T128_ROW_(p);
      const float d = x_scales[DQ_SCALES_T ? (alto_idx)blockIdx.x * rows + r
                                           : r * (cols / B) + blockIdx.x];
      const uint2 u = *(const uint2 *)((const alto_u8 *)x + r * cols + c);
#pragma unroll
      for (int q = 0; q < 4; q++) {
        float v0, v1;
        alto_fp8x2_f32_<DQ_ELEM>((q < 2 ? u.x : u.y) >> (16 * (q % 2)), v0, v1);
        w[p][q] = alto_dq_bf16x2_(alto_dq_apply_<ALTO_DQ_FP8_BLOCK>(v0, d),
                                  alto_dq_apply_<ALTO_DQ_FP8_BLOCK>(v1, d));
      }
    }
  } else if constexpr (ADAMW) { // the step's new values (2-D blocks: all V = 4 columns exist)
#pragma unroll
    for (int p = 0; p < P; p++)
      alto_adamw_elem4((float *)x, opt_grad, opt_m, opt_v, (r0 + ALTO_T128_ROW_(p)) * cols + c,
                       opt_k.k, w[p]);
  } else if (full) {
#pragma unroll
    for (int p = 0; p < P; p++)
      alto_t128_load_<IN_BF16, true>(x, (r0 + ALTO_T128_ROW_(p)) * cols + c, V, w[p]);
  } else {
#pragma unroll
    for (int p = 0; p < P; p++)
      alto_t128_load_<IN_BF16, false>(x, (r0 + ALTO_T128_ROW_(p)) * cols + c, n, w[p]);
  }

  alto_t128_quantize_<ELEM, BC, IN_BF16, NT, TRANS, TRANS_COPY, ROWS_COPY, ROWS_RQ>(
      w, codes, scales, cols, codes2, scales2, (alto_idx)blockIdx.x, (alto_idx)blockIdx.y,
      (alto_idx)gridDim.y * B);
#undef ALTO_T128_ROW_
}

#endif
