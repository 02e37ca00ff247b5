// RMSNorm forward and backward, C (the model dim) compiled in. fp32 math; x, out, dy, dx in bf16
// or fp32 (one dtype: BF16), the weight w (the fp32 master weight), rstd and dw always fp32. The
// operation order of each element is the CPU reference's (runtime/cpu/ops.c, which the CPU
// executor feeds with the same fp32 w and the bf16 activations widened); only the row sums run in
// a tree (alto_block_sum) instead of the CPU's sequential loop, so results agree to the rounding
// of those sums (tests/test_ops_gpu.c states the bound).
//
// forward   grid (M): one CTA per row. out (M, C) = x * rstd * w, rstd (M,) =
//           1/sqrt(mean(x^2) + eps), w (C,) fp32
// backward  grid (ceil(M / ROWS)): one CTA per ROWS rows, walked in order: dx (M, C) (=, or +=
//           when accumulate) and dw_part (ceil(M / ROWS), C), each column's partial sum over the
//           CTA's rows in row order. Then the dw kernel: grid (ceil(C / NT)), dw (C,) = the
//           partials summed in chunk order. A fixed two-pass reduction: the same bits every run.
#ifndef ALTO_OPS_RMSNORM_CUH
#define ALTO_OPS_RMSNORM_CUH

#include "ops/ops_common.cuh"

template <bool BF16, int C, int NT>
__device__ __forceinline__ void alto_rmsnorm_fwd(void *out, float *rstd, const void *x,
                                                 const float *w, double eps) {
  constexpr int EPT = (C + NT - 1) / NT;
  __shared__ float sh[NT / ALTO_WARP + 1];
  const alto_idx row = (alto_idx)blockIdx.x * C;
  float v[EPT];
  float ss = 0.0f;
#pragma unroll
  for (int i = 0; i < EPT; i++) {
    const int c = threadIdx.x + i * NT;
    v[i] = (C % NT == 0 || c < C) ? alto_load1<BF16>(x, row + c) : 0.0f;
    ss = ALTO_FADD(ss, ALTO_FMUL(v[i], v[i]));
  }
  ss = alto_block_sum<NT>(ss, sh);
  /* (float)(1.0 / sqrt((double)(ss / C) + eps)), as the CPU */
  const float r =
      (float)ALTO_DDIV(1.0, ALTO_DSQRT(ALTO_DADD((double)ALTO_FDIV(ss, (float)C), eps)));
  if (threadIdx.x == 0)
    rstd[blockIdx.x] = r;
#pragma unroll
  for (int i = 0; i < EPT; i++) {
    const int c = threadIdx.x + i * NT;
    if (C % NT == 0 || c < C)
      alto_store1<BF16>(out, row + c, ALTO_FMUL(ALTO_FMUL(v[i], r), w[c]));
  }
}

template <bool BF16, int C, int NT, int ROWS>
__device__ __forceinline__ void alto_rmsnorm_bwd(void *dx, float *dw_part, const void *dy,
                                                 const void *x, const float *w, const float *rstd,
                                                 alto_i64 M, bool accumulate) {
  constexpr int EPT = (C + NT - 1) / NT;
  __shared__ float sh[NT / ALTO_WARP + 1];
  const alto_i64 m0 = (alto_i64)blockIdx.x * ROWS;
  const alto_i64 m1 = m0 + ROWS < M ? m0 + ROWS : M;
  float wv[EPT], dwp[EPT];
#pragma unroll
  for (int i = 0; i < EPT; i++) {
    const int c = threadIdx.x + i * NT;
    wv[i] = (C % NT == 0 || c < C) ? w[c] : 0.0f;
    dwp[i] = 0.0f;
  }
  for (alto_i64 m = m0; m < m1; m++) {
    const alto_idx row = m * C;
    const float r = rstd[m];
    float xv[EPT], dyv[EPT];
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < EPT; i++) {
      const int c = threadIdx.x + i * NT;
      const bool in = C % NT == 0 || c < C;
      xv[i] = in ? alto_load1<BF16>(x, row + c) : 0.0f;
      dyv[i] = in ? alto_load1<BF16>(dy, row + c) : 0.0f;
      dot = ALTO_FADD(dot, ALTO_FMUL(ALTO_FMUL(wv[i], dyv[i]), xv[i]));
    }
    dot = alto_block_sum<NT>(dot, sh);
    const float coef = ALTO_FMUL(ALTO_FMUL(ALTO_FDIV(dot, (float)C), r), r);
#pragma unroll
    for (int i = 0; i < EPT; i++) {
      const int c = threadIdx.x + i * NT;
      if (C % NT == 0 || c < C) {
        float g = ALTO_FMUL(r, ALTO_FSUB(ALTO_FMUL(wv[i], dyv[i]), ALTO_FMUL(xv[i], coef)));
        if (accumulate)
          g = ALTO_FADD(alto_load1<BF16>(dx, row + c), g);
        alto_store1<BF16>(dx, row + c, g);
        dwp[i] = ALTO_FADD(dwp[i], ALTO_FMUL(ALTO_FMUL(dyv[i], xv[i]), r));
      }
    }
  }
#pragma unroll
  for (int i = 0; i < EPT; i++) {
    const int c = threadIdx.x + i * NT;
    if (C % NT == 0 || c < C)
      dw_part[(alto_idx)blockIdx.x * C + c] = dwp[i];
  }
}

// dw (C,) = sum over the n_part partial rows, in order.
template <int NT>
__device__ __forceinline__ void alto_rmsnorm_dw(float *dw, const float *dw_part, alto_i64 n_part,
                                                alto_i64 C) {
  const alto_idx c = (alto_idx)blockIdx.x * NT + threadIdx.x;
  if (c >= C)
    return;
  float s = dw_part[c];
  for (alto_i64 p = 1; p < n_part; p++)
    s = ALTO_FADD(s, dw_part[p * C + c]);
  dw[c] = s;
}

#endif
