/* Lowering (ARCHITECTURE.md stage 3): model x recipe x (batch, seq) -> the IR of one training
 * step: forward, backward (explicit; low-precision Linears per NUMERICS.md section 7), AdamW.
 *
 * Buffers: fp32 master weights, fp32 gradients and AdamW moments are persistent; activations
 * are bf16 (norm rstd, attention lse, router weights fp32). A quantized operand is two buffers:
 * codes and scales. The plan comes back with lifetimes, variants and a verified memory plan.
 */
#ifndef ALTO_COMPILER_LOWER_H
#define ALTO_COMPILER_LOWER_H

#include <stdint.h>

#include "base/status.h"
#include "compiler/ir.h"
#include "compiler/model.h"
#include "compiler/recipe.h"

typedef struct {
  int64_t batch;    /* sequences per step (B) */
  int64_t seq;      /* tokens per sequence (T); B*T must be a multiple of 128 for quantized GEMMs */
  const char *arch; /* target arch baked into variant keys ("" or NULL: not chosen) */
} alto_lower_opts;

/* What the recipe decided for one module (for `alto-compile --plan`). */
typedef struct {
  char module[96]; /* TorchTitan name */
  const char *cls; /* most specific class */
  int layer;
  alto_scheme scheme;           /* ALTO_SCHEME_BF16 when it stays in high precision */
  const alto_lpt_modifier *lpt; /* NULL when bf16 */
  char why[192];                /* alto_recipe_resolve's explanation */
} alto_lower_choice;

typedef struct {
  alto_plan plan;
  alto_lower_choice *choices; /* one per Linear / experts module, in model order */
  int n_choices;
} alto_lowered;

/* `recipe` NULL: everything bf16. Errors: ALTO_ERR_INVALID_ARG (batch/seq), ALTO_ERR_UNSUPPORTED
 * (a scheme that cannot train, a dimension a block does not divide), with a message naming the
 * module. */
alto_status alto_lower(const alto_model *m, const alto_recipe *recipe, const alto_lower_opts *o,
                       alto_lowered *out);
void alto_lowered_free(alto_lowered *l);

#endif
