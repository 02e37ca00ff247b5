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
//            any rows / cols (tails are guarded element by element).
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

// E: the element type (alto_u8, alto_u16, alto_u32); NT threads per CTA.
template <typename E, int TILE, int NT>
__device__ __forceinline__ void alto_transpose(E *out, const E *x, alto_i64 rows, alto_i64 cols) {
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
