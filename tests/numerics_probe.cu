// Device probe of templates/common/alto_numerics.h (see tests/numerics_probe_body.h), compiled by
// NVRTC in tests/test_numerics_nvrtc.c (sm_90a, sm_80, no GPU) and tests/test_numerics_gpu.c.
#include "numerics_probe_body.h"
#ifdef ALTO_PROBE_CUDA_FP8
#include <cuda_fp8.h>
#endif

// x[n] -> bytes[n][ALTO_PROBE_BYTES], floats[n][ALTO_PROBE_FLOATS], words[n]
extern "C" __global__ void alto_numerics_probe(const float *x, unsigned char *bytes, float *floats,
                                               unsigned *words, unsigned long long seed,
                                               unsigned long long stream, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n)
    return;
  unsigned char *b = bytes + (size_t)i * ALTO_PROBE_BYTES;
  alto_probe_element(x[i], i, seed, stream, b, floats + (size_t)i * ALTO_PROBE_FLOATS, words + i);
#ifdef ALTO_PROBE_CUDA_FP8
  b[9] = (unsigned char)__nv_cvt_float_to_fp8(x[i], __NV_SATFINITE, __NV_E4M3);
  b[10] = (unsigned char)__nv_cvt_float_to_fp8(x[i], __NV_SATFINITE, __NV_E5M2);
#endif
}

// One RHT chunk per thread: x[n_chunks][b] -> y[n_chunks][b] (b <= 256), one transform for all.
extern "C" __global__ void alto_rht_probe(const float *x, float *y, unsigned long long seed,
                                          unsigned long long stream, int b, int n_chunks) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= n_chunks)
    return;
  float sign[256], t[256];
  int perm[256];
  alto_rht_make(seed, stream, b, sign, perm);
  alto_rht_apply(x + (size_t)c * b, y + (size_t)c * b, sign, perm, b, t);
}
