/* The field tables of the modifiers and the one setter that applies a tree node to a field.
 *
 * YAML values, Lua values and the results of Lua per-module functions all pass through
 * alto_recipe_set_field_(), so a type rule or a valid-value list is written once.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "compiler/recipe_fields.h"

static const char *const alto_recipe_lpt_schemes_[] = {"bf16",        "mxfp4",         "mxfp8_e4m3",
                                                       "mxfp8_e5m2",  "nvfp4",         "fp8_block",
                                                       "fp8_rowwise", "fp8_tensorwise"};
static const alto_scheme alto_recipe_lpt_scheme_ids_[] = {
    ALTO_SCHEME_BF16,  ALTO_SCHEME_MXFP4,     ALTO_SCHEME_MXFP8_E4M3,  ALTO_SCHEME_MXFP8_E5M2,
    ALTO_SCHEME_NVFP4, ALTO_SCHEME_FP8_BLOCK, ALTO_SCHEME_FP8_ROWWISE, ALTO_SCHEME_FP8_TENSORWISE};
_Static_assert(sizeof alto_recipe_lpt_schemes_ / sizeof *alto_recipe_lpt_schemes_ ==
                   sizeof alto_recipe_lpt_scheme_ids_ / sizeof *alto_recipe_lpt_scheme_ids_,
               "one id per LPT scheme name");

static const char *const alto_recipe_two_level_names_[] = {"none", "tensorwise", "blockwise"};
static const char *const alto_recipe_clip_names_[] = {"none", "static", "dynamic"};
/* Index == alto_scale_rule / alto_elem value. */
static const char *const alto_recipe_rule_names_[] = {"even", "floor", "uos", "rceil"};
static const char *const alto_recipe_elem_names_[] = {"e2m1", "e4m3", "e5m2"};
static const char *const alto_recipe_ptq_formats_[] = {"mx9", "mx6", "int8"};
_Static_assert(sizeof(alto_two_level) == sizeof(int) && sizeof(alto_clip_mode) == sizeof(int) &&
                   sizeof(alto_scale_rule) == sizeof(int) && sizeof(alto_elem) == sizeof(int) &&
                   sizeof(alto_scheme) == sizeof(int) && sizeof(alto_ptq_format) == sizeof(int),
               "enum fields are set through int pointers");

#define ALTO_N_(a) (int)(sizeof(a) / sizeof((a)[0]))
#define ALTO_LPT_OFF_(f) offsetof(alto_lpt_modifier, f)
#define ALTO_ENUM_(a) a, ALTO_N_(a)

/* Order == the ALTO_LPT_F_* enum. */
static const alto_recipe_field_ alto_recipe_lpt_fields_[ALTO_LPT_F_COUNT] = {
    {"scheme", ALTO_FT_SCHEME, ALTO_LPT_OFF_(scheme), ALTO_ENUM_(alto_recipe_lpt_schemes_), 0, 0},
    {"targets", ALTO_FT_LIST, ALTO_LPT_OFF_(targets), NULL, 0, 0, 0},
    {"ignore", ALTO_FT_LIST, ALTO_LPT_OFF_(ignore), NULL, 0, 0, 0},
    {"use_2dblock_x", ALTO_FT_BOOL, ALTO_LPT_OFF_(use_2dblock_x), NULL, 0, 0, 0},
    {"use_2dblock_w", ALTO_FT_BOOL, ALTO_LPT_OFF_(use_2dblock_w), NULL, 0, 0, 0},
    {"use_hadamard", ALTO_FT_BOOL, ALTO_LPT_OFF_(use_hadamard), NULL, 0, 0, 0},
    {"use_sr_grad", ALTO_FT_BOOL, ALTO_LPT_OFF_(use_sr_grad), NULL, 0, 0, 0},
    {"use_dge", ALTO_FT_BOOL, ALTO_LPT_OFF_(use_dge), NULL, 0, 0, 0},
    {"use_uos", ALTO_FT_BOOL, ALTO_LPT_OFF_(use_uos), NULL, 0, 0, 0},
    {"two_level_scaling", ALTO_FT_ENUM, ALTO_LPT_OFF_(two_level_scaling),
     ALTO_ENUM_(alto_recipe_two_level_names_), 0, 0},
    {"clip_mode", ALTO_FT_ENUM, ALTO_LPT_OFF_(clip_mode), ALTO_ENUM_(alto_recipe_clip_names_), 0,
     0},
    {"lora_rank", ALTO_FT_INT, ALTO_LPT_OFF_(lora_rank), NULL, 0, 0, 1 << 20},
    {"deosc_step", ALTO_FT_INT, ALTO_LPT_OFF_(deosc_step), NULL, 0, 0, INT32_MAX},
    {"deosc_period", ALTO_FT_INT, ALTO_LPT_OFF_(deosc_period), NULL, 0, 1, INT32_MAX},
    {"deosc_ratio", ALTO_FT_FLOAT, ALTO_LPT_OFF_(deosc_ratio), NULL, 0, 0, 0},
    {"deosc_log_freq", ALTO_FT_INT, ALTO_LPT_OFF_(deosc_log_freq), NULL, 0, 0, INT32_MAX},
    {"scale_rule", ALTO_FT_ENUM, ALTO_LPT_OFF_(scale_rule), ALTO_ENUM_(alto_recipe_rule_names_), 0,
     0},
    {"hadamard_size", ALTO_FT_INT, ALTO_LPT_OFF_(hadamard_size), NULL, 0, 16, 256},
    {"grad_dtype", ALTO_FT_ENUM, ALTO_LPT_OFF_(grad_dtype), ALTO_ENUM_(alto_recipe_elem_names_), 0,
     0},
    {"start", ALTO_FT_I64, ALTO_LPT_OFF_(start), NULL, 0, 0, INT64_MAX},
    {"end", ALTO_FT_I64, ALTO_LPT_OFF_(end), NULL, 0, -1, INT64_MAX},
};

#define ALTO_PTQ_OFF_(f) offsetof(alto_ptq_modifier, f)
static const alto_recipe_field_ alto_recipe_ptq_fields_[ALTO_PTQ_F_COUNT] = {
    {"format", ALTO_FT_ENUM, ALTO_PTQ_OFF_(format), ALTO_ENUM_(alto_recipe_ptq_formats_), 0, 0},
    {"num_bits", ALTO_FT_INT, ALTO_PTQ_OFF_(num_bits), NULL, 0, 2, 16},
    {"group_size", ALTO_FT_INT, ALTO_PTQ_OFF_(group_size), NULL, 0, 1, 1 << 20},
    {"dynamic_weights", ALTO_FT_BOOL, ALTO_PTQ_OFF_(dynamic_weights), NULL, 0, 0, 0},
    {"dynamic_activations", ALTO_FT_BOOL, ALTO_PTQ_OFF_(dynamic_activations), NULL, 0, 0, 0},
    {"targets", ALTO_FT_LIST, ALTO_PTQ_OFF_(targets), NULL, 0, 0, 0},
    {"ignore", ALTO_FT_LIST, ALTO_PTQ_OFF_(ignore), NULL, 0, 0, 0},
    {"config_groups", ALTO_FT_NESTED, 0, NULL, 0, 0, 0},
};

const alto_recipe_field_ *alto_recipe_lpt_field(int f) {
  ALTO_ASSERT(f >= 0 && f < ALTO_LPT_F_COUNT);
  return &alto_recipe_lpt_fields_[f];
}

const alto_recipe_field_ *alto_recipe_ptq_field(int f) {
  ALTO_ASSERT(f >= 0 && f < ALTO_PTQ_F_COUNT);
  return &alto_recipe_ptq_fields_[f];
}

const char *alto_recipe_lpt_field_name(int field) {
  return alto_recipe_lpt_field(field)->name;
}

/* ---- names ------------------------------------------------------------------------------- */
void alto_recipe_join_(char *buf, size_t n, const char *const *names, int count) {
  buf[0] = '\0';
  for (int i = 0; i < count; i++) {
    if (i)
      strncat(buf, ", ", n - strlen(buf) - 1);
    strncat(buf, names[i], n - strlen(buf) - 1);
  }
}

/* Edit distance, for "did you mean". Short names only (longer ones get no suggestion). */
static int alto_recipe_distance_(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63)
    return 99;
  int d[64][64];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb];
}

const char *alto_recipe_suggest_(const char *word, const char *const *names, int n) {
  const char *best = NULL;
  int best_d = 3; /* at most two edits away */
  for (int i = 0; i < n; i++) {
    int d = alto_recipe_distance_(word, names[i]);
    if (d < best_d)
      best_d = d, best = names[i];
  }
  return best;
}

int alto_recipe_field_find_(const alto_recipe_field_ *t, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].name, key))
      return i;
  return -1;
}

alto_status alto_recipe_unknown_key_(const alto_rnode *key, const char *where,
                                     const alto_recipe_field_ *t, int n) {
  const char *names[32] = {0};
  char valid[1024];
  ALTO_ASSERT(n <= 32);
  for (int i = 0; i < n; i++)
    names[i] = t[i].name;
  alto_recipe_join_(valid, sizeof valid, names, n);
  const char *hint = alto_recipe_suggest_(key->text, names, n);
  return alto_recipe_fail(ALTO_ERR_PARSE, &key->loc, "%s: unknown key '%s'%s%s%s; valid: %s", where,
                          key->text, hint ? " (did you mean '" : "", hint ? hint : "",
                          hint ? "'?)" : "", valid);
}

/* ---- the setter --------------------------------------------------------------------------- */
static alto_status alto_recipe_wrong_type_(const alto_recipe_field_ *f, const char *where,
                                           const alto_rnode *v, const char *expected,
                                           const char *valid) {
  if (v->text)
    return alto_recipe_fail(ALTO_ERR_PARSE, &v->loc, "%s.%s: expected %s, got %s '%s'; valid: %s",
                            where, f->name, expected, alto_rnode_kind_name(v->kind), v->text,
                            valid);
  return alto_recipe_fail(ALTO_ERR_PARSE, &v->loc, "%s.%s: expected %s, got %s; valid: %s", where,
                          f->name, expected, alto_rnode_kind_name(v->kind), valid);
}

/* Integral value of an INT node, or of a FLOAT node holding an integer (Lua's 2.0). */
static bool alto_recipe_integral_(const alto_rnode *v, int64_t *out) {
  if (v->kind == ALTO_RNODE_INT) {
    *out = v->i;
    return true;
  }
  if (v->kind == ALTO_RNODE_FLOAT && v->f == floor(v->f) && fabs(v->f) < 9e18) {
    *out = (int64_t)v->f;
    return true;
  }
  return false;
}

static alto_status alto_recipe_set_int_(const alto_recipe_field_ *f, const char *where, char *dst,
                                        const alto_rnode *v) {
  int64_t x;
  char valid[96];
  if (f->max == INT64_MAX)
    snprintf(valid, sizeof valid, "an integer >= %lld", (long long)f->min);
  else
    snprintf(valid, sizeof valid, "an integer in %lld..%lld", (long long)f->min, (long long)f->max);
  if (!alto_recipe_integral_(v, &x))
    return alto_recipe_wrong_type_(f, where, v, "an integer", valid);
  if (x < f->min || x > f->max)
    return alto_recipe_fail(ALTO_ERR_INVALID_ARG, &v->loc, "%s.%s: %lld is out of range; valid: %s",
                            where, f->name, (long long)x, valid);
  if (f->type == ALTO_FT_I64)
    memcpy(dst, &x, sizeof x);
  else {
    int xi = (int)x;
    memcpy(dst, &xi, sizeof xi);
  }
  return ALTO_OK;
}

static alto_status alto_recipe_set_enum_(const alto_recipe_field_ *f, const char *where, char *dst,
                                         const alto_rnode *v) {
  char valid[512];
  alto_recipe_join_(valid, sizeof valid, f->names, f->n_names);
  if (v->kind != ALTO_RNODE_STR)
    return alto_recipe_wrong_type_(f, where, v, "a string", valid);
  for (int i = 0; i < f->n_names; i++)
    if (!strcmp(v->text, f->names[i])) {
      int x = f->type == ALTO_FT_SCHEME ? (int)alto_recipe_lpt_scheme_ids_[i] : i;
      memcpy(dst, &x, sizeof x);
      return ALTO_OK;
    }
  const char *hint = alto_recipe_suggest_(v->text, f->names, f->n_names);
  return alto_recipe_fail(ALTO_ERR_INVALID_ARG, &v->loc, "%s.%s: unknown %s '%s'%s%s%s; valid: %s",
                          where, f->name, f->type == ALTO_FT_SCHEME ? "scheme" : "value", v->text,
                          hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "",
                          valid);
}

void alto_recipe_free_entries_(alto_match_entry *e, int n) {
  for (int i = 0; i < n; i++)
    free(e[i].text);
  free(e);
}

/* A string or a list of strings -> match entries. */
static alto_status alto_recipe_set_list_(const alto_recipe_field_ *f, const char *where, char *dst,
                                         const alto_rnode *v) {
  const char *valid = "a name, a class or \"re:PATTERN\", or a list of them";
  if (v->kind != ALTO_RNODE_STR && v->kind != ALTO_RNODE_SEQ &&
      !(v->kind == ALTO_RNODE_MAP && v->n_items == 0)) /* Lua's {} */
    return alto_recipe_wrong_type_(f, where, v, "a string or a list of strings", valid);
  int n = v->kind == ALTO_RNODE_STR ? 1 : v->n_items;
  alto_match_entry *e = alto_xcalloc((size_t)n, sizeof *e);
  for (int i = 0; i < n; i++) {
    const alto_rnode *s = v->kind == ALTO_RNODE_STR ? v : v->items[i];
    if (s->kind != ALTO_RNODE_STR || !s->text[0]) {
      alto_recipe_free_entries_(e, i);
      return alto_recipe_wrong_type_(f, where, s, "a non-empty string", valid);
    }
    e[i].text = alto_xstrdup(s->text);
    e[i].loc = s->loc;
  }
  /* The pointer and its count are adjacent in both modifiers: {entries*, int n}. */
  alto_match_entry **pe = (alto_match_entry **)(void *)dst;
  int *pn = (int *)(void *)(dst + sizeof(alto_match_entry *));
  alto_recipe_free_entries_(*pe, *pn);
  *pe = e;
  *pn = n;
  return ALTO_OK;
}
_Static_assert(offsetof(alto_lpt_modifier, n_targets) ==
                       offsetof(alto_lpt_modifier, targets) + sizeof(alto_match_entry *) &&
                   offsetof(alto_lpt_modifier, n_ignore) ==
                       offsetof(alto_lpt_modifier, ignore) + sizeof(alto_match_entry *) &&
                   offsetof(alto_ptq_modifier, n_targets) ==
                       offsetof(alto_ptq_modifier, targets) + sizeof(alto_match_entry *) &&
                   offsetof(alto_ptq_modifier, n_ignore) ==
                       offsetof(alto_ptq_modifier, ignore) + sizeof(alto_match_entry *),
               "list fields are {pointer, count} pairs");

alto_status alto_recipe_set_field_(const alto_recipe_field_ *f, const char *where, void *base,
                                   const alto_rnode *v) {
  char *dst = (char *)base + f->offset;
  switch (f->type) {
  case ALTO_FT_BOOL:
    if (v->kind != ALTO_RNODE_BOOL)
      return alto_recipe_wrong_type_(f, where, v, "a boolean", "true, false");
    memcpy(dst, &v->b, sizeof v->b);
    return ALTO_OK;
  case ALTO_FT_INT:
  case ALTO_FT_I64:
    return alto_recipe_set_int_(f, where, dst, v);
  case ALTO_FT_FLOAT: {
    if (v->kind != ALTO_RNODE_INT && v->kind != ALTO_RNODE_FLOAT)
      return alto_recipe_wrong_type_(f, where, v, "a number", "a number > 0");
    double x = v->kind == ALTO_RNODE_INT ? (double)v->i : v->f;
    if (!(x > 0) || isinf(x))
      return alto_recipe_fail(ALTO_ERR_INVALID_ARG, &v->loc,
                              "%s.%s: %s is out of range; valid: a finite number > 0", where,
                              f->name, v->text);
    memcpy(dst, &x, sizeof x);
    return ALTO_OK;
  }
  case ALTO_FT_ENUM:
  case ALTO_FT_SCHEME:
    return alto_recipe_set_enum_(f, where, dst, v);
  case ALTO_FT_LIST:
    return alto_recipe_set_list_(f, where, dst, v);
  case ALTO_FT_NESTED:
    break;
  }
  ALTO_ASSERT_MSG(false, "nested fields are parsed by their modifier");
  return ALTO_ERR_INVALID_ARG;
}

alto_status alto_recipe_lpt_set_field(alto_recipe_lpt_ *m, int field, const alto_rnode *v) {
  ALTO_TRY(alto_recipe_set_field_(alto_recipe_lpt_field(field), "LowPrecisionTrainingModifier",
                                  &m->raw, v));
  m->set |= 1u << field;
  return ALTO_OK;
}

const char *alto_recipe_lpt_valid_schemes_(void) {
  static char buf[256];
  alto_recipe_join_(buf, sizeof buf, alto_recipe_lpt_schemes_, ALTO_N_(alto_recipe_lpt_schemes_));
  return buf;
}
