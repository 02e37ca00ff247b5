// attention_bwd.cuh: FlashAttention-2 style backward in three deterministic kernels (no atomics;
// every output element is summed by one thread in a fixed order, so runs are bit-identical):
//   alto_attn_bwd_delta: delta = rowsum(dO * O) per (b, h, t), fp32.
//   alto_attn_bwd_dkdv:  one CTA per BN keys of one (b, kv head): loops over the kv head's H / G
//                        query heads and the query tiles (BQ) that see its keys; recomputes
//                        P^T = exp(K Q^T scale - lse), dV += P^T dO, dP^T = V dO^T,
//                        dS^T = P^T (dP^T - delta), dK += dS^T Q (times scale at the end).
//   alto_attn_bwd_dq:    one CTA per BM queries of one (b, h): loops over the key tiles (BN) the
//                        queries see; dQ += dS K (times scale).
// P and dS enter the second MMA of each pair rounded to bf16 (as FlashAttention-2); everything
// else accumulates in fp32. Warps own 16 rows (keys in dkdv, queries in dq); the streamed tiles
// (Q, dO, lse, delta in dkdv; K, V in dq) are double buffered with cp.async, fragments are read
// with ldmatrix.
#ifndef ALTO_ATTENTION_BWD_CUH
#define ALTO_ATTENTION_BWD_CUH

#include "attn/attn_common.cuh"

// grid (ceil(B*T*H / (NT / (D / 8)))): D / 8 consecutive lanes own one row r = token * H + h of O
// and dO (rows of D bf16, contiguous), 8 elements (16 bytes) each, and sum their products in a
// fixed butterfly.
template <int D, int NT>
__device__ __forceinline__ void alto_attn_bwd_delta(const alto_attn_args &a) {
  constexpr int LPR = D / 8; /* lanes per row: 2, 4, 8, 16 */
  static_assert(D % 8 == 0 && LPR <= 32, "a lane reads 8 elements");
  const alto_i64 rows = a.B * a.T * a.H;
  const alto_i64 r = (alto_i64)blockIdx.x * (NT / LPR) + threadIdx.x / LPR;
  const int part = threadIdx.x % LPR;
  float acc = 0.f;
  if (r < rows) {
    alto_idx e = r * D + part * 8;
    uint4 ov = *(const uint4 *)(a.o + e), dv = *(const uint4 *)(a.dout + e);
    const alto_u32 ow[4] = {ov.x, ov.y, ov.z, ov.w}, dw[4] = {dv.x, dv.y, dv.z, dv.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
      acc += alto_bf16_to_f32((alto_u16)(ow[i] & 0xFFFFu)) *
             alto_bf16_to_f32((alto_u16)(dw[i] & 0xFFFFu));
      acc += alto_bf16_to_f32((alto_u16)(ow[i] >> 16)) * alto_bf16_to_f32((alto_u16)(dw[i] >> 16));
    }
  }
#pragma unroll
  for (int m = LPR / 2; m > 0; m >>= 1)
    acc += ALTO_SHFL_XOR(acc, m, 32);
  if (r < rows && part == 0) {
    alto_i64 tok = r / a.H, h = r % a.H, b = tok / a.T, t = tok % a.T;
    a.delta[(b * a.H + h) * a.T + t] = acc;
  }
}

// Starts the copies of dkdv's step for query head h, query tile q0..q0+BQ-1: its Q, dO rows into
// stage `stage` of sQO, its lse, delta into stage `stage` of sLD (shared addresses); one commit.
// SWZ: the tiles in the 128-byte swizzle (attention_sm90.cuh), else rows of D + PAD bf16.
template <int D, int BQ, int NT, bool SWZ = false>
__device__ __forceinline__ void alto_attn_dkdv_load_(const alto_attn_args &a, unsigned sQO,
                                                     unsigned sLD, int stage, alto_i64 h, int q0,
                                                     alto_i64 b) {
  constexpr unsigned TB = BQ * 2 * (SWZ ? D : D + ALTO_ATTN_PAD); /* bytes of one Q or dO tile */
  const int T = (int)a.T;
  const alto_idx qs = a.H * D, qo = ((alto_idx)b * T + q0) * qs + h * D;
  const unsigned sq = sQO + (unsigned)stage * 2 * TB;
  alto_attn_load_rows_<BQ, D, NT, SWZ>(sq, a.q + qo, qs, T - q0);
  alto_attn_load_rows_<BQ, D, NT, SWZ>(sq + TB, a.dout + qo, qs, T - q0);
  const alto_idx lo = ((alto_idx)b * a.H + h) * T + q0;
  const unsigned sl = sLD + (unsigned)(stage * 2 * BQ * 4); /* lse then delta */
  for (int i = threadIdx.x; i < 2 * BQ; i += NT) {
    int k = i % BQ;
    bool ok = k < T - q0;
    alto_attn_cp4_(sl + i * 4, (i < BQ ? a.lse : a.delta) + lo + (ok ? k : 0), ok);
  }
  alto_attn_cp_commit_();
}

// The key block a dkdv CTA owns (grid: 1-D, ceil(T / BN) * G * B CTAs, key blocks from the first
// one up: causal, the keys that the most queries see start first) and the query tiles of BQ rows
// that see its keys: q0 = qfirst, qfirst + BQ, .. < qend, for each of the kv head's H / G query
// heads.
struct alto_attn_ktile_ {
  int T, window, n0, qfirst, qend;
  alto_i64 b, kvh, rep; /* batch, kv head, query heads per kv head */
};
template <bool CAUSAL, int BN, int BQ>
__device__ __forceinline__ alto_attn_ktile_ alto_attn_ktile_of_(const alto_attn_args &a) {
  alto_attn_ktile_ k;
  k.T = (int)a.T, k.window = a.window >= a.T ? 0 : (int)a.window;
  const alto_i64 bg = a.B * a.G;
  k.rep = a.H / a.G;
  k.n0 = (int)(blockIdx.x / bg) * BN;
  k.kvh = blockIdx.x % bg % a.G, k.b = blockIdx.x % bg / a.G;
  /* queries that see a key of [n0, n0 + BN): t >= n0 (causal), t < n0 + BN - 1 + window */
  const int tlo = CAUSAL ? k.n0 : 0;
  k.qfirst = tlo / BQ * BQ;
  k.qend = k.window > 0 && k.n0 + BN - 1 + k.window < k.T ? k.n0 + BN - 1 + k.window : k.T;
  return k;
}

// dkdv's step after (query head h, query tile q0): the next tile of h, else h + 1's first.
template <int BQ>
__device__ __forceinline__ void alto_attn_dkdv_next_(const alto_attn_ktile_ &kt, alto_i64 &h,
                                                     int &q0) {
  q0 += BQ;
  if (q0 >= kt.qend)
    q0 = kt.qfirst, h++;
}

// dkdv's end for a warp's 16 keys n0 + wrow..: dK (times the score scale) and dV as bf16, keys
// past T skipped.
template <int D>
__device__ __forceinline__ void alto_attn_dkdv_store_(const alto_attn_args &a,
                                                      const alto_attn_ktile_ &kt, int wrow,
                                                      const float (&dk)[D / 8][4],
                                                      const float (&dv)[D / 8][4]) {
  const alto_idx kvs = a.G * D, kvo = ((alto_idx)kt.b * kt.T + kt.n0) * kvs + kt.kvh * D;
  const float scale = 1.f / sqrtf((float)D), one[2] = {1.f, 1.f}, sc[2] = {scale, scale};
  alto_attn_store_rows_<D / 8>(a.dk + kvo, kvs, wrow, kt.T - kt.n0, dk, sc);
  alto_attn_store_rows_<D / 8>(a.dv + kvo, kvs, wrow, kt.T - kt.n0, dv, one);
}

// dkdv's query tile q0.. for a warp's 16 keys (this lane's key0, key0 + 8): P^T = 2^(S^T sl2 -
// lse) (0 where not visible unless `full`) in place of the scores p, and dS^T = P^T (dP^T - delta)
// in place of dP^T (fp32; the caller rounds both to bf16 for P^T dO and dS^T Q). sL, sD: the
// tile's lse and delta (BQ fp32 each, shared memory).
template <bool CAUSAL, int NQT>
__device__ __forceinline__ void alto_attn_dkdv_ds_(float (&p)[NQT][4], float (&ds)[NQT][4],
                                                   const float *sL, const float *sD, bool full,
                                                   int key0, int q0, int T, int window, float sl2) {
  const int t4 = threadIdx.x & 3;
#pragma unroll
  for (int j = 0; j < NQT; j++) {
    const int qi = j * 8 + 2 * t4; /* this lane's two query columns qi, qi + 1 */
    const float2 l2 = *(const float2 *)(sL + qi), dl = *(const float2 *)(sD + qi);
    const float ls[2] = {l2.x * ALTO_ATTN_LOG2E, l2.y * ALTO_ATTN_LOG2E}, dd[2] = {dl.x, dl.y};
#pragma unroll
    for (int e = 0; e < 4; e++) {
      float pe = alto_attn_exp2_(fmaf(p[j][e], sl2, -ls[e & 1]));
      if (!full && !alto_attn_visible_<CAUSAL>(q0 + qi + (e & 1), key0 + 8 * (e >> 1), T, window))
        pe = 0.f;
      p[j][e] = pe;
      ds[j][e] = pe * (ds[j][e] - dd[e & 1]);
    }
  }
}

// Dynamic shared memory: K, V (BN rows each), stages 0 and 1 of Q, dO (BQ rows each; rows of
// D + PAD bf16), stages 0 and 1 of lse, delta (BQ fp32 each).
//
// Grid: 1-D, ceil(T / BN) * G * B CTAs, key blocks from the first one up (causal: the keys that
// the most queries see start first). Steps: (query head, query tile) pairs in that order; step
// i + 1's Q, dO, lse, delta are copied while step i computes.
template <int D, bool CAUSAL, int BN, int BQ>
__device__ __forceinline__ void alto_attn_bwd_dkdv(const alto_attn_args &a) {
  constexpr int NT = BN / 16 * 32, S = D + ALTO_ATTN_PAD, KC = D / 16, NDT = D / 8, NQT = BQ / 8;
  constexpr int STAGE = 2 * BQ * S; /* bf16 elements of one Q, dO stage */
  constexpr bool KV_REGS = D <= 64; /* hold the K, V fragments in registers (D 128: reload) */
  static_assert(D % 16 == 0 && BN % 16 == 0 && BQ % 16 == 0, "tile shapes");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sK = (alto_u16 *)alto_attn_smem_, *sV = sK + BN * S, *sQO = sV + BN * S;
  float *sLD = (float *)(sQO + 2 * STAGE);
  const alto_attn_ktile_ kt = alto_attn_ktile_of_<CAUSAL, BN, BQ>(a);
  const int T = kt.T, window = kt.window, n0 = kt.n0, qfirst = kt.qfirst;
  const alto_i64 rep = kt.rep, kvh = kt.kvh, b = kt.b;
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2;
  const alto_idx kvs = a.G * D;
  const float sl2 = 1.f / sqrtf((float)D) * ALTO_ATTN_LOG2E;

  const alto_idx kvo = ((alto_idx)b * T + n0) * kvs + kvh * D;
  const unsigned sKa = alto_attn_saddr_(sK), sVa = alto_attn_saddr_(sV);
  const unsigned sQOa = alto_attn_saddr_(sQO), sLDa = alto_attn_saddr_(sLD);
  alto_attn_load_rows_<BN, D, NT>(sKa, a.k + kvo, kvs, T - n0);
  alto_attn_load_rows_<BN, D, NT>(sVa, a.v + kvo, kvs, T - n0);
  alto_attn_dkdv_load_<D, BQ, NT>(a, sQOa, sLDa, 0, kvh * rep, qfirst, b);

  float dk[NDT][4], dv[NDT][4];
  alto_attn_zero_<NDT>(dk);
  alto_attn_zero_<NDT>(dv);
  const int key0 = n0 + warp * 16 + g; /* this lane's keys: key0, key0 + 8 */
  const unsigned ka0 = sKa + alto_attn_lane_a_<S>(), va0 = sVa + alto_attn_lane_a_<S>();
  const unsigned qo0 = sQOa, lbn = alto_attn_lane_bn_<S>();
  const unsigned lbk = alto_attn_lane_bk_<S>();
  alto_u32 ka[KC][4], va[KC][4];

  /* steps: (query head h, query tile q0) in order; (hn, qn) is the next step's */
  alto_i64 h = kvh * rep, hn = h;
  int q0 = qfirst, qn = qfirst;
  for (int st = 0; h < (kvh + 1) * rep; st++, h = hn, q0 = qn) {
    alto_attn_cp_wait_all_(); /* this thread's copies of step st (and of K, V) */
    __syncthreads();          /* everyone's; and every warp is done with step st - 1's stage */
    alto_attn_dkdv_next_<BQ>(kt, hn, qn);
    if (hn < (kvh + 1) * rep)
      alto_attn_dkdv_load_<D, BQ, NT>(a, sQOa, sLDa, (st + 1) & 1, hn, qn, b);
    if (st == 0 || !KV_REGS)
#pragma unroll
      for (int kc = 0; kc < KC; kc++) {
        alto_attn_ld_a_<S>(ka[kc], ka0, warp * 16, kc * 16);
        alto_attn_ld_a_<S>(va[kc], va0, warp * 16, kc * 16);
      }
    const unsigned sq = qo0 + (unsigned)((st & 1) * STAGE * 2), so = sq + BQ * S * 2;
    const float *sL = sLD + (st & 1) * 2 * BQ, *sD = sL + BQ;

    float p[NQT][4], ds[NQT][4]; /* S^T then P^T; dP^T then dS^T: keys x queries */
    alto_attn_zero_<NQT>(p);
    alto_attn_zero_<NQT>(ds);
    alto_attn_mma_bn_<S, KC, NQT>(p, ka, sq + lbn);  /* S^T = K Q^T */
    alto_attn_mma_bn_<S, KC, NQT>(ds, va, so + lbn); /* dP^T = V dO^T */
    const bool full = alto_attn_tile_full_<CAUSAL>(q0, BQ, n0, BN, T, window);
    alto_attn_dkdv_ds_<CAUSAL, NQT>(p, ds, sL, sD, full, key0, q0, T, window, sl2);
    alto_attn_mma_ck_<S, BQ / 16, NDT>(dv, p, so + lbk);  /* dV += P^T dO */
    alto_attn_mma_ck_<S, BQ / 16, NDT>(dk, ds, sq + lbk); /* dK += dS^T Q */
  }
  alto_attn_dkdv_store_<D>(a, kt, warp * 16, dk, dv);
}

// dq's statistics of this lane's rows row0, row0 + 8 of query head h: lse in log2 units and
// delta (0 past T).
__device__ __forceinline__ void alto_attn_dq_rows_(const alto_attn_args &a, alto_i64 b, alto_i64 h,
                                                   int row0, float (&lse2)[2], float (&dl)[2]) {
#pragma unroll
  for (int r = 0; r < 2; r++) {
    bool in = row0 + 8 * r < a.T;
    alto_idx li = ((alto_idx)b * a.H + h) * a.T + row0 + 8 * r;
    lse2[r] = in ? a.lse[li] * ALTO_ATTN_LOG2E : 0.f;
    dl[r] = in ? a.delta[li] : 0.f;
  }
}

// dq's key tile n0.. for a warp's 16 query rows: P = 2^(S sl2 - lse2) (0 where not visible unless
// `full`) from the scores s, then dS = P (dP - delta) in place of dP (fp32; the caller rounds dS
// to bf16 for dS K).
template <bool CAUSAL, int NKT>
__device__ __forceinline__ void alto_attn_dq_ds_(const float (&s)[NKT][4], float (&ds)[NKT][4],
                                                 const float (&lse2)[2], const float (&dl)[2],
                                                 bool full, int row0, int n0, int T, int window,
                                                 float sl2) {
  const int t4 = threadIdx.x & 3;
#pragma unroll
  for (int j = 0; j < NKT; j++)
#pragma unroll
    for (int e = 0; e < 4; e++) {
      float pe = alto_attn_exp2_(fmaf(s[j][e], sl2, -lse2[e >> 1]));
      const int col = n0 + j * 8 + 2 * t4 + (e & 1);
      if (!full && !alto_attn_visible_<CAUSAL>(row0 + 8 * (e >> 1), col, T, window))
        pe = 0.f;
      ds[j][e] = pe * (ds[j][e] - dl[e >> 1]);
    }
}

// Dynamic shared memory: Q, dO (BM rows each), then stages 0 and 1 of K, V (BN rows each); rows of
// D + PAD bf16.
//
// Grid: 1-D, ceil(T / BM) * H * B CTAs, the query tiles from the last one down (as the forward).
template <int D, bool CAUSAL, int BM, int BN>
__device__ __forceinline__ void alto_attn_bwd_dq(const alto_attn_args &a) {
  constexpr int NT = BM / 16 * 32, S = D + ALTO_ATTN_PAD, KC = D / 16, NDT = D / 8, NKT = BN / 8;
  constexpr int STAGE = 2 * BN * S; /* bf16 elements of one K, V stage */
  constexpr bool QO_REGS = D <= 64; /* hold the Q, dO fragments in registers (D 128: reload) */
  static_assert(D % 16 == 0 && BM % 16 == 0 && BN % 16 == 0, "tile shapes");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sQ = (alto_u16 *)alto_attn_smem_, *sO = sQ + BM * S, *sKV = sO + BM * S;
  const alto_attn_qtile_ qt = alto_attn_qtile_of_<CAUSAL, BM, BN>(a);
  const int T = qt.T, window = qt.window, m0 = qt.m0, nfirst = qt.nfirst, ntiles = qt.ntiles;
  const alto_i64 H = a.H, G = a.G, h = qt.h, b = qt.b, kvh = qt.kvh;
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2;
  const alto_idx qs = H * D, kvs = G * D;
  const float scale = 1.f / sqrtf((float)D), sl2 = scale * ALTO_ATTN_LOG2E;

  const alto_u16 *kb = a.k + (alto_idx)b * T * kvs + kvh * D;
  const alto_u16 *vb = a.v + (alto_idx)b * T * kvs + kvh * D;

  const alto_idx qo = ((alto_idx)b * T + m0) * qs + h * D;
  const unsigned sQa = alto_attn_saddr_(sQ), sOa = alto_attn_saddr_(sO);
  const unsigned kva = alto_attn_saddr_(sKV);
  alto_attn_load_rows_<BM, D, NT>(sQa, a.q + qo, qs, T - m0);
  alto_attn_load_rows_<BM, D, NT>(sOa, a.dout + qo, qs, T - m0);
  alto_attn_load_rows_<BN, D, NT>(kva, kb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_load_rows_<BN, D, NT>(kva + BN * S * 2, vb + nfirst * kvs, kvs, T - nfirst);
  alto_attn_cp_commit_();
  const int row0 = m0 + warp * 16 + g; /* this lane's rows: row0, row0 + 8 */
  float lse2[2], dl[2];
  alto_attn_dq_rows_(a, b, h, row0, lse2, dl);
  float dq[NDT][4];
  alto_attn_zero_<NDT>(dq);
  const unsigned qa0 = sQa + alto_attn_lane_a_<S>(), oa0 = sOa + alto_attn_lane_a_<S>();
  const unsigned lbn = alto_attn_lane_bn_<S>();
  const unsigned lbk = alto_attn_lane_bk_<S>();
  alto_u32 qa[KC][4], oa[KC][4];

  for (int it = 0; it < ntiles; it++) {
    const int n0 = nfirst + it * BN;
    alto_attn_cp_wait_all_(); /* this thread's copies of tile it (and of Q, dO) */
    __syncthreads();          /* everyone's; and every warp is done with tile it - 1's stage */
    if (it + 1 < ntiles) {
      const unsigned next = kva + (unsigned)(((it + 1) & 1) * STAGE * 2);
      alto_attn_load_rows_<BN, D, NT>(next, kb + (alto_idx)(n0 + BN) * kvs, kvs, T - n0 - BN);
      alto_attn_load_rows_<BN, D, NT>(next + BN * S * 2, vb + (alto_idx)(n0 + BN) * kvs, kvs,
                                      T - n0 - BN);
      alto_attn_cp_commit_();
    }
    if (it == 0 || !QO_REGS)
#pragma unroll
      for (int kc = 0; kc < KC; kc++) {
        alto_attn_ld_a_<S>(qa[kc], qa0, warp * 16, kc * 16);
        alto_attn_ld_a_<S>(oa[kc], oa0, warp * 16, kc * 16);
      }
    const unsigned sk = kva + (unsigned)((it & 1) * STAGE * 2), sv = sk + BN * S * 2;

    float p[NKT][4], ds[NKT][4]; /* S then P; dP then dS: queries x keys */
    alto_attn_zero_<NKT>(p);
    alto_attn_zero_<NKT>(ds);
    alto_attn_mma_bn_<S, KC, NKT>(p, qa, sk + lbn);  /* S = Q K^T */
    alto_attn_mma_bn_<S, KC, NKT>(ds, oa, sv + lbn); /* dP = dO V^T */
    const bool full = alto_attn_tile_full_<CAUSAL>(m0, BM, n0, BN, T, window);
    alto_attn_dq_ds_<CAUSAL, NKT>(p, ds, lse2, dl, full, row0, n0, T, window, sl2);
    alto_attn_mma_ck_<S, BN / 16, NDT>(dq, ds, sk + lbk); /* dQ += dS K */
  }
  const float sc[2] = {scale, scale};
  alto_attn_store_rows_<NDT>(a.dq + qo, qs, warp * 16, T - m0, dq, sc);
}

#endif
