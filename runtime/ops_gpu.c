/* The training ops on a GPU backend (see ops_gpu.h): argument checks, descriptors, launches. */
#include "runtime/ops_gpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/jit.h"
#include "templates/common/alto_opargs.h"

static alto_status ops_gpu_dtype_(alto_elem dtype, bool *bf16) {
  if (dtype != ALTO_ELEM_BF16 && dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "GPU ops take bf16 or fp32 activations, not element type %d", (int)dtype);
  *bf16 = dtype == ALTO_ELEM_BF16;
  return ALTO_OK;
}

static alto_status ops_gpu_dims_(const char *op, int64_t a, int64_t b) {
  if (a < 0 || b < 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: negative dimension (%lld, %lld)", op, (long long)a,
                      (long long)b);
  return ALTO_OK;
}

static alto_status ops_gpu_gen_(const void *k, alto_gen_kernel *g) {
  return alto_gen_ops((const alto_opkern *)k, g);
}

/* Finds (or generates and JIT-compiles) and launches k over (rows, cols); an empty grid is a
 * no-op. */
static alto_status ops_gpu_launch_(alto_backend *b, const alto_opkern *k, alto_opargs *a,
                                   int64_t rows, int64_t cols) {
  unsigned grid[3];
  alto_opkern_grid(k, rows, cols, grid);
  if (grid[0] == 0 || grid[1] == 0)
    return ALTO_OK;
  char key[256];
  alto_opkern_key(k, key, sizeof key);
  alto_jit_fn fn;
  ALTO_TRY(alto_jit_get_keyed(b, key, ops_gpu_gen_, k, &fn));
  void *args[] = {a};
  return b->i->launch(b, fn.fn, grid, (unsigned)fn.threads, (unsigned)fn.smem_bytes, args);
}

/* The compute capability of a CUDA arch ("sm_90a" -> 90), 0 if it is not one. */
static int ops_gpu_sm_(const alto_backend *b) {
  int sm = 0;
  return sscanf(b->arch, "sm_%d", &sm) == 1 ? sm : 0;
}

static alto_opkern ops_gpu_kern_(alto_backend *b, alto_opkern_kind kind, bool bf16) {
  return alto_opkern_make(kind, bf16, 0, 0, 0, b->target, b->arch);
}

/* ---- embedding ---------------------------------------------------------------------------- */
alto_status alto_ops_gpu_embed(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr tokens,
                               alto_dptr table, int64_t M, int64_t C, int64_t V) {
  bool bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(dtype, &bf16));
  ALTO_TRY(ops_gpu_dims_("embedding", M, C));
  alto_opargs a = {.out = out, .in = table, .ids = tokens, .rows = M, .cols = C, .vocab = V};
  alto_opkern k = ops_gpu_kern_(b, ALTO_OPKERN_EMBED, bf16);
  return ops_gpu_launch_(b, &k, &a, M, C);
}

size_t alto_ops_gpu_embed_bwd_scratch_bytes(int64_t M, int64_t V) {
  return (size_t)((V + 1) + V + M + M + 1) * sizeof(int32_t);
}

alto_status alto_ops_gpu_embed_bwd(alto_backend *b, alto_elem dtype, alto_dptr dtable,
                                   alto_dptr tokens, alto_dptr dout, int64_t M, int64_t C,
                                   int64_t V, alto_dptr scratch) {
  bool bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(dtype, &bf16));
  ALTO_TRY(ops_gpu_dims_("embedding backward", M, C));
  if (V < 1 || V > INT32_MAX || M > INT32_MAX)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "embedding backward: vocab %lld and tokens %lld must fit int32 (vocab >= 1)",
                      (long long)V, (long long)M);
  if (M == 0 || C == 0)
    return ALTO_OK;
  ALTO_TRY(b->i->memset(b, scratch, 0, (size_t)(V + 1) * sizeof(int32_t)));
  alto_opargs a = {.out = dtable,
                   .in = dout,
                   .ids = tokens,
                   .iscratch = scratch,
                   .rows = M,
                   .cols = C,
                   .vocab = V};
  const alto_opkern_kind kinds[4] = {ALTO_OPKERN_EMBED_HIST, ALTO_OPKERN_EMBED_SCAN,
                                     ALTO_OPKERN_EMBED_RANK, ALTO_OPKERN_EMBED_ACCUM};
  for (int i = 0; i < 4; i++) {
    alto_opkern k = ops_gpu_kern_(b, kinds[i], bf16);
    ALTO_TRY(ops_gpu_launch_(b, &k, &a, M, C));
  }
  return ALTO_OK;
}

/* ---- RMSNorm ------------------------------------------------------------------------------ */
static alto_status ops_gpu_norm_check_(int64_t M, int64_t C) {
  ALTO_TRY(ops_gpu_dims_("RMSNorm", M, C));
  if (C < 1 || C > ALTO_OPS_NORM_MAX_COLS)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "RMSNorm on the GPU: the model dim %lld must be in 1..%d", (long long)C,
                      ALTO_OPS_NORM_MAX_COLS);
  return ALTO_OK;
}

alto_status alto_ops_gpu_rmsnorm(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr rstd,
                                 alto_dptr x, alto_dptr w, int64_t M, int64_t C, double eps) {
  bool bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(dtype, &bf16));
  ALTO_TRY(ops_gpu_norm_check_(M, C));
  alto_opargs a = {.out = out, .out2 = rstd, .in = x, .in2 = w, .rows = M, .cols = C};
  a.s[0] = eps;
  alto_opkern k = alto_opkern_make(ALTO_OPKERN_RMSNORM, bf16, (int)C, 0, 0, b->target, b->arch);
  return ops_gpu_launch_(b, &k, &a, M, C);
}

size_t alto_ops_gpu_rmsnorm_bwd_scratch_bytes(int64_t M, int64_t C) {
  int64_t parts = (M + ALTO_OPS_NORM_ROWS - 1) / ALTO_OPS_NORM_ROWS;
  return (size_t)((parts > 0 ? parts : 1) * C) * sizeof(float);
}

alto_status alto_ops_gpu_rmsnorm_bwd(alto_backend *b, alto_elem dtype, alto_dptr dx, alto_dptr dw,
                                     alto_dptr dy, alto_dptr x, alto_dptr w, alto_dptr rstd,
                                     int64_t M, int64_t C, bool accumulate, alto_dptr scratch) {
  bool bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(dtype, &bf16));
  ALTO_TRY(ops_gpu_norm_check_(M, C));
  if (M == 0) /* dw = an empty sum */
    return b->i->memset(b, dw, 0, (size_t)C * sizeof(float));
  alto_opargs a = {.out = dx,
                   .out2 = scratch,
                   .in = dy,
                   .in2 = x,
                   .in3 = w,
                   .in4 = rstd,
                   .rows = M,
                   .cols = C,
                   .flag = accumulate};
  alto_opkern k = alto_opkern_make(ALTO_OPKERN_RMSNORM_BWD, bf16, (int)C, 0, 0, b->target, b->arch);
  ALTO_TRY(ops_gpu_launch_(b, &k, &a, M, C));
  alto_opargs d = {.out = dw, .in = scratch, .rows = M, .cols = C};
  k = ops_gpu_kern_(b, ALTO_OPKERN_RMSNORM_DW, false);
  return ops_gpu_launch_(b, &k, &d, M, C);
}

/* ---- RoPE --------------------------------------------------------------------------------- */
alto_status alto_ops_gpu_rope_table(alto_backend *b, const alto_rope *rope, int64_t T, int64_t rot,
                                    alto_dptr cos_t, alto_dptr sin_t) {
  if (T < 0 || rot < 2 || rot % 2)
    return alto_error(ALTO_ERR_INVALID_ARG, "RoPE table: %lld positions, %lld rotated dims (even)",
                      (long long)T, (long long)rot);
  size_t n = (size_t)(T * (rot / 2));
  if (n == 0)
    return ALTO_OK;
  float *c = alto_xmalloc(n * sizeof *c), *s = alto_xmalloc(n * sizeof *s);
  alto_op_rope_table(c, s, rope, T, rot);
  alto_status st = b->i->h2d(b, cos_t, c, n * sizeof *c);
  if (st == ALTO_OK)
    st = b->i->h2d(b, sin_t, s, n * sizeof *s);
  free(c);
  free(s);
  return st;
}

static alto_status ops_gpu_rope_(alto_backend *b, alto_opkern_kind kind, alto_elem dtype,
                                 alto_dptr out, alto_dptr x, alto_dptr cos_t, alto_dptr sin_t,
                                 int64_t M, int64_t T, int64_t NH, int64_t D, int64_t rot) {
  bool bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(dtype, &bf16));
  ALTO_TRY(ops_gpu_dims_("RoPE", M, NH));
  if (D < 2 || D > 1024 || rot < 2 || rot > D || rot % 2 || T < 1)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "RoPE: head dim %lld (2..1024), rotated dims %lld (even, <= head dim), %lld "
                      "positions (>= 1)",
                      (long long)D, (long long)rot, (long long)T);
  alto_opargs a = {.out = out, .in = x, .in2 = cos_t, .in3 = sin_t, .rows = M, .T = T, .heads = NH};
  alto_opkern k = alto_opkern_make(kind, bf16, 0, (int)D, (int)rot, b->target, b->arch);
  return ops_gpu_launch_(b, &k, &a, M * NH, 0);
}

alto_status alto_ops_gpu_rope(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr x,
                              alto_dptr cos_t, alto_dptr sin_t, int64_t M, int64_t T, int64_t NH,
                              int64_t D, int64_t rot) {
  return ops_gpu_rope_(b, ALTO_OPKERN_ROPE, dtype, out, x, cos_t, sin_t, M, T, NH, D, rot);
}

alto_status alto_ops_gpu_rope_bwd(alto_backend *b, alto_elem dtype, alto_dptr dx, alto_dptr dy,
                                  alto_dptr cos_t, alto_dptr sin_t, int64_t M, int64_t T,
                                  int64_t NH, int64_t D, int64_t rot) {
  return ops_gpu_rope_(b, ALTO_OPKERN_ROPE_BWD, dtype, dx, dy, cos_t, sin_t, M, T, NH, D, rot);
}

/* ---- elementwise -------------------------------------------------------------------------- */
static alto_status ops_gpu_ew_(alto_backend *b, alto_opkern_kind kind, alto_elem dtype,
                               alto_opargs *a, int64_t N) {
  bool bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(dtype, &bf16));
  ALTO_TRY(ops_gpu_dims_(alto_opkern_name(kind), N, 0));
  a->rows = N;
  alto_opkern k = ops_gpu_kern_(b, kind, bf16);
  return ops_gpu_launch_(b, &k, a, N, 0);
}

alto_status alto_ops_gpu_swiglu(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr gate,
                                alto_dptr up, int64_t N) {
  alto_opargs a = {.out = out, .in = gate, .in2 = up};
  return ops_gpu_ew_(b, ALTO_OPKERN_SWIGLU, dtype, &a, N);
}

alto_status alto_ops_gpu_swiglu_bwd(alto_backend *b, alto_elem dtype, alto_dptr dgate,
                                    alto_dptr dup, alto_dptr dy, alto_dptr gate, alto_dptr up,
                                    int64_t N) {
  alto_opargs a = {.out = dgate, .out2 = dup, .in = dy, .in2 = gate, .in3 = up};
  return ops_gpu_ew_(b, ALTO_OPKERN_SWIGLU_BWD, dtype, &a, N);
}

alto_status alto_ops_gpu_add(alto_backend *b, alto_elem dtype, alto_dptr out, alto_dptr x,
                             alto_dptr y, int64_t N) {
  alto_opargs a = {.out = out, .in = x, .in2 = y};
  return ops_gpu_ew_(b, ALTO_OPKERN_ADD, dtype, &a, N);
}

/* ---- loss --------------------------------------------------------------------------------- */
alto_status alto_ops_gpu_cross_entropy(alto_backend *b, alto_elem dtype, alto_dptr dlogits,
                                       alto_dptr loss, alto_dptr row_loss, alto_dptr logits,
                                       alto_dptr targets, int64_t M, int64_t V) {
  bool bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(dtype, &bf16));
  ALTO_TRY(ops_gpu_dims_("cross-entropy", M, V));
  if (V < 1 || V > INT32_MAX)
    return alto_error(ALTO_ERR_INVALID_ARG, "cross-entropy: vocab %lld must be in 1..2^31-1",
                      (long long)V);
  alto_opargs a = {.out = dlogits,
                   .out2 = row_loss,
                   .out3 = loss,
                   .in = logits,
                   .ids = targets,
                   .rows = M,
                   .cols = V};
  alto_opkern count = ops_gpu_kern_(b, ALTO_OPKERN_CE_COUNT, false);
  ALTO_TRY(ops_gpu_launch_(b, &count, &a, M, V));
  /* bf16 on sm_90+: the one-pass cluster kernel (16-byte aligned rows' buffers, a vocab it
   * holds); else one CTA per row, three reads */
  int per_thread = 0, cluster = 0;
  alto_opkern rows = ops_gpu_kern_(b, ALTO_OPKERN_CE_ROWS, bf16);
  if (bf16 && b->target == ALTO_TARGET_CUDA && ops_gpu_sm_(b) >= 90 &&
      ((logits | dlogits) & 15) == 0 && alto_opkern_ce_cl_shape(V, &per_thread, &cluster))
    rows = alto_opkern_make_ce_cl(per_thread, cluster, b->target, b->arch);
  ALTO_TRY(ops_gpu_launch_(b, &rows, &a, M, V));
  alto_opkern mean = ops_gpu_kern_(b, ALTO_OPKERN_CE_MEAN, false);
  return ops_gpu_launch_(b, &mean, &a, M, V);
}

/* ---- optimizer ---------------------------------------------------------------------------- */
alto_adamw_k alto_ops_gpu_adamw_scalars(const alto_adamw_hparams *h, int64_t step,
                                        float grad_scale) {
  /* the CPU's scalars, computed the CPU's way (runtime/cpu/ops.c) */
  double bc1 = 1.0 - pow(h->beta1, (double)step), bc2 = 1.0 - pow(h->beta2, (double)step);
  alto_adamw_k k = {{(float)h->beta1, (float)h->beta2, (float)(1.0 - h->lr * h->weight_decay),
                     (float)(h->lr / bc1), (float)sqrt(bc2), (float)h->eps, grad_scale, 0.0f}};
  return k;
}

alto_status alto_ops_gpu_adamw(alto_backend *b, alto_dptr param, alto_dptr grad, alto_dptr m,
                               alto_dptr v, int64_t N, const alto_adamw_hparams *h, int64_t step,
                               float grad_scale, alto_dptr copy_bf16) {
  ALTO_TRY(ops_gpu_dims_("AdamW", N, 0));
  if (step < 1)
    return alto_error(ALTO_ERR_INVALID_ARG, "AdamW: step %lld (counted from 1)", (long long)step);
  alto_opargs a = {.out = param, .out2 = m, .out3 = v, .out4 = copy_bf16, .in = grad, .rows = N};
  alto_adamw_k sc = alto_ops_gpu_adamw_scalars(h, step, grad_scale);
  for (int i = 0; i < 7; i++)
    a.s[i] = sc.k[i];
  alto_opkern k = ops_gpu_kern_(b, ALTO_OPKERN_ADAMW, false);
  k.copy_bf16 = copy_bf16 != 0;
  return ops_gpu_launch_(b, &k, &a, N, 0);
}

size_t alto_ops_gpu_sumsq_scratch_bytes(void) {
  return ALTO_OPS_SUMSQ_MAX_PARTS * sizeof(double);
}

alto_status alto_ops_gpu_sumsq(alto_backend *b, alto_dptr out, alto_dptr x, int64_t N,
                               bool accumulate, alto_dptr scratch) {
  ALTO_TRY(ops_gpu_dims_("sumsq", N, 0));
  alto_opkern part = ops_gpu_kern_(b, ALTO_OPKERN_SUMSQ_PART, false);
  unsigned grid[3];
  alto_opkern_grid(&part, N, 0, grid);
  alto_opargs a = {
      .out = out, .out2 = scratch, .in = x, .rows = N, .cols = grid[0], .flag = accumulate};
  ALTO_TRY(ops_gpu_launch_(b, &part, &a, N, 0));
  alto_opkern fin = ops_gpu_kern_(b, ALTO_OPKERN_SUMSQ_FINAL, false);
  return ops_gpu_launch_(b, &fin, &a, 1, 0);
}

alto_status alto_ops_gpu_scale(alto_backend *b, alto_dptr x, int64_t N, float s) {
  ALTO_TRY(ops_gpu_dims_("scale", N, 0));
  alto_opargs a = {.out = x, .rows = N};
  a.s[0] = s;
  alto_opkern k = ops_gpu_kern_(b, ALTO_OPKERN_SCALE, false);
  return ops_gpu_launch_(b, &k, &a, N, 0);
}

alto_status alto_ops_gpu_scale_by(alto_backend *b, alto_dptr x, int64_t N, alto_dptr factor) {
  ALTO_TRY(ops_gpu_dims_("scale_by", N, 0));
  if (!factor)
    return alto_error(ALTO_ERR_INVALID_ARG, "scale_by: needs the device factor");
  alto_opargs a = {.out = x, .in2 = factor, .rows = N};
  alto_opkern k = ops_gpu_kern_(b, ALTO_OPKERN_SCALE, false);
  return ops_gpu_launch_(b, &k, &a, N, 0);
}

alto_status alto_ops_gpu_clip(alto_backend *b, alto_dptr x, int64_t N, alto_dptr sumsq,
                              double max_norm) {
  ALTO_TRY(ops_gpu_dims_("clip", N, 0));
  if (!sumsq || !(max_norm > 0))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "clip: needs the device sum of squares and max_norm > 0");
  alto_opargs a = {.out = x, .in = sumsq, .rows = N};
  a.s[0] = 1.0;
  a.s[1] = max_norm;
  alto_opkern k = ops_gpu_kern_(b, ALTO_OPKERN_SCALE, false);
  return ops_gpu_launch_(b, &k, &a, N, 0);
}

/* ---- conversions, layout, DGE ------------------------------------------------------------- */
alto_status alto_ops_gpu_cast(alto_backend *b, alto_dptr out, alto_elem out_dtype, alto_dptr x,
                              alto_elem in_dtype, int64_t N) {
  bool out_bf16 = false, in_bf16 = false;
  ALTO_TRY(ops_gpu_dtype_(out_dtype, &out_bf16));
  ALTO_TRY(ops_gpu_dtype_(in_dtype, &in_bf16));
  ALTO_TRY(ops_gpu_dims_("cast", N, 0));
  if (N > 0 && out == x && out_bf16 != in_bf16)
    return alto_error(ALTO_ERR_INVALID_ARG, "cast: in place only between equal dtypes");
  alto_opargs a = {.out = out, .in = x, .rows = N};
  alto_opkern k = alto_opkern_make_cast(in_bf16, out_bf16, b->target, b->arch);
  return ops_gpu_launch_(b, &k, &a, N, 0);
}

alto_status alto_ops_gpu_transpose(alto_backend *b, alto_dptr out, alto_dptr x, int64_t rows,
                                   int64_t cols, int elem_bytes) {
  ALTO_TRY(ops_gpu_dims_("transpose", rows, cols));
  if (elem_bytes != 1 && elem_bytes != 2 && elem_bytes != 4)
    return alto_error(ALTO_ERR_INVALID_ARG, "transpose: %d-byte elements (valid: 1, 2, 4)",
                      elem_bytes);
  if (out == x && rows > 1 && cols > 1)
    return alto_error(ALTO_ERR_INVALID_ARG, "transpose: out must not be x (not in place)");
  alto_opargs a = {.out = out, .in = x, .rows = rows, .cols = cols};
  alto_opkern k = alto_opkern_make_transpose(elem_bytes, b->target, b->arch);
  return ops_gpu_launch_(b, &k, &a, rows, cols);
}

alto_status alto_ops_gpu_dge(alto_backend *b, alto_dptr dw, alto_dptr w, alto_dptr scales,
                             const alto_quant_layout *layout, int64_t R, int64_t C) {
  ALTO_TRY(ops_gpu_dims_("DGE", R, C));
  if (!layout)
    return alto_error(ALTO_ERR_INVALID_ARG, "DGE: NULL layout");
  const alto_quant_layout *l = layout;
  /* the scales of a 2-D (R, C) weight, or of a 3-D (E, R / E, C) one (its blocks never straddle
   * two experts: block_r divides R / E), E8M0 bytes */
  if (l->scale_bytes != 1 || l->block_r < 1 || l->block_c < 1 ||
      l->scale_dims[0] * l->scale_dims[1] * l->block_r != R || l->scale_dims[2] * l->block_c != C)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "DGE: the layout (scales [%lld, %lld, %lld] of %d bytes, %dx%d blocks) is "
                      "not an MXFP4 layout of a (%lld, %lld) weight",
                      (long long)l->scale_dims[0], (long long)l->scale_dims[1],
                      (long long)l->scale_dims[2], l->scale_bytes, l->block_r, l->block_c,
                      (long long)R, (long long)C);
  alto_opargs a = {.out = dw,
                   .in = w,
                   .in2 = scales,
                   .rows = R,
                   .cols = C,
                   .block_r = l->block_r,
                   .block_c = l->block_c};
  alto_opkern k = ops_gpu_kern_(b, ALTO_OPKERN_DGE, false);
  return ops_gpu_launch_(b, &k, &a, R * C, 0);
}

/* ---- the variant matrix ------------------------------------------------------------------- */
int alto_ops_gpu_matrix(alto_target target, const char *arch, alto_opkern *out, int max) {
  /* llama3 model dims (debug .. 405B) and head dims (debug 16, 1B 64, the rest 128), plus a
   * partial rotation */
  static const int norm_cols[] = {256, 2048, 3072, 4096, 8192, 16384};
  static const int rope_dims[][2] = {{16, 16}, {64, 64}, {128, 128}, {128, 64}};
  int n = 0;
  for (int kind = 0; kind < ALTO_OPKERN_COUNT; kind++)
    for (int bf = 0; bf < (alto_opkern_has_dtype((alto_opkern_kind)kind) ? 2 : 1); bf++) {
      if (kind == ALTO_OPKERN_CAST) { /* bf: the output's dtype; both inputs */
        for (int in_bf = 0; in_bf < 2 && n < max; in_bf++)
          out[n++] = alto_opkern_make_cast(in_bf, bf, target, arch);
      } else if (kind == ALTO_OPKERN_TRANSPOSE) {
        for (int e = 1; e <= 4 && n < max; e *= 2)
          out[n++] = alto_opkern_make_transpose(e, target, arch);
      } else if (kind == ALTO_OPKERN_ADAMW) { /* with and without the bf16 copy */
        for (int c = 0; c < 2 && n < max; c++) {
          out[n] = alto_opkern_make(kind, false, 0, 0, 0, target, arch);
          out[n++].copy_bf16 = c;
        }
      } else if (kind == ALTO_OPKERN_RMSNORM || kind == ALTO_OPKERN_RMSNORM_BWD) {
        for (size_t i = 0; i < sizeof norm_cols / sizeof norm_cols[0] && n < max; i++)
          out[n++] = alto_opkern_make(kind, bf, norm_cols[i], 0, 0, target, arch);
      } else if (kind == ALTO_OPKERN_CE_ROWS_CL) { /* bf16 on CUDA: each row shape */
        if (target != ALTO_TARGET_CUDA || !bf)
          continue;
        static const int ce[][2] = {{8, 1}, {16, 1}, {32, 1}, {32, 2}, {32, 4}, {32, 8}};
        for (size_t i = 0; i < sizeof ce / sizeof ce[0] && n < max; i++)
          out[n++] = alto_opkern_make_ce_cl(ce[i][0], ce[i][1], target, arch);
      } else if (kind == ALTO_OPKERN_ROPE || kind == ALTO_OPKERN_ROPE_BWD) {
        for (size_t i = 0; i < sizeof rope_dims / sizeof rope_dims[0] && n < max; i++)
          out[n++] = alto_opkern_make(kind, bf, 0, rope_dims[i][0], rope_dims[i][1], target, arch);
      } else if (n < max) {
        out[n++] = alto_opkern_make(kind, bf, 0, 0, 0, target, arch);
      }
    }
  return n;
}
