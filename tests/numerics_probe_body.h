/* One probe element: every scalar function of the numerics header on one input, written to
 * bytes[12], floats[6], *word. Compiled for the CPU (tests/test_numerics_gpu.c) and the GPU
 * (tests/numerics_probe.cu) from this one text, so the comparison is of the header alone. */
#ifndef ALTO_TESTS_NUMERICS_PROBE_BODY_H
#define ALTO_TESTS_NUMERICS_PROBE_BODY_H
#include "alto_numerics.h"

#define ALTO_PROBE_BYTES 12
#define ALTO_PROBE_FLOATS 6

ALTO_HD void alto_probe_element(float v, alto_i64 i, alto_u64 seed, alto_u64 stream,
                                alto_u8 *b, float *f, alto_u32 *word) {
  alto_u32 u = alto_philox_u32(seed, stream, (alto_u64)i);
  b[0] = alto_f32_to_e4m3(v);
  b[1] = alto_f32_to_e5m2(v);
  b[2] = alto_f32_to_e2m1(v);
  b[3] = alto_f32_to_e2m1_sr(v, u);
  float a = alto_amax_update(0.0f, v);
  b[4] = alto_mx_scale(a, ALTO_SCALE_EVEN, ALTO_ELEM_E2M1);
  b[5] = alto_mx_scale(a, ALTO_SCALE_FLOOR, ALTO_ELEM_E4M3);
  b[6] = alto_mx_scale(a, ALTO_SCALE_UOS, ALTO_ELEM_E2M1);
  b[7] = alto_mx_scale(a, ALTO_SCALE_RCEIL, ALTO_ELEM_E5M2);
  b[8] = alto_nvfp4_inner(a, alto_nvfp4_outer(a, 1));
  b[9] = b[0];  /* the device probe overwrites 9 and 10 with CUDA's own conversions */
  b[10] = b[1];
  b[11] = alto_mx_encode(v, 127, ALTO_ELEM_E4M3);
  f[0] = alto_dge_multiplier(v, 127);
  f[1] = alto_mx69_element(v, 3, (int)(u & 1u), 8);
  f[2] = alto_bf16_to_f32(alto_f32_to_bf16(v));
  f[3] = alto_fp8_block_scale(a, ALTO_ELEM_E4M3);
  f[4] = ALTO_FADD(alto_e4m3_to_f32((alto_u8)(i & 0xFF)), alto_e2m1_to_f32((alto_u8)(i & 0xF)));
  f[5] = alto_nvfp4_decode((alto_u8)(i & 0xF), (alto_u8)((i >> 4) & 0x7F), 0.5f);
  *word = u;
}
#endif
