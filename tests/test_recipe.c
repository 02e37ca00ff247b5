/* compiler/recipe*.c: the shipped recipes, Lua decisions, matching, and bad input. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler/recipe.h"
#include "compiler/recipe_internal.h"
#include "tests/harness.h"

#define RECIPES ALTO_SOURCE_DIR "/recipes/"

static alto_recipe *load_ok(const char *path) {
  alto_recipe *r = NULL;
  alto_status s = alto_recipe_load(path, &r);
  CHECKF(s == ALTO_OK && r, "%s: %s", path, alto_last_error());
  return r;
}

static bool has_entry(const alto_match_entry *e, int n, int i, const char *text) {
  return i < n && !strcmp(e[i].text, text);
}

/* What resolve() decides for one module. */
typedef struct {
  const char *name, *alias;
  const char *cls, *cls2;
  int layer, n_layers;
  int64_t step;
} module;

static const alto_lpt_modifier *decide(const alto_recipe *r, module m, char *why, size_t n) {
  const char *names[2] = {m.name, m.alias};
  const char *classes[2] = {m.cls, m.cls2};
  alto_module_query q = {names, m.alias ? 2 : 1, classes, m.cls2 ? 2 : 1, m.layer, m.n_layers,
                         m.step};
  const alto_lpt_modifier *out = (const alto_lpt_modifier *)1;
  char buf[512];
  alto_status s = alto_recipe_resolve(r, &q, &out, why ? why : buf, why ? n : sizeof buf);
  CHECKF(s == ALTO_OK, "%s", alto_last_error());
  return s == ALTO_OK ? out : NULL;
}

static void check_alto_flags(const alto_lpt_modifier *m) {
  CHECK(m->scheme == ALTO_SCHEME_MXFP4);
  CHECK(!m->use_2dblock_x && m->use_2dblock_w && m->use_hadamard && m->use_sr_grad);
  CHECK(!m->use_dge && !m->use_uos);
  CHECK(m->clip_mode == ALTO_CLIP_NONE && m->two_level_scaling == ALTO_TWO_LEVEL_NONE);
  /* defaults */
  CHECK(m->lora_rank == 0 && m->deosc_step == 0 && m->deosc_period == 200);
  CHECK(m->deosc_ratio == 4.0 && m->deosc_log_freq == 1);
  CHECK(m->scale_rule == ALTO_SCALE_EVEN && m->hadamard_size == 32);
  CHECK(m->grad_dtype == ALTO_ELEM_E2M1 && m->start == 0 && m->end == -1);
}

static void test_alto_recipes(void) {
  alto_recipe *r = load_ok(RECIPES "gpt_oss_mxfp4.yaml");
  if (r) {
    CHECK(alto_recipe_lpt_count(r) == 1 && alto_recipe_ptq_count(r) == 0);
    const alto_lpt_modifier *m = alto_recipe_lpt(r, 0);
    check_alto_flags(m);
    CHECK(m->n_targets == 2 && has_entry(m->targets, m->n_targets, 0, "Linear") &&
          has_entry(m->targets, m->n_targets, 1, "GptOssGroupedExperts"));
    CHECK(m->n_ignore == 2 && has_entry(m->ignore, m->n_ignore, 0, "lm_head") &&
          has_entry(m->ignore, m->n_ignore, 1, "re:.*\\.router\\.gate"));
    CHECK(m->loc.line == 4 && m->loc.col == 5);
    CHECK(m->targets[1].loc.line == 6 && m->targets[1].loc.col == 27);
    alto_recipe_free(r);
  }
  r = load_ok(RECIPES "llama3_mxfp4.yaml");
  if (r) {
    const alto_lpt_modifier *m = alto_recipe_lpt(r, 0);
    check_alto_flags(m);
    CHECK(m->n_targets == 1 && has_entry(m->targets, 1, 0, "Linear"));
    CHECK(m->n_ignore == 1 && has_entry(m->ignore, 1, 0, "lm_head"));
    alto_recipe_free(r);
  }
  r = load_ok(RECIPES "deepseek_v3_mxfp4.yaml");
  if (r) {
    const alto_lpt_modifier *m = alto_recipe_lpt(r, 0);
    check_alto_flags(m);
    CHECK(m->n_targets == 2 && has_entry(m->targets, 2, 1, "GroupedExperts"));
    alto_recipe_free(r);
  }
}

static void test_shipped_recipes(void) {
  static const struct {
    const char *file;
    int n_lpt, n_ptq;
    alto_scheme scheme;
    alto_elem grad;
  } cases[] = {
      {"bf16.yaml", 0, 0, 0, 0},
      {"mxfp4.yaml", 1, 0, ALTO_SCHEME_MXFP4, ALTO_ELEM_E2M1},
      {"fp8_block.yaml", 1, 0, ALTO_SCHEME_FP8_BLOCK, ALTO_ELEM_E4M3},
      {"fp8_rowwise.yaml", 1, 0, ALTO_SCHEME_FP8_ROWWISE, ALTO_ELEM_E5M2},
      {"fp8_tensorwise.yaml", 1, 0, ALTO_SCHEME_FP8_TENSORWISE, ALTO_ELEM_E5M2},
      {"nvfp4.yaml", 1, 0, ALTO_SCHEME_NVFP4, ALTO_ELEM_E2M1},
      {"mxfp8_e4m3.yaml", 1, 0, ALTO_SCHEME_MXFP8_E4M3, ALTO_ELEM_E4M3},
      {"mx9_ptq.yaml", 0, 1, 0, 0},
      {"mx6_ptq.yaml", 0, 1, 0, 0},
      {"fp8_block.lua", 1, 0, ALTO_SCHEME_FP8_BLOCK, ALTO_ELEM_E4M3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char path[512];
    snprintf(path, sizeof path, RECIPES "%s", cases[i].file);
    alto_recipe *r = load_ok(path);
    if (!r)
      continue;
    CHECKF(alto_recipe_lpt_count(r) == cases[i].n_lpt, "%s", cases[i].file);
    CHECKF(alto_recipe_ptq_count(r) == cases[i].n_ptq, "%s", cases[i].file);
    if (cases[i].n_lpt) {
      const alto_lpt_modifier *m = alto_recipe_lpt(r, 0);
      CHECKF(m->scheme == cases[i].scheme && m->grad_dtype == cases[i].grad, "%s", cases[i].file);
    }
    alto_recipe_free(r);
  }
  alto_recipe *r = load_ok(RECIPES "nvfp4.yaml");
  if (r) {
    CHECK(alto_recipe_lpt(r, 0)->two_level_scaling == ALTO_TWO_LEVEL_TENSORWISE);
    alto_recipe_free(r);
  }
  r = load_ok(RECIPES "mx9_ptq.yaml");
  if (r) {
    const alto_ptq_modifier *p = alto_recipe_ptq(r, 0);
    CHECK(p->format == ALTO_PTQ_MX9 && p->num_bits == 8 && p->group_size == 16);
    CHECK(p->dynamic_weights && p->dynamic_activations && p->n_ignore == 1);
    alto_recipe_free(r);
  }
  r = load_ok(RECIPES "mx6_ptq.yaml");
  if (r) {
    const alto_ptq_modifier *p = alto_recipe_ptq(r, 0);
    CHECK(p->format == ALTO_PTQ_MX6 && p->num_bits == 5 && p->group_size == 16);
    CHECK(p->dynamic_weights && p->dynamic_activations);
    CHECK(p->n_targets == 1 && !strcmp(p->targets[0].text, "Linear"));
    CHECK(p->n_ignore == 1 && !strcmp(p->ignore[0].text, "lm_head"));
    alto_recipe_free(r);
  }
}

static alto_recipe *load_str(const char *name, const char *text) {
  alto_recipe *r = NULL;
  alto_status s = alto_recipe_load_string(name, text, strlen(text), &r);
  CHECKF(s == ALTO_OK && r, "%s: %s", name, alto_last_error());
  return r;
}

static void test_defaults_and_forms(void) {
  alto_recipe *r = load_str("d.yaml", "args:\n  lr: 3e-4\n  name: run1\n"
                                      "x_stage:\n  lpt_modifiers:\n"
                                      "    LowPrecisionTrainingModifier:\n      scheme: mxfp4\n"
                                      "      use_uos: true\n      targets: Linear\n");
  if (r) {
    const alto_lpt_modifier *m = alto_recipe_lpt(r, 0);
    CHECK(m->use_uos && m->scale_rule == ALTO_SCALE_UOS);
    CHECK(m->n_ignore == 1 && !strcmp(m->ignore[0].text, "output"));
    CHECK(m->n_targets == 1 && !strcmp(m->targets[0].text, "Linear"));
    CHECK(m->use_2dblock_w && !m->use_hadamard);
    CHECK(alto_recipe_arg_count(r) == 2 && !strcmp(alto_recipe_arg(r, "lr"), "3e-4"));
    CHECK(!strcmp(alto_recipe_arg(r, "name"), "run1") && !alto_recipe_arg(r, "x"));
    alto_recipe_free(r);
  }
  /* dict form: one modifier per scheme, in file order */
  r = load_str("dict.yaml", "training_stage:\n  lpt_modifiers:\n"
                            "    LowPrecisionTrainingModifier:\n"
                            "      scheme: {fp8_block: [\"re:layers\\\\.0\\\\.\"], mxfp4: [Linear]}\n"
                            "      ignore: [lm_head]\n");
  if (r) {
    CHECK(alto_recipe_lpt_count(r) == 2);
    CHECK(alto_recipe_lpt(r, 0)->scheme == ALTO_SCHEME_FP8_BLOCK);
    CHECK(alto_recipe_lpt(r, 1)->scheme == ALTO_SCHEME_MXFP4);
    CHECK(alto_recipe_lpt(r, 1)->n_ignore == 1);
    const alto_lpt_modifier *d =
        decide(r, (module){"layers.0.attention.wq", NULL, "Linear", NULL, 0, 4, 0}, NULL, 0);
    CHECK(d && d->scheme == ALTO_SCHEME_FP8_BLOCK); /* first in file order wins */
    d = decide(r, (module){"layers.1.attention.wq", NULL, "Linear", NULL, 1, 4, 0}, NULL, 0);
    CHECK(d && d->scheme == ALTO_SCHEME_MXFP4);
    CHECK(!decide(r, (module){"lm_head", NULL, "Linear", NULL, -1, 4, 0}, NULL, 0));
    alto_recipe_free(r);
  }
  /* nested PTQ with type: int -> int8 */
  r = load_str("q.yaml", "q_stage:\n  q_modifiers:\n    QuantizationModifier:\n"
                         "      config_groups:\n        g0:\n          targets: [Linear]\n"
                         "          weights: {num_bits: 8, type: int, symmetric: true, "
                         "strategy: channel, dynamic: false}\n"
                         "          input_activations: {num_bits: 8, type: int, dynamic: true}\n"
                         "          output_activations: null\n");
  if (r) {
    const alto_ptq_modifier *p = alto_recipe_ptq(r, 0);
    CHECK(p->format == ALTO_PTQ_INT8 && p->num_bits == 8 && !p->dynamic_weights &&
          p->dynamic_activations);
    alto_recipe_free(r);
  }
}

static void test_matching(void) {
  alto_recipe *r = load_ok(RECIPES "gpt_oss_mxfp4.yaml");
  if (!r)
    return;
  char why[512];
  const alto_lpt_modifier *lpt = alto_recipe_lpt(r, 0), *d;
  /* class in the hierarchy */
  d = decide(r, (module){"layers.3.attention.wq", "model.layers.3.self_attn.q_proj", "Linear",
                         NULL, 3, 24, 0},
             why, sizeof why);
  CHECK(d == lpt);
  CHECKF(strstr(why, "'Linear' matched class Linear"), "%s", why);
  d = decide(r, (module){"layers.3.moe.experts", NULL, "GptOssGroupedExperts", "GroupedExperts",
                         3, 24, 0},
             why, sizeof why);
  CHECK(d == lpt);
  d = decide(r, (module){"layers.3.moe.experts", NULL, "MyExperts", "GptOssGroupedExperts", 3, 24,
                         0},
             why, sizeof why);
  CHECKF(d == lpt && strstr(why, "matched class GptOssGroupedExperts"), "%s", why);
  /* exact name in the ignore list (the HF alias), ignore wins */
  d = decide(r, (module){"output", "lm_head", "Linear", NULL, -1, 24, 0}, why, sizeof why);
  CHECK(d == NULL);
  CHECKF(strstr(why, "ignored") && strstr(why, "'lm_head' matched name lm_head"), "%s", why);
  /* anchored regex */
  d = decide(r, (module){"layers.3.moe.router.gate", NULL, "Linear", NULL, 3, 24, 0}, why,
             sizeof why);
  CHECK(d == NULL);
  CHECKF(strstr(why, "re:.*\\.router\\.gate"), "%s", why);
  d = decide(r, (module){"norm", NULL, "RMSNorm", NULL, -1, 24, 0}, why, sizeof why);
  CHECK(d == NULL && !strcmp(why, "no target matched"));
  alto_recipe_free(r);

  /* re:router is anchored: it does not match layers.3.moe.router.gate; exact names and
   * aliases match as targets. */
  r = load_str("m.yaml", "s_stage:\n  a_modifiers:\n    LowPrecisionTrainingModifier:\n"
                         "      scheme: mxfp4\n"
                         "      targets: [\"re:router\", \"model.embed\", \"re:layers\\\\.\\\\d+\\\\.moe\"]\n"
                         "      ignore: []\n");
  if (r) {
    CHECK(!decide(r, (module){"layers.3.attn.router.gate", "x.router", "Linear", NULL, 3, 4, 0},
                  NULL, 0));
    CHECK(decide(r, (module){"router.gate", NULL, "Linear", NULL, 3, 4, 0}, NULL, 0));
    CHECK(decide(r, (module){"tok_embeddings", "model.embed", "Embedding", NULL, -1, 4, 0}, why,
                 sizeof why));
    CHECKF(strstr(why, "matched name model.embed"), "%s", why);
    CHECK(decide(r, (module){"layers.12.moe.experts", NULL, "X", NULL, 12, 16, 0}, NULL, 0));
    CHECK(!decide(r, (module){"layers.x.moe", NULL, "X", NULL, 12, 16, 0}, NULL, 0));
    alto_recipe_free(r);
  }
  /* start / end */
  r = load_str("se.yaml", "s_stage:\n  a_modifiers:\n    LowPrecisionTrainingModifier:\n"
                          "      scheme: mxfp4\n      start: 10\n      end: 20\n");
  if (r) {
    module m = {"layers.0.wq", NULL, "Linear", NULL, 0, 2, 9};
    CHECK(!decide(r, m, why, sizeof why) && strstr(why, "outside [10, 20)"));
    m.step = 10;
    CHECK(decide(r, m, NULL, 0));
    m.step = 20;
    CHECK(!decide(r, m, NULL, 0));
    alto_recipe_free(r);
  }
}

static void test_lua_recipes(void) {
  alto_recipe *r = load_ok(RECIPES "mxfp4_keep_ends_bf16.lua");
  if (r) {
    CHECK(alto_recipe_lpt_count(r) == 1 && alto_recipe_lpt_dynamic(r, 0));
    char why[512];
    for (int layer = 0; layer < 8; layer++) {
      const alto_lpt_modifier *d =
          decide(r, (module){"layers.x.feed_forward.w1", NULL, "Linear", NULL, layer, 8, 0}, why,
                 sizeof why);
      bool ends = layer < 2 || layer >= 6;
      CHECKF(ends ? d == NULL : (d && d->scheme == ALTO_SCHEME_MXFP4), "layer %d: %s", layer, why);
      if (d)
        CHECK(d->use_hadamard && d->use_sr_grad && d->grad_dtype == ALTO_ELEM_E2M1 &&
              d->hadamard_size == 32);
    }
    /* computed modifiers are shared, and ignore still wins */
    const alto_lpt_modifier *a =
        decide(r, (module){"layers.3.attention.wq", NULL, "Linear", NULL, 3, 8, 0}, NULL, 0);
    const alto_lpt_modifier *b =
        decide(r, (module){"layers.4.attention.wk", NULL, "Linear", NULL, 4, 8, 0}, NULL, 0);
    CHECK(a && a == b);
    CHECK(!decide(r, (module){"lm_head", NULL, "Linear", NULL, 3, 8, 0}, NULL, 0));
    alto_recipe_free(r);
  }
  r = load_ok(RECIPES "switch_at_step.lua");
  if (r) {
    module m = {"layers.2.attention.wo", NULL, "Linear", NULL, 2, 8, 0};
    const alto_lpt_modifier *d = decide(r, m, NULL, 0);
    CHECK(d && d->scheme == ALTO_SCHEME_MXFP8_E4M3 && !d->use_hadamard);
    m.step = 1000;
    d = decide(r, m, NULL, 0);
    CHECK(d && d->scheme == ALTO_SCHEME_MXFP4 && d->use_hadamard);
    CHECK(alto_recipe_arg(r, "switch_step") && !strcmp(alto_recipe_arg(r, "switch_step"), "1000"));
    alto_recipe_free(r);
  }
  /* a Lua function returning something invalid is a clean error at resolve time */
  r = load_str("bad_fn.lua", "return { t_stage = { l_modifiers = { LowPrecisionTrainingModifier"
                             " = { scheme = function(m) return 'mxfp5' end } } } }");
  if (r) {
    const char *names[] = {"layers.0.wq"}, *classes[] = {"Linear"};
    alto_module_query q = {names, 1, classes, 1, 0, 2, 0};
    const alto_lpt_modifier *out;
    char why[256];
    CHECK(alto_recipe_resolve(r, &q, &out, why, sizeof why) != ALTO_OK);
    CHECKF(strstr(alto_last_error(), "unknown scheme 'mxfp5'") &&
               strstr(alto_last_error(), "layers.0.wq"),
           "%s", alto_last_error());
    alto_recipe_free(r);
  }
  r = load_str("loop_fn.lua", "return { t_stage = { l_modifiers = { LowPrecisionTrainingModifier"
                              " = { scheme = function(m) while true do end end } } } }");
  if (r) {
    const char *names[] = {"layers.0.wq"}, *classes[] = {"Linear"};
    alto_module_query q = {names, 1, classes, 1, 0, 2, 0};
    const alto_lpt_modifier *out;
    CHECK(alto_recipe_resolve(r, &q, &out, NULL, 0) != ALTO_OK);
    CHECKF(strstr(alto_last_error(), "instruction limit exceeded"), "%s", alto_last_error());
    alto_recipe_free(r);
  }
}

int main(void) {
  RUN(test_alto_recipes);
  RUN(test_shipped_recipes);
  RUN(test_defaults_and_forms);
  RUN(test_matching);
  RUN(test_lua_recipes);
  return alto_test_finish();
}
