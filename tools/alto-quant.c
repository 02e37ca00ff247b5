/* alto-quant: quantize / dequantize tensors with the CPU reference quantizers (the oracle of every
 * GPU kernel), from raw fp32/bf16 files or safetensors files, writing codes, scales and
 * dequantized values. Exit codes: 0 ok, 1 error (bad input or option value), 2 usage. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/quant_store.h"

typedef struct {
  bool dequant, quiet, block2d_set, sr_set, two_level_set, pow2_set;
  const char *in, *tensor, *out, *out_dir, *shape, *dtype, *name;
  const char *scheme, *axis, *rule, *elem, *seed, *stream, *rht, *rht_stream, *group, *out_dtype;
} opts_t;

/* The parsed quantization request. */
typedef struct {
  alto_quant_spec spec;
  int rht;             /* RHT block along axis -2 (0: none) */
  uint64_t rht_stream; /* defaults to spec.stream */
  int group;           /* MX9/MX6 group size */
  bool have_out_dtype;
  alto_elem out_dtype; /* dequant dtype (default: the input's) */
} request_t;

/* What gets written: named tensors (owning their data) and metadata. */
typedef struct {
  alto_st_entry *t;
  void **data;
  size_t n, cap;
  alto_st_meta *meta;
  size_t nmeta, cap_meta;
  int quantized; /* tensors quantized */
} outset_t;

static void die_usage_(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("alto-quant: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry 'alto-quant --help'.\n", stderr);
  exit(2);
}

static void note_(const opts_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_(const opts_t *o, const char *fmt, ...) {
  if (o->quiet)
    return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Prefixes the last error message with "<name>: <what>". */
static alto_status wrap_(alto_status st, const char *name, const char *what) {
  char msg[4096];
  snprintf(msg, sizeof msg, "%s", alto_last_error());
  return alto_error(st, "%s: %s%s", name, what, msg);
}

/* ---- option values --------------------------------------------------------------------------- */

static alto_status parse_u64_(const char *opt, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (!*s || *end || errno || s[0] == '-')
    return alto_error(ALTO_ERR_INVALID_ARG, "%s '%s': expected an unsigned integer (e.g. 42, 0x2a)",
                      opt, s);
  *out = v;
  return ALTO_OK;
}

static alto_status parse_int_(const char *opt, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < lo || v > hi)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s '%s': expected an integer in [%ld, %ld]", opt, s,
                      lo, hi);
  *out = v;
  return ALTO_OK;
}

static bool is_e2m1_(alto_scheme s) {
  return s == ALTO_SCHEME_MXFP4 || s == ALTO_SCHEME_NVFP4;
}
static bool is_mx_(alto_scheme s) {
  return s == ALTO_SCHEME_MXFP4 || s == ALTO_SCHEME_MXFP8_E4M3 || s == ALTO_SCHEME_MXFP8_E5M2;
}
static bool is_mx69_(alto_scheme s) {
  return s == ALTO_SCHEME_MX9 || s == ALTO_SCHEME_MX6;
}
static bool is_fp8_scaled_(alto_scheme s) {
  return s == ALTO_SCHEME_FP8_BLOCK || s == ALTO_SCHEME_FP8_ROWWISE ||
         s == ALTO_SCHEME_FP8_TENSORWISE;
}

/* An option that only some schemes take. */
static alto_status only_for_(const char *opt, bool given, bool ok, const char *which,
                             alto_scheme s) {
  if (given && !ok)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s applies to %s, not to scheme %s", opt, which,
                      alto_scheme_name(s));
  return ALTO_OK;
}

static alto_status parse_request_(const opts_t *o, request_t *r) {
  memset(r, 0, sizeof *r);
  alto_scheme s;
  ALTO_TRY(alto_scheme_parse(o->scheme, &s));
  if (s == ALTO_SCHEME_BF16)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "scheme 'bf16' means no quantization (quantizing schemes: %s)",
                      strchr(alto_scheme_valid_names(), ',') + 2);
  r->spec = alto_quant_spec_default(s);
  r->group = 16;
  long v;
  if (o->axis) {
    if (strcmp(o->axis, "-1") && strcmp(o->axis, "-2"))
      return alto_error(ALTO_ERR_INVALID_ARG, "--axis '%s': valid values are -1 and -2", o->axis);
    r->spec.axis = atoi(o->axis);
  }
  r->spec.block2d = o->block2d_set;
  if (o->rule)
    ALTO_TRY(alto_scale_rule_parse(o->rule, &r->spec.rule));
  if (o->elem) {
    if (strcmp(o->elem, "e4m3") && strcmp(o->elem, "e5m2"))
      return alto_error(ALTO_ERR_INVALID_ARG, "--elem '%s': valid values are e4m3 and e5m2",
                        o->elem);
    ALTO_TRY(alto_elem_parse(o->elem, &r->spec.elem));
  }
  r->spec.sr = o->sr_set;
  if (o->seed)
    ALTO_TRY(parse_u64_("--seed", o->seed, &r->spec.seed));
  if (o->stream)
    ALTO_TRY(parse_u64_("--stream", o->stream, &r->spec.stream));
  r->rht_stream = r->spec.stream;
  if (o->rht_stream)
    ALTO_TRY(parse_u64_("--rht-stream", o->rht_stream, &r->rht_stream));
  r->spec.two_level = o->two_level_set;
  r->spec.pow2_scale = o->pow2_set;
  if (o->rht) {
    ALTO_TRY(parse_int_("--rht", o->rht, 16, 256, &v));
    if (v & (v - 1))
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "--rht '%s': valid block sizes are 16, 32, 64, 128, 256", o->rht);
    r->rht = (int)v;
  }
  if (o->group) {
    ALTO_TRY(parse_int_("--group", o->group, 1, 1 << 20, &v));
    r->group = (int)v;
  }
  if (o->out_dtype) {
    if (strcmp(o->out_dtype, "bf16") && strcmp(o->out_dtype, "f32"))
      return alto_error(ALTO_ERR_INVALID_ARG, "--out-dtype '%s': valid values are bf16 and f32",
                        o->out_dtype);
    r->have_out_dtype = true;
    ALTO_TRY(alto_elem_parse(o->out_dtype, &r->out_dtype));
  }
  const char *fp8 = "fp8_block, fp8_rowwise, fp8_tensorwise";
  ALTO_TRY(only_for_("--rule", o->rule, is_mx_(s), "mxfp4, mxfp8_e4m3, mxfp8_e5m2", s));
  ALTO_TRY(only_for_("--rule uos", o->rule && r->spec.rule == ALTO_SCALE_UOS,
                     s == ALTO_SCHEME_MXFP4, "mxfp4", s));
  ALTO_TRY(only_for_("--elem", o->elem, is_fp8_scaled_(s), fp8, s));
  ALTO_TRY(only_for_("--sr", o->sr_set, is_e2m1_(s), "mxfp4, nvfp4", s));
  ALTO_TRY(only_for_("--two-level", o->two_level_set, s == ALTO_SCHEME_NVFP4, "nvfp4", s));
  ALTO_TRY(only_for_("--pow2-scale", o->pow2_set,
                     s == ALTO_SCHEME_FP8_ROWWISE || s == ALTO_SCHEME_FP8_TENSORWISE,
                     "fp8_rowwise, fp8_tensorwise", s));
  ALTO_TRY(only_for_("--group", o->group, is_mx69_(s), "mx9, mx6", s));
  ALTO_TRY(only_for_("--block2d", o->block2d_set,
                     is_mx_(s) || s == ALTO_SCHEME_NVFP4 || s == ALTO_SCHEME_FP8_BLOCK,
                     "mxfp4, mxfp8_*, nvfp4, fp8_block", s));
  ALTO_TRY(only_for_("--axis", o->axis && r->spec.axis != -1, !is_mx69_(s),
                     "every scheme but mx9/mx6 (blocks run along the last axis)", s));
  return ALTO_OK;
}

/* ---- outputs --------------------------------------------------------------------------------- */

/* Adds a tensor "<base>.<kind>" (or "<base>" when kind is NULL); takes ownership of data. */
static void out_add_(outset_t *out, const char *base, const char *kind, alto_st_dtype dt, int ndim,
                     const int64_t *shape, void *data) {
  if (out->n == out->cap) {
    out->cap = out->cap ? 2 * out->cap : 16;
    out->t = alto_xrealloc(out->t, out->cap * sizeof *out->t);
    out->data = alto_xrealloc(out->data, out->cap * sizeof *out->data);
  }
  size_t len = strlen(base) + (kind ? strlen(kind) + 2 : 1);
  char *name = alto_xmalloc(len);
  snprintf(name, len, kind ? "%s.%s" : "%s", base, kind);
  alto_st_entry *e = &out->t[out->n];
  memset(e, 0, sizeof *e);
  e->name = name;
  e->dtype = dt;
  e->ndim = ndim;
  memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
  e->data = data;
  out->data[out->n++] = data;
}

static void out_meta_(outset_t *out, const char *key, char *value_owned) {
  if (out->nmeta == out->cap_meta) {
    out->cap_meta = out->cap_meta ? 2 * out->cap_meta : 8;
    out->meta = alto_xrealloc(out->meta, out->cap_meta * sizeof *out->meta);
  }
  out->meta[out->nmeta].key = alto_xstrdup(key);
  out->meta[out->nmeta].value = value_owned;
  out->nmeta++;
}

static void out_free_(outset_t *out) {
  for (size_t i = 0; i < out->n; i++) {
    free((char *)out->t[i].name);
    free(out->data[i]);
  }
  for (size_t i = 0; i < out->nmeta; i++) {
    free(out->meta[i].key);
    free(out->meta[i].value);
  }
  free(out->t);
  free(out->data);
  free(out->meta);
  memset(out, 0, sizeof *out);
}

/* ---- one tensor ------------------------------------------------------------------------------ */

static int dsize_(alto_elem e) {
  return e == ALTO_ELEM_BF16 ? 2 : 4;
}
static alto_st_dtype st_dtype_(alto_elem e) {
  return e == ALTO_ELEM_BF16 ? ALTO_ST_BF16 : ALTO_ST_F32;
}

/* Converts n fp32 values into `dt` (a fresh buffer). */
static void *from_f32_(const float *x, int64_t n, alto_elem dt) {
  void *y = alto_xmalloc((size_t)n * (size_t)dsize_(dt));
  for (int64_t i = 0; i < n; i++) {
    if (dt == ALTO_ELEM_BF16)
      ((uint16_t *)y)[i] = alto_f32_to_bf16(x[i]);
    else
      ((float *)y)[i] = x[i];
  }
  return y;
}

/* Prints shape, scheme, blocks, amax, max |error| and SNR of y against x. */
static void summary_(const opts_t *o, const char *name, const alto_tensor_view *x, const float *y,
                     const char *what, int64_t blocks) {
  double sx = 0, se = 0, amax = 0, maxerr = 0;
  int64_t nonfinite = 0, n = alto_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) {
    double a = alto_tensor_get(x, i), b = y[i];
    if (!isfinite(a) || !isfinite(b)) {
      nonfinite++;
      continue;
    }
    sx += a * a;
    se += (a - b) * (a - b);
    amax = fmax(amax, fabs(a));
    maxerr = fmax(maxerr, fabs(a - b));
  }
  char shape[96] = "";
  for (int d = 0; d < x->ndim; d++)
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "," : "",
             (long long)x->dims[d]);
  char snr[32];
  if (se == 0)
    snprintf(snr, sizeof snr, "inf");
  else
    snprintf(snr, sizeof snr, "%.2f", 10 * log10(sx / se));
  char nf[48] = "";
  if (nonfinite)
    snprintf(nf, sizeof nf, " nonfinite=%lld", (long long)nonfinite);
  note_(o, "%s [%s] %s: %s blocks=%lld amax=%.6g max_abs_err=%.6g snr=%s dB%s", name, shape,
        alto_elem_name(x->dtype), what, (long long)blocks, amax, maxerr, snr, nf);
}

static alto_status quant_one_(const opts_t *o, const request_t *r, const char *name,
                              const alto_tensor_view *x0, outset_t *out) {
  alto_tensor_view x = *x0;
  int64_t n = alto_tensor_numel(&x);
  alto_elem out_dt = r->have_out_dtype ? r->out_dtype : x.dtype;
  const alto_quant_spec *spec = &r->spec;
  int64_t shape[3];
  memcpy(shape, x.dims, sizeof shape);
  char what[160];
  int pos = snprintf(what, sizeof what, "%s", alto_scheme_name(spec->scheme));
  if (r->rht) {
    void *y = alto_xmalloc((size_t)n * (size_t)dsize_(x.dtype));
    alto_status st = alto_cpu_rht(&x, r->rht, spec->seed, r->rht_stream, x.dtype, y);
    if (st != ALTO_OK) {
      free(y);
      return wrap_(st, name, "RHT: ");
    }
    out_add_(out, name, "rht", st_dtype_(x.dtype), x.ndim, shape, y);
    x.data = y; /* quantize R x; the statistics compare against R x too */
    pos += snprintf(what + pos, sizeof what - (size_t)pos, " after RHT b=%d", r->rht);
  }
  float *deq = alto_xmalloc((size_t)n * sizeof(float));
  int64_t blocks;
  float outer = 1;
  if (is_mx69_(spec->scheme)) {
    int bits = spec->scheme == ALTO_SCHEME_MX9 ? 8 : 5;
    void *fake = alto_xmalloc((size_t)n * (size_t)dsize_(x.dtype));
    alto_status st = alto_cpu_mx69_fake(&x, bits, r->group, fake);
    if (st != ALTO_OK) {
      free(fake);
      free(deq);
      return wrap_(st, name, "");
    }
    alto_tensor_view fv = x;
    fv.data = fake;
    for (int64_t i = 0; i < n; i++)
      deq[i] = alto_tensor_get(&fv, i);
    free(fake);
    int64_t C = x.dims[x.ndim - 1];
    blocks = n / C * ((C + r->group - 1) / r->group);
    if (r->group == 16 && C % 16 == 0) {
      int64_t pb = alto_mx69_packed_bytes(bits, n);
      uint8_t *packed = alto_xmalloc((size_t)pb);
      st = alto_cpu_mx69_pack(&x, bits, packed);
      if (st != ALTO_OK) {
        free(packed);
        free(deq);
        return wrap_(st, name, "packing: ");
      }
      out_add_(out, name, "packed", ALTO_ST_U8, 1, &pb, packed);
    } else {
      note_(o,
            "%s: no .packed bytes (the packed format needs --group 16 and a last dim that is "
            "a multiple of 16)",
            name);
    }
  } else {
    alto_quantized q;
    alto_status st = alto_cpu_quantize(spec, &x, &q);
    if (st != ALTO_OK) {
      free(deq);
      return wrap_(st, name, "");
    }
    const alto_quant_layout *L = &q.layout;
    int off = x.ndim == 2 ? 1 : 0; /* 2-D tensors keep 2-D shapes */
    out_add_(out, name, "codes", ALTO_ST_U8, 3 - off, L->codes_dims + off, q.codes);
    int64_t one = 1;
    bool tw = spec->scheme == ALTO_SCHEME_FP8_TENSORWISE;
    out_add_(out, name, "scales", L->scale_bytes == 1 ? ALTO_ST_U8 : ALTO_ST_F32, tw ? 1 : 3 - off,
             tw ? &one : L->scale_dims + off, q.scales);
    outer = q.outer;
    if (spec->scheme == ALTO_SCHEME_NVFP4) {
      float *ob = alto_xmalloc(sizeof(float));
      *ob = q.outer;
      out_add_(out, name, "outer", ALTO_ST_F32, 1, &one, ob);
    }
    blocks = L->scale_count;
    st = alto_cpu_dequantize(spec, &q, ALTO_ELEM_F32, deq);
    if (st == ALTO_OK && out_dt == ALTO_ELEM_BF16) {
      void *y = alto_xmalloc((size_t)n * 2);
      st = alto_cpu_dequantize(spec, &q, ALTO_ELEM_BF16, y);
      out_add_(out, name, "dequant", ALTO_ST_BF16, x.ndim, shape, y);
    }
    /* codes and scales now belong to `out` */
    if (st != ALTO_OK) {
      free(deq);
      return wrap_(st, name, "dequantize: ");
    }
  }
  if (is_mx69_(spec->scheme) || out_dt == ALTO_ELEM_F32)
    out_add_(out, name, "dequant", st_dtype_(out_dt), x.ndim, shape, from_f32_(deq, n, out_dt));
  summary_(o, name, &x, deq, what, blocks);
  free(deq);

  alto_qstore_info info = {*spec,        x.dtype, x.ndim,   {x.dims[0], x.dims[1], x.dims[2]},
                           out_dt,       outer,   r->group, r->rht,
                           r->rht_stream};
  alto_json_writer w;
  alto_json_writer_init(&w, 0);
  alto_qstore_info_json(&w, &info);
  char key[1024];
  snprintf(key, sizeof key, ALTO_QSTORE_META_PREFIX "%s", name);
  out_meta_(out, key, alto_json_writer_take(&w, NULL));
  alto_json_writer_free(&w);
  out->quantized++;
  return ALTO_OK;
}

/* ---- inputs ---------------------------------------------------------------------------------- */

static void names_(const alto_st_file *f, char *buf, size_t n) {
  buf[0] = '\0';
  for (size_t i = 0; i < f->count; i++) {
    size_t len = strlen(buf);
    if (i == 20) {
      snprintf(buf + len, n - len, ", ... (%zu more)", f->count - 20);
      return;
    }
    snprintf(buf + len, n - len, "%s%s", i ? ", " : "", f->tensors[i].name);
  }
  if (!f->count)
    snprintf(buf, n, "none");
}

static alto_status read_raw_(const opts_t *o, const request_t *r, outset_t *out) {
  alto_tensor_view v = {0};
  v.dtype = ALTO_ELEM_F32;
  if (o->dtype) {
    if (strcmp(o->dtype, "bf16") && strcmp(o->dtype, "f32"))
      return alto_error(ALTO_ERR_INVALID_ARG, "--dtype '%s': valid values are bf16 and f32",
                        o->dtype);
    v.dtype = strcmp(o->dtype, "bf16") == 0 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  }
  const char *p = o->shape;
  while (v.ndim < 4) {
    char *end;
    errno = 0;
    long long d = strtoll(p, &end, 10);
    if (end == p || errno || d <= 0 || d > ((int64_t)1 << 40) || (*end && *end != ','))
      break;
    if (v.ndim < 3)
      v.dims[v.ndim] = d;
    v.ndim++;
    if (!*end) {
      p = NULL;
      break;
    }
    p = end + 1;
  }
  if (p || v.ndim < 2 || v.ndim > 3)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "--shape '%s': expected 2 or 3 positive integers separated by commas "
                      "(R,C or E,R,C; e.g. 4096,7168)",
                      o->shape);
  uint64_t need = (uint64_t)alto_tensor_numel(&v) * (uint64_t)dsize_(v.dtype);
  FILE *f = fopen(o->in, "rb");
  struct stat sb;
  if (!f || fstat(fileno(f), &sb) != 0) {
    alto_status st = alto_error(errno == ENOENT ? ALTO_ERR_NOT_FOUND : ALTO_ERR_IO,
                                "%s: cannot open: %s", o->in, strerror(errno));
    if (f)
      fclose(f);
    return st;
  }
  if ((uint64_t)sb.st_size != need) {
    fclose(f);
    return alto_error(
        ALTO_ERR_INVALID_ARG, "%s: file has %lld bytes but --shape %s --dtype %s needs %llu bytes",
        o->in, (long long)sb.st_size, o->shape, alto_elem_name(v.dtype), (unsigned long long)need);
  }
  void *data = alto_xmalloc((size_t)need);
  size_t got = fread(data, 1, (size_t)need, f);
  fclose(f);
  if (got != need) {
    free(data);
    return alto_error(ALTO_ERR_IO, "%s: short read (%zu of %llu bytes)", o->in, got,
                      (unsigned long long)need);
  }
  v.data = data;
  alto_status st = quant_one_(o, r, o->name ? o->name : "x", &v, out);
  free(data);
  return st;
}

static alto_status run_quant_(const opts_t *o, outset_t *out) {
  request_t r;
  ALTO_TRY(parse_request_(o, &r));
  if (o->shape)
    return read_raw_(o, &r, out);
  alto_st_file f;
  ALTO_TRY(alto_st_open(o->in, &f));
  alto_status st = ALTO_OK;
  char list[2048];
  if (o->tensor && !alto_st_find(&f, o->tensor)) {
    names_(&f, list, sizeof list);
    st = alto_error(ALTO_ERR_NOT_FOUND, "%s: no tensor '%s' (available: %s)", o->in, o->tensor,
                    list);
  }
  for (size_t i = 0; i < f.count && st == ALTO_OK; i++) {
    const alto_st_tensor *t = &f.tensors[i];
    if (o->tensor && strcmp(t->name, o->tensor))
      continue;
    alto_tensor_view v;
    void *owned = NULL;
    st = alto_qstore_view_of(t, &v, &owned);
    if (st == ALTO_ERR_UNSUPPORTED) {
      if (o->tensor)
        st = wrap_(ALTO_ERR_INVALID_ARG, t->name, "cannot be quantized: ");
      else {
        note_(o, "%s: skipped (%s)", t->name, alto_last_error());
        st = ALTO_OK;
      }
      continue;
    }
    if (t->dtype == ALTO_ST_F16 || t->dtype == ALTO_ST_F64)
      note_(o, "%s: %s converted to F32", t->name, alto_st_dtype_name(t->dtype));
    st = quant_one_(o, &r, t->name, &v, out);
    free(owned);
  }
  if (st == ALTO_OK && out->quantized == 0)
    st = alto_error(ALTO_ERR_INVALID_ARG,
                    "%s: no tensor to quantize (needs floating-point 2-D or 3-D tensors)", o->in);
  alto_st_close(&f);
  return st;
}

static alto_status dequant_one_(const opts_t *o, const alto_st_file *f, const char *name,
                                const char *spec_text, outset_t *out) {
  char what[1100];
  snprintf(what, sizeof what, "%s: __metadata__ \"" ALTO_QSTORE_META_PREFIX "%s\"", f->path, name);
  alto_qstore_info in;
  ALTO_TRY(alto_qstore_info_parse(spec_text, what, &in));
  alto_elem out_dt = in.out_dtype;
  if (o->out_dtype) {
    if (strcmp(o->out_dtype, "bf16") && strcmp(o->out_dtype, "f32"))
      return alto_error(ALTO_ERR_INVALID_ARG, "--out-dtype '%s': valid values are bf16 and f32",
                        o->out_dtype);
    out_dt = strcmp(o->out_dtype, "bf16") == 0 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  }
  alto_tensor_view x = {NULL, in.dtype, in.ndim, {in.dims[0], in.dims[1], in.dims[2]}};
  int64_t n = alto_tensor_numel(&x);
  void *y = alto_xmalloc((size_t)n * (size_t)dsize_(out_dt));
  alto_status st = alto_qstore_dequantize(f, name, &in, out_dt, y);
  if (st != ALTO_OK) {
    free(y);
    return st;
  }
  out_add_(out, name, NULL, st_dtype_(out_dt), x.ndim, x.dims, y);
  out->quantized++;
  note_(o, "%s: %s -> %s%s", name, alto_scheme_name(in.spec.scheme), alto_elem_name(out_dt),
        in.rht ? " (values after the RHT: R x)" : "");
  return ALTO_OK;
}

static alto_status run_dequant_(const opts_t *o, outset_t *out) {
  alto_st_file f;
  ALTO_TRY(alto_st_open(o->in, &f));
  alto_status st = ALTO_OK;
  size_t plen = strlen(ALTO_QSTORE_META_PREFIX);
  for (size_t i = 0; i < f.meta_count && st == ALTO_OK; i++) {
    const char *name = f.meta[i].key + plen;
    if (strncmp(f.meta[i].key, ALTO_QSTORE_META_PREFIX, plen) ||
        (o->tensor && strcmp(name, o->tensor)))
      continue;
    st = dequant_one_(o, &f, name, f.meta[i].value, out);
  }
  if (st == ALTO_OK && out->quantized == 0 && o->tensor)
    st = alto_error(ALTO_ERR_NOT_FOUND,
                    "%s: no quantized tensor '%s' (no __metadata__ key '" ALTO_QSTORE_META_PREFIX
                    "%s')",
                    o->in, o->tensor, o->tensor);
  else if (st == ALTO_OK && out->quantized == 0)
    st = alto_error(ALTO_ERR_NOT_FOUND,
                    "%s: no quantized tensors (no __metadata__ keys '" ALTO_QSTORE_META_PREFIX
                    "<name>': was it written by alto-quant?)",
                    o->in);
  alto_st_close(&f);
  return st;
}

/* ---- writing --------------------------------------------------------------------------------- */

static alto_status write_file_(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return alto_error(ALTO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  size_t w = n ? fwrite(data, 1, n, f) : 0;
  int e = errno;
  if (fclose(f) != 0 || w != n)
    return alto_error(ALTO_ERR_IO, "%s: write failed: %s", path, strerror(e ? e : errno));
  return ALTO_OK;
}

/* DIR/<kind>.bin for each output of the one tensor, and DIR/meta.json describing them. */
static alto_status write_dir_(const char *dir, const outset_t *out) {
  if (out->quantized != 1)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "--out-dir holds one tensor but %d were quantized: pick one with --tensor "
                      "NAME, or write them all with --out FILE.safetensors",
                      out->quantized);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return alto_error(ALTO_ERR_IO, "%s: cannot create the directory: %s", dir, strerror(errno));
  const char *name = out->meta[0].key + strlen(ALTO_QSTORE_META_PREFIX);
  alto_json *spec;
  ALTO_TRY(alto_json_parse(out->meta[0].value, strlen(out->meta[0].value), "spec", NULL, &spec));
  alto_json_writer w;
  alto_json_writer_init(&w, 2);
  alto_json_begin_object(&w);
  alto_json_key(&w, "tool");
  alto_json_string(&w, "alto-quant");
  alto_json_key(&w, "tensor");
  alto_json_string(&w, name);
  alto_json_key(&w, "spec");
  alto_json_value(&w, spec);
  alto_json_free(spec);
  alto_json_key(&w, "files");
  alto_json_begin_object(&w);
  alto_status st = ALTO_OK;
  for (size_t i = 0; i < out->n && st == ALTO_OK; i++) {
    const alto_st_entry *e = &out->t[i];
    const char *kind = e->name + strlen(name) + 1;
    char file[64], path[4096];
    snprintf(file, sizeof file, "%s.bin", kind);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t n = (size_t)alto_st_dtype_size(e->dtype);
    for (int d = 0; d < e->ndim; d++)
      n *= (size_t)e->shape[d];
    st = write_file_(path, e->data, n);
    alto_json_key(&w, kind);
    alto_json_begin_object(&w);
    alto_json_key(&w, "file");
    alto_json_string(&w, file);
    alto_json_key(&w, "dtype");
    alto_json_string(&w, alto_st_dtype_name(e->dtype));
    alto_json_key(&w, "shape");
    alto_json_begin_array(&w);
    for (int d = 0; d < e->ndim; d++)
      alto_json_int(&w, e->shape[d]);
    alto_json_end_array(&w);
    alto_json_end_object(&w);
  }
  alto_json_end_object(&w);
  alto_json_end_object(&w);
  size_t len;
  char *text = alto_json_writer_take(&w, &len);
  text[len] = '\0';
  char path[4096];
  snprintf(path, sizeof path, "%s/meta.json", dir);
  if (st == ALTO_OK) {
    text = alto_xrealloc(text, len + 2);
    text[len] = '\n';
    st = write_file_(path, text, len + 1);
  }
  free(text);
  alto_json_writer_free(&w);
  return st;
}

static alto_status write_st_(const char *path, outset_t *out) {
  out_meta_(out, "format", alto_xstrdup("pt"));
  out_meta_(out, "alto.format", alto_xstrdup("alto-quant/1"));
  return alto_st_write(path, out->t, out->n, out->meta, out->nmeta);
}

/* ---- command line ---------------------------------------------------------------------------- */

static const char help_text[] =
    "usage: alto-quant --scheme NAME --in FILE [options] (--out FILE.safetensors | --out-dir DIR)\n"
    "       alto-quant --dequant --in Q.safetensors --out Y.safetensors [--tensor NAME]\n"
    "\n"
    "Quantizes tensors with alto's CPU reference quantizers (bit-exact with the GPU kernels) and\n"
    "writes the codes, the scales and the dequantized values; --dequant reads them back.\n"
    "\n"
    "Input:\n"
    "  --in FILE          a .safetensors file, or a raw row-major file when --shape is given\n"
    "  --tensor NAME      safetensors: only this tensor (default: every F32/BF16/F16/F64 tensor\n"
    "                     that is 2-D [R, C] or 3-D [E, R, C]; others are skipped with a note)\n"
    "  --shape R,C|E,R,C  raw input: its shape\n"
    "  --dtype bf16|f32   raw input: its element type (default f32)\n"
    "  --name NAME        raw input: the tensor's name in the outputs (default x)\n"
    "\n"
    "Quantization:\n"
    "  --scheme NAME      mxfp4, mxfp8_e4m3, mxfp8_e5m2, nvfp4, fp8_block, fp8_rowwise,\n"
    "                     fp8_tensorwise, mx9, mx6\n"
    "  --axis -1|-2       blocks run along the last axis (1xB along K, default) or along R (Bx1)\n"
    "  --block2d          BxB tiles (mxfp*: 32x32, nvfp4: 16x16, fp8_block: 128x128)\n"
    "  --rule RULE        MX scale rule: even (default), floor, uos (mxfp4 only), rceil\n"
    "  --elem e4m3|e5m2   element of fp8_block / fp8_rowwise / fp8_tensorwise (default e4m3)\n"
    "  --sr               stochastic rounding (mxfp4, nvfp4), Philox key --seed, stream --stream\n"
    "  --seed N           Philox key for --sr and --rht (default 0; decimal or 0x hex)\n"
    "  --stream N         Philox stream for --sr (default 0)\n"
    "  --two-level        nvfp4: tensorwise fp32 outer scale\n"
    "  --pow2-scale       fp8_rowwise / fp8_tensorwise: scales rounded down to powers of two\n"
    "  --rht B            apply the randomized Hadamard transform in chunks of B rows (16..256)\n"
    "                     along axis -2 first, as the wgrad operands are (R must be a multiple\n"
    "                     of B); writes <name>.rht, and quantizes R x\n"
    "  --rht-stream N     Philox stream of the RHT (default: --stream)\n"
    "  --group N          mx9 / mx6 block size (default 16; .packed needs 16)\n"
    "\n"
    "Output:\n"
    "  --out FILE         one safetensors file with, per tensor <name>:\n"
    "                       <name>.codes    U8, packed codes (FP4: two per byte along the axis)\n"
    "                       <name>.scales   U8 (E8M0 for mx*, E4M3 for nvfp4) or F32\n"
    "                       <name>.outer    F32 [1] (nvfp4)\n"
    "                       <name>.dequant  the dequantized values (mx9/mx6: fake-quant values)\n"
    "                       <name>.packed   U8, mx9/mx6 packed bytes\n"
    "                       <name>.rht      the RHT output (with --rht)\n"
    "                     and __metadata__ \"alto.quant.<name>\": the spec as JSON\n"
    "  --out-dir DIR      raw files DIR/codes.bin, scales.bin, outer.bin, dequant.bin, "
    "packed.bin,\n"
    "                     rht.bin (as applicable) and DIR/meta.json with their shapes, dtypes and\n"
    "                     the spec (one tensor only)\n"
    "  --out-dtype D      bf16 or f32: dtype of the dequantized values (default: the input's;\n"
    "                     f32 for F16/F64 inputs)\n"
    "  --dequant          read a file written with --out and write <name> = dequantized values\n"
    "  -q, --quiet        no per-tensor summary on stderr\n"
    "  -h, --help         this text\n"
    "\n"
    "Per tensor, stderr gets: shape, dtype, scheme, blocks, amax, max |x - dequant|, SNR (dB).\n"
    "Exit status: 0 ok, 1 error (bad input or option value), 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  alto-quant --scheme mxfp4 --in model.safetensors --tensor layers.0.mlp.w1 --out "
    "q.safetensors\n"
    "  alto-quant --scheme nvfp4 --two-level --sr --seed 7 --in w.safetensors --out q.safetensors\n"
    "  alto-quant --scheme mxfp4 --in x.bin --dtype bf16 --shape 4096,7168 --out-dir xq\n"
    "  alto-quant --scheme mxfp4 --axis -2 --rht 32 --seed 1 --in x.bin --shape 4096,7168 "
    "--out-dir xq\n"
    "  alto-quant --scheme fp8_block --block2d --in w.safetensors --out q.safetensors\n"
    "  alto-quant --scheme mx9 --in model.safetensors --out ptq.safetensors\n"
    "  alto-quant --dequant --in q.safetensors --out y.safetensors --out-dtype f32\n";

/* Matches "--name VALUE" or "--name=VALUE". */
static bool opt_(const char *name, int argc, char **argv, int *i, const char **val) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return false;
  if (a[n] == '=') {
    *val = a + n + 1;
    return true;
  }
  if (a[n] != '\0')
    return false;
  if (*i + 1 >= argc)
    die_usage_("option %s needs a value", name);
  *val = argv[++*i];
  return true;
}

static void parse_args_(int argc, char **argv, opts_t *o) {
  memset(o, 0, sizeof *o);
  struct {
    const char *name;
    const char **val;
  } valued[] = {
      {"--in", &o->in},
      {"--tensor", &o->tensor},
      {"--out", &o->out},
      {"--out-dir", &o->out_dir},
      {"--shape", &o->shape},
      {"--dtype", &o->dtype},
      {"--name", &o->name},
      {"--scheme", &o->scheme},
      {"--axis", &o->axis},
      {"--rule", &o->rule},
      {"--elem", &o->elem},
      {"--seed", &o->seed},
      {"--stream", &o->stream},
      {"--rht", &o->rht},
      {"--rht-stream", &o->rht_stream},
      {"--group", &o->group},
      {"--out-dtype", &o->out_dtype},
  };
  struct {
    const char *name;
    bool *flag;
  } flags[] = {
      {"--dequant", &o->dequant},
      {"--block2d", &o->block2d_set},
      {"--sr", &o->sr_set},
      {"--two-level", &o->two_level_set},
      {"--pow2-scale", &o->pow2_set},
      {"--quiet", &o->quiet},
      {"-q", &o->quiet},
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(help_text, stdout);
      exit(0);
    }
    bool matched = false;
    for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !matched; k++)
      matched = opt_(valued[k].name, argc, argv, &i, valued[k].val);
    for (size_t k = 0; k < sizeof flags / sizeof flags[0] && !matched; k++)
      if (!strcmp(a, flags[k].name))
        matched = *flags[k].flag = true;
    if (!matched)
      die_usage_(a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
  }
  if (!o->in)
    die_usage_("--in is required");
  if (!!o->out == !!o->out_dir)
    die_usage_("give exactly one of --out FILE.safetensors and --out-dir DIR");
  if (o->dequant) {
    if (o->scheme || o->shape || o->out_dir)
      die_usage_("--dequant reads the spec from the file: it takes --in, --out, --tensor and "
                 "--out-dtype only");
    return;
  }
  if (!o->scheme)
    die_usage_("--scheme is required (valid: %s)", strchr(alto_scheme_valid_names(), ',') + 2);
  if ((o->dtype || o->name) && !o->shape)
    die_usage_("--dtype and --name describe a raw input and need --shape");
  if (o->shape && o->tensor)
    die_usage_("--tensor selects from a safetensors file; a raw input (--shape) has one tensor");
}

int main(int argc, char **argv) {
  opts_t o;
  parse_args_(argc, argv, &o);
  outset_t out = {0};
  alto_status st = o.dequant ? run_dequant_(&o, &out) : run_quant_(&o, &out);
  if (st == ALTO_OK)
    st = o.out ? write_st_(o.out, &out) : write_dir_(o.out_dir, &out);
  out_free_(&out);
  if (st != ALTO_OK) {
    fprintf(stderr, "alto-quant: error: %s\n", alto_last_error());
    return 1;
  }
  return 0;
}
