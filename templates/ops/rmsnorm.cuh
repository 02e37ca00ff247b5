// RMSNorm forward and backward, C (the model dim) compiled in. fp32 math; x, out, dy, dx in bf16
// or fp32 (one dtype: BF16), the weight w (the fp32 master weight), rstd and dw always fp32. The
// operation order of each element is the CPU reference's (runtime/cpu/ops.c, which the CPU
// executor feeds with the same fp32 w and the bf16 activations widened); only the row sums run in
// a tree (each thread's elements in order, then alto_block_sum) instead of the CPU's sequential
// loop, so results agree to the rounding of those sums (tests/test_ops_gpu.c states the bound).
// When C is a multiple of 8 (every model dim) each thread moves whole 16-byte vectors: its
// elements are the 8-element vectors tid, tid + NT, ... of the row (the pointers must be 16-byte
// aligned, as the arena's are); else one element at a time, strided by NT.
//
// forward   grid (M): one CTA per row. out (M, C) = x * rstd * w, rstd (M,) =
//           1/sqrt(mean(x^2) + eps), w (C,) fp32
// backward  grid (ceil(M / ROWS)): one CTA per ROWS rows, walked in order, RB at a time (their
//           loads in flight together, their dots reduced together): dx (M, C) (=, or += when
//           accumulate) and dw_part (ceil(M / ROWS), C), each column's partial sum over the CTA's
//           rows in row order. Then the dw kernel: grid (ceil(C / 32)), CTAs of 32 columns x 8
//           slices: dw (C,) = the partials of each slice (consecutive chunks) summed in order,
//           then the 8 slice sums in order. A fixed two-pass reduction: the same bits every run.
#ifndef ALTO_OPS_RMSNORM_CUH
#define ALTO_OPS_RMSNORM_CUH

#include "ops/ops_common.cuh"

// Backward: rows in flight per CTA, as registers allow (4 with one vector per thread and at most
// 256 threads, fewer for the wide dims' bigger CTAs).
template <int NT, int NV> __device__ constexpr int alto_rmsnorm_rb_() {
  return NV == 1 && NT <= 256 ? 4 : NV == 1 && NT <= 512 ? 2 : 1;
}

// Sums of N values per thread over the CTA (N independent alto_block_sum's, one round of
// barriers); every thread gets the results. sh: (NT / ALTO_WARP + 1) * N floats.
template <int NT, int N> __device__ __forceinline__ void alto_block_sum_n(float v[N], float *sh) {
  constexpr int NW = NT / ALTO_WARP;
#pragma unroll
  for (int o = ALTO_WARP / 2; o > 0; o >>= 1)
#pragma unroll
    for (int k = 0; k < N; k++)
      v[k] = ALTO_FADD(v[k], ALTO_SHFL_XOR(v[k], o, ALTO_WARP));
  if (NW == 1)
    return;
  const int lane = threadIdx.x % ALTO_WARP, warp = threadIdx.x / ALTO_WARP;
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < N; k++)
      sh[warp * N + k] = v[k];
  }
  __syncthreads();
  if (warp == 0 && lane < N) {
    float w = sh[lane];
    for (int i = 1; i < NW; i++) /* in warp order: fixed */
      w = ALTO_FADD(w, sh[i * N + lane]);
    sh[NW * N + lane] = w;
  }
  __syncthreads();
#pragma unroll
  for (int k = 0; k < N; k++)
    v[k] = sh[NW * N + k];
}

template <bool BF16, int C, int NT>
__device__ __forceinline__ void alto_rmsnorm_fwd(void *out, float *rstd, const void *x,
                                                 const float *w, double eps) {
  constexpr bool VEC = C % 8 == 0;
  constexpr int EPT = VEC ? 8 : 1, NV = (C / EPT + NT - 1) / NT; /* per thread: NV x EPT */
  __shared__ float sh[NT / ALTO_WARP + 1];
  const alto_idx row = (alto_idx)blockIdx.x * C;
  float v[NV][EPT];
  float ss = 0.0f;
#pragma unroll
  for (int i = 0; i < NV; i++) {
    const int q = threadIdx.x + i * NT; /* vector (or element) q of the row */
    const bool in = (C / EPT) % NT == 0 || q < C / EPT;
    if (VEC && in)
      alto_ops_load8<BF16>(x, row + 8 * q, v[i]);
#pragma unroll
    for (int e = 0; e < EPT; e++) {
      if (!VEC)
        v[i][e] = in ? alto_load1<BF16>(x, row + q) : 0.0f;
      else if (!in)
        v[i][e] = 0.0f;
      ss = ALTO_FADD(ss, ALTO_FMUL(v[i][e], v[i][e]));
    }
  }
  ss = alto_block_sum<NT>(ss, sh);
  /* (float)(1.0 / sqrt((double)(ss / C) + eps)), as the CPU */
  const float r =
      (float)ALTO_DDIV(1.0, ALTO_DSQRT(ALTO_DADD((double)ALTO_FDIV(ss, (float)C), eps)));
  if (threadIdx.x == 0)
    rstd[blockIdx.x] = r;
#pragma unroll
  for (int i = 0; i < NV; i++) {
    const int q = threadIdx.x + i * NT;
    if ((C / EPT) % NT != 0 && q >= C / EPT)
      continue;
    if (VEC) {
      float wv[8], o[8];
      alto_ops_load8<false>(w, 8 * q, wv);
#pragma unroll
      for (int e = 0; e < 8; e++)
        o[e] = ALTO_FMUL(ALTO_FMUL(v[i][e], r), wv[e]);
      alto_ops_store8<BF16>(out, row + 8 * q, o);
    } else {
      alto_store1<BF16>(out, row + q, ALTO_FMUL(ALTO_FMUL(v[i][0], r), w[q]));
    }
  }
}

// Loads EPT elements of row `row` at vector (or element) q: 8 at 8 q, or 1 at q.
template <bool BF16, bool VEC>
__device__ __forceinline__ void alto_rmsnorm_ld_(const void *p, alto_idx row, int q, float *v) {
  if (VEC)
    alto_ops_load8<BF16>(p, row + 8 * q, v);
  else
    v[0] = alto_load1<BF16>(p, row + q);
}

template <bool BF16, int C, int NT, int ROWS>
__device__ __forceinline__ void alto_rmsnorm_bwd(void *dx, float *dw_part, const void *dy,
                                                 const void *x, const float *w, const float *rstd,
                                                 alto_i64 M, bool accumulate) {
  constexpr bool VEC = C % 8 == 0;
  constexpr int EPT = VEC ? 8 : 1, NQ = C / EPT, NV = (NQ + NT - 1) / NT;
  constexpr int RB = alto_rmsnorm_rb_<NT, NV>();
  __shared__ float sh[(NT / ALTO_WARP + 1) * RB];
  const alto_i64 m0 = (alto_i64)blockIdx.x * ROWS;
  const alto_i64 m1 = m0 + ROWS < M ? m0 + ROWS : M;
  float wv[NV][EPT], dwp[NV][EPT];
#pragma unroll
  for (int i = 0; i < NV; i++) {
    const int q = threadIdx.x + i * NT;
    const bool in = NQ % NT == 0 || q < NQ;
#pragma unroll
    for (int e = 0; e < EPT; e++)
      wv[i][e] = in ? w[EPT * q + e] : 0.0f, dwp[i][e] = 0.0f;
  }
  for (alto_i64 mb = m0; mb < m1; mb += RB) {
    float xv[RB][NV][EPT], dyv[RB][NV][EPT], dot[RB], r[RB];
#pragma unroll
    for (int k = 0; k < RB; k++) {
      const bool row_in = mb + k < m1;
      const alto_idx row = (mb + k) * C;
      r[k] = row_in ? rstd[mb + k] : 0.0f;
#pragma unroll
      for (int i = 0; i < NV; i++) {
        const int q = threadIdx.x + i * NT;
        if (row_in && (NQ % NT == 0 || q < NQ)) {
          alto_rmsnorm_ld_<BF16, VEC>(x, row, q, xv[k][i]);
          alto_rmsnorm_ld_<BF16, VEC>(dy, row, q, dyv[k][i]);
        } else {
#pragma unroll
          for (int e = 0; e < EPT; e++)
            xv[k][i][e] = dyv[k][i][e] = 0.0f;
        }
      }
    }
#pragma unroll
    for (int k = 0; k < RB; k++) {
      dot[k] = 0.0f;
#pragma unroll
      for (int i = 0; i < NV; i++)
#pragma unroll
        for (int e = 0; e < EPT; e++)
          dot[k] = ALTO_FADD(dot[k], ALTO_FMUL(ALTO_FMUL(wv[i][e], dyv[k][i][e]), xv[k][i][e]));
    }
    alto_block_sum_n<NT, RB>(dot, sh);
#pragma unroll
    for (int k = 0; k < RB; k++) {
      if (mb + k >= m1)
        break;
      const alto_idx row = (mb + k) * C;
      const float coef = ALTO_FMUL(ALTO_FMUL(ALTO_FDIV(dot[k], (float)C), r[k]), r[k]);
#pragma unroll
      for (int i = 0; i < NV; i++) {
        const int q = threadIdx.x + i * NT;
        if (NQ % NT != 0 && q >= NQ)
          continue;
        float g[EPT], old[EPT];
        if (accumulate)
          alto_rmsnorm_ld_<BF16, VEC>(dx, row, q, old);
#pragma unroll
        for (int e = 0; e < EPT; e++) {
          g[e] = ALTO_FMUL(
              r[k], ALTO_FSUB(ALTO_FMUL(wv[i][e], dyv[k][i][e]), ALTO_FMUL(xv[k][i][e], coef)));
          if (accumulate)
            g[e] = ALTO_FADD(old[e], g[e]);
          dwp[i][e] = ALTO_FADD(dwp[i][e], ALTO_FMUL(ALTO_FMUL(dyv[k][i][e], xv[k][i][e]), r[k]));
        }
        if (VEC)
          alto_ops_store8<BF16>(dx, row + 8 * q, g);
        else
          alto_store1<BF16>(dx, row + q, g[0]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < NV; i++) {
    const int q = threadIdx.x + i * NT;
    if (NQ % NT != 0 && q >= NQ)
      continue;
#pragma unroll
    for (int e = 0; e < EPT; e++)
      dw_part[(alto_idx)blockIdx.x * C + EPT * q + e] = dwp[i][e];
  }
}

// dw (C,) = the sum over the n_part partial rows. CTA (256 threads): 32 columns x 8 slices of
// consecutive partial rows; each slice summed in order, then the slices in order.
template <int NT>
__device__ __forceinline__ void alto_rmsnorm_dw(float *dw, const float *dw_part, alto_i64 n_part,
                                                alto_i64 C) {
  static_assert(NT == 256, "32 columns x 8 slices");
  __shared__ float sh[8][32];
  const int col = threadIdx.x % 32, slice = threadIdx.x / 32;
  const alto_idx c = (alto_idx)blockIdx.x * 32 + col;
  const alto_i64 per = (n_part + 7) / 8, p0 = slice * per;
  const alto_i64 p1 = p0 + per < n_part ? p0 + per : n_part;
  float s = 0.0f;
  if (c < C)
    for (alto_i64 p = p0; p < p1; p++)
      s = p == p0 ? dw_part[p * C + c] : ALTO_FADD(s, dw_part[p * C + c]);
  sh[slice][col] = s;
  __syncthreads();
  if (slice == 0 && c < C) {
    float t = sh[0][col];
    for (int k = 1; k < 8; k++)
      if (k * per < n_part) /* an empty slice adds nothing (not even -0 + 0) */
        t = ALTO_FADD(t, sh[k][col]);
    dw[c] = t;
  }
}

#endif
