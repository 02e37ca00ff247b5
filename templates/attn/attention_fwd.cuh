// attention_fwd.cuh: FlashAttention-2 style forward, bf16 in/out, fp32 softmax statistics.
//
// One CTA = BM queries of one (batch, query head); BM / WM warps of WM query rows (16 or 32: one
// or two MMA m-tiles; with 32 every K and V fragment read from shared memory feeds two MMAs). Q
// is staged once and held as MMA A fragments; the CTA walks the key tiles (BN keys) its rows can
// see (causal: up to its last row; window: from its first row's window start) through an NS-stage
// ring of K and V tiles: cp.async copies tile i + NS - 1 while the warps work on tile i. Per tile:
// S = Q K^T on the tensor cores (K fragments by ldmatrix), an online softmax in fp32 (base-2
// exponent, the scale folded into one FMA; O and the running sum are rescaled only when a row's
// maximum grew), O += P V with P rounded to bf16 going from the S accumulators straight into the A
// fragments (V fragments by ldmatrix.trans). A warp skips the tiles its own rows see nothing of and
// masks only the tiles its rows see in part. Writes O (bf16) and lse = max + log(sum) of the scaled
// scores (natural log, fp32), which the backward needs. GQA: query head h reads kv head h / (H /
// G).
//
// Grid: 1-D, ceil(T / BM) * H * B CTAs, the query tiles from the last one down (causal: the CTAs
// with the most key tiles start first, the short ones fill the tail).
#ifndef ALTO_ATTENTION_FWD_CUH
#define ALTO_ATTENTION_FWD_CUH

#include "attn/attn_common.cuh"

// Dynamic shared memory (rows of D + PAD bf16): Q (BM rows), then NS stages of K (BN rows) and
// V (BN rows).
template <int D, bool CAUSAL, int BM, int BN, int WM, int NS>
__device__ __forceinline__ void alto_attn_fwd(const alto_attn_args &a) {
  constexpr int MT = WM / 16, NT = BM / WM * 32, S = D + ALTO_ATTN_PAD, KC = D / 16, NDT = D / 8,
                NKT = BN / 8;
  constexpr int KV = 2 * BN * S; /* bf16 elements of one K, V stage */
  /* the Q fragments stay in registers, except with 16-row warps at D 64, which run 2 CTAs of 8
   * warps per SM within 128 registers: there they are reloaded per key tile (4 more ldmatrix per
   * 32 MMAs), which avoids spills */
  constexpr bool Q_REGS = !(D == 64 && WM == 16);
  static_assert(D % 16 == 0 && (WM == 16 || WM == 32) && BM % WM == 0 && BN % 16 == 0 && NS >= 2,
                "tile shapes");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sQ = (alto_u16 *)alto_attn_smem_;
  /* positions are 32-bit (the host checks T); a window of T or more is no window */
  const int T = (int)a.T, window = a.window >= a.T ? 0 : (int)a.window;
  const alto_i64 H = a.H, G = a.G, bh = a.B * H;
  const int m0 = ((T + BM - 1) / BM - 1 - (int)(blockIdx.x / bh)) * BM;
  const alto_i64 h = blockIdx.x % bh % H, b = blockIdx.x % bh / H, kvh = h / (H / G);
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t4 = threadIdx.x & 3;
  const alto_idx qs = H * D, kvs = G * D;
  const float sl2 = ALTO_ATTN_LOG2E / sqrtf((float)D); /* scores to log2 units */

  const int hi = CAUSAL ? (m0 + BM < T ? m0 + BM : T) : T;
  const int nfirst = (window > 0 && m0 - window + 1 > 0 ? m0 - window + 1 : 0) / BN * BN;
  const int ntiles = (hi - nfirst + BN - 1) / BN;
  const alto_idx kvb = (alto_idx)b * T * kvs + kvh * D; /* row 0 of this kv head in K and V */
  const int w0 = m0 + warp * WM; /* this warp's first row; this lane's: w0 + g + 16 m + 8 i */

  const unsigned qa = alto_attn_saddr_(sQ), kva = qa + (unsigned)(BM * S * 2);
  alto_attn_load_rows_<BM, D, NT>(qa, a.q + ((alto_idx)b * T + m0) * qs + h * D, qs, T - m0);
  /* prologue: tiles 0 .. NS - 2, one commit group each (Q goes with tile 0) */
#pragma unroll
  for (int i = 0; i < NS - 1; i++) {
    if (i < ntiles) {
      const int n0 = nfirst + i * BN;
      const unsigned st = kva + (unsigned)(i * KV * 2);
      alto_attn_load_rows_<BN, D, NT>(st, a.k + kvb + (alto_idx)n0 * kvs, kvs, T - n0);
      alto_attn_load_rows_<BN, D, NT>(st + BN * S * 2, a.v + kvb + (alto_idx)n0 * kvs, kvs, T - n0);
    }
    alto_attn_cp_commit_();
  }
  alto_u32 qf[MT][KC][4];
  const unsigned qlane = qa + alto_attn_lane_a_<S>();
  const unsigned lbn = alto_attn_lane_bn_<S>(), lbk = alto_attn_lane_bk_<S>() + BN * S * 2;

  float o[MT][NDT][4];
  /* running max (raw scores) and this lane's part of the running sum of each of its rows */
  float mrow[MT][2], lrow[MT][2];
#pragma unroll
  for (int m = 0; m < MT; m++) {
    alto_attn_zero_<NDT>(o[m]);
    mrow[m][0] = mrow[m][1] = alto_attn_ninf_();
    lrow[m][0] = lrow[m][1] = 0.f;
  }

  int stage = 0; /* the ring slot of tile it; tile it + NS - 1 goes to the slot before it */
  for (int it = 0; it < ntiles; it++) {
    const int n0 = nfirst + it * BN;
    alto_attn_cp_wait_<NS - 2>(); /* this thread's copies of tile it */
    __syncthreads();              /* everyone's; and every warp is done with tile it - 1's slot */
    const int load_slot = stage == 0 ? NS - 1 : stage - 1;
    if (it + NS - 1 < ntiles) {
      const int nl = n0 + (NS - 1) * BN;
      const unsigned st = kva + (unsigned)(load_slot * KV * 2);
      alto_attn_load_rows_<BN, D, NT>(st, a.k + kvb + (alto_idx)nl * kvs, kvs, T - nl);
      alto_attn_load_rows_<BN, D, NT>(st + BN * S * 2, a.v + kvb + (alto_idx)nl * kvs, kvs, T - nl);
    }
    alto_attn_cp_commit_();
    const unsigned sk = kva + (unsigned)(stage * KV * 2);
    stage = stage + 1 == NS ? 0 : stage + 1;

    if (!Q_REGS || it == 0)
#pragma unroll
      for (int m = 0; m < MT; m++)
#pragma unroll
        for (int kc = 0; kc < KC; kc++)
          alto_attn_ld_a_<S>(qf[m][kc], qlane, warp * WM + 16 * m, kc * 16);
    if (alto_attn_tile_none_<CAUSAL>(w0, WM, n0, BN, T, window))
      continue; /* (causal, window) this warp's rows see no key of the tile */

    float s[MT][NKT][4];
#pragma unroll
    for (int m = 0; m < MT; m++)
      alto_attn_zero_<NKT>(s[m]);
    alto_attn_mma_bn_m_<S, MT, KC, NKT>(s, qf, sk + lbn); /* S = Q K^T */

    /* a tile every row of the warp sees whole needs no mask */
    const bool full = alto_attn_tile_full_<CAUSAL>(w0, WM, n0, BN, T, window);
    const alto_attn_vis_<CAUSAL, false> vis(w0, n0, T, window);
    float mx[MT][2];
    bool grew = false;
#pragma unroll
    for (int m = 0; m < MT; m++) {
      mx[m][0] = mrow[m][0], mx[m][1] = mrow[m][1];
#pragma unroll
      for (int j = 0; j < NKT; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          if (!full && !vis(m, j, e))
            s[m][j][e] = alto_attn_ninf_();
          mx[m][e >> 1] = fmaxf(mx[m][e >> 1], s[m][j][e]);
        }
#pragma unroll
      for (int r = 0; r < 2; r++) {
        mx[m][r] = alto_attn_quad_max_(mx[m][r]);
        grew |= mx[m][r] != mrow[m][r];
      }
    }
    /* the new max in log2 units (0 for a row that sees nothing yet) */
    float msc[MT][2];
#pragma unroll
    for (int m = 0; m < MT; m++)
#pragma unroll
      for (int r = 0; r < 2; r++)
        msc[m][r] = mx[m][r] == alto_attn_ninf_() ? 0.f : mx[m][r] * sl2;
    if (alto_attn_any_(grew)) /* else every alpha is 1: nothing to rescale */
#pragma unroll
      for (int m = 0; m < MT; m++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
          float alpha =
              alto_attn_exp2_(mrow[m][r] * sl2 - msc[m][r]); /* 0 while the old max is -inf */
          mrow[m][r] = mx[m][r];
          lrow[m][r] *= alpha;
#pragma unroll
          for (int j = 0; j < NDT; j++)
            o[m][j][2 * r] *= alpha, o[m][j][2 * r + 1] *= alpha;
        }
    alto_u32 pa[MT][BN / 16][4]; /* P rounded to bf16: the A fragments of P V */
#pragma unroll
    for (int m = 0; m < MT; m++) {
#pragma unroll
      for (int j = 0; j < NKT; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          float p = alto_attn_exp2_(fmaf(s[m][j][e], sl2, -msc[m][e >> 1]));
          s[m][j][e] = p;
          lrow[m][e >> 1] += p; /* this lane's partial sum; the quad is summed at the end */
        }
      alto_attn_pack_a_<BN / 16>(pa[m], s[m]);
    }
    alto_attn_mma_bk_m_<S, MT, BN / 16, NDT>(o, pa, sk + lbk); /* O += P V */
  }

#pragma unroll
  for (int m = 0; m < MT; m++) {
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const int row = w0 + g + 16 * m + 8 * r;
      float l = alto_attn_quad_sum_(lrow[m][r]);
      inv[r] = l > 0.f ? 1.f / l : 0.f;
      if (t4 == 0 && row < T)
        a.lse[((alto_idx)b * H + h) * T + row] =
            l > 0.f ? (mrow[m][r] * sl2 + log2f(l)) * ALTO_ATTN_LN2 : alto_attn_ninf_();
    }
    alto_attn_store_rows_<NDT>(a.o + ((alto_idx)b * T + m0) * qs + h * D, qs, warp * WM + 16 * m,
                               T - m0, o[m], inv);
  }
}

#endif
