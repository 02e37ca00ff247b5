/* runtime/png and runtime/plot: known checksums, a PNG decoded back (signature, chunk CRCs,
 * IHDR, a stored-block inflater, Adler-32), multi-block images, and plots of run directories. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/plot.h"
#include "runtime/png.h"
#include "tests/harness.h"

static uint32_t be32_(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_checksums(void) {
  CHECK(alto_png_crc32(0, "123456789", 9) == 0xCBF43926u);
  CHECK(alto_png_crc32(0, "", 0) == 0);
  CHECK(alto_png_adler32(1, "Wikipedia", 9) == 0x11E60398u);
  /* Incremental equals one shot, across the 5552-byte reduction boundary. */
  uint8_t *b = malloc(20000);
  for (int i = 0; i < 20000; i++)
    b[i] = (uint8_t)(i * 7 + 3);
  CHECK(alto_png_adler32(alto_png_adler32(1, b, 7000), b + 7000, 13000) ==
        alto_png_adler32(1, b, 20000));
  CHECK(alto_png_crc32(alto_png_crc32(0, b, 7000), b + 7000, 13000) == alto_png_crc32(0, b, 20000));
  free(b);
}

/* Decodes a PNG written by alto_png_encode (RGB8, one IDAT or several, stored blocks only);
 * returns the pixels or NULL on any inconsistency (each one a failed CHECK). */
static uint8_t *decode_(const uint8_t *png, size_t len, int *w, int *h) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  CHECK(len > 8 && memcmp(png, sig, 8) == 0);
  size_t pos = 8, zcap = 0, zlen = 0;
  uint8_t *z = NULL;
  bool ihdr = false, iend = false;
  while (pos + 12 <= len && !iend) {
    uint32_t n = be32_(png + pos);
    if (pos + 12 + n > len) {
      CHECK(!"chunk runs past the end");
      break;
    }
    const uint8_t *type = png + pos + 4, *data = png + pos + 8;
    CHECKF(alto_png_crc32(0, type, n + 4) == be32_(data + n), "CRC of chunk %.4s", type);
    if (!memcmp(type, "IHDR", 4)) {
      CHECK(n == 13 && pos == 8);
      *w = (int)be32_(data);
      *h = (int)be32_(data + 4);
      CHECK(data[8] == 8 && data[9] == 2 && data[10] == 0 && data[11] == 0 && data[12] == 0);
      ihdr = true;
    } else if (!memcmp(type, "IDAT", 4)) {
      z = realloc(z, zcap = zlen + n);
      memcpy(z + zlen, data, n);
      zlen += n;
    } else if (!memcmp(type, "IEND", 4)) {
      CHECK(n == 0);
      iend = true;
    }
    pos += 12 + n;
  }
  CHECK(ihdr && iend && pos == len && zlen >= 6);
  if (!ihdr || !iend || zlen < 6) {
    free(z);
    return NULL;
  }
  (void)zcap;
  CHECK(z[0] == 0x78 && ((z[0] << 8) | z[1]) % 31 == 0);
  size_t row = 1 + (size_t)*w * 3, raw_len = row * (size_t)*h, out = 0;
  uint8_t *raw = malloc(raw_len);
  size_t zp = 2;
  for (bool final = false; !final;) {
    if (zp + 5 > zlen) {
      CHECK(!"truncated deflate stream");
      break;
    }
    final = z[zp] & 1;
    CHECK((z[zp] >> 1 & 3) == 0); /* stored */
    unsigned n = z[zp + 1] | z[zp + 2] << 8, nn = z[zp + 3] | z[zp + 4] << 8;
    CHECK((n ^ 0xffff) == nn);
    zp += 5;
    if (zp + n > zlen || out + n > raw_len) {
      CHECK(!"stored block too long");
      break;
    }
    memcpy(raw + out, z + zp, n);
    out += n;
    zp += n;
  }
  CHECK(out == raw_len && zp + 4 == zlen);
  CHECK(zp + 4 <= zlen && alto_png_adler32(1, raw, out) == be32_(z + zp));
  uint8_t *px = malloc((size_t)*w * *h * 3);
  for (int y = 0; y < *h; y++) {
    CHECK(raw[y * row] == 0); /* filter None */
    memcpy(px + (size_t)y * *w * 3, raw + y * row + 1, (size_t)*w * 3);
  }
  free(raw);
  free(z);
  return px;
}

static void round_trip_(int w, int h) {
  uint8_t *img = malloc((size_t)w * h * 3);
  for (int i = 0; i < w * h * 3; i++)
    img[i] = (uint8_t)(i * 31 + i / 7);
  uint8_t *png;
  size_t len;
  CHECK(alto_png_encode(w, h, img, &png, &len) == ALTO_OK);
  int dw = 0, dh = 0;
  uint8_t *px = decode_(png, len, &dw, &dh);
  CHECKF(dw == w && dh == h, "%dx%d", dw, dh);
  CHECK(px && memcmp(px, img, (size_t)w * h * 3) == 0);
  free(px);
  free(png);
  free(img);
}

static void test_round_trip(void) {
  round_trip_(1, 1);
  round_trip_(3, 2);
  round_trip_(300, 100); /* 90100 bytes: two stored blocks, a row split across them */
  round_trip_(960, 600);
  uint8_t *png;
  size_t len;
  CHECK(alto_png_encode(0, 5, (uint8_t[3]){0}, &png, &len) == ALTO_ERR_INVALID_ARG);
}

/* Python's zlib as an independent inflater, when python3 is there. */
static void test_python_zlib(void) {
  const char *tmp = alto_test_tmpdir("png_py");
  char path[1100], cmd[2600];
  snprintf(path, sizeof path, "%s/a.png", tmp);
  uint8_t img[70 * 40 * 3];
  for (size_t i = 0; i < sizeof img; i++)
    img[i] = (uint8_t)(i ^ (i >> 5));
  CHECK(alto_png_write(path, 70, 40, img) == ALTO_OK);
  if (system("python3 -c 'import zlib' >/dev/null 2>&1") != 0)
    return;
  snprintf(cmd, sizeof cmd,
           "python3 -c \"import zlib,struct,sys\nb=open('%s','rb').read()\np=8;z=b''\n"
           "while p<len(b):\n n=struct.unpack('>I',b[p:p+4])[0];t=b[p+4:p+8]\n"
           " assert zlib.crc32(b[p+4:p+8+n])==struct.unpack('>I',b[p+8+n:p+12+n])[0]\n"
           " z+=b[p+8:p+8+n] if t==b'IDAT' else b''\n p+=12+n\n"
           "r=zlib.decompress(z)\nassert len(r)==40*(1+70*3)\n"
           "sys.exit(0 if all(r[y*211]==0 for y in range(40)) else 1)\"",
           path);
  CHECK(system(cmd) == 0);
}

static void write_text_(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static bool is_png_(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return false;
  uint8_t b[8] = {0};
  bool ok = fread(b, 1, 8, f) == 8 && b[0] == 0x89 && b[1] == 'P';
  fclose(f);
  return ok;
}

static void test_plot_runs(void) {
  const char *tmp = alto_test_tmpdir("plot_runs");
  char dir[1200], path[1300];
  const char *runs[2] = {"bf16", "mxfp4"};
  for (int r = 0; r < 2; r++) {
    snprintf(dir, sizeof dir, "%s/%s", tmp, runs[r]);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    char text[20000] = "step,loss,val_loss,lr,grad_norm,tokens_per_s,elapsed_s\n";
    for (int s = 1; s <= 100; s++)
      snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%g,%s,0.001,1,100,1\n", s,
               7.0 - s * 0.03 + r * 0.1, s % 25 ? "" : "5.5");
    write_text_(path, text);
    CHECK(alto_plot_run(dir, runs[r]) == ALTO_OK);
    snprintf(path, sizeof path, "%s/loss.png", dir);
    CHECK(is_png_(path));
  }
  snprintf(dir, sizeof dir, "%s/empty", tmp); /* a run with no steps yet is skipped */
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/metrics.csv", dir);
  write_text_(path, "step,loss,val_loss,lr,grad_norm,tokens_per_s,elapsed_s\n");
  int n = 0;
  CHECK(alto_plot_runs(tmp, &n) == ALTO_OK);
  CHECK(n == 2);
  snprintf(path, sizeof path, "%s/loss.png", tmp);
  CHECK(is_png_(path));
  /* The two runs draw in two different palette colors. */
  alto_plot_series s[2] = {{"a", (double[]){0, 1}, (double[]){1, 2}, 2, 0, false},
                           {"b", (double[]){0, 1}, (double[]){2, 1}, 2, 1, false}};
  uint8_t *px = alto_plot_render(400, 300, "t", "x", "y", s, 2);
  int blue = 0, red = 0;
  for (int i = 0; i < 400 * 300; i++) {
    blue += px[3 * i] == 31 && px[3 * i + 1] == 119 && px[3 * i + 2] == 180;
    red += px[3 * i] == 214 && px[3 * i + 1] == 39 && px[3 * i + 2] == 40;
  }
  CHECKF(blue > 100 && red > 100, "blue %d red %d", blue, red);
  free(px);
  /* Bad input: no such directory, a metrics file without the columns. */
  CHECK(alto_plot_runs("/nonexistent/alto", &n) == ALTO_ERR_IO);
  snprintf(path, sizeof path, "%s/bf16/metrics.csv", tmp);
  write_text_(path, "a,b\n1,2\n");
  snprintf(dir, sizeof dir, "%s/bf16", tmp);
  CHECK(alto_plot_run(dir, "bf16") == ALTO_ERR_PARSE);
}

int main(void) {
  RUN(test_checksums);
  RUN(test_round_trip);
  RUN(test_python_zlib);
  RUN(test_plot_runs);
  return alto_test_finish();
}
