/* The device templates (every file under templates/), embedded into the binary at build time. */
#ifndef ALTO_RUNTIME_TEMPLATES_H
#define ALTO_RUNTIME_TEMPLATES_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct {
  const char *name; /* path relative to templates/, e.g. "quant/quant_rows.cuh" */
  const char *text;
  size_t size;
} alto_template_file;

extern const alto_template_file alto_template_files[];
extern const int alto_template_count;

/* The embedded file `name`, or NULL. */
const alto_template_file *alto_template_find(const char *name);
/* A 64-bit hash of every template's name and text (part of the kernel cache key). */
uint64_t alto_templates_hash(void);

/* Expands every `#include "file"` of an embedded template in `source` (named `name` in the line
 * directives), recursively, into one self-contained text for compilers that take no headers
 * (hiprtc). Each template is expanded once, at its first include (the templates have include
 * guards, so a later include would expand to nothing anyway); `#line` directives keep compiler
 * messages pointing at the template file and line. A quoted name is looked up from the template
 * root, then next to the including template. `#include <...>` lines are left alone (the templates
 * only have them in host-only branches). ALTO_ERR_NOT_FOUND for a quoted include that is not
 * embedded. The caller frees *out. */
alto_status alto_templates_expand(const char *name, const char *source, char **out);

#endif
