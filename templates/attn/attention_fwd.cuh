// attention_fwd.cuh: FlashAttention-2 style forward, bf16 in/out, fp32 softmax statistics.
//
// One CTA = BM queries of one (batch, query head); BM / 16 warps, 16 query rows each. Q is staged
// once and held as MMA A fragments; the CTA walks the key tiles (BN keys) its rows can see
// (causal: up to its last row; window: from its first row's window start) with K and V double
// buffered: cp.async copies tile i + 1 into one stage while the warps work on tile i in the other.
// Per tile: S = Q K^T on the tensor cores (K fragments by ldmatrix), an online softmax in fp32
// (base-2 exponent, the scale folded into one FMA), O += P V with P rounded to bf16 going from the
// S accumulators straight into the A fragments (V fragments by ldmatrix.trans). Fully masked tiles
// are never visited; partially masked ones are masked to -inf element by element. Writes O (bf16)
// and lse = max + log(sum) of the scaled scores (natural log, fp32), which the backward needs.
// GQA: query head h reads kv head h / (H / G).
//
// Grid: 1-D, ceil(T / BM) * H * B CTAs, the query tiles from the last one down (causal: the CTAs
// with the most key tiles start first, the short ones fill the tail).
#ifndef ALTO_ATTENTION_FWD_CUH
#define ALTO_ATTENTION_FWD_CUH

#include "attn/attn_common.cuh"

// Dynamic shared memory (rows of D + PAD bf16): Q (BM rows), then stages 0 and 1 of K (BN rows)
// and V (BN rows).
template <int D, bool CAUSAL, int BM, int BN>
__device__ __forceinline__ void alto_attn_fwd(const alto_attn_args &a) {
  constexpr int NT = BM / 16 * 32, S = D + ALTO_ATTN_PAD, KC = D / 16, NDT = D / 8, NKT = BN / 8;
  constexpr int STAGE = 2 * BN * S; /* bf16 elements of one K, V stage */
  /* the Q fragments stay in registers, except at D 64 with 2 CTAs per SM (128 registers): there
   * they are reloaded per key tile (4 more ldmatrix per 32), which avoids spills */
  constexpr bool Q_REGS = D != 64;
  static_assert(D % 16 == 0 && BM % 16 == 0 && BN % 16 == 0, "tile shapes");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sQ = (alto_u16 *)alto_attn_smem_, *sKV = sQ + BM * S;
  const alto_attn_qtile_ qt = alto_attn_qtile_of_<CAUSAL, BM, BN>(a);
  const int T = qt.T, window = qt.window, m0 = qt.m0, nfirst = qt.nfirst, ntiles = qt.ntiles;
  const alto_i64 H = a.H, G = a.G, h = qt.h, b = qt.b, kvh = qt.kvh;
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2;
  const alto_idx qs = H * D, kvs = G * D;
  const float sl2 = ALTO_ATTN_LOG2E / sqrtf((float)D); /* scores to log2 units */

  const alto_idx kvb = (alto_idx)b * T * kvs + kvh * D; /* row 0 of this kv head in K and V */

  const unsigned qa = alto_attn_saddr_(sQ), kva = alto_attn_saddr_(sKV);
  alto_attn_load_rows_<BM, D, NT>(qa, a.q + ((alto_idx)b * T + m0) * qs + h * D, qs, T - m0);
  alto_attn_load_rows_<BN, D, NT>(kva, a.k + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_load_rows_<BN, D, NT>(kva + BN * S * 2, a.v + kvb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_cp_commit_();
  alto_attn_cp_wait_all_();
  __syncthreads();
  alto_u32 qf[KC][4];
#pragma unroll
  for (int kc = 0; kc < KC; kc++)
    alto_attn_ld_a_<S>(qf[kc], qa + alto_attn_lane_a_<S>(), warp * 16, kc * 16);
  const unsigned qlane = qa + alto_attn_lane_a_<S>();
  const unsigned lbn = alto_attn_lane_bn_<S>(), lbk = alto_attn_lane_bk_<S>() + BN * S * 2;

  float o[NDT][4];
  alto_attn_zero_<NDT>(o);
  /* running max (raw scores) and this lane's part of the running sum of each of its two rows */
  float mrow[2] = {alto_attn_ninf_(), alto_attn_ninf_()}, lrow[2] = {0.f, 0.f};
  const int row0 = m0 + warp * 16 + g; /* this lane's rows: row0, row0 + 8 */

  for (int it = 0; it < ntiles; it++) {
    const int n0 = nfirst + it * BN;
    alto_attn_cp_wait_all_(); /* this thread's copies of tile it */
    __syncthreads();          /* everyone's; and every warp is done with tile it - 1's stage */
    if (it + 1 < ntiles) {
      const unsigned next = kva + (unsigned)(((it + 1) & 1) * STAGE * 2);
      const alto_idx off = kvb + (alto_idx)(n0 + BN) * kvs;
      alto_attn_load_rows_<BN, D, NT>(next, a.k + off, kvs, T - n0 - BN);
      alto_attn_load_rows_<BN, D, NT>(next + BN * S * 2, a.v + off, kvs, T - n0 - BN);
      alto_attn_cp_commit_();
    }
    const unsigned stage = kva + (unsigned)((it & 1) * STAGE * 2);

    if (!Q_REGS)
#pragma unroll
      for (int kc = 0; kc < KC; kc++)
        alto_attn_ld_a_<S>(qf[kc], qlane, warp * 16, kc * 16);
    float s[NKT][4];
    alto_attn_zero_<NKT>(s);
    alto_attn_mma_bn_<S, KC, NKT>(s, qf, stage + lbn); /* S = Q K^T */

    /* a tile every row of the CTA sees whole needs no mask */
    const bool full = alto_attn_tile_full_<CAUSAL>(m0, BM, n0, BN, T, window);
    alto_attn_softmax_tile_<CAUSAL, NKT, NDT>(s, o, mrow, lrow, full, row0, n0, T, window, sl2);
    alto_attn_mma_ck_<S, BN / 16, NDT>(o, s, stage + lbk); /* O += P V */
  }

  alto_attn_fwd_store_<NDT>(a, b, h, m0, warp * 16, mrow, lrow, o, sl2);
}

#endif
