// Conversions and layout changes, bit for bit (no arithmetic but the bf16 rounding):
//
// cast       out (N,) = x (N,) in another dtype, grid-stride over 8-element vectors (16 or 32
//            bytes, then a scalar tail): fp32 -> bf16 rounds to nearest even
//            (alto_f32_to_bf16, the CPU's rounding: a NaN stays a quiet NaN with its sign and
//            payload top bits), bf16 -> fp32 widens exactly, the same dtype copies the bits.
//            The fp32 master weights become the bf16 operands of the GEMMs this way.
// transpose  out (cols, rows) = x (rows, cols)^T for 1-, 2- or 4-byte elements (FP8 codes, bf16,
//            fp32 scales): cuBLASLt's FP8 GEMM wants K-major operands. One CTA per TILE x TILE
//            tile (grid-stride over the tiles, row-major order of the tile grid), staged through
//            shared memory so that both the reads of x and the writes of out run along rows;
//            any rows / cols (tails are guarded element by element). Bytes in 64 x 64 tiles
//            (multiples of 64, 16-byte aligned: the FP8 GEMMs' operands) move as words and 16-byte
//            vectors (alto_transpose_u8_64).
#ifndef ALTO_OPS_CONVERT_CUH
#define ALTO_OPS_CONVERT_CUH

#include "ops/ops_common.cuh"

template <bool IN_BF16, bool OUT_BF16>
__device__ __forceinline__ void alto_cast(void *out, const void *x, alto_i64 n) {
  const alto_idx nv = alto_ops_aligned16(out, x) ? n / 8 : 0;
  ALTO_OPS_VEC_LOOP_(v, nv) {
    if (IN_BF16 && OUT_BF16) {
      ((uint4 *)out)[v] = ((const uint4 *)x)[v];
    } else if (!IN_BF16 && !OUT_BF16) {
      const uint4 p = ((const uint4 *)x)[2 * v], q = ((const uint4 *)x)[2 * v + 1];
      ((uint4 *)out)[2 * v] = p;
      ((uint4 *)out)[2 * v + 1] = q;
    } else {
      float f[8];
      alto_ops_load8<IN_BF16>(x, v * 8, f);
      alto_ops_store8<OUT_BF16>(out, v * 8, f);
    }
  }
  ALTO_OPS_TAIL_LOOP_(i, nv, n) {
    alto_cast1<IN_BF16, OUT_BF16>(out, i, x, i);
  }
}

// The 4 x 4 byte block of words w[0..3] (word i = row i, byte j = column j) transposed in place.
__device__ __forceinline__ void alto_transpose4x4_bytes(alto_u32 (&w)[4]) {
  alto_u32 o[4];
#pragma unroll
  for (int j = 0; j < 4; j++)
    o[j] = ((w[0] >> (8 * j)) & 0xFFu) | (((w[1] >> (8 * j)) & 0xFFu) << 8) |
           (((w[2] >> (8 * j)) & 0xFFu) << 16) | (((w[3] >> (8 * j)) & 0xFFu) << 24);
#pragma unroll
  for (int j = 0; j < 4; j++)
    w[j] = o[j];
}

// The byte transpose's fast case (rows and cols multiples of 64, both 16-byte aligned): per 64 x
// 64 tile, 256 threads each read 16 bytes of a row, transpose one 4 x 4 block in registers between
// two shared tiles (rows of 17 words: the column accesses spread over the banks), and write 16
// bytes of an output row; words instead of bytes everywhere (the generic loop moves one byte per
// thread per instruction and runs at about a sixth of copy bandwidth).
__device__ __forceinline__ void alto_transpose_u8_64(alto_u8 *out, const alto_u8 *x, alto_i64 rows,
                                                     alto_i64 cols) {
  constexpr int SW = 17; // words per shared row (16 + 1)
  __shared__ alto_u32 sa[64 * SW], sb[64 * SW];
  const int t = threadIdx.x;
  const alto_i64 tiles_c = cols / 64, tiles = rows / 64 * tiles_c;
  for (alto_i64 tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const alto_i64 r0 = tile / tiles_c * 64, c0 = tile % tiles_c * 64;
    { // 16 bytes of row r, columns 16 s ..
      const int r = t >> 2, s = t & 3;
      const uint4 v = *(const uint4 *)(x + (r0 + r) * cols + c0 + 16 * s);
      alto_u32 *d = sa + r * SW + 4 * s;
      d[0] = v.x, d[1] = v.y, d[2] = v.z, d[3] = v.w;
    }
    __syncthreads();
    { // the 4 x 4 block (rows 4 br .., byte columns 4 bc ..) -> sb (rows 4 bc .., words br)
      const int br = t >> 4, bc = t & 15;
      alto_u32 w[4];
#pragma unroll
      for (int i = 0; i < 4; i++)
        w[i] = sa[(4 * br + i) * SW + bc];
      alto_transpose4x4_bytes(w);
#pragma unroll
      for (int j = 0; j < 4; j++)
        sb[(4 * bc + j) * SW + br] = w[j];
    }
    __syncthreads();
    { // 16 bytes of output row c (input column c0 + c), input rows 16 s ..
      const int c = t >> 2, s = t & 3;
      const alto_u32 *q = sb + c * SW + 4 * s;
      *(uint4 *)(out + (c0 + c) * rows + r0 + 16 * s) = make_uint4(q[0], q[1], q[2], q[3]);
    }
    // (the next tile's first writes go to sa, read before the second barrier above; sb is
    // rewritten only after the next first barrier, when every thread has stored its output)
  }
}

// E: the element type (alto_u8, alto_u16, alto_u32); NT threads per CTA.
template <typename E, int TILE, int NT>
__device__ __forceinline__ void alto_transpose(E *out, const E *x, alto_i64 rows, alto_i64 cols) {
  if constexpr (sizeof(E) == 1 && TILE == 64 && NT == 256) {
    if (rows % 64 == 0 && cols % 64 == 0 && ((alto_u64)out | (alto_u64)x) % 16 == 0) {
      alto_transpose_u8_64((alto_u8 *)out, (const alto_u8 *)x, rows, cols);
      return;
    }
  }
  /* A shared row of TILE + PAD elements is an odd number of 4-byte words (17 for 64 bytes, 33
   * for 32 words), so the column-wise reads of the second phase hit 32 different banks. */
  constexpr int PAD = 4 / (int)sizeof(E), S = TILE + PAD;
  static_assert((S * (int)sizeof(E)) % 4 == 0 && (S * (int)sizeof(E) / 4) % 2 == 1,
                "a shared row must be an odd number of 4-byte words");
  __shared__ E sh[TILE * S];
  const alto_i64 tiles_c = (cols + TILE - 1) / TILE, tiles = (rows + TILE - 1) / TILE * tiles_c;
  for (alto_i64 tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const alto_i64 r0 = tile / tiles_c * TILE, c0 = tile % tiles_c * TILE;
    const int nr = rows - r0 < TILE ? (int)(rows - r0) : TILE;
    const int nc = cols - c0 < TILE ? (int)(cols - c0) : TILE;
    /* sh[r][c] = x[r0 + r][c0 + c]: consecutive threads read consecutive columns of a row */
    for (int i = threadIdx.x; i < TILE * TILE; i += NT) {
      const int r = i / TILE, c = i % TILE;
      if (r < nr && c < nc)
        sh[r * S + c] = x[(r0 + r) * cols + c0 + c];
    }
    __syncthreads();
    /* out[c0 + c][r0 + r] = sh[r][c]: consecutive threads write consecutive columns of out */
    for (int i = threadIdx.x; i < TILE * TILE; i += NT) {
      const int c = i / TILE, r = i % TILE;
      if (r < nr && c < nc)
        out[(c0 + c) * rows + r0 + r] = sh[r * S + c];
    }
    __syncthreads(); /* the tile is read out before the next one overwrites it */
  }
}

#endif
