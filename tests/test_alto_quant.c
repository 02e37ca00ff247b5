/* tools/alto-quant, run as a program: raw and safetensors round trips whose codes, scales and
 * dequantized values must equal the library's (alto_cpu_quantize / _dequantize) bit for bit, and
 * every kind of bad input (exit 1 or 2 with a message that says what to fix). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/quant_store.h"
#include "tests/harness.h"

static const char *tmp_;
static char out_[1 << 16];
static alto_test_rng rng_;

/* tmp_/name (a few rotating buffers). */
static const char *path_(const char *name) {
  static char buf[4][2048];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_, name);
  return buf[k];
}

/* Runs alto-quant with `args` (stdout and stderr into out_); returns the exit status. */
static int run_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_(const char *fmt, ...) {
  char args[4096], cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s/alto-quant' %s 2>&1", tmp_, ALTO_BIN_DIR, args);
  FILE *p = popen(cmd, "r");
  if (!p)
    return -1;
  size_t n = fread(out_, 1, sizeof out_ - 1, p);
  out_[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void *slurp_(const char *name, size_t *len) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", tmp_, name);
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void spit_(const char *name, const void *b, size_t n) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", tmp_, name);
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(b, 1, n, f) == n);
  if (f)
    fclose(f);
}

/* `name` (a file in tmp_) holds exactly `n` bytes equal to `want`. */
static void same_file_(const char *name, const void *want, size_t n) {
  size_t len = 0;
  void *b = slurp_(name, &len);
  CHECKF(b && len == n && memcmp(b, want, n) == 0, "%s differs (%zu bytes, want %zu)", name, len,
         n);
  free(b);
}

/* The tensor `name` of an open file holds exactly `n` bytes equal to `want`. */
static void same_tensor_(const alto_st_file *f, const char *name, const void *want, size_t n) {
  const alto_st_tensor *t = alto_st_find(f, name);
  CHECKF(t && t->end - t->begin == n && memcmp(t->data, want, n) == 0, "%s: tensor %s differs",
         f->path, name);
}

static size_t dsize_(alto_elem e) {
  return e == ALTO_ELEM_BF16 ? 2 : 4;
}

/* Expected outputs of one quantization, from the library. */
static void expect_(const alto_quant_spec *s, const alto_tensor_view *x, alto_elem out_dt,
                    alto_quantized *q, void **deq) {
  alto_status st = alto_cpu_quantize(s, x, q);
  CHECKF(st == ALTO_OK, "%s", alto_last_error());
  *deq = calloc((size_t)alto_tensor_numel(x), dsize_(out_dt));
  if (st == ALTO_OK)
    CHECK(alto_cpu_dequantize(s, q, out_dt, *deq) == ALTO_OK);
}

static void test_help(void) {
  CHECK(run_("--help") == 0);
  CHECK(strstr(out_, "usage: alto-quant") && strstr(out_, "--two-level") &&
        strstr(out_, "Examples:"));
  CHECK(run_("-h") == 0);
}

/* Raw in, raw out: codes.bin, scales.bin, dequant.bin, meta.json. */
static void test_raw(void) {
  alto_test_rng *rng = &rng_;
  enum { R = 64, C = 128 };
  static float x[R * C];
  static uint16_t xb[R * C];
  alto_test_fill_outliers(rng, x, R * C, 1.0f);
  for (int i = 0; i < R * C; i++)
    xb[i] = alto_f32_to_bf16(x[i]);
  spit_("x.bin", x, sizeof x);
  spit_("xb.bin", xb, sizeof xb);
  struct {
    const char *args;
    alto_elem dtype;
    alto_scheme scheme;
    int axis;
  } cases[] = {
      {"--scheme mxfp4 --in x.bin --shape 64,128", ALTO_ELEM_F32, ALTO_SCHEME_MXFP4, -1},
      {"--scheme mxfp4 --axis -2 --in xb.bin --dtype bf16 --shape 64,128", ALTO_ELEM_BF16,
       ALTO_SCHEME_MXFP4, -2},
      {"--scheme mxfp8_e4m3 --in x.bin --shape 64,128 --out-dtype bf16", ALTO_ELEM_F32,
       ALTO_SCHEME_MXFP8_E4M3, -1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int rc = run_("%s --out-dir raw%zu", cases[c].args, c);
    CHECKF(rc == 0, "%s: rc %d: %s", cases[c].args, rc, out_);
    CHECK(strstr(out_, "snr=") && strstr(out_, "blocks="));
    alto_quant_spec s = alto_quant_spec_default(cases[c].scheme);
    s.axis = cases[c].axis;
    alto_tensor_view v = {
        cases[c].dtype == ALTO_ELEM_BF16 ? (void *)xb : (void *)x, cases[c].dtype, 2, {R, C}};
    alto_elem out_dt = strstr(cases[c].args, "--out-dtype bf16") ? ALTO_ELEM_BF16 : cases[c].dtype;
    alto_quantized q;
    void *deq;
    expect_(&s, &v, out_dt, &q, &deq);
    char name[64];
    snprintf(name, sizeof name, "raw%zu/codes.bin", c);
    same_file_(name, q.codes, (size_t)q.layout.codes_bytes);
    snprintf(name, sizeof name, "raw%zu/scales.bin", c);
    same_file_(name, q.scales, (size_t)(q.layout.scale_count * q.layout.scale_bytes));
    snprintf(name, sizeof name, "raw%zu/dequant.bin", c);
    same_file_(name, deq, (size_t)(R * C) * dsize_(out_dt));
    snprintf(name, sizeof name, "raw%zu/meta.json", c);
    size_t len;
    char *meta = slurp_(name, &len);
    CHECK(meta && strstr(meta, "\"codes.bin\"") && strstr(meta, "\"scale_kind\""));
    free(meta);
    alto_quantized_free(&q);
    free(deq);
  }
}

/* Safetensors in, safetensors out, then --dequant back. */
static void check_st_case_(const char *args, const alto_quant_spec *s, const alto_tensor_view *xs,
                           const char *const *names, int count, alto_elem out_dt) {
  int rc = run_("--in in.safetensors %s --out q.safetensors", args);
  CHECKF(rc == 0, "%s: rc %d: %s", args, rc, out_);
  CHECKF(strstr(args, "--tensor") || strstr(out_, "ids: skipped ("), "%s", out_);
  alto_st_file f;
  if (alto_st_open(path_("q.safetensors"), &f) != ALTO_OK) {
    CHECKF(0, "%s", alto_last_error());
    return;
  }
  for (int i = 0; i < count; i++) {
    alto_quantized q;
    void *deq;
    alto_elem odt = out_dt == ALTO_ELEM_COUNT ? xs[i].dtype : out_dt; /* default: the input's */
    expect_(s, &xs[i], odt, &q, &deq);
    char key[256];
    snprintf(key, sizeof key, "%s.codes", names[i]);
    same_tensor_(&f, key, q.codes, (size_t)q.layout.codes_bytes);
    snprintf(key, sizeof key, "%s.scales", names[i]);
    same_tensor_(&f, key, q.scales, (size_t)(q.layout.scale_count * q.layout.scale_bytes));
    snprintf(key, sizeof key, "%s.dequant", names[i]);
    size_t nb = (size_t)alto_tensor_numel(&xs[i]) * dsize_(odt);
    same_tensor_(&f, key, deq, nb);
    if (s->scheme == ALTO_SCHEME_NVFP4) {
      snprintf(key, sizeof key, "%s.outer", names[i]);
      same_tensor_(&f, key, &q.outer, 4);
    }
    snprintf(key, sizeof key, ALTO_QSTORE_META_PREFIX "%s", names[i]);
    alto_qstore_info info;
    const char *meta = alto_st_meta_get(&f, key);
    CHECK(meta && alto_qstore_info_parse(meta, key, &info) == ALTO_OK &&
          info.spec.scheme == s->scheme && info.spec.seed == s->seed);
    /* --dequant gives the library's dequantization too. */
    rc = run_("--dequant --in q.safetensors --tensor %s --out y.safetensors", names[i]);
    CHECKF(rc == 0, "dequant: %s", out_);
    alto_st_file y;
    if (alto_st_open(path_("y.safetensors"), &y) == ALTO_OK) {
      same_tensor_(&y, names[i], deq, nb);
      alto_st_close(&y);
    }
    alto_quantized_free(&q);
    free(deq);
  }
  alto_st_close(&f);
}

static void test_safetensors(void) {
  alto_test_rng *rng = &rng_;
  enum { N = 128 * 128 };
  static float w[N], b3[N];
  static uint16_t wb[N];
  alto_test_fill_outliers(rng, w, N, 0.02f);
  alto_test_fill_outliers(rng, b3, N, 3.0f);
  for (int i = 0; i < N; i++)
    wb[i] = alto_f32_to_bf16(w[i]);
  int64_t ids[4] = {1, 2, 3, 4};
  alto_st_entry t[] = {
      {"model.w", ALTO_ST_BF16, 2, {128, 128}, wb},
      {"ids", ALTO_ST_I64, 1, {4}, ids},
      {"experts", ALTO_ST_F32, 3, {2, 64, 128}, b3},
  };
  CHECK(alto_st_write(path_("in.safetensors"), t, 3, NULL, 0) == ALTO_OK);
  const char *names[] = {"model.w", "experts"};
  alto_tensor_view xs[] = {{wb, ALTO_ELEM_BF16, 2, {128, 128}},
                           {b3, ALTO_ELEM_F32, 3, {2, 64, 128}}};
  alto_tensor_view wonly[] = {xs[0]};
  const char *wname[] = {"model.w"};

  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  check_st_case_("--scheme mxfp4", &s, xs, names, 2, ALTO_ELEM_COUNT);
  s.rule = ALTO_SCALE_UOS;
  s.axis = -2;
  check_st_case_("--scheme mxfp4 --rule uos --axis -2 --out-dtype f32 --tensor model.w", &s, wonly,
                 wname, 1, ALTO_ELEM_F32);
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  s.two_level = s.sr = true;
  s.seed = 0xFFFFFFFFFFFFFFF1ull;
  s.stream = 9;
  check_st_case_("--scheme nvfp4 --two-level --sr --seed 0xFFFFFFFFFFFFFFF1 --stream 9 --tensor "
                 "model.w",
                 &s, wonly, wname, 1, ALTO_ELEM_BF16);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E5M2);
  s.block2d = true;
  s.rule = ALTO_SCALE_FLOOR;
  check_st_case_("--scheme mxfp8_e5m2 --block2d --rule floor", &s, xs, names, 2, ALTO_ELEM_COUNT);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  s.block2d = true;
  check_st_case_("--scheme fp8_block --block2d --tensor model.w", &s, wonly, wname, 1,
                 ALTO_ELEM_BF16);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_ROWWISE);
  s.elem = ALTO_ELEM_E5M2;
  s.pow2_scale = true;
  check_st_case_("--scheme fp8_rowwise --elem e5m2 --pow2-scale", &s, xs, names, 2,
                 ALTO_ELEM_COUNT);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_TENSORWISE);
  check_st_case_("--scheme fp8_tensorwise --out-dtype f32", &s, xs, names, 2, ALTO_ELEM_F32);

  /* RHT along axis -2 first: <name>.rht is alto_cpu_rht's output and is what gets quantized. */
  int rc = run_("--in in.safetensors --tensor model.w --scheme mxfp4 --axis -2 --rht 32 --seed 3 "
                "--stream 4 --out r.safetensors");
  CHECKF(rc == 0, "%s", out_);
  static uint16_t rx[N];
  CHECK(alto_cpu_rht(&xs[0], 32, 3, 4, ALTO_ELEM_BF16, rx) == ALTO_OK);
  alto_st_file f;
  if (alto_st_open(path_("r.safetensors"), &f) == ALTO_OK) {
    same_tensor_(&f, "model.w.rht", rx, sizeof rx);
    alto_tensor_view rv = {rx, ALTO_ELEM_BF16, 2, {128, 128}};
    s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
    s.axis = -2;
    alto_quantized q;
    void *deq;
    expect_(&s, &rv, ALTO_ELEM_BF16, &q, &deq);
    same_tensor_(&f, "model.w.codes", q.codes, (size_t)q.layout.codes_bytes);
    alto_quantized_free(&q);
    free(deq);
    alto_st_close(&f);
  }

  /* MX9 / MX6: fake-quant values and packed bytes equal the library's. */
  for (int bits = 8; bits >= 5; bits -= 3) {
    rc = run_("--in in.safetensors --tensor model.w --scheme %s --out m.safetensors",
              bits == 8 ? "mx9" : "mx6");
    CHECKF(rc == 0, "%s", out_);
    static uint16_t fake[N];
    CHECK(alto_cpu_mx69_fake(&xs[0], bits, 16, fake) == ALTO_OK);
    int64_t pb = alto_mx69_packed_bytes(bits, N);
    uint8_t *packed = calloc((size_t)pb, 1);
    CHECK(alto_cpu_mx69_pack(&xs[0], bits, packed) == ALTO_OK);
    if (alto_st_open(path_("m.safetensors"), &f) == ALTO_OK) {
      same_tensor_(&f, "model.w.dequant", fake, sizeof fake);
      same_tensor_(&f, "model.w.packed", packed, (size_t)pb);
      alto_st_close(&f);
    }
    free(packed);
  }
}

/* Exit status `code` and a message containing `needle`. */
static void bad_(int code, const char *needle, const char *args) {
  int rc = run_("%s", args);
  CHECKF(rc == code, "'%s': exit %d, want %d: %s", args, rc, code, out_);
  CHECKF(strstr(out_, needle) != NULL, "'%s': output lacks '%s': %s", args, needle, out_);
}

static void test_errors(void) {
  const char *raw = "--in x.bin --shape 64,128 --out o.safetensors";
  char a[1024];
#define BAD(code, needle, ...)                                                                     \
  do {                                                                                             \
    snprintf(a, sizeof a, __VA_ARGS__);                                                            \
    bad_(code, needle, a);                                                                         \
  } while (0)
  BAD(1, "file has 32768 bytes but --shape 64,128 --dtype bf16 needs 16384 bytes",
      "--scheme mxfp4 --in x.bin --shape 64,128 --dtype f32 --out-dir e "
      "--shape 64,128 --dtype bf16");
  BAD(1, "file has 32768 bytes but --shape 64,64",
      "--scheme mxfp4 --in x.bin --shape 64,64 "
      "--out-dir e");
  BAD(1, "unknown scheme 'mxfp5' (valid: ", "--scheme mxfp5 %s", raw);
  BAD(1, "scheme 'bf16' means no quantization", "--scheme bf16 %s", raw);
  static uint16_t x48[128 * 48];
  spit_("x48.bin", x48, sizeof x48);
  BAD(1, "multiple", "--scheme mxfp4 --in x48.bin --shape 128,48 --dtype bf16 --out-dir e");
  BAD(1, "cannot open", "--scheme mxfp4 --in missing.safetensors --out o.safetensors");
  BAD(1, "not a valid safetensors file", "--scheme mxfp4 --in x.bin --out o.safetensors");
  BAD(1, "no tensor 'nope' (available: model.w, ids, experts)",
      "--scheme mxfp4 --in in.safetensors --tensor nope --out o.safetensors");
  BAD(1, "cannot be quantized", "--scheme mxfp4 --in in.safetensors --tensor ids --out o.st");
  BAD(1, "--out-dir holds one tensor", "--scheme mxfp4 --in in.safetensors --out-dir e");
  BAD(1, "--axis '0': valid values are -1 and -2", "--scheme mxfp4 --axis 0 %s", raw);
  BAD(1, "unknown scale rule 'odd'", "--scheme mxfp4 --rule odd %s", raw);
  BAD(1, "--rule uos applies to mxfp4", "--scheme mxfp8_e4m3 --rule uos %s", raw);
  BAD(1, "--elem 'e3m4': valid values are e4m3 and e5m2", "--scheme fp8_block --elem e3m4 %s", raw);
  BAD(1, "--elem applies to fp8_block", "--scheme mxfp4 --elem e5m2 %s", raw);
  BAD(1, "--two-level applies to nvfp4", "--scheme mxfp4 --two-level %s", raw);
  BAD(1, "--sr applies to mxfp4, nvfp4", "--scheme fp8_block --sr %s", raw);
  BAD(1, "--pow2-scale applies to", "--scheme mxfp4 --pow2-scale %s", raw);
  BAD(1, "--rht '24': valid block sizes", "--scheme mxfp4 --rht 24 %s", raw);
  BAD(1, "--rht '8': expected an integer in [16, 256]", "--scheme mxfp4 --rht 8 %s", raw);
  BAD(1, "--seed 'abc': expected an unsigned integer", "--scheme mxfp4 --sr --seed abc %s", raw);
  BAD(1, "--out-dtype 'f16': valid values are bf16 and f32", "--scheme mxfp4 --out-dtype f16 %s",
      raw);
  BAD(1, "--dtype 'fp16': valid values are bf16 and f32",
      "--scheme mxfp4 --in x.bin --shape 64,128 --dtype fp16 --out-dir e");
  BAD(1, "--shape '64x128': expected 2 or 3 positive integers",
      "--scheme mxfp4 --in x.bin --shape 64x128 --out-dir e");
  BAD(1, "expected 2 or 3", "--scheme mxfp4 --in x.bin --shape 8192 --out-dir e");
  BAD(1, "no quantized tensors", "--dequant --in in.safetensors --out y.safetensors");
  BAD(2, "unknown option '--bogus'", "--bogus");
  BAD(2, "--in is required", "--scheme mxfp4 --out o.safetensors");
  BAD(2, "--scheme is required (valid: mxfp4", "--in x.bin --out o.safetensors");
  BAD(2, "exactly one of --out", "--scheme mxfp4 --in x.bin --shape 1,2");
  BAD(2, "exactly one of --out", "--scheme mxfp4 %s --out-dir e", raw);
  BAD(2, "option --seed needs a value", "--scheme mxfp4 %s --seed", raw);
  BAD(2, "unexpected argument 'extra'", "--scheme mxfp4 %s extra", raw);
  BAD(2, "--dequant reads the spec", "--dequant --scheme mxfp4 --in q.safetensors --out y.st");
  bad_(2, "Try 'alto-quant --help'", "");
#undef BAD

  /* --dequant of a file whose spec or tensors are broken. */
  alto_qstore_info info = {alto_quant_spec_default(ALTO_SCHEME_MXFP4), ALTO_ELEM_F32, 2, {32, 64},
                           ALTO_ELEM_F32, 1.0f, 16, 0, 0};
  alto_json_writer w;
  alto_json_writer_init(&w, 0);
  alto_qstore_info_json(&w, &info);
  char *spec = alto_json_writer_take(&w, NULL);
  uint8_t codes[32 * 32] = {0}, scales[32 * 2] = {127};
  alto_st_entry t[] = {{"w.codes", ALTO_ST_U8, 2, {32, 32}, codes},
                       {"w.scales", ALTO_ST_U8, 2, {32, 1}, scales}};
  alto_st_meta m[] = {{"alto.quant.w", spec}};
  CHECK(alto_st_write(path_("d1.safetensors"), t, 1, m, 1) == ALTO_OK);
  bad_(1, "tensor 'w.scales' is missing", "--dequant --in d1.safetensors --out y.safetensors");
  CHECK(alto_st_write(path_("d2.safetensors"), t, 2, m, 1) == ALTO_OK);
  bad_(1, "'w.scales' is U8 with 32 elements; expected U8 with 64",
       "--dequant --in d2.safetensors --out y.safetensors");
  t[1].shape[1] = 2;
  CHECK(alto_st_write(path_("d3.safetensors"), t, 2, m, 1) == ALTO_OK);
  CHECK(run_("--dequant --in d3.safetensors --out y.safetensors") == 0);
  bad_(1, "no quantized tensor 'v'", "--dequant --in d3.safetensors --tensor v --out y.st");
  alto_st_meta broken[] = {{"alto.quant.w", "{\"scheme\": \"mxfp4\""}};
  CHECK(alto_st_write(path_("d4.safetensors"), t, 2, broken, 1) == ALTO_OK);
  bad_(1, "__metadata__ \"alto.quant.w\"", "--dequant --in d4.safetensors --out y.safetensors");
  alto_st_meta noaxis[] = {{"alto.quant.w", "{\"scheme\": \"mxfp4\", \"dtype\": \"f32\", "
                                            "\"out_dtype\": \"f32\", \"shape\": [32, 64]}"}};
  CHECK(alto_st_write(path_("d5.safetensors"), t, 2, noaxis, 1) == ALTO_OK);
  bad_(1, "missing or invalid \"axis\"", "--dequant --in d5.safetensors --out y.safetensors");
  free(spec);
  alto_json_writer_free(&w);
  /* A failed run leaves no output file behind. */
  size_t len;
  void *b = slurp_("o.safetensors", &len);
  CHECK(b == NULL);
  free(b);
}

int main(void) {
  tmp_ = alto_test_tmpdir("alto_quant");
  rng_.s = alto_test_seed();
  RUN(test_help);
  RUN(test_raw);
  RUN(test_safetensors);
  RUN(test_errors);
  return alto_test_finish();
}
