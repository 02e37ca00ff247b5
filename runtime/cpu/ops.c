/* The CPU backend's ops (see ops.h): forward and backward loops, parallel over rows. */
#include "runtime/cpu/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/parallel.h"
#include "base/status.h"

/* Items per thread chunk so that a chunk does at least ~32k multiply-adds. */
static int64_t ops_grain_(int64_t work_per_item) {
  int64_t g = 32768 / (work_per_item > 0 ? work_per_item : 1);
  return g < 1 ? 1 : g;
}

/* ---- embedding ---------------------------------------------------------------------------- */
typedef struct {
  alto_real *out;
  const int32_t *tokens;
  const alto_real *table, *dout;
  int64_t M, C;
} ops_embed_ctx_;

static void ops_embed_rows_(void *ctx, int64_t begin, int64_t end) {
  ops_embed_ctx_ *k = ctx;
  for (int64_t m = begin; m < end; m++)
    memcpy(k->out + m * k->C, k->table + (int64_t)k->tokens[m] * k->C,
           (size_t)k->C * sizeof(alto_real));
}

ALTO_OPS_API void alto_op_embed(alto_real *out, const int32_t *tokens, const alto_real *table,
                                int64_t M, int64_t C) {
  ops_embed_ctx_ k = {out, tokens, table, NULL, M, C};
  alto_parallel_for(M, ops_grain_(C), ops_embed_rows_, &k);
}

/* Items are columns: each column of dtable sums its rows' contributions in token order. */
static void ops_embed_bwd_cols_(void *ctx, int64_t begin, int64_t end) {
  ops_embed_ctx_ *k = ctx;
  for (int64_t m = 0; m < k->M; m++) {
    alto_real *row = k->out + (int64_t)k->tokens[m] * k->C;
    const alto_real *d = k->dout + m * k->C;
    for (int64_t c = begin; c < end; c++)
      row[c] += d[c];
  }
}

ALTO_OPS_API void alto_op_embed_bwd(alto_real *dtable, const int32_t *tokens, const alto_real *dout,
                                    int64_t M, int64_t C) {
  ops_embed_ctx_ k = {dtable, tokens, NULL, dout, M, C};
  alto_parallel_for(C, ops_grain_(M), ops_embed_bwd_cols_, &k);
}

/* ---- RMSNorm ------------------------------------------------------------------------------ */
typedef struct {
  alto_real *out, *rstd, *dx, *dw;
  const alto_real *x, *w, *dy, *rstd_in;
  int64_t M, C;
  double eps;
  bool accumulate;
} ops_norm_ctx_;

static void ops_rmsnorm_rows_(void *ctx, int64_t begin, int64_t end) {
  ops_norm_ctx_ *k = ctx;
  int64_t C = k->C;
  for (int64_t m = begin; m < end; m++) {
    const alto_real *x = k->x + m * C;
    alto_real ss = 0;
    for (int64_t c = 0; c < C; c++)
      ss += x[c] * x[c];
    alto_real r = (alto_real)(1.0 / sqrt((double)(ss / (alto_real)C) + k->eps));
    k->rstd[m] = r;
    alto_real *o = k->out + m * C;
    for (int64_t c = 0; c < C; c++)
      o[c] = x[c] * r * k->w[c];
  }
}

ALTO_OPS_API void alto_op_rmsnorm(alto_real *out, alto_real *rstd, const alto_real *x,
                                  const alto_real *w, int64_t M, int64_t C, double eps) {
  ops_norm_ctx_ k = {.out = out, .rstd = rstd, .x = x, .w = w, .M = M, .C = C, .eps = eps};
  alto_parallel_for(M, ops_grain_(2 * C), ops_rmsnorm_rows_, &k);
}

/* y = x r w with r = (mean(x^2) + eps)^(-1/2):
 * dx_c = r (w_c dy_c - x_c r^2 mean_j(w_j dy_j x_j)), dw_c = sum_m dy_mc x_mc r_m. */
static void ops_rmsnorm_bwd_rows_(void *ctx, int64_t begin, int64_t end) {
  ops_norm_ctx_ *k = ctx;
  int64_t C = k->C;
  for (int64_t m = begin; m < end; m++) {
    const alto_real *x = k->x + m * C, *dy = k->dy + m * C;
    alto_real r = k->rstd_in[m], dot = 0;
    for (int64_t c = 0; c < C; c++)
      dot += k->w[c] * dy[c] * x[c];
    alto_real coef = dot / (alto_real)C * r * r;
    alto_real *dx = k->dx + m * C;
    for (int64_t c = 0; c < C; c++) {
      alto_real g = r * (k->w[c] * dy[c] - x[c] * coef);
      dx[c] = k->accumulate ? dx[c] + g : g;
    }
  }
}

static void ops_rmsnorm_bwd_cols_(void *ctx, int64_t begin, int64_t end) {
  ops_norm_ctx_ *k = ctx;
  for (int64_t c = begin; c < end; c++)
    k->dw[c] = 0;
  for (int64_t m = 0; m < k->M; m++) {
    const alto_real *x = k->x + m * k->C, *dy = k->dy + m * k->C;
    alto_real r = k->rstd_in[m];
    for (int64_t c = begin; c < end; c++)
      k->dw[c] += dy[c] * x[c] * r;
  }
}

ALTO_OPS_API void alto_op_rmsnorm_bwd(alto_real *dx, alto_real *dw, const alto_real *dy,
                                      const alto_real *x, const alto_real *w, const alto_real *rstd,
                                      int64_t M, int64_t C, bool accumulate) {
  ops_norm_ctx_ k = {.dx = dx,
                     .dw = dw,
                     .x = x,
                     .w = w,
                     .dy = dy,
                     .rstd_in = rstd,
                     .M = M,
                     .C = C,
                     .accumulate = accumulate};
  alto_parallel_for(M, ops_grain_(3 * C), ops_rmsnorm_bwd_rows_, &k);
  alto_parallel_for(C, ops_grain_(M), ops_rmsnorm_bwd_cols_, &k);
}

/* ---- RoPE --------------------------------------------------------------------------------- */
/* HF _compute_llama3_parameters: long wavelengths divided by factor, short ones kept, a smooth
 * blend in between. */
static double ops_llama3_freq_(double f, const alto_rope *r) {
  const double pi = 3.14159265358979323846;
  double old = (double)r->original_max_position;
  double low_wl = old / r->low_freq_factor, high_wl = old / r->high_freq_factor;
  double wl = 2.0 * pi / f;
  if (wl < high_wl)
    return f;
  if (wl > low_wl)
    return f / r->factor;
  double smooth = (old / wl - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
  return (1.0 - smooth) * f / r->factor + smooth * f;
}

ALTO_OPS_API void alto_op_rope_table(alto_real *cos_t, alto_real *sin_t, const alto_rope *rope,
                                     int64_t T, int64_t rot) {
  int64_t h = rot / 2;
  for (int64_t i = 0; i < h; i++) {
    double f = 1.0 / pow(rope->theta, (double)(2 * i) / (double)rot);
    if (rope->scaling == ALTO_ROPE_SCALING_LLAMA3)
      f = ops_llama3_freq_(f, rope);
    for (int64_t t = 0; t < T; t++) {
      cos_t[t * h + i] = (alto_real)cos((double)t * f);
      sin_t[t * h + i] = (alto_real)sin((double)t * f);
    }
  }
}

typedef struct {
  alto_real *out;
  const alto_real *x, *cos_t, *sin_t;
  int64_t T, NH, D, rot;
  alto_real sign; /* +1 forward, -1 backward (the inverse rotation) */
} ops_rope_ctx_;

static void ops_rope_rows_(void *ctx, int64_t begin, int64_t end) {
  ops_rope_ctx_ *k = ctx;
  int64_t h = k->rot / 2, D = k->D, off = D - k->rot;
  for (int64_t m = begin; m < end; m++) {
    const alto_real *cs = k->cos_t + (m % k->T) * h, *sn = k->sin_t + (m % k->T) * h;
    for (int64_t hd = 0; hd < k->NH; hd++) {
      const alto_real *x = k->x + (m * k->NH + hd) * D;
      alto_real *y = k->out + (m * k->NH + hd) * D;
      if (y != x)
        memcpy(y, x, (size_t)off * sizeof(alto_real));
      for (int64_t j = 0; j < h; j++) {
        alto_real x1 = x[off + j], x2 = x[off + j + h], s = k->sign * sn[j];
        y[off + j] = x1 * cs[j] - x2 * s;
        y[off + j + h] = x2 * cs[j] + x1 * s;
      }
    }
  }
}

ALTO_OPS_API void alto_op_rope(alto_real *out, const alto_real *x, const alto_real *cos_t,
                               const alto_real *sin_t, int64_t M, int64_t T, int64_t NH, int64_t D,
                               int64_t rot) {
  ops_rope_ctx_ k = {out, x, cos_t, sin_t, T, NH, D, rot, 1};
  alto_parallel_for(M, ops_grain_(NH * D), ops_rope_rows_, &k);
}

ALTO_OPS_API void alto_op_rope_bwd(alto_real *dx, const alto_real *dy, const alto_real *cos_t,
                                   const alto_real *sin_t, int64_t M, int64_t T, int64_t NH,
                                   int64_t D, int64_t rot) {
  ops_rope_ctx_ k = {dx, dy, cos_t, sin_t, T, NH, D, rot, -1};
  alto_parallel_for(M, ops_grain_(NH * D), ops_rope_rows_, &k);
}

/* ---- attention ---------------------------------------------------------------------------- */
typedef struct {
  alto_real *out, *lse, *dq, *dk, *dv;
  const alto_real *q, *k, *v, *o, *lse_in, *dout;
  int64_t B, T, H, G, D, window;
} ops_attn_ctx_;

static alto_real ops_dot_(const alto_real *a, const alto_real *b, int64_t n) {
  alto_real s = 0;
  for (int64_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

static int64_t ops_first_key_(int64_t t, int64_t window) {
  return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

/* Items are (b, h) pairs; each query row t of that head. */
static void ops_attention_heads_(void *ctx, int64_t begin, int64_t end) {
  ops_attn_ctx_ *k = ctx;
  int64_t T = k->T, H = k->H, G = k->G, D = k->D, rep = H / G;
  alto_real scale = (alto_real)(1.0 / sqrt((double)D));
  alto_real *p = alto_xmalloc((size_t)T * sizeof *p); /* (T,) scores of one query */
  for (int64_t bh = begin; bh < end; bh++) {
    int64_t b = bh / H, h = bh % H, g = h / rep;
    for (int64_t t = 0; t < T; t++) {
      const alto_real *qt = k->q + ((b * T + t) * H + h) * D;
      int64_t s0 = ops_first_key_(t, k->window);
      alto_real mx = -INFINITY;
      for (int64_t s = s0; s <= t; s++) {
        p[s] = ops_dot_(qt, k->k + ((b * T + s) * G + g) * D, D) * scale;
        mx = p[s] > mx ? p[s] : mx;
      }
      alto_real sum = 0;
      for (int64_t s = s0; s <= t; s++) {
        p[s] = (alto_real)exp((double)(p[s] - mx));
        sum += p[s];
      }
      k->lse[bh * T + t] = mx + (alto_real)log((double)sum);
      alto_real *ot = k->out + ((b * T + t) * H + h) * D;
      for (int64_t d = 0; d < D; d++)
        ot[d] = 0;
      for (int64_t s = s0; s <= t; s++) {
        const alto_real *vs = k->v + ((b * T + s) * G + g) * D;
        alto_real w = p[s] / sum;
        for (int64_t d = 0; d < D; d++)
          ot[d] += w * vs[d];
      }
    }
  }
  free(p);
}

ALTO_OPS_API void alto_op_attention(alto_real *out, alto_real *lse, const alto_real *q,
                                    const alto_real *k, const alto_real *v, int64_t B, int64_t T,
                                    int64_t H, int64_t G, int64_t D, int64_t window) {
  ALTO_ASSERT(G > 0 && H % G == 0);
  ops_attn_ctx_ c = {.out = out,
                     .lse = lse,
                     .q = q,
                     .k = k,
                     .v = v,
                     .B = B,
                     .T = T,
                     .H = H,
                     .G = G,
                     .D = D,
                     .window = window};
  alto_parallel_for(B * H, ops_grain_(T * T * D), ops_attention_heads_, &c);
}

/* Items are (b, g) pairs: the kv head's dk, dv and the dq of its rep query heads.
 * P_ts = exp(S_ts - lse_t), dP_ts = do_t . v_s, dS_ts = P_ts (dP_ts - do_t . o_t);
 * dq_t = scale sum_s dS_ts k_s, dk_s = scale sum_t dS_ts q_t, dv_s = sum_t P_ts do_t. */
static void ops_attention_bwd_heads_(void *ctx, int64_t begin, int64_t end) {
  ops_attn_ctx_ *k = ctx;
  int64_t T = k->T, H = k->H, G = k->G, D = k->D, rep = H / G;
  alto_real scale = (alto_real)(1.0 / sqrt((double)D));
  for (int64_t bg = begin; bg < end; bg++) {
    int64_t b = bg / G, g = bg % G;
    for (int64_t s = 0; s < T; s++) {
      memset(k->dk + ((b * T + s) * G + g) * D, 0, (size_t)D * sizeof(alto_real));
      memset(k->dv + ((b * T + s) * G + g) * D, 0, (size_t)D * sizeof(alto_real));
    }
    for (int64_t h = g * rep; h < (g + 1) * rep; h++)
      for (int64_t t = 0; t < T; t++) {
        int64_t row = ((b * T + t) * H + h) * D;
        const alto_real *qt = k->q + row, *dot = k->dout + row;
        alto_real *dqt = k->dq + row;
        alto_real Dt = ops_dot_(dot, k->o + row, D), lse = k->lse_in[(b * H + h) * T + t];
        for (int64_t d = 0; d < D; d++)
          dqt[d] = 0;
        for (int64_t s = ops_first_key_(t, k->window); s <= t; s++) {
          int64_t kv = ((b * T + s) * G + g) * D;
          const alto_real *ks = k->k + kv, *vs = k->v + kv;
          alto_real *dks = k->dk + kv, *dvs = k->dv + kv;
          alto_real p = (alto_real)exp((double)(ops_dot_(qt, ks, D) * scale - lse));
          alto_real ds = p * (ops_dot_(dot, vs, D) - Dt) * scale;
          for (int64_t d = 0; d < D; d++) {
            dqt[d] += ds * ks[d];
            dks[d] += ds * qt[d];
            dvs[d] += p * dot[d];
          }
        }
      }
  }
}

ALTO_OPS_API void alto_op_attention_bwd(alto_real *dq, alto_real *dk, alto_real *dv,
                                        const alto_real *q, const alto_real *k, const alto_real *v,
                                        const alto_real *out, const alto_real *lse,
                                        const alto_real *dout, int64_t B, int64_t T, int64_t H,
                                        int64_t G, int64_t D, int64_t window) {
  ALTO_ASSERT(G > 0 && H % G == 0);
  ops_attn_ctx_ c = {.dq = dq,
                     .dk = dk,
                     .dv = dv,
                     .q = q,
                     .k = k,
                     .v = v,
                     .o = out,
                     .lse_in = lse,
                     .dout = dout,
                     .B = B,
                     .T = T,
                     .H = H,
                     .G = G,
                     .D = D,
                     .window = window};
  alto_parallel_for(B * G, ops_grain_((H / G) * T * T * D * 2), ops_attention_bwd_heads_, &c);
}

/* ---- elementwise -------------------------------------------------------------------------- */
typedef struct {
  alto_real *out, *out2;
  const alto_real *a, *b, *dy;
} ops_ew_ctx_;

static alto_real ops_sigmoid_(alto_real x) {
  return (alto_real)(1.0 / (1.0 + exp(-(double)x)));
}

static void ops_swiglu_items_(void *ctx, int64_t begin, int64_t end) {
  ops_ew_ctx_ *k = ctx;
  for (int64_t i = begin; i < end; i++)
    k->out[i] = k->a[i] * ops_sigmoid_(k->a[i]) * k->b[i];
}

ALTO_OPS_API void alto_op_swiglu(alto_real *out, const alto_real *a, const alto_real *b,
                                 int64_t N) {
  ops_ew_ctx_ k = {.out = out, .a = a, .b = b};
  alto_parallel_for(N, 16384, ops_swiglu_items_, &k);
}

/* d silu(a)/da = sig(a) (1 + a (1 - sig(a))). */
static void ops_swiglu_bwd_items_(void *ctx, int64_t begin, int64_t end) {
  ops_ew_ctx_ *k = ctx;
  for (int64_t i = begin; i < end; i++) {
    alto_real a = k->a[i], s = ops_sigmoid_(a), dy = k->dy[i];
    k->out[i] = dy * k->b[i] * s * (1 + a * (1 - s));
    k->out2[i] = dy * a * s;
  }
}

ALTO_OPS_API void alto_op_swiglu_bwd(alto_real *da, alto_real *db, const alto_real *dy,
                                     const alto_real *a, const alto_real *b, int64_t N) {
  ops_ew_ctx_ k = {.out = da, .out2 = db, .a = a, .b = b, .dy = dy};
  alto_parallel_for(N, 16384, ops_swiglu_bwd_items_, &k);
}

static void ops_add_items_(void *ctx, int64_t begin, int64_t end) {
  ops_ew_ctx_ *k = ctx;
  for (int64_t i = begin; i < end; i++)
    k->out[i] = k->a[i] + k->b[i];
}

ALTO_OPS_API void alto_op_add(alto_real *out, const alto_real *a, const alto_real *b, int64_t N) {
  ops_ew_ctx_ k = {.out = out, .a = a, .b = b};
  alto_parallel_for(N, 65536, ops_add_items_, &k);
}

/* ---- GEMM --------------------------------------------------------------------------------- */
#define OPS_GEMM_ROWS 4
#define OPS_GEMM_COLS 256

typedef struct {
  alto_real *c;
  const alto_real *a;  /* (m, k), or (k, m) when trans_a */
  const alto_real *bt; /* (k, n): B transposed to rows of k */
  int64_t m, n, k;
  bool trans_a, accumulate;
} ops_gemm_ctx_;

/* A tile of OPS_GEMM_ROWS x OPS_GEMM_COLS outputs accumulates over p = 0..k-1 in order, the
 * inner loop running along n (vectorizable without reassociation, so each element's sum order
 * is fixed: the same bits for any tiling and thread count). */
static void ops_gemm_rows_(void *ctx, int64_t begin, int64_t end) {
  ops_gemm_ctx_ *g = ctx;
  alto_real acc[OPS_GEMM_ROWS][OPS_GEMM_COLS];
  int64_t m = g->m, n = g->n, K = g->k;
  for (int64_t i0 = begin; i0 < end; i0 += OPS_GEMM_ROWS) {
    int ni = end - i0 < OPS_GEMM_ROWS ? (int)(end - i0) : OPS_GEMM_ROWS;
    for (int64_t j0 = 0; j0 < n; j0 += OPS_GEMM_COLS) {
      int64_t nj = n - j0 < OPS_GEMM_COLS ? n - j0 : OPS_GEMM_COLS;
      for (int r = 0; r < ni; r++)
        for (int64_t j = 0; j < nj; j++)
          acc[r][j] = 0;
      for (int64_t p = 0; p < K; p++) {
        const alto_real *brow = g->bt + p * n + j0;
        for (int r = 0; r < ni; r++) {
          alto_real ar = g->trans_a ? g->a[p * m + i0 + r] : g->a[(i0 + r) * K + p];
          alto_real *ac = acc[r];
          for (int64_t j = 0; j < nj; j++)
            ac[j] += ar * brow[j];
        }
      }
      for (int r = 0; r < ni; r++) {
        alto_real *cr = g->c + (i0 + r) * n + j0;
        for (int64_t j = 0; j < nj; j++)
          cr[j] = g->accumulate ? cr[j] + acc[r][j] : acc[r][j];
      }
    }
  }
}

ALTO_OPS_API void alto_op_gemm(alto_real *c, const alto_real *a, const alto_real *b, int64_t m,
                               int64_t n, int64_t k, bool trans_a, bool trans_b, bool accumulate) {
  alto_real *bt = NULL;
  if (!trans_b) { /* (n, k) -> (k, n) */
    bt = alto_xmalloc((size_t)(n * k) * sizeof *bt);
    for (int64_t j = 0; j < n; j++)
      for (int64_t p = 0; p < k; p++)
        bt[p * n + j] = b[j * k + p];
  }
  ops_gemm_ctx_ g = {c, a, trans_b ? b : bt, m, n, k, trans_a, accumulate};
  int64_t grain = ops_grain_(n * k);
  grain = (grain + OPS_GEMM_ROWS - 1) / OPS_GEMM_ROWS * OPS_GEMM_ROWS;
  alto_parallel_for(m, grain, ops_gemm_rows_, &g);
  free(bt);
}

/* ---- loss --------------------------------------------------------------------------------- */
typedef struct {
  alto_real *dlogits;
  const alto_real *logits;
  const int32_t *targets;
  int64_t V;
  double inv_n;
  double *row_loss;
} ops_ce_ctx_;

static void ops_ce_rows_(void *ctx, int64_t begin, int64_t end) {
  ops_ce_ctx_ *k = ctx;
  int64_t V = k->V;
  for (int64_t m = begin; m < end; m++) {
    const alto_real *l = k->logits + m * V;
    int32_t t = k->targets[m];
    alto_real *dl = k->dlogits ? k->dlogits + m * V : NULL;
    if (t < 0) {
      k->row_loss[m] = 0;
      if (dl)
        memset(dl, 0, (size_t)V * sizeof *dl);
      continue;
    }
    alto_real mx = -INFINITY;
    for (int64_t v = 0; v < V; v++)
      mx = l[v] > mx ? l[v] : mx;
    double sum = 0;
    for (int64_t v = 0; v < V; v++)
      sum += exp((double)(l[v] - mx));
    double lse = (double)mx + log(sum);
    k->row_loss[m] = lse - (double)l[t];
    if (dl) {
      for (int64_t v = 0; v < V; v++)
        dl[v] = (alto_real)(exp((double)l[v] - lse) * k->inv_n);
      dl[t] -= (alto_real)k->inv_n;
    }
  }
}

ALTO_OPS_API double alto_op_cross_entropy(alto_real *dlogits, const alto_real *logits,
                                          const int32_t *targets, int64_t M, int64_t V) {
  int64_t n_valid = 0;
  for (int64_t m = 0; m < M; m++)
    n_valid += targets[m] >= 0;
  double *row_loss = alto_xmalloc((size_t)(M > 0 ? M : 1) * sizeof *row_loss);
  ops_ce_ctx_ k = {dlogits, logits, targets, V, n_valid ? 1.0 / (double)n_valid : 0.0, row_loss};
  alto_parallel_for(M, ops_grain_(2 * V), ops_ce_rows_, &k);
  double loss = 0;
  for (int64_t m = 0; m < M; m++)
    loss += row_loss[m];
  free(row_loss);
  return n_valid ? loss / (double)n_valid : 0.0;
}

/* ---- optimizer ---------------------------------------------------------------------------- */
typedef struct {
  float *p, *m, *v;
  const float *g;
  const alto_adamw_hparams *h;
  double bc1, bc2;
} ops_adamw_ctx_;

static void ops_adamw_items_(void *ctx, int64_t begin, int64_t end) {
  ops_adamw_ctx_ *k = ctx;
  const alto_adamw_hparams *h = k->h;
  float b1 = (float)h->beta1, b2 = (float)h->beta2;
  float decay = (float)(1.0 - h->lr * h->weight_decay);
  float step_size = (float)(h->lr / k->bc1), sqrt_bc2 = (float)sqrt(k->bc2), eps = (float)h->eps;
  for (int64_t i = begin; i < end; i++) {
    float g = k->g[i];
    float m = b1 * k->m[i] + (1.0f - b1) * g;
    float v = b2 * k->v[i] + (1.0f - b2) * g * g;
    k->m[i] = m;
    k->v[i] = v;
    float denom = sqrtf(v) / sqrt_bc2 + eps;
    k->p[i] = k->p[i] * decay - step_size * (m / denom);
  }
}

ALTO_OPS_API void alto_op_adamw(float *param, const float *grad, float *m, float *v, int64_t N,
                                const alto_adamw_hparams *h, int64_t step) {
  ALTO_ASSERT(step >= 1);
  ops_adamw_ctx_ k = {
      param, m, v, grad, h, 1.0 - pow(h->beta1, (double)step), 1.0 - pow(h->beta2, (double)step)};
  alto_parallel_for(N, 65536, ops_adamw_items_, &k);
}

#define OPS_SUMSQ_CHUNK 65536

typedef struct {
  const float *x;
  int64_t N;
  double *partial;
} ops_sumsq_ctx_;

static void ops_sumsq_chunks_(void *ctx, int64_t begin, int64_t end) {
  ops_sumsq_ctx_ *k = ctx;
  for (int64_t c = begin; c < end; c++) {
    int64_t i1 = (c + 1) * OPS_SUMSQ_CHUNK < k->N ? (c + 1) * OPS_SUMSQ_CHUNK : k->N;
    double s = 0;
    for (int64_t i = c * OPS_SUMSQ_CHUNK; i < i1; i++)
      s += (double)k->x[i] * (double)k->x[i];
    k->partial[c] = s;
  }
}

ALTO_OPS_API double alto_op_sumsq(const float *x, int64_t N) {
  int64_t nc = (N + OPS_SUMSQ_CHUNK - 1) / OPS_SUMSQ_CHUNK;
  if (nc == 0)
    return 0.0;
  double *partial = alto_xmalloc((size_t)nc * sizeof *partial);
  ops_sumsq_ctx_ k = {x, N, partial};
  alto_parallel_for(nc, 1, ops_sumsq_chunks_, &k);
  double s = 0;
  for (int64_t c = 0; c < nc; c++)
    s += partial[c];
  free(partial);
  return s;
}

ALTO_OPS_API void alto_op_scale(float *x, int64_t N, float s) {
  for (int64_t i = 0; i < N; i++)
    x[i] *= s;
}

ALTO_OPS_API double alto_op_clip_factor(double norm, double max_norm) {
  double f = max_norm / (norm + 1e-6);
  return f < 1.0 ? f : 1.0;
}
