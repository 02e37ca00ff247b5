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
// scale   x (N,) *= s, s = the host's factor, or with a device sum of squares (clip):
//         s = (float)min(1, max_norm / (sqrt(sumsq) + 1e-6)), alto_op_clip_factor's formula.
#ifndef ALTO_OPS_OPTIM_CUH
#define ALTO_OPS_OPTIM_CUH

#include "ops/ops_common.cuh"

// gscale: the gradient as read is grad * gscale, rounded as alto_scale rounds it (the clip factor
// folded into the step instead of a pass of its own; 1 leaves the gradient exact).
__device__ __forceinline__ void alto_adamw(float *param, const float *grad, float *m, float *v,
                                           alto_i64 n, float b1, float b2, float decay,
                                           float step_size, float sqrt_bc2, float eps,
                                           float gscale) {
  const float c1 = ALTO_FSUB(1.0f, b1), c2 = ALTO_FSUB(1.0f, b2);
  ALTO_OPS_GRID_STRIDE_(i, n) {
    const float g = ALTO_FMUL(grad[i], gscale);
    const float mi = ALTO_FADD(ALTO_FMUL(b1, m[i]), ALTO_FMUL(c1, g));
    const float vi = ALTO_FADD(ALTO_FMUL(b2, v[i]), ALTO_FMUL(ALTO_FMUL(c2, g), g));
    m[i] = mi;
    v[i] = vi;
    const float denom = ALTO_FADD(ALTO_FDIV(ALTO_FSQRT(vi), sqrt_bc2), eps);
    param[i] = ALTO_FSUB(ALTO_FMUL(param[i], decay), ALTO_FMUL(step_size, ALTO_FDIV(mi, denom)));
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

// sumsq == nullptr: multiply by `factor`; else by the clip factor of sqrt(*sumsq).
__device__ __forceinline__ void alto_scale(float *x, alto_i64 n, float factor, const double *sumsq,
                                           double max_norm) {
  float s = factor;
  if (sumsq) {
    const double f = ALTO_DDIV(max_norm, ALTO_DADD(ALTO_DSQRT(*sumsq), 1e-6));
    s = (float)(f < 1.0 ? f : 1.0);
  }
  ALTO_OPS_GRID_STRIDE_(i, n) {
    x[i] = ALTO_FMUL(x[i], s);
  }
}

#endif
