// attn_common.cuh: what the attention templates share: the bf16 tensor-core MMA (m16n8k16, fp32
// accumulation, sm_80+ PTX), ldmatrix fragment loads from padded shared-memory tiles, cp.async
// tile staging (zero rows past T), masks, quad reductions.
//
// Fragment layouts of mma.m16n8k16 (g = lane / 4, t = lane % 4; pairs are two bf16 in one 32-bit
// register, the lower index in the low half):
//   A (16 x 16, row): a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..)
//   B (16 x 8, col):  b0 (k 2t..2t+1, n g), b1 (k 2t+8..2t+9, n g)
//   C (16 x 8, f32):  c0, c1 (g, 2t..2t+1), c2, c3 (g+8, 2t..2t+1)
// A C tile pair (n-tiles 2j, 2j+1) is, rounded to bf16, the A fragment of k-chunk j: softmax
// probabilities go from one MMA into the next without shared memory.
//
// ldmatrix.m8n8.x4 loads four 8 x 8 bf16 matrices: lanes 8i..8i+7 give the row addresses of
// matrix i, and lane l receives register i = (row g, columns 2t, 2t+1) of matrix i, or with .trans
// (rows 2t, 2t+1 of column g): the A / B fragment pieces above, four registers per instruction.
// Shared-memory tiles are rows of D + 8 bf16 (a 16-byte pad): rows are (D + 8) / 2 = 12, 20, 36 or
// 68 words apart, so the 8 rows of one matrix fall on 8 distinct groups of 4 banks and every
// ldmatrix and every 16-byte cp.async store is free of bank conflicts.
#ifndef ALTO_ATTN_COMMON_CUH
#define ALTO_ATTN_COMMON_CUH

#include "attn/attn_args.h"
#include "common/alto_device.h"

#define ALTO_ATTN_PAD 8 /* bf16 elements of padding per shared-memory row (16 bytes) */
#define ALTO_ATTN_LOG2E 1.4426950408889634f
#define ALTO_ATTN_LN2 0.6931471805599453f

__device__ __forceinline__ float alto_attn_ninf_() {
  return alto_f32_from_bits(0xFF800000u);
}

// The device primitives: MMA, ldmatrix, cp.async, 2^x. ALTO_ATTN_HOST_EMULATION: a host build
// that runs the templates as threads (tests/attn_host_emu.cpp, a layout-level check without a
// GPU) supplies them.
#if defined(ALTO_ATTN_HOST_EMULATION)
void alto_attn_emu_mma_(float c[4], const alto_u32 a[4], const alto_u32 b[2]);
void alto_attn_emu_ldsm_(alto_u32 r[4], unsigned addr, bool trans);
unsigned alto_attn_emu_saddr_(const void *p);
void alto_attn_emu_cp_(unsigned dst, const void *src, int bytes, bool valid);
__device__ __forceinline__ void alto_attn_mma_(float c[4], const alto_u32 a[4],
                                               const alto_u32 b[2]) {
  alto_attn_emu_mma_(c, a, b);
}
__device__ __forceinline__ unsigned alto_attn_saddr_(const void *p) {
  return alto_attn_emu_saddr_(p);
}
__device__ __forceinline__ void alto_attn_ldsm4_(alto_u32 r[4], unsigned addr) {
  alto_attn_emu_ldsm_(r, addr, false);
}
__device__ __forceinline__ void alto_attn_ldsm4t_(alto_u32 r[4], unsigned addr) {
  alto_attn_emu_ldsm_(r, addr, true);
}
__device__ __forceinline__ void alto_attn_cp16_(unsigned dst, const void *src, bool valid) {
  alto_attn_emu_cp_(dst, src, 16, valid);
}
__device__ __forceinline__ void alto_attn_cp4_(unsigned dst, const void *src, bool valid) {
  alto_attn_emu_cp_(dst, src, 4, valid);
}
__device__ __forceinline__ void alto_attn_cp_commit_() {}
__device__ __forceinline__ void alto_attn_cp_wait_all_() {}
__device__ __forceinline__ float alto_attn_exp2_(float x) {
  return exp2f(x);
}
#else
// c += a * b, one m16n8k16 bf16 MMA with fp32 accumulation (a pure register op: not volatile, so
// the compiler may schedule it).
__device__ __forceinline__ void alto_attn_mma_(float c[4], const alto_u32 a[4],
                                               const alto_u32 b[2]) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
               "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
// The 32-bit shared-state-space address of a pointer into shared memory (fragment loads take these:
// a tile's base in one register, the per-fragment offsets as immediates).
__device__ __forceinline__ unsigned alto_attn_saddr_(const void *p) {
  return (unsigned)__cvta_generic_to_shared(p);
}
// Four 8 x 8 matrices; addr: this lane's row address (16-byte aligned).
__device__ __forceinline__ void alto_attn_ldsm4_(alto_u32 r[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void alto_attn_ldsm4t_(alto_u32 r[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// Asynchronous global -> shared copies (16 or 4 bytes to shared address dst; !valid: zeros,
// nothing read). They complete
// in commit groups: alto_attn_cp_wait_all_ waits for every group this thread committed; a
// __syncthreads after it makes every thread's copies visible to the CTA.
__device__ __forceinline__ void alto_attn_cp16_(unsigned dst, const void *src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void alto_attn_cp4_(unsigned dst, const void *src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 4 : 0)
               : "memory");
}
__device__ __forceinline__ void alto_attn_cp_commit_() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
__device__ __forceinline__ void alto_attn_cp_wait_all_() {
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}
// 2^x with the hardware approximation (MUFU.EX2, 2 ulp; results below 2^-126 flush to zero, far
// below what a bf16-rounded probability keeps relative to the row's maximum 1).
__device__ __forceinline__ float alto_attn_exp2_(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
#endif

__device__ __forceinline__ alto_u32 alto_attn_pack_(alto_u16 lo, alto_u16 hi) {
  return (alto_u32)lo | ((alto_u32)hi << 16);
}
// Two fp32 rounded to bf16 (RNE) in one register, lo in the low half: one cvt.rn.bf16x2.f32 on the
// GPU (the same values as alto_f32_to_bf16 for every non-NaN input).
#if defined(ALTO_ATTN_HOST_EMULATION)
__device__ __forceinline__ alto_u32 alto_attn_pack_f32_(float lo, float hi) {
  return alto_attn_pack_(alto_f32_to_bf16(lo), alto_f32_to_bf16(hi));
}
#else
__device__ __forceinline__ alto_u32 alto_attn_pack_f32_(float lo, float hi) {
  alto_u32 r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
#endif

// Fragment loads from a shared tile of rows of S bf16 (S = D + PAD). A tile is passed as the
// 32-bit shared address of its element (0, 0) plus this lane's offset for the access pattern
// (alto_attn_lane_a_ / _bn_ / _bk_ below, in bytes), so that every fragment's own offset is a
// compile-time constant. l = lane.
//
// A fragment of rows m0.., columns k0.. of X[m][k]: matrices (m0, k0), (m0 + 8, k0), (m0, k0 + 8),
// (m0 + 8, k0 + 8) are a0..a3; lane l addresses row m0 + l % 16, column k0 + 8 (l / 16).
template <int S> __device__ __forceinline__ unsigned alto_attn_lane_a_() {
  int l = threadIdx.x & 31;
  return (unsigned)(((l & 15) * S + (l >> 4) * 8) * 2);
}
template <int S>
__device__ __forceinline__ void alto_attn_ld_a_(alto_u32 a[4], unsigned x, int m0, int k0) {
  alto_attn_ldsm4_(a, x + (unsigned)((m0 * S + k0) * 2));
}

// B fragments of n-tiles n0.. and n0 + 8.. (k-chunk k0..k0+15) of a matrix stored n-major, X[n][k]
// (K in Q K^T): b[0] = tile n0, b[1] = tile n0 + 8. Matrices (n0, k0), (n0, k0 + 8), (n0 + 8, k0),
// (n0 + 8, k0 + 8); lane l addresses row n0 + l % 8 + 8 (l / 16), column k0 + 8 ((l / 8) % 2).
template <int S> __device__ __forceinline__ unsigned alto_attn_lane_bn_() {
  int l = threadIdx.x & 31;
  return (unsigned)((((l & 7) + ((l >> 4) << 3)) * S + ((l >> 3) & 1) * 8) * 2);
}
template <int S>
__device__ __forceinline__ void alto_attn_ld_bn2_(alto_u32 b[2][2], unsigned x, int n0, int k0) {
  alto_u32 r[4];
  alto_attn_ldsm4_(r, x + (unsigned)((n0 * S + k0) * 2));
  b[0][0] = r[0], b[0][1] = r[1], b[1][0] = r[2], b[1][1] = r[3];
}

// The same from a matrix stored k-major, X[k][n] (V in P V), with ldmatrix.trans: matrices
// (k0, n0), (k0 + 8, n0), (k0, n0 + 8), (k0 + 8, n0 + 8); lane l addresses row
// k0 + l % 8 + 8 ((l / 8) % 2), column n0 + 8 (l / 16).
template <int S> __device__ __forceinline__ unsigned alto_attn_lane_bk_() {
  int l = threadIdx.x & 31;
  return (unsigned)((((l & 7) + ((l >> 3) & 1) * 8) * S + ((l >> 4) << 3)) * 2);
}
template <int S>
__device__ __forceinline__ void alto_attn_ld_bk2_(alto_u32 b[2][2], unsigned x, int k0, int n0) {
  alto_u32 r[4];
  alto_attn_ldsm4t_(r, x + (unsigned)((k0 * S + n0) * 2));
  b[0][0] = r[0], b[0][1] = r[1], b[1][0] = r[2], b[1][1] = r[3];
}

// The A fragment of k-chunk j from C tiles c[2j], c[2j+1] (rounded to bf16).
__device__ __forceinline__ void alto_attn_c_to_a_(alto_u32 a[4], const float c0[4],
                                                  const float c1[4]) {
  a[0] = alto_attn_pack_f32_(c0[0], c0[1]);
  a[1] = alto_attn_pack_f32_(c0[2], c0[3]);
  a[2] = alto_attn_pack_f32_(c1[0], c1[1]);
  a[3] = alto_attn_pack_f32_(c1[2], c1[3]);
}

// acc[j] += A B_j for the n-tiles j of a 16 x (8 NJ) product, k = 16 KC: A fragments a[kc]
// (registers), B from a shared tile stored n-major (X[n][k]; x: its address + alto_attn_lane_bn_).
template <int S, int KC, int NJ>
__device__ __forceinline__ void alto_attn_mma_bn_(float acc[NJ][4], const alto_u32 a[KC][4],
                                                  unsigned x) {
  static_assert(NJ % 2 == 0, "n-tiles come in pairs (one ldmatrix.x4)");
#pragma unroll
  for (int kc = 0; kc < KC; kc++)
#pragma unroll
    for (int j = 0; j < NJ; j += 2) {
      alto_u32 b[2][2];
      alto_attn_ld_bn2_<S>(b, x, j * 8, kc * 16);
      alto_attn_mma_(acc[j], a[kc], b[0]);
      alto_attn_mma_(acc[j + 1], a[kc], b[1]);
    }
}

// acc[j] += A B_j with A = the bf16 rounding of C tiles c (16 x 16 KC, k-chunk kc from c[2kc],
// c[2kc+1]) and B from a shared tile stored k-major (X[k][n]; x: its address + alto_attn_lane_bk_).
template <int S, int KC, int NJ>
__device__ __forceinline__ void alto_attn_mma_ck_(float acc[NJ][4], const float c[2 * KC][4],
                                                  unsigned x) {
  static_assert(NJ % 2 == 0, "n-tiles come in pairs (one ldmatrix.x4)");
#pragma unroll
  for (int kc = 0; kc < KC; kc++) {
    alto_u32 a[4];
    alto_attn_c_to_a_(a, c[2 * kc], c[2 * kc + 1]);
#pragma unroll
    for (int j = 0; j < NJ; j += 2) {
      alto_u32 b[2][2];
      alto_attn_ld_bk2_<S>(b, x, kc * 16, j * 8);
      alto_attn_mma_(acc[j], a, b[0]);
      alto_attn_mma_(acc[j + 1], a, b[1]);
    }
  }
}

template <int NJ> __device__ __forceinline__ void alto_attn_zero_(float c[NJ][4]) {
#pragma unroll
  for (int j = 0; j < NJ; j++)
    c[j][0] = c[j][1] = c[j][2] = c[j][3] = 0.f;
}

// Starts the asynchronous copy of rows [0, R) of a bf16 matrix (row r at src + r * stride) into
// the shared tile at shared address x: rows of D + PAD bf16, or with SWZ the 128-byte swizzle of
// common/wgmma.cuh (D / 64 panels of 128-byte rows, panel p at x + p * R * 128, the 16-byte chunk
// j of row r at r * 128 + (j ^ r % 8) * 16; x 1024-byte aligned). Rows at or past `valid` become
// zeros (tails: a zero row contributes nothing, and no poison reaches an MMA). src must be a
// readable row even when valid <= 0.
template <int R, int D, int NT, bool SWZ = false>
__device__ __forceinline__ void alto_attn_load_rows_(unsigned x, const alto_u16 *src,
                                                     alto_idx stride, int valid) {
  constexpr int CH = D / 8; /* 16-byte chunks per row */
#pragma unroll
  for (int i0 = 0; i0 < R * CH; i0 += NT) {
    int i = i0 + (int)threadIdx.x;
    if (R * CH % NT != 0 && i >= R * CH)
      break;
    int r = i / CH, c = i % CH;
    bool ok = r < valid;
    unsigned off = SWZ ? (unsigned)((c >> 3) * R * 128 + r * 128 + (((c & 7) ^ (r & 7)) << 4))
                       : (unsigned)((r * (D + ALTO_ATTN_PAD) + c * 8) * 2);
    /* a 32-bit offset from src: a tile spans R rows of stride < 2^31 / R (the host checks) */
    alto_attn_cp16_(x + off, src + (ok ? (int)(r * (int)stride + c * 8) : 0), ok);
  }
}

// The query tile of a forward or dQ CTA (grid: the query tiles of BM rows from the last one down,
// x H x B: causal, the CTAs with the most key tiles start first) and the key tiles of BN keys its
// rows see: nfirst.., ntiles of them (causal: up to its last row; window: from its first row's
// window start). Positions are 32-bit (the host checks T); a window of T or more is no window.
struct alto_attn_qtile_ {
  int T, window, m0, nfirst, ntiles;
  alto_i64 b, h, kvh; /* batch, query head, its kv head */
};
template <bool CAUSAL, int BM, int BN>
__device__ __forceinline__ alto_attn_qtile_ alto_attn_qtile_of_(const alto_attn_args &a) {
  alto_attn_qtile_ q;
  q.T = (int)a.T, q.window = a.window >= a.T ? 0 : (int)a.window;
  const alto_i64 bh = a.B * a.H;
  q.m0 = ((q.T + BM - 1) / BM - 1 - (int)(blockIdx.x / bh)) * BM;
  q.h = blockIdx.x % bh % a.H, q.b = blockIdx.x % bh / a.H, q.kvh = q.h / (a.H / a.G);
  const int hi = CAUSAL ? (q.m0 + BM < q.T ? q.m0 + BM : q.T) : q.T;
  q.nfirst = (q.window > 0 && q.m0 - q.window + 1 > 0 ? q.m0 - q.window + 1 : 0) / BN * BN;
  q.ntiles = (hi - q.nfirst + BN - 1) / BN;
  return q;
}

// Whether key s is visible to query t (sequence positions: 32-bit, the host checks T; window
// clamped to [0, T]).
template <bool CAUSAL>
__device__ __forceinline__ bool alto_attn_visible_(int t, int s, int T, int window) {
  return t < T && s < T && (!CAUSAL || s <= t) && (window <= 0 || s > t - window);
}

// Whether every key of [s0, s0 + ns) is visible to every query of [t0, t0 + nt): such a tile
// needs no mask.
template <bool CAUSAL>
__device__ __forceinline__ bool alto_attn_tile_full_(int t0, int nt, int s0, int ns, int T,
                                                     int window) {
  return t0 + nt <= T && s0 + ns <= T && (!CAUSAL || s0 + ns - 1 <= t0) &&
         (window <= 0 || s0 > t0 + nt - 1 - window);
}

// Reduction over the 4 lanes of a quad (the lanes holding one C row).
__device__ __forceinline__ float alto_attn_quad_max_(float v) {
  v = fmaxf(v, ALTO_SHFL_XOR(v, 1, 32));
  return fmaxf(v, ALTO_SHFL_XOR(v, 2, 32));
}
__device__ __forceinline__ float alto_attn_quad_sum_(float v) {
  v += ALTO_SHFL_XOR(v, 1, 32);
  return v + ALTO_SHFL_XOR(v, 2, 32);
}

// Stores a warp's 16 x (8 NDT) fp32 C tiles as bf16 rows m0.. of dst (row r at dst + r * stride),
// scaled by s[0] (rows g) / s[1] (rows g + 8); rows at or past `valid` are not written.
template <int NDT>
__device__ __forceinline__ void alto_attn_store_rows_(alto_u16 *dst, alto_idx stride, int m0,
                                                      int valid, const float c[NDT][4],
                                                      const float s[2]) {
  int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
#pragma unroll
  for (int h = 0; h < 2; h++) {
    int r = m0 + g + 8 * h;
    if (r >= valid)
      continue;
    alto_u16 *p = dst + (alto_idx)r * stride + 2 * t;
#pragma unroll
    for (int j = 0; j < NDT; j++)
      *(alto_u32 *)(p + 8 * j) = alto_attn_pack_f32_(c[j][2 * h] * s[h], c[j][2 * h + 1] * s[h]);
  }
}

// One key tile's online-softmax step for a warp's 16 query rows (this lane's rows row0, row0 + 8):
// the scores s of keys n0.. (C tiles: row g, column 8 j + 2 t4 + e % 2) masked to -inf where not
// visible (unless `full`), the running max mrow (raw scores) raised, this lane's partial sums lrow
// rescaled by alpha = 2^(old - new) (returned: the caller rescales the output rows by it), and s
// replaced by the probabilities 2^(s sl2 - max sl2) (fp32; the caller rounds them to bf16 for
// P V). sl2: the score scale in log2 units. The statistics round every operation (no multiply
// fused into an add), so that they do not depend on how the compiler schedules a kernel's code:
// the mma.sync and warpgroup-MMA forwards compute the same lse.
template <bool CAUSAL, int NKT>
__device__ __forceinline__ void alto_attn_softmax_p_(float (&s)[NKT][4], float (&mrow)[2],
                                                     float (&lrow)[2], float (&alpha)[2], bool full,
                                                     int row0, int n0, int T, int window,
                                                     float sl2) {
  const int t4 = threadIdx.x & 3;
  float mx[2] = {mrow[0], mrow[1]};
#pragma unroll
  for (int j = 0; j < NKT; j++)
#pragma unroll
    for (int e = 0; e < 4; e++) {
      if (!full && !alto_attn_visible_<CAUSAL>(row0 + 8 * (e >> 1), n0 + j * 8 + 2 * t4 + (e & 1),
                                               T, window))
        s[j][e] = alto_attn_ninf_();
      mx[e >> 1] = fmaxf(mx[e >> 1], s[j][e]);
    }
  float msc[2]; /* the new max in log2 units (0 for a row that sees nothing yet) */
#pragma unroll
  for (int r = 0; r < 2; r++) {
    mx[r] = alto_attn_quad_max_(mx[r]);
    msc[r] = mx[r] == alto_attn_ninf_() ? 0.f : ALTO_FMUL(mx[r], sl2);
    /* 0 while the old max is -inf */
    alpha[r] = alto_attn_exp2_(ALTO_FSUB(ALTO_FMUL(mrow[r], sl2), msc[r]));
    mrow[r] = mx[r];
    lrow[r] = ALTO_FMUL(lrow[r], alpha[r]);
  }
#pragma unroll
  for (int j = 0; j < NKT; j++)
#pragma unroll
    for (int e = 0; e < 4; e++) {
      float p = alto_attn_exp2_(fmaf(s[j][e], sl2, -msc[e >> 1]));
      s[j][e] = p;
      /* this lane's partial sum; the quad is summed at the end */
      lrow[e >> 1] = ALTO_FADD(lrow[e >> 1], p);
    }
}

// The output rows' rescale of an online-softmax step (rows g by alpha[0], g + 8 by alpha[1]).
template <int NDT>
__device__ __forceinline__ void alto_attn_rescale_(float (&o)[NDT][4], const float (&alpha)[2]) {
#pragma unroll
  for (int j = 0; j < NDT; j++) {
    o[j][0] = ALTO_FMUL(o[j][0], alpha[0]), o[j][1] = ALTO_FMUL(o[j][1], alpha[0]);
    o[j][2] = ALTO_FMUL(o[j][2], alpha[1]), o[j][3] = ALTO_FMUL(o[j][3], alpha[1]);
  }
}

// alto_attn_softmax_p_ with the output rows o rescaled.
template <bool CAUSAL, int NKT, int NDT>
__device__ __forceinline__ void
alto_attn_softmax_tile_(float (&s)[NKT][4], float (&o)[NDT][4], float (&mrow)[2], float (&lrow)[2],
                        bool full, int row0, int n0, int T, int window, float sl2) {
  float alpha[2];
  alto_attn_softmax_p_<CAUSAL, NKT>(s, mrow, lrow, alpha, full, row0, n0, T, window, sl2);
  alto_attn_rescale_<NDT>(o, alpha);
}

// The forward's end for a warp's 16 rows m0 + wrow..: lse = max + log(sum) of the scaled scores
// (natural log; -inf for a row that saw no key) and O = o / sum as bf16, rows past T skipped.
template <int NDT>
__device__ __forceinline__ void alto_attn_fwd_store_(const alto_attn_args &a, alto_i64 b,
                                                     alto_i64 h, int m0, int wrow,
                                                     const float (&mrow)[2], const float (&lrow)[2],
                                                     const float (&o)[NDT][4], float sl2) {
  const int T = (int)a.T, g = (threadIdx.x & 31) >> 2, t4 = threadIdx.x & 3;
  const alto_i64 H = a.H;
  const int row0 = m0 + wrow + g;
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    float l = alto_attn_quad_sum_(lrow[r]);
    inv[r] = l > 0.f ? 1.f / l : 0.f;
    if (t4 == 0 && row0 + 8 * r < T)
      a.lse[((alto_idx)b * H + h) * T + row0 + 8 * r] =
          l > 0.f ? ALTO_FMUL(ALTO_FADD(ALTO_FMUL(mrow[r], sl2), log2f(l)), ALTO_ATTN_LN2)
                  : alto_attn_ninf_();
  }
  alto_attn_store_rows_<NDT>(a.o + ((alto_idx)b * T + m0) * (H * NDT * 8) + h * NDT * 8,
                             H * NDT * 8, wrow, T - m0, o, inv);
}

#endif
