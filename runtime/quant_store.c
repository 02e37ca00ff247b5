#include "runtime/quant_store.h"

#include <errno.h>
#include <math.h>
#include <string.h>

const char *alto_qstore_scale_kind(alto_scheme s) {
  switch (s) {
  case ALTO_SCHEME_MXFP4:
  case ALTO_SCHEME_MXFP8_E4M3:
  case ALTO_SCHEME_MXFP8_E5M2:
    return "e8m0";
  case ALTO_SCHEME_NVFP4:
    return "e4m3";
  default:
    return "f32";
  }
}

static void json_u64_(alto_json_writer *w, const char *key, uint64_t v) {
  char b[32];
  snprintf(b, sizeof b, "%llu", (unsigned long long)v);
  alto_json_key(w, key);
  alto_json_string(w, b); /* a string: 64-bit seeds exceed JSON's exact integer range */
}

void alto_qstore_info_json(alto_json_writer *w, const alto_qstore_info *in) {
  const alto_quant_spec *s = &in->spec;
  alto_json_begin_object(w);
  alto_json_key(w, "scheme");
  alto_json_string(w, alto_scheme_name(s->scheme));
  alto_json_key(w, "dtype");
  alto_json_string(w, alto_elem_name(in->dtype));
  alto_json_key(w, "shape");
  alto_json_begin_array(w);
  for (int d = 0; d < in->ndim; d++)
    alto_json_int(w, in->dims[d]);
  alto_json_end_array(w);
  alto_json_key(w, "out_dtype");
  alto_json_string(w, alto_elem_name(in->out_dtype));
  alto_json_key(w, "axis");
  alto_json_int(w, s->axis);
  alto_json_key(w, "block2d");
  alto_json_bool(w, s->block2d);
  alto_json_key(w, "rule");
  alto_json_string(w, alto_scale_rule_name(s->rule));
  alto_json_key(w, "elem");
  alto_json_string(w, alto_elem_name(s->elem));
  alto_json_key(w, "sr");
  alto_json_bool(w, s->sr);
  json_u64_(w, "seed", s->seed);
  json_u64_(w, "stream", s->stream);
  alto_json_key(w, "two_level");
  alto_json_bool(w, s->two_level);
  alto_json_key(w, "pow2_scale");
  alto_json_bool(w, s->pow2_scale);
  alto_json_key(w, "scale_kind");
  alto_json_string(w, alto_qstore_scale_kind(s->scheme));
  alto_json_key(w, "outer");
  alto_json_double(w, in->outer);
  alto_json_key(w, "group");
  alto_json_int(w, in->group);
  alto_json_key(w, "rht");
  alto_json_int(w, in->rht);
  json_u64_(w, "rht_stream", in->rht_stream);
  alto_json_end_object(w);
}

static alto_status bad_(const char *what, const char *field) {
  return alto_error(ALTO_ERR_PARSE, "%s: missing or invalid \"%s\"", what, field);
}

static alto_status get_u64_(const alto_json *j, const char *what, const char *key, uint64_t *out) {
  const char *s = alto_json_get_string(j, key);
  char *end;
  errno = 0;
  if (!s || !*s || (*out = strtoull(s, &end, 10), *end || errno))
    return bad_(what, key);
  return ALTO_OK;
}

static alto_status get_bool_(const alto_json *j, const char *what, const char *key, bool *out) {
  const alto_json *v = alto_json_get_type(j, key, ALTO_JSON_BOOL);
  if (!v)
    return bad_(what, key);
  *out = v->boolean;
  return ALTO_OK;
}

static alto_status get_int_(const alto_json *j, const char *what, const char *key, int64_t lo,
                            int64_t hi, int64_t *out) {
  const alto_json *v = alto_json_get_type(j, key, ALTO_JSON_NUMBER);
  if (!v || !v->is_int || v->i64 < lo || v->i64 > hi)
    return bad_(what, key);
  *out = v->i64;
  return ALTO_OK;
}

static alto_status get_dtype_(const alto_json *j, const char *what, const char *key,
                              alto_elem *out) {
  const char *s = alto_json_get_string(j, key);
  if (!s || (strcmp(s, "bf16") && strcmp(s, "f32")))
    return bad_(what, key);
  *out = strcmp(s, "bf16") == 0 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  return ALTO_OK;
}

static alto_status info_from_json_(const alto_json *j, const char *what, alto_qstore_info *in) {
  const char *s = alto_json_get_string(j, "scheme");
  if (!s)
    return bad_(what, "scheme");
  alto_scheme scheme;
  if (alto_scheme_parse(s, &scheme) != ALTO_OK)
    return bad_(what, "scheme");
  in->spec = alto_quant_spec_default(scheme);
  ALTO_TRY(get_dtype_(j, what, "dtype", &in->dtype));
  ALTO_TRY(get_dtype_(j, what, "out_dtype", &in->out_dtype));
  const alto_json *shape = alto_json_get_type(j, "shape", ALTO_JSON_ARRAY);
  if (!shape || shape->count < 2 || shape->count > 3)
    return bad_(what, "shape");
  in->ndim = (int)shape->count;
  for (int d = 0; d < in->ndim; d++) {
    const alto_json *v = &shape->items[d];
    if (v->type != ALTO_JSON_NUMBER || !v->is_int || v->i64 <= 0 || v->i64 > ((int64_t)1 << 40))
      return bad_(what, "shape");
    in->dims[d] = v->i64;
  }
  int64_t v = 0;
  ALTO_TRY(get_int_(j, what, "axis", -2, -1, &v));
  in->spec.axis = (int)v;
  ALTO_TRY(get_bool_(j, what, "block2d", &in->spec.block2d));
  const char *rule = alto_json_get_string(j, "rule"), *elem = alto_json_get_string(j, "elem");
  if (!rule || alto_scale_rule_parse(rule, &in->spec.rule) != ALTO_OK)
    return bad_(what, "rule");
  if (!elem || alto_elem_parse(elem, &in->spec.elem) != ALTO_OK)
    return bad_(what, "elem");
  ALTO_TRY(get_bool_(j, what, "sr", &in->spec.sr));
  ALTO_TRY(get_u64_(j, what, "seed", &in->spec.seed));
  ALTO_TRY(get_u64_(j, what, "stream", &in->spec.stream));
  ALTO_TRY(get_bool_(j, what, "two_level", &in->spec.two_level));
  ALTO_TRY(get_bool_(j, what, "pow2_scale", &in->spec.pow2_scale));
  const alto_json *outer = alto_json_get_type(j, "outer", ALTO_JSON_NUMBER);
  in->outer = outer ? (float)outer->num : 1.0f;
  ALTO_TRY(get_int_(j, what, "group", 1, 1 << 20, &v));
  in->group = (int)v;
  ALTO_TRY(get_int_(j, what, "rht", 0, 256, &v));
  in->rht = (int)v;
  return get_u64_(j, what, "rht_stream", &in->rht_stream);
}

alto_status alto_qstore_info_parse(const char *text, const char *what, alto_qstore_info *out) {
  memset(out, 0, sizeof *out);
  alto_json *j;
  ALTO_TRY(alto_json_parse(text, strlen(text), what, NULL, &j));
  alto_status st = info_from_json_(j, what, out);
  alto_json_free(j);
  return st;
}

alto_status alto_qstore_tensor(const alto_st_file *f, const char *name, const char *kind,
                               alto_st_dtype dtype, int64_t numel, const alto_st_tensor **out) {
  char full[1100];
  snprintf(full, sizeof full, "%s.%s", name, kind);
  const alto_st_tensor *t = alto_st_find(f, full);
  if (!t)
    return alto_error(ALTO_ERR_NOT_FOUND, "%s: tensor '%s' is missing", f->path, full);
  if (t->dtype != dtype || t->numel != numel)
    return alto_error(ALTO_ERR_PARSE,
                      "%s: tensor '%s' is %s with %lld elements; expected %s with %lld", f->path,
                      full, alto_st_dtype_name(t->dtype), (long long)t->numel,
                      alto_st_dtype_name(dtype), (long long)numel);
  *out = t;
  return ALTO_OK;
}

alto_status alto_qstore_load(const alto_st_file *f, const char *name, const alto_qstore_info *in,
                             alto_quantized *q) {
  memset(q, 0, sizeof *q);
  alto_tensor_view x = {NULL, in->dtype, in->ndim, {in->dims[0], in->dims[1], in->dims[2]}};
  ALTO_TRY(alto_quant_layout_of(&in->spec, &x, &q->layout));
  const alto_quant_layout *L = &q->layout;
  const alto_st_tensor *codes, *scales, *outer = NULL;
  ALTO_TRY(alto_qstore_tensor(f, name, "codes", ALTO_ST_U8, L->codes_bytes, &codes));
  ALTO_TRY(alto_qstore_tensor(f, name, "scales", L->scale_bytes == 1 ? ALTO_ST_U8 : ALTO_ST_F32,
                              L->scale_count, &scales));
  if (in->spec.scheme == ALTO_SCHEME_NVFP4)
    ALTO_TRY(alto_qstore_tensor(f, name, "outer", ALTO_ST_F32, 1, &outer));
  q->codes = alto_xmalloc((size_t)L->codes_bytes);
  memcpy(q->codes, codes->data, (size_t)L->codes_bytes);
  size_t sb = (size_t)L->scale_count * (size_t)L->scale_bytes;
  q->scales = alto_xmalloc(sb);
  memcpy(q->scales, scales->data, sb);
  q->outer = 1.0f;
  if (outer)
    memcpy(&q->outer, outer->data, sizeof(float));
  return ALTO_OK;
}

static void store_f32_(alto_elem dt, void *y, int64_t i, float v) {
  if (dt == ALTO_ELEM_BF16)
    ((uint16_t *)y)[i] = alto_f32_to_bf16(v);
  else
    ((float *)y)[i] = v;
}

static alto_status dequantize_mx69_(const alto_st_file *f, const char *name,
                                    const alto_qstore_info *in, alto_elem out_dt, int64_t n,
                                    void *y) {
  int bits = in->spec.scheme == ALTO_SCHEME_MX9 ? 8 : 5;
  const alto_st_tensor *t;
  char packed[1100];
  snprintf(packed, sizeof packed, "%s.packed", name);
  if (in->group == 16 && in->dims[in->ndim - 1] % 16 == 0 && alto_st_find(f, packed) != NULL) {
    ALTO_TRY(
        alto_qstore_tensor(f, name, "packed", ALTO_ST_U8, alto_mx69_packed_bytes(bits, n), &t));
    return alto_cpu_mx69_unpack(t->data, bits, n, out_dt, y);
  }
  alto_st_dtype dt = in->out_dtype == ALTO_ELEM_BF16 ? ALTO_ST_BF16 : ALTO_ST_F32;
  ALTO_TRY(alto_qstore_tensor(f, name, "dequant", dt, n, &t));
  for (int64_t i = 0; i < n; i++) {
    float v;
    if (dt == ALTO_ST_BF16) {
      uint16_t h;
      memcpy(&h, (const char *)t->data + 2 * i, 2);
      v = alto_bf16_to_f32(h);
    } else {
      memcpy(&v, (const char *)t->data + 4 * i, 4);
    }
    store_f32_(out_dt, y, i, v);
  }
  return ALTO_OK;
}

alto_status alto_qstore_dequantize(const alto_st_file *f, const char *name,
                                   const alto_qstore_info *in, alto_elem out_dtype, void *y) {
  int64_t n = 1;
  for (int d = 0; d < in->ndim; d++)
    n *= in->dims[d];
  if (in->spec.scheme == ALTO_SCHEME_MX9 || in->spec.scheme == ALTO_SCHEME_MX6)
    return dequantize_mx69_(f, name, in, out_dtype, n, y);
  alto_quantized q;
  ALTO_TRY(alto_qstore_load(f, name, in, &q));
  alto_status st = alto_cpu_dequantize(&in->spec, &q, out_dtype, y);
  alto_quantized_free(&q);
  return st;
}

static float f16_to_f32_(uint16_t h) {
  int e = (h >> 10) & 0x1F, m = h & 0x3FF;
  float v = e == 0 ? ldexpf((float)m, -24)
                   : (e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25));
  return (h & 0x8000) ? -v : v;
}

alto_status alto_qstore_view_of(const alto_st_tensor *t, alto_tensor_view *v, void **owned) {
  if (t->ndim != 2 && t->ndim != 3)
    return alto_error(ALTO_ERR_UNSUPPORTED, "%d-D (2-D [R, C] or 3-D [E, R, C] only)", t->ndim);
  if (t->dtype != ALTO_ST_F32 && t->dtype != ALTO_ST_BF16 && t->dtype != ALTO_ST_F16 &&
      t->dtype != ALTO_ST_F64)
    return alto_error(ALTO_ERR_UNSUPPORTED, "dtype %s (F32, BF16, F16, F64 only)",
                      alto_st_dtype_name(t->dtype));
  memset(v, 0, sizeof *v);
  v->ndim = t->ndim;
  memcpy(v->dims, t->shape, (size_t)t->ndim * sizeof v->dims[0]);
  size_t n = (size_t)t->numel;
  if (t->dtype == ALTO_ST_F32 || t->dtype == ALTO_ST_BF16) {
    v->dtype = t->dtype == ALTO_ST_F32 ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
    *owned = alto_xmalloc(t->end - t->begin);
    memcpy(*owned, t->data, t->end - t->begin);
  } else {
    v->dtype = ALTO_ELEM_F32;
    float *x = alto_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
      if (t->dtype == ALTO_ST_F16) {
        uint16_t h;
        memcpy(&h, (const char *)t->data + 2 * i, 2);
        x[i] = f16_to_f32_(h);
      } else {
        double d;
        memcpy(&d, (const char *)t->data + 8 * i, 8);
        x[i] = (float)d;
      }
    }
    *owned = x;
  }
  v->data = *owned;
  return ALTO_OK;
}
