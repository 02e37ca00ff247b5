/* bench/ops: the non-GEMM training ops (runtime/ops_gpu.h) at Llama 3 1b's shapes, each against
 * its memory bound: effective bandwidth (the bytes it must read and write, once each, per
 * second) next to a device-to-device copy's measured in the same run.
 *
 *   build/bench/bench_ops [M] [--csv]     (default M = 8192 tokens; dim 2048, ffn 8192, 32 heads
 *                                          of 64 (8 KV heads), vocab 128256; bf16 activations)
 *
 * Each op: 3 warm-up calls (the first JIT-compiles), then the median of 7 timings of `iters`
 * calls (device events). Inputs are random (randn, 0.5% outliers x100; logits randn x 2, the
 * same 16M values tiled), never zeros. "bound ms" is bytes / the copy's bandwidth. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/driver.h"
#include "runtime/ops_gpu.h"
#include "tests/harness.h"

static alto_backend *B;
static alto_status ST = ALTO_OK;

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static float median_ms(void (*fn)(void *), void *ctx, int iters) {
  float t[7], ms;
  for (int w = 0; w < 3; w++)
    fn(ctx);
  if (B->i->sync(B) != ALTO_OK)
    return NAN;
  for (int r = 0; r < 7; r++) {
    if (B->i->time_ms(B, fn, ctx, iters, &ms) != ALTO_OK)
      return NAN;
    t[r] = ms / (float)iters;
  }
  qsort(t, 7, sizeof t[0], cmp_float);
  return t[3];
}

/* ---- the ops' arguments at the 1b shapes ---------------------------------------------------- */
typedef struct {
  int64_t M, dim, ffn, heads, kv_heads, head_dim, vocab;
  alto_dptr a, b, c, d, e;   /* (M, ffn) bf16 each: SwiGLU's gate, up, dy, outputs */
  alto_dptr x, y, z;         /* (M, dim) bf16 */
  alto_dptr w32, wout;       /* (dim, ffn) fp32 master weight, its bf16 cast */
  alto_dptr norm_w, rstd;    /* (dim,) fp32, (M,) fp32 */
  alto_dptr dw, scratch;     /* RMSNorm dw (dim,), scratch (the larger of its and embedding's) */
  alto_dptr q, q2;           /* (M, heads, head_dim) bf16 */
  alto_dptr cos_t, sin_t;    /* (M, head_dim / 2) fp32 */
  alto_dptr logits, dlogits; /* (M, vocab) bf16 */
  alto_dptr targets, tokens; /* (M,) int32 */
  alto_dptr loss, row_loss;  /* (2,), (M,) fp64 */
  alto_dptr table, dtable;   /* (vocab, dim) fp32 */
  alto_dptr copy_src, copy_dst;
  size_t copy_bytes;
} shapes;

static shapes S;

static void run_swiglu(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_swiglu(B, ALTO_ELEM_BF16, S.c, S.a, S.b, S.M * S.ffn);
}
static void run_swiglu_bwd(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_swiglu_bwd(B, ALTO_ELEM_BF16, S.d, S.e, S.c, S.a, S.b, S.M * S.ffn);
}
static void run_add(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_add(B, ALTO_ELEM_BF16, S.z, S.x, S.y, S.M * S.dim);
}
static void run_cast(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_cast(B, S.wout, ALTO_ELEM_BF16, S.w32, ALTO_ELEM_F32, S.dim * S.ffn);
}
static void run_rope(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_rope(B, ALTO_ELEM_BF16, S.q2, S.q, S.cos_t, S.sin_t, S.M, S.M, S.heads,
                           S.head_dim, S.head_dim);
}
static void run_rope_bwd(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_rope_bwd(B, ALTO_ELEM_BF16, S.q2, S.q, S.cos_t, S.sin_t, S.M, S.M, S.heads,
                               S.head_dim, S.head_dim);
}
static void run_rmsnorm(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_rmsnorm(B, ALTO_ELEM_BF16, S.z, S.rstd, S.x, S.norm_w, S.M, S.dim, 1e-5);
}
static void run_rmsnorm_bwd(void *p) { /* dx += (the residual stream's gradient) */
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_rmsnorm_bwd(B, ALTO_ELEM_BF16, S.z, S.dw, S.y, S.x, S.norm_w, S.rstd, S.M,
                                  S.dim, true, S.scratch);
}
static void run_ce(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_cross_entropy(B, ALTO_ELEM_BF16, S.dlogits, S.loss, S.row_loss, S.logits,
                                    S.targets, S.M, S.vocab);
}
static void run_ce_in_place(void *p) {
  (void)p;
  if (ST == ALTO_OK) /* the logits are overwritten: the dlogits of dlogits, same work */
    ST = alto_ops_gpu_cross_entropy(B, ALTO_ELEM_BF16, S.dlogits, S.loss, S.row_loss, S.dlogits,
                                    S.targets, S.M, S.vocab);
}
static void run_embed(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_embed(B, ALTO_ELEM_BF16, S.z, S.tokens, S.table, S.M, S.dim, S.vocab);
}
static void run_embed_bwd(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_embed_bwd(B, ALTO_ELEM_BF16, S.dtable, S.tokens, S.y, S.M, S.dim, S.vocab,
                                S.scratch);
}
static void run_copy(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_cuda_d2d(S.copy_dst, S.copy_src, S.copy_bytes);
}

/* FP8 codes (M, ffn) -> (ffn, M) and (M, dim) -> (dim, M): the wgrad operands' K-major copies */
static void run_transpose_mf(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_transpose(B, S.d, S.a, S.M, S.ffn, 1);
}
static void run_transpose_md(void *p) {
  (void)p;
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_transpose(B, S.d, S.x, S.M, S.dim, 1);
}

static alto_dptr dalloc(size_t bytes) {
  alto_dptr p = 0;
  if (ST == ALTO_OK)
    ST = B->i->alloc(B, bytes, &p);
  return p;
}

/* Uploads n bf16 values (randn * scale, outliers), generated in a block of at most 16M and
 * tiled. */
static void upload_bf16(alto_test_rng *rng, alto_dptr dst, int64_t n, float scale) {
  const int64_t blk = n < ((int64_t)1 << 24) ? n : ((int64_t)1 << 24);
  float *f = malloc((size_t)blk * 4);
  uint16_t *h = malloc((size_t)blk * 2);
  alto_test_fill_outliers(rng, f, blk, scale);
  for (int64_t i = 0; i < blk; i++)
    h[i] = alto_f32_to_bf16(f[i]);
  for (int64_t o = 0; o < n && ST == ALTO_OK; o += blk) {
    const int64_t k = n - o < blk ? n - o : blk;
    ST = B->i->h2d(B, dst + (alto_dptr)o * 2, h, (size_t)k * 2);
  }
  free(f);
  free(h);
}

static void upload_f32(alto_test_rng *rng, alto_dptr dst, int64_t n, float scale) {
  const int64_t blk = n < ((int64_t)1 << 24) ? n : ((int64_t)1 << 24);
  float *f = malloc((size_t)blk * 4);
  alto_test_fill_outliers(rng, f, blk, scale);
  for (int64_t o = 0; o < n && ST == ALTO_OK; o += blk) {
    const int64_t k = n - o < blk ? n - o : blk;
    ST = B->i->h2d(B, dst + (alto_dptr)o * 4, f, (size_t)k * 4);
  }
  free(f);
}

static void upload_ids(alto_test_rng *rng, alto_dptr dst, int64_t n, int64_t range) {
  int32_t *t = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++)
    t[i] = (int32_t)(alto_test_u64(rng) % (uint64_t)range);
  if (ST == ALTO_OK)
    ST = B->i->h2d(B, dst, t, (size_t)n * 4);
  free(t);
}

typedef struct {
  const char *name, *shape;
  void (*fn)(void *);
  double bytes; /* read once + written once */
  int iters;
} bench_case;

int main(int argc, char **argv) {
  int csv = 0;
  S.M = 8192;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--csv") == 0)
      csv = 1;
    else
      S.M = atoll(argv[i]);
  }
  S.dim = 2048, S.ffn = 8192, S.heads = 32, S.kv_heads = 8, S.head_dim = 64, S.vocab = 128256;
  if (alto_backend_open("cuda", &B) != ALTO_OK) {
    fprintf(stderr, "bench_ops: %s\n", alto_last_error());
    return 77;
  }
  const int64_t M = S.M, mf = M * S.ffn, md = M * S.dim, mq = M * S.heads * S.head_dim;
  const int64_t mv = M * S.vocab, wd = S.dim * S.ffn, vd = S.vocab * S.dim;
  S.a = dalloc((size_t)mf * 2), S.b = dalloc((size_t)mf * 2), S.c = dalloc((size_t)mf * 2);
  S.d = dalloc((size_t)mf * 2), S.e = dalloc((size_t)mf * 2);
  S.x = dalloc((size_t)md * 2), S.y = dalloc((size_t)md * 2), S.z = dalloc((size_t)md * 2);
  S.w32 = dalloc((size_t)wd * 4), S.wout = dalloc((size_t)wd * 2);
  S.norm_w = dalloc((size_t)S.dim * 4), S.rstd = dalloc((size_t)M * 4);
  S.dw = dalloc((size_t)S.dim * 4);
  size_t sn = alto_ops_gpu_rmsnorm_bwd_scratch_bytes(M, S.dim);
  size_t se = alto_ops_gpu_embed_bwd_scratch_bytes(M, S.vocab);
  S.scratch = dalloc(sn > se ? sn : se);
  S.q = dalloc((size_t)mq * 2), S.q2 = dalloc((size_t)mq * 2);
  S.cos_t = dalloc((size_t)(M * S.head_dim / 2) * 4),
  S.sin_t = dalloc((size_t)(M * S.head_dim / 2) * 4);
  S.logits = dalloc((size_t)mv * 2), S.dlogits = dalloc((size_t)mv * 2);
  S.targets = dalloc((size_t)M * 4), S.tokens = dalloc((size_t)M * 4);
  S.loss = dalloc(16), S.row_loss = dalloc((size_t)M * 8);
  S.table = dalloc((size_t)vd * 4), S.dtable = dalloc((size_t)vd * 4);
  S.copy_bytes = (size_t)mf * 2;
  S.copy_src = S.a, S.copy_dst = S.e;
  alto_test_rng rng = {12345};
  upload_bf16(&rng, S.a, mf, 2.0f), upload_bf16(&rng, S.b, mf, 1.0f);
  upload_bf16(&rng, S.c, mf, 1.0f);
  upload_bf16(&rng, S.x, md, 1.0f), upload_bf16(&rng, S.y, md, 1.0f);
  upload_bf16(&rng, S.z, md, 1.0f);
  upload_f32(&rng, S.w32, wd, 0.02f), upload_f32(&rng, S.norm_w, S.dim, 1.0f);
  upload_f32(&rng, S.table, vd, 0.02f), upload_f32(&rng, S.dtable, vd, 0.001f);
  upload_bf16(&rng, S.q, mq, 1.0f);
  upload_bf16(&rng, S.logits, mv, 2.0f);
  upload_ids(&rng, S.targets, M, S.vocab), upload_ids(&rng, S.tokens, M, S.vocab);
  alto_rope rope = {.theta = 500000,
                    .scaling = ALTO_ROPE_SCALING_LLAMA3,
                    .factor = 32,
                    .low_freq_factor = 1,
                    .high_freq_factor = 4,
                    .original_max_position = 8192};
  if (ST == ALTO_OK)
    ST = alto_ops_gpu_rope_table(B, &rope, M, S.head_dim, S.cos_t, S.sin_t);
  if (ST == ALTO_OK) /* rstd for the backward */
    ST = alto_ops_gpu_rmsnorm(B, ALTO_ELEM_BF16, S.z, S.rstd, S.x, S.norm_w, M, S.dim, 1e-5);
  if (ST == ALTO_OK)
    ST = B->i->sync(B);
  if (ST != ALTO_OK) {
    fprintf(stderr, "bench_ops: setup: %s\n", alto_last_error());
    return 1;
  }

  float copy_ms = median_ms(run_copy, NULL, 10);
  double copy_gbs = 2.0 * (double)S.copy_bytes / (copy_ms * 1e-3) / 1e9;
  const double parts = (double)((M + ALTO_OPS_NORM_ROWS - 1) / ALTO_OPS_NORM_ROWS);
  char sh_mf[64], sh_md[64], sh_w[64], sh_q[64], sh_v[64];
  snprintf(sh_mf, sizeof sh_mf, "%lld x %lld", (long long)M, (long long)S.ffn);
  snprintf(sh_md, sizeof sh_md, "%lld x %lld", (long long)M, (long long)S.dim);
  snprintf(sh_w, sizeof sh_w, "%lld x %lld f32", (long long)S.dim, (long long)S.ffn);
  snprintf(sh_q, sizeof sh_q, "%lld x %lld x %lld", (long long)M, (long long)S.heads,
           (long long)S.head_dim);
  snprintf(sh_v, sizeof sh_v, "%lld x %lld", (long long)M, (long long)S.vocab);
  const bench_case cases[] = {
      {"swiglu", sh_mf, run_swiglu, 6.0 * (double)mf, 20},
      {"swiglu_bwd", sh_mf, run_swiglu_bwd, 10.0 * (double)mf, 20},
      {"add", sh_md, run_add, 6.0 * (double)md, 20},
      {"cast f32->bf16", sh_w, run_cast, 6.0 * (double)wd, 20},
      {"rope (q)", sh_q, run_rope, 4.0 * (double)mq, 20},
      {"rope_bwd (q)", sh_q, run_rope_bwd, 4.0 * (double)mq, 20},
      {"rmsnorm", sh_md, run_rmsnorm, 4.0 * (double)md, 20},
      /* dy, x, dx read; dx written; the dw partials written and read */
      {"rmsnorm_bwd (dx +=)", sh_md, run_rmsnorm_bwd,
       8.0 * (double)md + 8.0 * parts * (double)S.dim, 20},
      {"cross_entropy fwd+bwd", sh_v, run_ce, 4.0 * (double)mv, 5},
      {"cross_entropy in place", sh_v, run_ce_in_place, 4.0 * (double)mv, 5},
      /* the table rows (fp32) read, the bf16 rows written */
      {"embed", sh_md, run_embed, 6.0 * (double)md, 20},
      /* dout read, the touched dtable rows (at most M) read and written */
      {"embed_bwd", sh_md, run_embed_bwd, 2.0 * (double)md + 8.0 * (double)md, 10},
      /* one byte per element read and written */
      {"transpose fp8 codes", sh_mf, run_transpose_mf, 2.0 * (double)mf, 20},
      {"transpose fp8 codes", sh_md, run_transpose_md, 2.0 * (double)md, 20},
  };
  if (csv)
    printf("op,shape,ms,GB/s,fraction_of_copy,bound_ms\n");
  else
    printf("GPU %s; bf16 activations; device-to-device copy of %.0f MB: %.3f ms, %.0f GB/s (read + "
           "write)\n\n%-24s %-20s %9s %9s %8s %9s\n",
           B->device_name, (double)S.copy_bytes / 1e6, copy_ms, copy_gbs, "op", "shape", "ms",
           "GB/s", "of copy", "bound ms");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const bench_case *c = &cases[i];
    float ms = median_ms(c->fn, NULL, c->iters);
    if (ST != ALTO_OK || !(ms > 0)) {
      printf("%-24s failed: %s\n", c->name, ST != ALTO_OK ? alto_last_error() : "no timing");
      ST = ALTO_OK;
      continue;
    }
    double gbs = c->bytes / (ms * 1e-3) / 1e9, bound = c->bytes / (copy_gbs * 1e9) * 1e3;
    if (csv)
      printf("%s,%s,%.4f,%.1f,%.3f,%.4f\n", c->name, c->shape, ms, gbs, gbs / copy_gbs, bound);
    else
      printf("%-24s %-20s %9.4f %9.0f %7.0f%% %9.4f\n", c->name, c->shape, ms, gbs,
             100.0 * gbs / copy_gbs, bound);
  }
  alto_backend_close(B);
  return 0;
}
