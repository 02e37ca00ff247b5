/* bench/attn: the bf16 causal GQA attention kernels (templates/attn/, runtime/attn_gpu.h) on the
 * shapes alto trains: forward and backward in ms and TFLOP/s, the backward's three kernels alone,
 * and with --sweep other tile sizes per kernel (each checked against the default tiles' outputs).
 *
 *   build/bench/bench_attn [--sweep] [--shape 1b|debug|d128]
 *
 * FLOPs: forward 4 B H T^2 D / 2 (two GEMMs over the causal half of the score matrix), backward
 * 2.5 times that (five GEMMs), as FlashAttention counts them; recomputation is not counted.
 * Each timing: 3 warm-up calls, then the median of 7 timings of `iters` calls (device events).
 * Inputs: randn bf16 (q, k x 0.5; v, dout x 1), never zeros. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/attn_gpu.h"
#include "templates/common/alto_numerics.h"
#include "tests/harness.h"

static alto_backend *B;

typedef struct {
  const char *name;
  int64_t B, T, H, G, D;
} shape;

static const shape shapes[] = {
    {"1b", 4, 2048, 32, 8, 64},     /* Llama 3 1B */
    {"debug", 8, 2048, 16, 16, 16}, /* Llama 3 debugmodel */
    {"d128", 2, 4096, 16, 4, 128},  /* head dim 128 (8B and up), GQA 4 */
};

typedef struct {
  const shape *s;
  alto_dptr q, k, v, out, lse, dout, dq, dk, dv, ws;
  const alto_attn_tuning *tune;
  int bwd; /* time the backward (else the forward) */
  alto_status st;
} run_ctx;

static void run_once(void *p) {
  run_ctx *c = p;
  if (c->st != ALTO_OK)
    return;
  const shape *s = c->s;
  if (c->bwd)
    c->st = alto_gpu_attention_bwd_tuned(B, c->dq, c->dk, c->dv, c->q, c->k, c->v, c->out, c->lse,
                                         c->dout, s->B, s->T, s->H, s->G, s->D, 0, c->ws, c->tune);
  else
    c->st = alto_gpu_attention_tuned(B, c->out, c->lse, c->q, c->k, c->v, s->B, s->T, s->H, s->G,
                                     s->D, 0, c->tune);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* median ms of one call; NAN (and c->st set) on failure */
static float median_ms(run_ctx *c, int iters) {
  float t[7], ms;
  for (int w = 0; w < 3; w++)
    run_once(c);
  for (int r = 0; r < 7; r++) {
    if (c->st != ALTO_OK || B->i->time_ms(B, run_once, c, iters, &ms) != ALTO_OK)
      return NAN;
    t[r] = ms / (float)iters;
  }
  if (c->st != ALTO_OK)
    return NAN;
  qsort(t, 7, sizeof t[0], cmp_float);
  return t[3];
}

static double fwd_flops(const shape *s) {
  return 4.0 * (double)s->B * (double)s->H * (double)s->T * (double)s->T * (double)s->D / 2;
}

static alto_dptr upload_random(alto_test_rng *rng, int64_t n, float scale) {
  float *f = malloc((size_t)n * 4);
  uint16_t *h = malloc((size_t)n * 2);
  alto_test_fill_outliers(rng, f, n, scale);
  for (int64_t i = 0; i < n; i++)
    h[i] = alto_f32_to_bf16(f[i] != 0.f ? f[i] : scale * 1e-3f);
  alto_dptr d = 0;
  if (B->i->alloc(B, (size_t)n * 2, &d) != ALTO_OK ||
      B->i->h2d(B, d, h, (size_t)n * 2) != ALTO_OK) {
    fprintf(stderr, "bench_attn: %s\n", alto_last_error());
    exit(1);
  }
  free(f), free(h);
  return d;
}

static alto_dptr alloc_or_die(size_t bytes) {
  alto_dptr d = 0;
  if (B->i->alloc(B, bytes, &d) != ALTO_OK) {
    fprintf(stderr, "bench_attn: %s\n", alto_last_error());
    exit(1);
  }
  return d;
}

static uint16_t *download(alto_dptr d, int64_t n) {
  uint16_t *h = malloc((size_t)n * 2);
  if (B->i->sync(B) != ALTO_OK || B->i->d2h(B, h, d, (size_t)n * 2) != ALTO_OK) {
    fprintf(stderr, "bench_attn: %s\n", alto_last_error());
    exit(1);
  }
  return h;
}

/* relative Frobenius difference of two bf16 arrays (inf on a non-finite value) */
static double rel_diff(const uint16_t *a, const uint16_t *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = alto_bf16_to_f32(a[i]), y = alto_bf16_to_f32(b[i]);
    if (!isfinite(x) || !isfinite(y))
      return INFINITY;
    num += (x - y) * (x - y), den += y * y;
  }
  return den > 0 ? sqrt(num / den) : 0;
}

/* the tile variants --sweep tries, per part (fwd / dq: bm bn minb; dkdv: bn bq minb) */
static const alto_attn_tiles sweep_fwd[] = {
    {128, 64, 0, 2, 0},
    {128, 64, 0, 1, 0},
    {128, 128, 0, 1, 0},
    {128, 32, 0, 2, 0},
    {64, 64, 0, 2, 0},
    {64, 64, 0, 3, 0},
    {64, 128, 0, 2, 0},
    /* the warpgroup-MMA kernel (sm_90a, D 64 and 128) */
    {128, 128, 0, 1, 1},
    {128, 64, 0, 1, 1},
    {128, 64, 0, 2, 1},
    {192, 128, 0, 1, 1},
    {192, 64, 0, 1, 1},
    {64, 128, 0, 2, 1},
    {64, 64, 0, 3, 1},
};
static const alto_attn_tiles sweep_dkdv[] = {
    {0, 128, 64, 1, 0}, {0, 128, 32, 1, 0}, {0, 128, 32, 2, 0}, {0, 128, 128, 1, 0},
    {0, 64, 64, 1, 0},  {0, 64, 64, 2, 0},  {0, 64, 32, 2, 0},  {0, 256, 32, 1, 0},
    /* the warpgroup-MMA kernel (sm_90a, D 64 and 128) */
    {0, 128, 64, 1, 1}, {0, 64, 64, 2, 1},  {0, 64, 64, 1, 1},  {0, 128, 32, 2, 1},
    {0, 128, 32, 1, 1}, {0, 192, 64, 1, 1}, {0, 64, 32, 3, 1},  {0, 64, 32, 1, 1},
};
static const alto_attn_tiles sweep_dq[] = {
    {128, 64, 0, 1, 0}, {128, 64, 0, 2, 0}, {128, 32, 0, 2, 0}, {128, 128, 0, 1, 0},
    {64, 64, 0, 1, 0},  {64, 64, 0, 2, 0},  {64, 128, 0, 1, 0},
    /* the warpgroup-MMA kernel (sm_90a, D 64 and 128) */
    {64, 64, 0, 2, 1},  {64, 64, 0, 3, 1},  {128, 64, 0, 1, 1}, {128, 64, 0, 2, 1},
    {64, 32, 0, 3, 1},  {128, 32, 0, 2, 1}, {192, 64, 0, 1, 1},
};

/* the tile variants of each kernel: ms and the relative difference to the defaults' output */
static void bench_sweep(run_ctx *c) {
  const shape *s = c->s;
  const int64_t nq = s->B * s->T * s->H * s->D, nkv = s->B * s->T * s->G * s->D;
  const int iters = 10;
  /* reference outputs of the default tiles */
  c->bwd = 0, c->st = ALTO_OK;
  run_once(c);
  uint16_t *ref_o = download(c->out, nq);
  c->bwd = 1;
  run_once(c);
  uint16_t *ref_dq = download(c->dq, nq), *ref_dk = download(c->dk, nkv);
  printf("  sweep (tiles: bm bn bq minb wg; check: relative difference to the defaults' output)\n");
  for (int p = 0; p < 3; p++) {
    const alto_attn_tiles *list = p == 0 ? sweep_fwd : p == 1 ? sweep_dkdv : sweep_dq;
    size_t n = p == 0   ? sizeof sweep_fwd / sizeof sweep_fwd[0]
               : p == 1 ? sizeof sweep_dkdv / sizeof sweep_dkdv[0]
                        : sizeof sweep_dq / sizeof sweep_dq[0];
    for (size_t i = 0; i < n; i++) {
      alto_attn_tuning t;
      memset(&t, 0, sizeof t);
      if (p == 0)
        t.fwd = list[i];
      else if (p == 1)
        t.dkdv = list[i], t.bwd_parts = 1u << ALTO_ATTN_BWD_DKDV;
      else
        t.dq = list[i], t.bwd_parts = 1u << ALTO_ATTN_BWD_DQ;
      c->tune = &t, c->bwd = p != 0, c->st = ALTO_OK;
      float ms = median_ms(c, iters);
      const char *what = p == 0 ? "fwd" : p == 1 ? "dkdv" : "dq";
      if (c->st != ALTO_OK) {
        printf("    %-5s %3d %3d %3d %d %d  failed: %s\n", what, list[i].bm, list[i].bn, list[i].bq,
               list[i].minb, list[i].wg, alto_last_error());
        continue;
      }
      uint16_t *got = download(p == 0 ? c->out : p == 1 ? c->dk : c->dq, p == 1 ? nkv : nq);
      double d = rel_diff(got, p == 0 ? ref_o : p == 1 ? ref_dk : ref_dq, p == 1 ? nkv : nq);
      free(got);
      printf("    %-5s %3d %3d %3d %d %d  %8.3f ms  check %.1e%s\n", what, list[i].bm, list[i].bn,
             list[i].bq, list[i].minb, list[i].wg, ms, d, d < 1e-2 ? "" : "  MISMATCH");
    }
  }
  c->tune = NULL;
  free(ref_o), free(ref_dq), free(ref_dk);
}

static void bench_shape(const shape *s, int sweep) {
  alto_test_rng rng = {12345};
  const int64_t nq = s->B * s->T * s->H * s->D, nkv = s->B * s->T * s->G * s->D;
  run_ctx c;
  memset(&c, 0, sizeof c);
  c.s = s;
  c.q = upload_random(&rng, nq, 0.5f), c.k = upload_random(&rng, nkv, 0.5f);
  c.v = upload_random(&rng, nkv, 1.f), c.dout = upload_random(&rng, nq, 1.f);
  c.out = alloc_or_die((size_t)nq * 2), c.dq = alloc_or_die((size_t)nq * 2);
  c.dk = alloc_or_die((size_t)nkv * 2), c.dv = alloc_or_die((size_t)nkv * 2);
  c.lse = alloc_or_die((size_t)(s->B * s->H * s->T) * 4);
  c.ws = alloc_or_die(alto_gpu_attention_bwd_workspace(s->B, s->T, s->H));
  const double ff = fwd_flops(s), bf = 2.5 * ff;
  const int iters = 10;
  printf("\n%s: B %lld T %lld H %lld G %lld D %lld causal (fwd %.1f GFLOP, bwd %.1f GFLOP)\n",
         s->name, (long long)s->B, (long long)s->T, (long long)s->H, (long long)s->G,
         (long long)s->D, ff / 1e9, bf / 1e9);

  c.bwd = 0;
  float fms = median_ms(&c, iters);
  if (c.st != ALTO_OK) {
    printf("  forward failed: %s\n", alto_last_error());
    goto done;
  }
  c.bwd = 1;
  float bms = median_ms(&c, iters);
  if (c.st != ALTO_OK) {
    printf("  backward failed: %s\n", alto_last_error());
    goto done;
  }
  printf("  %-26s %8.3f ms %7.1f TFLOP/s\n", "forward", fms, ff / (fms * 1e-3) / 1e12);
  printf("  %-26s %8.3f ms %7.1f TFLOP/s\n", "backward", bms, bf / (bms * 1e-3) / 1e12);
  static const char *const part_names[] = {"", "  bwd_delta", "  bwd_dkdv", "  bwd_dq"};
  for (int p = ALTO_ATTN_BWD_DELTA; p <= ALTO_ATTN_BWD_DQ; p++) {
    alto_attn_tuning t;
    memset(&t, 0, sizeof t);
    t.bwd_parts = 1u << p;
    c.tune = &t;
    float ms = median_ms(&c, iters);
    printf("  %-26s %8.3f ms\n", part_names[p], ms);
  }
  c.tune = NULL;
  if (sweep)
    bench_sweep(&c);
done:;
  alto_dptr all[] = {c.q, c.k, c.v, c.out, c.lse, c.dout, c.dq, c.dk, c.dv, c.ws};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    B->i->free(B, all[i]);
}

int main(int argc, char **argv) {
  int sweep = 0;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--sweep") == 0)
      sweep = 1;
    else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc)
      only = argv[++i];
    else {
      fprintf(stderr, "usage: bench_attn [--sweep] [--shape 1b|debug|d128]\n");
      return 2;
    }
  }
  if (alto_backend_open("cuda", &B) != ALTO_OK) {
    fprintf(stderr, "bench_attn: %s\n", alto_last_error());
    return 77;
  }
  printf("GPU %s (%s): bf16 causal attention, templates/attn\n", B->device_name, B->arch);
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (!only || strcmp(only, shapes[i].name) == 0)
      bench_shape(&shapes[i], sweep);
  alto_backend_close(B);
  return 0;
}
