// DGE (NUMERICS.md 5): the weight gradient of an MXFP4 Linear times the gradient multiplier of
// each weight, dw[i] *= alto_dge_multiplier(w[i], the E8M0 scale of w[i]'s block), as
// runtime/cpu/dge.c (alto_cpu_dge). The multiplier is alto_numerics.h's (+, -, *, / in fp64, no
// libm), so each element is the CPU's bits; a NaN result is NaN (its payload is the hardware's).
//
//   dw (R, C) fp32 (in place), w (R, C) fp32, scales (R / BR, C / BC) E8M0 bytes, row-major:
//   element (r, c) reads scales[(r / BR) * (C / BC) + c / BC] (alto_quant_scale_index_ for a 2-D
//   weight, and for a 3-D (E, R', C) one flattened to R = E R' rows when BR divides R').
//   BR x BC: 1 x 32 (1-D blocks along C: axis -1), 32 x 1 (along R: axis -2) or 32 x 32 (2-D).
// grid-stride over the R C elements.
#ifndef ALTO_OPS_DGE_CUH
#define ALTO_OPS_DGE_CUH

#include "ops/ops_common.cuh"

__device__ __forceinline__ void alto_dge(float *dw, const float *w, const alto_u8 *scales,
                                         alto_i64 R, alto_i64 C, alto_i64 BR, alto_i64 BC) {
  const alto_i64 scale_cols = C / BC;
  ALTO_OPS_GRID_STRIDE_(i, R * C) {
    const alto_i64 r = i / C, c = i % C;
    const alto_u8 s = scales[r / BR * scale_cols + c / BC];
    dw[i] = ALTO_FMUL(dw[i], alto_dge_multiplier(w[i], s));
  }
}

#endif
