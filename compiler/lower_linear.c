/* The Linear expansion: bf16 GEMMs, or the quantized data flow of NUMERICS.md section 7:
 *   fprop  Y  = X W^T   X 1xb along K (bxb if use_2dblock_x), W bxb (use_2dblock_w) or 1xb
 *   dgrad  dX = dY W    dY 1xb along N (SR if use_sr_grad), W: 2-D reused, else bx1 along N
 *   wgrad  dW = dY^T X  R dY bx1 along M (SR), R X bx1 along M quantized in forward and saved
 *                       (R = RHT when use_hadamard && !use_2dblock_x; with use_2dblock_x both
 *                       reuse their 2-D copies); DGE_SCALE after, when use_dge
 * fp8_block: X 1x128, W 128x128; wgrad X re-quantized 128x1 from its dequantized forward value,
 * dY 128x1. fp8_rowwise / fp8_tensorwise as torchao's float8 training. The same rules apply per
 * expert to grouped GEMMs (rows expert-major, padded to 128). */
#include <string.h>

#include "compiler/lower_impl.h"

typedef struct {
  int blk;             /* block along the axis (0: whole row / tensor) */
  alto_elem fwd, grad; /* element formats of X/W and of dY */
  alto_dtype sdt;      /* scale dtype */
} fmt_;

static alto_status fmt_of_(const lower_linear_ *l, fmt_ *f) {
  const alto_lpt_modifier *lp = l->lpt;
  alto_scheme s = lp->scheme;
  f->blk = alto_scheme_block(s);
  f->fwd = f->grad = alto_scheme_elem(s);
  bool fp8_grad = lp->grad_dtype == ALTO_ELEM_E4M3 || lp->grad_dtype == ALTO_ELEM_E5M2;
  switch (s) {
  case ALTO_SCHEME_MXFP4:
  case ALTO_SCHEME_MXFP8_E4M3:
  case ALTO_SCHEME_MXFP8_E5M2:
    f->sdt = ALTO_DT_E8M0;
    return ALTO_OK;
  case ALTO_SCHEME_NVFP4:
    f->sdt = ALTO_DT_FP8_E4M3;
    return ALTO_OK;
  case ALTO_SCHEME_FP8_BLOCK:
    f->sdt = ALTO_DT_F32;
    f->grad = lp->grad_dtype == ALTO_ELEM_E5M2 ? ALTO_ELEM_E5M2 : ALTO_ELEM_E4M3;
    return ALTO_OK;
  case ALTO_SCHEME_FP8_ROWWISE:
  case ALTO_SCHEME_FP8_TENSORWISE: /* torchao: E5M2 gradients unless the recipe says */
    f->sdt = ALTO_DT_F32;
    f->grad = fp8_grad ? lp->grad_dtype : ALTO_ELEM_E5M2;
    return ALTO_OK;
  default:
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "%s: scheme '%s' cannot be trained with LowPrecisionTrainingModifier "
                      "(mx9/mx6 are post-training formats: use QuantizationModifier)",
                      l->name, alto_scheme_name(s));
  }
}

static alto_qdesc qd_(const lower_linear_ *l, const fmt_ *f, alto_elem e, int br, int bc, int axis,
                      bool sr) {
  alto_qdesc q;
  memset(&q, 0, sizeof q);
  q.scheme = l->lpt->scheme;
  q.elem = e;
  q.block_rows = br;
  q.block_cols = bc;
  q.axis = axis;
  q.rounding = sr ? ALTO_ROUND_SR : ALTO_ROUND_RNE;
  q.scale_rule = l->lpt->scale_rule;
  q.two_d = br > 1 && bc > 1;
  q.two_level =
      l->lpt->scheme == ALTO_SCHEME_NVFP4 && l->lpt->two_level_scaling == ALTO_TWO_LEVEL_TENSORWISE;
  q.scale_dtype = f->sdt;
  return q;
}

static bool qd_eq_(const alto_qdesc *a, const alto_qdesc *b) {
  return a->scheme == b->scheme && a->elem == b->elem && a->block_rows == b->block_rows &&
         a->block_cols == b->block_cols && a->axis == b->axis && a->rounding == b->rounding &&
         a->rht == b->rht && a->scale_rule == b->scale_rule && a->two_d == b->two_d &&
         a->two_level == b->two_level;
}

/* True when a node after `since` writes `buf` (in-place updates such as the residual
 * gradient make an earlier quantization stale). */
static bool written_since_(const lower_ctx_ *c, int buf, int since) {
  for (int i = since + 1; i < c->p->n_nodes; i++)
    for (int j = 0; j < c->p->nodes[i].n_out; j++)
      if (c->p->nodes[i].out[j] == buf)
        return true;
  return false;
}

/* QUANTIZE src (rows, cols) (or (E, rows, cols)) -> codes, scales. RNE quantizations of the same
 * buffer in the same format are computed once (they are a pure function of the input). */
static alto_status quant_(lower_ctx_ *c, const lower_linear_ *l, const char *role, int src,
                          int64_t e, int64_t rows, int64_t cols, alto_qdesc q, int *codes,
                          int *scales) {
  bool cacheable = q.rounding == ALTO_ROUND_RNE && !q.rht;
  if (cacheable)
    for (int i = 0; i < c->n_qcache; i++)
      if (c->qcache[i].src == src && qd_eq_(&c->qcache[i].q, &q) &&
          !written_since_(c, src, c->qcache[i].node)) {
        *codes = c->qcache[i].codes;
        *scales = c->qcache[i].scales;
        return ALTO_OK;
      }
  int br = q.block_rows ? q.block_rows : (int)rows, bc = q.block_cols ? q.block_cols : (int)cols;
  if (rows % br != 0 || cols % bc != 0)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "%s: %s is (%lld, %lld), not a multiple of the %s block %dx%d (pad the "
                      "batch*seq or choose another scheme for this module)",
                      l->name, role, (long long)rows, (long long)cols, alto_scheme_name(q.scheme),
                      br, bc);
  const alto_buffer *sb = &c->p->bufs[src];
  char name[112];
  snprintf(name, sizeof name, "%s.%s", l->name, role);
  alto_node *n = lower_node_(c, ALTO_OP_QUANTIZE, name);
  n->q = q;
  n->in_dtype = sb->dtype;
  n->out_dtype = alto_ir_elem_dtype(q.elem);
  n->rank = e ? 3 : 2;
  int64_t dims[3] = {e, rows, cols};
  memcpy(n->shape, e ? dims : dims + 1, (size_t)n->rank * sizeof(int64_t));
  lower_in_(n, src);
  char bn[112];
  snprintf(bn, sizeof bn, "%s.%sq", l->name, role);
  /* (E?, rows, cols) codes, packed along the axis */
  *codes = e ? lower_buf_(c, bn, n->out_dtype, 3, e, rows, cols)
             : lower_buf_(c, bn, n->out_dtype, 2, rows, cols, 0);
  snprintf(bn, sizeof bn, "%s.%ss", l->name, role);
  /* (E?, rows/br, cols/bc) scales */
  *scales = e ? lower_buf_(c, bn, q.scale_dtype, 3, e, rows / br, cols / bc)
              : lower_buf_(c, bn, q.scale_dtype, 2, rows / br, cols / bc, 0);
  lower_out_(n, *codes);
  lower_out_(n, *scales);
  if (q.two_level) { /* (1) fp32: the tensor's NVFP4 outer scale, E included (alto_ir_outer) */
    snprintf(bn, sizeof bn, "%s.%so", l->name, role);
    lower_out_(n, lower_buf_(c, bn, ALTO_DT_F32, 1, 1, 0, 0));
  }
  if (cacheable) {
    if (c->n_qcache == c->cap_qcache) {
      c->cap_qcache = c->cap_qcache ? 2 * c->cap_qcache : 64;
      c->qcache = alto_xrealloc(c->qcache, (size_t)c->cap_qcache * sizeof *c->qcache);
    }
    c->qcache[c->n_qcache++] = (lower_qcache_){src, q, *codes, *scales, c->p->n_nodes - 1};
  }
  return ALTO_OK;
}

/* The outer scale that goes with a quantized tensor's scales buffer (the QUANTIZE that wrote
 * them), or -1. */
static int outer_of_(const lower_ctx_ *c, int scales) {
  for (int i = c->p->n_nodes - 1; i >= 0; i--) {
    const alto_node *n = &c->p->nodes[i];
    if (n->op == ALTO_OP_QUANTIZE && n->n_out > 1 && n->out[1] == scales)
      return alto_ir_outer(n, 0);
  }
  return -1;
}

/* Appends the two-level NVFP4 operands' outer scales to a GEMM (its last inputs, A's first:
 * alto_ir_outer), once every other input is in. */
static void gemm_outers_(const lower_ctx_ *c, alto_node *g) {
  int oa = g->q.two_level ? outer_of_(c, g->in[1]) : -1;
  int ob = g->q_b.two_level ? outer_of_(c, g->in[3]) : -1;
  ALTO_ASSERT((oa >= 0) == g->q.two_level && (ob >= 0) == g->q_b.two_level);
  if (oa >= 0)
    lower_in_(g, oa);
  if (ob >= 0)
    lower_in_(g, ob);
}

/* RHT along M of x (rows, cols) -> a new bf16 buffer. The same R (per module, per step) is
 * used for X in forward and dY in backward. */
static int rht_(lower_ctx_ *c, const lower_linear_ *l, const char *role, int x, int64_t rows,
                int64_t cols) {
  char name[112];
  snprintf(name, sizeof name, "%s.%s", l->name, role);
  int y = lower_buf_(c, name, ALTO_DT_BF16, 2, rows, cols, 0); /* (M, K) */
  alto_node *n = lower_node_(c, ALTO_OP_RHT, name);
  n->rank = 2;
  n->shape[0] = rows;
  n->shape[1] = cols;
  n->q.rht = true;
  n->q.rht_size = l->lpt->hadamard_size ? l->lpt->hadamard_size : 32;
  n->in_dtype = n->out_dtype = ALTO_DT_BF16;
  lower_in_(n, x);
  lower_out_(n, y);
  return y;
}

/* GEMM C (m, n) = op(A) op(B)^T over k; ins: A [, A scales], B [, B scales]. */
static alto_node *gemm_(lower_ctx_ *c, const lower_linear_ *l, const char *role, int64_t m,
                        int64_t n, int64_t k) {
  char name[112];
  snprintf(name, sizeof name, "%s.%s", l->name, role);
  alto_node *g = lower_node_(c, l->E ? ALTO_OP_GROUPED_GEMM : ALTO_OP_GEMM, name);
  if (l->E) {
    g->rank = 4;
    g->shape[0] = l->E;
    g->shape[1] = m;
    g->shape[2] = n;
    g->shape[3] = k;
  } else {
    g->rank = 3;
    g->shape[0] = m;
    g->shape[1] = n;
    g->shape[2] = k;
  }
  g->in_dtype = ALTO_DT_BF16;
  g->out_dtype = ALTO_DT_BF16;
  return g;
}

alto_status lower_linear_init_(lower_ctx_ *c, lower_linear_ *l, const char *name,
                               const alto_lpt_modifier *lpt, int64_t e, int64_t n, int64_t k,
                               int64_t m, bool bias, const lower_param_ *shared_w) {
  memset(l, 0, sizeof *l);
  snprintf(l->name, sizeof l->name, "%s", name);
  l->lpt = lpt && lpt->scheme != ALTO_SCHEME_BF16 ? lpt : NULL;
  l->E = e;
  l->N = n;
  l->K = k;
  l->M = m;
  l->counts = -1;
  l->xq = l->xs = l->wq = l->ws = l->xtq = l->xts = l->wb = -1;
  char pn[112];
  snprintf(pn, sizeof pn, "%s.weight", name);
  int64_t ws[3] = {e, n, k};
  if (shared_w) /* tied embeddings: output uses tok_embeddings.weight */
    l->w = *shared_w;
  else
    l->w = lower_param_new_(c, pn, e ? 3 : 2, e ? ws : ws + 1); /* (E?, N, K) */
  l->b.w = l->b.dw = -1;
  if (bias) {
    snprintf(pn, sizeof pn, "%s.bias", name);
    int64_t bs[2] = {e, n};
    l->b = lower_param_new_(c, pn, e ? 2 : 1, e ? bs : bs + 1); /* (E?, N) */
  }
  return ALTO_OK;
}

static void bias_in_(const lower_linear_ *l, alto_node *g) {
  if (l->b.w >= 0)
    lower_in_(g, l->b.w);
  if (l->E)
    lower_in_(g, l->counts);
}

/* The fp32 master weight cast to a bf16 copy for a high-precision GEMM: (E?, N, K). The forward
 * casts it once and the backward's dgrad reads the same copy (kept alive across the step, as
 * PyTorch's autocast weight cache does: one cast per step instead of two). */
static int lower_weight_bf16_(lower_ctx_ *c, const lower_linear_ *l, const char *suffix) {
  int64_t N = l->N, K = l->K, E = l->E;
  char name[112];
  snprintf(name, sizeof name, "%s.%s", l->name, suffix);
  int wb = E ? lower_buf_(c, name, ALTO_DT_BF16, 3, E, N, K)
             : lower_buf_(c, name, ALTO_DT_BF16, 2, N, K, 0);
  alto_node *cv = lower_node_(c, ALTO_OP_CAST, name);
  cv->rank = 2;
  cv->shape[0] = (E ? E : 1) * N;
  cv->shape[1] = K;
  cv->in_dtype = ALTO_DT_F32;
  cv->out_dtype = ALTO_DT_BF16;
  lower_in_(cv, l->w.w);
  lower_out_(cv, wb);
  return wb;
}

alto_status lower_linear_fwd_(lower_ctx_ *c, lower_linear_ *l, int x, int *y) {
  int64_t M = l->M, N = l->N, K = l->K, E = l->E;
  l->x = x;
  char name[112];
  snprintf(name, sizeof name, "%s.out", l->name);
  int out = lower_buf_(c, name, ALTO_DT_BF16, 2, M, N, 0); /* (M, N) */
  if (!l->lpt) {
    int wb = l->wb = lower_weight_bf16_(c, l, "weight.bf16");
    alto_node *g = gemm_(c, l, "fprop", M, N, K);
    lower_in_(g, x);
    lower_in_(g, wb);
    bias_in_(l, g);
    lower_out_(g, out);
    *y = out;
    return ALTO_OK;
  }
  fmt_ f;
  ALTO_TRY(fmt_of_(l, &f));
  const alto_lpt_modifier *lp = l->lpt;
  alto_scheme s = lp->scheme;
  int b = f.blk;
  bool tensorwise = s == ALTO_SCHEME_FP8_TENSORWISE, rowwise = s == ALTO_SCHEME_FP8_ROWWISE;
  if (tensorwise) {
    l->qx = qd_(l, &f, f.fwd, 0, 0, -1, false);
    l->qw = l->qx;
  } else if (rowwise) {
    l->qx = qd_(l, &f, f.fwd, 1, 0, -1, false);
    l->qw = l->qx;
  } else if (s == ALTO_SCHEME_FP8_BLOCK) {
    l->qx = qd_(l, &f, f.fwd, 1, b, -1, false);
    l->qw = qd_(l, &f, f.fwd, b, b, -1, false);
  } else {
    l->qx =
        lp->use_2dblock_x ? qd_(l, &f, f.fwd, b, b, -1, false) : qd_(l, &f, f.fwd, 1, b, -1, false);
    l->qw =
        lp->use_2dblock_w ? qd_(l, &f, f.fwd, b, b, -1, false) : qd_(l, &f, f.fwd, 1, b, -1, false);
  }
  ALTO_TRY(quant_(c, l, "fprop.X", x, 0, M, K, l->qx, &l->xq, &l->xs));
  ALTO_TRY(quant_(c, l, "fprop.W", l->w.w, E, N, K, l->qw, &l->wq, &l->ws));
  alto_node *g = gemm_(c, l, "fprop", M, N, K);
  g->q = l->qx;
  g->q_b = l->qw;
  g->in_dtype = alto_ir_elem_dtype(f.fwd);
  lower_in_(g, l->xq);
  lower_in_(g, l->xs);
  lower_in_(g, l->wq);
  lower_in_(g, l->ws);
  bias_in_(l, g);
  gemm_outers_(c, g);
  lower_out_(g, out);
  /* The wgrad X operand of the MX family is quantized now and saved for backward. */
  bool mx = !tensorwise && !rowwise && s != ALTO_SCHEME_FP8_BLOCK;
  if (mx && !lp->use_2dblock_x) {
    bool rht = lp->use_hadamard;
    int xr = rht ? rht_(c, l, "wgrad.RX", x, M, K) : x;
    alto_qdesc q = qd_(l, &f, f.fwd, b, 1, -2, false);
    q.rht = rht;
    q.rht_size = rht ? (lp->hadamard_size ? lp->hadamard_size : 32) : 0;
    ALTO_TRY(quant_(c, l, "wgrad.X", xr, 0, M, K, q, &l->xtq, &l->xts));
  }
  *y = out;
  return ALTO_OK;
}

/* Accumulates into an existing gradient or creates it. */
static int dx_buf_(lower_ctx_ *c, const lower_linear_ *l, int *dx, bool *acc) {
  *acc = *dx >= 0;
  if (*dx < 0) {
    char name[112];
    snprintf(name, sizeof name, "%s.dX", l->name);
    *dx = lower_buf_(c, name, ALTO_DT_BF16, 2, l->M, l->K, 0); /* (M, K) */
  }
  return *dx;
}

static void wgrad_out_(const lower_linear_ *l, alto_node *g) {
  g->out_dtype = ALTO_DT_F32;
  lower_out_(g, l->w.dw);
  if (l->b.dw >= 0)
    lower_out_(g, l->b.dw); /* the bias gradient (column sums of dY) in the epilogue */
  if (l->E)
    lower_in_(g, l->counts);
}

alto_status lower_linear_bwd_(lower_ctx_ *c, lower_linear_ *l, int dy, int *dx) {
  int64_t M = l->M, N = l->N, K = l->K, E = l->E;
  bool acc;
  if (!l->lpt) {
    int wb = l->wb >= 0 ? l->wb : lower_weight_bf16_(c, l, "weight.bf16.bwd");
    int d = dx_buf_(c, l, dx, &acc);
    alto_node *g = gemm_(c, l, "dgrad", M, K, N);
    g->trans_b = true;
    g->accumulate = acc;
    lower_in_(g, dy);
    lower_in_(g, wb);
    if (E)
      lower_in_(g, l->counts);
    lower_out_(g, d);
    g = gemm_(c, l, "wgrad", N, K, M);
    g->trans_a = g->trans_b = true;
    lower_in_(g, dy);
    lower_in_(g, l->x);
    wgrad_out_(l, g);
    return ALTO_OK;
  }
  fmt_ f;
  ALTO_TRY(fmt_of_(l, &f));
  const alto_lpt_modifier *lp = l->lpt;
  alto_scheme s = lp->scheme;
  int b = f.blk;
  bool sr = lp->use_sr_grad;
  bool mx =
      s != ALTO_SCHEME_FP8_TENSORWISE && s != ALTO_SCHEME_FP8_ROWWISE && s != ALTO_SCHEME_FP8_BLOCK;
  /* ---- dgrad: dX (M, K) = dY (M, N) W (N, K) */
  alto_qdesc qdy, qwd;
  int dyq, dys, wq, ws;
  if (s == ALTO_SCHEME_FP8_TENSORWISE)
    qdy = qd_(l, &f, f.grad, 0, 0, -1, sr);
  else if (s == ALTO_SCHEME_FP8_ROWWISE)
    qdy = qd_(l, &f, f.grad, 1, 0, -1, sr);
  else if (mx && lp->use_2dblock_x)
    qdy = qd_(l, &f, f.grad, b, b, -1, sr);
  else
    qdy = qd_(l, &f, f.grad, 1, b, -1, sr);
  ALTO_TRY(quant_(c, l, "dgrad.dY", dy, 0, M, N, qdy, &dyq, &dys));
  /* fp8_block's wgrad dY (128x1 along M) right after: the GPU reads dY once for both (the dual
   * kernel, runtime/exec_gpu.c) */
  alto_qdesc qdt, qxt;
  int dtq = -1, dts = -1, xtq, xts;
  if (s == ALTO_SCHEME_FP8_BLOCK) {
    qdt = qd_(l, &f, f.grad, b, 1, -2, sr);
    ALTO_TRY(quant_(c, l, "wgrad.dY", dy, 0, M, N, qdt, &dtq, &dts));
  }
  bool w_reused =
      s == ALTO_SCHEME_FP8_TENSORWISE || s == ALTO_SCHEME_FP8_BLOCK || (mx && lp->use_2dblock_w);
  if (w_reused) {
    qwd = l->qw;
    wq = l->wq;
    ws = l->ws;
  } else { /* re-quantized along N (axis -2 of W (N, K)) */
    qwd = s == ALTO_SCHEME_FP8_ROWWISE ? qd_(l, &f, f.fwd, 0, 1, -2, false)
                                       : qd_(l, &f, f.fwd, b, 1, -2, false);
    ALTO_TRY(quant_(c, l, "dgrad.W", l->w.w, E, N, K, qwd, &wq, &ws));
  }
  int d = dx_buf_(c, l, dx, &acc);
  alto_node *g = gemm_(c, l, "dgrad", M, K, N);
  g->trans_b = true;
  g->accumulate = acc;
  g->q = qdy;
  g->q_b = qwd;
  g->in_dtype = alto_ir_elem_dtype(f.grad);
  lower_in_(g, dyq);
  lower_in_(g, dys);
  lower_in_(g, wq);
  lower_in_(g, ws);
  if (E)
    lower_in_(g, l->counts);
  gemm_outers_(c, g);
  lower_out_(g, d);
  /* ---- wgrad: dW (N, K) = dY^T (N, M) X (M, K) */
  if (s == ALTO_SCHEME_FP8_TENSORWISE) { /* one scale per tensor: transposes freely */
    qdt = qdy, dtq = dyq, dts = dys;
    qxt = l->qx, xtq = l->xq, xts = l->xs;
  } else if (s == ALTO_SCHEME_FP8_ROWWISE) { /* along M, from the saved bf16 X */
    qdt = qd_(l, &f, f.grad, 0, 1, -2, sr);
    ALTO_TRY(quant_(c, l, "wgrad.dY", dy, 0, M, N, qdt, &dtq, &dts));
    qxt = qd_(l, &f, f.fwd, 0, 1, -2, false);
    ALTO_TRY(quant_(c, l, "wgrad.X", l->x, 0, M, K, qxt, &xtq, &xts));
  } else if (s == ALTO_SCHEME_FP8_BLOCK) { /* X re-quantized from its dequantized value */
    /* (dY was quantized 128x1 above.) Linears that read one X (q, k, v; w1, w3) share its
     * forward codes, so one dequantized X serves them all, and quant_ then finds its
     * re-quantization too */
    int xd = -1;
    for (int i = 0; i < c->p->n_nodes && xd < 0; i++) {
      const alto_node *o = &c->p->nodes[i];
      if (o->op == ALTO_OP_DEQUANTIZE && o->in[0] == l->xq && o->in[1] == l->xs &&
          qd_eq_(&o->q, &l->qx) && !written_since_(c, l->xq, i) && !written_since_(c, o->out[0], i))
        xd = o->out[0];
    }
    if (xd < 0) {
      char name[112];
      snprintf(name, sizeof name, "%s.wgrad.Xdq", l->name);
      xd = lower_buf_(c, name, ALTO_DT_BF16, 2, M, K, 0); /* (M, K) */
      alto_node *dq = lower_node_(c, ALTO_OP_DEQUANTIZE, name);
      dq->q = l->qx;
      dq->rank = 2;
      dq->shape[0] = M;
      dq->shape[1] = K;
      dq->in_dtype = alto_ir_elem_dtype(f.fwd);
      dq->out_dtype = ALTO_DT_BF16;
      lower_in_(dq, l->xq);
      lower_in_(dq, l->xs);
      if (l->qx.two_level)
        lower_in_(dq, outer_of_(c, l->xs));
      lower_out_(dq, xd);
    }
    qxt = qd_(l, &f, f.fwd, b, 1, -2, false);
    ALTO_TRY(quant_(c, l, "wgrad.X", xd, 0, M, K, qxt, &xtq, &xts));
  } else if (lp->use_2dblock_x) { /* the 2-D copies serve both GEMMs */
    qdt = qdy, dtq = dyq, dts = dys;
    qxt = l->qx, xtq = l->xq, xts = l->xs;
  } else {
    bool rht = lp->use_hadamard;
    int dr = rht ? rht_(c, l, "wgrad.RdY", dy, M, N) : dy;
    qdt = qd_(l, &f, f.grad, b, 1, -2, sr);
    qdt.rht = rht;
    qdt.rht_size = rht ? (lp->hadamard_size ? lp->hadamard_size : 32) : 0;
    ALTO_TRY(quant_(c, l, "wgrad.dY", dr, 0, M, N, qdt, &dtq, &dts));
    qxt = qd_(l, &f, f.fwd, b, 1, -2, false);
    qxt.rht = rht;
    qxt.rht_size = qdt.rht_size;
    xtq = l->xtq;
    xts = l->xts;
    ALTO_ASSERT(xtq >= 0);
  }
  g = gemm_(c, l, "wgrad", N, K, M);
  g->trans_a = g->trans_b = true;
  g->q = qdt;
  g->q_b = qxt;
  g->in_dtype = alto_ir_elem_dtype(f.grad);
  lower_in_(g, dtq);
  lower_in_(g, dts);
  lower_in_(g, xtq);
  lower_in_(g, xts);
  wgrad_out_(l, g);
  gemm_outers_(c, g);
  if (lp->use_dge) { /* dW *= g(W / 2^(s-127)) with the backward weight quantization's scales */
    char name[112];
    snprintf(name, sizeof name, "%s.wgrad.dge", l->name);
    alto_node *dn = lower_node_(c, ALTO_OP_DGE_SCALE, name);
    dn->q = qwd;
    dn->q.dge = true;
    dn->rank = E ? 3 : 2;
    int64_t dims[3] = {E, N, K};
    memcpy(dn->shape, E ? dims : dims + 1, (size_t)dn->rank * sizeof(int64_t));
    dn->in_dtype = dn->out_dtype = ALTO_DT_F32;
    lower_in_(dn, l->w.dw);
    lower_in_(dn, l->w.w);
    lower_in_(dn, ws);
    lower_out_(dn, l->w.dw);
  }
  return ALTO_OK;
}
