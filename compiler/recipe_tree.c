/* The recipe tree and the YAML front end: libyaml events -> alto_rnode, keeping line:column. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <yaml.h>

#include "compiler/recipe_internal.h"

/* ---- nodes -------------------------------------------------------------------------------- */
alto_rnode *alto_rnode_new(alto_rnode_kind kind, const char *file, int line, int col) {
  alto_rnode *n = alto_xcalloc(1, sizeof *n);
  n->kind = kind;
  n->loc.file = file;
  n->loc.line = line;
  n->loc.col = col;
  n->fn_ref = -1;
  return n;
}

void alto_rnode_push(alto_rnode *parent, alto_rnode *child) {
  if (parent->n_items == parent->cap_items) {
    parent->cap_items = parent->cap_items ? 2 * parent->cap_items : 8;
    parent->items = alto_xrealloc(parent->items, (size_t)parent->cap_items * sizeof *parent->items);
  }
  parent->items[parent->n_items++] = child;
}

void alto_rnode_free(alto_rnode *n) {
  if (!n)
    return;
  for (int i = 0; i < n->n_items; i++)
    alto_rnode_free(n->items[i]);
  free(n->items);
  free(n->text);
  free(n);
}

const char *alto_rnode_kind_name(alto_rnode_kind k) {
  switch (k) {
  case ALTO_RNODE_NULL:
    return "null";
  case ALTO_RNODE_BOOL:
    return "a boolean";
  case ALTO_RNODE_INT:
    return "an integer";
  case ALTO_RNODE_FLOAT:
    return "a number";
  case ALTO_RNODE_STR:
    return "a string";
  case ALTO_RNODE_MAP:
    return "a mapping";
  case ALTO_RNODE_SEQ:
    return "a list";
  case ALTO_RNODE_FUNC:
    return "a Lua function";
  }
  return "?";
}

alto_status alto_recipe_fail(alto_status code, const alto_srcloc *loc, const char *fmt, ...) {
  char what[3072];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (loc && loc->line > 0)
    return alto_error(code, "%s:%d:%d: %s", loc->file, loc->line, loc->col, what);
  return alto_error(code, "%s: %s", loc && loc->file ? loc->file : "<recipe>", what);
}

/* ---- raw text checks ---------------------------------------------------------------------- */
/* Length of the UTF-8 sequence at p (1..4), or 0 when it is not well formed. */
static int alto_recipe_utf8_len_(const unsigned char *p, size_t left) {
  int n;
  uint32_t min;
  if (p[0] < 0x80)
    return 1;
  if ((p[0] & 0xE0) == 0xC0)
    n = 2, min = 0x80;
  else if ((p[0] & 0xF0) == 0xE0)
    n = 3, min = 0x800;
  else if ((p[0] & 0xF8) == 0xF0)
    n = 4, min = 0x10000;
  else
    return 0;
  if ((size_t)n > left)
    return 0;
  uint32_t cp = p[0] & (0x7F >> n);
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0; /* overlong, out of range, or a surrogate */
  return n;
}

bool alto_recipe_utf8_ok(const char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    int n = alto_recipe_utf8_len_((const unsigned char *)s + i, len - i);
    if (n == 0)
      return false;
    i += (size_t)n;
  }
  return true;
}

alto_status alto_recipe_check_text(const char *file, const char *text, size_t len) {
  alto_srcloc loc = {file, 0, 0};
  if (len > ALTO_RECIPE_MAX_BYTES)
    return alto_recipe_fail(
        ALTO_ERR_INVALID_ARG, &loc,
        "recipe is %zu bytes; recipes larger than %zu bytes (1 MiB) are refused", len,
        ALTO_RECIPE_MAX_BYTES);
  size_t i = 0;
  while (i < len && isspace((unsigned char)text[i]))
    i++;
  if (i == len)
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                            "empty recipe; valid: a YAML mapping of "
                            "<name>_stage keys, or a Lua script returning one");
  int line = 1, col = 1;
  for (i = 0; i < len;) {
    const unsigned char *p = (const unsigned char *)text + i;
    loc.line = line, loc.col = col;
    if (p[0] == 0)
      return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "binary data (a NUL byte); a recipe is text");
    int n = alto_recipe_utf8_len_(p, len - i);
    if (n == 0)
      return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                              "not UTF-8 text (byte 0x%02x); a recipe is UTF-8 text", p[0]);
    if (p[0] == '\n')
      line++, col = 1;
    else
      col++;
    i += (size_t)n;
  }
  return ALTO_OK;
}

/* ---- YAML --------------------------------------------------------------------------------- */
typedef struct {
  yaml_parser_t parser;
  const char *file;
} alto_recipe_yaml_;

static alto_status alto_recipe_yaml_error_(alto_recipe_yaml_ *y) {
  const yaml_parser_t *p = &y->parser;
  alto_srcloc loc = {y->file, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1};
  const char *problem = p->problem ? p->problem : "malformed YAML";
  if (p->context) {
    alto_srcloc ctx = {y->file, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1};
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "YAML syntax error: %s (%s at line %d)", problem,
                            p->context, ctx.line);
  }
  return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "YAML syntax error: %s", problem);
}

static alto_status alto_recipe_yaml_next_(alto_recipe_yaml_ *y, yaml_event_t *ev) {
  if (!yaml_parser_parse(&y->parser, ev))
    return alto_recipe_yaml_error_(y);
  return ALTO_OK;
}

static bool alto_recipe_is_int_(const char *s) {
  if (*s == '-' || *s == '+')
    s++;
  if (!*s)
    return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s))
      return false;
  return true;
}

/* [-+]?(digits[.digits] | .digits)([eE][-+]?digits)?, with at least one digit. */
static bool alto_recipe_is_float_(const char *s) {
  int digits = 0;
  if (*s == '-' || *s == '+')
    s++;
  for (; isdigit((unsigned char)*s); s++)
    digits++;
  if (*s == '.')
    for (s++; isdigit((unsigned char)*s); s++)
      digits++;
  if (!digits)
    return false;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+')
      s++;
    if (!isdigit((unsigned char)*s))
      return false;
    while (isdigit((unsigned char)*s))
      s++;
  }
  return *s == '\0';
}

/* YAML 1.2 core schema for plain scalars, except that only true/false are booleans (yes, no,
 * on, off stay strings: `clip_mode: none` must not become something else by accident). */
static void alto_recipe_type_plain_(alto_rnode *n) {
  const char *s = n->text;
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
    n->kind = ALTO_RNODE_BOOL, n->b = true;
  else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
    n->kind = ALTO_RNODE_BOOL, n->b = false;
  else if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
    n->kind = ALTO_RNODE_NULL;
  else if (alto_recipe_is_int_(s)) {
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
      n->kind = ALTO_RNODE_FLOAT, n->f = strtod(s, NULL);
    else
      n->kind = ALTO_RNODE_INT, n->i = v, n->f = (double)v;
  } else if (alto_recipe_is_float_(s))
    n->kind = ALTO_RNODE_FLOAT, n->f = strtod(s, NULL);
  else if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, "-.inf"))
    n->kind = ALTO_RNODE_FLOAT, n->f = s[0] == '-' ? -INFINITY : INFINITY;
  else if (!strcmp(s, ".nan") || !strcmp(s, ".NaN"))
    n->kind = ALTO_RNODE_FLOAT, n->f = NAN;
}

static alto_status alto_recipe_yaml_node_(alto_recipe_yaml_ *y, yaml_event_t *ev, int depth,
                                          alto_rnode **out);

static alto_rnode *alto_recipe_yaml_new_(alto_recipe_yaml_ *y, alto_rnode_kind k,
                                         const yaml_event_t *ev) {
  return alto_rnode_new(k, y->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1);
}

/* Reads children until the matching end event. Maps check that keys are unique strings. */
static alto_status alto_recipe_yaml_children_(alto_recipe_yaml_ *y, alto_rnode *parent, int depth) {
  yaml_event_type_t end =
      parent->kind == ALTO_RNODE_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
  for (;;) {
    yaml_event_t ev;
    ALTO_TRY(alto_recipe_yaml_next_(y, &ev));
    if (ev.type == end) {
      yaml_event_delete(&ev);
      return ALTO_OK;
    }
    alto_rnode *child = NULL;
    alto_status s = alto_recipe_yaml_node_(y, &ev, depth + 1, &child);
    yaml_event_delete(&ev);
    if (s != ALTO_OK) {
      alto_rnode_free(child);
      return s;
    }
    bool is_key = parent->kind == ALTO_RNODE_MAP && parent->n_items % 2 == 0;
    alto_rnode_push(parent, child);
    if (!is_key)
      continue;
    if (child->kind == ALTO_RNODE_MAP || child->kind == ALTO_RNODE_SEQ)
      return alto_recipe_fail(ALTO_ERR_PARSE, &child->loc,
                              "a mapping key must be a plain name, not %s",
                              alto_rnode_kind_name(child->kind));
    child->kind = ALTO_RNODE_STR; /* a key is a name, whatever it looks like */
    for (int i = 0; i + 2 < parent->n_items; i += 2)
      if (!strcmp(parent->items[i]->text, child->text))
        return alto_recipe_fail(ALTO_ERR_PARSE, &child->loc,
                                "duplicate key '%s' (first at line %d)", child->text,
                                parent->items[i]->loc.line);
  }
}

static alto_status alto_recipe_yaml_node_(alto_recipe_yaml_ *y, yaml_event_t *ev, int depth,
                                          alto_rnode **out) {
  alto_srcloc loc = {y->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1};
  if (depth > ALTO_RECIPE_MAX_DEPTH)
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "nesting deeper than %d levels",
                            ALTO_RECIPE_MAX_DEPTH);
  switch (ev->type) {
  case YAML_SCALAR_EVENT: {
    if (ev->data.scalar.tag && strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG) != 0)
      return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "YAML tag '%s' is not supported; valid: !!str",
                              (const char *)ev->data.scalar.tag);
    if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
      return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "a NUL character in a string");
    alto_rnode *n = alto_recipe_yaml_new_(y, ALTO_RNODE_STR, ev);
    n->text = alto_xstrdup((const char *)ev->data.scalar.value);
    if (ev->data.scalar.plain_implicit && !ev->data.scalar.tag &&
        ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
      alto_recipe_type_plain_(n);
    *out = n;
    return ALTO_OK;
  }
  case YAML_MAPPING_START_EVENT:
  case YAML_SEQUENCE_START_EVENT: {
    bool map = ev->type == YAML_MAPPING_START_EVENT;
    const yaml_char_t *tag = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    if (tag)
      return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "YAML tag '%s' is not supported",
                              (const char *)tag);
    *out = alto_recipe_yaml_new_(y, map ? ALTO_RNODE_MAP : ALTO_RNODE_SEQ, ev);
    return alto_recipe_yaml_children_(y, *out, depth);
  }
  case YAML_ALIAS_EVENT:
    /* Aliases would let a small file expand into a huge tree ("billion laughs"). */
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                            "YAML aliases (*%s) are not supported; write the value out",
                            (const char *)ev->data.alias.anchor);
  default:
    return alto_recipe_fail(ALTO_ERR_PARSE, &loc, "unexpected YAML event %d", (int)ev->type);
  }
}

/* Expects event `type` next (stream/document framing). */
static alto_status alto_recipe_yaml_expect_(alto_recipe_yaml_ *y, yaml_event_type_t type,
                                            yaml_event_t *ev) {
  ALTO_TRY(alto_recipe_yaml_next_(y, ev));
  if (ev->type == type)
    return ALTO_OK;
  alto_srcloc loc = {y->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1};
  alto_status s;
  if (type == YAML_DOCUMENT_START_EVENT && ev->type == YAML_STREAM_END_EVENT)
    s = alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                         "empty recipe (no YAML document); valid: a "
                         "mapping of <name>_stage keys");
  else if (type == YAML_STREAM_END_EVENT)
    s = alto_recipe_fail(ALTO_ERR_PARSE, &loc,
                         "more than one YAML document; a recipe is one document");
  else
    s = alto_recipe_fail(ALTO_ERR_PARSE, &loc, "unexpected YAML structure");
  yaml_event_delete(ev);
  return s;
}

static alto_status alto_recipe_yaml_document_(alto_recipe_yaml_ *y, alto_rnode **out) {
  yaml_event_t ev;
  ALTO_TRY(alto_recipe_yaml_expect_(y, YAML_STREAM_START_EVENT, &ev));
  yaml_event_delete(&ev);
  ALTO_TRY(alto_recipe_yaml_expect_(y, YAML_DOCUMENT_START_EVENT, &ev));
  yaml_event_delete(&ev);
  ALTO_TRY(alto_recipe_yaml_next_(y, &ev));
  alto_status s = alto_recipe_yaml_node_(y, &ev, 1, out);
  yaml_event_delete(&ev);
  ALTO_TRY(s);
  ALTO_TRY(alto_recipe_yaml_expect_(y, YAML_DOCUMENT_END_EVENT, &ev));
  yaml_event_delete(&ev);
  ALTO_TRY(alto_recipe_yaml_expect_(y, YAML_STREAM_END_EVENT, &ev));
  yaml_event_delete(&ev);
  return ALTO_OK;
}

alto_status alto_recipe_yaml_parse(const char *file, const char *text, size_t len,
                                   alto_rnode **out) {
  alto_recipe_yaml_ y = {.file = file};
  *out = NULL;
  if (!yaml_parser_initialize(&y.parser))
    return alto_error(ALTO_ERR_NOMEM, "%s: cannot initialize the YAML parser", file);
  yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
  yaml_parser_set_encoding(&y.parser, YAML_UTF8_ENCODING);
  alto_rnode *root = NULL;
  alto_status s = alto_recipe_yaml_document_(&y, &root);
  yaml_parser_delete(&y.parser);
  if (s != ALTO_OK) {
    alto_rnode_free(root);
    return s;
  }
  *out = root;
  return ALTO_OK;
}
