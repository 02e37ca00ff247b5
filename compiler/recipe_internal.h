/* Internals of the recipe loader, shared by compiler/recipe*.c (not part of the contract).
 *
 * Both languages are first turned into one tree of alto_rnode (recipe_tree.c for YAML,
 * recipe_lua.c for Lua); recipe.c then validates that tree with one field table, so a rule is
 * written once whatever the language. Lua function values stay in the tree as registry
 * references and are called at resolve time through the same field setters.
 */
#ifndef ALTO_COMPILER_RECIPE_INTERNAL_H
#define ALTO_COMPILER_RECIPE_INTERNAL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/recipe.h"

/* Limits on untrusted input (documented in docs/recipes.md). */
#define ALTO_RECIPE_MAX_BYTES ((size_t)1 << 20) /* 1 MiB */
#define ALTO_RECIPE_MAX_DEPTH 64
#define ALTO_RECIPE_LUA_MAX_INSTRUCTIONS 100000000ull /* 1e8 per script run / per call */
#define ALTO_RECIPE_LUA_MAX_MEMORY ((size_t)64 << 20) /* 64 MiB per recipe */

typedef enum {
  ALTO_RNODE_NULL,
  ALTO_RNODE_BOOL,
  ALTO_RNODE_INT,
  ALTO_RNODE_FLOAT,
  ALTO_RNODE_STR,
  ALTO_RNODE_MAP, /* items = key, value, key, value, ... (keys are STR nodes) */
  ALTO_RNODE_SEQ,
  ALTO_RNODE_FUNC /* a Lua function, kept as a registry reference */
} alto_rnode_kind;

typedef struct alto_rnode {
  alto_rnode_kind kind;
  alto_srcloc loc;
  char *text; /* scalars: the value as written ("true", "32", "mxfp4"); NULL otherwise */
  bool b;
  int64_t i;
  double f;
  int fn_ref; /* FUNC: luaL_ref in the recipe's lua_State */
  struct alto_rnode **items;
  int n_items, cap_items;
} alto_rnode;

alto_rnode *alto_rnode_new(alto_rnode_kind kind, const char *file, int line, int col);
void alto_rnode_push(alto_rnode *parent, alto_rnode *child); /* takes ownership */
void alto_rnode_free(alto_rnode *n);
const char *alto_rnode_kind_name(alto_rnode_kind k); /* "a boolean", "a mapping", ... */
static inline int alto_rnode_map_len(const alto_rnode *n) {
  return n->n_items / 2;
}

/* Checks size, NUL bytes and UTF-8 (for both languages). */
alto_status alto_recipe_check_text(const char *file, const char *text, size_t len);
bool alto_recipe_utf8_ok(const char *s, size_t len);
/* YAML text -> tree. */
alto_status alto_recipe_yaml_parse(const char *file, const char *text, size_t len,
                                   alto_rnode **out);

/* ---- Lua ---------------------------------------------------------------------------------- */
typedef struct alto_recipe_lua alto_recipe_lua;

/* Runs the script in a fresh sandbox and converts the returned table. */
alto_status alto_recipe_lua_run(const char *file, const char *text, size_t len,
                                alto_recipe_lua **out_state, alto_rnode **out_tree);
void alto_recipe_lua_free(alto_recipe_lua *L);
/* Calls the function `fn_ref` with the module table m; the result becomes a scalar node. */
alto_status alto_recipe_lua_call(alto_recipe_lua *L, int fn_ref, const char *file,
                                 const alto_module_query *q, alto_rnode **out);
/* Lowers the sandbox limits for every later state (the fuzzer keeps each run short).
 * 0 restores a default. */
void alto_recipe_lua_set_limits(uint64_t max_instructions, size_t max_memory);

/* ---- the recipe --------------------------------------------------------------------------- */
enum {
  ALTO_LPT_F_SCHEME,
  ALTO_LPT_F_TARGETS,
  ALTO_LPT_F_IGNORE,
  ALTO_LPT_F_2DBLOCK_X,
  ALTO_LPT_F_2DBLOCK_W,
  ALTO_LPT_F_HADAMARD,
  ALTO_LPT_F_SR_GRAD,
  ALTO_LPT_F_DGE,
  ALTO_LPT_F_UOS,
  ALTO_LPT_F_TWO_LEVEL,
  ALTO_LPT_F_CLIP,
  ALTO_LPT_F_LORA,
  ALTO_LPT_F_DEOSC_STEP,
  ALTO_LPT_F_DEOSC_PERIOD,
  ALTO_LPT_F_DEOSC_RATIO,
  ALTO_LPT_F_DEOSC_LOG,
  ALTO_LPT_F_SCALE_RULE,
  ALTO_LPT_F_HADAMARD_SIZE,
  ALTO_LPT_F_GRAD_DTYPE,
  ALTO_LPT_F_START,
  ALTO_LPT_F_END,
  ALTO_LPT_F_COUNT
};

/* One LowPrecisionTrainingModifier as written, plus what resolve needs to redo the Lua parts. */
typedef struct {
  alto_lpt_modifier mod; /* finalized: defaults applied, rules checked */
  alto_lpt_modifier raw; /* as written, before defaults (shares mod's lists) */
  uint32_t set;          /* bit f: field f was given */
  alto_srcloc field_loc[ALTO_LPT_F_COUNT];
  int fn_ref[ALTO_LPT_F_COUNT]; /* a Lua function deciding the field per module, or -1 */
  bool dynamic;                 /* some field is a Lua function */
  bool owns_lists;              /* dict-form siblings share ignore; only the first frees it */
} alto_recipe_lpt_;

/* A compiled `re:` entry, parallel to the target/ignore arrays. */
typedef struct {
  const alto_match_entry *entry;
  regex_t re;
} alto_recipe_regex_;

struct alto_recipe {
  char *file;
  alto_recipe_lpt_ *lpt;
  int n_lpt;
  alto_ptq_modifier *ptq;
  int n_ptq;
  char **arg_keys, **arg_vals;
  int n_args;
  char *stage; /* the last stage seen, as in ALTO */
  alto_recipe_regex_ *regex;
  int n_regex;
  alto_recipe_lua *lua;
  /* Modifiers computed by Lua functions at resolve time; pointers stay valid until free. */
  alto_lpt_modifier **resolved;
  int n_resolved, cap_resolved;
};

/* Error at a node: "file:line:col: what" (or "file: what" without a position). */
alto_status alto_recipe_fail(alto_status code, const alto_srcloc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Applies one LPT field from a node (shared by load and by Lua functions at resolve). */
alto_status alto_recipe_lpt_set_field(alto_recipe_lpt_ *m, int field, const alto_rnode *v);
/* Defaults + ALTO's rules; `skip_dynamic` leaves rules involving Lua fields for resolve. */
alto_status alto_recipe_lpt_finalize(const alto_recipe_lpt_ *m, alto_lpt_modifier *out,
                                     bool skip_dynamic);
const char *alto_recipe_lpt_field_name(int field);

/* recipe_match.c: compiles every `re:` entry (load-time errors carry file:line). */
alto_status alto_recipe_compile_regexes(alto_recipe *r);
void alto_recipe_free_regexes(alto_recipe *r);

#endif
