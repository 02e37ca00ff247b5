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
  alto_module_query q = {names,   m.alias ? 2 : 1, classes, m.cls2 ? 2 : 1,
                         m.layer, m.n_layers,      m.step};
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
    char ppath[1200];
    snprintf(ppath, sizeof ppath, "%s/print.txt", alto_test_tmpdir("recipe_print"));
    FILE *f = fopen(ppath, "w+");
    CHECK(f != NULL);
    if (f) {
      alto_recipe_print(r, f);
      rewind(f);
      static char text[8192];
      text[fread(text, 1, sizeof text - 1, f)] = '\0';
      fclose(f);
      CHECKF(strstr(text, "training_stage:") && strstr(text, "scheme: mxfp4") &&
                 strstr(text, "\"re:.*\\.router\\.gate\"") && strstr(text, "hadamard_size: 32"),
             "%s", text);
    }
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
  r = load_str("dict.yaml",
               "training_stage:\n  lpt_modifiers:\n"
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
  d = decide(r,
             (module){"layers.3.attention.wq", "model.layers.3.self_attn.q_proj", "Linear", NULL, 3,
                      24, 0},
             why, sizeof why);
  CHECK(d == lpt);
  CHECKF(strstr(why, "'Linear' matched class Linear"), "%s", why);
  d = decide(
      r, (module){"layers.3.moe.experts", NULL, "GptOssGroupedExperts", "GroupedExperts", 3, 24, 0},
      why, sizeof why);
  CHECK(d == lpt);
  d = decide(r,
             (module){"layers.3.moe.experts", NULL, "MyExperts", "GptOssGroupedExperts", 3, 24, 0},
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
  r = load_str("m.yaml",
               "s_stage:\n  a_modifiers:\n    LowPrecisionTrainingModifier:\n"
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
  /* the start/end form of a switch (Lua tables have no order: stages are sorted by name) */
  r = load_str("two.lua", "local k = 1000 return {\n"
                          " warmup_stage = { lpt_modifiers = { LowPrecisionTrainingModifier = {\n"
                          "   scheme = 'mxfp8_e4m3', ['end'] = k } } },\n"
                          " training_stage = { lpt_modifiers = { LowPrecisionTrainingModifier = {\n"
                          "   scheme = 'mxfp4', start = k, use_hadamard = true } } } }");
  if (r) {
    CHECK(alto_recipe_lpt_count(r) == 2 && !alto_recipe_lpt_dynamic(r, 0));
    module m = {"layers.2.attention.wo", NULL, "Linear", NULL, 2, 8, 999};
    const alto_lpt_modifier *d = decide(r, m, NULL, 0);
    CHECK(d && d->scheme == ALTO_SCHEME_MXFP8_E4M3);
    m.step = 1000;
    d = decide(r, m, NULL, 0);
    CHECK(d && d->scheme == ALTO_SCHEME_MXFP4 && d->use_hadamard);
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

/* ---- bad recipes: every one a clean error naming the place and what is valid --------------- */
#define LPT "training_stage:\n  lpt_modifiers:\n    LowPrecisionTrainingModifier:\n"
#define LUA_LPT(fields)                                                                            \
  "return { training_stage = { lpt_modifiers = { LowPrecisionTrainingModifier = { " fields         \
  " } } } }"

typedef struct {
  const char *name;
  const char *text;
  size_t len; /* 0: strlen(text) */
  const char *expect, *expect2;
} bad_case;

static const bad_case bad_cases[] = {
    /* keys, classes, types */
    {"k.yaml", LPT "      scheme: mxfp4\n      sheme: nvfp4\n", 0,
     "k.yaml:5:7: LowPrecisionTrainingModifier: unknown key 'sheme' (did you mean 'scheme'?)",
     "valid: scheme, targets, ignore, use_2dblock_x"},
    {"c.yaml",
     "training_stage:\n  lpt_modifiers:\n    LowPrecisionTrainingModifer:\n      scheme: mxfp4\n",
     0,
     "c.yaml:3:5: unknown modifier class 'LowPrecisionTrainingModifer' (did you mean "
     "'LowPrecisionTrainingModifier'?)",
     "valid: LowPrecisionTrainingModifier, QuantizationModifier"},
    {"t.yaml", LPT "      scheme: mxfp4\n      use_hadamard: \"true\"\n", 0,
     "t.yaml:5:21: LowPrecisionTrainingModifier.use_hadamard: expected a boolean, got a string "
     "'true'; valid: true, false",
     NULL},
    {"yes.yaml", LPT "      scheme: mxfp4\n      use_sr_grad: yes\n", 0,
     "yes.yaml:5:20: LowPrecisionTrainingModifier.use_sr_grad: expected a boolean", NULL},
    {"i.yaml", LPT "      scheme: mxfp4\n      lora_rank: \"32\"\n", 0,
     "i.yaml:5:18: LowPrecisionTrainingModifier.lora_rank: expected an integer", NULL},
    {"l.yaml", LPT "      scheme: mxfp4\n      targets: 5\n", 0,
     "l.yaml:5:16: LowPrecisionTrainingModifier.targets: expected a string or a list of strings",
     NULL},
    {"m.yaml", "training_stage:\n  lpt_modifiers:\n    LowPrecisionTrainingModifier: [1]\n", 0,
     "m.yaml:3:35: LowPrecisionTrainingModifier: expected a mapping of fields", NULL},
    {"top.yaml", "trainng: {}\n", 0, "top.yaml:1:1: unknown top-level key 'trainng'",
     "valid: <name>_stage keys"},
    {"g.yaml", "training_stage:\n  lpt: {}\n", 0,
     "g.yaml:2:3: training_stage: unknown key 'lpt'; valid: <group>_modifiers", NULL},
    {"list.yaml", "- training_stage\n", 0, "list.yaml:1:1: the top level must be a mapping", NULL},
    {"args.yaml", "args:\n  x: [1]\n", 0, "args.yaml:2:6: args.x: expected a scalar", NULL},
    {"dup.yaml", LPT "      scheme: mxfp4\n      scheme: nvfp4\n", 0,
     "dup.yaml:5:7: duplicate key 'scheme' (first at line 4)", NULL},
    /* values */
    {"s.yaml", LPT "      scheme: mxfp5\n", 0,
     "s.yaml:4:15: LowPrecisionTrainingModifier.scheme: unknown scheme 'mxfp5' (did you mean "
     "'mxfp4'?); valid: bf16, mxfp4, mxfp8_e4m3, mxfp8_e5m2, nvfp4, fp8_block, fp8_rowwise, "
     "fp8_tensorwise",
     NULL},
    {"ns.yaml", LPT "      targets: [Linear]\n", 0,
     "ns.yaml:3:5: LowPrecisionTrainingModifier: missing required field 'scheme'", NULL},
    {"cm.yaml", LPT "      scheme: mxfp4\n      clip_mode: bogus\n", 0,
     "cm.yaml:5:18: LowPrecisionTrainingModifier.clip_mode: unknown value 'bogus'; valid: none, "
     "static, dynamic",
     NULL},
    {"re.yaml", LPT "      scheme: mxfp4\n      ignore: [\"re:(unclosed\"]\n", 0,
     "re.yaml:5:16: bad regex 're:(unclosed'", "valid: \"re:\" followed by a POSIX"},
    {"re2.yaml", LPT "      scheme: mxfp4\n      targets: [\"re:a+++++++++++\"]\n", 0,
     "re2.yaml:5:17: bad regex 're:a+++++++++++': a quantifier follows another one", NULL},
    {"re3.yaml", LPT "      scheme: mxfp4\n      targets: [\"re:((a{1,99}){99}){99}\"]\n", 0,
     "re3.yaml:5:17: bad regex 're:((a{1,99}){99}){99}': its counted repetitions", NULL},
    {"hs.yaml", LPT "      scheme: mxfp4\n      hadamard_size: 48\n", 0,
     "hs.yaml:5:7: LowPrecisionTrainingModifier.hadamard_size 48 is not a power of two; valid: "
     "16, 32, 64, 128, 256",
     NULL},
    {"hs2.yaml", LPT "      scheme: mxfp4\n      hadamard_size: 512\n", 0,
     "hs2.yaml:5:22: LowPrecisionTrainingModifier.hadamard_size: 512 is out of range; valid: an "
     "integer in 16..256",
     NULL},
    {"dr.yaml", LPT "      scheme: mxfp4\n      deosc_ratio: -1\n", 0,
     "dr.yaml:5:20: LowPrecisionTrainingModifier.deosc_ratio: -1 is out of range", NULL},
    {"se.yaml", LPT "      scheme: mxfp4\n      start: 10\n      end: 5\n", 0,
     "se.yaml:6:7: LowPrecisionTrainingModifier.end 5 is not after start 10", NULL},
    /* ALTO's rules */
    {"h2.yaml", LPT "      scheme: mxfp4\n      use_2dblock_x: true\n      use_hadamard: true\n", 0,
     "h2.yaml:6:7: LowPrecisionTrainingModifier.use_hadamard: true needs use_2dblock_x: false",
     "valid: use_hadamard: false, or use_2dblock_x: false"},
    {"uos.yaml", LPT "      scheme: mxfp4\n      use_uos: true\n      clip_mode: static\n", 0,
     "uos.yaml:5:7: LowPrecisionTrainingModifier.use_uos: true needs clip_mode: none", NULL},
    {"uos4.yaml", LPT "      scheme: nvfp4\n      use_uos: true\n", 0,
     "uos4.yaml:5:7: LowPrecisionTrainingModifier.use_uos is only for mxfp4, not nvfp4", NULL},
    {"lr.yaml", LPT "      scheme: mxfp4\n      lora_rank: 48\n", 0,
     "lr.yaml:5:7: LowPrecisionTrainingModifier.lora_rank 48 is not a multiple of 32 for mxfp4; "
     "valid: 0, 32, 64, 96",
     NULL},
    {"lr4.yaml", LPT "      scheme: nvfp4\n      lora_rank: 24\n", 0,
     "lr4.yaml:5:7: LowPrecisionTrainingModifier.lora_rank 24 is not a multiple of 16 for nvfp4",
     NULL},
    {"h8.yaml", LPT "      scheme: mxfp8_e4m3\n      use_hadamard: true\n", 0,
     "h8.yaml:5:7: LowPrecisionTrainingModifier.use_hadamard is only supported for mxfp4 and "
     "nvfp4, not mxfp8_e4m3",
     NULL},
    {"dge.yaml", LPT "      scheme: fp8_block\n      use_dge: true\n", 0,
     "dge.yaml:5:7: LowPrecisionTrainingModifier.use_dge is only supported", NULL},
    {"gd.yaml", LPT "      scheme: mxfp4\n      grad_dtype: e5m2\n", 0,
     "gd.yaml:5:7: LowPrecisionTrainingModifier.grad_dtype e5m2 is not available for mxfp4; "
     "valid: e2m1",
     NULL},
    {"tl.yaml", LPT "      scheme: mxfp4\n      two_level_scaling: tensorwise\n", 0,
     "tl.yaml:5:7: LowPrecisionTrainingModifier.two_level_scaling tensorwise is not available for "
     "mxfp4; valid: none, blockwise",
     NULL},
    {"sr.yaml", LPT "      scheme: fp8_rowwise\n      scale_rule: uos\n", 0,
     "sr.yaml:5:7: LowPrecisionTrainingModifier.scale_rule uos is only for mxfp4", NULL},
    {"dict.yaml", LPT "      scheme: {mxfp4: [Linear]}\n      targets: [Linear]\n", 0,
     "dict.yaml:5:7: LowPrecisionTrainingModifier.targets: not allowed with the dict form", NULL},
    {"dict2.yaml", LPT "      scheme: {mxfp3: [Linear]}\n", 0,
     "dict2.yaml:4:16: LowPrecisionTrainingModifier.scheme: unknown scheme 'mxfp3'", NULL},
    /* QuantizationModifier */
    {"q1.yaml", "q_stage:\n  q_modifiers:\n    QuantizationModifier:\n      format: mx7\n", 0,
     "q1.yaml:4:15: QuantizationModifier.format: unknown value 'mx7' (did you mean 'mx9'?); valid: "
     "mx9, mx6, int8",
     NULL},
    {"q2.yaml",
     "q_stage:\n  q_modifiers:\n    QuantizationModifier:\n      format: mx9\n      num_bits: 4\n",
     0, "q2.yaml:5:7: QuantizationModifier.num_bits: 4 does not fit format mx9; valid: 8", NULL},
    {"q3.yaml",
     "q_stage:\n  q_modifiers:\n    QuantizationModifier:\n      config_groups:\n        g:\n"
     "          weights: {num_bits: 8, format: mx9, observer: minmax}\n",
     0, "q3.yaml:6:47: QuantizationModifier.config_groups.g.weights: unknown key 'observer'", NULL},
    /* YAML itself */
    {"syn.yaml", "training_stage:\n  lpt_modifiers: [\n", 0,
     "syn.yaml:3:1: YAML syntax error: did not find expected node content", NULL},
    {"tab.yaml", "training_stage:\n\tlpt_modifiers: {}\n", 0,
     "tab.yaml:2:1: YAML syntax error: found character that cannot start any token", NULL},
    {"quote.yaml", "a_stage: \"unterminated\n", 0,
     "quote.yaml:2:1: YAML syntax error: found unexpected end of stream", NULL},
    {"alias.yaml", "a_stage: &x {}\nb_stage: *x\n", 0,
     "alias.yaml:2:10: YAML aliases (*x) are not supported", NULL},
    {"docs.yaml", "a_stage: {}\n---\nb_stage: {}\n", 0,
     "docs.yaml:2:1: more than one YAML document", NULL},
    {"tag.yaml", "a_stage: !!python/object {}\n", 0, "tag.yaml:1:10: YAML tag", NULL},
    {"empty.yaml", "", 0, "empty.yaml: empty recipe", NULL},
    {"blank.yaml", "  \n\n", 0, "blank.yaml: empty recipe", NULL},
    {"comment.yaml", "# nothing here\n", 0, "comment.yaml:2:1: empty recipe (no YAML document)",
     NULL},
    {"nul.yaml", "training_stage:\0{}", 18, "nul.yaml:1:16: binary data (a NUL byte)", NULL},
    {"bin.yaml",
     "\x7f"
     "ELF\xff\xfe\x01\x02",
     0, "bin.yaml:1:5: not UTF-8 text (byte 0xff)", NULL},
    {"overlong.yaml", "a_stage: \xc0\xaf\n", 0, "overlong.yaml:1:10: not UTF-8 text", NULL},
    /* Lua */
    {"loop.lua", "while true do end", 0, "loop.lua:1: instruction limit exceeded",
     "stack traceback"},
    {"os.lua", "os.execute('rm -rf /tmp/x') return {}", 0,
     "os.lua:1: attempt to index a nil value (global 'os')", "stack traceback"},
    {"io.lua", "local f = io.open('/etc/passwd') return {}", 0,
     "io.lua:1: attempt to index a nil value (global 'io')", NULL},
    {"req.lua", "local os = require('os') return {}", 0,
     "req.lua:1: attempt to call a nil value (global 'require')", NULL},
    {"load.lua", "return load('return {}')()", 0,
     "load.lua:1: attempt to call a nil value (global 'load')", NULL},
    {"dofile.lua", "return dofile('/etc/passwd')", 0, "global 'dofile'", NULL},
    {"loadfile.lua", "return loadfile('/etc/passwd')()", 0, "global 'loadfile'", NULL},
    {"dump.lua", "return string.dump(function() end)", 0, "field 'dump'", NULL},
    {"debug.lua", "debug.sethook() return {}", 0, "global 'debug'", NULL},
    {"pkg.lua", "package.loadlib('x', 'y') return {}", 0, "global 'package'", NULL},
    {"syn.lua", "return {", 0, "syn.lua:1: unexpected symbol near <eof> (Lua syntax error)", NULL},
    {"bytecode.lua", "\x1bLua", 0, "(Lua syntax error)", NULL},
    {"rt.lua", "local function f() error('boom') end\nreturn f()", 0, "rt.lua:1: boom",
     "stack traceback:\n\t[C]: in function 'error'\n\trt.lua:1: in"},
    {"obj.lua", "error({})", 0, "obj.lua: Lua error: (error object is a table value)", NULL},
    {"num.lua", "return 42", 0, "num.lua: the script returned number; valid: return a table", NULL},
    {"none.lua", "local x = 1", 0, "none.lua: the script returned nil", NULL},
    {"mem.lua", "local t, s = {}, 'x' while true do s = s .. s t[#t + 1] = s end", 0,
     "mem.lua: Lua memory limit exceeded (64 MiB)", NULL},
    {"mem2.lua", "return string.rep('x', 1 << 30)", 0, "mem2.lua: Lua memory limit exceeded", NULL},
    {"mem3.lua", "local t = {} for i = 1, 1e9 do t[i] = {i} end", 0,
     "mem3.lua: Lua memory limit exceeded", NULL},
    {"key.lua", LUA_LPT("scheme = 'mxfp4', sheme = 1"), 0,
     "key.lua: LowPrecisionTrainingModifier: unknown key 'sheme' (did you mean 'scheme'?)", NULL},
    {"type.lua", LUA_LPT("scheme = 'mxfp4', use_hadamard = 'yes'"), 0,
     "type.lua: LowPrecisionTrainingModifier.use_hadamard: expected a boolean, got a string "
     "'yes'; valid: true, false",
     NULL},
    {"mix.lua", LUA_LPT("scheme = 'mxfp4', targets = {'Linear', x = 1}"), 0,
     "mix.lua: a table mixes list entries and named fields", NULL},
    {"fnargs.lua", "return { args = { f = function() end } }", 0,
     "fnargs.lua: args.f: expected a scalar", NULL},
    {"fnlist.lua", LUA_LPT("scheme = 'mxfp4', targets = function() end"), 0,
     "fnlist.lua: LowPrecisionTrainingModifier.targets: a Lua function is not allowed here", NULL},
    {"rgx.lua", LUA_LPT("scheme = 'mxfp4', ignore = {'re:a(b'}"), 0, "rgx.lua: bad regex 're:a(b'",
     NULL},
    {"cycle.lua", "local t = {} t.a_stage = t return t", 0,
     "cycle.lua: the returned table nests deeper than 64 levels", NULL},
    {"nul.lua", "return {}\0", 10, "nul.lua:1:10: binary data (a NUL byte)", NULL},
    {"rule.lua", LUA_LPT("scheme = 'mxfp4', use_2dblock_x = true, use_hadamard = true"), 0,
     "rule.lua: LowPrecisionTrainingModifier.use_hadamard: true needs use_2dblock_x: false", NULL},
};

static void test_bad_recipes(void) {
  int n = (int)(sizeof bad_cases / sizeof *bad_cases);
  CHECK(n >= 30);
  for (int i = 0; i < n; i++) {
    const bad_case *c = &bad_cases[i];
    alto_recipe *r = (alto_recipe *)1;
    size_t len = c->len ? c->len : strlen(c->text);
    alto_error_clear();
    alto_status s = alto_recipe_load_string(c->name, c->text, len, &r);
    const char *msg = alto_last_error();
    CHECKF(s != ALTO_OK && r == NULL, "%s loaded", c->name);
    CHECKF(strstr(msg, c->expect), "%s: expected '%s' in '%s'", c->name, c->expect, msg);
    if (c->expect2)
      CHECKF(strstr(msg, c->expect2), "%s: expected '%s' in '%s'", c->name, c->expect2, msg);
    if (s == ALTO_OK)
      alto_recipe_free(r);
  }
}

/* Generated inputs: deep nesting, a file over the size limit. */
static void test_big_inputs(void) {
  static char deep[4096];
  int d = 0;
  d += snprintf(deep + d, sizeof deep - d, "a_stage: ");
  for (int i = 0; i < 200; i++)
    deep[d++] = '[';
  for (int i = 0; i < 200; i++)
    deep[d++] = ']';
  deep[d] = '\0';
  alto_recipe *r = NULL;
  CHECK(alto_recipe_load_string("deep.yaml", deep, strlen(deep), &r) != ALTO_OK && !r);
  CHECKF(strstr(alto_last_error(), "deep.yaml:1:73: nesting deeper than 64 levels"), "%s",
         alto_last_error());
  /* block-style nesting: "a:\n  a:\n    a: ..." */
  char *block = malloc(100 * 210 + 1);
  size_t k = 0;
  for (int i = 0; i < 100; i++) {
    memset(block + k, ' ', (size_t)(2 * i));
    k += (size_t)(2 * i);
    memcpy(block + k, "a_stage:\n", 9);
    k += 9;
  }
  block[k] = '\0';
  CHECK(alto_recipe_load_string("block.yaml", block, k, &r) != ALTO_OK && !r);
  CHECKF(strstr(alto_last_error(), "nesting deeper than 64 levels"), "%s", alto_last_error());
  free(block);

  /* 50 MB on disk: refused before it is read */
  char path[1200];
  snprintf(path, sizeof path, "%s/huge.yaml", alto_test_tmpdir("recipe"));
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    static char line[1024];
    memset(line, '#', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (int i = 0; i < 50 * 1024; i++)
      fwrite(line, 1, sizeof line, f);
    fclose(f);
    CHECK(alto_recipe_load(path, &r) != ALTO_OK && !r);
    CHECKF(strstr(alto_last_error(), "recipe is 52428800 bytes; recipes larger than 1048576 bytes "
                                     "(1 MiB) are refused"),
           "%s", alto_last_error());
    remove(path);
  }
  /* the same from memory, just over the limit */
  size_t big = ALTO_RECIPE_MAX_BYTES + 1;
  char *text = malloc(big);
  memset(text, '#', big);
  CHECK(alto_recipe_load_string("big.yaml", text, big, &r) != ALTO_OK && !r);
  CHECKF(strstr(alto_last_error(), "big.yaml: recipe is 1048577 bytes"), "%s", alto_last_error());
  free(text);
  /* missing file, a directory */
  CHECK(alto_recipe_load("/nonexistent/x.yaml", &r) == ALTO_ERR_IO && !r);
  CHECKF(strstr(alto_last_error(), "/nonexistent/x.yaml: cannot open the recipe"), "%s",
         alto_last_error());
  CHECK(alto_recipe_load(ALTO_SOURCE_DIR "/recipes", &r) == ALTO_ERR_IO && !r);
}

int main(void) {
  RUN(test_alto_recipes);
  RUN(test_shipped_recipes);
  RUN(test_defaults_and_forms);
  RUN(test_matching);
  RUN(test_lua_recipes);
  RUN(test_bad_recipes);
  RUN(test_big_inputs);
  return alto_test_finish();
}
