// The optimizer step and gradient clipping: AdamW on fp32 master weights, the sum of squares of
// a gradient (the global norm is the square root of the sum over all gradients), and the scale.
//
// adamw   param, grad, m, v (N,) fp32, m and v updated in place. The step's scalars are computed
//         on the host exactly as the CPU reference does (b1, b2, decay = 1 - lr wd, step_size =
//         lr / bc1, sqrt(bc2), eps as floats), and each element is the CPU's sequence of fp32
//         operations with a correctly rounded sqrt: the same bits.
// sumsq   two passes, in double: pass 1 grid (G) (G a pure function of N): part[g] = the sum of
//         x^2 over CTA g's grid-stride elements (per thread in order, then alto_block_sum); pass 2,
//         one CTA: out = (accumulate ? out : 0) + the G partials summed in a fixed tree. The same
//         bits every run; the CPU sums in another order (double: they agree to ~N * 2^-53).
// scale   x (N,) *= s, s = the host's factor, a device fp32, or with a device sum of squares
//         (clip):
//         s = (float)min(1, max_norm / (sqrt(sumsq) + 1e-6)), alto_op_clip_factor's formula.
#ifndef ALTO_OPS_OPTIM_CUH
#define ALTO_OPS_OPTIM_CUH

#include "ops/ops_common.cuh"

// One element of the step: the new parameter from param p, gradient g (read as g * k[6]), and the
// moments m and v (updated). k: the step's scalars {b1, b2, decay, step_size, sqrt_bc2, eps,
// gscale}; gscale: the clip factor folded into the step instead of a pass of its own, rounded as
// alto_scale rounds it (1 leaves the gradient exact).
__device__ __forceinline__ float alto_adamw_elem(float p, float gr, float &m, float &v,
                                                 const float *k) {
  const float c1 = ALTO_FSUB(1.0f, k[0]), c2 = ALTO_FSUB(1.0f, k[1]);
  const float g = ALTO_FMUL(gr, k[6]);
  m = ALTO_FADD(ALTO_FMUL(k[0], m), ALTO_FMUL(c1, g));
  v = ALTO_FADD(ALTO_FMUL(k[1], v), ALTO_FMUL(ALTO_FMUL(c2, g), g));
  const float denom = ALTO_FADD(ALTO_FDIV(ALTO_FSQRT(v), k[4]), k[5]);
  return ALTO_FSUB(ALTO_FMUL(p, k[2]), ALTO_FMUL(k[3], ALTO_FDIV(m, denom)));
}

// Four adjacent elements param[e .. e + 3] (16-byte aligned) stepped in place (param, m, v), the
// new values' bits into w: the loader of the quantizers that follow the step in one kernel (the
// weights' forward copies: quant_tile128.cuh and quant_cols.cuh ADAMW).
__device__ __forceinline__ void alto_adamw_elem4(float *param, const float *grad, float *m,
                                                 float *v, alto_i64 e, const float *k,
                                                 alto_u32 (&w)[4]) {
  const float4 x4 = *(const float4 *)(param + e), g4 = *(const float4 *)(grad + e);
  float4 m4 = *(const float4 *)(m + e), v4 = *(const float4 *)(v + e);
  float4 y4;
  y4.x = alto_adamw_elem(x4.x, g4.x, m4.x, v4.x, k);
  y4.y = alto_adamw_elem(x4.y, g4.y, m4.y, v4.y, k);
  y4.z = alto_adamw_elem(x4.z, g4.z, m4.z, v4.z, k);
  y4.w = alto_adamw_elem(x4.w, g4.w, m4.w, v4.w, k);
  *(float4 *)(param + e) = y4;
  *(float4 *)(m + e) = m4;
  *(float4 *)(v + e) = v4;
  w[0] = alto_f32_bits(y4.x), w[1] = alto_f32_bits(y4.y);
  w[2] = alto_f32_bits(y4.z), w[3] = alto_f32_bits(y4.w);
}

// COPY: also the updated parameter rounded to bf16 into copy (what a CAST of it writes: the bf16
// weights of the next forward, written by the step instead of a pass of their own).
template <bool COPY>
__device__ __forceinline__ void alto_adamw(float *param, const float *grad, float *m, float *v,
                                           alto_i64 n, float b1, float b2, float decay,
                                           float step_size, float sqrt_bc2, float eps,
                                           float gscale, alto_u16 *copy) {
  const float k[7] = {b1, b2, decay, step_size, sqrt_bc2, eps, gscale};
  ALTO_OPS_GRID_STRIDE_(i, n) {
    float mi = m[i], vi = v[i];
    const float p = alto_adamw_elem(param[i], grad[i], mi, vi, k);
    param[i] = p;
    m[i] = mi;
    v[i] = vi;
    if (COPY)
      copy[i] = alto_f32_to_bf16(p);
  }
}

template <int NT>
__device__ __forceinline__ void alto_sumsq_part(double *part, const float *x, alto_i64 n) {
  __shared__ double sh[NT / ALTO_WARP + 1];
  double s = 0.0;
  ALTO_OPS_GRID_STRIDE_(i, n) {
    const double d = (double)x[i];
    s = ALTO_DADD(s, ALTO_DMUL(d, d));
  }
  s = alto_block_sum<NT>(s, sh);
  if (threadIdx.x == 0)
    part[blockIdx.x] = s;
}

// One CTA; n_part <= NT.
template <int NT>
__device__ __forceinline__ void alto_sumsq_final(double *out, const double *part, alto_i64 n_part,
                                                 bool accumulate) {
  __shared__ double sh[NT / ALTO_WARP + 1];
  double s = (alto_i64)threadIdx.x < n_part ? part[threadIdx.x] : 0.0;
  s = alto_block_sum<NT>(s, sh);
  if (threadIdx.x == 0)
    *out = accumulate ? ALTO_DADD(*out, s) : s;
}

// Multiplies by `factor`, or by the fp32 at `dev_factor` (in device memory), or by the clip factor
// of sqrt(*sumsq).
__device__ __forceinline__ void alto_scale(float *x, alto_i64 n, float factor, const double *sumsq,
                                           double max_norm, const float *dev_factor) {
  float s = dev_factor ? *dev_factor : factor;
  if (sumsq) {
    const double f = ALTO_DDIV(max_norm, ALTO_DADD(ALTO_DSQRT(*sumsq), 1e-6));
    s = (float)(f < 1.0 ? f : 1.0);
  }
  ALTO_OPS_GRID_STRIDE_(i, n) {
    x[i] = ALTO_FMUL(x[i], s);
  }
}

#endif
