// Rotary position embedding, Hugging Face rotate_half layout, head dim D and rotated dims ROT
// compiled in (the last ROT of the D dims rotate; H = ROT/2 pairs (j, j + H)). The cos/sin table
// (T, H) is the CPU's (alto_op_rope_table: double, rounded to fp32), uploaded by the host. The
// arithmetic is the CPU's sequence of fp32 operations, so the results are the same bits.
//
// x, out (M, NH, D), bf16 or fp32 (out may equal x); position of row m is m % T. BWD rotates by
// the negative angle (the transpose): dx from dy.
// grid-stride over M * NH * (D - ROT + H) items: a copied dim or a rotated pair each.
#ifndef ALTO_OPS_ROPE_CUH
#define ALTO_OPS_ROPE_CUH

#include "ops/ops_common.cuh"

template <bool BF16, int D, int ROT, bool BWD>
__device__ __forceinline__ void alto_rope(void *out, const void *x, const float *cos_t,
                                          const float *sin_t, alto_i64 M, alto_i64 T, alto_i64 NH) {
  constexpr int H = ROT / 2, OFF = D - ROT, PER = OFF + H;
  const alto_i64 n = M * NH * PER;
  for (alto_idx t = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x; t < n;
       t += (alto_idx)gridDim.x * blockDim.x) {
    const alto_idx rh = t / PER; /* (m, head) */
    const int k = (int)(t - rh * PER);
    const alto_idx base = rh * D;
    if (k < OFF) {
      if (out != x)
        alto_copy1<BF16>(out, base + k, x, base + k);
      continue;
    }
    const int j = k - OFF;
    const alto_i64 pos = (rh / NH) % T;
    const float c = cos_t[pos * H + j];
    const float s = BWD ? -sin_t[pos * H + j] : sin_t[pos * H + j];
    const float x1 = alto_load1<BF16>(x, base + OFF + j),
                x2 = alto_load1<BF16>(x, base + OFF + j + H);
    alto_store1<BF16>(out, base + OFF + j, ALTO_FSUB(ALTO_FMUL(x1, c), ALTO_FMUL(x2, s)));
    alto_store1<BF16>(out, base + OFF + j + H, ALTO_FADD(ALTO_FMUL(x2, c), ALTO_FMUL(x1, s)));
  }
}

#endif
