// The fused dual-output quantization of a Linear's activation (NUMERICS.md 7): X is read ONCE and
// written twice:
//   fprop copy   1x32 blocks along K (the last axis), codes [rows, cols/2] (FP4) or [rows, cols]
//   wgrad copy   R X (RHT of every 32-row chunk), 32x1 blocks along M, codes packed along M
// (the same kernel serves dY: 1x32 along N for dgrad and R dY 32x1 along M for wgrad, with SR).
// Bits equal the two separate kernels (quant_rows.cuh, quant_tile.cuh), which equal the CPU.
//
// A CTA stages a 32 x (NT*CPT) tile of X in shared memory with 16-byte loads, quantizes its rows
// from there (4 lanes per 32-element block), then transforms the columns in place and quantizes
// them (quant_tile.cuh's path with the tile preloaded).
#ifndef ALTO_QUANT_DUAL_CUH
#define ALTO_QUANT_DUAL_CUH

#include "quant/quant_tile.cuh"

template <int KIND, int ELEM, bool IN_BF16, int RULE, bool SR, int RHT_B, int CPT, int NT>
__device__ __forceinline__ void
alto_quant_dual(const void *__restrict__ x, alto_u8 *__restrict__ codes_f,
                void *__restrict__ scales_f, alto_u8 *__restrict__ codes_w,
                void *__restrict__ scales_w, const float *__restrict__ outer_ptr,
                const float *__restrict__ rht_sign, const int *__restrict__ rht_perm,
                alto_idx rows, alto_idx cols, alto_u64 seed, alto_u64 stream_f,
                alto_u64 stream_w) {
  constexpr int B = 32, NC = NT * CPT, T = RHT_B > B ? RHT_B : B;
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  typedef typename alto_smem_type_<IN_BF16>::type smem_t;
  extern __shared__ unsigned char alto_smem_raw_[];
  smem_t *tile = (smem_t *)alto_smem_raw_; // [T][NC]
  const alto_idx c0 = (alto_idx)blockIdx.x * NC, r0 = (alto_idx)blockIdx.y * T;
  const int ncols = (int)(cols - c0 < NC ? cols - c0 : NC); // a multiple of 32 (cols % 32 == 0)
  float outer = (KIND == ALTO_QK_NVFP4 && outer_ptr) ? *outer_ptr : 1.0f;

  // 1. stage the tile (16-byte loads, consecutive threads on consecutive chunks)
  alto_tile_stage_<T, NC, NT, IN_BF16>(x, tile, r0, c0, cols);
  __syncthreads();

  // 2. fprop copy: 1x32 blocks along the row, 8 elements per lane, 4 lanes per block
  for (int k = threadIdx.x; k < T * (NC / 8); k += NT) {
    int r = k / (NC / 8), cc = (k % (NC / 8)) * 8;
    bool active = cc < ncols;
    float v[8];
#pragma unroll
    for (int i = 0; i < 8; i++)
      v[i] = active ? alto_smem_to_f32_<IN_BF16>(tile[r * NC + cc + i]) : 0.0f;
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; i++)
      amax = alto_amax_update(amax, v[i]);
#pragma unroll
    for (int m = 1; m < B / 8; m <<= 1)
      amax = alto_amax_update(amax, ALTO_SHFL_XOR(amax, m, ALTO_WARP));
    if (!active)
      continue;
    alto_idx e0 = (r0 + r) * cols + c0 + cc;
    alto_u32 s = alto_block_scale<KIND, ELEM, RULE>(amax, outer);
    const alto_block_enc be = alto_block_enc_make<KIND>(s, outer);
    alto_u32 u[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (SR) {
      alto_philox4 a = alto_philox_words4(seed, stream_f, e0),
                   b = alto_philox_words4(seed, stream_f, e0 + 4);
#pragma unroll
      for (int i = 0; i < 4; i++)
        u[i] = a.v[i], u[4 + i] = b.v[i];
    }
    alto_u8 cd[8];
#pragma unroll
    for (int i = 0; i < 8; i++)
      cd[i] = alto_block_encode<KIND, ELEM, SR>(v[i], be, u[i]);
    if (FP4) {
      alto_u32 w = 0;
#pragma unroll
      for (int i = 0; i < 4; i++)
        w |= (alto_u32)(cd[2 * i] | (cd[2 * i + 1] << 4)) << (8 * i);
      *(alto_u32 *)(codes_f + e0 / 2) = w;
    } else {
      uint2 w;
      w.x = (alto_u32)cd[0] | ((alto_u32)cd[1] << 8) | ((alto_u32)cd[2] << 16) | ((alto_u32)cd[3] << 24);
      w.y = (alto_u32)cd[4] | ((alto_u32)cd[5] << 8) | ((alto_u32)cd[6] << 16) | ((alto_u32)cd[7] << 24);
      *(uint2 *)(codes_f + e0) = w;
    }
    if ((threadIdx.x & 3) == 0)
      ((alto_u8 *)scales_f)[e0 / B] = (alto_u8)s;
  }
  __syncthreads(); // the RHT below rewrites the tile in place

  // 3. wgrad copy: RHT of each column chunk, then 32x1 blocks along M, packed along M
  alto_quant_tile<KIND, ELEM, B, 1, RHT_B, IN_BF16, RULE, SR, true, CPT, NT, true>(
      x, codes_w, scales_w, outer_ptr, rht_sign, rht_perm, rows, cols, seed, stream_w);
}

#endif
