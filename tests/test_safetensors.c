/* runtime/safetensors: round trips, a file laid out byte for byte as Python's safetensors writes
 * it, and every kind of corrupted input (a clear error, never a crash: run under ASan too). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/safetensors.h"
#include "tests/harness.h"

static const char *tmp_;

static unsigned char *read_file_(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void write_file_(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f)
    return;
  CHECK(fwrite(b, 1, n, f) == n);
  fclose(f);
}

/* An image: 8-byte length, the header text (padded with spaces to `pad` when pad > 0), data. */
static unsigned char *image_(const char *hdr, int pad, const void *data, size_t dlen, size_t *len) {
  size_t h = strlen(hdr), hp = pad ? (h + 7) / 8 * 8 : h;
  unsigned char *b = calloc(1, 8 + hp + dlen + 1);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)hp >> (8 * i));
  memcpy(b + 8, hdr, h);
  memset(b + 8 + h, ' ', hp - h);
  if (dlen)
    memcpy(b + 8 + hp, data, dlen);
  *len = 8 + hp + dlen;
  return b;
}

static void test_round_trip(void) {
  float f32[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
  uint16_t bf16[4] = {0x3F80, 0xC000, 0x7FC0, 0x0001};
  uint8_t u8[6] = {0, 1, 2, 253, 254, 255};
  int64_t i64[2] = {-1, INT64_MAX};
  double f64 = 3.25;
  uint8_t e4m3[3] = {0x7E, 0x38, 0xFE};
  alto_st_entry t[] = {
      {"model.layers.0.weight", ALTO_ST_F32, 2, {2, 3}, f32},
      {"b", ALTO_ST_BF16, 1, {4}, bf16},
      {"codes", ALTO_ST_U8, 3, {3, 1, 2}, u8},
      {"i", ALTO_ST_I64, 1, {2}, i64},
      {"scalar", ALTO_ST_F64, 0, {0}, &f64},
      {"empty", ALTO_ST_BOOL, 2, {0, 5}, NULL},
      {"e", ALTO_ST_F8_E4M3, 1, {3}, e4m3},
  };
  alto_st_meta meta[] = {{"format", "pt"}, {"alto.spec", "{\"scheme\": \"mxfp4\"}\n\"q\""}};
  char path[1024];
  snprintf(path, sizeof path, "%s/rt.safetensors", tmp_);
  CHECKF(alto_st_write(path, t, 7, meta, 2) == ALTO_OK, "%s", alto_last_error());
  alto_st_file f;
  alto_status st = alto_st_open(path, &f);
  CHECKF(st == ALTO_OK, "%s", alto_last_error());
  if (st != ALTO_OK)
    return;
  CHECK(f.count == 7 && f.meta_count == 2);
  for (size_t i = 0; i < 7 && i < f.count; i++) {
    const alto_st_tensor *r = alto_st_find(&f, t[i].name);
    CHECKF(r != NULL, "%s missing", t[i].name);
    if (!r)
      continue;
    CHECK(r->dtype == t[i].dtype && r->ndim == t[i].ndim);
    int64_t numel = 1;
    for (int d = 0; d < r->ndim; d++) {
      CHECK(r->shape[d] == t[i].shape[d]);
      numel *= r->shape[d];
    }
    CHECK(r->numel == numel);
    size_t nb = (size_t)numel * (size_t)alto_st_dtype_size(r->dtype);
    CHECK(r->end - r->begin == nb);
    CHECK(nb == 0 || memcmp(r->data, t[i].data, nb) == 0);
    CHECK((((uintptr_t)r->data - r->begin) & 7) == 0); /* the data section is aligned */
  }
  CHECK(strcmp(alto_st_meta_get(&f, "format"), "pt") == 0);
  CHECK(strcmp(alto_st_meta_get(&f, "alto.spec"), meta[1].value) == 0);
  CHECK(alto_st_meta_get(&f, "nope") == NULL && alto_st_find(&f, "nope") == NULL);
  alto_st_close(&f);

  /* The header is padded to a multiple of 8 with spaces; no temporary is left behind. */
  size_t len;
  unsigned char *b = read_file_(path, &len);
  CHECK(b && len > 8 && b[0] % 8 == 0 && b[8] == '{');
  free(b);
  DIR *d = opendir(tmp_);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    CHECKF(strstr(e->d_name, ".tmp.") == NULL, "leftover %s", e->d_name);
  if (d)
    closedir(d);

  /* Overwriting works; a failed write leaves the target untouched. */
  CHECK(alto_st_write(path, t, 1, NULL, 0) == ALTO_OK);
  CHECK(alto_st_open(path, &f) == ALTO_OK && f.count == 1 && f.meta_count == 0);
  alto_st_close(&f);
  CHECK(alto_st_write("/nonexistent-dir/x.safetensors", t, 1, NULL, 0) == ALTO_ERR_IO);
  CHECK(strstr(alto_last_error(), "/nonexistent-dir/x.safetensors.tmp.") != NULL);
  alto_st_entry dup[] = {t[0], t[0]};
  CHECK(alto_st_write(path, dup, 2, NULL, 0) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "duplicate tensor name") != NULL);
  CHECK(alto_st_open(path, &f) == ALTO_OK && f.count == 1);
  alto_st_close(&f);
}

/* The exact bytes of `safetensors.torch.save_file({"a": torch.tensor([[1., 2.], [3., 4.]]),
 * "b": torch.tensor([1, 2], dtype=torch.int64)}, metadata={"format": "pt"})`: compact JSON,
 * __metadata__ first, then tensors by alignment and name, spaces to a multiple of 8. */
static void test_python_layout(void) {
  const char *hdr =
      "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],"
      "\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"I64\",\"shape\":[2],"
      "\"data_offsets\":[16,32]}}";
  unsigned char data[32];
  float a[4] = {1, 2, 3, 4};
  int64_t bv[2] = {1, 2};
  memcpy(data, a, 16);
  memcpy(data + 16, bv, 16);
  size_t len;
  unsigned char *img = image_(hdr, 1, data, 32, &len);
  CHECK(len % 8 == 0 && img[0] == 144);
  alto_st_file f;
  alto_status st = alto_st_parse(img, len, "py.safetensors", &f);
  CHECKF(st == ALTO_OK, "%s", alto_last_error());
  if (st == ALTO_OK) {
    const alto_st_tensor *ta = alto_st_find(&f, "a"), *tb = alto_st_find(&f, "b");
    CHECK(ta && ta->dtype == ALTO_ST_F32 && ta->ndim == 2 && ta->shape[0] == 2 &&
          memcmp(ta->data, a, 16) == 0);
    CHECK(tb && tb->dtype == ALTO_ST_I64 && tb->numel == 2 && memcmp(tb->data, bv, 16) == 0);
    CHECK(strcmp(alto_st_meta_get(&f, "format"), "pt") == 0);
    alto_st_close(&f);
  }
  /* Written by us, the same tensors give the same bytes. */
  char path[1024];
  snprintf(path, sizeof path, "%s/py.safetensors", tmp_);
  alto_st_entry t[] = {{"a", ALTO_ST_F32, 2, {2, 2}, a}, {"b", ALTO_ST_I64, 1, {2}, bv}};
  alto_st_meta meta[] = {{"format", "pt"}};
  CHECK(alto_st_write(path, t, 2, meta, 1) == ALTO_OK);
  size_t mlen;
  unsigned char *mine = read_file_(path, &mlen);
  CHECK(mine && mlen == len && memcmp(mine, img, len) == 0);
  free(mine);
  free(img);
}

/* `img` must be rejected with ALTO_ERR_PARSE and a message containing `needle`. */
static void bad_(const unsigned char *img, size_t len, const char *needle) {
  alto_st_file f;
  alto_error_clear();
  alto_status st = alto_st_parse(img, len, "bad.safetensors", &f);
  CHECKF(st == ALTO_ERR_PARSE, "accepted (expected '%s')", needle);
  if (st == ALTO_OK) {
    alto_st_close(&f);
    return;
  }
  CHECKF(strstr(alto_last_error(), needle) != NULL, "message '%s' lacks '%s'", alto_last_error(),
         needle);
  CHECK(strstr(alto_last_error(), "bad.safetensors") != NULL);
}

static void bad_hdr_(const char *hdr, size_t dlen, const char *needle) {
  unsigned char data[64] = {0};
  size_t len;
  unsigned char *img = image_(hdr, 1, data, dlen, &len);
  bad_(img, len, needle);
  free(img);
}

static void test_corrupt(void) {
  const char *ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  unsigned char data[16] = {0};
  size_t len;
  unsigned char *img = image_(ok, 1, data, 8, &len);
  alto_st_file f;
  CHECK(alto_st_parse(img, len, "ok", &f) == ALTO_OK);
  alto_st_close(&f);
  /* Truncations at every length: each one a clean error. */
  for (size_t n = 0; n < len; n++) {
    CHECK(alto_st_parse(img, n, "t", &f) == ALTO_ERR_PARSE);
  }
  bad_(img, 5, "file has 5 bytes");
  bad_(img, len - 1, "truncated file?");
  /* Header length larger than the file, and absurdly large. */
  unsigned char *big = malloc(len);
  memcpy(big, img, len);
  big[0] = 0xFF;
  bad_(big, len, "larger than the rest of the file");
  big[5] = 0x10;
  bad_(big, len, "exceeds the limit");
  free(big);
  free(img);

  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "out of range");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
           "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
           16, "overlaps");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "gap");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16,
           "describes 8 bytes of data but the file has 16");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
           "wrong byte size");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}",
           8, "wrong byte size");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin <= end");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape[0]");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "shape[0]");
  bad_hdr_("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "missing \"dtype\"");
  bad_hdr_("{\"w\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
           "unknown dtype 'F4' (valid: BOOL, U8");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "\"shape\"");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "\"data_offsets\"");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
           "unknown field");
  bad_hdr_("{\"w\":[1]}", 0, "expected an object");
  bad_hdr_("{\"__metadata__\":{\"a\":1}}", 0, "must be a string");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],}}", 8,
           "not valid JSON");
  bad_hdr_("{not json at all}", 0, "not valid JSON");
  bad_hdr_("{\"a\":1,\"a\":1}", 0, "duplicate key");
  bad_hdr_("[1,2]", 0, "does not start with '{'");
  bad_hdr_("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
           8, "duplicate key \"w\"");
  const char garbage[] = "\x10\0\0\0\0\0\0\0hello world, not json!";
  bad_((const unsigned char *)garbage, sizeof garbage - 1, "not start with '{'");

  /* Random byte flips of a valid image: any outcome but a crash. */
  const char *two = "{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],"
                    "\"data_offsets\":[0,8]},\"v\":{\"dtype\":\"U8\",\"shape\":[8],"
                    "\"data_offsets\":[8,16]}}";
  img = image_(two, 1, data, 16, &len);
  CHECK(alto_st_parse(img, len, "two", &f) == ALTO_OK);
  alto_st_close(&f);
  alto_test_rng rng = {alto_test_seed()};
  unsigned char *m = malloc(len);
  for (int it = 0; it < 20000; it++) {
    memcpy(m, img, len);
    for (int k = 0; k < 1 + (int)(alto_test_u32(&rng) % 3); k++)
      m[alto_test_u32(&rng) % len] = (unsigned char)alto_test_u32(&rng);
    if (alto_st_parse(m, len, "fuzz", &f) == ALTO_OK)
      alto_st_close(&f);
  }
  free(m);
  free(img);

  /* Files: missing, empty, a directory. */
  CHECK(alto_st_open("/nonexistent/file.safetensors", &f) == ALTO_ERR_NOT_FOUND);
  CHECK(strstr(alto_last_error(), "/nonexistent/file.safetensors") != NULL);
  char path[1024];
  snprintf(path, sizeof path, "%s/empty.safetensors", tmp_);
  write_file_(path, "", 0);
  CHECK(alto_st_open(path, &f) == ALTO_ERR_PARSE);
  CHECK(strstr(alto_last_error(), "file has 0 bytes") != NULL);
  CHECK(alto_st_open(tmp_, &f) == ALTO_ERR_IO);
}

static void test_dtypes(void) {
  alto_st_dtype d;
  CHECK(alto_st_dtype_parse("BF16", &d) == ALTO_OK && d == ALTO_ST_BF16);
  CHECK(alto_st_dtype_size(ALTO_ST_F8_E5M2) == 1 && alto_st_dtype_size(ALTO_ST_F64) == 8);
  CHECK(alto_st_dtype_parse("bf16", &d) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "F8_E4M3") != NULL);
  for (int i = 0; i < ALTO_ST_DTYPE_COUNT; i++)
    CHECK(alto_st_dtype_parse(alto_st_dtype_name((alto_st_dtype)i), &d) == ALTO_OK && (int)d == i);
}

int main(void) {
  tmp_ = alto_test_tmpdir("safetensors");
  RUN(test_dtypes);
  RUN(test_round_trip);
  RUN(test_python_layout);
  RUN(test_corrupt);
  return alto_test_finish();
}
