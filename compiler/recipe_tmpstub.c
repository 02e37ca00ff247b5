/* THROWAWAY stand-in for compiler/recipe.c (branch `recipe`), only so lowering can be tested
 * before that branch is merged. Understands just the LowPrecisionTrainingModifier mapping of a
 * YAML recipe. DELETE when recipe.c lands in main. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "compiler/recipe.h"

struct alto_recipe {
  alto_lpt_modifier lpt[4];
  int n_lpt;
  char file[256];
};

static void add_entries_(yaml_document_t *d, yaml_node_t *v, alto_match_entry **out, int *n,
                         const char *file) {
  *n = 0;
  *out = NULL;
  if (v->type != YAML_SEQUENCE_NODE)
    return;
  int cnt = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
  *out = alto_xcalloc((size_t)(cnt ? cnt : 1), sizeof **out);
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
       it++) {
    yaml_node_t *e = yaml_document_get_node(d, *it);
    (*out)[*n].text = alto_xstrdup((const char *)e->data.scalar.value);
    (*out)[*n].loc = (alto_srcloc){file, (int)e->start_mark.line + 1, 1};
    (*n)++;
  }
}

static void entries_default_(alto_match_entry **out, int *n, const char *text) {
  *out = alto_xcalloc(1, sizeof **out);
  (*out)[0].text = alto_xstrdup(text);
  *n = 1;
}

static void walk_(alto_recipe *r, yaml_document_t *d, yaml_node_t *node) {
  if (node->type != YAML_MAPPING_NODE)
    return;
  for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(d, p->key);
    yaml_node_t *v = yaml_document_get_node(d, p->value);
    if (strcmp((const char *)k->data.scalar.value, "LowPrecisionTrainingModifier") != 0 ||
        v->type != YAML_MAPPING_NODE || r->n_lpt == 4) {
      walk_(r, d, v);
      continue;
    }
    alto_lpt_modifier *m = &r->lpt[r->n_lpt++];
    memset(m, 0, sizeof *m);
    m->use_2dblock_w = true;
    m->hadamard_size = 32;
    m->end = -1;
    m->grad_dtype = ALTO_ELEM_E4M3;
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
      const char *key = (const char *)yaml_document_get_node(d, q->key)->data.scalar.value;
      yaml_node_t *val = yaml_document_get_node(d, q->value);
      const char *s = val->type == YAML_SCALAR_NODE ? (const char *)val->data.scalar.value : "";
      bool t = strcmp(s, "true") == 0;
      if (!strcmp(key, "scheme"))
        alto_scheme_parse(s, &m->scheme);
      else if (!strcmp(key, "targets"))
        add_entries_(d, val, &m->targets, &m->n_targets, r->file);
      else if (!strcmp(key, "ignore"))
        add_entries_(d, val, &m->ignore, &m->n_ignore, r->file);
      else if (!strcmp(key, "use_2dblock_x"))
        m->use_2dblock_x = t;
      else if (!strcmp(key, "use_2dblock_w"))
        m->use_2dblock_w = t;
      else if (!strcmp(key, "use_hadamard"))
        m->use_hadamard = t;
      else if (!strcmp(key, "use_sr_grad"))
        m->use_sr_grad = t;
      else if (!strcmp(key, "use_dge"))
        m->use_dge = t;
      else if (!strcmp(key, "grad_dtype"))
        alto_elem_parse(s, &m->grad_dtype);
    }
    if (!m->targets)
      entries_default_(&m->targets, &m->n_targets, "Linear");
    if (!m->ignore)
      entries_default_(&m->ignore, &m->n_ignore, "output");
  }
}

alto_status alto_recipe_load_string(const char *name, const char *text, size_t len,
                                    alto_recipe **out) {
  *out = NULL;
  yaml_parser_t parser;
  yaml_document_t doc;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    yaml_parser_delete(&parser);
    return alto_error(ALTO_ERR_PARSE, "%s: YAML error", name);
  }
  alto_recipe *r = alto_xcalloc(1, sizeof *r);
  snprintf(r->file, sizeof r->file, "%s", name);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root)
    walk_(r, &doc, root);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  *out = r;
  return ALTO_OK;
}

alto_status alto_recipe_load(const char *path, alto_recipe **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return alto_error(ALTO_ERR_NOT_FOUND, "%s: cannot open recipe", path);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return alto_recipe_load_string(path, buf, n, out);
}

static void free_entries_(alto_match_entry *e, int n) {
  for (int i = 0; i < n; i++)
    free(e[i].text);
  free(e);
}

void alto_recipe_free(alto_recipe *r) {
  if (!r)
    return;
  for (int i = 0; i < r->n_lpt; i++) {
    free_entries_(r->lpt[i].targets, r->lpt[i].n_targets);
    free_entries_(r->lpt[i].ignore, r->lpt[i].n_ignore);
  }
  free(r);
}

int alto_recipe_lpt_count(const alto_recipe *r) {
  return r->n_lpt;
}
const alto_lpt_modifier *alto_recipe_lpt(const alto_recipe *r, int i) {
  return &r->lpt[i];
}
int alto_recipe_ptq_count(const alto_recipe *r) {
  (void)r;
  return 0;
}
const alto_ptq_modifier *alto_recipe_ptq(const alto_recipe *r, int i) {
  (void)r;
  (void)i;
  return NULL;
}

static bool match_(const char *entry, const alto_module_query *q, char *what, size_t n) {
  if (strncmp(entry, "re:", 3) == 0) {
    char pat[512];
    snprintf(pat, sizeof pat, "^(%s)", entry + 3);
    regex_t re;
    if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0)
      return false;
    bool hit = false;
    for (int i = 0; i < q->n_names && !hit; i++)
      if (regexec(&re, q->names[i], 0, NULL, 0) == 0) {
        hit = true;
        snprintf(what, n, "name %s", q->names[i]);
      }
    regfree(&re);
    return hit;
  }
  for (int i = 0; i < q->n_names; i++)
    if (strcmp(entry, q->names[i]) == 0) {
      snprintf(what, n, "name %s", q->names[i]);
      return true;
    }
  for (int i = 0; i < q->n_classes; i++)
    if (strcmp(entry, q->classes[i]) == 0) {
      snprintf(what, n, "class %s", q->classes[i]);
      return true;
    }
  return false;
}

alto_status alto_recipe_resolve(const alto_recipe *r, const alto_module_query *q,
                                const alto_lpt_modifier **out_lpt, char *why, size_t why_len) {
  *out_lpt = NULL;
  snprintf(why, why_len, "no target matched");
  char what[128];
  for (int i = 0; i < r->n_lpt; i++) {
    const alto_lpt_modifier *m = &r->lpt[i];
    for (int j = 0; j < m->n_ignore; j++)
      if (match_(m->ignore[j].text, q, what, sizeof what)) {
        snprintf(why, why_len, "ignored by '%s' (%s)", m->ignore[j].text, what);
        return ALTO_OK;
      }
    for (int j = 0; j < m->n_targets; j++)
      if (match_(m->targets[j].text, q, what, sizeof what)) {
        snprintf(why, why_len, "target '%s' matched %s", m->targets[j].text, what);
        *out_lpt = m;
        return ALTO_OK;
      }
  }
  return ALTO_OK;
}

void alto_recipe_print(const alto_recipe *r, FILE *f) {
  for (int i = 0; i < r->n_lpt; i++)
    fprintf(f, "LowPrecisionTrainingModifier: scheme %s\n", alto_scheme_name(r->lpt[i].scheme));
}
