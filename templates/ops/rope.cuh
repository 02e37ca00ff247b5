// Rotary position embedding, Hugging Face rotate_half layout, head dim D and rotated dims ROT
// compiled in (the last ROT of the D dims rotate; H = ROT/2 pairs (j, j + H)). The cos/sin table
// (T, H) is the CPU's (alto_op_rope_table: double, rounded to fp32), uploaded by the host. The
// arithmetic is the CPU's sequence of fp32 operations, so the results are the same bits.
//
// x, out (M, NH, D), bf16 or fp32 (out may equal x); position of row m is m % T. BWD rotates by
// the negative angle (the transpose): dx from dy.
// grid-stride over M * NH * (D - ROT + H) items, a copied dim or a rotated pair each; when the
// copied dims and H are multiples of 8 (every shipped head dim), over 8 times fewer items of 8
// (16-byte accesses, when the pointers are 16-byte aligned, as the arena's are; else the scalar
// items, grid-stride).
#ifndef ALTO_OPS_ROPE_CUH
#define ALTO_OPS_ROPE_CUH

#include "ops/ops_common.cuh"

// Whether a (D, ROT) RoPE runs on 8-element vectors: the copied dims, the pairs' halves and the
// table rows all whole vectors.
template <int D, int ROT> __device__ constexpr bool alto_rope_vec_() {
  return (D - ROT) % 8 == 0 && (ROT / 2) % 8 == 0;
}

template <bool BF16, int D, int ROT, bool BWD>
__device__ __forceinline__ void alto_rope(void *out, const void *x, const float *cos_t,
                                          const float *sin_t, alto_i64 M, alto_i64 T, alto_i64 NH) {
  constexpr int H = ROT / 2, OFF = D - ROT, PER = OFF + H;
  if (alto_rope_vec_<D, ROT>() && alto_ops_aligned16(out, x, cos_t, sin_t)) {
    /* items: 8 copied dims, or the 8 pairs (j .. j+7, j+H .. j+H+7) with their 8 cos / sin */
    constexpr int CG = OFF / 8, PG = H / 8, NG = CG + PG > 0 ? CG + PG : 1;
    const alto_i64 n = M * NH * NG;
    const bool small = M * NH < ((alto_i64)1 << 31) && T < ((alto_i64)1 << 31);
    for (alto_idx t = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x; t < n;
         t += (alto_idx)gridDim.x * blockDim.x) {
      const alto_idx rh = t / NG; /* (m, head) */
      const int k = (int)(t - rh * NG);
      const alto_idx base = rh * D;
      if (k < CG) {
        if (out != x)
          alto_ops_copy8<BF16>(out, base + 8 * k, x, base + 8 * k);
        continue;
      }
      const int j = 8 * (k - CG);
      const alto_i64 pos =
          small ? (alto_i64)((alto_u32)rh / (alto_u32)NH % (alto_u32)T) : rh / NH % T;
      float c[8], s[8], x1[8], x2[8], o1[8], o2[8];
      alto_ops_load8<false>(cos_t, pos * H + j, c);
      alto_ops_load8<false>(sin_t, pos * H + j, s);
      alto_ops_load8<BF16>(x, base + OFF + j, x1);
      alto_ops_load8<BF16>(x, base + OFF + j + H, x2);
#pragma unroll
      for (int i = 0; i < 8; i++) {
        const float si = BWD ? -s[i] : s[i];
        o1[i] = ALTO_FSUB(ALTO_FMUL(x1[i], c[i]), ALTO_FMUL(x2[i], si));
        o2[i] = ALTO_FADD(ALTO_FMUL(x2[i], c[i]), ALTO_FMUL(x1[i], si));
      }
      alto_ops_store8<BF16>(out, base + OFF + j, o1);
      alto_ops_store8<BF16>(out, base + OFF + j + H, o2);
    }
    return;
  }
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
