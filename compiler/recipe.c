/* Recipe loading: file -> text checks -> tree (YAML or Lua) -> validated modifiers.
 *
 * The shape is ALTO's (alto/config/recipe.py): top-level `<name>_stage` keys, inside them
 * `<group>_modifiers`, inside those modifier classes with their fields, plus `args`. Unlike
 * ALTO, keys that are neither are errors rather than silently skipped: a typo must not turn
 * an MXFP4 run into a BF16 one.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler/recipe_fields.h"

#define ALTO_LPT_CLASS "LowPrecisionTrainingModifier"
#define ALTO_PTQ_CLASS "QuantizationModifier"

static bool alto_recipe_ends_with_(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && !strcmp(s + n - m, suffix);
}

static bool alto_recipe_is_lua_name_(const char *name) {
  return alto_recipe_ends_with_(name, ".lua");
}

/* ---- LowPrecisionTrainingModifier ----------------------------------------------------------- */
static bool alto_recipe_is_mx_(alto_scheme s) {
  return s == ALTO_SCHEME_MXFP4 || s == ALTO_SCHEME_MXFP8_E4M3 || s == ALTO_SCHEME_MXFP8_E5M2;
}

static bool alto_recipe_is_fp8_(alto_scheme s) {
  return s == ALTO_SCHEME_FP8_BLOCK || s == ALTO_SCHEME_FP8_ROWWISE ||
         s == ALTO_SCHEME_FP8_TENSORWISE;
}

static void alto_recipe_lpt_defaults_(const alto_recipe_lpt_ *m, alto_lpt_modifier *o) {
  const uint32_t set = m->set;
#define ALTO_UNSET_(f) (!(set & (1u << (f))))
  if (ALTO_UNSET_(ALTO_LPT_F_2DBLOCK_W))
    o->use_2dblock_w = true;
  if (ALTO_UNSET_(ALTO_LPT_F_DEOSC_PERIOD))
    o->deosc_period = 200;
  if (ALTO_UNSET_(ALTO_LPT_F_DEOSC_RATIO))
    o->deosc_ratio = 4.0;
  if (ALTO_UNSET_(ALTO_LPT_F_DEOSC_LOG))
    o->deosc_log_freq = 1;
  if (ALTO_UNSET_(ALTO_LPT_F_HADAMARD_SIZE))
    o->hadamard_size = 32;
  if (ALTO_UNSET_(ALTO_LPT_F_END))
    o->end = -1;
  if (ALTO_UNSET_(ALTO_LPT_F_SCALE_RULE))
    o->scale_rule = o->use_uos ? ALTO_SCALE_UOS : ALTO_SCALE_EVEN;
  if (ALTO_UNSET_(ALTO_LPT_F_GRAD_DTYPE)) {
    /* torchao's fp8 recipes keep e5m2 for gradients when the scale is coarse (row/tensor);
     * DeepSeek-V3's 1x128 blocks make e4m3 precise enough. MX/NV use their own element. */
    if (o->scheme == ALTO_SCHEME_FP8_ROWWISE || o->scheme == ALTO_SCHEME_FP8_TENSORWISE)
      o->grad_dtype = ALTO_ELEM_E5M2;
    else if (o->scheme == ALTO_SCHEME_BF16)
      o->grad_dtype = ALTO_ELEM_BF16;
    else
      o->grad_dtype = alto_scheme_elem(o->scheme);
  }
#undef ALTO_UNSET_
}

typedef struct {
  const alto_recipe_lpt_ *m;
  const alto_lpt_modifier *o;
  bool skip_dynamic;
} alto_recipe_rules_;

/* True when the rule on these fields must wait for resolve (a Lua function decides one). */
static bool alto_recipe_wait_(const alto_recipe_rules_ *c, int f1, int f2) {
  return c->skip_dynamic && (c->m->fn_ref[f1] >= 0 || c->m->fn_ref[f2] >= 0);
}

static bool alto_recipe_given_(const alto_recipe_rules_ *c, int f) {
  return (c->m->set & (1u << f)) != 0;
}

static const alto_srcloc *alto_recipe_floc_(const alto_recipe_rules_ *c, int f) {
  return alto_recipe_given_(c, f) ? &c->m->field_loc[f] : &c->m->mod.loc;
}

#define ALTO_RULE_FAIL_(c, f, ...)                                                                 \
  alto_recipe_fail(ALTO_ERR_INVALID_ARG, alto_recipe_floc_(c, f), ALTO_LPT_CLASS "." __VA_ARGS__)

/* ALTO's flag rules (alto/modifiers/lpt/base.py validators and kernel dispatch). */
static alto_status alto_recipe_lpt_flag_rules_(const alto_recipe_rules_ *c) {
  const alto_lpt_modifier *o = c->o;
  const char *sn = alto_scheme_name(o->scheme);
  bool fp4 = o->scheme == ALTO_SCHEME_MXFP4 || o->scheme == ALTO_SCHEME_NVFP4;
  if (o->use_hadamard && o->use_2dblock_x &&
      !alto_recipe_wait_(c, ALTO_LPT_F_HADAMARD, ALTO_LPT_F_2DBLOCK_X))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_HADAMARD,
                           "use_hadamard: true needs use_2dblock_x: false (the transform runs "
                           "along 1x32 activation blocks); valid: use_hadamard: false, or "
                           "use_2dblock_x: false");
  if (o->use_uos && o->clip_mode != ALTO_CLIP_NONE &&
      !alto_recipe_wait_(c, ALTO_LPT_F_UOS, ALTO_LPT_F_CLIP))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_UOS,
                           "use_uos: true needs clip_mode: none; valid: clip_mode: none, or "
                           "use_uos: false");
  if (alto_recipe_wait_(c, ALTO_LPT_F_SCHEME, ALTO_LPT_F_SCHEME) || o->scheme == ALTO_SCHEME_BF16)
    return ALTO_OK; /* the remaining rules depend on the scheme */
  if (o->use_uos && o->scheme != ALTO_SCHEME_MXFP4 &&
      !alto_recipe_wait_(c, ALTO_LPT_F_UOS, ALTO_LPT_F_UOS))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_UOS, "use_uos is only for mxfp4, not %s; valid: false",
                           sn);
  if (o->use_hadamard && !fp4 && !alto_recipe_wait_(c, ALTO_LPT_F_HADAMARD, ALTO_LPT_F_HADAMARD))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_HADAMARD,
                           "use_hadamard is only supported for mxfp4 and nvfp4, not %s; valid: "
                           "false",
                           sn);
  if (o->use_dge && !fp4 && !alto_recipe_wait_(c, ALTO_LPT_F_DGE, ALTO_LPT_F_DGE))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_DGE,
                           "use_dge is only supported for mxfp4 and nvfp4, not %s; valid: false",
                           sn);
  if (o->clip_mode != ALTO_CLIP_NONE && o->scheme != ALTO_SCHEME_MXFP4 &&
      !alto_recipe_wait_(c, ALTO_LPT_F_CLIP, ALTO_LPT_F_CLIP))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_CLIP, "clip_mode is only for mxfp4, not %s; valid: none",
                           sn);
  return ALTO_OK;
}

static alto_status alto_recipe_lpt_value_rules_(const alto_recipe_rules_ *c) {
  const alto_lpt_modifier *o = c->o;
  const char *sn = alto_scheme_name(o->scheme);
  int h = o->hadamard_size;
  if ((h & (h - 1)) != 0)
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_HADAMARD_SIZE,
                           "hadamard_size %d is not a power of two; valid: 16, 32, 64, 128, 256",
                           h);
  if (o->end != -1 && o->end <= o->start && !alto_recipe_wait_(c, ALTO_LPT_F_START, ALTO_LPT_F_END))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_END,
                           "end %lld is not after start %lld; valid: -1 (never) or a step > start",
                           (long long)o->end, (long long)o->start);
  if (alto_recipe_wait_(c, ALTO_LPT_F_SCHEME, ALTO_LPT_F_SCHEME) || o->scheme == ALTO_SCHEME_BF16)
    return ALTO_OK;
  int align = alto_recipe_is_mx_(o->scheme) ? 32 : o->scheme == ALTO_SCHEME_NVFP4 ? 16 : 1;
  if (o->lora_rank % align && !alto_recipe_wait_(c, ALTO_LPT_F_LORA, ALTO_LPT_F_LORA))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_LORA,
                           "lora_rank %d is not a multiple of %d for %s; valid: 0, %d, %d, %d, ...",
                           o->lora_rank, align, sn, align, 2 * align, 3 * align);
  if (o->scale_rule == ALTO_SCALE_UOS && o->scheme != ALTO_SCHEME_MXFP4 &&
      !alto_recipe_wait_(c, ALTO_LPT_F_SCALE_RULE, ALTO_LPT_F_SCALE_RULE))
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_SCALE_RULE,
                           "scale_rule uos is only for mxfp4, not %s; valid: even, floor, rceil",
                           sn);
  if (o->use_uos && o->scale_rule != ALTO_SCALE_UOS)
    return ALTO_RULE_FAIL_(c, ALTO_LPT_F_SCALE_RULE,
                           "scale_rule %s conflicts with use_uos: true; valid: uos",
                           alto_scale_rule_name(o->scale_rule));
  if (!alto_recipe_wait_(c, ALTO_LPT_F_GRAD_DTYPE, ALTO_LPT_F_GRAD_DTYPE)) {
    bool fp8 = alto_recipe_is_fp8_(o->scheme);
    alto_elem own = alto_scheme_elem(o->scheme);
    if (fp8 ? o->grad_dtype == ALTO_ELEM_E2M1 : o->grad_dtype != own)
      return ALTO_RULE_FAIL_(
          c, ALTO_LPT_F_GRAD_DTYPE, "grad_dtype %s is not available for %s; valid: %s",
          alto_elem_name(o->grad_dtype), sn, fp8 ? "e4m3, e5m2" : alto_elem_name(own));
  }
  alto_two_level tl = o->two_level_scaling;
  if (tl != ALTO_TWO_LEVEL_NONE &&
      !alto_recipe_wait_(c, ALTO_LPT_F_TWO_LEVEL, ALTO_LPT_F_TWO_LEVEL)) {
    /* ALTO silently ignores the other combinations; an ignored flag is a surprise. */
    bool ok = (tl == ALTO_TWO_LEVEL_BLOCKWISE && o->scheme == ALTO_SCHEME_MXFP4) ||
              (tl == ALTO_TWO_LEVEL_TENSORWISE && o->scheme == ALTO_SCHEME_NVFP4);
    if (!ok)
      return ALTO_RULE_FAIL_(c, ALTO_LPT_F_TWO_LEVEL,
                             "two_level_scaling %s is not available for %s; valid: none%s",
                             tl == ALTO_TWO_LEVEL_BLOCKWISE ? "blockwise" : "tensorwise", sn,
                             o->scheme == ALTO_SCHEME_MXFP4   ? ", blockwise"
                             : o->scheme == ALTO_SCHEME_NVFP4 ? ", tensorwise"
                                                              : "");
  }
  return ALTO_OK;
}

alto_status alto_recipe_lpt_finalize(const alto_recipe_lpt_ *m, alto_lpt_modifier *out,
                                     bool skip_dynamic) {
  alto_lpt_modifier o = m->raw;
  o.loc = m->mod.loc;
  alto_recipe_lpt_defaults_(m, &o);
  alto_recipe_rules_ c = {m, &o, skip_dynamic};
  ALTO_TRY(alto_recipe_lpt_flag_rules_(&c));
  ALTO_TRY(alto_recipe_lpt_value_rules_(&c));
  *out = o;
  return ALTO_OK;
}

static alto_match_entry *alto_recipe_entries_(const char *text, const alto_srcloc *loc, int *n) {
  alto_match_entry *e = alto_xcalloc(1, sizeof *e);
  e->text = alto_xstrdup(text);
  e->loc = *loc;
  *n = 1;
  return e;
}

alto_match_entry *alto_recipe_entries_copy_(const alto_match_entry *src, int n) {
  alto_match_entry *e = alto_xcalloc((size_t)(n ? n : 1), sizeof *e);
  for (int i = 0; i < n; i++)
    e[i].text = alto_xstrdup(src[i].text), e[i].loc = src[i].loc;
  return e;
}

static void alto_recipe_lpt_init_(alto_recipe_lpt_ *m, const alto_srcloc *loc) {
  memset(m, 0, sizeof *m);
  m->mod.loc = *loc;
  for (int f = 0; f < ALTO_LPT_F_COUNT; f++)
    m->fn_ref[f] = -1;
}

static void alto_recipe_lpt_clear_(alto_recipe_lpt_ *m) {
  alto_recipe_free_entries_(m->raw.targets, m->raw.n_targets);
  alto_recipe_free_entries_(m->raw.ignore, m->raw.n_ignore);
  m->raw.targets = m->raw.ignore = NULL;
  m->raw.n_targets = m->raw.n_ignore = 0;
}

/* Finalizes m and appends it to the recipe (which then owns its lists). */
static alto_status alto_recipe_lpt_append_(alto_recipe *r, alto_recipe_lpt_ *m) {
  alto_srcloc dflt = {r->file, 0, 0};
  if (!(m->set & (1u << ALTO_LPT_F_TARGETS)))
    m->raw.targets = alto_recipe_entries_("Linear", &dflt, &m->raw.n_targets);
  if (!(m->set & (1u << ALTO_LPT_F_IGNORE)))
    m->raw.ignore = alto_recipe_entries_("output", &dflt, &m->raw.n_ignore);
  alto_status s = alto_recipe_lpt_finalize(m, &m->mod, true);
  if (s != ALTO_OK) {
    alto_recipe_lpt_clear_(m);
    return s;
  }
  r->lpt = alto_xrealloc(r->lpt, (size_t)(r->n_lpt + 1) * sizeof *r->lpt);
  r->lpt[r->n_lpt++] = *m;
  return ALTO_OK;
}

/* The dict form `scheme: {mxfp4: [targets], fp8_block: [targets]}`: one modifier per scheme. */
static alto_status alto_recipe_lpt_dict_(alto_recipe *r, alto_recipe_lpt_ *m,
                                         const alto_rnode *dict) {
  if (m->set & (1u << ALTO_LPT_F_TARGETS))
    return alto_recipe_fail(ALTO_ERR_PARSE, &m->field_loc[ALTO_LPT_F_TARGETS],
                            ALTO_LPT_CLASS ".targets: not allowed with the dict form of scheme "
                                           "(the dict gives the targets); valid: scheme: "
                                           "{<scheme>: [targets]} or targets with a scheme name");
  if (dict->n_items == 0)
    return alto_recipe_fail(ALTO_ERR_PARSE, &dict->loc,
                            ALTO_LPT_CLASS ".scheme: the mapping is empty; valid: {<scheme>: "
                                           "[targets]} with schemes %s",
                            alto_recipe_lpt_valid_schemes_());
  for (int i = 0; i < dict->n_items; i += 2) {
    alto_recipe_lpt_ one = *m;
    one.raw.targets = NULL, one.raw.n_targets = 0;
    if (m->set & (1u << ALTO_LPT_F_IGNORE))
      one.raw.ignore = alto_recipe_entries_copy_(m->raw.ignore, m->raw.n_ignore);
    else
      one.raw.ignore = NULL, one.raw.n_ignore = 0;
    one.field_loc[ALTO_LPT_F_SCHEME] = dict->items[i]->loc;
    alto_status s = alto_recipe_lpt_set_field(&one, ALTO_LPT_F_SCHEME, dict->items[i]);
    if (s == ALTO_OK)
      s = alto_recipe_lpt_set_field(&one, ALTO_LPT_F_TARGETS, dict->items[i + 1]);
    if (s == ALTO_OK)
      s = alto_recipe_lpt_append_(r, &one);
    else
      alto_recipe_lpt_clear_(&one);
    ALTO_TRY(s);
  }
  return ALTO_OK;
}

static alto_status alto_recipe_lpt_fields_(alto_recipe_lpt_ *m, const alto_rnode *map,
                                           const alto_rnode **dict) {
  for (int i = 0; i < map->n_items; i += 2) {
    const alto_rnode *k = map->items[i], *v = map->items[i + 1];
    int f = -1;
    for (int j = 0; j < ALTO_LPT_F_COUNT && f < 0; j++)
      if (!strcmp(alto_recipe_lpt_field(j)->name, k->text))
        f = j;
    if (f < 0)
      return alto_recipe_unknown_key_(k, ALTO_LPT_CLASS, alto_recipe_lpt_field(0),
                                      ALTO_LPT_F_COUNT);
    m->field_loc[f] = k->loc;
    if (v->kind == ALTO_RNODE_FUNC) {
      if (alto_recipe_lpt_field(f)->type == ALTO_FT_LIST)
        return alto_recipe_fail(ALTO_ERR_PARSE, &k->loc,
                                ALTO_LPT_CLASS ".%s: a Lua function is not allowed here; valid: "
                                               "a string or a list of strings",
                                k->text);
      m->fn_ref[f] = v->fn_ref;
      m->dynamic = true;
      m->set |= 1u << f;
    } else if (f == ALTO_LPT_F_SCHEME && v->kind == ALTO_RNODE_MAP) {
      *dict = v;
      m->set |= 1u << f;
    } else {
      ALTO_TRY(alto_recipe_lpt_set_field(m, f, v));
    }
  }
  return ALTO_OK;
}

static alto_status alto_recipe_lpt_parse_(alto_recipe *r, const alto_rnode *key,
                                          const alto_rnode *val) {
  if (val->kind != ALTO_RNODE_MAP)
    return alto_recipe_fail(ALTO_ERR_PARSE, &val->loc,
                            ALTO_LPT_CLASS ": expected a mapping of fields, got %s; valid: "
                                           "{scheme: ..., targets: [...], ...}",
                            alto_rnode_kind_name(val->kind));
  alto_recipe_lpt_ m;
  alto_recipe_lpt_init_(&m, &key->loc);
  const alto_rnode *dict = NULL;
  alto_status s = alto_recipe_lpt_fields_(&m, val, &dict);
  if (s == ALTO_OK && !(m.set & (1u << ALTO_LPT_F_SCHEME)))
    s = alto_recipe_fail(ALTO_ERR_PARSE, &key->loc,
                         ALTO_LPT_CLASS ": missing required field 'scheme'; valid: %s",
                         alto_recipe_lpt_valid_schemes_());
  if (s == ALTO_OK && dict)
    s = alto_recipe_lpt_dict_(r, &m, dict);
  else if (s == ALTO_OK)
    return alto_recipe_lpt_append_(r, &m); /* owns or frees m's lists */
  alto_recipe_lpt_clear_(&m);
  return s;
}

/* ---- the walk ----------------------------------------------------------------------------- */
static alto_status alto_recipe_modifiers_(alto_recipe *r, const alto_rnode *group) {
  static const char *const classes[] = {ALTO_LPT_CLASS, ALTO_PTQ_CLASS};
  for (int i = 0; i < group->n_items; i += 2) {
    const alto_rnode *k = group->items[i], *v = group->items[i + 1];
    if (!strcmp(k->text, ALTO_LPT_CLASS))
      ALTO_TRY(alto_recipe_lpt_parse_(r, k, v));
    else if (!strcmp(k->text, ALTO_PTQ_CLASS))
      ALTO_TRY(alto_recipe_ptq_parse(r, k, v));
    else {
      const char *hint = alto_recipe_suggest_(k->text, classes, 2);
      return alto_recipe_fail(
          ALTO_ERR_PARSE, &k->loc,
          "unknown modifier class '%s'%s%s%s; valid: " ALTO_LPT_CLASS ", " ALTO_PTQ_CLASS, k->text,
          hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    }
  }
  return ALTO_OK;
}

/* A mapping, or null/{} for "nothing here" (an explicit empty stage, as in recipes/bf16.yaml). */
static alto_status alto_recipe_expect_map_(const alto_rnode *v, const char *what,
                                           const char *valid) {
  if (v->kind == ALTO_RNODE_MAP || v->kind == ALTO_RNODE_NULL)
    return ALTO_OK;
  return alto_recipe_fail(ALTO_ERR_PARSE, &v->loc, "%s: expected a mapping, got %s; valid: %s",
                          what, alto_rnode_kind_name(v->kind), valid);
}

static alto_status alto_recipe_stage_(alto_recipe *r, const alto_rnode *key,
                                      const alto_rnode *stage) {
  ALTO_TRY(alto_recipe_expect_map_(stage, key->text, "<group>_modifiers keys"));
  free(r->stage);
  r->stage = alto_xstrdup(key->text);
  r->stage[strlen(r->stage) - strlen("_stage")] = '\0';
  for (int i = 0; i < stage->n_items; i += 2) {
    const alto_rnode *k = stage->items[i], *v = stage->items[i + 1];
    if (!alto_recipe_ends_with_(k->text, "_modifiers"))
      return alto_recipe_fail(ALTO_ERR_PARSE, &k->loc,
                              "%s: unknown key '%s'; valid: <group>_modifiers (e.g. lpt_modifiers)",
                              key->text, k->text);
    ALTO_TRY(alto_recipe_expect_map_(v, k->text, ALTO_LPT_CLASS ", " ALTO_PTQ_CLASS));
    ALTO_TRY(alto_recipe_modifiers_(r, v));
  }
  return ALTO_OK;
}

static alto_status alto_recipe_args_(alto_recipe *r, const alto_rnode *args) {
  ALTO_TRY(alto_recipe_expect_map_(args, "args", "key: value pairs"));
  for (int i = 0; i < args->n_items; i += 2) {
    const alto_rnode *k = args->items[i], *v = args->items[i + 1];
    if (!v->text)
      return alto_recipe_fail(ALTO_ERR_PARSE, &v->loc,
                              "args.%s: expected a scalar, got %s; valid: a string, number or "
                              "boolean",
                              k->text, alto_rnode_kind_name(v->kind));
    r->arg_keys = alto_xrealloc(r->arg_keys, (size_t)(r->n_args + 1) * sizeof(char *));
    r->arg_vals = alto_xrealloc(r->arg_vals, (size_t)(r->n_args + 1) * sizeof(char *));
    r->arg_keys[r->n_args] = alto_xstrdup(k->text);
    r->arg_vals[r->n_args++] = alto_xstrdup(v->text);
  }
  return ALTO_OK;
}

static alto_status alto_recipe_walk_(alto_recipe *r, const alto_rnode *root) {
  const char *valid = "<name>_stage keys (e.g. training_stage) and args";
  if (root->kind != ALTO_RNODE_MAP)
    return alto_recipe_fail(ALTO_ERR_PARSE, &root->loc,
                            "the top level must be a mapping, got %s; valid: %s",
                            alto_rnode_kind_name(root->kind), valid);
  for (int i = 0; i < root->n_items; i += 2) {
    const alto_rnode *k = root->items[i], *v = root->items[i + 1];
    if (!strcmp(k->text, "args"))
      ALTO_TRY(alto_recipe_args_(r, v));
    else if (alto_recipe_ends_with_(k->text, "_stage"))
      ALTO_TRY(alto_recipe_stage_(r, k, v));
    else
      return alto_recipe_fail(ALTO_ERR_PARSE, &k->loc, "unknown top-level key '%s'; valid: %s",
                              k->text, valid);
  }
  return ALTO_OK;
}

/* ---- API ---------------------------------------------------------------------------------- */
alto_status alto_recipe_load_string(const char *name, const char *text, size_t len,
                                    alto_recipe **out) {
  ALTO_ASSERT(name && out && (text || len == 0));
  *out = NULL;
  alto_recipe *r = alto_xcalloc(1, sizeof *r);
  r->file = alto_xstrdup(name);
  alto_rnode *root = NULL;
  alto_status s = alto_recipe_check_text(r->file, text, len);
  if (s == ALTO_OK && alto_recipe_is_lua_name_(name))
    s = alto_recipe_lua_run(r->file, text, len, &r->lua, &root);
  else if (s == ALTO_OK)
    s = alto_recipe_yaml_parse(r->file, text, len, &root);
  if (s == ALTO_OK)
    s = alto_recipe_walk_(r, root);
  if (s == ALTO_OK)
    s = alto_recipe_compile_regexes(r);
  alto_rnode_free(root);
  if (s != ALTO_OK) {
    alto_recipe_free(r);
    return s;
  }
  *out = r;
  return ALTO_OK;
}

alto_status alto_recipe_load(const char *path, alto_recipe **out) {
  ALTO_ASSERT(path && out);
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return alto_error(ALTO_ERR_IO, "%s: cannot open the recipe: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return alto_error(ALTO_ERR_IO, "%s: not a regular file; valid: a .yaml, .yml or .lua file",
                      path);
  }
  /* Refuse before reading: a recipe is small, a 50 MB file is a mistake. */
  if ((size_t)st.st_size > ALTO_RECIPE_MAX_BYTES) {
    fclose(f);
    alto_srcloc loc = {path, 0, 0};
    return alto_recipe_fail(ALTO_ERR_INVALID_ARG, &loc,
                            "recipe is %lld bytes; recipes larger than %zu bytes (1 MiB) are "
                            "refused",
                            (long long)st.st_size, ALTO_RECIPE_MAX_BYTES);
  }
  size_t cap = (size_t)st.st_size + 1;
  char *text = alto_xmalloc(cap);
  size_t n = fread(text, 1, cap, f); /* reading one byte more catches a file that grew */
  bool err = ferror(f);
  fclose(f);
  alto_status s = err ? alto_error(ALTO_ERR_IO, "%s: read error", path)
                      : alto_recipe_load_string(path, text, n, out);
  free(text);
  return s;
}

void alto_recipe_free(alto_recipe *r) {
  if (!r)
    return;
  for (int i = 0; i < r->n_lpt; i++)
    alto_recipe_lpt_clear_(&r->lpt[i]);
  free(r->lpt);
  for (int i = 0; i < r->n_ptq; i++) {
    alto_recipe_free_entries_(r->ptq[i].targets, r->ptq[i].n_targets);
    alto_recipe_free_entries_(r->ptq[i].ignore, r->ptq[i].n_ignore);
  }
  free(r->ptq);
  for (int i = 0; i < r->n_args; i++)
    free(r->arg_keys[i]), free(r->arg_vals[i]);
  free(r->arg_keys);
  free(r->arg_vals);
  for (int i = 0; i < r->n_resolved; i++)
    free(r->resolved[i]);
  free(r->resolved);
  alto_recipe_free_regexes(r);
  alto_recipe_lua_free(r->lua);
  free(r->stage);
  free(r->file);
  free(r);
}

int alto_recipe_lpt_count(const alto_recipe *r) {
  return r->n_lpt;
}

const alto_lpt_modifier *alto_recipe_lpt(const alto_recipe *r, int i) {
  ALTO_ASSERT(i >= 0 && i < r->n_lpt);
  return &r->lpt[i].mod;
}

bool alto_recipe_lpt_dynamic(const alto_recipe *r, int i) {
  ALTO_ASSERT(i >= 0 && i < r->n_lpt);
  return r->lpt[i].dynamic;
}

int alto_recipe_ptq_count(const alto_recipe *r) {
  return r->n_ptq;
}

const alto_ptq_modifier *alto_recipe_ptq(const alto_recipe *r, int i) {
  ALTO_ASSERT(i >= 0 && i < r->n_ptq);
  return &r->ptq[i];
}

int alto_recipe_arg_count(const alto_recipe *r) {
  return r->n_args;
}

const char *alto_recipe_arg_key(const alto_recipe *r, int i) {
  ALTO_ASSERT(i >= 0 && i < r->n_args);
  return r->arg_keys[i];
}

const char *alto_recipe_arg(const alto_recipe *r, const char *key) {
  for (int i = 0; i < r->n_args; i++)
    if (!strcmp(r->arg_keys[i], key))
      return r->arg_vals[i];
  return NULL;
}

const char *alto_recipe_file(const alto_recipe *r) {
  return r->file;
}
