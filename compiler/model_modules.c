/* The modules of a model, named as TorchTitan names them, with Hugging Face aliases. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"

typedef struct {
  alto_module *v;
  int n, cap;
} list_;

static alto_module *add_(list_ *l, alto_module_kind kind, int layer, const char *cls0,
                         const char *cls1) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->v = alto_xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
  }
  alto_module *m = &l->v[l->n++];
  memset(m, 0, sizeof *m);
  m->kind = kind;
  m->layer = layer;
  m->classes[m->n_classes++] = cls0;
  if (cls1)
    m->classes[m->n_classes++] = cls1;
  return m;
}

static void name_(alto_module *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void name_(alto_module *m, const char *fmt, ...) {
  ALTO_ASSERT(m->n_names < ALTO_MODULE_MAX_NAMES);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->names[m->n_names++], sizeof m->names[0], fmt, ap);
  va_end(ap);
}

static void shape_(alto_module *m, int rank, int64_t a, int64_t b, int64_t c) {
  m->rank = rank;
  m->shape[0] = a;
  m->shape[1] = b;
  m->shape[2] = c;
}

/* A Linear with weight (out, in). */
static void linear_(list_ *l, int layer, const char *tt, const char *hf, int64_t out, int64_t in,
                    bool bias) {
  alto_module *m = add_(l, ALTO_MOD_LINEAR, layer, "Linear", NULL);
  name_(m, "%s", tt);
  if (hf)
    name_(m, "%s", hf);
  shape_(m, 2, out, in, 0);
  m->has_bias = bias;
}

static void norm_(list_ *l, int layer, const char *tt, const char *hf, int64_t c) {
  alto_module *m = add_(l, ALTO_MOD_NORM, layer, "RMSNorm", NULL);
  name_(m, "%s", tt);
  if (hf)
    name_(m, "%s", hf);
  shape_(m, 1, c, 0, 0);
}

static void attention_(list_ *l, const alto_model *md, int i) {
  const alto_attention_desc *a = &md->attn;
  int64_t C = md->dim, H = a->n_heads;
  char tt[96], hf[96], tp[64], hp[64];
  snprintf(tp, sizeof tp, "layers.%d.attention", i);
  snprintf(hp, sizeof hp, "model.layers.%d.self_attn", i);
  alto_module *att = add_(l, ALTO_MOD_ATTENTION, i, "Attention", NULL);
  name_(att, "%s", tp);
  name_(att, "%s", hp);
  if (a->sinks)
    shape_(att, 1, H, 0, 0); /* one sink logit per head */
#define LIN_(t, h, out, in)                                                                        \
  do {                                                                                             \
    snprintf(tt, sizeof tt, "%s.%s", tp, t);                                                       \
    snprintf(hf, sizeof hf, "%s.%s", hp, h);                                                       \
    linear_(l, i, tt, hf, out, in, a->qkv_bias);                                                   \
  } while (0)
  if (a->kind == ALTO_ATTN_GQA) {
    int64_t D = a->head_dim, KV = a->n_kv_heads;
    LIN_("wq", "q_proj", H * D, C);
    LIN_("wk", "k_proj", KV * D, C);
    LIN_("wv", "v_proj", KV * D, C);
    LIN_("wo", "o_proj", C, H * D);
  } else {
    int64_t qk = a->qk_nope_head_dim + a->qk_rope_head_dim;
    if (a->q_lora_rank == 0) {
      LIN_("wq", "q_proj", H * qk, C);
    } else {
      LIN_("wq_a", "q_a_proj", a->q_lora_rank, C);
      snprintf(tt, sizeof tt, "%s.q_norm", tp);
      snprintf(hf, sizeof hf, "%s.q_a_layernorm", hp);
      norm_(l, i, tt, hf, a->q_lora_rank);
      LIN_("wq_b", "q_b_proj", H * qk, a->q_lora_rank);
    }
    LIN_("wkv_a", "kv_a_proj_with_mqa", a->kv_lora_rank + a->qk_rope_head_dim, C);
    snprintf(tt, sizeof tt, "%s.kv_norm", tp);
    snprintf(hf, sizeof hf, "%s.kv_a_layernorm", hp);
    norm_(l, i, tt, hf, a->kv_lora_rank);
    LIN_("wkv_b", "kv_b_proj", H * (a->qk_nope_head_dim + a->v_head_dim), a->kv_lora_rank);
    LIN_("wo", "o_proj", C, H * a->v_head_dim);
  }
#undef LIN_
}

static void swiglu_(list_ *l, int i, const char *tp, const char *hp, int64_t C, int64_t F) {
  char tt[96], hf[96];
  snprintf(tt, sizeof tt, "%s.w1", tp);
  snprintf(hf, sizeof hf, "%s.gate_proj", hp);
  linear_(l, i, tt, hf, F, C, false);
  snprintf(tt, sizeof tt, "%s.w3", tp);
  snprintf(hf, sizeof hf, "%s.up_proj", hp);
  linear_(l, i, tt, hf, F, C, false);
  snprintf(tt, sizeof tt, "%s.w2", tp);
  snprintf(hf, sizeof hf, "%s.down_proj", hp);
  linear_(l, i, tt, hf, C, F, false);
}

static void mlp_(list_ *l, const alto_model *md, int i) {
  const alto_mlp_desc *p = &md->mlp;
  int64_t C = md->dim;
  char tp[64], hp[64], tt[96], hf[96];
  snprintf(hp, sizeof hp, "model.layers.%d.mlp", i);
  if (!alto_model_layer_is_moe(md, i)) {
    snprintf(tp, sizeof tp, "layers.%d.feed_forward", i);
    swiglu_(l, i, tp, hp, C, p->ffn_dim);
    return;
  }
  bool oss = p->experts == ALTO_EXPERTS_GPT_OSS;
  snprintf(tp, sizeof tp, "layers.%d.moe", i);
  snprintf(tt, sizeof tt, "%s.router.gate", tp);
  snprintf(hf, sizeof hf, "%s.%s", hp, oss ? "router" : "gate");
  linear_(l, i, tt, hf, p->n_routed_experts, C, oss);
  alto_module *e = add_(l, ALTO_MOD_EXPERTS, i, oss ? "GptOssGroupedExperts" : "GroupedExperts",
                        oss ? "GroupedExperts" : NULL);
  name_(e, "%s.experts", tp);
  name_(e, "%s.experts", hp);
  shape_(e, 3, p->n_routed_experts, p->expert_ffn_dim, C); /* w1 (E, F, C) */
  e->has_bias = p->expert_bias;
  if (p->n_shared_experts > 0) {
    char ts[80], hs[80];
    snprintf(ts, sizeof ts, "%s.shared_experts", tp);
    snprintf(hs, sizeof hs, "%s.shared_experts", hp);
    swiglu_(l, i, ts, hs, C, p->n_shared_experts * p->expert_ffn_dim);
  }
}

alto_status alto_model_modules(const alto_model *md, alto_module **out, int *n_out) {
  list_ l = {0};
  alto_module *m = add_(&l, ALTO_MOD_EMBEDDING, -1, "Embedding", NULL);
  name_(m, "tok_embeddings");
  name_(m, "model.embed_tokens");
  shape_(m, 2, md->vocab_size, md->dim, 0);
  for (int i = 0; i < (int)md->n_layers; i++) {
    char tt[96], hf[96];
    snprintf(tt, sizeof tt, "layers.%d.attention_norm", i);
    snprintf(hf, sizeof hf, "model.layers.%d.input_layernorm", i);
    norm_(&l, i, tt, hf, md->dim);
    attention_(&l, md, i);
    snprintf(tt, sizeof tt, "layers.%d.ffn_norm", i);
    snprintf(hf, sizeof hf, "model.layers.%d.post_attention_layernorm", i);
    norm_(&l, i, tt, hf, md->dim);
    mlp_(&l, md, i);
  }
  norm_(&l, -1, "norm", "model.norm", md->dim);
  linear_(&l, -1, "output", "lm_head", md->vocab_size, md->dim, false);
  *out = l.v;
  *n_out = l.n;
  return ALTO_OK;
}

int alto_model_module_find(const alto_module *mods, int n, const char *name) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < mods[i].n_names; j++)
      if (strcmp(mods[i].names[j], name) == 0)
        return i;
  return -1;
}
