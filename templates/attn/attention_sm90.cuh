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
// (BN rows each), every tile as D / 64 panels of 64 columns (128-byte rows). The CTA walks its
// key tiles as attention_fwd.cuh does (causal: up to its last row; window: from its first row's
// window start), copying tile i + 1 while the warpgroups work on tile i.
//
// The backward's dQ kernel (alto_attn_bwd_dq_sm90) is the same walk over key tiles with
// attention_bwd.cuh's arithmetic (alto_attn_dq_rows_, alto_attn_dq_ds_): S = Q K^T and
// dP = dO V^T as two SS products of one commit group, dS = P (dP - delta), dQ += dS K with dS
// from registers and K as the N-major B; Q and dO stay in shared memory.
//
// The stub defines, before including this file (compiler/gen_attn.c, compiler/gen.c
// alto_gen_wgmma):
//   alto_attn_wg_qk(float (&s)[BN / 8][4], u64 desc_q, u64 desc_k, bool acc)  m64nBNk16 bf16
//   alto_attn_wg_pv(float (&o)[D / 8][4], const u32 (&p)[4], u64 desc_v, bool acc)  m64nDk16,
//                                                                             B N-major
#ifndef ALTO_ATTENTION_SM90_CUH
#define ALTO_ATTENTION_SM90_CUH

#include "attn/attention_bwd.cuh"
#include "attn/attn_common.cuh"
#include "common/wgmma.cuh"

// Starts the asynchronous copy of rows [0, R) of a bf16 matrix with D columns (row r at
// src + r * stride) into the swizzled panels at shared address x (panel p of 64 columns at
// x + p * R * 128); rows at or past `valid` become zeros.
template <int R, int D, int NT>
__device__ __forceinline__ void alto_attn_load_swz_(unsigned x, const alto_u16 *src,
                                                    alto_idx stride, int valid) {
  constexpr int CH = D / 8; /* 16-byte chunks per row */
#pragma unroll
  for (int i0 = 0; i0 < R * CH; i0 += NT) {
    int i = i0 + (int)threadIdx.x;
    if (R * CH % NT != 0 && i >= R * CH)
      break;
    int r = i / CH, c = i % CH;
    bool ok = r < valid;
    alto_attn_cp16_(x + (unsigned)((c >> 3) * R * 128) + alto_wg_swz128(r, c & 7),
                    src + (ok ? (int)(r * (int)stride + c * 8) : 0), ok);
  }
}

// Shared memory (1024-byte aligned): Q, then stages 0 and 1 of K and V; BM * 2 D + 8 BN D bytes.
template <int D, bool CAUSAL, int BM, int BN>
__device__ __forceinline__ void alto_attn_fwd_sm90(const alto_attn_args &a) {
  constexpr int NT = BM / 64 * 128, NKT = BN / 8, NDT = D / 8;
  constexpr unsigned QB = BM * 2 * D, KVB = BN * 2 * D; /* bytes of Q, of one K or V tile */
  static_assert(D % 64 == 0 && BM % 64 == 0 && BN % 16 == 0 && BN <= 256, "tile shapes");
  extern __shared__ __align__(1024) unsigned char alto_attn_smem_sm90_[];
  const unsigned sbase = (alto_attn_saddr_(alto_attn_smem_sm90_) + 1023u) & ~1023u;
  const int T = (int)a.T, window = a.window >= a.T ? 0 : (int)a.window;
  const alto_i64 H = a.H, G = a.G, bh = a.B * H;
  const int m0 = ((T + BM - 1) / BM - 1 - (int)(blockIdx.x / bh)) * BM;
  const alto_i64 h = blockIdx.x % bh % H, b = blockIdx.x % bh / H, kvh = h / (H / G);
  const int warp = threadIdx.x >> 5, wg = warp >> 2, g = (threadIdx.x & 31) >> 2;
  const alto_idx qs = H * D, kvs = G * D;
  const float sl2 = ALTO_ATTN_LOG2E / sqrtf((float)D);

  const int hi = CAUSAL ? (m0 + BM < T ? m0 + BM : T) : T;
  const int nfirst = (window > 0 && m0 - window + 1 > 0 ? m0 - window + 1 : 0) / BN * BN;
  const int ntiles = (hi - nfirst + BN - 1) / BN;
  const alto_idx kvb = (alto_idx)b * T * kvs + kvh * D;

  const unsigned qa = sbase, kva = sbase + QB; /* stage s: K at kva + 2 s KVB, V after it */
  alto_attn_load_swz_<BM, D, NT>(qa, a.q + ((alto_idx)b * T + m0) * qs + h * D, qs, T - m0);
  alto_attn_load_swz_<BN, D, NT>(kva, a.k + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_load_swz_<BN, D, NT>(kva + KVB, a.v + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_cp_commit_();

  /* descriptors' low words: this warpgroup's 64 rows of Q, stage 0's K and V (V N-major: its
   * 64-column panels BN * 128 bytes apart) */
  const alto_u32 q_lo = alto_wg_desc_lo(qa + (unsigned)wg * 64 * 128);
  const alto_u32 k_lo = alto_wg_desc_lo(kva), v_lo = alto_wg_desc_lo(kva + KVB, BN * 128);

  float o[NDT][4];
  alto_attn_zero_<NDT>(o);
  float mrow[2] = {alto_attn_ninf_(), alto_attn_ninf_()}, lrow[2] = {0.f, 0.f};
  const int row0 = m0 + warp * 16 + g;

  for (int it = 0; it < ntiles; it++) {
    const int n0 = nfirst + it * BN;
    alto_attn_cp_wait_all_(); /* this thread's copies of tile it */
    alto_wg_fence_proxy();    /* visible to the tensor cores' reads */
    __syncthreads();          /* everyone's; every warpgroup is done with tile it - 1's stage */
    if (it + 1 < ntiles) {
      const unsigned next = kva + (unsigned)(((it + 1) & 1) * 2 * KVB);
      const alto_idx off = kvb + (alto_idx)(n0 + BN) * kvs;
      alto_attn_load_swz_<BN, D, NT>(next, a.k + off, kvs, T - n0 - BN);
      alto_attn_load_swz_<BN, D, NT>(next + KVB, a.v + off, kvs, T - n0 - BN);
      alto_attn_cp_commit_();
    }
    const alto_u32 st = (alto_u32)((it & 1) * 2 * KVB) >> 4; /* the stage, in descriptor units */

    float s[NKT][4];
    alto_wg_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) /* 32 bytes of a 128-byte row per step */
      alto_attn_wg_qk(s, alto_wg_desc(q_lo + (kk >> 2) * (BM * 128 >> 4) + (kk & 3) * 2),
                      alto_wg_desc(k_lo + st + (kk >> 2) * (BN * 128 >> 4) + (kk & 3) * 2), kk > 0);
    alto_wg_commit();
    alto_wg_wait<0>();
#pragma unroll
    for (int j = 0; j < NKT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        alto_wg_pin(s[j][e]);

    const bool full = alto_attn_tile_full_<CAUSAL>(m0, BM, n0, BN, T, window);
    alto_attn_softmax_tile_<CAUSAL, NKT, NDT>(s, o, mrow, lrow, full, row0, n0, T, window, sl2);

    alto_u32 p[BN / 16][4]; /* read by the tensor cores until the wait below */
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++)
      alto_attn_c_to_a_(p[kc], s[2 * kc], s[2 * kc + 1]);
    alto_wg_fence();
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++) /* 16 keys: 16 rows of 128 bytes per step */
      alto_attn_wg_pv(o, p[kc], alto_wg_desc(v_lo + st + kc * (2048 >> 4)), true);
    alto_wg_commit();
    alto_wg_wait<0>();
#pragma unroll
    for (int j = 0; j < NDT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        alto_wg_pin(o[j][e]);
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        alto_wg_pin(p[kc][e]);
  }
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
  const int T = (int)a.T, window = a.window >= a.T ? 0 : (int)a.window;
  const alto_i64 H = a.H, G = a.G, bh = a.B * H;
  const int m0 = ((T + BM - 1) / BM - 1 - (int)(blockIdx.x / bh)) * BM;
  const alto_i64 h = blockIdx.x % bh % H, b = blockIdx.x % bh / H, kvh = h / (H / G);
  const int warp = threadIdx.x >> 5, wg = warp >> 2, g = (threadIdx.x & 31) >> 2;
  const alto_idx qs = H * D, kvs = G * D;
  const float scale = 1.f / sqrtf((float)D), sl2 = scale * ALTO_ATTN_LOG2E;

  const int hi = CAUSAL ? (m0 + BM < T ? m0 + BM : T) : T;
  const int nfirst = (window > 0 && m0 - window + 1 > 0 ? m0 - window + 1 : 0) / BN * BN;
  const int ntiles = (hi - nfirst + BN - 1) / BN;
  const alto_idx kvb = (alto_idx)b * T * kvs + kvh * D;
  const alto_idx qo = ((alto_idx)b * T + m0) * qs + h * D;

  const unsigned qa = sbase, oa = sbase + QB, kva = sbase + 2 * QB;
  alto_attn_load_swz_<BM, D, NT>(qa, a.q + qo, qs, T - m0);
  alto_attn_load_swz_<BM, D, NT>(oa, a.dout + qo, qs, T - m0);
  alto_attn_load_swz_<BN, D, NT>(kva, a.k + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_load_swz_<BN, D, NT>(kva + KVB, a.v + kvb + nfirst * kvs, kvs, T - nfirst);
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
    alto_attn_cp_wait_all_();
    alto_wg_fence_proxy();
    __syncthreads();
    if (it + 1 < ntiles) {
      const unsigned next = kva + (unsigned)(((it + 1) & 1) * 2 * KVB);
      const alto_idx off = kvb + (alto_idx)(n0 + BN) * kvs;
      alto_attn_load_swz_<BN, D, NT>(next, a.k + off, kvs, T - n0 - BN);
      alto_attn_load_swz_<BN, D, NT>(next + KVB, a.v + off, kvs, T - n0 - BN);
      alto_attn_cp_commit_();
    }
    const alto_u32 st = (alto_u32)((it & 1) * 2 * KVB) >> 4;

    float s[NKT][4], ds[NKT][4]; /* S then P; dP then dS */
    alto_wg_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      const alto_u32 ka = (kk >> 2) * (BM * 128 >> 4) + (kk & 3) * 2;
      const alto_u32 kb = st + (kk >> 2) * (BN * 128 >> 4) + (kk & 3) * 2;
      alto_attn_wg_qk(s, alto_wg_desc(q_lo + ka), alto_wg_desc(k_lo + kb), kk > 0);
      alto_attn_wg_qk(ds, alto_wg_desc(o_lo + ka), alto_wg_desc(v_lo + kb), kk > 0);
    }
    alto_wg_commit();
    alto_wg_wait<0>();
#pragma unroll
    for (int j = 0; j < NKT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        alto_wg_pin(s[j][e]), alto_wg_pin(ds[j][e]);

    const bool full = alto_attn_tile_full_<CAUSAL>(m0, BM, n0, BN, T, window);
    alto_attn_dq_ds_<CAUSAL, NKT>(s, ds, lse2, dl, full, row0, n0, T, window, sl2);

    alto_u32 p[BN / 16][4]; /* dS, read by the tensor cores until the wait below */
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++)
      alto_attn_c_to_a_(p[kc], ds[2 * kc], ds[2 * kc + 1]);
    alto_wg_fence();
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++)
      alto_attn_wg_pv(dq, p[kc], alto_wg_desc(kn_lo + st + kc * (2048 >> 4)), true);
    alto_wg_commit();
    alto_wg_wait<0>();
#pragma unroll
    for (int j = 0; j < NDT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        alto_wg_pin(dq[j][e]);
#pragma unroll
    for (int kc = 0; kc < BN / 16; kc++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        alto_wg_pin(p[kc][e]);
  }
  const float sc[2] = {scale, scale};
  alto_attn_store_rows_<NDT>(a.dq + qo, qs, warp * 16, T - m0, dq, sc);
}

#endif
