/* Target / ignore matching and alto_recipe_resolve().
 *
 * Semantics of compressed-tensors (match_name / match_class), which ALTO uses:
 *   "re:PAT"  re.match(PAT, name): anchored at the start of the name, not a full match;
 *   otherwise the exact module name, or the __name__ of any class in the module's MRO.
 * Patterns are POSIX extended regexes; the Python shorthands \d \D \s \S \w \W and the
 * non-capturing "(?:" are translated, since recipes written for Python use them.
 */
#include <string.h>

#include "compiler/recipe_fields.h"

/* Python-regex shorthands -> POSIX ERE. Outside bracket expressions only. */
static char *alto_recipe_regex_translate_(const char *pat) {
  size_t n = strlen(pat);
  char *out = alto_xmalloc(n * 12 + 1), *o = out;
  bool in_bracket = false;
  for (const char *p = pat; *p; p++) {
    const char *rep = NULL;
    if (!in_bracket && p[0] == '\\' && p[1]) {
      switch (p[1]) {
      case 'd':
        rep = "[0-9]";
        break;
      case 'D':
        rep = "[^0-9]";
        break;
      case 's':
        rep = "[[:space:]]";
        break;
      case 'S':
        rep = "[^[:space:]]";
        break;
      case 'w':
        rep = "[[:alnum:]_]";
        break;
      case 'W':
        rep = "[^[:alnum:]_]";
        break;
      default:
        *o++ = *p++; /* keep the escape and the escaped character together */
        *o++ = *p;
        continue;
      }
      p++;
    } else if (!in_bracket && p[0] == '(' && p[1] == '?' && p[2] == ':') {
      rep = "(";
      p += 2;
    } else if (p[0] == '[' && !in_bracket) {
      in_bracket = true;
      *o++ = *p;
      if (p[1] == '^')
        *o++ = *++p;
      if (p[1] == ']') /* a leading ']' is a member, not the end */
        *o++ = *++p;
      continue;
    } else if (p[0] == ']' && in_bracket) {
      in_bracket = false;
    }
    if (rep) {
      size_t k = strlen(rep);
      memcpy(o, rep, k);
      o += k;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* glibc's regcomp duplicates the tree for every repetition, so stacked quantifiers ("a++++")
 * and nested counted bounds ("(a{99}){99}") make it allocate without bound. Module-name
 * patterns need neither: refuse them before compiling. NULL when the pattern is fine. */
static const char *alto_recipe_regex_too_complex_(const char *p) {
  if (strlen(p) > 256)
    return "longer than 256 characters";
  bool in_bracket = false, after_quant = false;
  long product = 1;
  for (; *p; p++) {
    if (in_bracket) {
      in_bracket = *p != ']';
      continue;
    }
    bool quant = *p == '*' || *p == '+' || *p == '?' || (*p == '{' && p[1] >= '0' && p[1] <= '9');
    if (quant && after_quant)
      return "a quantifier follows another one";
    if (*p == '{' && quant) {
      char *end;
      long lo = strtol(p + 1, &end, 10), hi = lo;
      if (*end == ',')
        hi = end[1] >= '0' && end[1] <= '9' ? strtol(end + 1, &end, 10) : (end++, lo + 1);
      if (lo > 1000 || hi > 1000 || (product *= (hi > 1 ? hi : 1)) > 1024)
        return "its counted repetitions {m,n} multiply to more than 1024";
      p = *end == '}' ? end : end - 1;
    }
    if (*p == '\\' && p[1])
      p++;
    else if (*p == '[') {
      in_bracket = true;
      if (p[1] == '^')
        p++;
      if (p[1] == ']')
        p++;
    }
    after_quant = quant;
  }
  return NULL;
}

static alto_status alto_recipe_compile_one_(alto_recipe *r, const alto_match_entry *e) {
  if (strncmp(e->text, "re:", 3) != 0)
    return ALTO_OK;
  char *pat = alto_recipe_regex_translate_(e->text + 3);
  const char *why = alto_recipe_regex_too_complex_(pat);
  if (why) {
    free(pat);
    return alto_recipe_fail(ALTO_ERR_PARSE, &e->loc,
                            "bad regex '%s': %s; valid: a short POSIX extended regex with one "
                            "quantifier per atom",
                            e->text, why);
  }
  alto_recipe_regex_ *rx = &r->regex[r->n_regex];
  int rc = regcomp(&rx->re, pat, REG_EXTENDED);
  free(pat);
  if (rc != 0) {
    char msg[256];
    regerror(rc, &rx->re, msg, sizeof msg);
    return alto_recipe_fail(ALTO_ERR_PARSE, &e->loc,
                            "bad regex '%s': %s; valid: \"re:\" followed by a POSIX extended "
                            "regex (anchored at the start of the name)",
                            e->text, msg);
  }
  rx->entry = e;
  r->n_regex++;
  return ALTO_OK;
}

static alto_status alto_recipe_compile_list_(alto_recipe *r, const alto_match_entry *e, int n) {
  for (int i = 0; i < n; i++)
    ALTO_TRY(alto_recipe_compile_one_(r, &e[i]));
  return ALTO_OK;
}

alto_status alto_recipe_compile_regexes(alto_recipe *r) {
  int total = 0;
  for (int i = 0; i < r->n_lpt; i++)
    total += r->lpt[i].mod.n_targets + r->lpt[i].mod.n_ignore;
  for (int i = 0; i < r->n_ptq; i++)
    total += r->ptq[i].n_targets + r->ptq[i].n_ignore;
  r->regex = alto_xcalloc((size_t)(total ? total : 1), sizeof *r->regex);
  for (int i = 0; i < r->n_lpt; i++) {
    const alto_lpt_modifier *m = &r->lpt[i].mod;
    ALTO_TRY(alto_recipe_compile_list_(r, m->targets, m->n_targets));
    ALTO_TRY(alto_recipe_compile_list_(r, m->ignore, m->n_ignore));
  }
  for (int i = 0; i < r->n_ptq; i++) {
    ALTO_TRY(alto_recipe_compile_list_(r, r->ptq[i].targets, r->ptq[i].n_targets));
    ALTO_TRY(alto_recipe_compile_list_(r, r->ptq[i].ignore, r->ptq[i].n_ignore));
  }
  return ALTO_OK;
}

void alto_recipe_free_regexes(alto_recipe *r) {
  for (int i = 0; i < r->n_regex; i++)
    regfree(&r->regex[i].re);
  free(r->regex);
  r->regex = NULL;
  r->n_regex = 0;
}

static const regex_t *alto_recipe_regex_of_(const alto_recipe *r, const alto_match_entry *e) {
  for (int i = 0; i < r->n_regex; i++)
    if (r->regex[i].entry == e)
      return &r->regex[i].re;
  ALTO_ASSERT_MSG(false, "every re: entry is compiled at load");
  return NULL;
}

/* Does entry e match the module? On a match writes what matched into `how`. */
static bool alto_recipe_entry_matches_(const alto_recipe *r, const alto_match_entry *e,
                                       const alto_module_query *q, char *how, size_t how_len) {
  if (!strncmp(e->text, "re:", 3)) {
    const regex_t *re = alto_recipe_regex_of_(r, e);
    for (int i = 0; i < q->n_names; i++) {
      regmatch_t m;
      /* re.match: the leftmost match starts at 0 exactly when some match does. */
      if (regexec(re, q->names[i], 1, &m, 0) == 0 && m.rm_so == 0) {
        snprintf(how, how_len, "'%s' matched name %s", e->text, q->names[i]);
        return true;
      }
    }
    return false;
  }
  for (int i = 0; i < q->n_names; i++)
    if (!strcmp(e->text, q->names[i])) {
      snprintf(how, how_len, "'%s' matched name %s", e->text, q->names[i]);
      return true;
    }
  for (int i = 0; i < q->n_classes; i++)
    if (!strcmp(e->text, q->classes[i])) {
      snprintf(how, how_len, "'%s' matched class %s", e->text, q->classes[i]);
      return true;
    }
  return false;
}

static bool alto_recipe_list_matches_(const alto_recipe *r, const alto_match_entry *e, int n,
                                      const alto_module_query *q, char *how, size_t how_len) {
  for (int i = 0; i < n; i++)
    if (alto_recipe_entry_matches_(r, &e[i], q, how, how_len))
      return true;
  return false;
}

static bool alto_recipe_lpt_equal_(const alto_lpt_modifier *a, const alto_lpt_modifier *b) {
  return a->scheme == b->scheme && a->targets == b->targets && a->ignore == b->ignore &&
         a->use_2dblock_x == b->use_2dblock_x && a->use_2dblock_w == b->use_2dblock_w &&
         a->use_hadamard == b->use_hadamard && a->use_sr_grad == b->use_sr_grad &&
         a->use_dge == b->use_dge && a->use_uos == b->use_uos &&
         a->two_level_scaling == b->two_level_scaling && a->clip_mode == b->clip_mode &&
         a->lora_rank == b->lora_rank && a->deosc_step == b->deosc_step &&
         a->deosc_period == b->deosc_period && a->deosc_log_freq == b->deosc_log_freq &&
         a->deosc_ratio == b->deosc_ratio && a->scale_rule == b->scale_rule &&
         a->hadamard_size == b->hadamard_size && a->grad_dtype == b->grad_dtype &&
         a->start == b->start && a->end == b->end && a->loc.line == b->loc.line &&
         a->loc.col == b->loc.col;
}

/* A stable pointer to a modifier computed at resolve time (equal ones are shared). The recipe
 * is const to callers, but its cache of computed modifiers is not part of what it means. */
static const alto_lpt_modifier *alto_recipe_intern_(const alto_recipe *rc,
                                                    const alto_lpt_modifier *m) {
  alto_recipe *r = (alto_recipe *)rc;
  for (int i = 0; i < r->n_resolved; i++)
    if (alto_recipe_lpt_equal_(r->resolved[i], m))
      return r->resolved[i];
  if (r->n_resolved == r->cap_resolved) {
    r->cap_resolved = r->cap_resolved ? 2 * r->cap_resolved : 8;
    r->resolved = alto_xrealloc(r->resolved, (size_t)r->cap_resolved * sizeof *r->resolved);
  }
  alto_lpt_modifier *copy = alto_xmalloc(sizeof *copy);
  *copy = *m;
  r->resolved[r->n_resolved++] = copy;
  return copy;
}

/* Runs the Lua functions of a dynamic modifier for this module. *out NULL: high precision. */
static alto_status alto_recipe_lpt_dynamic_(const alto_recipe *r, const alto_recipe_lpt_ *base,
                                            const alto_module_query *q,
                                            const alto_lpt_modifier **out) {
  alto_recipe_lpt_ m = *base;
  for (int f = 0; f < ALTO_LPT_F_COUNT; f++) {
    if (base->fn_ref[f] < 0)
      continue;
    alto_rnode *v = NULL;
    alto_status s = alto_recipe_lua_call(r->lua, base->fn_ref[f], r->file, q, &v);
    if (s == ALTO_OK && f == ALTO_LPT_F_SCHEME && v->kind == ALTO_RNODE_NULL) {
      alto_rnode_free(v);
      *out = NULL; /* nil: this module stays in high precision */
      return ALTO_OK;
    }
    if (s == ALTO_OK)
      s = alto_recipe_lpt_set_field(&m, f, v);
    alto_rnode_free(v);
    if (s != ALTO_OK) {
      char msg[3600];
      snprintf(msg, sizeof msg, "%s", alto_last_error());
      return alto_error(s, "%s (returned by the Lua function of field '%s' for module %s)", msg,
                        alto_recipe_lpt_field_name(f), q->n_names ? q->names[0] : "?");
    }
  }
  for (int f = 0; f < ALTO_LPT_F_COUNT; f++)
    m.fn_ref[f] = -1; /* every rule applies now */
  alto_lpt_modifier done;
  alto_status s = alto_recipe_lpt_finalize(&m, &done, false);
  if (s != ALTO_OK) {
    char msg[3600];
    snprintf(msg, sizeof msg, "%s", alto_last_error());
    return alto_error(s, "%s (with the values the Lua functions gave for module %s)", msg,
                      q->n_names ? q->names[0] : "?");
  }
  *out = done.scheme == ALTO_SCHEME_BF16 ? NULL : alto_recipe_intern_(r, &done);
  return ALTO_OK;
}

static void alto_recipe_where_(const alto_srcloc *loc, char *buf, size_t n) {
  if (loc->line > 0)
    snprintf(buf, n, "%s:%d", loc->file, loc->line);
  else
    snprintf(buf, n, "%s", loc->file);
}

static bool alto_recipe_active_(const alto_lpt_modifier *m, int64_t step) {
  return step >= m->start && (m->end < 0 || step < m->end);
}

alto_status alto_recipe_resolve(const alto_recipe *r, const alto_module_query *q,
                                const alto_lpt_modifier **out_lpt, char *why, size_t why_len) {
  ALTO_ASSERT(r && q && out_lpt);
  char scratch[8];
  if (!why)
    why = scratch, why_len = sizeof scratch;
  *out_lpt = NULL;
  snprintf(why, why_len, "no target matched");
  bool told = false; /* `why` already holds an ignore/inactive reason */
  for (int i = 0; i < r->n_lpt; i++) {
    const alto_recipe_lpt_ *L = &r->lpt[i];
    const alto_lpt_modifier *m = &L->mod;
    char how[512], at[512];
    alto_recipe_where_(&m->loc, at, sizeof at);
    if (!alto_recipe_list_matches_(r, m->targets, m->n_targets, q, how, sizeof how))
      continue;
    if (alto_recipe_list_matches_(r, m->ignore, m->n_ignore, q, how, sizeof how)) {
      if (!told)
        snprintf(why, why_len, "ignored: %s (modifier at %s)", how, at);
      told = true;
      continue; /* ignore wins for this modifier; a later one may still take the module */
    }
    /* start/end written as values apply before any Lua function runs */
    bool step_fixed = L->fn_ref[ALTO_LPT_F_START] < 0 && L->fn_ref[ALTO_LPT_F_END] < 0;
    if (step_fixed && !alto_recipe_active_(m, q->step)) {
      if (!told)
        snprintf(why, why_len, "target %s but step %lld is outside [%lld, %lld) (modifier at %s)",
                 how, (long long)q->step, (long long)m->start, (long long)m->end, at);
      told = true;
      continue;
    }
    if (L->dynamic) {
      const alto_lpt_modifier *d = NULL;
      ALTO_TRY(alto_recipe_lpt_dynamic_(r, L, q, &d));
      if (d && !alto_recipe_active_(d, q->step))
        continue; /* the functions made it inactive at this step */
      snprintf(why, why_len, "target %s; the Lua function (modifier at %s) chose %s", how, at,
               d ? alto_scheme_name(d->scheme) : "bf16");
      *out_lpt = d;
      return ALTO_OK;
    }
    if (m->scheme == ALTO_SCHEME_BF16) {
      snprintf(why, why_len, "target %s of a bf16 modifier (at %s)", how, at);
      return ALTO_OK;
    }
    snprintf(why, why_len, "target %s: %s (modifier at %s)", how, alto_scheme_name(m->scheme), at);
    *out_lpt = m;
    return ALTO_OK;
  }
  return ALTO_OK;
}
