/* The CPU quantizer front end: spec defaults, shape/option validation, layouts, allocation and the
 * per-scheme dispatch (MX and NVFP4 bodies in quant_mx.c, FP8 bodies in quant_fp8.c). */
#include "runtime/cpu/quant.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/cpu/quant_internal.h"

alto_quant_spec alto_quant_spec_default(alto_scheme scheme) {
  alto_quant_spec s;
  memset(&s, 0, sizeof s);
  s.scheme = scheme;
  s.axis = -1;
  s.block2d = false;
  s.rule = ALTO_SCALE_EVEN;
  s.elem = ALTO_ELEM_E4M3;
  s.sr = false;
  s.two_level = false;
  s.pow2_scale = false;
  return s;
}

static bool alto_quant_is_fp8_(alto_scheme s) {
  return s == ALTO_SCHEME_FP8_BLOCK || s == ALTO_SCHEME_FP8_ROWWISE ||
         s == ALTO_SCHEME_FP8_TENSORWISE;
}

static bool alto_quant_is_mx_(alto_scheme s) {
  return s == ALTO_SCHEME_MXFP4 || s == ALTO_SCHEME_MXFP8_E4M3 || s == ALTO_SCHEME_MXFP8_E5M2;
}

/* "1x32 blocks along axis -1", "32x32 blocks" */
static void alto_quant_block_desc_(const alto_quant_spec *spec, int b, char *buf, size_t n) {
  if (spec->block2d)
    snprintf(buf, n, "%dx%d blocks", b, b);
  else if (spec->axis == -1)
    snprintf(buf, n, "1x%d blocks along axis -1", b);
  else
    snprintf(buf, n, "%dx1 blocks along axis -2", b);
}

static alto_status alto_quant_check_dim_(const alto_quant_spec *spec, int b, int64_t dim,
                                         const char *which) {
  if (dim % b == 0)
    return ALTO_OK;
  char desc[64];
  alto_quant_block_desc_(spec, b, desc, sizeof desc);
  return alto_error(ALTO_ERR_INVALID_ARG,
                    "%s with %s needs the %s (%lld) to be a multiple of %d; pad it",
                    alto_scheme_name(spec->scheme), desc, which, (long long)dim, b);
}

alto_status alto_quant_layout_of(const alto_quant_spec *spec, const alto_tensor_view *x,
                                 alto_quant_layout *out) {
  if (!spec || !x || !out)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_quant_layout_of: NULL argument");
  memset(out, 0, sizeof *out);
  alto_scheme sch = spec->scheme;
  if ((unsigned)sch >= ALTO_SCHEME_COUNT)
    return alto_error(ALTO_ERR_INVALID_ARG, "unknown scheme %d (valid: %s)", (int)sch,
                      alto_scheme_valid_names());
  const char *name = alto_scheme_name(sch);
  if (!alto_quant_is_mx_(sch) && sch != ALTO_SCHEME_NVFP4 && !alto_quant_is_fp8_(sch))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "scheme %s has no quantized layout (quantizable: mxfp4, mxfp8_e4m3, "
                      "mxfp8_e5m2, nvfp4, fp8_block, fp8_rowwise, fp8_tensorwise; mx9/mx6 use "
                      "alto_cpu_mx69_*)",
                      name);
  if (x->ndim != 2 && x->ndim != 3)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s: tensor has ndim %d; expected ndim 2 ([R, C]) or 3 ([E, R, C])", name,
                      x->ndim);
  for (int d = 0; d < x->ndim; d++)
    if (x->dims[d] <= 0)
      return alto_error(ALTO_ERR_INVALID_ARG, "%s: dim %d is %lld; every dim must be positive",
                        name, d, (long long)x->dims[d]);
  if (x->dtype != ALTO_ELEM_BF16 && x->dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: input dtype %s; expected bf16 or f32", name,
                      (unsigned)x->dtype < ALTO_ELEM_COUNT ? alto_elem_name(x->dtype) : "?");
  if (spec->axis != -1 && spec->axis != -2)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s: axis %d is not supported; use -1 (blocks along the last dim) or -2 "
                      "(blocks along the row dim)",
                      name, spec->axis);
  if ((unsigned)spec->rule >= ALTO_SCALE_RULE_COUNT)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: unknown scale rule %d", name, (int)spec->rule);
  bool e2m1 = alto_quant_is_e2m1_(sch);
  if (spec->sr && !e2m1)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s: stochastic rounding is only defined for E2M1 schemes (mxfp4, nvfp4)",
                      name);
  if (sch != ALTO_SCHEME_MXFP4 && alto_quant_is_mx_(sch) && spec->rule == ALTO_SCALE_UOS)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "%s: scale rule 'uos' is defined for mxfp4 only (use even, floor or rceil)",
                      name);
  if (alto_quant_is_fp8_(sch) && spec->elem != ALTO_ELEM_E4M3 && spec->elem != ALTO_ELEM_E5M2)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: element format %s; expected e4m3 or e5m2", name,
                      (unsigned)spec->elem < ALTO_ELEM_COUNT ? alto_elem_name(spec->elem) : "?");
  if (spec->block2d && (sch == ALTO_SCHEME_FP8_ROWWISE || sch == ALTO_SCHEME_FP8_TENSORWISE))
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: 2-D blocks are not defined for this scheme", name);

  int64_t E = x->ndim == 3 ? x->dims[0] : 1;
  int64_t R = x->dims[x->ndim - 2], C = x->dims[x->ndim - 1];
  int b = alto_scheme_block(sch);
  int br = 1, bc = 1;
  if (b > 0) {
    if (spec->block2d || spec->axis == -2) {
      ALTO_TRY(alto_quant_check_dim_(spec, b, R, "row dim"));
      br = b;
    }
    if (spec->block2d || spec->axis == -1) {
      ALTO_TRY(alto_quant_check_dim_(spec, b, C, "last dim"));
      bc = b;
    }
  } else if (sch == ALTO_SCHEME_FP8_ROWWISE) {
    if (spec->axis == -1)
      bc = (int)(C > 0x7FFFFFFF ? 0x7FFFFFFF : C);
    else
      br = (int)(R > 0x7FFFFFFF ? 0x7FFFFFFF : R);
  } else { /* tensorwise */
    br = (int)(R > 0x7FFFFFFF ? 0x7FFFFFFF : R);
    bc = (int)(C > 0x7FFFFFFF ? 0x7FFFFFFF : C);
  }
  out->block_r = br;
  out->block_c = bc;

  out->codes_dims[0] = E;
  out->codes_dims[1] = R;
  out->codes_dims[2] = C;
  if (e2m1)
    out->codes_dims[spec->axis == -1 ? 2 : 1] /= 2; /* even: the block size divides it */
  out->codes_bytes = E * out->codes_dims[1] * out->codes_dims[2];

  if (sch == ALTO_SCHEME_FP8_TENSORWISE) {
    out->scale_dims[0] = out->scale_dims[1] = out->scale_dims[2] = 1;
  } else {
    out->scale_dims[0] = E;
    out->scale_dims[1] = R / br;
    out->scale_dims[2] = C / bc;
  }
  out->scale_count = out->scale_dims[0] * out->scale_dims[1] * out->scale_dims[2];
  out->scale_bytes = alto_quant_is_fp8_(sch) ? 4 : 1;
  return ALTO_OK;
}

alto_status alto_cpu_quantize(const alto_quant_spec *spec, const alto_tensor_view *x,
                              alto_quantized *out) {
  if (!out)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_cpu_quantize: NULL output");
  memset(out, 0, sizeof *out);
  out->outer = 1.0f;
  ALTO_TRY(alto_quant_layout_of(spec, x, &out->layout));
  if (!x->data)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_cpu_quantize: input data is NULL");
  out->codes = alto_xcalloc((size_t)out->layout.codes_bytes, 1);
  out->scales = alto_xcalloc((size_t)out->layout.scale_count, (size_t)out->layout.scale_bytes);
  alto_status st = alto_quant_is_fp8_(spec->scheme) ? alto_cpu_quantize_fp8_(spec, x, out)
                                                    : alto_cpu_quantize_mx_(spec, x, out);
  if (st != ALTO_OK)
    alto_quantized_free(out);
  return st;
}

alto_status alto_cpu_dequantize(const alto_quant_spec *spec, const alto_quantized *q,
                                alto_elem out_dtype, void *y) {
  if (!spec || !q || !y || !q->codes || !q->scales)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_cpu_dequantize: NULL argument");
  if (out_dtype != ALTO_ELEM_BF16 && out_dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "alto_cpu_dequantize: output dtype %s; expected bf16 or f32",
                      (unsigned)out_dtype < ALTO_ELEM_COUNT ? alto_elem_name(out_dtype) : "?");
  alto_scheme sch = spec->scheme;
  if (alto_quant_is_fp8_(sch))
    return alto_cpu_dequantize_fp8_(spec, q, out_dtype, y);
  if (alto_quant_is_mx_(sch) || sch == ALTO_SCHEME_NVFP4)
    return alto_cpu_dequantize_mx_(spec, q, out_dtype, y);
  return alto_error(ALTO_ERR_INVALID_ARG, "alto_cpu_dequantize: scheme %s has no quantized form",
                    (unsigned)sch < ALTO_SCHEME_COUNT ? alto_scheme_name(sch) : "?");
}

void alto_quantized_free(alto_quantized *q) {
  if (!q)
    return;
  free(q->codes);
  free(q->scales);
  q->codes = NULL;
  q->scales = NULL;
}
