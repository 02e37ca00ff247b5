/* Field tables of the recipe modifiers (internal to compiler/recipe*.c). */
#ifndef ALTO_COMPILER_RECIPE_FIELDS_H
#define ALTO_COMPILER_RECIPE_FIELDS_H

#include "compiler/recipe_internal.h"

typedef enum {
  ALTO_FT_BOOL,
  ALTO_FT_INT, /* int */
  ALTO_FT_I64, /* int64_t */
  ALTO_FT_FLOAT,
  ALTO_FT_ENUM,   /* a string out of `names`, stored as its index */
  ALTO_FT_SCHEME, /* a string out of `names`, stored as alto_scheme */
  ALTO_FT_LIST,   /* a string or a list of strings -> alto_match_entry[] */
  ALTO_FT_NESTED  /* parsed by the modifier itself (config_groups) */
} alto_recipe_ftype_;

typedef struct {
  const char *name;
  alto_recipe_ftype_ type;
  size_t offset; /* in the public modifier struct */
  const char *const *names;
  int n_names;
  int64_t min, max; /* integers */
} alto_recipe_field_;

enum {
  ALTO_PTQ_F_FORMAT,
  ALTO_PTQ_F_NUM_BITS,
  ALTO_PTQ_F_GROUP_SIZE,
  ALTO_PTQ_F_DYN_W,
  ALTO_PTQ_F_DYN_A,
  ALTO_PTQ_F_TARGETS,
  ALTO_PTQ_F_IGNORE,
  ALTO_PTQ_F_CONFIG_GROUPS,
  ALTO_PTQ_F_COUNT
};

const alto_recipe_field_ *alto_recipe_lpt_field(int f);
const alto_recipe_field_ *alto_recipe_ptq_field(int f);

/* Applies node v to field f of the struct at base; `where` names the modifier in messages. */
alto_status alto_recipe_set_field_(const alto_recipe_field_ *f, const char *where, void *base,
                                   const alto_rnode *v);
int alto_recipe_field_find_(const alto_recipe_field_ *t, int n, const char *key);
alto_status alto_recipe_unknown_key_(const alto_rnode *key, const char *where,
                                     const alto_recipe_field_ *t, int n);
/* The closest name within two edits, or NULL. */
const char *alto_recipe_suggest_(const char *word, const char *const *names, int n);
void alto_recipe_join_(char *buf, size_t n, const char *const *names, int count);
void alto_recipe_free_entries_(alto_match_entry *e, int n);
const char *alto_recipe_lpt_valid_schemes_(void); /* "bf16, mxfp4, ..." */
alto_match_entry *alto_recipe_entries_copy_(const alto_match_entry *src, int n);

/* recipe_ptq.c: one QuantizationModifier (flat, or config_groups: one modifier per group). */
alto_status alto_recipe_ptq_parse(alto_recipe *r, const alto_rnode *key, const alto_rnode *val);

#endif
