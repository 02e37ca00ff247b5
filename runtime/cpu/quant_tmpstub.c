/* TEMPORARY stand-in for runtime/cpu/quant.c (being written in another branch) so alto-quant
 * links and runs before the real quantizers land. DELETE when main has quant.c. Naive and only
 * roughly per NUMERICS.md; nothing may rely on its bits. */
#include <math.h>
#include <string.h>

#include "runtime/cpu/quant.h"

alto_quant_spec alto_quant_spec_default(alto_scheme scheme) {
  alto_quant_spec s;
  memset(&s, 0, sizeof s);
  s.scheme = scheme;
  s.axis = -1;
  s.rule = ALTO_SCALE_EVEN;
  s.elem = ALTO_ELEM_E4M3;
  return s;
}

static int bsize_(const alto_quant_spec *s) {
  return alto_scheme_block(s->scheme);
}

alto_status alto_quant_layout_of(const alto_quant_spec *spec, const alto_tensor_view *x,
                                 alto_quant_layout *o) {
  memset(o, 0, sizeof *o);
  int64_t E = x->ndim == 3 ? x->dims[0] : 1, R = x->dims[x->ndim - 2], C = x->dims[x->ndim - 1];
  int B = bsize_(spec);
  bool fp4 = spec->scheme == ALTO_SCHEME_MXFP4 || spec->scheme == ALTO_SCHEME_NVFP4;
  if (spec->scheme == ALTO_SCHEME_BF16 || spec->scheme == ALTO_SCHEME_MX9 ||
      spec->scheme == ALTO_SCHEME_MX6)
    return alto_error(ALTO_ERR_INVALID_ARG, "stub: scheme %s", alto_scheme_name(spec->scheme));
  o->block_r = o->block_c = 1;
  if (B) {
    if (spec->block2d || spec->axis == -2)
      o->block_r = B;
    if (spec->block2d || spec->axis == -1)
      o->block_c = B;
  }
  if (R % o->block_r || C % o->block_c)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s dim (%lld) must be a multiple of %d",
                      R % o->block_r ? "R" : "C", (long long)(R % o->block_r ? R : C),
                      R % o->block_r ? o->block_r : o->block_c);
  o->codes_dims[0] = E;
  o->codes_dims[1] = fp4 && spec->axis == -2 ? R / 2 : R;
  o->codes_dims[2] = fp4 && spec->axis == -1 ? C / 2 : C;
  o->codes_bytes = o->codes_dims[0] * o->codes_dims[1] * o->codes_dims[2];
  o->scale_bytes = (spec->scheme >= ALTO_SCHEME_FP8_BLOCK) ? 4 : 1;
  o->scale_dims[0] = E;
  o->scale_dims[1] = R / o->block_r;
  o->scale_dims[2] = C / o->block_c;
  if (spec->scheme == ALTO_SCHEME_FP8_ROWWISE) {
    o->scale_dims[1] = spec->axis == -1 ? R : 1;
    o->scale_dims[2] = spec->axis == -1 ? 1 : C;
  }
  if (spec->scheme == ALTO_SCHEME_FP8_TENSORWISE)
    o->scale_dims[0] = o->scale_dims[1] = o->scale_dims[2] = 1;
  o->scale_count = o->scale_dims[0] * o->scale_dims[1] * o->scale_dims[2];
  return ALTO_OK;
}

/* Scale index of element (e, r, c) of an [E, R, C] tensor. */
static int64_t sidx_(const alto_quant_layout *L, int64_t e, int64_t r, int64_t c, int64_t R,
                     int64_t C) {
  int64_t sr = r / (R / L->scale_dims[1]), sc = c / (C / L->scale_dims[2]);
  int64_t e0 = L->scale_dims[0] == 1 ? 0 : e;
  return (e0 * L->scale_dims[1] + sr) * L->scale_dims[2] + sc;
}

alto_status alto_cpu_quantize(const alto_quant_spec *spec, const alto_tensor_view *x,
                              alto_quantized *q) {
  memset(q, 0, sizeof *q);
  ALTO_TRY(alto_quant_layout_of(spec, x, &q->layout));
  alto_quant_layout *L = &q->layout;
  int64_t E = L->codes_dims[0], R = x->dims[x->ndim - 2], C = x->dims[x->ndim - 1];
  float *amax = alto_xcalloc((size_t)L->scale_count, sizeof(float));
  float tmax = 0;
  for (int64_t e = 0; e < E; e++)
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) {
        float v = alto_tensor_get(x, (e * R + r) * C + c);
        int64_t s = sidx_(L, e, r, c, R, C);
        amax[s] = alto_amax_update(amax[s], v);
        tmax = alto_amax_update(tmax, v);
      }
  q->outer = spec->scheme == ALTO_SCHEME_NVFP4 ? alto_nvfp4_outer(tmax, spec->two_level) : 1.0f;
  q->codes = alto_xcalloc((size_t)L->codes_bytes, 1);
  q->scales = alto_xcalloc((size_t)L->scale_count, (size_t)L->scale_bytes);
  uint8_t *s8 = q->scales;
  float *s32 = q->scales;
  alto_elem el = alto_scheme_elem(spec->scheme);
  if (spec->scheme >= ALTO_SCHEME_FP8_BLOCK)
    el = spec->elem;
  for (int64_t i = 0; i < L->scale_count; i++) {
    switch (spec->scheme) {
    case ALTO_SCHEME_NVFP4:
      s8[i] = alto_nvfp4_inner(amax[i], q->outer);
      break;
    case ALTO_SCHEME_FP8_BLOCK:
      s32[i] = alto_fp8_block_scale(amax[i], el);
      break;
    case ALTO_SCHEME_FP8_ROWWISE:
    case ALTO_SCHEME_FP8_TENSORWISE:
      s32[i] = alto_fp8_tw_scale(amax[i], el, spec->pow2_scale);
      break;
    default:
      s8[i] = alto_mx_scale(amax[i], spec->rule, el);
      break;
    }
  }
  for (int64_t e = 0; e < E; e++)
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) {
        int64_t i = (e * R + r) * C + c;
        float v = alto_tensor_get(x, i);
        int64_t s = sidx_(L, e, r, c, R, C);
        uint32_t u = spec->sr ? alto_philox_u32(spec->seed, spec->stream, (uint64_t)i) : 0;
        uint8_t code;
        switch (spec->scheme) {
        case ALTO_SCHEME_NVFP4:
          code = spec->sr ? alto_nvfp4_encode_sr(v, s8[s], q->outer, u)
                          : alto_nvfp4_encode(v, s8[s], q->outer);
          break;
        case ALTO_SCHEME_FP8_BLOCK:
          code = alto_fp8_block_encode(v, s32[s], el);
          break;
        case ALTO_SCHEME_FP8_ROWWISE:
        case ALTO_SCHEME_FP8_TENSORWISE:
          code = alto_fp8_tw_encode(v, s32[s], el);
          break;
        default:
          code = spec->sr ? alto_mx_encode_sr(v, s8[s], u) : alto_mx_encode(v, s8[s], el);
          break;
        }
        if (el == ALTO_ELEM_E2M1) {
          int64_t b =
              spec->axis == -1 ? (e * R + r) * (C / 2) + c / 2 : (e * (R / 2) + r / 2) * C + c;
          int odd = spec->axis == -1 ? (int)(c & 1) : (int)(r & 1);
          q->codes[b] |= (uint8_t)((code & 0xF) << (odd ? 4 : 0));
        } else {
          q->codes[i] = code;
        }
      }
  free(amax);
  return ALTO_OK;
}

alto_status alto_cpu_dequantize(const alto_quant_spec *spec, const alto_quantized *q,
                                alto_elem out_dtype, void *y) {
  const alto_quant_layout *L = &q->layout;
  int64_t E = L->codes_dims[0];
  bool fp4 = spec->scheme == ALTO_SCHEME_MXFP4 || spec->scheme == ALTO_SCHEME_NVFP4;
  int64_t R = L->codes_dims[1] * (fp4 && spec->axis == -2 ? 2 : 1);
  int64_t C = L->codes_dims[2] * (fp4 && spec->axis == -1 ? 2 : 1);
  const uint8_t *s8 = q->scales;
  const float *s32 = q->scales;
  alto_elem el =
      spec->scheme >= ALTO_SCHEME_FP8_BLOCK ? spec->elem : alto_scheme_elem(spec->scheme);
  for (int64_t e = 0; e < E; e++)
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) {
        int64_t i = (e * R + r) * C + c, s = sidx_(L, e, r, c, R, C);
        uint8_t code;
        if (fp4) {
          int64_t b =
              spec->axis == -1 ? (e * R + r) * (C / 2) + c / 2 : (e * (R / 2) + r / 2) * C + c;
          int odd = spec->axis == -1 ? (int)(c & 1) : (int)(r & 1);
          code = (q->codes[b] >> (odd ? 4 : 0)) & 0xF;
        } else {
          code = q->codes[i];
        }
        float v;
        switch (spec->scheme) {
        case ALTO_SCHEME_NVFP4:
          v = alto_nvfp4_decode(code, s8[s], q->outer);
          break;
        case ALTO_SCHEME_FP8_BLOCK:
          v = alto_fp8_block_decode(code, s32[s], el);
          break;
        case ALTO_SCHEME_FP8_ROWWISE:
        case ALTO_SCHEME_FP8_TENSORWISE:
          v = alto_fp8_tw_decode(code, s32[s], el);
          break;
        default:
          v = alto_mx_decode(code, s8[s], el);
          break;
        }
        if (out_dtype == ALTO_ELEM_BF16)
          ((uint16_t *)y)[i] = alto_f32_to_bf16(v);
        else
          ((float *)y)[i] = v;
      }
  return ALTO_OK;
}

void alto_quantized_free(alto_quantized *q) {
  free(q->codes);
  free(q->scales);
  memset(q, 0, sizeof *q);
}

alto_status alto_cpu_mx69_fake(const alto_tensor_view *x, int quant_bit, int group_size, void *y) {
  int64_t n = alto_tensor_numel(x), C = x->dims[x->ndim - 1];
  for (int64_t row = 0; row < n / C; row++)
    for (int64_t g = 0; g < C; g += group_size) {
      int max_exp = -127;
      for (int64_t k = g; k < g + group_size && k < C; k++) {
        int ex = alto_mx69_exp(alto_tensor_get(x, row * C + k));
        max_exp = ex > max_exp ? ex : max_exp;
      }
      for (int64_t k = g; k < g + group_size && k < C; k++) {
        int64_t p = k - ((k - g) & 1);
        bool d0 = max_exp - alto_mx69_exp(alto_tensor_get(x, row * C + p)) >= 1;
        bool d1 = p + 1 >= C || max_exp - alto_mx69_exp(alto_tensor_get(x, row * C + p + 1)) >= 1;
        float v = alto_mx69_element(alto_tensor_get(x, row * C + k), max_exp, d0 && d1, quant_bit);
        if (x->dtype == ALTO_ELEM_BF16)
          ((uint16_t *)y)[row * C + k] = alto_f32_to_bf16(v);
        else
          ((float *)y)[row * C + k] = v;
      }
    }
  return ALTO_OK;
}

int64_t alto_mx69_packed_bytes(int quant_bit, int64_t n) {
  return n / 16 * (quant_bit == 8 ? 18 : 12);
}
alto_status alto_cpu_mx69_pack(const alto_tensor_view *x, int quant_bit, uint8_t *packed) {
  (void)x, (void)quant_bit, (void)packed;
  return alto_error(ALTO_ERR_UNSUPPORTED, "stub: mx69 pack");
}
alto_status alto_cpu_mx69_unpack(const uint8_t *packed, int quant_bit, int64_t n,
                                 alto_elem out_dtype, void *y) {
  (void)packed, (void)quant_bit, (void)n, (void)out_dtype, (void)y;
  return alto_error(ALTO_ERR_UNSUPPORTED, "stub: mx69 unpack");
}

alto_status alto_cpu_rht(const alto_tensor_view *x, int b, uint64_t seed, uint64_t stream,
                         alto_elem out_dtype, void *y) {
  int64_t E = x->ndim == 3 ? x->dims[0] : 1, R = x->dims[x->ndim - 2], C = x->dims[x->ndim - 1];
  if (b < 16 || b > 256 || (b & (b - 1)) || R % b)
    return alto_error(ALTO_ERR_INVALID_ARG, "RHT block %d: R (%lld) must be a multiple of it", b,
                      (long long)R);
  float sign[256], in[256], out[256], t[256];
  int perm[256];
  alto_rht_make(seed, stream, b, sign, perm);
  for (int64_t e = 0; e < E; e++)
    for (int64_t r0 = 0; r0 < R; r0 += b)
      for (int64_t c = 0; c < C; c++) {
        for (int k = 0; k < b; k++)
          in[k] = alto_tensor_get(x, (e * R + r0 + k) * C + c);
        alto_rht_apply(in, out, sign, perm, b, t);
        for (int k = 0; k < b; k++) {
          int64_t i = (e * R + r0 + k) * C + c;
          if (out_dtype == ALTO_ELEM_BF16)
            ((uint16_t *)y)[i] = alto_f32_to_bf16(out[k]);
          else
            ((float *)y)[i] = out[k];
        }
      }
  return ALTO_OK;
}

alto_status alto_cpu_dge(const alto_quant_spec *spec, const alto_tensor_view *w,
                         const alto_quantized *q, float *dw) {
  (void)spec, (void)w, (void)q, (void)dw;
  return alto_error(ALTO_ERR_UNSUPPORTED, "stub: dge");
}
