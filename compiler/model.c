/* Model descriptions: the YAML schema, its validation and the derived facts. Module names are
 * in model_modules.c. */
#include "compiler/model.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- schema ------------------------------------------------------------------------------ */
typedef enum { FT_INT, FT_FLOAT, FT_BOOL, FT_STR, FT_ENUM, FT_MAP } field_type_;

typedef struct field_ {
  const char *key;
  field_type_ type;
  size_t off;               /* into alto_model */
  size_t size;              /* FT_STR: buffer size */
  const char *const *names; /* FT_ENUM */
  int n_names;              /* FT_ENUM */
  const struct field_ *sub; /* FT_MAP: NULL-key-terminated */
  bool required;
} field_;

static const char *const norm_names_[] = {"rmsnorm"};
static const char *const scaling_names_[] = {"none", "llama3", "yarn"};
static const char *const attn_names_[] = {"gqa", "mla"};
static const char *const sliding_names_[] = {"none", "all", "even", "odd"};
static const char *const mlp_names_[] = {"swiglu", "moe"};
static const char *const router_names_[] = {"softmax", "sigmoid"};
static const char *const experts_names_[] = {"grouped", "gpt_oss"};
_Static_assert(sizeof norm_names_ / sizeof *norm_names_ == ALTO_NORM_KIND_COUNT, "norm names");
_Static_assert(sizeof scaling_names_ / sizeof *scaling_names_ == ALTO_ROPE_SCALING_COUNT, "rope");
_Static_assert(sizeof attn_names_ / sizeof *attn_names_ == ALTO_ATTN_KIND_COUNT, "attn names");
_Static_assert(sizeof sliding_names_ / sizeof *sliding_names_ == ALTO_SLIDING_COUNT, "sliding");
_Static_assert(sizeof mlp_names_ / sizeof *mlp_names_ == ALTO_MLP_KIND_COUNT, "mlp names");
_Static_assert(sizeof router_names_ / sizeof *router_names_ == ALTO_ROUTER_COUNT, "router");
_Static_assert(sizeof experts_names_ / sizeof *experts_names_ == ALTO_EXPERTS_COUNT, "experts");

#define OFF_(f) offsetof(alto_model, f)
#define I_(k, f, req)                                                                              \
  { k, FT_INT, OFF_(f), 0, NULL, 0, NULL, req }
#define D_(k, f)                                                                                   \
  { k, FT_FLOAT, OFF_(f), 0, NULL, 0, NULL, false }
#define B_(k, f)                                                                                   \
  { k, FT_BOOL, OFF_(f), 0, NULL, 0, NULL, false }
#define E_(k, f, names, req)                                                                       \
  { k, FT_ENUM, OFF_(f), 0, names, sizeof names / sizeof *names, NULL, req }

static const field_ rope_fields_[] = {
    {"theta", FT_FLOAT, OFF_(rope.theta), 0, NULL, 0, NULL, true},
    E_("scaling", rope.scaling, scaling_names_, false),
    D_("factor", rope.factor),
    D_("low_freq_factor", rope.low_freq_factor),
    D_("high_freq_factor", rope.high_freq_factor),
    I_("original_max_position", rope.original_max_position, false),
    D_("beta_fast", rope.beta_fast),
    D_("beta_slow", rope.beta_slow),
    D_("mscale", rope.mscale),
    {0},
};
static const field_ attn_fields_[] = {
    E_("kind", attn.kind, attn_names_, true),
    I_("n_heads", attn.n_heads, true),
    I_("n_kv_heads", attn.n_kv_heads, false),
    I_("head_dim", attn.head_dim, false),
    B_("qkv_bias", attn.qkv_bias),
    I_("q_lora_rank", attn.q_lora_rank, false),
    I_("kv_lora_rank", attn.kv_lora_rank, false),
    I_("qk_nope_head_dim", attn.qk_nope_head_dim, false),
    I_("qk_rope_head_dim", attn.qk_rope_head_dim, false),
    I_("v_head_dim", attn.v_head_dim, false),
    I_("sliding_window", attn.sliding_window, false),
    E_("sliding_layers", attn.sliding_layers, sliding_names_, false),
    B_("sinks", attn.sinks),
    {0},
};
static const field_ mlp_fields_[] = {
    E_("kind", mlp.kind, mlp_names_, true),
    I_("ffn_dim", mlp.ffn_dim, false),
    I_("n_routed_experts", mlp.n_routed_experts, false),
    I_("n_shared_experts", mlp.n_shared_experts, false),
    I_("top_k", mlp.top_k, false),
    I_("expert_ffn_dim", mlp.expert_ffn_dim, false),
    I_("n_dense_layers", mlp.n_dense_layers, false),
    E_("score_func", mlp.score_func, router_names_, false),
    B_("route_norm", mlp.route_norm),
    D_("route_scale", mlp.route_scale),
    E_("experts", mlp.experts, experts_names_, false),
    B_("expert_bias", mlp.expert_bias),
    D_("swiglu_limit", mlp.swiglu_limit),
    {0},
};
static const field_ model_fields_[] = {
    {"family", FT_STR, OFF_(family), sizeof(((alto_model *)0)->family), NULL, 0, NULL, true},
    {"flavor", FT_STR, OFF_(flavor), sizeof(((alto_model *)0)->flavor), NULL, 0, NULL, true},
    I_("dim", dim, true),
    I_("n_layers", n_layers, true),
    I_("vocab_size", vocab_size, true),
    I_("max_seq_len", max_seq_len, true),
    E_("norm", norm, norm_names_, false),
    {"norm_eps", FT_FLOAT, OFF_(norm_eps), 0, NULL, 0, NULL, true},
    B_("tied_embeddings", tied_embeddings),
    {"rope", FT_MAP, 0, 0, NULL, 0, rope_fields_, true},
    {"attention", FT_MAP, 0, 0, NULL, 0, attn_fields_, true},
    {"mlp", FT_MAP, 0, 0, NULL, 0, mlp_fields_, true},
    {0},
};

/* ---- parsing ------------------------------------------------------------------------------ */
#define MAX_SEEN_ 64
typedef struct {
  const char *file;
  yaml_document_t *doc;
  alto_model *m;
  struct {
    char path[48]; /* "attention.n_heads" */
    int line;
  } seen[MAX_SEEN_];
  int n_seen;
  int root_line;
} parse_ctx_;

static int line_of_(const parse_ctx_ *c, const char *path) {
  for (int i = 0; i < c->n_seen; i++)
    if (strcmp(c->seen[i].path, path) == 0)
      return c->seen[i].line;
  return c->root_line;
}

static void join_names_(char *buf, size_t n, const char *const *names, int count) {
  buf[0] = '\0';
  for (int i = 0; i < count; i++)
    snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? ", " : "", names[i]);
}

static void join_keys_(char *buf, size_t n, const field_ *fields) {
  buf[0] = '\0';
  for (int i = 0; fields[i].key; i++)
    snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? ", " : "", fields[i].key);
}

static alto_status parse_scalar_(parse_ctx_ *c, const field_ *f, const char *path, yaml_node_t *v) {
  int line = (int)v->start_mark.line + 1;
  if (v->type != YAML_SCALAR_NODE)
    return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be a %s, not a %s", c->file, line, path,
                      f->type == FT_MAP ? "mapping" : "scalar",
                      v->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
  const char *s = (const char *)v->data.scalar.value;
  char *base = (char *)c->m;
  char *end = NULL;
  errno = 0;
  switch (f->type) {
  case FT_INT: {
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be an integer, got '%s'", c->file, line,
                        path, s);
    if (x < 0)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be >= 0, got %lld", c->file, line, path,
                        x);
    *(int64_t *)(base + f->off) = x;
    return ALTO_OK;
  }
  case FT_FLOAT: {
    double x = strtod(s, &end);
    if (!*s || *end || errno)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be a number, got '%s'", c->file, line,
                        path, s);
    *(double *)(base + f->off) = x;
    return ALTO_OK;
  }
  case FT_BOOL:
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
      *(bool *)(base + f->off) = s[0] == 't';
      return ALTO_OK;
    }
    return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be true or false, got '%s'", c->file, line,
                      path, s);
  case FT_STR:
    if (strlen(s) >= f->size || !*s)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be 1..%zu characters", c->file, line,
                        path, f->size - 1);
    memcpy(base + f->off, s, strlen(s) + 1);
    return ALTO_OK;
  case FT_ENUM:
    for (int i = 0; i < f->n_names; i++)
      if (strcmp(s, f->names[i]) == 0) {
        *(int *)(base + f->off) = i;
        return ALTO_OK;
      }
    char valid[256];
    join_names_(valid, sizeof valid, f->names, f->n_names);
    return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' is '%s' (valid: %s)", c->file, line, path, s,
                      valid);
  case FT_MAP:
    break;
  }
  ALTO_ASSERT(0);
  return ALTO_ERR_PARSE;
}

static alto_status parse_map_(parse_ctx_ *c, const field_ *fields, const char *prefix,
                              yaml_node_t *node) {
  int line = (int)node->start_mark.line + 1;
  if (node->type != YAML_MAPPING_NODE)
    return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be a mapping", c->file, line,
                      *prefix ? prefix : "the model");
  bool got[32] = {0};
  for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    int kline = (int)k->start_mark.line + 1;
    if (k->type != YAML_SCALAR_NODE)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: keys must be scalars", c->file, kline);
    const char *key = (const char *)k->data.scalar.value;
    int fi = -1;
    for (int i = 0; fields[i].key; i++)
      if (strcmp(fields[i].key, key) == 0)
        fi = i;
    if (fi < 0) {
      char valid[512];
      join_keys_(valid, sizeof valid, fields);
      return alto_error(ALTO_ERR_PARSE, "%s:%d: unknown key '%s%s%s' (valid: %s)", c->file, kline,
                        prefix, *prefix ? "." : "", key, valid);
    }
    if (got[fi])
      return alto_error(ALTO_ERR_PARSE, "%s:%d: duplicate key '%s'", c->file, kline, key);
    got[fi] = true;
    char path[48];
    snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
    if (c->n_seen < MAX_SEEN_) {
      snprintf(c->seen[c->n_seen].path, sizeof c->seen[0].path, "%s", path);
      c->seen[c->n_seen++].line = kline;
    }
    if (fields[fi].type == FT_MAP)
      ALTO_TRY(parse_map_(c, fields[fi].sub, path, v));
    else
      ALTO_TRY(parse_scalar_(c, &fields[fi], path, v));
  }
  for (int i = 0; fields[i].key; i++)
    if (fields[i].required && !got[i])
      return alto_error(ALTO_ERR_PARSE, "%s:%d: missing field '%s%s%s'", c->file, line, prefix,
                        *prefix ? "." : "", fields[i].key);
  return ALTO_OK;
}

/* Consistency of the dimensions, with the line of the offending key. */
static alto_status validate_(parse_ctx_ *c) {
  alto_model *m = c->m;
  alto_attention_desc *a = &m->attn;
  alto_mlp_desc *p = &m->mlp;
#define NEED_POS_(key, v)                                                                          \
  do {                                                                                             \
    if ((v) <= 0)                                                                                  \
      return alto_error(ALTO_ERR_PARSE, "%s:%d: '%s' must be > 0 for this model", c->file,         \
                        line_of_(c, key), key);                                                    \
  } while (0)
  NEED_POS_("dim", m->dim);
  NEED_POS_("n_layers", m->n_layers);
  NEED_POS_("vocab_size", m->vocab_size);
  NEED_POS_("max_seq_len", m->max_seq_len);
  NEED_POS_("attention.n_heads", a->n_heads);
  if (!(m->norm_eps > 0))
    return alto_error(ALTO_ERR_PARSE, "%s:%d: 'norm_eps' must be > 0", c->file,
                      line_of_(c, "norm_eps"));
  if (a->kind == ALTO_ATTN_GQA) {
    if (a->n_kv_heads == 0)
      a->n_kv_heads = a->n_heads;
    if (a->head_dim == 0) {
      if (m->dim % a->n_heads != 0)
        return alto_error(ALTO_ERR_PARSE,
                          "%s:%d: attention.n_heads (%lld) does not divide dim (%lld); give "
                          "attention.head_dim explicitly",
                          c->file, line_of_(c, "attention.n_heads"), (long long)a->n_heads,
                          (long long)m->dim);
      a->head_dim = m->dim / a->n_heads;
    }
    if (a->n_heads % a->n_kv_heads != 0)
      return alto_error(ALTO_ERR_PARSE,
                        "%s:%d: attention.n_kv_heads (%lld) does not divide n_heads (%lld)",
                        c->file, line_of_(c, "attention.n_kv_heads"), (long long)a->n_kv_heads,
                        (long long)a->n_heads);
  } else {
    NEED_POS_("attention.kv_lora_rank", a->kv_lora_rank);
    NEED_POS_("attention.qk_nope_head_dim", a->qk_nope_head_dim);
    NEED_POS_("attention.qk_rope_head_dim", a->qk_rope_head_dim);
    NEED_POS_("attention.v_head_dim", a->v_head_dim);
    if (a->n_kv_heads == 0)
      a->n_kv_heads = a->n_heads;
    if (a->n_kv_heads != a->n_heads)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: MLA needs n_kv_heads == n_heads", c->file,
                        line_of_(c, "attention.n_kv_heads"));
    a->head_dim = a->qk_nope_head_dim + a->qk_rope_head_dim;
  }
  if (a->sliding_layers != ALTO_SLIDING_NONE)
    NEED_POS_("attention.sliding_window", a->sliding_window);
  if (p->kind == ALTO_MLP_SWIGLU) {
    NEED_POS_("mlp.ffn_dim", p->ffn_dim);
  } else {
    NEED_POS_("mlp.n_routed_experts", p->n_routed_experts);
    NEED_POS_("mlp.top_k", p->top_k);
    NEED_POS_("mlp.expert_ffn_dim", p->expert_ffn_dim);
    if (p->top_k > p->n_routed_experts)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: mlp.top_k (%lld) exceeds n_routed_experts", c->file,
                        line_of_(c, "mlp.top_k"), (long long)p->top_k);
    if (p->n_dense_layers > m->n_layers)
      return alto_error(ALTO_ERR_PARSE, "%s:%d: mlp.n_dense_layers exceeds n_layers", c->file,
                        line_of_(c, "mlp.n_dense_layers"));
    if (p->n_dense_layers > 0)
      NEED_POS_("mlp.ffn_dim", p->ffn_dim);
    if (p->route_scale == 0)
      p->route_scale = 1.0;
  }
  if (m->rope.scaling != ALTO_ROPE_SCALING_NONE) {
    if (!(m->rope.factor > 0))
      return alto_error(ALTO_ERR_PARSE, "%s:%d: rope.factor must be > 0 with scaling %s", c->file,
                        line_of_(c, "rope.scaling"), scaling_names_[m->rope.scaling]);
    NEED_POS_("rope.original_max_position", m->rope.original_max_position);
  }
#undef NEED_POS_
  return ALTO_OK;
}

alto_status alto_model_load_string(const char *name, const char *text, size_t len,
                                   alto_model *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->path, sizeof out->path, "%s", name);
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser))
    return alto_error(ALTO_ERR_NOMEM, "%s: cannot initialize the YAML parser", name);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    alto_status s = alto_error(
        ALTO_ERR_PARSE, "%s:%d:%d: YAML error: %s", name, (int)parser.problem_mark.line + 1,
        (int)parser.problem_mark.column + 1, parser.problem ? parser.problem : "malformed");
    yaml_parser_delete(&parser);
    return s;
  }
  parse_ctx_ c = {.file = name, .doc = &doc, .m = out, .root_line = 1};
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  alto_status s;
  if (!root)
    s = alto_error(ALTO_ERR_PARSE, "%s:1: empty model description", name);
  else
    s = parse_map_(&c, model_fields_, "", root);
  if (s == ALTO_OK)
    s = validate_(&c);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (s != ALTO_OK) {
    char path[512];
    snprintf(path, sizeof path, "%s", out->path);
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
  }
  return s;
}

static bool ends_with_(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

alto_status alto_model_load(const char *name_or_path, alto_model *out) {
  char path[512];
  if (ends_with_(name_or_path, ".yaml") || ends_with_(name_or_path, ".yml"))
    snprintf(path, sizeof path, "%s", name_or_path);
  else
    snprintf(path, sizeof path, "%s/models/%s.yaml", ALTO_SOURCE_DIR, name_or_path);
  FILE *f = fopen(path, "rb");
  if (!f)
    return alto_error(ALTO_ERR_NOT_FOUND,
                      "model '%s' not found (looked for %s: %s); give family/flavor such as "
                      "llama3/8b or a path to a .yaml file",
                      name_or_path, path, strerror(errno));
  size_t cap = 1 << 12, n = 0;
  char *text = alto_xmalloc(cap);
  size_t got;
  while ((got = fread(text + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap)
      text = alto_xrealloc(text, cap *= 2);
  }
  bool err = ferror(f);
  fclose(f);
  if (err) {
    free(text);
    return alto_error(ALTO_ERR_IO, "%s: read error", path);
  }
  alto_status s = alto_model_load_string(path, text, n, out);
  free(text);
  return s;
}

/* ---- derived facts ------------------------------------------------------------------------- */
bool alto_model_layer_is_moe(const alto_model *m, int layer) {
  return m->mlp.kind == ALTO_MLP_MOE && layer >= m->mlp.n_dense_layers;
}

bool alto_model_layer_is_sliding(const alto_model *m, int layer) {
  switch (m->attn.sliding_layers) {
  case ALTO_SLIDING_ALL:
    return true;
  case ALTO_SLIDING_EVEN:
    return layer % 2 == 0;
  case ALTO_SLIDING_ODD:
    return layer % 2 == 1;
  default:
    return false;
  }
}

int64_t alto_model_param_count(const alto_model *m) {
  alto_module *mods;
  int n;
  if (alto_model_modules(m, &mods, &n) != ALTO_OK)
    return -1;
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    int64_t p = mods[i].rank > 0 ? 1 : 0;
    for (int d = 0; d < mods[i].rank; d++)
      p *= mods[i].shape[d];
    if (mods[i].kind == ALTO_MOD_EXPERTS) {
      p *= 3;               /* w1, w2, w3 of the same size */
      if (mods[i].has_bias) /* (E, F) twice and (E, C) */
        p += mods[i].shape[0] * (2 * mods[i].shape[1] + mods[i].shape[2]);
    } else if (mods[i].kind == ALTO_MOD_LINEAR && mods[i].has_bias) {
      p += mods[i].shape[0];
    }
    if (mods[i].kind == ALTO_MOD_LINEAR && m->tied_embeddings &&
        strcmp(mods[i].names[0], "output") == 0)
      p = 0;
    total += p;
  }
  free(mods);
  return total;
}

void alto_model_print(const alto_model *m, FILE *f) {
  const alto_attention_desc *a = &m->attn;
  const alto_mlp_desc *p = &m->mlp;
  fprintf(f, "model %s/%s (%s)\n", m->family, m->flavor, m->path);
  fprintf(f, "  dim %lld, layers %lld, vocab %lld, max_seq_len %lld, %s eps %g%s\n",
          (long long)m->dim, (long long)m->n_layers, (long long)m->vocab_size,
          (long long)m->max_seq_len, norm_names_[m->norm], m->norm_eps,
          m->tied_embeddings ? ", tied embeddings" : "");
  fprintf(f, "  rope theta %g, scaling %s", m->rope.theta, scaling_names_[m->rope.scaling]);
  if (m->rope.scaling != ALTO_ROPE_SCALING_NONE)
    fprintf(f, " (factor %g, original %lld)", m->rope.factor,
            (long long)m->rope.original_max_position);
  fprintf(f, "\n  attention %s: heads %lld / kv %lld, head_dim %lld", attn_names_[a->kind],
          (long long)a->n_heads, (long long)a->n_kv_heads, (long long)a->head_dim);
  if (a->kind == ALTO_ATTN_MLA)
    fprintf(f, ", q_lora %lld, kv_lora %lld, nope %lld, rope %lld, v %lld",
            (long long)a->q_lora_rank, (long long)a->kv_lora_rank, (long long)a->qk_nope_head_dim,
            (long long)a->qk_rope_head_dim, (long long)a->v_head_dim);
  if (a->sliding_layers != ALTO_SLIDING_NONE)
    fprintf(f, ", sliding window %lld on %s layers", (long long)a->sliding_window,
            sliding_names_[a->sliding_layers]);
  if (a->sinks)
    fprintf(f, ", sinks");
  fprintf(f, "\n  mlp %s: ffn %lld", mlp_names_[p->kind], (long long)p->ffn_dim);
  if (p->kind == ALTO_MLP_MOE)
    fprintf(f, ", %lld routed + %lld shared experts (%s), top-%lld, expert ffn %lld, %lld dense",
            (long long)p->n_routed_experts, (long long)p->n_shared_experts,
            experts_names_[p->experts], (long long)p->top_k, (long long)p->expert_ffn_dim,
            (long long)p->n_dense_layers);
  fprintf(f, "\n  parameters %.3fB\n", (double)alto_model_param_count(m) / 1e9);
}
