#include "runtime/templates.h"

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
