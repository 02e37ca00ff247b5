// Quantization along the last axis (quant_rows.cuh's 1xB blocks) of y = SwiGLU(a, b), computed in
// registers from the two bf16 inputs of the SWIGLU op: the op's bf16 output is not read back (the
// MLP's down-projection input, whose fprop quantization this is), and not written either where
// nothing else reads it (fp8_block); y_out, when not null, receives it (the MX recipes quantize y
// along M for wgrad too).
//
// a, b   [rows, cols] bf16; cols % B == 0
// codes, scales: as quant_rows.cuh (FORM too)
// y_out  [rows, cols] bf16 or null
//
// y is ops/swiglu.cuh's alto_swiglu2_ (the CPU's sigmoid from the bf16 table, the CPU's fp32
// products, bf16 rounding): the bits the SWIGLU op writes, so the codes and scales are those of
// SWIGLU then QUANTIZE. Each CTA copies the sigmoid table (33 KB) into shared memory once and then
// walks the tensor in steps of the grid (16 elements per thread per step, the loop bound uniform
// over the CTA so that the block's lanes shuffle together).
#ifndef ALTO_QUANT_ROWS_SWIGLU_CUH
#define ALTO_QUANT_ROWS_SWIGLU_CUH

#include "ops/swiglu.cuh"
#include "quant/quant_rows.cuh"

template <int KIND, int ELEM, int B, int RULE, bool SR, int FORM, int NT>
__device__ __forceinline__ void
alto_quant_rows_swiglu(const void *__restrict__ a, const void *__restrict__ b,
                       alto_u8 *__restrict__ codes, void *__restrict__ scales,
                       const float *__restrict__ outer_ptr, alto_idx n_elems, alto_u64 seed,
                       alto_u64 stream, alto_idx rows, alto_idx cols,
                       alto_u16 *__restrict__ y_out = nullptr) {
  constexpr int V = 16, G = B / V;
  __shared__ __align__(16) float tab[ALTO_OPS_SIGMOID_N];
  alto_sigmoid_tab_fill_<NT>(tab);
  const alto_idx step = (alto_idx)gridDim.x * NT * V;
  for (alto_idx base = (alto_idx)blockIdx.x * NT * V; base < n_elems; base += step) {
    const alto_idx e0 = base + (alto_idx)threadIdx.x * V;
    const bool active = e0 < n_elems;
    alto_u32 w[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}}; // y: two 16-byte chunks of bf16
    if (active) {
#pragma unroll
      for (int q = 0; q < 2; q++) {
        const uint4 pa = ((const uint4 *)((const alto_u16 *)a + e0))[q];
        const uint4 pb = ((const uint4 *)((const alto_u16 *)b + e0))[q];
        w[q][0] = alto_swiglu2_(tab, pa.x, pb.x);
        w[q][1] = alto_swiglu2_(tab, pa.y, pb.y);
        w[q][2] = alto_swiglu2_(tab, pa.z, pb.z);
        w[q][3] = alto_swiglu2_(tab, pa.w, pb.w);
        if (y_out)
          ((uint4 *)(y_out + e0))[q] = uint4{w[q][0], w[q][1], w[q][2], w[q][3]};
      }
    }
    alto_rows_encode_<KIND, ELEM, B, true, RULE, SR, V, FORM>(
        w, active, (threadIdx.x & (G - 1)) == 0, codes, scales, outer_ptr, e0, seed, stream, rows,
        cols);
  }
}

#endif
