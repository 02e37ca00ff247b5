// Quantization with blocks that run along the rows: BR x 1 column blocks ("32x1 along M"), with an
// optional randomized Hadamard transform of each b-row chunk first (the wgrad operand R X), and
// BR x BR 2-D blocks. MX, NVFP4 and blockwise FP8, RNE or stochastic rounding.
//
// x      [rows, cols] bf16 or fp32 (3-D [E, R, C] = [E*R, C]; R % T == 0 keeps blocks and RHT
//        chunks inside one matrix); cols % (2 * CPT) == 0 for FP4 column pairs, cols % BC == 0
// codes  FP4 packed along axis -2 (PACK_ROWS): [rows/2, cols], byte = rows 2i (low), 2i+1 (high);
//        FP4 packed along axis -1: [rows, cols/2]; FP8: [rows, cols]
// scales column blocks [rows/BR, cols]; 2-D blocks [rows/BR, cols/BC]; E8M0/E4M3 bytes or fp32
// rht_sign, rht_perm: b floats / ints from alto_rht_make (host), used when RHT_B > 0
//
// A CTA of NT threads covers T rows x NC = NT*CPT columns; each thread owns CPT adjacent columns.
// Without RHT the thread reads its columns twice from global memory (amax, then encode: the second
// read hits L1/L2). With RHT the tile is staged in shared memory, each thread transforms its own
// columns in registers and writes them back rounded to the input dtype, as the CPU reference does.
#ifndef ALTO_QUANT_TILE_CUH
#define ALTO_QUANT_TILE_CUH

#include "quant/quant_rows.cuh"

template <bool BF16, int N>
__device__ __forceinline__ void alto_load_n(const void *x, alto_idx e, float *v) {
#pragma unroll
  for (int i = 0; i < N; i++)
    v[i] = alto_load1<BF16>(x, e + i);
}

// CPT adjacent values of one tile row (one 4-, 8- or 16-byte shared-memory load).
template <bool BF16, int CPT>
__device__ __forceinline__ void alto_smem_row_(const typename alto_smem_type_<BF16>::type *p,
                                               float *v) {
  if constexpr (BF16 && CPT == 2) {
    alto_u32 w = *(const alto_u32 *)p;
    v[0] = alto_bf16_to_f32((alto_u16)(w & 0xFFFFu)), v[1] = alto_bf16_to_f32((alto_u16)(w >> 16));
  } else if constexpr (BF16 && CPT == 4) {
    uint2 w = *(const uint2 *)p;
    v[0] = alto_bf16_to_f32((alto_u16)(w.x & 0xFFFFu)), v[1] = alto_bf16_to_f32((alto_u16)(w.x >> 16));
    v[2] = alto_bf16_to_f32((alto_u16)(w.y & 0xFFFFu)), v[3] = alto_bf16_to_f32((alto_u16)(w.y >> 16));
  } else if constexpr (!BF16 && CPT == 2) {
    float2 w = *(const float2 *)p;
    v[0] = w.x, v[1] = w.y;
  } else {
    float4 w = *(const float4 *)p;
    v[0] = w.x, v[1] = w.y, v[2] = w.z, v[3] = w.w;
  }
}

// Stages rows [r0, r0+T) x columns [c0, c0+NC) of x into the shared tile [T][NC] with 16-byte loads
// (consecutive threads on consecutive chunks), or element loads when a row is not 16-byte aligned.
template <int T, int NC, int NT, bool IN_BF16>
__device__ __forceinline__ void alto_tile_stage_(const void *__restrict__ x,
                                                 typename alto_smem_type_<IN_BF16>::type *tile,
                                                 alto_idx r0, alto_idx c0, alto_idx cols) {
  typedef typename alto_smem_type_<IN_BF16>::type smem_t;
  constexpr int VEC = 16 / (int)sizeof(smem_t);
  const alto_idx ncols = cols - c0 < NC ? cols - c0 : NC;
  if (cols % VEC == 0) {
    for (int k = threadIdx.x; k < T * (NC / VEC); k += NT) {
      int r = k / (NC / VEC), cc = (k % (NC / VEC)) * VEC;
      if (cc < ncols)
        *(uint4 *)(tile + r * NC + cc) =
            *(const uint4 *)((const smem_t *)x + (r0 + r) * cols + c0 + cc);
    }
  } else {
    for (int k = threadIdx.x; k < T * NC; k += NT) {
      int r = k / NC, cc = k % NC;
      if (cc < ncols)
        tile[r * NC + cc] = ((const smem_t *)x)[(r0 + r) * cols + c0 + cc];
    }
  }
}

// Stages rows [r0, r0+T) x columns [c, c+CPT) of x in the shared tile (this thread's columns) and
// applies the RHT to every b-row chunk of each column in place, rounded to the input dtype:
// the same steps as alto_rht_apply (templates/common/alto_numerics.h), with the gather and the
// scatter done on shared memory.
template <int RHT_B, int T, bool IN_BF16, int CPT, int NT, bool PRELOADED = false>
__device__ __forceinline__ void
alto_tile_rht_(const void *__restrict__ x, typename alto_smem_type_<IN_BF16>::type *tile,
               float *s_sign, int *s_perm, const float *__restrict__ rht_sign,
               const int *__restrict__ rht_perm, alto_idx r0, alto_idx c, alto_idx cols,
               bool active) {
  typedef typename alto_smem_type_<IN_BF16>::type smem_t;
  // s_sign holds sign * 1/sqrt(b) (exact: a sign flip of the fp32 constant), so one multiply
  // gives the same bits as (t * sign) * norm; s_perm holds the row offsets perm * (NT * CPT).
  for (int i = threadIdx.x; i < RHT_B; i += NT) {
    s_sign[i] = ALTO_FMUL(rht_sign[i], alto_rht_norm(RHT_B));
    s_perm[i] = rht_perm[i] * NT * CPT;
  }
  __syncthreads();
  if (!active)
    return;
  if (!PRELOADED)
    for (int r = 0; r < T; r++) {
      float v[CPT];
      alto_load_n<IN_BF16, CPT>(x, (r0 + r) * cols + c, v);
#pragma unroll
      for (int j = 0; j < CPT; j++)
        tile[r * NT * CPT + threadIdx.x * CPT + j] = alto_smem_from_f32_<IN_BF16>(v[j]);
    }
  // Not unrolled: the body is a whole unrolled RHT over shared memory (hiprtc warns that a 256-row
  // RHT, unrolled CPT times, is too large to unroll).
  for (int j = 0; j < CPT; j++) {
    for (int k = 0; k < T; k += RHT_B) {
      smem_t *col = tile + k * NT * CPT + threadIdx.x * CPT + j;
      float t[RHT_B > 0 ? RHT_B : 1];
#pragma unroll
      for (int i = 0; i < RHT_B; i++) // P^T: gather
        t[i] = alto_smem_to_f32_<IN_BF16>(col[s_perm[i]]);
      // H: butterflies in stage order h = 1, 2, 4, ...; flat loops with constant trip counts so
      // t[] stays in registers (nested variable-bound loops left it in local memory).
#pragma unroll
      for (int h = 1; h < RHT_B; h <<= 1)
#pragma unroll
        for (int n = 0; n < RHT_B / 2; n++) {
          const int q = (n / h) * 2 * h + (n % h);
          float a = t[q], b = t[q + h];
          t[q] = ALTO_FADD(a, b);
          t[q + h] = ALTO_FSUB(a, b);
        }
#pragma unroll
      for (int i = 0; i < RHT_B; i++) // D and 1/sqrt(b), then P (scatter), rounded
        col[s_perm[i]] =
            alto_smem_from_f32_<IN_BF16>(alto_f32_canon(ALTO_FMUL(t[i], s_sign[i])));
    }
  }
}

// The RHT alone (x -> y in x's dtype), for the cases that need the transformed tensor before the
// quantization can start (NVFP4's two-level scale needs the amax of R x).
template <int RHT_B, bool IN_BF16, int CPT, int NT>
__device__ __forceinline__ void alto_rht_only(const void *__restrict__ x, void *__restrict__ y,
                                              const float *__restrict__ rht_sign,
                                              const int *__restrict__ rht_perm, alto_idx cols) {
  typedef typename alto_smem_type_<IN_BF16>::type smem_t;
  extern __shared__ unsigned char alto_smem_raw_[];
  smem_t *tile = (smem_t *)alto_smem_raw_;
  float *s_sign = (float *)(tile + RHT_B * NT * CPT);
  int *s_perm = (int *)(s_sign + RHT_B);
  const alto_idx c = ((alto_idx)blockIdx.x * NT + threadIdx.x) * CPT;
  const alto_idx r0 = (alto_idx)blockIdx.y * RHT_B;
  const bool active = c < cols;
  alto_tile_stage_<RHT_B, NT * CPT, NT, IN_BF16>(x, tile, r0, (alto_idx)blockIdx.x * NT * CPT, cols);
  __syncthreads();
  alto_tile_rht_<RHT_B, RHT_B, IN_BF16, CPT, NT, true>(x, tile, s_sign, s_perm, rht_sign, rht_perm,
                                                        r0, c, cols, active);
  if (!active)
    return;
  for (int r = 0; r < RHT_B; r++)
#pragma unroll
    for (int j = 0; j < CPT; j++)
      ((smem_t *)y)[(r0 + r) * cols + c + j] = tile[r * NT * CPT + threadIdx.x * CPT + j];
}

template <int KIND, int ELEM, int BR, int BC, int RHT_B, bool IN_BF16, int RULE, bool SR,
          bool PACK_ROWS, int CPT, int NT, bool PRELOADED = false>
__device__ __forceinline__ void alto_quant_tile(const void *__restrict__ x,
                                                alto_u8 *__restrict__ codes,
                                                void *__restrict__ scales,
                                                const float *__restrict__ outer_ptr,
                                                const float *__restrict__ rht_sign,
                                                const int *__restrict__ rht_perm, alto_idx rows,
                                                alto_idx cols, alto_u64 seed, alto_u64 stream) {
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  constexpr int T = RHT_B > BR ? RHT_B : BR; // rows of the tile
  constexpr int GL = BC > CPT ? BC / CPT : 1; // lanes sharing a 2-D block (1 for column blocks)
  // Tiles up to 64 rows (and every RHT tile) are staged in shared memory with 16-byte loads; taller
  // ones are read twice from global memory (amax, then encode: L2 hits). Blockwise FP8's 128x1 and
  // 128x128 blocks do not come here: quant_tile128.cuh.
  constexpr bool STAGE = RHT_B > 0 || T <= 64;
  typedef typename alto_smem_type_<IN_BF16>::type smem_t;
  extern __shared__ unsigned char alto_smem_raw_[];
  smem_t *tile = (smem_t *)alto_smem_raw_; // [T][NT*CPT] when STAGE
  float *s_sign = (float *)(tile + (STAGE ? T * NT * CPT : 0));
  int *s_perm = (int *)(s_sign + RHT_B);

  const alto_idx c = ((alto_idx)blockIdx.x * NT + threadIdx.x) * CPT; // first column of this thread
  const alto_idx r0 = (alto_idx)blockIdx.y * T;
  const bool active = c < cols;
  float outer = (KIND == ALTO_QK_NVFP4 && outer_ptr) ? *outer_ptr : 1.0f;

  if constexpr (STAGE) {
    if (!PRELOADED) {
      alto_tile_stage_<T, NT * CPT, NT, IN_BF16>(x, tile, r0, (alto_idx)blockIdx.x * NT * CPT,
                                                 cols);
      __syncthreads();
    }
  }
  if constexpr (RHT_B > 0)
    alto_tile_rht_<RHT_B, T, IN_BF16, CPT, NT, true>(x, tile, s_sign, s_perm, rht_sign, rht_perm,
                                                     r0, c, cols, active);

  // The CPT values of row r (tile-relative), columns c .. c+CPT-1.
#define ALTO_TILE_ROW_(r, v)                                                                      \
  do {                                                                                            \
    if constexpr (STAGE)                                                                          \
      alto_smem_row_<IN_BF16, CPT>(tile + (r) * NT * CPT + threadIdx.x * CPT, v);                 \
    else                                                                                          \
      alto_load_n<IN_BF16, CPT>(x, (r0 + (r)) * cols + c, v);                                     \
  } while (0)

  for (int rb = 0; rb < T; rb += BR) {
    float amax[CPT];
#pragma unroll
    for (int j = 0; j < CPT; j++)
      amax[j] = 0.0f;
    if (active)
      for (int r = rb; r < rb + BR; r++) {
        float v[CPT];
        ALTO_TILE_ROW_(r, v);
#pragma unroll
        for (int j = 0; j < CPT; j++)
          amax[j] = alto_amax_update(amax[j], v[j]);
      }
    alto_u32 s[CPT];
    if (GL > 1) { // 2-D blocks: one amax over the CPT columns and the GL lanes of the block
      float a = amax[0];
#pragma unroll
      for (int j = 1; j < CPT; j++)
        a = alto_amax_update(a, amax[j]);
#pragma unroll
      for (int m = 1; m < GL; m <<= 1)
        a = alto_amax_update(a, ALTO_SHFL_XOR(a, m, ALTO_WARP));
#pragma unroll
      for (int j = 0; j < CPT; j++)
        s[j] = alto_block_scale<KIND, ELEM, RULE>(a, outer);
    } else {
#pragma unroll
      for (int j = 0; j < CPT; j++)
        s[j] = alto_block_scale<KIND, ELEM, RULE>(amax[j], outer);
    }
    if (!active)
      continue;
    // scales
    const alto_idx sb = (r0 + rb) / BR; // block row
    if (GL > 1) {
      if ((threadIdx.x % GL) == 0) {
        alto_idx si = sb * (cols / BC) + c / BC;
        if (KIND == ALTO_QK_FP8_BLOCK)
          ((alto_u32 *)scales)[si] = s[0];
        else
          ((alto_u8 *)scales)[si] = (alto_u8)s[0];
      }
    } else {
#pragma unroll
      for (int j = 0; j < CPT; j++) {
        if (KIND == ALTO_QK_FP8_BLOCK)
          ((alto_u32 *)scales)[sb * cols + c + j] = s[j];
        else
          ((alto_u8 *)scales)[sb * cols + c + j] = (alto_u8)s[j];
      }
    }
    // codes
    alto_block_enc be[CPT];
#pragma unroll
    for (int j = 0; j < CPT; j++)
      be[j] = alto_block_enc_make<KIND>(s[j], outer);
    for (int r = rb; r < rb + BR; r += (FP4 && PACK_ROWS) ? 2 : 1) {
      const alto_idx gr = r0 + r;
      alto_u8 cd[2][CPT];
#pragma unroll
      for (int p = 0; p < ((FP4 && PACK_ROWS) ? 2 : 1); p++) {
        alto_u32 u[CPT];
#pragma unroll
        for (int j = 0; j < CPT; j++)
          u[j] = 0;
        if (SR) { // element index (gr + p) * cols + c + j: 4 columns per Philox call (cols % 4 == 0)
          static_assert(!SR || CPT % 4 == 0, "SR tiles own 4 columns per thread");
#pragma unroll
          for (int j = 0; j < CPT; j += 4) {
            alto_philox4 w = alto_philox_words4(seed, stream, (gr + p) * cols + c + j);
#pragma unroll
            for (int q = 0; q < 4; q++)
              u[j + q] = w.v[q];
          }
        }
        float v[CPT];
        ALTO_TILE_ROW_(r + p, v);
#pragma unroll
        for (int j = 0; j < CPT; j++)
          cd[p][j] = alto_block_encode<KIND, ELEM, SR>(v[j], be[j], u[j]);
      }
      if (FP4 && PACK_ROWS) {
#pragma unroll
        for (int j = 0; j < CPT; j++)
          codes[(gr / 2) * cols + c + j] = (alto_u8)(cd[0][j] | (cd[1][j] << 4));
      } else if (FP4) {
#pragma unroll
        for (int j = 0; j < CPT; j += 2)
          codes[gr * (cols / 2) + (c + j) / 2] = (alto_u8)(cd[0][j] | (cd[0][j + 1] << 4));
      } else {
#pragma unroll
        for (int j = 0; j < CPT; j++)
          codes[gr * cols + c + j] = cd[0][j];
      }
    }
  }
#undef ALTO_TILE_ROW_
}

#endif
