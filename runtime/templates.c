#include "runtime/templates.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const alto_template_file *alto_template_find(const char *name) {
  for (int i = 0; i < alto_template_count; i++)
    if (strcmp(alto_template_files[i].name, name) == 0)
      return &alto_template_files[i];
  return NULL;
}

uint64_t alto_templates_hash(void) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 over (name, NUL, text, NUL) of every file */
  for (int i = 0; i < alto_template_count; i++) {
    const alto_template_file *f = &alto_template_files[i];
    for (const char *p = f->name; *p; p++)
      h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h = (h ^ 0u) * 0x100000001b3ull;
    for (size_t k = 0; k < f->size; k++)
      h = (h ^ (unsigned char)f->text[k]) * 0x100000001b3ull;
    h = (h ^ 0u) * 0x100000001b3ull;
  }
  return h;
}

/* ---- include expansion ----------------------------------------------------------------------- */

typedef struct {
  char *s;
  size_t len, cap;
  bool *done; /* per template: already expanded */
} alto_tpl_expand_;

static void alto_tpl_put_(alto_tpl_expand_ *x, const char *p, size_t n) {
  if (x->len + n + 1 > x->cap) {
    x->cap = (x->len + n + 1) * 2;
    x->s = alto_xrealloc(x->s, x->cap);
  }
  memcpy(x->s + x->len, p, n);
  x->len += n;
  x->s[x->len] = '\0';
}

static void alto_tpl_printf_(alto_tpl_expand_ *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void alto_tpl_printf_(alto_tpl_expand_ *x, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  alto_tpl_put_(x, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The quoted name of an `#include "..."` line (begin, length), or false. */
static bool alto_tpl_include_(const char *line, const char *end, const char **q, size_t *qn) {
  const char *p = line;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end || *p++ != '#')
    return false;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if ((size_t)(end - p) < 7 || strncmp(p, "include", 7) != 0)
    return false;
  p += 7;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end || *p++ != '"')
    return false;
  const char *e = memchr(p, '"', (size_t)(end - p));
  if (!e)
    return false;
  *q = p;
  *qn = (size_t)(e - p);
  return true;
}

/* The embedded template an include names: from the template root, then next to `from` (the
 * including file's name). */
static int alto_tpl_resolve_(const char *q, size_t qn, const char *from) {
  char path[512];
  for (int pass = 0; pass < 2; pass++) {
    size_t dir = 0;
    if (pass == 1) {
      const char *slash = from ? strrchr(from, '/') : NULL;
      if (!slash)
        break;
      dir = (size_t)(slash - from) + 1;
    }
    if (dir + qn + 1 > sizeof path)
      continue;
    if (dir)
      memcpy(path, from, dir);
    memcpy(path + dir, q, qn);
    path[dir + qn] = '\0';
    for (int i = 0; i < alto_template_count; i++)
      if (strcmp(alto_template_files[i].name, path) == 0)
        return i;
  }
  return -1;
}

/* Appends `text` (named `name`) with its includes expanded. */
static alto_status alto_tpl_expand_text_(alto_tpl_expand_ *x, const char *name, const char *text,
                                         size_t size) {
  alto_tpl_printf_(x, "#line 1 \"%s\"\n", name);
  const char *p = text, *end = text + size;
  int line_no = 1;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *q;
    size_t qn;
    if (alto_tpl_include_(p, le, &q, &qn)) {
      int i = alto_tpl_resolve_(q, qn, name);
      if (i < 0)
        return alto_error(ALTO_ERR_NOT_FOUND,
                          "%s:%d: #include \"%.*s\" is not an embedded template (the templates/ "
                          "tree is embedded at build time: rebuild after adding a file)",
                          name, line_no, (int)qn, q);
      if (!x->done[i]) {
        x->done[i] = true;
        alto_tpl_printf_(x, "// alto: template \"%.*s\" inlined here\n", (int)qn, q);
        const alto_template_file *f = &alto_template_files[i];
        ALTO_TRY(alto_tpl_expand_text_(x, f->name, f->text, f->size));
      } else {
        alto_tpl_printf_(x, "// alto: template \"%.*s\" inlined above\n", (int)qn, q);
      }
      alto_tpl_printf_(x, "#line %d \"%s\"\n", line_no + 1, name);
    } else {
      alto_tpl_put_(x, p, (size_t)(le - p));
      alto_tpl_put_(x, "\n", 1);
    }
    p = nl ? nl + 1 : end;
    line_no++;
  }
  return ALTO_OK;
}

alto_status alto_templates_expand(const char *name, const char *source, char **out) {
  *out = NULL;
  alto_tpl_expand_ x = {NULL, 0, 0, alto_xcalloc((size_t)alto_template_count + 1, sizeof(bool))};
  int self = alto_tpl_resolve_(name, strlen(name), NULL); /* expanding a template itself */
  if (self >= 0)
    x.done[self] = true;
  alto_status st = alto_tpl_expand_text_(&x, name, source, strlen(source));
  free(x.done);
  if (st != ALTO_OK) {
    free(x.s);
    return st;
  }
  *out = x.s ? x.s : alto_xstrdup("");
  return ALTO_OK;
}
