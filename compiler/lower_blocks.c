/* One transformer block: attention (GQA with optional sinks and sliding window, or MLA) and
 * MLP (dense SwiGLU or MoE with router, grouped experts and shared experts), forward and
 * backward. Notation as lower.c; Mp = rows after the expert-major permutation. */
#include <string.h>

#include "compiler/lower_impl.h"

/* Resolves the module `name` and lowers the Linear (N, K) on x (M, K) -> *y (M, N). */
static alto_status lin_(lower_ctx_ *c, lower_linear_ *l, const char *name, int64_t n, int64_t k,
                        bool bias, int x, int *y) {
  const alto_lpt_modifier *lpt;
  ALTO_TRY(lower_resolve_(c, name, &lpt));
  ALTO_TRY(lower_linear_init_(c, l, name, lpt, 0, n, k, c->M, bias, NULL));
  return lower_linear_fwd_(c, l, x, y);
}

static int copy_(lower_ctx_ *c, const char *name, int src, int dst, int64_t src_col,
                 int64_t dst_col, int64_t cols, int64_t dst_cols) {
  if (dst < 0)
    dst = lower_buf_(c, name, ALTO_DT_BF16, 2, c->M, dst_cols, 0); /* (M, dst_cols) */
  alto_node *n = lower_ew_(c, ALTO_OP_COPY, name, c->M, cols);
  n->iparam[0] = src_col;
  n->iparam[1] = dst_col;
  n->iparam[2] = cols;
  lower_in_(n, src);
  lower_out_(n, dst);
  return dst;
}

/* SwiGLU on (rows, F); GPT-OSS experts clamp (iparam[0] = 1: limit, alpha 1.702, up + 1). */
static int swiglu_(lower_ctx_ *c, const char *name, int a, int b, int64_t rows, int64_t f,
                   bool oss) {
  int y = lower_buf_(c, name, ALTO_DT_BF16, 2, rows, f, 0); /* (rows, F) */
  alto_node *n = lower_ew_(c, ALTO_OP_SWIGLU, name, rows, f);
  n->iparam[0] = oss;
  lower_in_(n, a);
  lower_in_(n, b);
  lower_out_(n, y);
  return y;
}

static void swiglu_bwd_(lower_ctx_ *c, const char *prefix, int dy, int a, int b, int64_t rows,
                        int64_t f, bool oss, int *da, int *db) {
  char name[112];
  snprintf(name, sizeof name, "%s.dh1", prefix);
  *da = lower_buf_(c, name, ALTO_DT_BF16, 2, rows, f, 0); /* (rows, F) */
  snprintf(name, sizeof name, "%s.dh3", prefix);
  *db = lower_buf_(c, name, ALTO_DT_BF16, 2, rows, f, 0); /* (rows, F) */
  snprintf(name, sizeof name, "%s.swiglu.bwd", prefix);
  alto_node *n = lower_ew_(c, ALTO_OP_SWIGLU_BWD, name, rows, f);
  n->iparam[0] = oss;
  lower_in_(n, dy);
  lower_in_(n, a);
  lower_in_(n, b);
  lower_out_(n, *da);
  lower_out_(n, *db);
}

/* Dense SwiGLU MLP with hidden f on x (M, C). */
static alto_status mlp_fwd_(lower_ctx_ *c, lower_mlp_ *d, const char *prefix, int64_t f, int x,
                            int *y) {
  int64_t C = c->m->dim;
  char name[112];
  snprintf(name, sizeof name, "%s.w1", prefix);
  ALTO_TRY(lin_(c, &d->w1, name, f, C, false, x, &d->h1));
  snprintf(name, sizeof name, "%s.w3", prefix);
  ALTO_TRY(lin_(c, &d->w3, name, f, C, false, x, &d->h3));
  snprintf(name, sizeof name, "%s.swiglu", prefix);
  d->g = swiglu_(c, name, d->h1, d->h3, c->M, f, false);
  snprintf(name, sizeof name, "%s.w2", prefix);
  return lin_(c, &d->w2, name, C, f, false, d->g, y);
}

static alto_status mlp_bwd_(lower_ctx_ *c, lower_mlp_ *d, const char *prefix, int dy, int *dx) {
  int dg = -1, dh1, dh3;
  ALTO_TRY(lower_linear_bwd_(c, &d->w2, dy, &dg));
  swiglu_bwd_(c, prefix, dg, d->h1, d->h3, c->M, d->w1.N, false, &dh1, &dh3);
  ALTO_TRY(lower_linear_bwd_(c, &d->w1, dh1, dx));
  return lower_linear_bwd_(c, &d->w3, dh3, dx);
}

/* ATTENTION (B, H, T, D); iparam: kv heads, sliding window (0: full causal), sinks, v dim. */
static alto_node *sdpa_node_(lower_ctx_ *c, alto_op op, const char *name, int64_t h, int64_t d,
                             int64_t g, int64_t window, bool sinks, int64_t dv) {
  alto_node *n = lower_node_(c, op, name);
  n->rank = 4;
  n->shape[0] = c->B;
  n->shape[1] = h;
  n->shape[2] = c->T;
  n->shape[3] = d;
  n->iparam[0] = g;
  n->iparam[1] = window;
  n->iparam[2] = sinks;
  n->iparam[3] = dv;
  n->in_dtype = n->out_dtype = ALTO_DT_BF16;
  return n;
}

static alto_status attn_fwd_(lower_ctx_ *c, lower_layer_ *L, int i, int *ao) {
  const alto_model *m = c->m;
  const alto_attention_desc *a = &m->attn;
  int64_t C = m->dim, H = a->n_heads, M = c->M;
  char p[64], name[112];
  snprintf(p, sizeof p, "layers.%d.attention", i);
#define NM_(fmt) (snprintf(name, sizeof name, "%s." fmt, p), name)
  int64_t d, dv, g, window = 0;
  int q, k, v, kin;
  if (a->kind == ALTO_ATTN_GQA) {
    int64_t D = a->head_dim, G = a->n_kv_heads;
    d = dv = D;
    g = G;
    ALTO_TRY(lin_(c, &L->wq, NM_("wq"), H * D, C, a->qkv_bias, L->xn1, &q));
    ALTO_TRY(lin_(c, &L->wk, NM_("wk"), G * D, C, a->qkv_bias, L->xn1, &k));
    ALTO_TRY(lin_(c, &L->wv, NM_("wv"), G * D, C, a->qkv_bias, L->xn1, &v));
    L->qr = lower_rope_(c, NM_("rope.q"), ALTO_OP_ROPE, q, H, D, D);
    L->kr = lower_rope_(c, NM_("rope.k"), ALTO_OP_ROPE, k, G, D, D);
    L->v = v;
    kin = L->kr;
    if (alto_model_layer_is_sliding(m, i))
      window = a->sliding_window;
  } else {
    int64_t nope = a->qk_nope_head_dim, r = a->qk_rope_head_dim, kvl = a->kv_lora_rank;
    d = nope + r;
    dv = a->v_head_dim;
    g = H;
    if (a->q_lora_rank == 0) {
      ALTO_TRY(lin_(c, &L->wq, NM_("wq"), H * d, C, false, L->xn1, &q));
    } else {
      ALTO_TRY(lin_(c, &L->wq_a, NM_("wq_a"), a->q_lora_rank, C, false, L->xn1, &L->qa));
      L->qnorm = lower_norm_param_(c, NM_("q_norm"), a->q_lora_rank);
      lower_rmsnorm_(c, NM_("q_norm"), L->qa, L->qnorm, a->q_lora_rank, &L->qn, &L->qrstd);
      ALTO_TRY(lin_(c, &L->wq_b, NM_("wq_b"), H * d, a->q_lora_rank, false, L->qn, &q));
    }
    int kva;
    ALTO_TRY(lin_(c, &L->wkv_a, NM_("wkv_a"), kvl + r, C, false, L->xn1, &kva));
    L->kv = copy_(c, NM_("kv"), kva, -1, 0, 0, kvl, kvl);
    int kpe = copy_(c, NM_("k_pe"), kva, -1, kvl, 0, r, r);
    L->kvnorm = lower_norm_param_(c, NM_("kv_norm"), kvl);
    lower_rmsnorm_(c, NM_("kv_norm"), L->kv, L->kvnorm, kvl, &L->kvn, &L->kvrstd);
    ALTO_TRY(lin_(c, &L->wkv_b, NM_("wkv_b"), H * (nope + dv), kvl, false, L->kvn, &L->kvb));
    L->qr = lower_rope_(c, NM_("rope.q"), ALTO_OP_ROPE, q, H, d, r);
    L->kper = lower_rope_(c, NM_("rope.k_pe"), ALTO_OP_ROPE, kpe, 1, r, r);
    kin = L->kvb;
    L->v = -1;
  }
  L->o = lower_buf_(c, NM_("sdpa.out"), ALTO_DT_BF16, 2, M, H * dv, 0);   /* (M, H*dv) */
  L->lse = lower_buf_(c, NM_("sdpa.lse"), ALTO_DT_F32, 3, c->B, H, c->T); /* (B, H, T) */
  L->sinks.w = L->sinks.dw = -1;
  if (a->sinks)
    L->sinks = lower_param_new_(c, NM_("sinks"), 1, &H); /* (H,) */
  alto_node *n = sdpa_node_(c, ALTO_OP_ATTENTION, NM_("sdpa"), H, d, g, window, a->sinks, dv);
  lower_in_(n, L->qr);
  lower_in_(n, kin);
  lower_in_(n, a->kind == ALTO_ATTN_GQA ? L->v : L->kper);
  if (a->sinks)
    lower_in_(n, L->sinks.w);
  lower_out_(n, L->o);
  lower_out_(n, L->lse);
  ALTO_TRY(lin_(c, &L->wo, NM_("wo"), C, H * dv, a->qkv_bias, L->o, ao));
#undef NM_
  return ALTO_OK;
}

static alto_status attn_bwd_(lower_ctx_ *c, lower_layer_ *L, int i, int dres, int *dxn) {
  const alto_model *m = c->m;
  const alto_attention_desc *a = &m->attn;
  int64_t H = a->n_heads, M = c->M;
  char p[64], name[112];
  snprintf(p, sizeof p, "layers.%d.attention", i);
#define NM_(fmt) (snprintf(name, sizeof name, "%s." fmt, p), name)
  int dout = -1;
  ALTO_TRY(lower_linear_bwd_(c, &L->wo, dres, &dout));
  alto_node *fw = NULL; /* the forward node, for its shape */
  for (int k = c->p->n_nodes - 1; k >= 0 && !fw; k--)
    if (c->p->nodes[k].op == ALTO_OP_ATTENTION && c->p->nodes[k].layer == i)
      fw = &c->p->nodes[k];
  ALTO_ASSERT(fw);
  int64_t d = fw->shape[3], g = fw->iparam[0], window = fw->iparam[1], dv = fw->iparam[3];
  if (a->kind == ALTO_ATTN_GQA) {
    int dqr = lower_buf_(c, NM_("dq_rope"), ALTO_DT_BF16, 2, M, H * d, 0); /* (M, H*D) */
    int dkr = lower_buf_(c, NM_("dk_rope"), ALTO_DT_BF16, 2, M, g * d, 0); /* (M, G*D) */
    int dv_ = lower_buf_(c, NM_("dv"), ALTO_DT_BF16, 2, M, g * d, 0);      /* (M, G*D) */
    alto_node *n =
        sdpa_node_(c, ALTO_OP_ATTENTION_BWD, NM_("sdpa.bwd"), H, d, g, window, a->sinks, dv);
    lower_in_(n, L->qr);
    lower_in_(n, L->kr);
    lower_in_(n, L->v);
    lower_in_(n, L->o);
    lower_in_(n, L->lse);
    lower_in_(n, dout);
    if (a->sinks)
      lower_in_(n, L->sinks.w);
    lower_out_(n, dqr);
    lower_out_(n, dkr);
    lower_out_(n, dv_);
    if (a->sinks)
      lower_out_(n, L->sinks.dw);
    int dq = lower_rope_(c, NM_("rope.q.bwd"), ALTO_OP_ROPE_BWD, dqr, H, d, d);
    int dk = lower_rope_(c, NM_("rope.k.bwd"), ALTO_OP_ROPE_BWD, dkr, g, d, d);
    ALTO_TRY(lower_linear_bwd_(c, &L->wq, dq, dxn));
    ALTO_TRY(lower_linear_bwd_(c, &L->wk, dk, dxn));
    ALTO_TRY(lower_linear_bwd_(c, &L->wv, dv_, dxn));
    return ALTO_OK;
  }
  int64_t nope = a->qk_nope_head_dim, r = a->qk_rope_head_dim, kvl = a->kv_lora_rank;
  int dqr = lower_buf_(c, NM_("dq_rope"), ALTO_DT_BF16, 2, M, H * d, 0);          /* (M, H*d) */
  int dkvb = lower_buf_(c, NM_("dkv_b"), ALTO_DT_BF16, 2, M, H * (nope + dv), 0); /* (M, ..) */
  int dkper = lower_buf_(c, NM_("dk_pe_rope"), ALTO_DT_BF16, 2, M, r, 0);         /* (M, r) */
  alto_node *n = sdpa_node_(c, ALTO_OP_ATTENTION_BWD, NM_("sdpa.bwd"), H, d, g, 0, false, dv);
  lower_in_(n, L->qr);
  lower_in_(n, L->kvb);
  lower_in_(n, L->kper);
  lower_in_(n, L->o);
  lower_in_(n, L->lse);
  lower_in_(n, dout);
  lower_out_(n, dqr);
  lower_out_(n, dkvb);
  lower_out_(n, dkper);
  int dq = lower_rope_(c, NM_("rope.q.bwd"), ALTO_OP_ROPE_BWD, dqr, H, d, r);
  int dkpe = lower_rope_(c, NM_("rope.k_pe.bwd"), ALTO_OP_ROPE_BWD, dkper, 1, r, r);
  int dkvn = -1, dkv = -1;
  ALTO_TRY(lower_linear_bwd_(c, &L->wkv_b, dkvb, &dkvn));
  lower_rmsnorm_bwd_(c, NM_("kv_norm"), dkvn, L->kv, L->kvnorm, L->kvrstd, kvl, &dkv);
  int dkva = copy_(c, NM_("dkv_a.kv"), dkv, -1, 0, 0, kvl, kvl + r);
  copy_(c, NM_("dkv_a.k_pe"), dkpe, dkva, 0, kvl, r, kvl + r);
  ALTO_TRY(lower_linear_bwd_(c, &L->wkv_a, dkva, dxn));
  if (a->q_lora_rank == 0)
    return lower_linear_bwd_(c, &L->wq, dq, dxn);
  int dqn = -1, dqa = -1;
  ALTO_TRY(lower_linear_bwd_(c, &L->wq_b, dq, &dqn));
  lower_rmsnorm_bwd_(c, NM_("q_norm"), dqn, L->qa, L->qnorm, L->qrstd, a->q_lora_rank, &dqa);
  return lower_linear_bwd_(c, &L->wq_a, dqa, dxn);
#undef NM_
}

static alto_status moe_fwd_(lower_ctx_ *c, lower_layer_ *L, int i, int *mo) {
  const alto_model *m = c->m;
  const alto_mlp_desc *md = &m->mlp;
  int64_t C = m->dim, E = md->n_routed_experts, k = md->top_k, Fe = md->expert_ffn_dim, M = c->M;
  bool oss = md->experts == ALTO_EXPERTS_GPT_OSS;
  char p[64], name[112];
  snprintf(p, sizeof p, "layers.%d.moe", i);
#define NM_(fmt) (snprintf(name, sizeof name, "%s." fmt, p), name)
  ALTO_TRY(lin_(c, &L->gate, NM_("router.gate"), E, C, oss, L->xn2, &L->rl));
  L->ids = lower_buf_(c, NM_("router.ids"), ALTO_DT_I32, 2, M, k, 0);       /* (M, k) */
  L->wts = lower_buf_(c, NM_("router.weights"), ALTO_DT_F32, 2, M, k, 0);   /* (M, k) */
  L->counts = lower_buf_(c, NM_("router.counts"), ALTO_DT_I32, 1, E, 0, 0); /* (E,) */
  alto_node *n = lower_ew_(c, ALTO_OP_MOE_ROUTE, NM_("router"), M, E);
  n->iparam[0] = k;
  n->iparam[1] = (int64_t)md->score_func | (md->route_norm ? 2 : 0);
  n->iparam[2] = (int64_t)(md->route_scale * 1000.0 + 0.5);
  lower_in_(n, L->rl);
  lower_out_(n, L->ids);
  lower_out_(n, L->wts);
  lower_out_(n, L->counts);
  /* every expert's rows padded to 128: at most M*k + E*127 rows */
  L->Mp = (M * k + E * 127 + 127) / 128 * 128;
  L->xp = lower_buf_(c, NM_("permute.out"), ALTO_DT_BF16, 2, L->Mp, C, 0);     /* (Mp, C) */
  L->rowmap = lower_buf_(c, NM_("permute.rows"), ALTO_DT_I32, 1, L->Mp, 0, 0); /* (Mp,) */
  n = lower_ew_(c, ALTO_OP_MOE_PERMUTE, NM_("permute"), L->Mp, C);
  n->iparam[0] = k;
  lower_in_(n, L->xn2);
  lower_in_(n, L->ids);
  lower_in_(n, L->counts);
  lower_out_(n, L->xp);
  lower_out_(n, L->rowmap);
  const alto_lpt_modifier *lpt;
  ALTO_TRY(lower_resolve_(c, NM_("experts"), &lpt));
  ALTO_TRY(lower_linear_init_(c, &L->e1, NM_("experts.w1"), lpt, E, Fe, C, L->Mp, md->expert_bias,
                              NULL));
  ALTO_TRY(lower_linear_init_(c, &L->e3, NM_("experts.w3"), lpt, E, Fe, C, L->Mp, md->expert_bias,
                              NULL));
  ALTO_TRY(lower_linear_init_(c, &L->e2, NM_("experts.w2"), lpt, E, C, Fe, L->Mp, md->expert_bias,
                              NULL));
  L->e1.counts = L->e2.counts = L->e3.counts = L->counts;
  ALTO_TRY(lower_linear_fwd_(c, &L->e1, L->xp, &L->eh1));
  ALTO_TRY(lower_linear_fwd_(c, &L->e3, L->xp, &L->eh3));
  L->eg = swiglu_(c, NM_("experts.swiglu"), L->eh1, L->eh3, L->Mp, Fe, oss);
  ALTO_TRY(lower_linear_fwd_(c, &L->e2, L->eg, &L->yp));
  int ym = lower_buf_(c, NM_("unpermute.out"), ALTO_DT_BF16, 2, M, C, 0); /* (M, C) */
  n = lower_ew_(c, ALTO_OP_MOE_UNPERMUTE, NM_("unpermute"), M, C);
  n->iparam[0] = k;
  lower_in_(n, L->yp);
  lower_in_(n, L->rowmap);
  lower_in_(n, L->wts);
  lower_out_(n, ym);
  *mo = ym;
  L->has_shared = md->n_shared_experts > 0;
  if (L->has_shared) {
    int ys;
    char sp[80];
    snprintf(sp, sizeof sp, "%s.shared_experts", p);
    ALTO_TRY(mlp_fwd_(c, &L->shared, sp, md->n_shared_experts * Fe, L->xn2, &ys));
    *mo = lower_add_(c, NM_("out"), ym, ys, C);
  }
#undef NM_
  return ALTO_OK;
}

static alto_status moe_bwd_(lower_ctx_ *c, lower_layer_ *L, int i, int dres, int *dxn) {
  const alto_model *m = c->m;
  const alto_mlp_desc *md = &m->mlp;
  int64_t C = m->dim, E = md->n_routed_experts, k = md->top_k, M = c->M;
  bool oss = md->experts == ALTO_EXPERTS_GPT_OSS;
  char p[64], name[112];
  snprintf(p, sizeof p, "layers.%d.moe", i);
#define NM_(fmt) (snprintf(name, sizeof name, "%s." fmt, p), name)
  if (L->has_shared) {
    char sp[80];
    snprintf(sp, sizeof sp, "%s.shared_experts", p);
    ALTO_TRY(mlp_bwd_(c, &L->shared, sp, dres, dxn));
  }
  int dyp = lower_buf_(c, NM_("dyp"), ALTO_DT_BF16, 2, L->Mp, C, 0);  /* (Mp, C) */
  int dwts = lower_buf_(c, NM_("dweights"), ALTO_DT_F32, 2, M, k, 0); /* (M, k) */
  alto_node *n = lower_ew_(c, ALTO_OP_MOE_UNPERMUTE_BWD, NM_("unpermute.bwd"), M, C);
  n->iparam[0] = k;
  lower_in_(n, dres);
  lower_in_(n, L->yp);
  lower_in_(n, L->rowmap);
  lower_in_(n, L->wts);
  lower_out_(n, dyp);
  lower_out_(n, dwts);
  int deg = -1, dxp = -1, deh1, deh3;
  ALTO_TRY(lower_linear_bwd_(c, &L->e2, dyp, &deg));
  swiglu_bwd_(c, NM_("experts"), deg, L->eh1, L->eh3, L->Mp, md->expert_ffn_dim, oss, &deh1, &deh3);
  ALTO_TRY(lower_linear_bwd_(c, &L->e1, deh1, &dxp));
  ALTO_TRY(lower_linear_bwd_(c, &L->e3, deh3, &dxp));
  bool acc = *dxn >= 0;
  if (!acc)
    *dxn = lower_buf_(c, NM_("dX"), ALTO_DT_BF16, 2, M, C, 0); /* (M, C) */
  n = lower_ew_(c, ALTO_OP_MOE_PERMUTE_BWD, NM_("permute.bwd"), L->Mp, C);
  n->accumulate = acc;
  n->iparam[0] = k;
  lower_in_(n, dxp);
  lower_in_(n, L->rowmap);
  lower_out_(n, *dxn);
  int drl = lower_buf_(c, NM_("router.dlogits"), ALTO_DT_BF16, 2, M, E, 0); /* (M, E) */
  n = lower_ew_(c, ALTO_OP_MOE_ROUTE_BWD, NM_("router.bwd"), M, E);
  n->iparam[0] = k;
  n->iparam[1] = (int64_t)md->score_func | (md->route_norm ? 2 : 0);
  lower_in_(n, dwts);
  lower_in_(n, L->rl);
  lower_in_(n, L->ids);
  lower_out_(n, drl);
  return lower_linear_bwd_(c, &L->gate, drl, dxn);
#undef NM_
}

alto_status lower_block_fwd_(lower_ctx_ *c, lower_layer_ *L, int i, int x, int *y) {
  const alto_model *m = c->m;
  int64_t C = m->dim;
  char name[112];
  L->x = x;
  snprintf(name, sizeof name, "layers.%d.attention_norm", i);
  L->norm1 = lower_norm_param_(c, name, C);
  lower_rmsnorm_(c, name, x, L->norm1, C, &L->xn1, &L->rstd1);
  int ao, mo;
  ALTO_TRY(attn_fwd_(c, L, i, &ao));
  snprintf(name, sizeof name, "layers.%d.attention.residual", i);
  L->h = lower_add_(c, name, x, ao, C);
  snprintf(name, sizeof name, "layers.%d.ffn_norm", i);
  L->norm2 = lower_norm_param_(c, name, C);
  lower_rmsnorm_(c, name, L->h, L->norm2, C, &L->xn2, &L->rstd2);
  L->moe = alto_model_layer_is_moe(m, i);
  if (L->moe) {
    ALTO_TRY(moe_fwd_(c, L, i, &mo));
  } else {
    snprintf(name, sizeof name, "layers.%d.feed_forward", i);
    ALTO_TRY(mlp_fwd_(c, &L->dense, name, m->mlp.ffn_dim, L->xn2, &mo));
  }
  snprintf(name, sizeof name, "layers.%d.residual", i);
  *y = lower_add_(c, name, L->h, mo, C);
  return ALTO_OK;
}

alto_status lower_block_bwd_(lower_ctx_ *c, lower_layer_ *L, int i, int dres) {
  int64_t C = c->m->dim;
  char name[112];
  int dxn2 = -1, dxn1 = -1;
  if (L->moe) {
    ALTO_TRY(moe_bwd_(c, L, i, dres, &dxn2));
  } else {
    snprintf(name, sizeof name, "layers.%d.feed_forward", i);
    ALTO_TRY(mlp_bwd_(c, &L->dense, name, dres, &dxn2));
  }
  snprintf(name, sizeof name, "layers.%d.ffn_norm", i);
  lower_rmsnorm_bwd_(c, name, dxn2, L->h, L->norm2, L->rstd2, C, &dres);
  ALTO_TRY(attn_bwd_(c, L, i, dres, &dxn1));
  snprintf(name, sizeof name, "layers.%d.attention_norm", i);
  lower_rmsnorm_bwd_(c, name, dxn1, L->x, L->norm1, L->rstd1, C, &dres);
  return ALTO_OK;
}
