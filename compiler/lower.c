/* Lowering: the blocks of Llama 3, DeepSeek V3 (MLA, MoE) and GPT-OSS (sinks, sliding window,
 * MoE) into one training step. Linears expand in lower_linear.c. Notation: B batch, T sequence,
 * M = B*T tokens, C dim, H heads, G kv heads, D head dim, F ffn dim, V vocab, E experts. */
#include "compiler/lower.h"

#include <stdlib.h>
#include <string.h>

#include "compiler/lower_impl.h"
#include "compiler/memplan.h"

/* ---- helpers ------------------------------------------------------------------------------ */
int lower_buf_(lower_ctx_ *c, const char *name, alto_dtype dt, int rank, int64_t d0, int64_t d1,
               int64_t d2) {
  int64_t s[3] = {d0, d1, d2};
  return alto_plan_buffer(c->p, name, dt, ALTO_BUF_TEMP, rank, s);
}

alto_node *lower_node_(lower_ctx_ *c, alto_op op, const char *name) {
  alto_node *n = alto_plan_node(c->p, op, name);
  n->layer = c->layer;
  return n;
}

void lower_in_(alto_node *n, int buf) {
  ALTO_ASSERT(buf >= 0 && n->n_in < ALTO_IR_MAX_IO);
  n->in[n->n_in++] = buf;
}

void lower_out_(alto_node *n, int buf) {
  ALTO_ASSERT(buf >= 0 && n->n_out < ALTO_IR_MAX_IO);
  n->out[n->n_out++] = buf;
}

lower_param_ lower_param_new_(lower_ctx_ *c, const char *name, int rank, const int64_t *shape) {
  lower_param_ p;
  p.w = alto_plan_buffer(c->p, name, ALTO_DT_F32, ALTO_BUF_PARAM, rank, shape);
  char gn[160];
  snprintf(gn, sizeof gn, "%s.grad", name);
  p.dw = alto_plan_buffer(c->p, gn, ALTO_DT_F32, ALTO_BUF_GRAD, rank, shape);
  if (c->n_params == c->cap_params) {
    c->cap_params = c->cap_params ? 2 * c->cap_params : 128;
    c->params = alto_xrealloc(c->params, (size_t)c->cap_params * sizeof *c->params);
  }
  c->params[c->n_params++] = p;
  return p;
}

alto_status lower_resolve_(lower_ctx_ *c, const char *module, const alto_lpt_modifier **lpt) {
  int i = alto_model_module_find(c->mods, c->n_mods, module);
  ALTO_ASSERT_MSG(i >= 0, module);
  const alto_module *md = &c->mods[i];
  alto_lowered *o = c->out;
  o->choices = alto_xrealloc(o->choices, (size_t)(o->n_choices + 1) * sizeof *o->choices);
  alto_lower_choice *ch = &o->choices[o->n_choices++];
  memset(ch, 0, sizeof *ch);
  snprintf(ch->module, sizeof ch->module, "%s", md->names[0]);
  ch->cls = md->classes[0];
  ch->layer = md->layer;
  *lpt = NULL;
  if (!c->r) {
    snprintf(ch->why, sizeof ch->why, "no recipe: bf16");
    return ALTO_OK;
  }
  const char *names[ALTO_MODULE_MAX_NAMES];
  for (int k = 0; k < md->n_names; k++)
    names[k] = md->names[k];
  alto_module_query q = {
      names, md->n_names, md->classes, md->n_classes, md->layer, (int)c->m->n_layers, 0};
  ALTO_TRY(alto_recipe_resolve(c->r, &q, lpt, ch->why, sizeof ch->why));
  if (*lpt && (*lpt)->scheme == ALTO_SCHEME_BF16)
    *lpt = NULL;
  ch->lpt = *lpt;
  ch->scheme = *lpt ? (*lpt)->scheme : ALTO_SCHEME_BF16;
  return ALTO_OK;
}

alto_node *lower_ew_(lower_ctx_ *c, alto_op op, const char *name, int64_t rows, int64_t cols) {
  alto_node *n = lower_node_(c, op, name);
  n->rank = 2;
  n->shape[0] = rows;
  n->shape[1] = cols;
  n->in_dtype = n->out_dtype = ALTO_DT_BF16;
  return n;
}

lower_param_ lower_norm_param_(lower_ctx_ *c, const char *name, int64_t dim) {
  char n[112];
  snprintf(n, sizeof n, "%s.weight", name);
  return lower_param_new_(c, n, 1, &dim); /* (dim,) */
}

/* RMSNORM x (M, dim) -> y (M, dim) bf16, rstd (M) f32. */
void lower_rmsnorm_(lower_ctx_ *c, const char *name, int x, lower_param_ w, int64_t dim, int *y,
                    int *rstd) {
  char n[112];
  snprintf(n, sizeof n, "%s.out", name);
  *y = lower_buf_(c, n, ALTO_DT_BF16, 2, c->M, dim, 0); /* (M, dim) */
  snprintf(n, sizeof n, "%s.rstd", name);
  *rstd = lower_buf_(c, n, ALTO_DT_F32, 1, c->M, 0, 0); /* (M,) */
  alto_node *nd = lower_ew_(c, ALTO_OP_RMSNORM, name, c->M, dim);
  lower_in_(nd, x);
  lower_in_(nd, w.w);
  lower_out_(nd, *y);
  lower_out_(nd, *rstd);
}

/* dx (+)= RMSNORM_BWD(dy); writes dw. */
void lower_rmsnorm_bwd_(lower_ctx_ *c, const char *name, int dy, int x, lower_param_ w, int rstd,
                        int64_t dim, int *dx) {
  char n[112];
  snprintf(n, sizeof n, "%s.bwd", name);
  alto_node *nd;
  bool acc = *dx >= 0;
  if (!acc) {
    snprintf(n, sizeof n, "%s.dX", name);
    *dx = lower_buf_(c, n, ALTO_DT_BF16, 2, c->M, dim, 0); /* (M, dim) */
  }
  snprintf(n, sizeof n, "%s.bwd", name);
  nd = lower_ew_(c, ALTO_OP_RMSNORM_BWD, n, c->M, dim);
  nd->accumulate = acc;
  lower_in_(nd, dy);
  lower_in_(nd, x);
  lower_in_(nd, w.w);
  lower_in_(nd, rstd);
  lower_out_(nd, *dx);
  lower_out_(nd, w.dw);
}

int lower_add_(lower_ctx_ *c, const char *name, int a, int b, int64_t dim) {
  int y = lower_buf_(c, name, ALTO_DT_BF16, 2, c->M, dim, 0); /* (M, C) */
  alto_node *n = lower_ew_(c, ALTO_OP_ADD, name, c->M, dim);
  lower_in_(n, a);
  lower_in_(n, b);
  lower_out_(n, y);
  return y;
}

/* ROPE over the last `rot` dims of each of `heads` heads of x (M, heads*hd). */
int lower_rope_(lower_ctx_ *c, const char *name, alto_op op, int x, int64_t heads, int64_t hd,
                int64_t rot) {
  int y = lower_buf_(c, name, ALTO_DT_BF16, 2, c->M, heads * hd, 0); /* (M, heads*hd) */
  alto_node *n = lower_node_(c, op, name);
  n->rank = 3;
  n->shape[0] = c->M;
  n->shape[1] = heads;
  n->shape[2] = hd;
  n->iparam[0] = rot;
  n->in_dtype = n->out_dtype = ALTO_DT_BF16;
  lower_in_(n, x);
  lower_out_(n, y);
  return y;
}

/* ---- the whole step ------------------------------------------------------------------------ */
static alto_status lower_step_(lower_ctx_ *c) {
  const alto_model *m = c->m;
  int64_t M = c->M, C = m->dim, V = m->vocab_size;
  c->layer = -1;
  int tokens = alto_plan_buffer(c->p, "tokens", ALTO_DT_I32, ALTO_BUF_INPUT, 1, &M);   /* (M,) */
  int targets = alto_plan_buffer(c->p, "targets", ALTO_DT_I32, ALTO_BUF_INPUT, 1, &M); /* (M,) */
  int64_t es[2] = {V, C};
  lower_param_ emb = lower_param_new_(c, "tok_embeddings.weight", 2, es); /* (V, C) */
  const alto_lpt_modifier *lpt;
  ALTO_TRY(lower_resolve_(c, "tok_embeddings", &lpt)); /* embeddings stay bf16 (a gather) */
  int x = lower_buf_(c, "tok_embeddings.out", ALTO_DT_BF16, 2, M, C, 0); /* (M, C) */
  alto_node *n = lower_ew_(c, ALTO_OP_EMBED, "tok_embeddings", M, C);
  n->in_dtype = ALTO_DT_F32;
  lower_in_(n, tokens);
  lower_in_(n, emb.w);
  lower_out_(n, x);
  lower_layer_ *ls = alto_xcalloc((size_t)m->n_layers, sizeof *ls);
  alto_status s = ALTO_OK;
  for (int i = 0; i < m->n_layers && s == ALTO_OK; i++) {
    c->layer = i;
    s = lower_block_fwd_(c, &ls[i], i, x, &x);
  }
  c->layer = -1;
  int xf, rf, logits, dxf = -1, dres = -1;
  lower_param_ nw = lower_norm_param_(c, "norm", C);
  lower_linear_ out;
  if (s == ALTO_OK) {
    lower_rmsnorm_(c, "norm", x, nw, C, &xf, &rf);
    s = lower_resolve_(c, "output", &lpt);
  }
  if (s == ALTO_OK)
    s = lower_linear_init_(c, &out, "output", lpt, 0, V, C, M, false,
                           m->tied_embeddings ? &emb : NULL);
  if (s == ALTO_OK)
    s = lower_linear_fwd_(c, &out, xf, &logits);
  if (s == ALTO_OK) {
    int loss = alto_plan_buffer(c->p, "loss", ALTO_DT_F32, ALTO_BUF_TEMP, 1, (int64_t[]){1});
    int dlogits = lower_buf_(c, "output.dY", ALTO_DT_BF16, 2, M, V, 0); /* (M, V) */
    n = lower_ew_(c, ALTO_OP_CROSS_ENTROPY, "loss", M, V);
    n->out_dtype = ALTO_DT_F32;
    lower_in_(n, logits);
    lower_in_(n, targets);
    lower_out_(n, loss);
    lower_out_(n, dlogits);
    c->p->n_fwd_end = c->p->n_nodes;
    s = lower_linear_bwd_(c, &out, dlogits, &dxf);
  }
  if (s == ALTO_OK)
    lower_rmsnorm_bwd_(c, "norm", dxf, x, nw, rf, C, &dres);
  for (int i = (int)m->n_layers - 1; i >= 0 && s == ALTO_OK; i--) {
    c->layer = i;
    s = lower_block_bwd_(c, &ls[i], i, dres);
  }
  c->layer = -1;
  free(ls);
  ALTO_TRY(s);
  if (!m->tied_embeddings) {
    n = lower_node_(c, ALTO_OP_ZERO, "tok_embeddings.weight.grad");
    n->rank = 2;
    n->shape[0] = V;
    n->shape[1] = C;
    n->out_dtype = ALTO_DT_F32;
    lower_out_(n, emb.dw);
  }
  n = lower_ew_(c, ALTO_OP_EMBED_BWD, "tok_embeddings.bwd", M, C);
  n->out_dtype = ALTO_DT_F32;
  n->accumulate = true;
  lower_in_(n, tokens);
  lower_in_(n, dres);
  lower_out_(n, emb.dw);
  /* ---- optimizer */
  c->p->n_bwd_end = c->p->n_nodes;
  for (int i = 0; i < c->n_params; i++) {
    const alto_buffer *w = &c->p->bufs[c->params[i].w];
    char wname[112], name[160];
    int64_t shape[4];
    int rank = w->rank;
    int64_t count = (int64_t)(w->bytes / 4);
    memcpy(shape, w->shape, sizeof shape);
    memcpy(wname, w->name, sizeof wname); /* adding buffers may move the array */
    snprintf(name, sizeof name, "%s.exp_avg", wname);
    int mom = alto_plan_buffer(c->p, name, ALTO_DT_F32, ALTO_BUF_OPT_STATE, rank, shape);
    snprintf(name, sizeof name, "%s.exp_avg_sq", wname);
    int var = alto_plan_buffer(c->p, name, ALTO_DT_F32, ALTO_BUF_OPT_STATE, rank, shape);
    snprintf(name, sizeof name, "%s.adamw", wname);
    n = lower_node_(c, ALTO_OP_ADAMW, name);
    n->rank = 1;
    n->shape[0] = count;
    n->in_dtype = n->out_dtype = ALTO_DT_F32;
    lower_in_(n, c->params[i].w);
    lower_in_(n, c->params[i].dw);
    lower_in_(n, mom);
    lower_in_(n, var);
    lower_out_(n, c->params[i].w);
    lower_out_(n, mom);
    lower_out_(n, var);
  }
  return ALTO_OK;
}

alto_status alto_lower(const alto_model *m, const alto_recipe *recipe, const alto_lower_opts *o,
                       alto_lowered *out) {
  memset(out, 0, sizeof *out);
  alto_plan_init(&out->plan);
  if (o->batch <= 0 || o->seq <= 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "batch (%lld) and seq (%lld) must be > 0",
                      (long long)o->batch, (long long)o->seq);
  if (o->seq > m->max_seq_len)
    return alto_error(ALTO_ERR_INVALID_ARG, "seq %lld exceeds the model's max_seq_len %lld",
                      (long long)o->seq, (long long)m->max_seq_len);
  lower_ctx_ c;
  memset(&c, 0, sizeof c);
  c.m = m;
  c.r = recipe;
  c.p = &out->plan;
  c.out = out;
  c.B = o->batch;
  c.T = o->seq;
  c.M = o->batch * o->seq;
  c.p->batch = c.B;
  c.p->seq = c.T;
  ALTO_TRY(alto_model_modules(m, &c.mods, &c.n_mods));
  alto_status s = lower_step_(&c);
  free(c.mods);
  free(c.params);
  free(c.qcache);
  if (s != ALTO_OK) {
    alto_lowered_free(out);
    return s;
  }
  alto_plan *p = &out->plan;
  alto_plan_finish(p, o->arch);
  /* Activations used in forward and again in backward are the saved ones. */
  for (int i = 0; i < p->n_bufs; i++) {
    alto_buffer *b = &p->bufs[i];
    if (b->kind == ALTO_BUF_TEMP && b->first < p->n_fwd_end && b->last >= p->n_fwd_end)
      b->kind = ALTO_BUF_SAVED;
  }
  s = alto_memplan_assign(p);
  if (s == ALTO_OK)
    s = alto_memplan_verify(p);
  if (s != ALTO_OK)
    alto_lowered_free(out);
  return s;
}

void alto_lowered_free(alto_lowered *l) {
  alto_plan_free(&l->plan);
  free(l->choices);
  l->choices = NULL;
  l->n_choices = 0;
}
