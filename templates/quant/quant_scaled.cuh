// Tensorwise and rowwise FP8 (torchao float8 training), and the tensor amax that NVFP4's two-level
// scaling and tensorwise FP8 need first.
//
// amax_bits  one u32: max |x| over the tensor as fp32 bits; non-negative floats order like their
//            bits and NaN (0x7FC00000) above Inf, so atomicMax on the bits is NaN-sticky.
// scales     tensorwise [1]; rowwise axis -1 [rows]; rowwise axis -2 [E, cols] (per matrix of R rows)
#ifndef ALTO_QUANT_SCALED_CUH
#define ALTO_QUANT_SCALED_CUH

#include "common/alto_device.h"

// max |x| over n elements into *amax_bits (zeroed by the caller). Grid-stride, 8 per step.
template <bool IN_BF16, int NT>
__device__ __forceinline__ void alto_tensor_amax(const void *__restrict__ x, alto_idx n,
                                                 alto_u32 *amax_bits) {
  __shared__ float red[NT / 32];
  float a = 0.0f;
  alto_idx stride = (alto_idx)gridDim.x * NT * 8;
  alto_idx e = ((alto_idx)blockIdx.x * NT + threadIdx.x) * 8;
  for (; e + 8 <= n; e += stride) {
    float v[8];
    alto_load8<IN_BF16>(x, e, v);
#pragma unroll
    for (int i = 0; i < 8; i++)
      a = alto_amax_update(a, v[i]);
  }
  for (; e < n; e++) /* only when n % 8 != 0: the tail of the last thread */
    a = alto_amax_update(a, alto_load1<IN_BF16>(x, e));
#pragma unroll
  for (int m = 16; m >= 1; m >>= 1)
    a = alto_amax_update(a, ALTO_SHFL_XOR(a, m, 32));
  if ((threadIdx.x & 31) == 0)
    red[threadIdx.x / 32] = a;
  __syncthreads();
  if (threadIdx.x == 0) {
    float b = red[0];
    for (int w = 1; w < NT / 32; w++)
      b = alto_amax_update(b, red[w]);
    atomicMax(amax_bits, alto_f32_bits(b));
  }
}

// NVFP4 outer scale from the tensor amax: one thread.
__device__ __forceinline__ void alto_nvfp4_outer_kernel(const alto_u32 *amax_bits, float *outer) {
  if (blockIdx.x == 0 && threadIdx.x == 0)
    *outer = alto_nvfp4_outer(alto_f32_from_bits(*amax_bits), 1);
}

// Tensorwise FP8: every element with the one scale; block 0 thread 0 also writes the scale.
template <int ELEM, bool IN_BF16, bool POW2>
__device__ __forceinline__ void alto_fp8_tensorwise(const void *__restrict__ x,
                                                    alto_u8 *__restrict__ codes,
                                                    float *__restrict__ scales,
                                                    const alto_u32 *amax_bits, alto_idx n) {
  float scale = alto_fp8_tw_scale(alto_f32_from_bits(*amax_bits), (alto_elem)ELEM, POW2);
  alto_idx e = ((alto_idx)blockIdx.x * blockDim.x + threadIdx.x) * 8;
  if (e == 0)
    scales[0] = scale;
  if (e + 8 <= n) {
    float v[8];
    alto_load8<IN_BF16>(x, e, v);
    uint2 w;
    w.x = w.y = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      w.x |= (alto_u32)alto_fp8_tw_encode(v[i], scale, (alto_elem)ELEM) << (8 * i);
      w.y |= (alto_u32)alto_fp8_tw_encode(v[4 + i], scale, (alto_elem)ELEM) << (8 * i);
    }
    *(uint2 *)(codes + e) = w;
  } else {
    for (; e < n; e++)
      codes[e] = alto_fp8_tw_encode(alto_load1<IN_BF16>(x, e), scale, (alto_elem)ELEM);
  }
}

// Rowwise FP8 along axis -1: one CTA per row, amax then encode (the second read hits L2).
template <int ELEM, bool IN_BF16, bool POW2, int NT>
__device__ __forceinline__ void alto_fp8_rowwise_rows(const void *__restrict__ x,
                                                      alto_u8 *__restrict__ codes,
                                                      float *__restrict__ scales, alto_idx cols) {
  __shared__ float red[NT / 32];
  __shared__ float s_scale;
  const alto_idx row = blockIdx.x;
  const void *xr = IN_BF16 ? (const void *)((const alto_u16 *)x + row * cols)
                           : (const void *)((const float *)x + row * cols);
  float a = 0.0f;
  for (alto_idx c = threadIdx.x; c < cols; c += NT)
    a = alto_amax_update(a, alto_load1<IN_BF16>(xr, c));
#pragma unroll
  for (int m = 16; m >= 1; m >>= 1)
    a = alto_amax_update(a, ALTO_SHFL_XOR(a, m, 32));
  if ((threadIdx.x & 31) == 0)
    red[threadIdx.x / 32] = a;
  __syncthreads();
  if (threadIdx.x == 0) {
    float b = red[0];
    for (int w = 1; w < NT / 32; w++)
      b = alto_amax_update(b, red[w]);
    s_scale = alto_fp8_tw_scale(b, (alto_elem)ELEM, POW2);
    scales[row] = s_scale;
  }
  __syncthreads();
  float scale = s_scale;
  for (alto_idx c = threadIdx.x; c < cols; c += NT)
    codes[row * cols + c] = alto_fp8_tw_encode(alto_load1<IN_BF16>(xr, c), scale, (alto_elem)ELEM);
}

// Rowwise FP8 along axis -2 (one scale per column of each [R, C] matrix): a thread per column.
template <int ELEM, bool IN_BF16, bool POW2>
__device__ __forceinline__ void alto_fp8_rowwise_cols(const void *__restrict__ x,
                                                      alto_u8 *__restrict__ codes,
                                                      float *__restrict__ scales, alto_idx R,
                                                      alto_idx cols) {
  alto_idx c = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x;
  alto_idx m = blockIdx.y; /* matrix */
  if (c >= cols)
    return;
  alto_idx base = m * R * cols + c;
  float a = 0.0f;
  for (alto_idx r = 0; r < R; r++)
    a = alto_amax_update(a, alto_load1<IN_BF16>(x, base + r * cols));
  float scale = alto_fp8_tw_scale(a, (alto_elem)ELEM, POW2);
  scales[m * cols + c] = scale;
  for (alto_idx r = 0; r < R; r++)
    codes[base + r * cols] =
        alto_fp8_tw_encode(alto_load1<IN_BF16>(x, base + r * cols), scale, (alto_elem)ELEM);
}

#endif
