// attention_sm90.cuh: the attention forward on Hopper's warpgroup MMA (sm_90a), bf16 in / out,
// fp32 softmax statistics: the FlashAttention-2 algorithm of attention_fwd.cuh (the same online
// softmax, alto_attn_softmax_tile_, and the same end, alto_attn_fwd_store_), with the two products
// of every key tile as wgmma instructions of one warpgroup per 64 query rows:
//   S = Q K^T   m64nBNk16 x D/16, Q and K from shared memory (both K-major);
//   O += P V    m64nDk16 x BN/16, P from registers (the S accumulators rounded to bf16: the
//               accumulator layout of a warp's 16 rows is the A fragment of mma.m16n8k16, as in
//               attn_common.cuh), V from shared memory as an N-major B (V[key][d], d contiguous).
// Tiles live in shared memory in the 128-byte swizzle of common/wgmma.cuh, copied there by every
// thread with cp.async (16-byte chunks, zeros past T): Q (BM rows), then two stages of K and V
// (BN rows each; three stages in the forward), every tile as D / 64 panels of 64 columns
// (128-byte rows). The CTA walks its key tiles as attention_fwd.cuh does (causal: up to its last
// row; window: from its first row's window start), copying tile i + 1 while the warpgroups work on
// tile i; the forward issues tile i's S before tile i - 1's P V and overlaps the two.
//
// The backward's dQ kernel (alto_attn_bwd_dq_sm90) is the same walk over key tiles with
// attention_bwd.cuh's arithmetic (alto_attn_dq_rows_, alto_attn_dq_ds_): S = Q K^T and
// dP = dO V^T as two SS products of one commit group, dS = P (dP - delta), dQ += dS K with dS
// from registers and K as the N-major B; Q and dO stay in shared memory.
//
// The dK / dV kernel (alto_attn_bwd_dkdv_sm90) walks attention_bwd.cuh's steps (query heads x
// query tiles) with one warpgroup per 64 keys: S^T = K Q^T and dP^T = V dO^T as SS products,
// dV += P^T dO and dK += dS^T Q as RS products with Q and dO as the N-major B.
//
// The stub defines, before including this file (compiler/gen_attn.c, compiler/gen.c
// alto_gen_wgmma):
//   alto_attn_wg_qk(float (&s)[BN / 8][4], u64 desc_q, u64 desc_k, bool acc)  m64nBNk16 bf16
//                                                               (dkdv: m64nBQk16, K and Q)
//   alto_attn_wg_pv(float (&o)[D / 8][4], const u32 (&p)[4], u64 desc_v, bool acc)  m64nDk16,
//                                                                             B N-major
#ifndef ALTO_ATTENTION_SM90_CUH
#define ALTO_ATTENTION_SM90_CUH

#include "attn/attention_bwd.cuh"
#include "attn/attn_common.cuh"
#include "common/wgmma.cuh"

// The key-tile step both kernels start with: tile it's copies (Q / dO's too at it 0) waited for
// and made visible to the tensor cores, every warpgroup past tile it - 1's products (and with
// NS = 3 stages past tile it - 2's, which the forward's P V reads one step late), then the copy of
// tile it + 1 (K at n0 + BN.., then V) into stage (it + 1) % NS started. Returns tile it's stage
// offset in descriptor units (16 bytes). kva: stage 0's K; kvb: this kv head's row 0.
template <int D, int NT, int BN, int NS = 2>
__device__ __forceinline__ alto_u32 alto_attn_sm90_step_(const alto_attn_args &a, int it,
                                                         int ntiles, int n0, unsigned kva,
                                                         alto_idx kvb) {
  constexpr unsigned KVB = BN * 2 * D;
  const alto_idx kvs = a.G * D;
  alto_attn_cp_wait_all_();
  alto_wg_fence_proxy();
  __syncthreads();
  if (it + 1 < ntiles) {
    const unsigned next = kva + (unsigned)(((it + 1) % NS) * 2 * KVB);
    const alto_idx off = kvb + (alto_idx)(n0 + BN) * kvs;
    alto_attn_load_rows_<BN, D, NT, true>(next, a.k + off, kvs, (int)a.T - n0 - BN);
    alto_attn_load_rows_<BN, D, NT, true>(next + KVB, a.v + off, kvs, (int)a.T - n0 - BN);
    alto_attn_cp_commit_();
  }
  return (alto_u32)((it % NS) * 2 * KVB) >> 4;
}

// Pins a warpgroup's accumulators after the wait for the wgmma that wrote them.
template <int N> __device__ __forceinline__ void alto_attn_sm90_pin_(float (&x)[N][4]) {
#pragma unroll
  for (int j = 0; j < N; j++)
#pragma unroll
    for (int e = 0; e < 4; e++)
      alto_wg_pin(x[j][e]);
}

// Issues the D / 16 wgmma of one SS product acc = A B^T over D: A this warpgroup's 64 rows of a
// BM-row tile, B a BN-row tile, both K-major swizzled panels (descriptor low words a_lo, b_lo).
template <int D, int BM, int BN, int N>
__device__ __forceinline__ void alto_attn_sm90_ss_(float (&acc)[N][4], alto_u32 a_lo,
                                                   alto_u32 b_lo) {
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) /* 32 bytes of a 128-byte row per step */
    alto_attn_wg_qk(acc, alto_wg_desc(a_lo + (kk >> 2) * (BM * 128 >> 4) + (kk & 3) * 2),
                    alto_wg_desc(b_lo + (kk >> 2) * (BN * 128 >> 4) + (kk & 3) * 2), kk > 0);
}

// Issues acc += P B with P a 64 x BN bf16 A operand in registers (alto_attn_sm90_to_a_: they must
// stay live until the wait) and B a BN-row tile as the N-major operand (descriptor low word b_lo,
// its leading offset the panel stride). The caller fences before and commits after.
template <int BN, int NDT>
__device__ __forceinline__ void alto_attn_sm90_rs_issue_(float (&acc)[NDT][4],
                                                         const alto_u32 (&p)[BN / 16][4],
                                                         alto_u32 b_lo) {
#pragma unroll
  for (int kc = 0; kc < BN / 16; kc++) /* 16 keys: 16 rows of 128 bytes per step */
    alto_attn_wg_pv(acc, p[kc], alto_wg_desc(b_lo + kc * (2048 >> 4)), true);
}
// The A operand of acc += P B: the BN-column accumulators c rounded to bf16.
template <int BN>
__device__ __forceinline__ void alto_attn_sm90_to_a_(alto_u32 (&p)[BN / 16][4],
                                                     const float (&c)[BN / 8][4]) {
#pragma unroll
  for (int kc = 0; kc < BN / 16; kc++)
    alto_attn_c_to_a_(p[kc], c[2 * kc], c[2 * kc + 1]);
}
// Pins an A operand after the wait for the wgmma that read it.
template <int BN> __device__ __forceinline__ void alto_attn_sm90_pin_a_(alto_u32 (&p)[BN / 16][4]) {
#pragma unroll
  for (int kc = 0; kc < BN / 16; kc++)
#pragma unroll
    for (int e = 0; e < 4; e++)
      alto_wg_pin(p[kc][e]);
}

// acc += C B (alto_attn_sm90_rs_issue_) as one commit group, and the wait for it.
template <int BN, int NDT>
__device__ __forceinline__ void alto_attn_sm90_rs_(float (&acc)[NDT][4],
                                                   const float (&c)[BN / 8][4], alto_u32 b_lo) {
  alto_u32 p[BN / 16][4];
  alto_attn_sm90_to_a_<BN>(p, c);
  alto_wg_fence();
  alto_attn_sm90_rs_issue_<BN, NDT>(acc, p, b_lo);
  alto_wg_commit();
  alto_wg_wait<0>();
  alto_attn_sm90_pin_<NDT>(acc);
  alto_attn_sm90_pin_a_<BN>(p);
}

// Shared memory (1024-byte aligned): Q, then stages 0, 1 and 2 of K and V; BM * 2 D + 12 BN D
// bytes.
//
// Each key tile's S = Q K^T is issued before the tile before's O += P V, and its softmax runs
// while that product does (FlashAttention-3's overlap inside a warpgroup): O is rescaled once the
// product is waited for, so O sees the same operations in the same order as without the overlap.
// P V reads its V one step late, hence three stages.
template <int D, bool CAUSAL, int BM, int BN>
__device__ __forceinline__ void alto_attn_fwd_sm90(const alto_attn_args &a) {
  constexpr int NT = BM / 64 * 128, NKT = BN / 8, NDT = D / 8, NS = 3;
  constexpr unsigned QB = BM * 2 * D, KVB = BN * 2 * D; /* bytes of Q, of one K or V tile */
  static_assert(D % 64 == 0 && BM % 64 == 0 && BN % 16 == 0 && BN <= 256, "tile shapes");
  extern __shared__ __align__(1024) unsigned char alto_attn_smem_sm90_[];
  const unsigned sbase = (alto_attn_saddr_(alto_attn_smem_sm90_) + 1023u) & ~1023u;
  const alto_attn_qtile_ qt = alto_attn_qtile_of_<CAUSAL, BM, BN>(a);
  const int T = qt.T, window = qt.window, m0 = qt.m0, nfirst = qt.nfirst, ntiles = qt.ntiles;
  const alto_i64 H = a.H, G = a.G, h = qt.h, b = qt.b, kvh = qt.kvh;
  const int warp = threadIdx.x >> 5, wg = warp >> 2, g = (threadIdx.x & 31) >> 2;
  const alto_idx qs = H * D, kvs = G * D;
  const float sl2 = ALTO_ATTN_LOG2E / sqrtf((float)D);

  const alto_idx kvb = (alto_idx)b * T * kvs + kvh * D;

  const unsigned qa = sbase, kva = sbase + QB; /* stage s: K at kva + 2 s KVB, V after it */
  alto_attn_load_rows_<BM, D, NT, true>(qa, a.q + ((alto_idx)b * T + m0) * qs + h * D, qs, T - m0);
  alto_attn_load_rows_<BN, D, NT, true>(kva, a.k + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_load_rows_<BN, D, NT, true>(kva + KVB, a.v + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_cp_commit_();

  /* descriptors' low words: this warpgroup's 64 rows of Q, stage 0's K and V (V N-major: its
   * 64-column panels BN * 128 bytes apart) */
  const alto_u32 q_lo = alto_wg_desc_lo(qa + (unsigned)wg * 64 * 128);
  const alto_u32 k_lo = alto_wg_desc_lo(kva), v_lo = alto_wg_desc_lo(kva + KVB, BN * 128);

  float o[NDT][4];
  alto_attn_zero_<NDT>(o);
  float mrow[2] = {alto_attn_ninf_(), alto_attn_ninf_()}, lrow[2] = {0.f, 0.f}, alpha[2];
  const int row0 = m0 + warp * 16 + g;
  alto_u32 pa[BN / 16][4]; /* the tile before's P (bf16), the A operand of its P V */
  alto_u32 st_prev;        /* its stage */

  /* tile 0: S, its softmax */
  {
    const alto_u32 st = alto_attn_sm90_step_<D, NT, BN, NS>(a, 0, ntiles, nfirst, kva, kvb);
    float s[NKT][4];
    alto_wg_fence();
    alto_attn_sm90_ss_<D, BM, BN>(s, q_lo, k_lo + st); /* S = Q K^T */
    alto_wg_commit();
    alto_wg_wait<0>();
    alto_attn_sm90_pin_<NKT>(s);
    const bool full = alto_attn_tile_full_<CAUSAL>(m0, BM, nfirst, BN, T, window);
    alto_attn_softmax_p_<CAUSAL, NKT>(s, mrow, lrow, alpha, full, row0, nfirst, T, window, sl2);
    alto_attn_rescale_<NDT>(o, alpha);
    alto_attn_sm90_to_a_<BN>(pa, s);
    st_prev = st;
  }
  for (int it = 1; it < ntiles; it++) {
    const int n0 = nfirst + it * BN;
    const alto_u32 st = alto_attn_sm90_step_<D, NT, BN, NS>(a, it, ntiles, n0, kva, kvb);
    float s[NKT][4];
    alto_wg_fence();
    alto_attn_sm90_ss_<D, BM, BN>(s, q_lo, k_lo + st); /* S = Q K^T */
    alto_wg_commit();
    alto_attn_sm90_rs_issue_<BN, NDT>(o, pa, v_lo + st_prev); /* O += P V, the tile before's */
    alto_wg_commit();
    alto_wg_wait<1>(); /* S (the older group) */
    alto_attn_sm90_pin_<NKT>(s);
    const bool full = alto_attn_tile_full_<CAUSAL>(m0, BM, n0, BN, T, window);
    alto_attn_softmax_p_<CAUSAL, NKT>(s, mrow, lrow, alpha, full, row0, n0, T, window, sl2);
    alto_wg_wait<0>(); /* O */
    alto_attn_sm90_pin_<NDT>(o);
    alto_attn_sm90_pin_a_<BN>(pa);
    alto_attn_rescale_<NDT>(o, alpha);
    alto_attn_sm90_to_a_<BN>(pa, s);
    st_prev = st;
  }
  alto_wg_fence();
  alto_attn_sm90_rs_issue_<BN, NDT>(o, pa, v_lo + st_prev); /* the last tile's O += P V */
  alto_wg_commit();
  alto_wg_wait<0>();
  alto_attn_sm90_pin_<NDT>(o);
  alto_attn_sm90_pin_a_<BN>(pa);
  alto_attn_fwd_store_<NDT>(a, b, h, m0, warp * 16, mrow, lrow, o, sl2);
}

// Shared memory (1024-byte aligned): Q, dO, then stages 0 and 1 of K and V; 4 BM D + 8 BN D bytes.
template <int D, bool CAUSAL, int BM, int BN>
__device__ __forceinline__ void alto_attn_bwd_dq_sm90(const alto_attn_args &a) {
  constexpr int NT = BM / 64 * 128, NKT = BN / 8, NDT = D / 8;
  constexpr unsigned QB = BM * 2 * D, KVB = BN * 2 * D;
  static_assert(D % 64 == 0 && BM % 64 == 0 && BN % 16 == 0 && BN <= 256, "tile shapes");
  extern __shared__ __align__(1024) unsigned char alto_attn_smem_sm90_[];
  const unsigned sbase = (alto_attn_saddr_(alto_attn_smem_sm90_) + 1023u) & ~1023u;
  const alto_attn_qtile_ qt = alto_attn_qtile_of_<CAUSAL, BM, BN>(a);
  const int T = qt.T, window = qt.window, m0 = qt.m0, nfirst = qt.nfirst, ntiles = qt.ntiles;
  const alto_i64 H = a.H, G = a.G, h = qt.h, b = qt.b, kvh = qt.kvh;
  const int warp = threadIdx.x >> 5, wg = warp >> 2, g = (threadIdx.x & 31) >> 2;
  const alto_idx qs = H * D, kvs = G * D;
  const float scale = 1.f / sqrtf((float)D), sl2 = scale * ALTO_ATTN_LOG2E;

  const alto_idx kvb = (alto_idx)b * T * kvs + kvh * D;
  const alto_idx qo = ((alto_idx)b * T + m0) * qs + h * D;

  const unsigned qa = sbase, oa = sbase + QB, kva = sbase + 2 * QB;
  alto_attn_load_rows_<BM, D, NT, true>(qa, a.q + qo, qs, T - m0);
  alto_attn_load_rows_<BM, D, NT, true>(oa, a.dout + qo, qs, T - m0);
  alto_attn_load_rows_<BN, D, NT, true>(kva, a.k + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_load_rows_<BN, D, NT, true>(kva + KVB, a.v + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_cp_commit_();
  const int row0 = m0 + warp * 16 + g;
  float lse2[2], dl[2];
  alto_attn_dq_rows_(a, b, h, row0, lse2, dl);

  /* this warpgroup's 64 rows of Q and dO; stage 0's K (K-major for S, N-major for dS K), V */
  const alto_u32 q_lo = alto_wg_desc_lo(qa + (unsigned)wg * 64 * 128);
  const alto_u32 o_lo = alto_wg_desc_lo(oa + (unsigned)wg * 64 * 128);
  const alto_u32 k_lo = alto_wg_desc_lo(kva), v_lo = alto_wg_desc_lo(kva + KVB);
  const alto_u32 kn_lo = alto_wg_desc_lo(kva, BN * 128);

  float dq[NDT][4];
  alto_attn_zero_<NDT>(dq);
  for (int it = 0; it < ntiles; it++) {
    const int n0 = nfirst + it * BN;
    const alto_u32 st = alto_attn_sm90_step_<D, NT, BN>(a, it, ntiles, n0, kva, kvb);
    float s[NKT][4], ds[NKT][4]; /* S then P; dP then dS */
    alto_wg_fence();
    alto_attn_sm90_ss_<D, BM, BN>(s, q_lo, k_lo + st);  /* S = Q K^T */
    alto_attn_sm90_ss_<D, BM, BN>(ds, o_lo, v_lo + st); /* dP = dO V^T */
    alto_wg_commit();
    alto_wg_wait<0>();
    alto_attn_sm90_pin_<NKT>(s);
    alto_attn_sm90_pin_<NKT>(ds);
    const bool full = alto_attn_tile_full_<CAUSAL>(m0, BM, n0, BN, T, window);
    alto_attn_dq_ds_<CAUSAL, NKT>(s, ds, lse2, dl, full, row0, n0, T, window, sl2);
    alto_attn_sm90_rs_<BN, NDT>(dq, ds, kn_lo + st); /* dQ += dS K */
  }
  const float sc[2] = {scale, scale};
  alto_attn_store_rows_<NDT>(a.dq + qo, qs, warp * 16, T - m0, dq, sc);
}

// Shared memory (1024-byte aligned): K, V (BN rows each), stages 0, 1 and 2 of Q, dO (BQ rows
// each), stages 0, 1 and 2 of lse, delta (BQ fp32 each); 4 BN D + 12 BQ D + 24 BQ bytes.
//
// attention_bwd.cuh's dK / dV kernel (the same CTAs, steps and arithmetic: alto_attn_ktile_of_,
// alto_attn_dkdv_ds_) with one warpgroup per 64 keys: S^T = K Q^T and dP^T = V dO^T as two SS
// products of one commit group (K, V this warpgroup's rows, Q, dO the step's tiles, all K-major),
// then dV += P^T dO and dK += dS^T Q as two RS products of one group (P^T, dS^T from registers,
// dO and Q as the N-major B). Each step's SS products are issued before the step before's RS
// products, and its P^T, dS^T computed while those run (dK and dV sum the same products in the
// same order); the RS products read their Q and dO one step late, hence three stages.
template <int D, bool CAUSAL, int BN, int BQ>
__device__ __forceinline__ void alto_attn_bwd_dkdv_sm90(const alto_attn_args &a) {
  constexpr int NT = BN / 64 * 128, NQT = BQ / 8, NDT = D / 8, NS = 3;
  constexpr unsigned KVB = BN * 2 * D, QB = BQ * 2 * D; /* bytes of K or V, of Q or dO */
  static_assert(D % 64 == 0 && BN % 64 == 0 && BQ % 16 == 0 && BQ <= 256, "tile shapes");
  extern __shared__ __align__(1024) unsigned char alto_attn_smem_sm90_[];
  const unsigned sraw = alto_attn_saddr_(alto_attn_smem_sm90_);
  const unsigned sbase = (sraw + 1023u) & ~1023u;
  const float *sLD =
      (const float *)(alto_attn_smem_sm90_ + (sbase - sraw) + 2 * KVB + 2 * NS * QB);
  const alto_attn_ktile_ kt = alto_attn_ktile_of_<CAUSAL, BN, BQ>(a);
  const int T = kt.T, window = kt.window, n0 = kt.n0, qfirst = kt.qfirst;
  const alto_i64 rep = kt.rep, kvh = kt.kvh, b = kt.b;
  const int warp = threadIdx.x >> 5, wg = warp >> 2, g = (threadIdx.x & 31) >> 2;
  const alto_idx kvs = a.G * D;
  const float sl2 = 1.f / sqrtf((float)D) * ALTO_ATTN_LOG2E;

  const alto_idx kvo = ((alto_idx)b * T + n0) * kvs + kvh * D;
  const unsigned ka = sbase, va = sbase + KVB, qoa = sbase + 2 * KVB, lda = qoa + 2 * NS * QB;
  alto_attn_load_rows_<BN, D, NT, true>(ka, a.k + kvo, kvs, T - n0);
  alto_attn_load_rows_<BN, D, NT, true>(va, a.v + kvo, kvs, T - n0);
  alto_attn_dkdv_load_<D, BQ, NT, true>(a, qoa, lda, 0, kvh * rep, qfirst, b);

  /* this warpgroup's 64 rows of K and V; stage 0's Q and dO, K-major (S^T, dP^T) and N-major
   * (dK, dV: their 64-column panels BQ * 128 bytes apart) */
  const alto_u32 k_lo = alto_wg_desc_lo(ka + (unsigned)wg * 64 * 128);
  const alto_u32 v_lo = alto_wg_desc_lo(va + (unsigned)wg * 64 * 128);
  const alto_u32 q_lo = alto_wg_desc_lo(qoa), o_lo = alto_wg_desc_lo(qoa + QB);
  const alto_u32 qn_lo = alto_wg_desc_lo(qoa, BQ * 128);
  const alto_u32 on_lo = alto_wg_desc_lo(qoa + QB, BQ * 128);

  float dk[NDT][4], dv[NDT][4];
  alto_attn_zero_<NDT>(dk);
  alto_attn_zero_<NDT>(dv);
  const int key0 = n0 + warp * 16 + g; /* this lane's keys: key0, key0 + 8 */
  alto_u32 pa[BQ / 16][4], da[BQ / 16][4]; /* the step before's P^T, dS^T (bf16) */
  alto_u32 so_prev;                        /* its stage, descriptor units */

  /* steps: (query head h, query tile q0) in order; (hn, qn) is the next step's. Step st: its
   * copies waited for, the next step's started, S^T and dP^T, the step before's dV and dK
   * (`overlap`), then its P^T and dS^T into pa, da. */
  alto_i64 h = kvh * rep, hn = h;
  int q0 = qfirst, qn = qfirst;
  auto step = [&](int st, bool overlap) {
    alto_attn_cp_wait_all_(); /* this thread's copies of step st (and of K, V) */
    alto_wg_fence_proxy();
    __syncthreads(); /* everyone's; and every warpgroup is done with step st - 2's stage */
    alto_attn_dkdv_next_<BQ>(kt, hn, qn);
    if (hn < (kvh + 1) * rep)
      alto_attn_dkdv_load_<D, BQ, NT, true>(a, qoa, lda, (st + 1) % NS, hn, qn, b);
    const alto_u32 so = (alto_u32)((st % NS) * 2 * QB) >> 4; /* the stage, descriptor units */
    const float *sL = sLD + (st % NS) * 2 * BQ, *sD = sL + BQ;

    float p[NQT][4], ds[NQT][4]; /* S^T then P^T; dP^T then dS^T: keys x queries */
    alto_wg_fence();
    alto_attn_sm90_ss_<D, BN, BQ>(p, k_lo, q_lo + so);  /* S^T = K Q^T */
    alto_attn_sm90_ss_<D, BN, BQ>(ds, v_lo, o_lo + so); /* dP^T = V dO^T */
    alto_wg_commit();
    if (overlap) {
      alto_attn_sm90_rs_issue_<BQ, NDT>(dv, pa, on_lo + so_prev); /* dV += P^T dO, step before */
      alto_attn_sm90_rs_issue_<BQ, NDT>(dk, da, qn_lo + so_prev); /* dK += dS^T Q */
      alto_wg_commit();
      alto_wg_wait<1>(); /* S^T, dP^T (the older group) */
    } else {
      alto_wg_wait<0>();
    }
    alto_attn_sm90_pin_<NQT>(p);
    alto_attn_sm90_pin_<NQT>(ds);
    const bool full = alto_attn_tile_full_<CAUSAL>(q0, BQ, n0, BN, T, window);
    alto_attn_dkdv_ds_<CAUSAL, NQT>(p, ds, sL, sD, full, key0, q0, T, window, sl2);
    if (overlap) {
      alto_wg_wait<0>(); /* dV, dK */
      alto_attn_sm90_pin_<NDT>(dv);
      alto_attn_sm90_pin_<NDT>(dk);
      alto_attn_sm90_pin_a_<BQ>(pa);
      alto_attn_sm90_pin_a_<BQ>(da);
    }
    alto_attn_sm90_to_a_<BQ>(pa, p);
    alto_attn_sm90_to_a_<BQ>(da, ds);
    so_prev = so;
  };
  step(0, false); /* (a CTA has at least one step: its first key is below T) */
  h = hn, q0 = qn;
  for (int st = 1; h < (kvh + 1) * rep; st++, h = hn, q0 = qn)
    step(st, true);
  alto_wg_fence();
  alto_attn_sm90_rs_issue_<BQ, NDT>(dv, pa, on_lo + so_prev); /* the last step's dV += P^T dO */
  alto_attn_sm90_rs_issue_<BQ, NDT>(dk, da, qn_lo + so_prev); /* dK += dS^T Q */
  alto_wg_commit();
  alto_wg_wait<0>();
  alto_attn_sm90_pin_<NDT>(dv);
  alto_attn_sm90_pin_<NDT>(dk);
  alto_attn_sm90_pin_a_<BQ>(pa);
  alto_attn_sm90_pin_a_<BQ>(da);
  alto_attn_dkdv_store_<D>(a, kt, warp * 16, dk, dv);
}

#endif
