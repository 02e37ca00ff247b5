/* MX (mxfp4, mxfp8_e4m3, mxfp8_e5m2) and NVFP4 quantization on the CPU: the reference every GPU
 * kernel is compared with bit for bit. The scalar rules are those of alto_numerics.h; this file
 * only walks blocks, computes block amax values and lays out codes and scales (quant.h).
 *
 * Work is split over scale blocks: every block owns its scale entry and the code bytes of its
 * elements (a packed E2M1 byte never straddles two blocks since blocks have even length along the
 * packing axis), so the result cannot depend on the thread count. */
#include <math.h>
#include <string.h>

#include "base/parallel.h"
#include "runtime/cpu/quant_internal.h"

typedef struct {
  const alto_quant_spec *spec;
  const alto_quant_layout *layout;
  int64_t E, R, C;
  alto_elem elem;            /* element format: E2M1, E4M3 or E5M2 */
  bool e2m1;                 /* packed two per byte */
  bool nvfp4;                /* E4M3 inner scales with the fp32 outer */
  float outer;               /* NVFP4 outer scale (1 otherwise) */
  const alto_tensor_view *x; /* quantize: the input */
  uint8_t *codes;
  uint8_t *scales;
  const uint8_t *qcodes; /* dequantize: the inputs */
  const uint8_t *qscales;
  alto_elem out_dtype;
  void *y;
  float *row_amax; /* NVFP4 two-level: amax of each row [E*R] */
} alto_mx_ctx_;

/* Byte index and nibble shift of element (e, r, c) in the codes array. */
static inline int64_t alto_mx_code_pos_(const alto_mx_ctx_ *k, int64_t e, int64_t r, int64_t c,
                                        int *shift) {
  if (!k->e2m1) {
    *shift = 0;
    return (e * k->R + r) * k->C + c;
  }
  if (k->spec->axis == -1) {
    *shift = (int)(c & 1) * 4;
    return (e * k->R + r) * (k->C / 2) + c / 2;
  }
  *shift = (int)(r & 1) * 4;
  return (e * (k->R / 2) + r / 2) * k->C + c;
}

/* The first element (e, r0, c0) of scale block `blk`. */
static inline void alto_mx_block_origin_(const alto_mx_ctx_ *k, int64_t blk, int64_t *e,
                                         int64_t *r0, int64_t *c0) {
  const alto_quant_layout *l = k->layout;
  int64_t per_e = l->scale_dims[1] * l->scale_dims[2];
  *e = blk / per_e;
  *r0 = (blk % per_e) / l->scale_dims[2] * l->block_r;
  *c0 = blk % l->scale_dims[2] * l->block_c;
}

static void alto_mx_row_amax_(void *ctx, int64_t begin, int64_t end) {
  alto_mx_ctx_ *k = ctx;
  for (int64_t row = begin; row < end; row++) {
    float a = 0.0f;
    for (int64_t c = 0; c < k->C; c++)
      a = alto_amax_update(a, alto_tensor_get(k->x, row * k->C + c));
    k->row_amax[row] = a;
  }
}

static void alto_mx_quantize_blocks_(void *ctx, int64_t begin, int64_t end) {
  alto_mx_ctx_ *k = ctx;
  const alto_quant_spec *spec = k->spec;
  const alto_quant_layout *l = k->layout;
  for (int64_t blk = begin; blk < end; blk++) {
    int64_t e, r0, c0;
    alto_mx_block_origin_(k, blk, &e, &r0, &c0);
    float amax = 0.0f;
    for (int64_t r = r0; r < r0 + l->block_r; r++)
      for (int64_t c = c0; c < c0 + l->block_c; c++)
        amax = alto_amax_update(amax, alto_tensor_get(k->x, (e * k->R + r) * k->C + c));
    uint8_t s =
        k->nvfp4 ? alto_nvfp4_inner(amax, k->outer) : alto_mx_scale(amax, spec->rule, k->elem);
    k->scales[blk] = s;
    for (int64_t r = r0; r < r0 + l->block_r; r++)
      for (int64_t c = c0; c < c0 + l->block_c; c++) {
        int64_t i = (e * k->R + r) * k->C + c;
        float v = alto_tensor_get(k->x, i);
        uint8_t code;
        if (spec->sr) {
          alto_u32 u = alto_philox_u32(spec->seed, spec->stream, (alto_u64)i);
          code = k->nvfp4 ? alto_nvfp4_encode_sr(v, s, k->outer, u) : alto_mx_encode_sr(v, s, u);
        } else {
          code = k->nvfp4 ? alto_nvfp4_encode(v, s, k->outer) : alto_mx_encode(v, s, k->elem);
        }
        int shift;
        int64_t pos = alto_mx_code_pos_(k, e, r, c, &shift);
        if (k->e2m1)
          k->codes[pos] = (uint8_t)((k->codes[pos] & ~(0xF << shift)) | (code << shift));
        else
          k->codes[pos] = code;
      }
  }
}

static void alto_mx_dequantize_blocks_(void *ctx, int64_t begin, int64_t end) {
  alto_mx_ctx_ *k = ctx;
  const alto_quant_layout *l = k->layout;
  for (int64_t blk = begin; blk < end; blk++) {
    int64_t e, r0, c0;
    alto_mx_block_origin_(k, blk, &e, &r0, &c0);
    uint8_t s = k->qscales[blk];
    for (int64_t r = r0; r < r0 + l->block_r; r++)
      for (int64_t c = c0; c < c0 + l->block_c; c++) {
        int shift;
        int64_t pos = alto_mx_code_pos_(k, e, r, c, &shift);
        uint8_t code = (uint8_t)(k->qcodes[pos] >> shift);
        if (k->e2m1)
          code &= 0xF;
        float v =
            k->nvfp4 ? alto_nvfp4_decode(code, s, k->outer) : alto_mx_decode(code, s, k->elem);
        int64_t i = (e * k->R + r) * k->C + c;
        if (k->out_dtype == ALTO_ELEM_BF16)
          ((uint16_t *)k->y)[i] = alto_f32_to_bf16(v);
        else
          ((float *)k->y)[i] = v;
      }
  }
}

static void alto_mx_ctx_init_(alto_mx_ctx_ *k, const alto_quant_spec *spec,
                              const alto_quant_layout *l) {
  memset(k, 0, sizeof *k);
  k->spec = spec;
  k->layout = l;
  k->E = l->scale_dims[0];
  k->R = l->scale_dims[1] * l->block_r;
  k->C = l->scale_dims[2] * l->block_c;
  k->nvfp4 = spec->scheme == ALTO_SCHEME_NVFP4;
  k->elem = alto_scheme_elem(spec->scheme);
  k->e2m1 = k->elem == ALTO_ELEM_E2M1;
  k->outer = 1.0f;
}

/* Work per parallel task: about 4096 elements. */
static int64_t alto_mx_grain_(const alto_quant_layout *l) {
  int64_t per = (int64_t)l->block_r * l->block_c;
  return per >= 4096 ? 1 : 4096 / per;
}

alto_status alto_cpu_quantize_mx_(const alto_quant_spec *spec, const alto_tensor_view *x,
                                  alto_quantized *out) {
  alto_mx_ctx_ k;
  alto_mx_ctx_init_(&k, spec, &out->layout);
  k.x = x;
  k.codes = out->codes;
  k.scales = out->scales;
  if (k.nvfp4 && spec->two_level) {
    k.row_amax = alto_xmalloc((size_t)(k.E * k.R) * sizeof(float));
    alto_parallel_for(k.E * k.R, 64, alto_mx_row_amax_, &k);
    float amax = 0.0f;
    for (int64_t i = 0; i < k.E * k.R; i++)
      amax = alto_amax_update(amax, k.row_amax[i]);
    free(k.row_amax);
    k.row_amax = NULL;
    k.outer = alto_nvfp4_outer(amax, 1);
  }
  out->outer = k.outer;
  alto_parallel_for(out->layout.scale_count, alto_mx_grain_(&out->layout), alto_mx_quantize_blocks_,
                    &k);
  return ALTO_OK;
}

alto_status alto_cpu_dequantize_mx_(const alto_quant_spec *spec, const alto_quantized *q,
                                    alto_elem out_dtype, void *y) {
  const alto_quant_layout *l = &q->layout;
  alto_mx_ctx_ k;
  alto_mx_ctx_init_(&k, spec, l);
  int b = alto_scheme_block(spec->scheme);
  bool blocks_ok = spec->block2d ? (l->block_r == b && l->block_c == b)
                                 : (spec->axis == -1 ? (l->block_r == 1 && l->block_c == b)
                                                     : (l->block_r == b && l->block_c == 1));
  int64_t want_codes = k.E * k.R * k.C / (k.e2m1 ? 2 : 1);
  if (!blocks_ok || l->scale_bytes != 1 || l->codes_bytes != want_codes)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "alto_cpu_dequantize: the %s spec (axis %d, %s blocks) does not match the "
                      "quantized tensor's layout (blocks %dx%d)",
                      alto_scheme_name(spec->scheme), spec->axis, spec->block2d ? "2-D" : "1-D",
                      l->block_r, l->block_c);
  k.outer = k.nvfp4 ? q->outer : 1.0f;
  k.qcodes = q->codes;
  k.qscales = q->scales;
  k.out_dtype = out_dtype;
  k.y = y;
  alto_parallel_for(l->scale_count, alto_mx_grain_(l), alto_mx_dequantize_blocks_, &k);
  return ALTO_OK;
}

/* ---- the FP8 GEMM's E4M3 form of an MXFP4 operand (quant.h) -------------------------------- */
typedef struct {
  int hi, lo, all, nan; /* largest / smallest byte of a non-zero 1x32 block, largest, any 0xFF */
} alto_mx_e4m3_stats_;

static void alto_mx_e4m3_add_(alto_mx_e4m3_stats_ *st, const uint8_t *mxc, const uint8_t *mxs,
                              int64_t K, int64_t r, int64_t q) {
  const int64_t k32 = K / 32, j1 = q * 4 + 4 < k32 ? q * 4 + 4 : k32;
  for (int64_t j = q * 4; j < j1; j++) {
    int e = mxs[r * k32 + j], nonzero = 0;
    for (int64_t t = 0; t < 16; t++)
      nonzero |= (mxc[r * (K / 2) + j * 16 + t] & 0x77) != 0;
    st->nan |= e == 0xFF;
    st->all = e > st->all ? e : st->all;
    if (nonzero)
      st->hi = e > st->hi ? e : st->hi, st->lo = e < st->lo ? e : st->lo;
  }
}

uint32_t alto_cpu_mx_to_e4m3(const uint8_t *mxc, const uint8_t *mxs, int64_t R, int64_t K,
                             bool two_d, uint8_t *codes, float *scales, uint8_t *nan_block,
                             uint32_t *split) {
  const int64_t kb = (K + 127) / 128, k32 = K / 32;
  uint32_t inexact = 0;
  *split = 0;
  for (int64_t r0 = 0; r0 < R; r0 += 128)
    for (int64_t q = 0; q < kb; q++) {
      const int64_t r1 = r0 + 128 < R ? r0 + 128 : R;
      alto_mx_e4m3_stats_ blk = {-1, 256, -1, 0};
      for (int64_t r = r0; r < r1 && two_d; r++)
        alto_mx_e4m3_add_(&blk, mxc, mxs, K, r, q);
      const bool shared = two_d && !blk.nan && (blk.hi < 0 || blk.hi - blk.lo <= 14);
      *split += two_d && !shared;
      for (int64_t r = r0; r < r1; r++) {
        alto_mx_e4m3_stats_ st = {-1, 256, -1, 0};
        alto_mx_e4m3_add_(&st, mxc, mxs, K, r, q);
        if (shared)
          st = blk;
        int emax = st.hi, emin = st.lo;
        if (emax < 0) /* every code zero: the largest byte, nothing to count */
          emax = emin = st.all;
        nan_block[r * kb + q] = (uint8_t)st.nan;
        inexact += !st.nan && emax - emin > 14;
        scales[r * kb + q] = st.nan ? alto_f32_from_bits(ALTO_F32_NAN_BITS)
                                    : (float)ldexp(1.0, emax - 133);
        for (int64_t kk = q * 128; kk < K && kk < q * 128 + 128; kk++) {
          const uint8_t nib = (uint8_t)((mxc[r * (K / 2) + kk / 2] >> (4 * (kk & 1))) & 0xF);
          const int e = mxs[r * k32 + kk / 32];
          const double v = (double)alto_e2m1_to_f32(nib) * ldexp(1.0, e - emax + 6);
          codes[r * K + kk] = alto_f32_to_e4m3((float)v);
        }
      }
    }
  return inexact;
}
