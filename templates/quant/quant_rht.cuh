// The randomized Hadamard transform of b-row chunks (b = 16 or 32) fused into column quantization,
// in registers: the wgrad operand R X of every MXFP4 / NVFP4 training step.
//
//   alto_quant_rht_cols  Bx1 blocks along the rows (B = 16 or 32, b <= B) of R x: MX or NVFP4, RNE
//                        or SR; codes FP4 packed along the rows [rows/2, cols] or FP8 [rows, cols],
//                        scales [rows/B, cols] (the layouts of quant_cols.cuh)
//   alto_quant_dual_rht  the dual-output kernel (quant_dual.cuh's contract) with b = 32: x along K in
//                        1x32 blocks, and R x in 32x1 blocks along M, x read once
//   alto_rht_cols_only   y = R x in x's dtype (NVFP4's two-level scale needs the amax of R x first)
//
// A CTA of NT threads covers T = B rows x TW = 2 NT columns. Phase A: each thread owns 2 adjacent
// columns over all T rows and transforms them in registers: it loads row perm[i] of every chunk
// into register slot i (the gather P^T is the load's address: 4-byte loads of bf16 pairs, 8-byte of
// fp32 pairs, coalesced across the warp), runs the butterflies (H) on fp32 values in stage order,
// multiplies by sign[i] / sqrt(b) (D), rounds to the input dtype (bf16 pairs: one cvt.rn.bf16x2),
// takes each column's amax (a block is whole in the thread: no reduction), derives the two scales
// and block constants, and writes the rounded values to row perm[i] of a shared tile (the scatter P).
// Phase B: each thread reads 16 bytes of P rows of the tile (natural row order) and encodes them as
// quant_cols.cuh's step 3 does (alto_cols_codes_: pairs, bf16x2 MX E2M1, masks, wide stores; SR
// words of the elements' natural indices).
//
// Bits equal the CPU reference (alto_rht_apply then alto_cpu_quantize on R x rounded to the input
// dtype): the same fp32 operations on the same operands in the same order per element (a butterfly
// stage's outputs do not depend on the order its pairs are computed in), the same order-free amax
// and scale and element functions. One difference, invisible in the outputs: cvt.rn.bf16x2 writes
// the canonical bf16 NaN where alto_f32_to_bf16 keeps the payload; a NaN only makes its block NaN
// (scale 0xFF / 0x7F, codes 0) whatever its payload. alto_rht_cols_only, whose output is R x
// itself, writes alto_f32_to_bf16's NaN.
//
// The generic path (quant_tile.cuh: the tile staged in shared memory, the transform gathered and
// scattered element by element in shared memory, codes written byte by byte) ran at 38% of copy
// bandwidth on the H100 for MXFP4 32x1 RHT32 (bf16), the dual-output kernel at 31%.
#ifndef ALTO_QUANT_RHT_CUH
#define ALTO_QUANT_RHT_CUH

#include "quant/quant_cols.cuh"
#include "quant/quant_rows.cuh"

// ---- pieces -----------------------------------------------------------------------------------------
// The tables of a tile of T rows (T / RHT_B chunks of one b-point transform): for slot j (row
// r_j = (j / b) b + perm[j % b] of the tile) the byte offsets r_j * stride of the source and
// r_j * dstride of the destination, and sign[i] / sqrt(b) (a sign flip of the fp32 constant, so one
// multiply gives the bits of (t * sign) * norm).
template <int RHT_B, int T> struct alto_rht_tab_ {
  alto_u32 off[T];
  alto_u32 doff[T];
  float sn[RHT_B];
};
template <int RHT_B, int T, int NT>
__device__ __forceinline__ void alto_rht_tab_load_(alto_rht_tab_<RHT_B, T> &t,
                                                   const float *__restrict__ sign,
                                                   const int *__restrict__ perm, alto_u32 stride,
                                                   alto_u32 dstride) {
  static_assert(NT >= T, "one entry per thread");
  const int j = threadIdx.x;
  if (j < T) {
    const alto_u32 r = (alto_u32)((j / RHT_B) * RHT_B + perm[j % RHT_B]);
    t.off[j] = r * stride;
    t.doff[j] = r * dstride;
    if (j < RHT_B)
      t.sn[j] = ALTO_FMUL(sign[j], alto_rht_norm(RHT_B));
  }
}

// 16 bytes from global to shared memory (cp.async on sm_80+: no register staging).
__device__ __forceinline__ void alto_cp16_(void *dst, const void *src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(src) : "memory");
#else
  *(uint4 *)dst = *(const uint4 *)src;
#endif
}
__device__ __forceinline__ void alto_cp_wait_() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

// Two fp32 values rounded to bf16 (RNE), lo in the low half. EXACT_NAN: a NaN becomes the
// canonical fp32 NaN first (alto_f32_canon, as alto_rht_apply writes it) rounded by
// alto_f32_to_bf16 (0x7FC0); else the canonical NaN of cvt.rn.bf16x2 (0x7FFF). The same bits for
// every non-NaN value (round to nearest even, overflow to Inf, subnormals kept).
template <bool EXACT_NAN>
__device__ __forceinline__ alto_u32 alto_bf16x2_rn_(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  alto_u32 w;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo));
  if (EXACT_NAN && (lo != lo || hi != hi))
    w = (alto_u32)alto_f32_to_bf16(alto_f32_canon(lo)) |
        ((alto_u32)alto_f32_to_bf16(alto_f32_canon(hi)) << 16);
  return w;
#else
  if (EXACT_NAN)
    lo = alto_f32_canon(lo), hi = alto_f32_canon(hi);
  return (alto_u32)alto_f32_to_bf16(lo) | ((alto_u32)alto_f32_to_bf16(hi) << 16);
#endif
}

// The butterflies of an N-point Walsh-Hadamard transform in alto_rht_apply's stage order
// (h = 1, 2, 4, ...); flat loops with constant trip counts keep t[] in registers.
template <int N> __device__ __forceinline__ void alto_fwht_(float *t) {
#pragma unroll
  for (int h = 1; h < N; h <<= 1)
#pragma unroll
    for (int n = 0; n < N / 2; n++) {
      const int q = (n / h) * 2 * h + (n % h);
      const float a = t[q], b = t[q + h];
      t[q] = ALTO_FADD(a, b);
      t[q + h] = ALTO_FSUB(a, b);
    }
}

// Phase A's transform of two adjacent columns over T rows (T / RHT_B chunks). src: the first of
// the two elements of the tile's first row (GLOBAL: in global memory, else shared), the rows at
// tab.off. y[k * RHT_B + i] (W words: bf16 pair, or two fp32) is R x of row k * RHT_B + perm[i],
// rounded to the input dtype; every load is issued before the first butterfly.
template <int RHT_B, int T, bool IN_BF16, bool EXACT_NAN, bool GLOBAL>
__device__ __forceinline__ void alto_rht2_(const unsigned char *src,
                                           const alto_rht_tab_<RHT_B, T> &tab,
                                           alto_u32 (*y)[IN_BF16 ? 1 : 2]) {
#pragma unroll
  for (int j = 0; j < T; j += 4) {
    const uint4 o4 = *(const uint4 *)&tab.off[j];
    const alto_u32 off[4] = {o4.x, o4.y, o4.z, o4.w};
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const unsigned char *p = src + off[q];
      if constexpr (IN_BF16) {
        y[j + q][0] = GLOBAL ? __ldg((const unsigned int *)p) : *(const alto_u32 *)p;
      } else {
        const uint2 u = GLOBAL ? __ldg((const uint2 *)p) : *(const uint2 *)p;
        y[j + q][0] = u.x, y[j + q][1] = u.y;
      }
    }
  }
#pragma unroll
  for (int k = 0; k < T / RHT_B; k++) {
    float t0[RHT_B], t1[RHT_B];
#pragma unroll
    for (int i = 0; i < RHT_B; i++) {
      const alto_u32 *w = y[k * RHT_B + i];
      t0[i] = alto_f32_from_bits(IN_BF16 ? w[0] << 16 : w[0]);
      t1[i] = alto_f32_from_bits(IN_BF16 ? w[0] & 0xFFFF0000u : w[IN_BF16 ? 0 : 1]);
    }
    alto_fwht_<RHT_B>(t0);
    alto_fwht_<RHT_B>(t1);
#pragma unroll
    for (int i = 0; i < RHT_B; i += 4) {
      const float4 s4 = *(const float4 *)&tab.sn[i];
      const float sn[4] = {s4.x, s4.y, s4.z, s4.w};
#pragma unroll
      for (int q = 0; q < 4; q++) {
        const float a = ALTO_FMUL(t0[i + q], sn[q]), b = ALTO_FMUL(t1[i + q], sn[q]);
        alto_u32 *w = y[k * RHT_B + i + q];
        if constexpr (IN_BF16) {
          w[0] = alto_bf16x2_rn_<EXACT_NAN>(a, b);
        } else {
          w[0] = alto_f32_bits(EXACT_NAN ? alto_f32_canon(a) : a);
          w[IN_BF16 ? 0 : 1] = alto_f32_bits(EXACT_NAN ? alto_f32_canon(b) : b);
        }
      }
    }
  }
}

// The amax bits of each of the two columns of y over T rows (alto_amax_update's order-free max).
template <int T, bool IN_BF16>
__device__ __forceinline__ void alto_rht2_amax_(const alto_u32 (*y)[IN_BF16 ? 1 : 2], alto_u32 am[2]) {
  if constexpr (IN_BF16) {
    alto_u32 m = 0;
#pragma unroll
    for (int i = 0; i < T; i++)
      m = alto_max_u16x2_(m, y[i][0] & 0x7FFF7FFFu);
    am[0] = m << 16, am[1] = m & 0xFFFF0000u;
  } else {
    am[0] = am[1] = 0;
#pragma unroll
    for (int i = 0; i < T; i++)
#pragma unroll
      for (int j = 0; j < 2; j++) {
        const alto_u32 a = y[i][IN_BF16 ? 0 : j] & 0x7FFFFFFFu;
        am[j] = a > am[j] ? a : am[j];
      }
  }
}

// Phase A of the column kernels for the thread's two columns c, c + 1 (both exist: cols is even):
// transform, amax, scales (stored to scales[sb * cols + c], and the block constants to s_k, s_r,
// s_m at tile column tc), then the scatter of the rounded values into the tile (rows at tab.doff,
// the thread's W words at column word tc * W).
template <int KIND, int ELEM, int RHT_B, int T, bool IN_BF16, int RULE, int TWW, bool GLOBAL>
__device__ __forceinline__ void
alto_rht_cols_a_(const unsigned char *src, const alto_rht_tab_<RHT_B, T> &tab,
                 alto_u32 *tile, float *s_k, double *s_r, alto_u8 *s_m, int tc, float outer,
                 alto_u8 *__restrict__ scales) {
  constexpr int W = IN_BF16 ? 1 : 2;
  alto_u32 y[T][W];
  alto_rht2_<RHT_B, T, IN_BF16, false, GLOBAL>(src, tab, y);
  alto_u32 am[2];
  alto_rht2_amax_<T, IN_BF16>(y, am);
  alto_u32 s[2];
#pragma unroll
  for (int j = 0; j < 2; j++) {
    s[j] = alto_block_scale<KIND, ELEM, RULE>(alto_f32_from_bits(am[j]), outer);
    const alto_block_enc b = alto_block_enc_make<KIND>(s[j], outer);
    s_k[2 * tc + j] = b.k;
    if (KIND != ALTO_QK_MX)
      s_r[2 * tc + j] = alto_rcp64_(b.k); // phase B divides through fp64
    s_m[2 * tc + j] = (alto_u8)alto_block_mask_<KIND>(b);
  }
  *(alto_u16 *)scales = (alto_u16)(s[0] | (s[1] << 8));
#pragma unroll
  for (int j = 0; j < T; j++) {
    alto_u32 *o = (alto_u32 *)((unsigned char *)(tile + tc * W) + tab.doff[j]);
    if constexpr (IN_BF16)
      o[0] = y[j][0];
    else
      *(uint2 *)o = uint2{y[j][0], y[j][IN_BF16 ? 0 : 1]};
  }
}

// Phase B: the codes of P rows x V columns of the tile (16 bytes per row) at tile row g * P, tile
// column tc * V (global row gr, column c; n columns exist), from the constants phase A left.
template <int KIND, int ELEM, int P, bool IN_BF16, bool SR, int TWW>
__device__ __forceinline__ void alto_rht_cols_b_(const alto_u32 *tile, const float *s_k,
                                                 const double *s_r, const alto_u8 *s_m, int g, int tc,
                                                 alto_u8 *__restrict__ codes, alto_idx gr, alto_idx c,
                                                 alto_idx cols, alto_u64 seed, alto_u64 stream) {
  constexpr int V = IN_BF16 ? 8 : 4;
  const int n = cols - c >= V ? V : (cols > c ? (int)(cols - c) : 0);
  if (n == 0)
    return;
  alto_u32 w[P][4];
#pragma unroll
  for (int p = 0; p < P; p++) {
    const uint4 u = *(const uint4 *)(tile + (g * P + p) * TWW + tc * 4);
    w[p][0] = u.x, w[p][1] = u.y, w[p][2] = u.z, w[p][3] = u.w;
  }
  alto_block_enc be[V];
  alto_u32 mask[V / 4];
#pragma unroll
  for (int j = 0; j < V; j += 4) {
    const float4 k4 = *(const float4 *)&s_k[tc * V + j];
    be[j].k = k4.x, be[j + 1].k = k4.y, be[j + 2].k = k4.z, be[j + 3].k = k4.w;
    mask[j / 4] = *(const alto_u32 *)&s_m[tc * V + j];
  }
#pragma unroll
  for (int j = 0; j < V; j++) {
    be[j].nan = false; // unused: the masks carry it
    be[j].fast = false;
    be[j].y = 0.0f;
    be[j].r = KIND != ALTO_QK_MX ? s_r[tc * V + j] : 0.0;
  }
  const bool full = n == V && cols % V == 0;
  alto_cols_codes_<KIND, ELEM, P, IN_BF16, SR, true, ALTO_DIV_F64>(w, be, mask, codes, gr, c, cols, n,
                                                                   full, seed, stream);
}

// ---- Bx1 blocks of R x ------------------------------------------------------------------------------
// x [rows, cols] bf16 / fp32, rows % B == 0, cols % 2 == 0 (SR: % 4); grid (cols / TW, rows / B).
template <int KIND, int ELEM, int BR, int RHT_B, bool IN_BF16, int RULE, bool SR, int NT>
__device__ __forceinline__ void
alto_quant_rht_cols(const void *__restrict__ x, alto_u8 *__restrict__ codes,
                    void *__restrict__ scales, const float *__restrict__ outer_ptr,
                    const float *__restrict__ rht_sign, const int *__restrict__ rht_perm,
                    alto_idx cols, alto_u64 seed, alto_u64 stream) {
  constexpr int T = BR, ESZ = IN_BF16 ? 2 : 4, V = 16 / ESZ;
  constexpr int TW = 2 * NT, TWW = TW * ESZ / 4; // tile columns, words per tile row
  constexpr int LPR = TW / V, RG = NT / LPR, P = T / RG; // phase B: threads per row, row groups
  static_assert((BR == 16 || BR == 32) && (RHT_B == 16 || RHT_B == 32) && BR % RHT_B == 0,
                "B and b in 16, 32; b <= B");
  static_assert(RG * LPR == NT && P % 2 == 0 && T % P == 0, "phase B covers the tile");
  static_assert(!SR || ELEM == ALTO_ELEM_E2M1, "SR: E2M1");
  __shared__ __align__(16) alto_u32 s_tile[T * TWW];
  __shared__ __align__(16) float s_k[TW];
  __shared__ __align__(16) double s_r[KIND == ALTO_QK_MX ? 2 : TW];
  __shared__ __align__(16) alto_u8 s_m[TW];
  __shared__ __align__(16) alto_rht_tab_<RHT_B, T> tab;

  alto_rht_tab_load_<RHT_B, T, NT>(tab, rht_sign, rht_perm, (alto_u32)(cols * ESZ), TWW * 4);
  __syncthreads();
  const alto_idx c0 = (alto_idx)blockIdx.x * TW, r0 = (alto_idx)blockIdx.y * T;
  const alto_idx c = c0 + 2 * threadIdx.x;
  if (c < cols) {
    const float outer = (KIND == ALTO_QK_NVFP4 && outer_ptr) ? *outer_ptr : 1.0f;
    alto_rht_cols_a_<KIND, ELEM, RHT_B, T, IN_BF16, RULE, TWW, true>(
        (const unsigned char *)x + (r0 * cols + c) * ESZ, tab, s_tile, s_k, s_r, s_m, threadIdx.x,
        outer, (alto_u8 *)scales + blockIdx.y * cols + c);
  }
  __syncthreads();
  const int tc = threadIdx.x % LPR, g = threadIdx.x / LPR;
  alto_rht_cols_b_<KIND, ELEM, P, IN_BF16, SR, TWW>(s_tile, s_k, s_r, s_m, g, tc, codes,
                                                    r0 + g * P, c0 + tc * V, cols, seed, stream);
}

// ---- the dual-output kernel, b = 32 -----------------------------------------------------------------
// quant_dual.cuh's contract (MX; rows % 32 == 0, cols % 32 == 0). The tile of x is staged in shared
// memory once (cp.async, natural row order); phase A gathers its rows from there; the fprop copy
// reads whole 1x32 blocks of the tile's rows (quant_rows.cuh's per-thread step with 32 elements: no
// shuffle, one scale per thread and block); phase B encodes R x from the second tile.
// The staged tile's 16-byte chunks are swizzled within each row (chunk q at q ^ ((q / 8) % CB), CB
// chunks per 1x32 block) so that the fprop's 16-byte reads, 8 lanes on 8 blocks of one row, hit
// distinct banks; phase A's 4- and 8-byte reads of a row by consecutive lanes stay conflict-free
// (the swizzle permutes chunks within aligned groups of 8).
template <int KIND, int ELEM, bool IN_BF16, int RULE, bool SR, int NT>
__device__ __forceinline__ void
alto_quant_dual_rht(const void *__restrict__ x, alto_u8 *__restrict__ codes_f,
                    void *__restrict__ scales_f, alto_u8 *__restrict__ codes_w,
                    void *__restrict__ scales_w, const float *__restrict__ rht_sign,
                    const int *__restrict__ rht_perm, alto_idx cols, alto_u64 seed,
                    alto_u64 stream_f, alto_u64 stream_w) {
  constexpr int T = 32, RHT_B = 32, ESZ = IN_BF16 ? 2 : 4, V = 16 / ESZ;
  constexpr int TW = 2 * NT, TWW = TW * ESZ / 4;
  constexpr int LPR = TW / V, RG = NT / LPR, P = T / RG;
  constexpr int CPR = TW * ESZ / 16; // 16-byte chunks per tile row
  constexpr int CB = 2 * ESZ;        // chunks per 1x32 block
  constexpr int BPR = TW / 32;       // 1x32 blocks per tile row
  static_assert(KIND == ALTO_QK_MX, "MX schemes");
  static_assert(RG * LPR == NT && P % 2 == 0 && T % P == 0, "phase B covers the tile");
  static_assert(NT % CPR == 0 && T % (NT / CPR) == 0 && NT % BPR == 0 && T % (NT / BPR) == 0,
                "whole passes");
  __shared__ __align__(16) alto_u32 s_x[T * TWW];
  __shared__ __align__(16) alto_u32 s_tile[T * TWW];
  __shared__ __align__(16) float s_k[TW];
  __shared__ __align__(16) alto_u8 s_m[TW];
  __shared__ __align__(16) alto_rht_tab_<RHT_B, T> tab;
#define ALTO_DUAL_SWZ_(q) ((q) ^ (((q) >> 3) & (CB - 1)))

  const alto_idx c0 = (alto_idx)blockIdx.x * TW, r0 = (alto_idx)blockIdx.y * T;
  const alto_idx ncols = cols - c0 < TW ? cols - c0 : TW; // a multiple of 32
  // 1. stage the tile: chunk column q of rows r, r + NT / CPR, ...
  {
    const int q = threadIdx.x % CPR, r = threadIdx.x / CPR;
    if (q * V < ncols) {
      const unsigned char *g = (const unsigned char *)x + ((r0 + r) * cols + c0) * ESZ + q * 16;
      alto_u32 *d = s_x + r * TWW + ALTO_DUAL_SWZ_(q) * 4;
      const alto_idx step = (alto_idx)(NT / CPR) * cols * ESZ;
#pragma unroll
      for (int it = 0; it < T / (NT / CPR); it++)
        alto_cp16_(d + it * (NT / CPR) * TWW, g + it * step);
    }
  }
  alto_rht_tab_load_<RHT_B, T, NT>(tab, rht_sign, rht_perm, TW * ESZ, TWW * 4);
  alto_cp_wait_();
  __syncthreads();

  // 2. phase A: R x of the thread's two columns, gathered from the staged tile
  const alto_idx c = c0 + 2 * threadIdx.x;
  if (c < cols) {
    const int wi = threadIdx.x * (ESZ / 2); // the thread's first word in a row, before the swizzle
    alto_rht_cols_a_<KIND, ELEM, RHT_B, T, IN_BF16, RULE, TWW, false>(
        (const unsigned char *)(s_x + (ALTO_DUAL_SWZ_(wi >> 2) << 2) + (wi & 3)), tab, s_tile, s_k,
        (double *)nullptr, s_m, threadIdx.x, 1.0f, (alto_u8 *)scales_w + blockIdx.y * cols + c);
  }

  // 3. the fprop copy: whole 1x32 blocks along the rows of x, block column bq of rows r, ...
  {
    const int bq = threadIdx.x % BPR, r = threadIdx.x / BPR;
    const bool active = bq * 32 < ncols;
#pragma unroll 1
    for (int it = 0; it < T / (NT / BPR); it++) {
      const int rr = r + it * (NT / BPR);
      alto_u32 w[CB][4];
#pragma unroll
      for (int h = 0; h < CB; h++) {
        const uint4 u = *(const uint4 *)(s_x + rr * TWW + ALTO_DUAL_SWZ_(bq * CB + h) * 4);
        w[h][0] = u.x, w[h][1] = u.y, w[h][2] = u.z, w[h][3] = u.w;
      }
      alto_rows_encode_<KIND, ELEM, 32, IN_BF16, RULE, SR, 32>(
          w, active, true, codes_f, scales_f, nullptr, (r0 + rr) * cols + c0 + bq * 32, seed,
          stream_f);
    }
  }
#undef ALTO_DUAL_SWZ_
  __syncthreads();

  // 4. phase B: the wgrad copy's codes
  const int tc = threadIdx.x % LPR, g = threadIdx.x / LPR;
  alto_rht_cols_b_<KIND, ELEM, P, IN_BF16, SR, TWW>(s_tile, s_k, (const double *)nullptr, s_m, g,
                                                    tc, codes_w, r0 + g * P, c0 + tc * V, cols, seed,
                                                    stream_w);
}

// ---- y = R x alone ----------------------------------------------------------------------------------
// y in x's dtype, the bits of alto_rht_apply rounded by alto_f32_to_bf16 (bf16) or canonicalized
// (fp32): the transform of phase A, scattered straight to y (coalesced 4- / 8-byte stores per row).
template <int RHT_B, bool IN_BF16, int NT>
__device__ __forceinline__ void alto_rht_cols_only(const void *__restrict__ x, void *__restrict__ y,
                                                   const float *__restrict__ rht_sign,
                                                   const int *__restrict__ rht_perm, alto_idx cols) {
  constexpr int ESZ = IN_BF16 ? 2 : 4, W = IN_BF16 ? 1 : 2;
  __shared__ __align__(16) alto_rht_tab_<RHT_B, RHT_B> tab;
  alto_rht_tab_load_<RHT_B, RHT_B, NT>(tab, rht_sign, rht_perm, (alto_u32)(cols * ESZ),
                                       (alto_u32)(cols * ESZ));
  __syncthreads();
  const alto_idx c = ((alto_idx)blockIdx.x * NT + threadIdx.x) * 2, r0 = (alto_idx)blockIdx.y * RHT_B;
  if (c >= cols)
    return;
  alto_u32 v[RHT_B][W];
  alto_rht2_<RHT_B, RHT_B, IN_BF16, true, true>((const unsigned char *)x + (r0 * cols + c) * ESZ,
                                                tab, v);
  unsigned char *o = (unsigned char *)y + (r0 * cols + c) * ESZ;
#pragma unroll
  for (int i = 0; i < RHT_B; i++) {
    unsigned char *p = o + tab.doff[i];
    if constexpr (IN_BF16)
      *(alto_u32 *)p = v[i][0];
    else
      *(uint2 *)p = uint2{v[i][0], v[i][IN_BF16 ? 0 : 1]};
  }
}

#endif
