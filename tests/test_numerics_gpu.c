/* On the GPU (skips cleanly without one): the numerics header evaluated by a JIT-compiled probe
 * kernel equals the CPU build of the same header bit for bit, on every bf16 bit pattern and on
 * random fp32; our FP8 casts equal CUDA's __nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...); the RHT
 * of one chunk is identical. Guard bytes around every output. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cuda/driver.h"
#include "runtime/nvrtc.h"
#include "tests/harness.h"
#include "tests/numerics_probe.h"
#include "tests/numerics_probe_body.h"

#define GUARD 256
#define GUARD_BYTE 0xA5

static alto_cuda_module *mod;

static int compile_and_load(const char *arch) {
  char *hdr = probe_read_file(ALTO_SOURCE_DIR "/templates/common/alto_numerics.h");
  char *src = probe_read_file(ALTO_SOURCE_DIR "/tests/numerics_probe.cu");
  char *body = probe_read_file(ALTO_SOURCE_DIR "/tests/numerics_probe_body.h");
  alto_nvrtc_header h[2] = {{"alto_numerics.h", hdr}, {"numerics_probe_body.h", body}};
  char archopt[64];
  snprintf(archopt, sizeof archopt, "--gpu-architecture=%s", arch);
  int fp8 = access("/usr/local/cuda/include/cuda_fp8.h", R_OK) == 0;
  const char *opts[] = {archopt, "-std=c++17", "-DALTO_PROBE_CUDA_FP8", "-I/usr/local/cuda/include"};
  alto_nvrtc_output out;
  alto_status st = alto_nvrtc_compile("numerics_probe.cu", src, h, 2, opts, fp8 ? 4 : 2, 0, &out);
  CHECKF(st == ALTO_OK, "%s\n%s", alto_last_error(), out.log);
  if (st == ALTO_OK) {
    st = alto_cuda_module_load(out.image, &mod);
    CHECKF(st == ALTO_OK, "%s", alto_last_error());
  }
  alto_nvrtc_output_free(&out);
  free(hdr);
  free(src);
  free(body);
  if (!fp8)
    fprintf(stderr, "note: cuda_fp8.h not found; CUDA's own FP8 casts not compared\n");
  return st == ALTO_OK ? (fp8 ? 2 : 1) : 0;
}

/* Device buffer with guard bytes on both sides; checks them on readback. */
typedef struct {
  alto_cuda_ptr base;
  size_t bytes;
} guarded;

static guarded galloc(size_t bytes) {
  guarded g = {0, bytes};
  CHECK(alto_cuda_malloc(&g.base, bytes + 2 * GUARD) == ALTO_OK);
  CHECK(alto_cuda_memset(g.base, GUARD_BYTE, bytes + 2 * GUARD) == ALTO_OK);
  return g;
}
static alto_cuda_ptr gptr(guarded g) { return g.base + GUARD; }
static void gread(void *dst, guarded g) {
  uint8_t *all = malloc(g.bytes + 2 * GUARD);
  CHECK(alto_cuda_d2h(all, g.base, g.bytes + 2 * GUARD) == ALTO_OK);
  int bad = 0;
  for (size_t i = 0; i < GUARD; i++)
    bad += all[i] != GUARD_BYTE || all[GUARD + g.bytes + i] != GUARD_BYTE;
  CHECKF(bad == 0, "%d guard bytes overwritten", bad);
  memcpy(dst, all + GUARD, g.bytes);
  free(all);
  alto_cuda_free(g.base);
}

static int same_float(float a, float b) {
  uint32_t x, y;
  memcpy(&x, &a, 4);
  memcpy(&y, &b, 4);
  return x == y || (isnan(a) && isnan(b));
}

static void run_probe(const float *x, int n, int with_cuda_casts, const char *what) {
  alto_cuda_function fn;
  CHECK(alto_cuda_module_function(mod, "alto_numerics_probe", &fn) == ALTO_OK);
  guarded gx = galloc((size_t)n * 4), gb = galloc((size_t)n * ALTO_PROBE_BYTES),
          gf = galloc((size_t)n * ALTO_PROBE_FLOATS * 4), gw = galloc((size_t)n * 4);
  CHECK(alto_cuda_h2d(gptr(gx), x, (size_t)n * 4) == ALTO_OK);
  alto_cuda_ptr px = gptr(gx), pb = gptr(gb), pf = gptr(gf), pw = gptr(gw);
  unsigned long long seed = 0x1234567890ABCDEFull, stream = alto_stream_id(3, 1, 17, ALTO_RNG_SR);
  void *args[] = {&px, &pb, &pf, &pw, &seed, &stream, &n};
  CHECKF(alto_cuda_launch(fn, (unsigned)((n + 255) / 256), 1, 1, 256, 1, 1, 0, args) == ALTO_OK,
         "%s", alto_last_error());
  CHECKF(alto_cuda_sync() == ALTO_OK, "%s", alto_last_error());
  uint8_t *db = malloc((size_t)n * ALTO_PROBE_BYTES);
  float *df = malloc((size_t)n * ALTO_PROBE_FLOATS * 4);
  uint32_t *dw = malloc((size_t)n * 4);
  gread(db, gb);
  gread(df, gf);
  gread(dw, gw);
  alto_cuda_free(gx.base);
  int bad_b[ALTO_PROBE_BYTES] = {0}, bad_f[ALTO_PROBE_FLOATS] = {0}, bad_w = 0;
  for (int i = 0; i < n; i++) {
    uint8_t hb[ALTO_PROBE_BYTES];
    float hf[ALTO_PROBE_FLOATS];
    uint32_t hw;
    alto_probe_element(x[i], i, seed, stream, hb, hf, &hw);
    for (int k = 0; k < ALTO_PROBE_BYTES; k++) {
      if ((k == 9 || k == 10) && !with_cuda_casts)
        continue;
      if (db[(size_t)i * ALTO_PROBE_BYTES + k] != hb[k] && bad_b[k]++ < 3)
        fprintf(stderr, "%s: byte %d of x=%a: gpu 0x%02x cpu 0x%02x\n", what, k, x[i],
                db[(size_t)i * ALTO_PROBE_BYTES + k], hb[k]);
    }
    for (int k = 0; k < ALTO_PROBE_FLOATS; k++)
      if (!same_float(df[(size_t)i * ALTO_PROBE_FLOATS + k], hf[k]) && bad_f[k]++ < 3)
        fprintf(stderr, "%s: float %d of x=%a: gpu %a cpu %a\n", what, k, x[i],
                df[(size_t)i * ALTO_PROBE_FLOATS + k], hf[k]);
    bad_w += dw[i] != hw;
  }
  for (int k = 0; k < ALTO_PROBE_BYTES; k++)
    CHECKF(bad_b[k] == 0, "%s: byte output %d differs on %d inputs", what, k, bad_b[k]);
  for (int k = 0; k < ALTO_PROBE_FLOATS; k++)
    CHECKF(bad_f[k] == 0, "%s: float output %d differs on %d inputs", what, k, bad_f[k]);
  CHECKF(bad_w == 0, "%s: Philox words differ on %d elements", what, bad_w);
  free(db);
  free(df);
  free(dw);
}

static int with_casts;

static void test_all_bf16(void) {
  float *x = malloc(65536 * 4);
  for (int h = 0; h < 65536; h++)
    x[h] = alto_bf16_to_f32((uint16_t)h);
  run_probe(x, 65536, with_casts, "bf16");
  free(x);
}

static void test_random_fp32(void) {
  alto_test_rng rng = {alto_test_seed()};
  int n = 1 << 22;
  float *x = malloc((size_t)n * 4);
  for (int i = 0; i < n; i++) {
    uint32_t b = alto_test_u32(&rng);
    if (i & 1) /* half of them in the formats' ranges */
      b = (b & 0x807FFFFFu) | ((uint32_t)(100 + alto_test_u32(&rng) % 50) << 23);
    memcpy(&x[i], &b, 4);
  }
  run_probe(x, n, with_casts, "fp32");
  free(x);
}

static void test_rht(void) {
  alto_cuda_function fn;
  CHECK(alto_cuda_module_function(mod, "alto_rht_probe", &fn) == ALTO_OK);
  alto_test_rng rng = {alto_test_seed()};
  for (int b = 16; b <= 256; b *= 2) {
    int chunks = 64, n = b * chunks;
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *ref = malloc((size_t)n * 4);
    alto_test_fill_outliers(&rng, x, n, 1.0f);
    guarded gx = galloc((size_t)n * 4), gy = galloc((size_t)n * 4);
    CHECK(alto_cuda_h2d(gptr(gx), x, (size_t)n * 4) == ALTO_OK);
    alto_cuda_ptr px = gptr(gx), py = gptr(gy);
    unsigned long long seed = 99, stream = alto_stream_id(1, 2, 3, ALTO_RNG_RHT);
    void *args[] = {&px, &py, &seed, &stream, &b, &chunks};
    CHECK(alto_cuda_launch(fn, 1, 1, 1, (unsigned)chunks, 1, 1, 0, args) == ALTO_OK);
    CHECK(alto_cuda_sync() == ALTO_OK);
    gread(y, gy);
    alto_cuda_free(gx.base);
    float sign[256], t[256];
    int perm[256];
    alto_rht_make(seed, stream, b, sign, perm);
    int bad = 0;
    for (int c = 0; c < chunks; c++) {
      alto_rht_apply(x + c * b, ref + c * b, sign, perm, b, t);
      for (int i = 0; i < b; i++)
        bad += !same_float(ref[c * b + i], y[c * b + i]);
    }
    CHECKF(bad == 0, "RHT b=%d: %d values differ", b, bad);
    free(x);
    free(y);
    free(ref);
  }
}

int main(void) {
  if (alto_cuda_init(0) != ALTO_OK)
    alto_test_skip(alto_last_error());
  if (alto_nvrtc_load() != ALTO_OK)
    alto_test_skip(alto_last_error());
  alto_cuda_device_info info;
  CHECK(alto_cuda_device(&info) == ALTO_OK);
  fprintf(stderr, "GPU: %s (%s, %d SMs)\n", info.name, info.arch, info.sm_count);
  int r = compile_and_load(info.arch);
  if (!r)
    return alto_test_finish();
  with_casts = r == 2;
  RUN(test_all_bf16);
  RUN(test_random_fp32);
  RUN(test_rht);
  alto_cuda_module_unload(mod);
  return alto_test_finish();
}
