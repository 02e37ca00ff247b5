// attention_bwd.cuh: FlashAttention-2 style backward in three deterministic kernels (no atomics;
// every output element is summed by one thread in a fixed order, so runs are bit-identical):
//   alto_attn_bwd_delta: delta = rowsum(dO * O) per (b, h, t), fp32 (one warp per row).
//   alto_attn_bwd_dkdv:  one CTA per BN keys of one (b, kv head): loops over the kv head's H / G
//                        query heads and the query tiles (BQ) that see its keys; recomputes
//                        P^T = exp(K Q^T scale - lse), dV += P^T dO, dP^T = V dO^T,
//                        dS^T = P^T (dP^T - delta), dK += dS^T Q (times scale at the end).
//   alto_attn_bwd_dq:    one CTA per BM queries of one (b, h): loops over the key tiles (BN) the
//                        queries see; dQ += dS K (times scale).
// P and dS enter the second MMA of each pair rounded to bf16 (as FlashAttention-2); everything
// else accumulates in fp32. 4 warps of 16 rows (keys in dkdv, queries in dq).
#ifndef ALTO_ATTENTION_BWD_CUH
#define ALTO_ATTENTION_BWD_CUH

#include "attn/attn_common.cuh"

// grid (ceil(B*T*H / (NT/32))): warp w handles row r = token * H + h of O and dO (H*D wide rows).
// Lane l reads the pairs l, l + 32, ... of the row's D / 2 (D = 16, 32: lanes past D / 2 read
// nothing and add 0).
template <int D, int NT>
__device__ __forceinline__ void alto_attn_bwd_delta(const alto_attn_args &a) {
  static_assert(D % 16 == 0, "a lane reads elements in pairs");
  const alto_i64 rows = a.B * a.T * a.H;
  const alto_i64 r = (alto_i64)blockIdx.x * (NT / 32) + (threadIdx.x >> 5);
  if (r >= rows)
    return;
  const int lane = threadIdx.x & 31;
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < (D + 63) / 64; i++) {
    if (D % 64 != 0 && 2 * (lane + 32 * i) >= D)
      break;
    alto_idx e = r * D + 2 * (lane + 32 * i);
    alto_u32 ow = *(const alto_u32 *)(a.o + e), dw = *(const alto_u32 *)(a.dout + e);
    acc += alto_bf16_to_f32((alto_u16)(ow & 0xFFFFu)) * alto_bf16_to_f32((alto_u16)(dw & 0xFFFFu));
    acc += alto_bf16_to_f32((alto_u16)(ow >> 16)) * alto_bf16_to_f32((alto_u16)(dw >> 16));
  }
#pragma unroll
  for (int m = 16; m > 0; m >>= 1)
    acc += ALTO_SHFL_XOR(acc, m, 32);
  if (lane == 0) {
    alto_i64 tok = r / a.H, h = r % a.H, b = tok / a.T, t = tok % a.T;
    a.delta[(b * a.H + h) * a.T + t] = acc;
  }
}

// Dynamic shared memory: K, V (BN rows), Q, dO (BQ rows) of D + PAD bf16; lse (log2 units) and
// delta of the BQ queries (fp32).
template <int D, bool CAUSAL, int BN, int BQ>
__device__ __forceinline__ void alto_attn_bwd_dkdv(const alto_attn_args &a) {
  constexpr int NT = BN / 16 * 32, S = D + ALTO_ATTN_PAD, NDT = D / 8, NQT = BQ / 8;
  static_assert(D % 16 == 0 && BN % 16 == 0 && BQ % 16 == 0, "tile shapes");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sK = (alto_u16 *)alto_attn_smem_, *sV = sK + BN * S, *sQ = sV + BN * S,
           *sO = sQ + BQ * S;
  float *sL = (float *)(sO + BQ * S), *sD = sL + BQ;
  const alto_i64 T = a.T, H = a.H, G = a.G, window = a.window, rep = H / G;
  const alto_i64 n0 = (alto_i64)blockIdx.x * BN, kvh = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t4 = threadIdx.x & 3;
  const alto_idx qs = H * D, kvs = G * D;
  const float scale = 1.f / sqrtf((float)D), sl2 = scale * ALTO_ATTN_LOG2E;

  alto_attn_stage_<BN, D, NT>(sK, a.k + ((alto_idx)b * T + n0) * kvs + kvh * D, kvs, T - n0);
  alto_attn_stage_<BN, D, NT>(sV, a.v + ((alto_idx)b * T + n0) * kvs + kvh * D, kvs, T - n0);
  float dk[NDT][4], dv[NDT][4];
#pragma unroll
  for (int j = 0; j < NDT; j++)
#pragma unroll
    for (int e = 0; e < 4; e++)
      dk[j][e] = dv[j][e] = 0.f;
  const alto_i64 key[2] = {n0 + warp * 16 + g, n0 + warp * 16 + g + 8};
  /* queries that see a key of [n0, n0 + BN): t >= n0 (causal), t < n0 + BN - 1 + window */
  const alto_i64 tlo = CAUSAL ? n0 : 0;
  const alto_i64 thi = window > 0 && n0 + BN - 1 + window < T ? n0 + BN - 1 + window : T;

  for (alto_i64 h = kvh * rep; h < (kvh + 1) * rep; h++) {
    const alto_idx lrow = ((alto_idx)b * H + h) * T;
    for (alto_i64 q0 = tlo / BQ * BQ; q0 < thi; q0 += BQ) {
      __syncthreads(); /* every warp is done with the previous Q, dO */
      alto_attn_stage_<BQ, D, NT>(sQ, a.q + ((alto_idx)b * T + q0) * qs + h * D, qs, T - q0);
      alto_attn_stage_<BQ, D, NT>(sO, a.dout + ((alto_idx)b * T + q0) * qs + h * D, qs, T - q0);
      for (int i = threadIdx.x; i < BQ; i += NT) {
        bool in = q0 + i < T;
        sL[i] = in ? a.lse[lrow + q0 + i] * ALTO_ATTN_LOG2E : 0.f;
        sD[i] = in ? a.delta[lrow + q0 + i] : 0.f;
      }
      __syncthreads();

      float p[NQT][4], ds[NQT][4]; /* S^T then P^T; dP^T then dS^T: keys x queries */
#pragma unroll
      for (int j = 0; j < NQT; j++)
#pragma unroll
        for (int e = 0; e < 4; e++)
          p[j][e] = ds[j][e] = 0.f;
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++) {
        alto_u32 ka[4], va[4];
        alto_attn_ld_a_<S>(ka, sK, warp * 16, kk * 16);
        alto_attn_ld_a_<S>(va, sV, warp * 16, kk * 16);
#pragma unroll
        for (int j = 0; j < NQT; j++) {
          alto_u32 bf[2];
          alto_attn_ld_bn_<S>(bf, sQ, j * 8, kk * 16);
          alto_attn_mma_(p[j], ka, bf);
          alto_attn_ld_bn_<S>(bf, sO, j * 8, kk * 16);
          alto_attn_mma_(ds[j], va, bf);
        }
      }
#pragma unroll
      for (int j = 0; j < NQT; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          int qi = j * 8 + 2 * t4 + (e & 1);
          bool vis = alto_attn_visible_<CAUSAL>(q0 + qi, key[e >> 1], T, window);
          float pe = vis ? exp2f(p[j][e] * sl2 - sL[qi]) : 0.f;
          p[j][e] = pe;
          ds[j][e] = pe * (ds[j][e] - sD[qi]);
        }
#pragma unroll
      for (int kk = 0; kk < BQ / 16; kk++) {
        alto_u32 pa[4], da[4];
        alto_attn_c_to_a_(pa, p[2 * kk], p[2 * kk + 1]);
        alto_attn_c_to_a_(da, ds[2 * kk], ds[2 * kk + 1]);
#pragma unroll
        for (int j = 0; j < NDT; j++) {
          alto_u32 bf[2];
          alto_attn_ld_bk_<S>(bf, sO, kk * 16, j * 8);
          alto_attn_mma_(dv[j], pa, bf);
          alto_attn_ld_bk_<S>(bf, sQ, kk * 16, j * 8);
          alto_attn_mma_(dk[j], da, bf);
        }
      }
    }
  }
  const float one[2] = {1.f, 1.f}, sc[2] = {scale, scale};
  alto_idx kvo = ((alto_idx)b * T + n0) * kvs + kvh * D;
  alto_attn_store_rows_<NDT>(a.dk + kvo, kvs, warp * 16, T - n0, dk, sc);
  alto_attn_store_rows_<NDT>(a.dv + kvo, kvs, warp * 16, T - n0, dv, one);
}

// Dynamic shared memory: Q, dO (BM rows), K, V (BN rows) of D + PAD bf16.
template <int D, bool CAUSAL, int BM, int BN>
__device__ __forceinline__ void alto_attn_bwd_dq(const alto_attn_args &a) {
  constexpr int NT = BM / 16 * 32, S = D + ALTO_ATTN_PAD, NDT = D / 8, NKT = BN / 8;
  static_assert(D % 16 == 0 && BM % 16 == 0 && BN % 16 == 0, "tile shapes");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sQ = (alto_u16 *)alto_attn_smem_, *sO = sQ + BM * S, *sK = sO + BM * S,
           *sV = sK + BN * S;
  const alto_i64 T = a.T, H = a.H, G = a.G, window = a.window;
  const alto_i64 m0 = (alto_i64)blockIdx.x * BM, h = blockIdx.y, b = blockIdx.z;
  const alto_i64 kvh = h / (H / G);
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t4 = threadIdx.x & 3;
  const alto_idx qs = H * D, kvs = G * D;
  const float scale = 1.f / sqrtf((float)D), sl2 = scale * ALTO_ATTN_LOG2E;

  const alto_idx qo = ((alto_idx)b * T + m0) * qs + h * D;
  alto_attn_stage_<BM, D, NT>(sQ, a.q + qo, qs, T - m0);
  alto_attn_stage_<BM, D, NT>(sO, a.dout + qo, qs, T - m0);
  const alto_i64 row[2] = {m0 + warp * 16 + g, m0 + warp * 16 + g + 8};
  float lse2[2], dl[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    bool in = row[r] < T;
    alto_idx li = ((alto_idx)b * H + h) * T + row[r];
    lse2[r] = in ? a.lse[li] * ALTO_ATTN_LOG2E : 0.f;
    dl[r] = in ? a.delta[li] : 0.f;
  }
  float dq[NDT][4];
#pragma unroll
  for (int j = 0; j < NDT; j++)
    dq[j][0] = dq[j][1] = dq[j][2] = dq[j][3] = 0.f;

  const alto_i64 hi = CAUSAL ? (m0 + BM < T ? m0 + BM : T) : T;
  const alto_i64 lo = window > 0 && m0 - window + 1 > 0 ? m0 - window + 1 : 0;
  for (alto_i64 n0 = lo / BN * BN; n0 < hi; n0 += BN) {
    __syncthreads();
    const alto_idx kvo = ((alto_idx)b * T + n0) * kvs + kvh * D;
    alto_attn_stage_<BN, D, NT>(sK, a.k + kvo, kvs, T - n0);
    alto_attn_stage_<BN, D, NT>(sV, a.v + kvo, kvs, T - n0);
    __syncthreads();

    float p[NKT][4], ds[NKT][4]; /* S then P; dP then dS: queries x keys */
#pragma unroll
    for (int j = 0; j < NKT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        p[j][e] = ds[j][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      alto_u32 qa[4], oa[4];
      alto_attn_ld_a_<S>(qa, sQ, warp * 16, kk * 16);
      alto_attn_ld_a_<S>(oa, sO, warp * 16, kk * 16);
#pragma unroll
      for (int j = 0; j < NKT; j++) {
        alto_u32 bf[2];
        alto_attn_ld_bn_<S>(bf, sK, j * 8, kk * 16);
        alto_attn_mma_(p[j], qa, bf);
        alto_attn_ld_bn_<S>(bf, sV, j * 8, kk * 16);
        alto_attn_mma_(ds[j], oa, bf);
      }
    }
#pragma unroll
    for (int j = 0; j < NKT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        alto_i64 s = n0 + j * 8 + 2 * t4 + (e & 1);
        bool vis = alto_attn_visible_<CAUSAL>(row[e >> 1], s, T, window);
        float pe = vis ? exp2f(p[j][e] * sl2 - lse2[e >> 1]) : 0.f;
        ds[j][e] = pe * (ds[j][e] - dl[e >> 1]);
      }
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
      alto_u32 da[4];
      alto_attn_c_to_a_(da, ds[2 * kk], ds[2 * kk + 1]);
#pragma unroll
      for (int j = 0; j < NDT; j++) {
        alto_u32 bf[2];
        alto_attn_ld_bk_<S>(bf, sK, kk * 16, j * 8);
        alto_attn_mma_(dq[j], da, bf);
      }
    }
  }
  const float sc[2] = {scale, scale};
  alto_attn_store_rows_<NDT>(a.dq + qo, qs, warp * 16, T - m0, dq, sc);
}

#endif
