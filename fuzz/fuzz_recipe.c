/* libFuzzer target: any bytes, loaded as a YAML recipe and as a Lua recipe, must give either a
 * recipe or a clean error: no crash, no leak, no undefined behavior, no hang.
 * Built with -DALTO_FUZZ=ON and clang; run by scripts/fuzz-recipe. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compiler/recipe.h"
#include "compiler/recipe_internal.h"

static FILE *alto_fuzz_null_;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* Keep each run short: a looping script stops after 1e6 instructions, and 16 MiB of Lua heap
   * is plenty for any recipe. */
  alto_recipe_lua_set_limits(1000000, (size_t)16 << 20);
  alto_fuzz_null_ = fopen("/dev/null", "w");
  return 0;
}

/* Asks for a few typical modules, so matching and Lua decisions run too. */
static void alto_fuzz_resolve_(const alto_recipe *r) {
  static const char *const names[][2] = {
      {"layers.0.attention.wq", "model.layers.0.self_attn.q_proj"},
      {"layers.3.moe.router.gate", "x"},
      {"output", "lm_head"}};
  static const char *const classes[] = {"Linear", "GroupedExperts"};
  for (int i = 0; i < 3; i++) {
    alto_module_query q = {names[i], 2, classes, i == 1 ? 2 : 1, i == 2 ? -1 : i, 4, 100 * i};
    const alto_lpt_modifier *m;
    char why[256];
    (void)alto_recipe_resolve(r, &q, &m, why, sizeof why);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"fuzz.yaml", "fuzz.lua"};
  for (int i = 0; i < 2; i++) {
    alto_recipe *r = NULL;
    if (alto_recipe_load_string(names[i], (const char *)data, size, &r) != ALTO_OK)
      continue;
    alto_fuzz_resolve_(r);
    if (alto_fuzz_null_)
      alto_recipe_print(r, alto_fuzz_null_);
    alto_recipe_free(r);
  }
  return 0;
}
