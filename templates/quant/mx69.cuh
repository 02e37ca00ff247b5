// MX9 / MX6 fake-quant (AMD Quark's fake_quantize_mx6_mx9): blocks of GS elements along the last
// axis, each row right-padded with zeros to a multiple of GS (the padding is never stored).
// y has x's dtype and shape. One thread per 8 padded elements; GS/8 lanes share a block.
#ifndef ALTO_MX69_CUH
#define ALTO_MX69_CUH

#include "common/alto_device.h"

template <int QUANT_BIT, int GS, bool IN_BF16>
__device__ __forceinline__ void alto_mx69(const void *__restrict__ x, void *__restrict__ y,
                                          alto_idx rows, alto_idx cols) {
  constexpr int G = GS / 8;
  const alto_idx cols_pad = (cols + GS - 1) / GS * GS;
  const alto_idx t = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x;
  const alto_idx row = t / (cols_pad / 8), c0 = (t % (cols_pad / 8)) * 8;
  const bool active = row < rows;
  float v[8];
  int te[8];
  int mx = -127;
#pragma unroll
  for (int i = 0; i < 8; i++) {
    bool in = active && c0 + i < cols;
    v[i] = in ? alto_load1<IN_BF16>(x, row * cols + c0 + i) : 0.0f;
    te[i] = alto_mx69_exp(v[i]); // NaN and Inf count as 0 for the statistics
    mx = te[i] > mx ? te[i] : mx;
  }
#pragma unroll
  for (int m = 1; m < G; m <<= 1) {
    int o = ALTO_SHFL_XOR(mx, m, ALTO_WARP);
    mx = o > mx ? o : mx;
  }
  if (!active)
    return;
#pragma unroll
  for (int i = 0; i < 8; i += 2) {
    int demoted = (mx - te[i] >= 1) && (mx - te[i + 1] >= 1); // the pair's prime bit
#pragma unroll
    for (int k = 0; k < 2; k++)
      if (c0 + i + k < cols)
        alto_store1<IN_BF16>(y, row * cols + c0 + i + k,
                             alto_mx69_element(v[i + k], mx, demoted, QUANT_BIT));
  }
}

#endif
