/* The device templates (every file under templates/), embedded into the binary at build time. */
#ifndef ALTO_RUNTIME_TEMPLATES_H
#define ALTO_RUNTIME_TEMPLATES_H

#include <stddef.h>
#include <stdint.h>

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

#endif
