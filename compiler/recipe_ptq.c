/* QuantizationModifier: post-training W+A fake-quant (ALTO's mx9/mx6 recipes, INT8 W8A8), and
 * alto_recipe_print().
 *
 * Two shapes are accepted: the flat one (format, num_bits, group_size, dynamic_weights,
 * dynamic_activations, targets, ignore) and llm-compressor's nested one
 *     config_groups: {group_0: {targets: [...], weights: {...}, input_activations: {...}}}
 * which becomes one modifier per group. alto fake-quantizes weights and activations with one
 * format, so the two argument blocks must agree on it.
 */
#include <string.h>

#include "compiler/recipe_fields.h"

#define ALTO_PTQ_CLASS "QuantizationModifier"

typedef struct {
  alto_ptq_modifier m;
  uint32_t set;
  alto_srcloc field_loc[ALTO_PTQ_F_COUNT];
} alto_recipe_ptq_;

static void alto_recipe_ptq_clear_(alto_ptq_modifier *m) {
  alto_recipe_free_entries_(m->targets, m->n_targets);
  alto_recipe_free_entries_(m->ignore, m->n_ignore);
  m->targets = m->ignore = NULL;
  m->n_targets = m->n_ignore = 0;
}

static alto_status alto_recipe_ptq_set_(alto_recipe_ptq_ *p, int f, const alto_rnode *k,
                                        const alto_rnode *v, const char *where) {
  const alto_recipe_field_ *fd = alto_recipe_ptq_field(f);
  if (v->kind == ALTO_RNODE_FUNC)
    return alto_recipe_fail(ALTO_ERR_PARSE, &k->loc,
                            "%s.%s: a Lua function is only allowed in "
                            "LowPrecisionTrainingModifier; valid: a value",
                            where, fd->name);
  /* A second block (input_activations after weights) must agree with the first. */
  alto_ptq_modifier before = p->m;
  ALTO_TRY(alto_recipe_set_field_(fd, where, &p->m, v));
  if ((p->set & (1u << f)) && fd->type != ALTO_FT_BOOL && fd->type != ALTO_FT_LIST &&
      memcmp((char *)&before + fd->offset, (char *)&p->m + fd->offset, sizeof(int)) != 0)
    return alto_recipe_fail(ALTO_ERR_INVALID_ARG, &v->loc,
                            "%s.%s: '%s' differs from the value at line %d; valid: one value for "
                            "weights and activations",
                            where, fd->name, v->text ? v->text : "?", p->field_loc[f].line);
  p->set |= 1u << f;
  p->field_loc[f] = k->loc;
  return ALTO_OK;
}

/* weights / input_activations: compressed-tensors QuantizationArgs, the parts alto uses. */
static alto_status alto_recipe_ptq_args_(alto_recipe_ptq_ *p, const alto_rnode *args,
                                         const char *where, bool weights) {
  static const char *const types[] = {"int", "float"};
  static const char *const strategies[] = {"tensor", "channel", "group",
                                           "block",  "token",   "tensor_group"};
  static const alto_recipe_field_ extra[] = {
      {"type", ALTO_FT_ENUM, 0, types, 2, 0, 0},
      {"strategy", ALTO_FT_ENUM, 0, strategies, 6, 0, 0},
      {"symmetric", ALTO_FT_BOOL, 0, NULL, 0, 0, 0},
      {"num_bits", 0, 0, NULL, 0, 0, 0},
      {"group_size", 0, 0, NULL, 0, 0, 0},
      {"format", 0, 0, NULL, 0, 0, 0},
      {"dynamic", 0, 0, NULL, 0, 0, 0},
  };
  if (args->kind == ALTO_RNODE_NULL)
    return ALTO_OK;
  if (args->kind != ALTO_RNODE_MAP)
    return alto_recipe_fail(ALTO_ERR_PARSE, &args->loc,
                            "%s: expected a mapping, got %s; valid: "
                            "{num_bits, format, group_size, dynamic}",
                            where, alto_rnode_kind_name(args->kind));
  for (int i = 0; i < args->n_items; i += 2) {
    const alto_rnode *k = args->items[i], *v = args->items[i + 1];
    int e = alto_recipe_field_find_(extra, 7, k->text);
    if (e < 0)
      return alto_recipe_unknown_key_(k, where, extra, 7);
    if (e < 3) { /* checked, not used: alto's formats fix them */
      union {
        int i;
        bool b;
      } sink;
      ALTO_TRY(alto_recipe_set_field_(&extra[e], where, &sink, v));
      if (e == 0 && sink.i == 0 && !(p->set & (1u << ALTO_PTQ_F_FORMAT))) {
        alto_rnode int8 = {.kind = ALTO_RNODE_STR, .loc = v->loc, .text = "int8"};
        ALTO_TRY(alto_recipe_ptq_set_(p, ALTO_PTQ_F_FORMAT, k, &int8, where));
      }
      continue;
    }
    int f = e == 3   ? ALTO_PTQ_F_NUM_BITS
            : e == 4 ? ALTO_PTQ_F_GROUP_SIZE
            : e == 5 ? ALTO_PTQ_F_FORMAT
                     : (weights ? ALTO_PTQ_F_DYN_W : ALTO_PTQ_F_DYN_A);
    ALTO_TRY(alto_recipe_ptq_set_(p, f, k, v, where));
  }
  return ALTO_OK;
}

static alto_status alto_recipe_ptq_finalize_(alto_recipe_ptq_ *p, const char *file) {
  alto_ptq_modifier *m = &p->m;
  static const int bits[] = {8, 5, 8}; /* mx9: 8-bit mantissa incl. sign; mx6: 5; int8 */
  if (!(p->set & (1u << ALTO_PTQ_F_FORMAT)))
    return alto_recipe_fail(ALTO_ERR_PARSE, &m->loc,
                            ALTO_PTQ_CLASS ": missing required field 'format'; valid: mx9, mx6, "
                                           "int8");
  const char *fname = m->format == ALTO_PTQ_MX9   ? "mx9"
                      : m->format == ALTO_PTQ_MX6 ? "mx6"
                                                  : "int8";
  if (!(p->set & (1u << ALTO_PTQ_F_NUM_BITS)))
    m->num_bits = bits[m->format];
  else if (m->num_bits != bits[m->format])
    return alto_recipe_fail(ALTO_ERR_INVALID_ARG, &p->field_loc[ALTO_PTQ_F_NUM_BITS],
                            ALTO_PTQ_CLASS ".num_bits: %d does not fit format %s; valid: %d",
                            m->num_bits, fname, bits[m->format]);
  if (m->format != ALTO_PTQ_INT8) {
    if (!(p->set & (1u << ALTO_PTQ_F_GROUP_SIZE)))
      m->group_size = 16;
    else if ((m->group_size & (m->group_size - 1)) || m->group_size < 2)
      return alto_recipe_fail(ALTO_ERR_INVALID_ARG, &p->field_loc[ALTO_PTQ_F_GROUP_SIZE],
                              ALTO_PTQ_CLASS ".group_size: %d is not a power of two >= 2 (MX "
                                             "sub-blocks are pairs); valid: 2, 4, 8, 16, 32, ...",
                              m->group_size);
  }
  if (!(p->set & (1u << ALTO_PTQ_F_TARGETS))) {
    m->targets = alto_xcalloc(1, sizeof *m->targets);
    m->targets[0].text = alto_xstrdup("Linear");
    m->targets[0].loc = (alto_srcloc){file, 0, 0};
    m->n_targets = 1;
  }
  return ALTO_OK;
}

static alto_status alto_recipe_ptq_append_(alto_recipe *r, alto_recipe_ptq_ *p) {
  alto_status s = alto_recipe_ptq_finalize_(p, r->file);
  if (s != ALTO_OK) {
    alto_recipe_ptq_clear_(&p->m);
    return s;
  }
  r->ptq = alto_xrealloc(r->ptq, (size_t)(r->n_ptq + 1) * sizeof *r->ptq);
  r->ptq[r->n_ptq++] = p->m;
  return ALTO_OK;
}

static alto_status alto_recipe_ptq_group_(alto_recipe_ptq_ *p, const alto_rnode *name,
                                          const alto_rnode *g) {
  char where[256];
  snprintf(where, sizeof where, ALTO_PTQ_CLASS ".config_groups.%s", name->text);
  if (g->kind != ALTO_RNODE_MAP)
    return alto_recipe_fail(ALTO_ERR_PARSE, &g->loc,
                            "%s: expected a mapping, got %s; valid: "
                            "{targets, weights, input_activations}",
                            where, alto_rnode_kind_name(g->kind));
  for (int i = 0; i < g->n_items; i += 2) {
    const alto_rnode *k = g->items[i], *v = g->items[i + 1];
    char sub[320];
    snprintf(sub, sizeof sub, "%s.%s", where, k->text);
    if (!strcmp(k->text, "targets"))
      ALTO_TRY(alto_recipe_ptq_set_(p, ALTO_PTQ_F_TARGETS, k, v, where));
    else if (!strcmp(k->text, "weights"))
      ALTO_TRY(alto_recipe_ptq_args_(p, v, sub, true));
    else if (!strcmp(k->text, "input_activations"))
      ALTO_TRY(alto_recipe_ptq_args_(p, v, sub, false));
    else if (!strcmp(k->text, "output_activations") && v->kind == ALTO_RNODE_NULL)
      continue; /* compressed-tensors writes it out as null */
    else
      return alto_recipe_fail(ALTO_ERR_PARSE, &k->loc,
                              "%s: unknown key '%s'; valid: targets, weights, input_activations",
                              where, k->text);
  }
  return ALTO_OK;
}

static alto_status alto_recipe_ptq_groups_(alto_recipe *r, alto_recipe_ptq_ *base,
                                           const alto_rnode *groups) {
  if (groups->kind != ALTO_RNODE_MAP || groups->n_items == 0)
    return alto_recipe_fail(ALTO_ERR_PARSE, &groups->loc,
                            ALTO_PTQ_CLASS ".config_groups: expected a non-empty mapping of "
                                           "groups; valid: {group_0: {targets, weights, "
                                           "input_activations}}");
  if (base->set & (1u << ALTO_PTQ_F_TARGETS))
    return alto_recipe_fail(ALTO_ERR_PARSE, &base->field_loc[ALTO_PTQ_F_TARGETS],
                            ALTO_PTQ_CLASS ".targets: not allowed beside config_groups; valid: "
                                           "targets inside each group");
  for (int i = 0; i < groups->n_items; i += 2) {
    alto_recipe_ptq_ one = *base;
    one.m.targets = NULL, one.m.n_targets = 0;
    one.m.ignore =
        base->m.n_ignore ? alto_recipe_entries_copy_(base->m.ignore, base->m.n_ignore) : NULL;
    alto_status s = alto_recipe_ptq_group_(&one, groups->items[i], groups->items[i + 1]);
    if (s != ALTO_OK) {
      alto_recipe_ptq_clear_(&one.m);
      return s;
    }
    ALTO_TRY(alto_recipe_ptq_append_(r, &one));
  }
  return ALTO_OK;
}

alto_status alto_recipe_ptq_parse(alto_recipe *r, const alto_rnode *key, const alto_rnode *val) {
  if (val->kind != ALTO_RNODE_MAP)
    return alto_recipe_fail(ALTO_ERR_PARSE, &val->loc,
                            ALTO_PTQ_CLASS ": expected a mapping of fields, got %s; valid: "
                                           "{format: mx9, targets: [...], ...}",
                            alto_rnode_kind_name(val->kind));
  alto_recipe_ptq_ p;
  memset(&p, 0, sizeof p);
  p.m.loc = key->loc;
  const alto_rnode *groups = NULL;
  alto_status s = ALTO_OK;
  for (int i = 0; i < val->n_items && s == ALTO_OK; i += 2) {
    const alto_rnode *k = val->items[i], *v = val->items[i + 1];
    int f = alto_recipe_field_find_(alto_recipe_ptq_field(0), ALTO_PTQ_F_COUNT, k->text);
    if (f < 0)
      s = alto_recipe_unknown_key_(k, ALTO_PTQ_CLASS, alto_recipe_ptq_field(0), ALTO_PTQ_F_COUNT);
    else if (f == ALTO_PTQ_F_CONFIG_GROUPS)
      groups = v;
    else
      s = alto_recipe_ptq_set_(&p, f, k, v, ALTO_PTQ_CLASS);
  }
  if (s == ALTO_OK && groups)
    s = alto_recipe_ptq_groups_(r, &p, groups);
  else if (s == ALTO_OK)
    return alto_recipe_ptq_append_(r, &p);
  alto_recipe_ptq_clear_(&p.m);
  return s;
}

/* ---- printing ----------------------------------------------------------------------------- */
static void alto_recipe_print_list_(FILE *f, const char *key, const alto_match_entry *e, int n) {
  fprintf(f, "      %s: [", key);
  for (int i = 0; i < n; i++)
    fprintf(f, "%s\"%s\"", i ? ", " : "", e[i].text);
  fprintf(f, "]\n");
}

static void alto_recipe_print_lpt_(FILE *f, const alto_lpt_modifier *m, bool dynamic) {
  static const char *const two[] = {"none", "tensorwise", "blockwise"};
  static const char *const clip[] = {"none", "static", "dynamic"};
  fprintf(f, "    LowPrecisionTrainingModifier:%s\n", dynamic ? "  # fields decided by Lua" : "");
  fprintf(f, "      scheme: %s\n", alto_scheme_name(m->scheme));
  alto_recipe_print_list_(f, "targets", m->targets, m->n_targets);
  alto_recipe_print_list_(f, "ignore", m->ignore, m->n_ignore);
  fprintf(f,
          "      use_2dblock_x: %d\n      use_2dblock_w: %d\n      use_hadamard: %d\n"
          "      use_sr_grad: %d\n      use_dge: %d\n      use_uos: %d\n",
          m->use_2dblock_x, m->use_2dblock_w, m->use_hadamard, m->use_sr_grad, m->use_dge,
          m->use_uos);
  fprintf(f, "      two_level_scaling: %s\n      clip_mode: %s\n      lora_rank: %d\n",
          two[m->two_level_scaling], clip[m->clip_mode], m->lora_rank);
  fprintf(f, "      deosc: {step: %d, period: %d, ratio: %g, log_freq: %d}\n", m->deosc_step,
          m->deosc_period, m->deosc_ratio, m->deosc_log_freq);
  fprintf(f, "      scale_rule: %s\n      hadamard_size: %d\n      grad_dtype: %s\n",
          alto_scale_rule_name(m->scale_rule), m->hadamard_size, alto_elem_name(m->grad_dtype));
  fprintf(f, "      start: %lld\n      end: %lld\n", (long long)m->start, (long long)m->end);
}

void alto_recipe_print(const alto_recipe *r, FILE *f) {
  static const char *const fmt[] = {"mx9", "mx6", "int8"};
  fprintf(f, "# recipe %s\n", r->file);
  if (r->n_args) {
    fprintf(f, "args:\n");
    for (int i = 0; i < r->n_args; i++)
      fprintf(f, "  %s: \"%s\"\n", r->arg_keys[i], r->arg_vals[i]);
  }
  fprintf(f, "%s_stage:\n  modifiers:\n", r->stage ? r->stage : "empty");
  for (int i = 0; i < r->n_lpt; i++)
    alto_recipe_print_lpt_(f, &r->lpt[i].mod, r->lpt[i].dynamic);
  for (int i = 0; i < r->n_ptq; i++) {
    const alto_ptq_modifier *m = &r->ptq[i];
    fprintf(f, "    QuantizationModifier:\n      format: %s\n      num_bits: %d\n", fmt[m->format],
            m->num_bits);
    fprintf(f, "      group_size: %d\n      dynamic_weights: %d\n      dynamic_activations: %d\n",
            m->group_size, m->dynamic_weights, m->dynamic_activations);
    alto_recipe_print_list_(f, "targets", m->targets, m->n_targets);
    alto_recipe_print_list_(f, "ignore", m->ignore, m->n_ignore);
  }
}
