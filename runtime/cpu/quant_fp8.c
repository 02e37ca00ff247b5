/* The FP8 schemes of the CPU reference (NUMERICS.md 3): fp8_block (DeepSeek-V3: 1x128, 128x1,
 * 128x128; fp32 scale d = amax / max, element fp8(x / d)), fp8_rowwise and fp8_tensorwise
 * (torchao: fp32 scale s = max / amax, element fp8(x * s)). The scalar rules live in
 * templates/common/alto_numerics.h; this file only walks the tensor.
 *
 * Every scheme is one geometry: scale entry (e, r / br, c / bc) of a [SE, SR, SC] scale array
 * covers a br x bc tile of matrix e. Tensorwise flattens [E, R, C] to one [E*R, C] matrix with one
 * tile. The amax pass splits each tile's rows into chunks of at most AMAX_ROWS rows (partial
 * amaxes, combined NaN-sticky, so the split never changes a bit), which keeps every scheme
 * row-parallel. */
#include "runtime/cpu/quant_fp8.h"

#include <stdlib.h>
#include <string.h>

#include "base/parallel.h"
#include "runtime/cpu/quant_internal.h"

#define FP8_BLOCK 128
#define AMAX_ROWS 64

typedef struct {
  int64_t E, R, C;    /* walked dims (tensorwise: E = 1, R = E * R) */
  int64_t br, bc;     /* rows / columns covered by one scale (>= 1) */
  int64_t SE, SR, SC; /* scale array dims: SE * SR * SC entries */
  int is_block;       /* fp8_block (divide by d) vs rowwise/tensorwise (multiply by s) */
  alto_elem elem;
  int pow2;
} fp8_geom;

static const char *fp8_block_name(const alto_quant_spec *spec) {
  if (spec->block2d)
    return "128x128";
  return spec->axis == -1 ? "1x128 along axis -1" : "128x1 along axis -2";
}

/* Checks the spec and dims ([E, R, C]) and fills the geometry. */
static alto_status fp8_geom_of(const alto_quant_spec *spec, int64_t E, int64_t R, int64_t C,
                               fp8_geom *g) {
  if (spec->scheme != ALTO_SCHEME_FP8_BLOCK && spec->scheme != ALTO_SCHEME_FP8_ROWWISE &&
      spec->scheme != ALTO_SCHEME_FP8_TENSORWISE)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "fp8 quantizer: scheme '%s' is not fp8_block, fp8_rowwise or fp8_tensorwise",
                      alto_scheme_name(spec->scheme));
  if (spec->elem != ALTO_ELEM_E4M3 && spec->elem != ALTO_ELEM_E5M2)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: element '%s' is not e4m3 or e5m2",
                      alto_scheme_name(spec->scheme), alto_elem_name(spec->elem));
  if (spec->scheme != ALTO_SCHEME_FP8_BLOCK && spec->block2d)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: 2-D blocks are for fp8_block only",
                      alto_scheme_name(spec->scheme));
  if (spec->scheme != ALTO_SCHEME_FP8_TENSORWISE && !spec->block2d && spec->axis != -1 &&
      spec->axis != -2)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: axis %d is not -1 or -2",
                      alto_scheme_name(spec->scheme), spec->axis);
  if (E < 0 || R < 0 || C < 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: negative dimension in [%lld, %lld, %lld]",
                      alto_scheme_name(spec->scheme), (long long)E, (long long)R, (long long)C);
  memset(g, 0, sizeof *g);
  g->E = E, g->R = R, g->C = C;
  g->elem = spec->elem;
  g->pow2 = spec->pow2_scale;
  switch (spec->scheme) {
  case ALTO_SCHEME_FP8_BLOCK:
    g->is_block = 1;
    g->br = (spec->block2d || spec->axis == -2) ? FP8_BLOCK : 1;
    g->bc = (spec->block2d || spec->axis == -1) ? FP8_BLOCK : 1;
    if (R % g->br)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "fp8_block %s: dim R = %lld is not a multiple of %d (pad the rows)",
                        fp8_block_name(spec), (long long)R, FP8_BLOCK);
    if (C % g->bc)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "fp8_block %s: dim C = %lld is not a multiple of %d (pad the columns)",
                        fp8_block_name(spec), (long long)C, FP8_BLOCK);
    break;
  case ALTO_SCHEME_FP8_ROWWISE:
    g->br = spec->axis == -1 ? 1 : (R > 0 ? R : 1);
    g->bc = spec->axis == -1 ? (C > 0 ? C : 1) : 1;
    break;
  default: /* tensorwise: one [E*R, C] matrix, one scale */
    g->E = 1, g->R = E * R;
    g->br = g->R > 0 ? g->R : 1;
    g->bc = C > 0 ? C : 1;
    break;
  }
  g->SE = g->E;
  g->SR = (g->R + g->br - 1) / g->br;
  g->SC = (g->C + g->bc - 1) / g->bc;
  if (spec->scheme == ALTO_SCHEME_FP8_TENSORWISE)
    g->SE = g->SR = g->SC = 1;
  return ALTO_OK;
}

static int64_t fp8_scale_count(const fp8_geom *g) {
  return g->SE * g->SR * g->SC;
}

/* The dims [E, R, C] of a view (E = 1 for 2-D), with a clear error for a bad view. */
static alto_status fp8_view_dims(const char *what, const alto_tensor_view *x, int64_t d[3]) {
  if (!x || !x->data)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: no input tensor", what);
  if (x->ndim != 2 && x->ndim != 3)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: input has %d dims (2 [R, C] or 3 [E, R, C])", what,
                      x->ndim);
  if (x->dtype != ALTO_ELEM_BF16 && x->dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: input dtype '%s' is not bf16 or f32", what,
                      alto_elem_name(x->dtype));
  d[0] = x->ndim == 3 ? x->dims[0] : 1;
  d[1] = x->dims[x->ndim - 2];
  d[2] = x->dims[x->ndim - 1];
  return ALTO_OK;
}

/* The quantized tensor must have been laid out as quant.h says for this geometry. */
static alto_status fp8_check_layout(const fp8_geom *g, const alto_quant_spec *spec,
                                    const alto_quantized *q, int64_t E, int64_t R, int64_t C) {
  const alto_quant_layout *l = &q->layout;
  if (l->codes_dims[0] != E || l->codes_dims[1] != R || l->codes_dims[2] != C ||
      l->codes_bytes != E * R * C || l->scale_bytes != 4 || l->scale_count != fp8_scale_count(g))
    return alto_error(
        ALTO_ERR_INVALID_ARG,
        "%s: quantized layout (codes [%lld, %lld, %lld], %lld scales of %d bytes) does "
        "not match the tensor [%lld, %lld, %lld] (expected %lld fp32 scales)",
        alto_scheme_name(spec->scheme), (long long)l->codes_dims[0], (long long)l->codes_dims[1],
        (long long)l->codes_dims[2], (long long)l->scale_count, l->scale_bytes, (long long)E,
        (long long)R, (long long)C, (long long)fp8_scale_count(g));
  if ((E * R * C > 0 && !q->codes) || (l->scale_count > 0 && !q->scales))
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: quantized tensor has no codes or scales buffer",
                      alto_scheme_name(spec->scheme));
  return ALTO_OK;
}

static inline int64_t fp8_scale_index(const fp8_geom *g, int64_t e, int64_t r, int64_t c) {
  return (e * g->SR + r / g->br) * g->SC + c / g->bc;
}

/* ---- quantize ----------------------------------------------------------------------------- */
typedef struct {
  const fp8_geom *g;
  const alto_tensor_view *x;
  int64_t nch;   /* row chunks per tile row */
  float *part;   /* [SE * SR * nch, SC] partial amaxes */
  float *scales; /* [SE * SR * SC] */
  uint8_t *codes;
} fp8_job;

/* Partial amax of item k = (tile row, row chunk) over each of its SC tiles. */
static void fp8_amax_rows(void *ctx, int64_t begin, int64_t end) {
  fp8_job *j = ctx;
  const fp8_geom *g = j->g;
  for (int64_t k = begin; k < end; k++) {
    int64_t t = k / j->nch, ch = k % j->nch; /* t = e * SR + tile row */
    int64_t e = t / g->SR, r0 = (t % g->SR) * g->br + ch * AMAX_ROWS;
    int64_t r1 = r0 + (g->br < AMAX_ROWS ? g->br : AMAX_ROWS);
    if (r1 > (t % g->SR + 1) * g->br)
      r1 = (t % g->SR + 1) * g->br;
    if (r1 > g->R)
      r1 = g->R;
    float *a = j->part + k * g->SC;
    for (int64_t s = 0; s < g->SC; s++)
      a[s] = 0.0f;
    for (int64_t r = r0; r < r1; r++) {
      int64_t base = (e * g->R + r) * g->C;
      for (int64_t c = 0; c < g->C; c++)
        a[c / g->bc] = alto_amax_update(a[c / g->bc], alto_tensor_get(j->x, base + c));
    }
  }
}

/* Combines the partials of tile row t and turns each amax into its scale. */
static void fp8_scale_rows(void *ctx, int64_t begin, int64_t end) {
  fp8_job *j = ctx;
  const fp8_geom *g = j->g;
  for (int64_t t = begin; t < end; t++)
    for (int64_t s = 0; s < g->SC; s++) {
      float amax = 0.0f;
      for (int64_t ch = 0; ch < j->nch; ch++)
        amax = alto_amax_update(amax, j->part[(t * j->nch + ch) * g->SC + s]);
      j->scales[t * g->SC + s] = g->is_block ? alto_fp8_block_scale(amax, g->elem)
                                             : alto_fp8_tw_scale(amax, g->elem, g->pow2);
    }
}

static void fp8_encode_rows(void *ctx, int64_t begin, int64_t end) {
  fp8_job *j = ctx;
  const fp8_geom *g = j->g;
  for (int64_t row = begin; row < end; row++) {
    int64_t e = row / g->R, r = row % g->R;
    for (int64_t c = 0; c < g->C; c++) {
      float x = alto_tensor_get(j->x, row * g->C + c);
      float s = j->scales[fp8_scale_index(g, e, r, c)];
      j->codes[row * g->C + c] =
          g->is_block ? alto_fp8_block_encode(x, s, g->elem) : alto_fp8_tw_encode(x, s, g->elem);
    }
  }
}

static int64_t fp8_row_grain(int64_t C) {
  return C > 0 && C < 16384 ? 16384 / C : 1;
}

alto_status alto_cpu_quantize_fp8_(const alto_quant_spec *spec, const alto_tensor_view *x,
                                   alto_quantized *out) {
  int64_t d[3] = {0, 0, 0};
  fp8_geom g;
  if (!spec || !out)
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8 quantizer: no spec or output");
  ALTO_TRY(fp8_view_dims(alto_scheme_name(spec->scheme), x, d));
  ALTO_TRY(fp8_geom_of(spec, d[0], d[1], d[2], &g));
  ALTO_TRY(fp8_check_layout(&g, spec, out, d[0], d[1], d[2]));
  fp8_job j = {.g = &g, .x = x, .scales = out->scales, .codes = out->codes};
  j.nch = (g.br + AMAX_ROWS - 1) / AMAX_ROWS;
  int64_t tiles = g.SE * g.SR;
  if (tiles * g.SC > 0) {
    j.part = alto_xmalloc((size_t)(tiles * j.nch * g.SC) * sizeof(float));
    alto_parallel_for(tiles * j.nch, 1, fp8_amax_rows, &j);
    alto_parallel_for(tiles, 1, fp8_scale_rows, &j);
    free(j.part);
  }
  alto_parallel_for(g.E * g.R, fp8_row_grain(g.C), fp8_encode_rows, &j);
  out->outer = 1.0f;
  return ALTO_OK;
}

/* ---- dequantize --------------------------------------------------------------------------- */
typedef struct {
  const fp8_geom *g;
  const uint8_t *codes;
  const float *scales;
  alto_elem out_dtype;
  void *y;
} fp8_dequant_job;

static void fp8_decode_rows(void *ctx, int64_t begin, int64_t end) {
  fp8_dequant_job *j = ctx;
  const fp8_geom *g = j->g;
  for (int64_t row = begin; row < end; row++) {
    int64_t e = row / g->R, r = row % g->R;
    for (int64_t c = 0; c < g->C; c++) {
      int64_t i = row * g->C + c;
      float s = j->scales[fp8_scale_index(g, e, r, c)];
      float v = g->is_block ? alto_fp8_block_decode(j->codes[i], s, g->elem)
                            : alto_fp8_tw_decode(j->codes[i], s, g->elem);
      if (j->out_dtype == ALTO_ELEM_BF16)
        ((uint16_t *)j->y)[i] = alto_f32_to_bf16(v);
      else
        ((float *)j->y)[i] = v;
    }
  }
}

alto_status alto_cpu_dequantize_fp8_(const alto_quant_spec *spec, const alto_quantized *q,
                                     alto_elem out_dtype, void *y) {
  fp8_geom g;
  if (!spec || !q)
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8 dequantizer: no spec or quantized tensor");
  const int64_t *d = q->layout.codes_dims;
  ALTO_TRY(fp8_geom_of(spec, d[0], d[1], d[2], &g));
  ALTO_TRY(fp8_check_layout(&g, spec, q, d[0], d[1], d[2]));
  if (out_dtype != ALTO_ELEM_BF16 && out_dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s dequantize: output dtype '%s' is not bf16 or f32",
                      alto_scheme_name(spec->scheme), alto_elem_name(out_dtype));
  if (!y && d[0] * d[1] * d[2] > 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s dequantize: no output buffer",
                      alto_scheme_name(spec->scheme));
  fp8_dequant_job j = {&g, q->codes, q->scales, out_dtype, y};
  alto_parallel_for(g.E * g.R, fp8_row_grain(g.C), fp8_decode_rows, &j);
  return ALTO_OK;
}

/* ---- double quantization (wgrad) ----------------------------------------------------------- */
alto_status alto_cpu_fp8_block_requant(const alto_quant_spec *fwd_spec, const alto_quantized *fwd,
                                       alto_elem dtype, const alto_quant_spec *wgrad_spec,
                                       alto_quantized *out) {
  if (!fwd_spec || !fwd || !wgrad_spec || !out)
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8_block requant: missing argument");
  if (fwd_spec->scheme != ALTO_SCHEME_FP8_BLOCK || fwd_spec->block2d || fwd_spec->axis != -1)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "fp8_block requant: the forward quantization must be fp8_block 1x128 along "
                      "axis -1 (got %s, axis %d%s)",
                      alto_scheme_name(fwd_spec->scheme), fwd_spec->axis,
                      fwd_spec->block2d ? ", 2-D blocks" : "");
  if (wgrad_spec->scheme != ALTO_SCHEME_FP8_BLOCK || wgrad_spec->block2d || wgrad_spec->axis != -2)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "fp8_block requant: the wgrad quantization must be fp8_block 128x1 along "
                      "axis -2 (got %s, axis %d%s)",
                      alto_scheme_name(wgrad_spec->scheme), wgrad_spec->axis,
                      wgrad_spec->block2d ? ", 2-D blocks" : "");
  if (dtype != ALTO_ELEM_BF16 && dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8_block requant: dtype '%s' is not bf16 or f32",
                      alto_elem_name(dtype));
  const int64_t *d = fwd->layout.codes_dims;
  fp8_geom g;
  ALTO_TRY(fp8_geom_of(wgrad_spec, d[0], d[1], d[2], &g));
  int64_t n = d[0] * d[1] * d[2];
  void *tmp = alto_xmalloc((size_t)(n > 0 ? n : 1) * (dtype == ALTO_ELEM_BF16 ? 2 : 4));
  alto_status st = alto_cpu_dequantize_fp8_(fwd_spec, fwd, dtype, tmp);
  if (st != ALTO_OK) {
    free(tmp);
    return st;
  }
  /* The layout of quant.h for 128x1 blocks along axis -2: codes [E, R, C], scales [E, R/128, C]. */
  alto_quantized q;
  memset(&q, 0, sizeof q);
  alto_quant_layout *l = &q.layout;
  for (int k = 0; k < 3; k++)
    l->codes_dims[k] = d[k];
  l->codes_bytes = n;
  l->scale_dims[0] = d[0], l->scale_dims[1] = g.SR, l->scale_dims[2] = d[2];
  l->scale_count = fp8_scale_count(&g);
  l->scale_bytes = 4;
  l->block_r = FP8_BLOCK, l->block_c = 1;
  q.codes = alto_xmalloc((size_t)(n > 0 ? n : 1));
  q.scales = alto_xmalloc((size_t)(l->scale_count > 0 ? l->scale_count : 1) * sizeof(float));
  q.outer = 1.0f;
  alto_tensor_view v = {tmp, dtype, 3, {d[0], d[1], d[2]}};
  st = alto_cpu_quantize_fp8_(wgrad_spec, &v, &q);
  free(tmp);
  if (st != ALTO_OK) {
    free(q.codes);
    free(q.scales);
    return st;
  }
  *out = q;
  return ALTO_OK;
}
