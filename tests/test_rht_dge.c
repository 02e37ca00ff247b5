/* CPU randomized Hadamard transform (runtime/cpu/rht.c, NUMERICS.md 4) and DGE multiplier
 * (runtime/cpu/dge.c, NUMERICS.md 5). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/quant_test_util.h"

static uint64_t g_seed;

/* Runs the RHT into a guarded fp32 (or bf16) buffer; returns fp32 values (NULL on error). */
static float *rht(const alto_tensor_view *v, int b, uint64_t seed, uint64_t stream, alto_elem dt) {
  int64_t n = alto_tensor_numel(v);
  size_t bytes = (size_t)n * (dt == ALTO_ELEM_BF16 ? 2 : 4);
  void *g = qt_guarded_alloc(bytes);
  alto_status st = alto_cpu_rht(v, b, seed, stream, dt, g);
  CHECKF(st == ALTO_OK, "rht: %s", alto_last_error());
  float *y = NULL;
  if (st == ALTO_OK) {
    y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++)
      y[i] = dt == ALTO_ELEM_BF16 ? alto_bf16_to_f32(((uint16_t *)g)[i]) : ((float *)g)[i];
  }
  CHECKF(qt_guarded_free(g, bytes), "rht wrote outside its output");
  return y;
}

static int popcount_(unsigned v) {
  int n = 0;
  for (; v; v &= v - 1)
    n++;
  return n;
}

static void test_rht_matrix(void) {
  alto_test_rng rng = {g_seed ^ 0x11};
  for (int b = 16; b <= 256; b *= 2) {
    uint64_t seed = alto_test_u64(&rng), stream = alto_stream_id(2, 0, 7, ALTO_RNG_RHT);
    float *id = calloc((size_t)b * b, sizeof(float));
    for (int i = 0; i < b; i++)
      id[i * b + i] = 1.0f;
    alto_tensor_view v = qt_view(id, ALTO_ELEM_F32, 0, b, b);
    float *r = rht(&v, b, seed, stream, ALTO_ELEM_F32); /* column j = R e_j: r is R itself */
    if (!r) {
      free(id);
      continue;
    }
    /* orthonormal columns */
    double worst = 0;
    for (int i = 0; i < b; i++)
      for (int j = 0; j < b; j++) {
        double d = 0;
        for (int k = 0; k < b; k++)
          d += (double)r[k * b + i] * r[k * b + j];
        worst = fmax(worst, fabs(d - (i == j)));
      }
    CHECKF(worst < 1e-6, "b=%d: R^T R deviates from I by %g", b, worst);
    /* R = (1/sqrt b) P D H P^T: R[perm[i], perm[j]] = norm * d[i] * H[i, j] */
    float sign[256];
    int perm[256];
    alto_rht_make(seed, stream, b, sign, perm);
    float norm = alto_rht_norm(b);
    int64_t bad = 0;
    for (int i = 0; i < b; i++)
      for (int j = 0; j < b; j++) {
        float h = popcount_((unsigned)(i & j)) & 1 ? -1.0f : 1.0f;
        bad += r[perm[i] * b + perm[j]] != norm * sign[i] * h;
      }
    CHECKF(bad == 0, "b=%d: %lld entries differ from (1/sqrt b) P D H P^T", b, (long long)bad);
    /* another stream: another transform */
    float *r2 = rht(&v, b, seed, stream + 1, ALTO_ELEM_F32);
    CHECK(r2 && memcmp(r, r2, sizeof(float) * b * b) != 0);
    free(r2);
    free(r);
    free(id);
  }
}

/* (R dY)^T (R X) == dY^T X with the same seed/stream, for 2-D and 3-D operands. */
static void test_rht_gram(void) {
  alto_test_rng rng = {g_seed ^ 0x22};
  for (int b = 16; b <= 256; b *= 2) {
    const int64_t E = 2, M = 2 * b, N = 24, K = 40;
    float *dy = malloc(sizeof(float) * E * M * N), *x = malloc(sizeof(float) * E * M * K);
    alto_test_fill_outliers(&rng, dy, E * M * N, 1.0f);
    alto_test_fill_outliers(&rng, x, E * M * K, 1.0f);
    uint64_t seed = alto_test_u64(&rng), stream = alto_test_u64(&rng);
    alto_tensor_view vdy = qt_view(dy, ALTO_ELEM_F32, E, M, N),
                     vx = qt_view(x, ALTO_ELEM_F32, E, M, K);
    float *rdy = rht(&vdy, b, seed, stream, ALTO_ELEM_F32),
          *rx = rht(&vx, b, seed, stream, ALTO_ELEM_F32);
    if (rdy && rx) {
      double num = 0, den = 0;
      for (int64_t e = 0; e < E; e++)
        for (int64_t n = 0; n < N; n++)
          for (int64_t k = 0; k < K; k++) {
            double a = 0, t = 0;
            for (int64_t m = 0; m < M; m++) {
              a += (double)rdy[(e * M + m) * N + n] * rx[(e * M + m) * K + k];
              t += (double)dy[(e * M + m) * N + n] * x[(e * M + m) * K + k];
            }
            num += (a - t) * (a - t);
            den += t * t;
          }
      CHECKF(sqrt(num / den) < 1e-5, "b=%d: relative error %g", b, sqrt(num / den));
      /* matrix 1 of the 3-D call equals the 2-D call on that matrix alone (one R per call) */
      alto_tensor_view one = qt_view(x + M * K, ALTO_ELEM_F32, 0, M, K);
      float *r1 = rht(&one, b, seed, stream, ALTO_ELEM_F32);
      CHECK(r1 && memcmp(r1, rx + M * K, sizeof(float) * M * K) == 0);
      free(r1);
      /* bf16 output = bf16 rounding of the fp32 output; bf16 input is accepted */
      float *rb = rht(&vx, b, seed, stream, ALTO_ELEM_BF16);
      int64_t bad = 0;
      for (int64_t i = 0; rb && i < E * M * K; i++)
        bad += alto_f32_to_bf16(rx[i]) != alto_f32_to_bf16(rb[i]);
      CHECK(rb && bad == 0);
      free(rb);
      uint16_t *xb = qt_to_bf16(x, E * M * K);
      alto_tensor_view vxb = qt_view(xb, ALTO_ELEM_BF16, E, M, K);
      float *rxb = rht(&vxb, b, seed, stream, ALTO_ELEM_F32);
      CHECK(rxb != NULL);
      free(rxb);
      free(xb);
    }
    free(rdy);
    free(rx);
    free(dy);
    free(x);
  }
}

static void test_rht_errors(void) {
  static float buf[96 * 8];
  alto_tensor_view v = qt_view(buf, ALTO_ELEM_F32, 0, 96, 8);
  const int bad_b[] = {48, 8, 512, 0};
  for (int i = 0; i < 4; i++) {
    alto_status st = alto_cpu_rht(&v, bad_b[i], 1, 2, ALTO_ELEM_F32, buf);
    CHECKF(st == ALTO_ERR_INVALID_ARG && qt_contains(alto_last_error(), "power of two in 16..256"),
           "b=%d: %s", bad_b[i], alto_last_error());
  }
  alto_tensor_view v48 = qt_view(buf, ALTO_ELEM_F32, 0, 48, 8);
  float out[48 * 8];
  CHECK(alto_cpu_rht(&v48, 32, 1, 2, ALTO_ELEM_F32, out) == ALTO_ERR_INVALID_ARG &&
        qt_contains(alto_last_error(), "(48) to be a multiple of 32"));
  CHECK(alto_cpu_rht(&v, 32, 1, 2, ALTO_ELEM_E4M3, out) == ALTO_ERR_INVALID_ARG);
}

/* ---- DGE ---------------------------------------------------------------------------------- */
static void test_dge_multiplier(void) {
  static const float grid[] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  static const float mids[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5};
  const uint8_t scales[] = {100, 120, 127, 130, 200};
  for (int si = 0; si < 5; si++) {
    uint8_t s = scales[si];
    for (int i = 0; i < 8; i++)
      for (int sg = -1; sg <= 1; sg += 2) {
        float g = alto_dge_multiplier(sg * ldexpf(grid[i], s - 127), s);
        CHECKF(fabsf(g - 0.2f) < 1e-6f, "grid %g s %d: g = %g", grid[i], s, g);
      }
    for (int i = 0; i < 7; i++)
      CHECK(alto_dge_multiplier(-ldexpf(mids[i], s - 127), s) == 3.0f);
    CHECK(alto_dge_multiplier(ldexpf(7.0f, s - 127), s) ==
          alto_dge_multiplier(ldexpf(6.0f, s - 127), s));
  }
  float g = alto_dge_multiplier(0.26f, 127);
  CHECKF(fabsf(g - 2.6265f) < 1e-4f, "g(0.26) = %.6f", g);
  CHECK(fabsf(alto_dge_multiplier(0.52f, 128) - 2.6265f) < 1e-4f); /* the same point, s = 128 */
  alto_test_rng rng = {g_seed ^ 0x33};
  int64_t asym = 0, outside = 0;
  for (int i = 0; i < 10000; i++) {
    float w = (float)(alto_test_normal(&rng) * 3.0);
    float a = alto_dge_multiplier(w, 127), b = alto_dge_multiplier(-w, 127);
    asym += a != b;
    outside += !(a >= 0.2f - 1e-6f && a <= 3.0f);
  }
  CHECK(asym == 0 && outside == 0);
  CHECK(isnan(alto_dge_multiplier(1.0f, 0xFF)));
  CHECK(isnan(alto_dge_multiplier(NAN, 127)));
}

static void test_dge_apply(void) {
  alto_test_rng rng = {g_seed ^ 0x44};
  const int64_t E = 2, R = 64, C = 96, n = E * R * C;
  float *w = malloc(sizeof(float) * n), *dw0 = malloc(sizeof(float) * n);
  alto_test_fill_outliers(&rng, w, n, 0.02f);
  alto_test_fill_outliers(&rng, dw0, n, 1.0f);
  for (int geo = 0; geo < 3; geo++) {
    alto_quant_spec sp = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
    sp.axis = geo == 1 ? -2 : -1;
    sp.block2d = geo == 2;
    alto_tensor_view v = qt_view(w, ALTO_ELEM_F32, E, R, C);
    alto_quantized q;
    if (alto_cpu_quantize(&sp, &v, &q) != ALTO_OK) {
      CHECKF(0, "quantize: %s", alto_last_error());
      continue;
    }
    float *dw = qt_guarded_alloc(sizeof(float) * n);
    memcpy(dw, dw0, sizeof(float) * n);
    alto_status st = alto_cpu_dge(&sp, &v, &q, dw);
    CHECKF(st == ALTO_OK, "dge: %s", alto_last_error());
    int64_t bad = 0, not_02 = 0;
    for (int64_t e = 0; e < E; e++)
      for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) {
          int64_t i = (e * R + r) * C + c;
          float g = alto_dge_multiplier(w[i], qt_scale(&q, &sp, e, r, c, R, C));
          bad += dw[i] != dw0[i] * g;
          not_02 += fabsf(g - 0.2f) > 1e-3f;
        }
    CHECKF(bad == 0, "dge geo %d: %lld elements", geo, (long long)bad);
    CHECK(not_02 > n / 2); /* evaluated at the unquantized weight, not at grid points */
    CHECK(qt_guarded_free(dw, sizeof(float) * n));
    /* a spec that does not match the quantization, or a non-MXFP4 spec: errors */
    alto_quant_spec other = sp;
    other.axis = sp.axis == -1 ? -2 : -1;
    other.block2d = false;
    CHECK(alto_cpu_dge(&other, &v, &q, dw0) == ALTO_ERR_INVALID_ARG);
    other = sp;
    other.scheme = ALTO_SCHEME_NVFP4;
    CHECK(alto_cpu_dge(&other, &v, &q, dw0) == ALTO_ERR_INVALID_ARG &&
          qt_contains(alto_last_error(), "mxfp4"));
    alto_quantized_free(&q);
  }
  free(w);
  free(dw0);
}

int main(void) {
  g_seed = alto_test_seed();
  RUN(test_rht_matrix);
  RUN(test_rht_gram);
  RUN(test_rht_errors);
  RUN(test_dge_multiplier);
  RUN(test_dge_apply);
  return alto_test_finish();
}
