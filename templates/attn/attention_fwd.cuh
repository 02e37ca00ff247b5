// attention_fwd.cuh: FlashAttention-2 style forward, bf16 in/out, fp32 softmax statistics.
//
// One CTA = BM queries of one (batch, query head); 4 warps, 16 query rows each (BM = 64). Q is
// staged once and held as MMA A fragments; the CTA walks the key tiles (BN keys) its rows can see
// (causal: up to its last row; window: from its first row's window start), S = Q K^T on the
// tensor cores, an online softmax in fp32 (base-2 exponent, scale folded in), O += P V with P
// rounded to bf16. Fully masked tiles are never visited; partially masked ones are masked to -inf
// element by element. Writes O (bf16) and lse = max + log(sum) of the scaled scores (natural log,
// fp32), which the backward needs. GQA: query head h reads kv head h / (H / G).
#ifndef ALTO_ATTENTION_FWD_CUH
#define ALTO_ATTENTION_FWD_CUH

#include "attn/attn_common.cuh"

// Dynamic shared memory: Q, K, V tiles of (BM | BN) x (D + PAD) bf16.
template <int D, bool CAUSAL, int BM, int BN>
__device__ __forceinline__ void alto_attn_fwd(const alto_attn_args &a) {
  constexpr int NT = BM / 16 * 32, S = D + ALTO_ATTN_PAD, NDT = D / 8, NKT = BN / 8;
  static_assert(D % 16 == 0 && BM % 16 == 0 && BN % 16 == 0, "tile shapes");
  extern __shared__ uint4 alto_attn_smem_[];
  alto_u16 *sQ = (alto_u16 *)alto_attn_smem_, *sK = sQ + BM * S, *sV = sK + BN * S;
  const alto_i64 T = a.T, H = a.H, G = a.G, window = a.window;
  const alto_i64 m0 = (alto_i64)blockIdx.x * BM, h = blockIdx.y, b = blockIdx.z;
  const alto_i64 kvh = h / (H / G);
  const int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t4 = threadIdx.x & 3;
  const alto_idx qs = H * D, kvs = G * D;
  const float sl2 = ALTO_ATTN_LOG2E / sqrtf((float)D); /* scores to log2 units */

  alto_attn_stage_<BM, D, NT>(sQ, a.q + ((alto_idx)b * T + m0) * qs + h * D, qs, T - m0);
  __syncthreads();
  alto_u32 qf[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++)
    alto_attn_ld_a_<S>(qf[kk], sQ, warp * 16, kk * 16);

  float o[NDT][4];
#pragma unroll
  for (int j = 0; j < NDT; j++)
    o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float mrow[2] = {alto_attn_ninf_(), alto_attn_ninf_()}, lrow[2] = {0.f, 0.f};
  const alto_i64 row[2] = {m0 + warp * 16 + g, m0 + warp * 16 + g + 8};

  const alto_i64 hi = CAUSAL ? (m0 + BM < T ? m0 + BM : T) : T;
  const alto_i64 lo = window > 0 && m0 - window + 1 > 0 ? m0 - window + 1 : 0;
  for (alto_i64 n0 = lo / BN * BN; n0 < hi; n0 += BN) {
    __syncthreads(); /* every warp is done with the previous K, V */
    const alto_u16 *kb = a.k + ((alto_idx)b * T + n0) * kvs + kvh * D;
    const alto_u16 *vb = a.v + ((alto_idx)b * T + n0) * kvs + kvh * D;
    alto_attn_stage_<BN, D, NT>(sK, kb, kvs, T - n0);
    alto_attn_stage_<BN, D, NT>(sV, vb, kvs, T - n0);
    __syncthreads();

    float s[NKT][4];
#pragma unroll
    for (int j = 0; j < NKT; j++) {
      s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++) {
        alto_u32 bf[2];
        alto_attn_ld_bn_<S>(bf, sK, j * 8, kk * 16);
        alto_attn_mma_(s[j], qf[kk], bf);
      }
    }
    /* a tile every row of the CTA sees whole needs no mask */
    const bool full = n0 + BN <= T && m0 + BM <= T && (!CAUSAL || n0 + BN - 1 <= m0) &&
                      (window <= 0 || n0 > m0 + BM - 1 - window);
    float mx[2] = {mrow[0], mrow[1]};
#pragma unroll
    for (int j = 0; j < NKT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float x = s[j][e] * sl2;
        if (!full &&
            !alto_attn_visible_<CAUSAL>(row[e >> 1], n0 + j * 8 + 2 * t4 + (e & 1), T, window))
          x = alto_attn_ninf_();
        s[j][e] = x;
        mx[e >> 1] = fmaxf(mx[e >> 1], x);
      }
    float alpha[2], msub[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      mx[r] = alto_attn_quad_max_(mx[r]);
      msub[r] = mx[r] == alto_attn_ninf_() ? 0.f : mx[r]; /* a row that sees nothing yet */
      alpha[r] = exp2f(mrow[r] - msub[r]);
      mrow[r] = mx[r];
      lrow[r] *= alpha[r];
    }
#pragma unroll
    for (int j = 0; j < NKT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float p = exp2f(s[j][e] - msub[e >> 1]);
        s[j][e] = p;
        lrow[e >> 1] += p; /* this lane's partial sum; the quad is summed at the end */
      }
#pragma unroll
    for (int j = 0; j < NDT; j++) {
      o[j][0] *= alpha[0], o[j][1] *= alpha[0];
      o[j][2] *= alpha[1], o[j][3] *= alpha[1];
    }
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
      alto_u32 pa[4];
      alto_attn_c_to_a_(pa, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
      for (int j = 0; j < NDT; j++) {
        alto_u32 bf[2];
        alto_attn_ld_bk_<S>(bf, sV, kk * 16, j * 8);
        alto_attn_mma_(o[j], pa, bf);
      }
    }
  }

  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    float l = alto_attn_quad_sum_(lrow[r]);
    inv[r] = l > 0.f ? 1.f / l : 0.f;
    if (t4 == 0 && row[r] < T)
      a.lse[((alto_idx)b * H + h) * T + row[r]] =
          l > 0.f ? (mrow[r] + log2f(l)) * ALTO_ATTN_LN2 : alto_attn_ninf_();
  }
  alto_attn_store_rows_<NDT>(a.o + ((alto_idx)b * T + m0) * qs + h * D, qs, warp * 16, T - m0, o,
                             inv);
}

#endif
