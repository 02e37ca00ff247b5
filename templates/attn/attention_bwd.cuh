// attention_bwd.cuh: FlashAttention-2 style backward, deterministic (no float atomics; every
// output element is summed in one fixed order, so runs are bit-identical). The default is two
// kernels:
//   alto_attn_bwd_delta: delta = rowsum(dO * O) per (b, h, t), fp32; zeroes the counters below.
//   alto_attn_bwd_dkdv<DQ = true> (bwd_dkdvdq): one CTA per BN keys of one (b, kv head): loops over
//                        the query tiles (BQ) that see its keys and the kv head's H / G query
//                        heads; recomputes P^T = exp(K Q^T scale - lse), dV += P^T dO, dP^T = V
//                        dO^T, dS^T = P^T (dP^T - delta), dK += dS^T Q (times scale at the end),
//                        and the step's part of dQ = dS K, summed over the key blocks in a fixed
//                        order through an fp32 scratch (the last block writes dQ).
// and the older split (kept for comparison; tuning selects it): bwd_dkdv (DQ = false) plus
//   alto_attn_bwd_dq:    one CTA per BM queries of one (b, h): loops over the key tiles (BN) the
//                        queries see; recomputes S and dP; dQ += dS K (times scale).
// P and dS enter the second MMA of each pair rounded to bf16 (as FlashAttention-2); everything
// else accumulates in fp32. Warps own 16 rows (keys in dkdv, queries in dq); the streamed tiles
// (Q, dO, lse, delta in dkdv; K, V in dq) go through cp.async rings, fragments are read with
// ldmatrix.
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
  if (a.sem) { /* bwd_dkdvdq's counters start at zero */
    const alto_i64 n = ALTO_ATTN_SEM_COUNT(a.B, a.T, a.H), step = (alto_i64)gridDim.x * NT;
    for (alto_i64 i = (alto_i64)blockIdx.x * NT + threadIdx.x; i < n; i += step)
      a.sem[i] = 0;
  }
}

// Starts the copies of dkdv's step for query head h, query tile q0..q0+BQ-1: its Q, dO rows into
// ring slot `slot` of sQO, its lse, delta into slot `slot` of sLD (shared addresses).
template <int D, int BQ, int NT>
__device__ __forceinline__ void alto_attn_dkdv_load_(const alto_attn_args &a, unsigned sQO,
                                                     unsigned sLD, int slot, alto_i64 h, int q0,
                                                     alto_i64 b) {
  constexpr int S = D + ALTO_ATTN_PAD;
  const int T = (int)a.T;
  const alto_idx qs = a.H * D, qo = ((alto_idx)b * T + q0) * qs + h * D;
  const unsigned sq = sQO + (unsigned)(slot * 2 * BQ * S * 2);
  alto_attn_load_rows_<BQ, D, NT>(sq, a.q + qo, qs, T - q0);
  alto_attn_load_rows_<BQ, D, NT>(sq + BQ * S * 2, a.dout + qo, qs, T - q0);
  const alto_idx lo = ((alto_idx)b * a.H + h) * T + q0;
  const unsigned sl = sLD + (unsigned)(slot * 2 * BQ * 4); /* lse then delta */
  for (int i = threadIdx.x; i < 2 * BQ; i += NT) {
    int k = i % BQ;
    bool ok = k < T - q0;
    alto_attn_cp4_(sl + i * 4, (i < BQ ? a.lse : a.delta) + lo + (ok ? k : 0), ok);
  }
}

// dK, dV (and with DQ, dQ) of BN keys of one (batch, kv head). Dynamic shared memory: K, V (BN rows
// each), NS ring slots of Q, dO (BQ rows each; rows of D + PAD bf16), NS slots of lse, delta (BQ
// fp32 each); with DQ also dS^T (BN rows of BQ + PAD bf16) and 16 bytes for the work ticket.
//
// Grid: 1-D, ceil(T / BN) * G * B CTAs, key blocks from the first one up (causal: the keys that
// the most queries see start first). Steps: the query tiles that see the block from the last one
// down, the kv head's H / G query heads innermost; step i + NS - 1's Q, dO, lse, delta are copied
// while step i computes. Per step (16 keys per warp, K and V fragments in registers for D <= 64):
// S^T = K Q^T, dP^T = V dO^T, P^T = exp(S^T scale - lse), dS^T = P^T (dP^T - delta) (P, dS
// rounded to bf16 once, the A fragments of the next products), dV += P^T dO, dK += dS^T Q.
//
// DQ (bwd_dkdvdq, no separate dQ pass): dS^T also goes to shared memory and the warps compute
// the step's partial dQ = dS K (BQ x D; WQ x WD warps of 16 MQ rows x 8 NDQ columns), which is
// summed into the fp32 scratch dq_acc in a fixed order: for every (batch, query head, query tile)
// the key blocks that see it add their parts in ascending order, the first one storing, the last
// one (the diagonal block) writing dQ (bf16, times the scale) instead. A counter per (batch, query
// head, query tile) says how many key blocks are done with it. Thread 0 waits for the step's turn
// (acquire) before the step's second barrier, and releases the previous step's counter there
// (its stores came before the first barrier, so the release's fence finds them done); the last
// contributor resets the counter to 0 for the next launch. At a tile's first head one look at
// the last head's counter usually settles the whole tile (the block before releases its heads in
// order), so a CTA that is not right behind its predecessor polls once per tile. The step's
// scratch rows are read before dV and dK (their latency behind those products) and written after
// dQ. No float atomics: every sum has one order, so runs are bit-identical.
//
// The order matches the arrival order: the key blocks of a kv head start together (heaviest, i.e.
// lowest, first) and all walk the query tiles from the last one down, so block k reaches a (tile,
// head) a step or so after block k - 1, and blocks that start later find it done. CTAs take their
// work items by a ticket (an atomic counter: the order they started in), so a CTA only ever waits
// for work started before its own: no deadlock whatever order the hardware launches CTAs in.
template <int D, bool CAUSAL, int BN, int BQ, int NS, bool DQ>
__device__ __forceinline__ void alto_attn_bwd_dkdv(const alto_attn_args &a) {
  constexpr int NW = BN / 16, NT = NW * 32, S = D + ALTO_ATTN_PAD, KC = D / 16, NDT = D / 8,
                NQT = BQ / 8, QC = BQ / 16;
  constexpr int STAGE = 2 * BQ * S;      /* bf16 elements of one Q, dO slot */
  constexpr bool KV_REGS = D <= 64;      /* hold the K, V fragments in registers (D 128: reload) */
  constexpr int SD = BQ + ALTO_ATTN_PAD; /* dS^T rows (bf16) */
  /* dQ = dS K: WQ warps along the queries (MQ m-tiles each) times WD along the head dim (NDQ
   * n-tiles each) */
  constexpr int WQ = QC < NW ? QC : NW, WD = NW / WQ, MQ = DQ ? QC / WQ : 1,
                NDQ = DQ ? D / WD / 8 : 2;
  static_assert(D % 16 == 0 && BN % 16 == 0 && BQ % 16 == 0 && NS >= 2, "tile shapes");
  static_assert(!DQ || (NW % WQ == 0 && QC % WQ == 0 && NDQ % 2 == 0), "dQ warp tiling");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sK = (alto_u16 *)alto_attn_smem_, *sV = sK + BN * S, *sQO = sV + BN * S;
  float *sLD = (float *)(sQO + NS * STAGE);
  alto_u16 *sDS = (alto_u16 *)(sLD + NS * 2 * BQ);
  const int T = (int)a.T, window = a.window >= a.T ? 0 : (int)a.window;
  const alto_i64 H = a.H, G = a.G, rep = H / G, bg = a.B * G;
  alto_i64 work = blockIdx.x;
  if (DQ) {
    alto_u32 *slot = (alto_u32 *)(sDS + BN * SD);
    if (threadIdx.x == 0) {
      const alto_u32 t = alto_attn_ticket_(a.sem);
      if (t == gridDim.x - 1)
        alto_attn_st_relaxed_(a.sem, 0); /* every ticket is taken: reset for the next launch */
      *slot = t;
    }
    __syncthreads();
    work = *slot;
  }
  const int nb = (int)(work / bg), n0 = nb * BN;
  const alto_i64 kvh = work % bg % G, b = work % bg / G;
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t4 = threadIdx.x & 3;
  const alto_idx kvs = G * D, qs = H * D;
  const float scale = 1.f / sqrtf((float)D), sl2 = scale * ALTO_ATTN_LOG2E;

  /* the query tiles that see a key of [n0, n0 + BN): from the tile of n0 (causal) up to the one
   * of n0 + BN - 2 + window (window) or T - 1; steps walk them from the top down */
  const int tlo = CAUSAL ? n0 / BQ * BQ : 0;
  const int thi = window > 0 && n0 + BN - 1 + window < T ? n0 + BN - 1 + window : T;
  const int qtop = tlo + (thi - tlo - 1) / BQ * BQ;
  const int nsteps = ((qtop - tlo) / BQ + 1) * (int)rep;
  const alto_i64 h0 = kvh * rep, hend = h0 + rep;

  const alto_idx kvo = ((alto_idx)b * T + n0) * kvs + kvh * D;
  const unsigned sKa = alto_attn_saddr_(sK), sVa = alto_attn_saddr_(sV);
  const unsigned sQOa = alto_attn_saddr_(sQO), sLDa = alto_attn_saddr_(sLD);
  alto_attn_load_rows_<BN, D, NT>(sKa, a.k + kvo, kvs, T - n0);
  alto_attn_load_rows_<BN, D, NT>(sVa, a.v + kvo, kvs, T - n0);
  /* prologue: steps 0 .. NS - 2, one commit group each (K, V go with step 0); (hl, ql): the next
   * step to copy */
  alto_i64 hl = h0;
  int ql = qtop;
#pragma unroll
  for (int i = 0; i < NS - 1; i++) {
    if (i < nsteps) {
      alto_attn_dkdv_load_<D, BQ, NT>(a, sQOa, sLDa, i, hl, ql, b);
      if (++hl == hend)
        hl = h0, ql -= BQ;
    }
    alto_attn_cp_commit_();
  }

  float dk[NDT][4], dv[NDT][4];
  alto_attn_zero_<NDT>(dk);
  alto_attn_zero_<NDT>(dv);
  const unsigned ka0 = sKa + alto_attn_lane_a_<S>(), va0 = sVa + alto_attn_lane_a_<S>();
  const unsigned lbn = alto_attn_lane_bn_<S>(), lbk = alto_attn_lane_bk_<S>();
  alto_u32 ka[KC][4], va[KC][4];
  /* DQ: this CTA's counters (query tile q0, head h0 + i at (q0 / BQ) rep + i), the one to release
   * at the next step's second barrier (-1: none; the last contributor resets it), and whether the
   * block before this one is known to be done with every head of the current tile */
  alto_u32 *cnt = DQ ? a.sem + 1 + (b * G + kvh) * ((T + 15) / 16) * rep : nullptr;
  alto_i64 rel = -1;
  bool rel_last = false, tile_ready = false;

  alto_i64 h = h0;
  int q0 = qtop, slot = 0;
  for (int st = 0; st < nsteps; st++) {
    alto_attn_cp_wait_<NS - 2>(); /* this thread's copies of step st (and of K, V) */
    __syncthreads(); /* everyone's; every warp is done with step st - 1 (its slot, dS^T, stores) */
    if (st + NS - 1 < nsteps) {
      alto_attn_dkdv_load_<D, BQ, NT>(a, sQOa, sLDa, slot == 0 ? NS - 1 : slot - 1, hl, ql, b);
      if (++hl == hend)
        hl = h0, ql -= BQ;
    }
    alto_attn_cp_commit_();
    if (KV_REGS && st == 0)
#pragma unroll
      for (int kc = 0; kc < KC; kc++) {
        alto_attn_ld_a_<S>(ka[kc], ka0, warp * 16, kc * 16);
        alto_attn_ld_a_<S>(va[kc], va0, warp * 16, kc * 16);
      }
    const unsigned sq = sQOa + (unsigned)(slot * STAGE * 2), so = sq + BQ * S * 2;
    const float *sL = sLD + slot * 2 * BQ, *sD = sL + BQ;
    slot = slot + 1 == NS ? 0 : slot + 1;

    /* P^T and dS^T (keys x queries) as bf16 A fragments */
    alto_u32 pa[QC][4], dsa[QC][4];
    {
      float p[NQT][4], ds[NQT][4]; /* S^T then P^T; dP^T then dS^T */
      alto_attn_zero_<NQT>(p);
      alto_attn_zero_<NQT>(ds);
      if (!KV_REGS)
#pragma unroll
        for (int kc = 0; kc < KC; kc++) {
          alto_attn_ld_a_<S>(ka[kc], ka0, warp * 16, kc * 16);
          alto_attn_ld_a_<S>(va[kc], va0, warp * 16, kc * 16);
        }
      alto_attn_mma_bn_<S, KC, NQT>(p, ka, sq + lbn);  /* S^T = K Q^T */
      alto_attn_mma_bn_<S, KC, NQT>(ds, va, so + lbn); /* dP^T = V dO^T */
      /* a tile all of whose queries see every key of the warp needs no mask */
      const bool full = alto_attn_tile_full_<CAUSAL>(q0, BQ, n0 + warp * 16, 16, T, window);
      const alto_attn_vis_<CAUSAL, true> vis(n0 + warp * 16, q0, T, window);
#pragma unroll
      for (int j = 0; j < NQT; j++) {
        const int qi = j * 8 + 2 * t4; /* this lane's two query columns qi, qi + 1 */
        const float2 l2 = *(const float2 *)(sL + qi), dl = *(const float2 *)(sD + qi);
        const float ls[2] = {l2.x * ALTO_ATTN_LOG2E, l2.y * ALTO_ATTN_LOG2E}, dd[2] = {dl.x, dl.y};
#pragma unroll
        for (int e = 0; e < 4; e++) {
          float pe = alto_attn_exp2_(fmaf(p[j][e], sl2, -ls[e & 1]));
          if (!full && !vis(0, j, e))
            pe = 0.f;
          p[j][e] = pe;
          ds[j][e] = pe * (ds[j][e] - dd[e & 1]);
        }
      }
      alto_attn_pack_a_<QC>(pa, p);
      alto_attn_pack_a_<QC>(dsa, ds);
    }

    /* DQ: the tile's order (key blocks fb .. lb add in turn) and its scratch rows */
    const int fb = window > 0 && q0 - window + 1 > 0 ? (q0 - window + 1) / BN : 0;
    const int lb = (CAUSAL && q0 + BQ - 1 < T - 1 ? q0 + BQ - 1 : T - 1) / BN;
    const int turn = nb - fb; /* key blocks before this one in the tile's order */
    const int wq = warp % WQ, wd = warp / WQ;
    const int qr0 = q0 + wq * MQ * 16 + g, c0 = wd * NDQ * 8 + 2 * t4; /* + 16 m + 8 i, + 8 j */
    float *acc_rows = DQ ? a.dq_acc + (b * H + h) * T * D : nullptr;
    float2 acc[MQ][NDQ][2];
    if (DQ) {
      /* dS^T to shared memory: row = key, column = query (4-byte stores, conflict-free) */
      alto_u16 *dsr = sDS + (warp * 16 + g) * SD + 2 * t4;
#pragma unroll
      for (int kc = 0; kc < QC; kc++) {
        *(alto_u32 *)(dsr + kc * 16) = dsa[kc][0];
        *(alto_u32 *)(dsr + 8 * SD + kc * 16) = dsa[kc][1];
        *(alto_u32 *)(dsr + kc * 16 + 8) = dsa[kc][2];
        *(alto_u32 *)(dsr + 8 * SD + kc * 16 + 8) = dsa[kc][3];
      }
      if (threadIdx.x == 0) {
        /* release the previous step's (tile, head) (its stores came before the first barrier and
         * are long done, so the release's fence is cheap here) */
        if (rel >= 0) {
          if (rel_last)
            alto_attn_st_relaxed_(cnt + rel, 0);
          else
            alto_attn_red_release_(cnt + rel, 1);
        }
        /* wait for the block before this one to be done with (tile, head); at the tile's first
         * head one look at its last head's counter usually settles the whole tile */
        const alto_idx c = (alto_idx)(q0 / BQ) * rep;
        if (turn > 0 && h == h0)
          tile_ready = alto_attn_ld_acquire_(cnt + c + rep - 1) == (alto_u32)turn;
        if (turn > 0 && !tile_ready)
          alto_attn_wait_eq_(cnt + c + (h - h0), (alto_u32)turn);
        rel = c + (h - h0);
      }
      __syncthreads(); /* dS^T complete; the step's earlier parts are in dq_acc */
#pragma unroll
      for (int m = 0; m < MQ; m++)
#pragma unroll
        for (int i = 0; i < 2; i++) {
          const int r = qr0 + 16 * m + 8 * i;
#pragma unroll
          for (int j = 0; j < NDQ; j++)
            acc[m][j][i] = turn > 0 && r < T
                               ? alto_attn_ld_cg2_(acc_rows + (alto_idx)r * D + c0 + 8 * j)
                               : float2{0.f, 0.f};
        }
    }

    alto_attn_mma_bk_<S, QC, NDT>(dv, pa, so + lbk);  /* dV += P^T dO */
    alto_attn_mma_bk_<S, QC, NDT>(dk, dsa, sq + lbk); /* dK += dS^T Q */

    if (DQ) {
      float dq[MQ][NDQ][4]; /* dQ = dS K: A = (dS^T)^T by ldmatrix.trans, B = K (k-major) */
#pragma unroll
      for (int m = 0; m < MQ; m++)
        alto_attn_zero_<NDQ>(dq[m]);
      const unsigned dsl = alto_attn_saddr_(sDS) + alto_attn_lane_bn_<SD>(), kl = sKa + lbk;
#pragma unroll
      for (int kc = 0; kc < BN / 16; kc++) {
        alto_u32 af[MQ][4];
#pragma unroll
        for (int m = 0; m < MQ; m++)
          alto_attn_ld_at_<SD>(af[m], dsl, (wq * MQ + m) * 16, kc * 16);
#pragma unroll
        for (int j = 0; j < NDQ; j += 2) {
          alto_u32 bf[2][2];
          alto_attn_ld_bk2_<S>(bf, kl, kc * 16, wd * NDQ * 8 + j * 8);
#pragma unroll
          for (int m = 0; m < MQ; m++) {
            alto_attn_mma_(dq[m][j], af[m], bf[0]);
            alto_attn_mma_(dq[m][j + 1], af[m], bf[1]);
          }
        }
      }
      /* this block's part after the earlier ones: fp32 to the scratch, or (the last) dQ */
      const bool last = nb == lb;
#pragma unroll
      for (int m = 0; m < MQ; m++)
#pragma unroll
        for (int i = 0; i < 2; i++) {
          const int r = qr0 + 16 * m + 8 * i;
          if (r >= T)
            continue;
#pragma unroll
          for (int j = 0; j < NDQ; j++) {
            const float x = acc[m][j][i].x + dq[m][j][2 * i],
                        y = acc[m][j][i].y + dq[m][j][2 * i + 1];
            if (last)
              *(alto_u32 *)(a.dq + ((alto_idx)b * T + r) * qs + h * D + c0 + 8 * j) =
                  alto_attn_pack_f32_(x * scale, y * scale);
            else
              *(float2 *)(acc_rows + (alto_idx)r * D + c0 + 8 * j) = float2{x, y};
          }
        }
      rel_last = last;
    }
    if (++h == hend)
      h = h0, q0 -= BQ;
  }
  if (DQ) {
    __syncthreads();
    if (threadIdx.x == 0) {
      if (rel_last)
        alto_attn_st_relaxed_(cnt + rel, 0);
      else
        alto_attn_red_release_(cnt + rel, 1);
    }
  }
  const float one[2] = {1.f, 1.f}, sc[2] = {scale, scale};
  alto_attn_store_rows_<NDT>(a.dk + kvo, kvs, warp * 16, T - n0, dk, sc);
  alto_attn_store_rows_<NDT>(a.dv + kvo, kvs, warp * 16, T - n0, dv, one);
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
  const int T = (int)a.T, window = a.window >= a.T ? 0 : (int)a.window;
  const alto_i64 H = a.H, G = a.G, bh = a.B * H;
  const int m0 = ((T + BM - 1) / BM - 1 - (int)(blockIdx.x / bh)) * BM;
  const alto_i64 h = blockIdx.x % bh % H, b = blockIdx.x % bh / H, kvh = h / (H / G);
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t4 = threadIdx.x & 3;
  const alto_idx qs = H * D, kvs = G * D;
  const float scale = 1.f / sqrtf((float)D), sl2 = scale * ALTO_ATTN_LOG2E;

  const int hi = CAUSAL ? (m0 + BM < T ? m0 + BM : T) : T;
  const int nfirst = (window > 0 && m0 - window + 1 > 0 ? m0 - window + 1 : 0) / BN * BN;
  const int ntiles = (hi - nfirst + BN - 1) / BN;
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
#pragma unroll
  for (int r = 0; r < 2; r++) {
    bool in = row0 + 8 * r < T;
    alto_idx li = ((alto_idx)b * H + h) * T + row0 + 8 * r;
    lse2[r] = in ? a.lse[li] * ALTO_ATTN_LOG2E : 0.f;
    dl[r] = in ? a.delta[li] : 0.f;
  }
  float dq[NDT][4];
  alto_attn_zero_<NDT>(dq);
  const unsigned qa0 = sQa + alto_attn_lane_a_<S>(), oa0 = sOa + alto_attn_lane_a_<S>();
  const unsigned lbn = alto_attn_lane_bn_<S>();
  const unsigned lbk = alto_attn_lane_bk_<S>();
  alto_u32 qa[KC][4], oa[KC][4];

  for (int it = 0; it < ntiles; it++) {
    const int n0 = nfirst + it * BN;
    alto_attn_cp_wait_<0>(); /* this thread's copies of tile it (and of Q, dO) */
    __syncthreads();         /* everyone's; and every warp is done with tile it - 1's stage */
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
#pragma unroll
    for (int j = 0; j < NKT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float pe = alto_attn_exp2_(fmaf(p[j][e], sl2, -lse2[e >> 1]));
        if (!full && !alto_attn_visible_<CAUSAL>(row0 + 8 * (e >> 1), n0 + j * 8 + 2 * t4 + (e & 1),
                                                 T, window))
          pe = 0.f;
        ds[j][e] = pe * (ds[j][e] - dl[e >> 1]);
      }
    alto_attn_mma_ck_<S, BN / 16, NDT>(dq, ds, sk + lbk); /* dQ += dS K */
  }
  const float sc[2] = {scale, scale};
  alto_attn_store_rows_<NDT>(a.dq + qo, qs, warp * 16, T - m0, dq, sc);
}

#endif
