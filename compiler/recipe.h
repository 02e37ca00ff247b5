/* alto_recipe: what precision each layer trains in (ARCHITECTURE.md stage 1).
 *
 * Loaded from the ALTO / llm-compressor YAML shape
 *     <name>_stage: <group>_modifiers: <ModifierClass>: {fields}
 * (plus top-level `args`), or from a sandboxed Lua script returning the same table. Every user
 * error names file:line:column, the field and the valid values.
 *
 * This header is the contract between the recipe loader (compiler/recipe*.c) and the lowering
 * (compiler/lower.c): lowering asks alto_recipe_resolve() what applies to each module.
 */
#ifndef ALTO_COMPILER_RECIPE_H
#define ALTO_COMPILER_RECIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "compiler/scheme.h"

typedef enum { ALTO_TWO_LEVEL_NONE, ALTO_TWO_LEVEL_TENSORWISE, ALTO_TWO_LEVEL_BLOCKWISE } alto_two_level;
typedef enum { ALTO_CLIP_NONE, ALTO_CLIP_STATIC, ALTO_CLIP_DYNAMIC } alto_clip_mode;

/* Where a value came from in the recipe file (for messages). */
typedef struct {
  const char *file; /* owned by the recipe */
  int line, col;    /* 1-based; 0 when unknown (e.g. a Lua table) */
} alto_srcloc;

/* A target or ignore entry: a module name ("lm_head"), a class ("Linear") or "re:PATTERN". */
typedef struct {
  char *text;
  alto_srcloc loc;
} alto_match_entry;

/* LowPrecisionTrainingModifier (one per scheme of the dict form `scheme: {mxfp4: [targets]}`). */
typedef struct {
  alto_scheme scheme;
  alto_match_entry *targets; /* default ["Linear"] */
  int n_targets;
  alto_match_entry *ignore; /* default ["output"] */
  int n_ignore;
  bool use_2dblock_x;  /* false */
  bool use_2dblock_w;  /* true */
  bool use_hadamard;   /* false; needs !use_2dblock_x */
  bool use_sr_grad;    /* false */
  bool use_dge;        /* false */
  bool use_uos;        /* false; needs clip_mode none; sets scale_rule uos */
  alto_two_level two_level_scaling; /* none */
  alto_clip_mode clip_mode;         /* none */
  int lora_rank;                    /* 0; multiple of 32 for mx*, 16 for nv* */
  int deosc_step, deosc_period, deosc_log_freq;
  double deosc_ratio;
  alto_scale_rule scale_rule; /* ours: even (default), floor, uos, rceil */
  int hadamard_size;          /* ours: 32 (16..256, power of two) */
  alto_elem grad_dtype;       /* ours: gradient element type where the scheme allows a choice */
  int64_t start, end;         /* ours: active for steps [start, end); end -1 = forever */
  alto_srcloc loc;            /* of the modifier's key */
} alto_lpt_modifier;

typedef enum { ALTO_PTQ_MX9, ALTO_PTQ_MX6, ALTO_PTQ_INT8 } alto_ptq_format;

/* QuantizationModifier: post-training W+A fake-quant. */
typedef struct {
  alto_ptq_format format;
  int num_bits;   /* int8: 8 */
  int group_size; /* mx9/mx6: 16 */
  bool dynamic_weights, dynamic_activations;
  alto_match_entry *targets;
  int n_targets;
  alto_match_entry *ignore;
  int n_ignore;
  alto_srcloc loc;
} alto_ptq_modifier;

typedef struct alto_recipe alto_recipe; /* opaque: owns its strings and, for Lua, its state */

/* Loads a .yaml/.yml or .lua recipe. On error returns non-OK with alto_last_error() set to
 * "file:line:col: message" and *out == NULL. */
alto_status alto_recipe_load(const char *path, alto_recipe **out);
/* Same, from memory; `name` is used in messages and picks the language ("x.lua" => Lua). */
alto_status alto_recipe_load_string(const char *name, const char *text, size_t len,
                                    alto_recipe **out);
void alto_recipe_free(alto_recipe *r);

int alto_recipe_lpt_count(const alto_recipe *r);
const alto_lpt_modifier *alto_recipe_lpt(const alto_recipe *r, int i);
int alto_recipe_ptq_count(const alto_recipe *r);
const alto_ptq_modifier *alto_recipe_ptq(const alto_recipe *r, int i);

/* What applies to one module. `classes` is the module's class hierarchy, most specific first
 * (e.g. {"Linear"} or {"GptOssGroupedExperts", "GroupedExperts"}); `layer` is the block index or
 * -1. Matching: a target/ignore entry matches the name exactly (TorchTitan or Hugging Face
 * alias, both given in `names`), a class anywhere in the hierarchy, or `re:PATTERN` anchored at
 * the start of a name. Ignore wins over targets. A Lua recipe may instead decide per module.
 * `why` receives a one-line human explanation ("target 'Linear' matched class Linear",
 * "ignored by 're:.*\\.router\\.gate'", "no target matched"). *out_lpt is NULL when the module
 * stays in high precision. Modifiers are tried in file order and the first whose targets match,
 * whose ignore does not, and that is active at q->step ([start, end)) decides. For a Lua recipe
 * the returned pointer may be a modifier computed for this module (valid until the recipe is
 * freed); calls on one recipe must not run concurrently (they share its Lua state). */
typedef struct {
  const char *const *names; /* TorchTitan name first, then aliases */
  int n_names;
  const char *const *classes;
  int n_classes;
  int layer;
  int n_layers; /* of the model, for "first/last N layers" decisions */
  int64_t step; /* training step, for start/end and Lua schedules; 0 for a plan */
} alto_module_query;

alto_status alto_recipe_resolve(const alto_recipe *r, const alto_module_query *q,
                                const alto_lpt_modifier **out_lpt, char *why, size_t why_len);

/* True when some field of LPT modifier i is a Lua function: alto_recipe_lpt(r, i) then shows
 * the fields as written (scheme bf16 when the scheme is computed) and resolve() computes the
 * real ones per module. */
bool alto_recipe_lpt_dynamic(const alto_recipe *r, int i);

/* Top-level `args`: free-form key -> value, kept as strings in file order. */
int alto_recipe_arg_count(const alto_recipe *r);
const char *alto_recipe_arg_key(const alto_recipe *r, int i);
const char *alto_recipe_arg(const alto_recipe *r, const char *key); /* NULL when absent */

/* The name the recipe was loaded under (used in every message). */
const char *alto_recipe_file(const alto_recipe *r);

/* Prints the recipe as YAML-ish text (for `alto-compile --plan` and debugging). */
void alto_recipe_print(const alto_recipe *r, FILE *f);

#endif
