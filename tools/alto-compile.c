/* alto-compile: lower a model x recipe into the IR plan of one training step and print it.
 *   alto-compile --model llama3/8b --recipe recipe.yaml --plan [--batch B --seq S] [--json]
 * Exit codes: 0 ok, 1 user error (bad model/recipe/dimension; the message names the file and
 * field), 2 usage error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/lower.h"
#include "compiler/memplan.h"
#include "compiler/variant.h"

static void usage_(FILE *f) {
  fprintf(f,
          "usage: alto-compile --model MODEL [--recipe RECIPE] --plan [--batch B] [--seq S] "
          "[--json]\n"
          "\n"
          "Lowers MODEL x RECIPE into the IR of one training step (forward, backward, AdamW)\n"
          "and prints the plan: the scheme each module gets and why, op counts, the memory\n"
          "peak, and the kernel variants.\n"
          "\n"
          "  --model MODEL    family/flavor (llama3/8b, deepseek_v3/16b, gpt_oss/20b, ...) under\n"
          "                   models/, or a path to a model .yaml\n"
          "  --recipe RECIPE  a recipe .yaml/.lua, or a name under recipes/ (default: none =\n"
          "                   everything bf16)\n"
          "  --plan           print the plan (the only action for now)\n"
          "  --batch B        sequences per step (default 1)\n"
          "  --seq S          tokens per sequence (default 2048, at most the model's max)\n"
          "  --json           machine-readable output on stdout\n"
          "  --ops            also list every op (text output)\n"
          "  -h, --help       this help\n"
          "\n"
          "Not yet available (a later issue): --arch ARCH (target architecture baked into the\n"
          "variant keys), --emit-src DIR (generated kernel sources).\n"
          "\n"
          "Exit codes: 0 ok, 1 bad model/recipe/dimensions, 2 usage error.\n");
}

static int usage_error_(const char *msg, const char *arg) {
  fprintf(stderr, "alto-compile: %s%s%s\n(see alto-compile --help)\n", msg, arg ? ": " : "",
          arg ? arg : "");
  return 2;
}

static bool parse_i64_(const char *s, int64_t *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v <= 0)
    return false;
  *out = v;
  return true;
}

static void json_str_(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch == '\n')
      fputs("\\n", f);
    else if (ch == '\t')
      fputs("\\t", f);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static const char *recipe_path_(const char *r, char *buf, size_t n) {
  if (access(r, R_OK) == 0 || strchr(r, '/') || strstr(r, ".yaml") || strstr(r, ".lua"))
    return r;
  snprintf(buf, n, "%s/recipes/%s.yaml", ALTO_SOURCE_DIR, r);
  return buf;
}

static void print_text_(const alto_model *m, const char *recipe, const alto_lowered *l, bool ops) {
  const alto_plan *p = &l->plan;
  char h[32];
  printf("model   %s/%s (%s)\n", m->family, m->flavor, m->path);
  printf("recipe  %s\n", recipe ? recipe : "(none: bf16)");
  printf("step    batch %lld x seq %lld = %lld tokens\n\n", (long long)p->batch, (long long)p->seq,
         (long long)(p->batch * p->seq));
  printf("modules (%d):\n", l->n_choices);
  for (int i = 0; i < l->n_choices; i++) {
    const alto_lower_choice *ch = &l->choices[i];
    printf("  %-44s %-22s %-14s %s\n", ch->module, ch->cls, alto_scheme_name(ch->scheme), ch->why);
  }
  printf("\nops (%d):\n", p->n_nodes);
  for (int op = 0; op < ALTO_OP_COUNT; op++) {
    int n = alto_plan_count_op(p, (alto_op)op);
    if (n)
      printf("  %-18s %d\n", alto_ir_op_name((alto_op)op), n);
  }
  printf("\nmemory:\n");
  alto_memplan_human(p->arena_bytes, h, sizeof h);
  printf("  arena peak        %s (%zu bytes, %d buffers)\n", h, p->arena_bytes, p->n_bufs);
  alto_memplan_human(p->persistent_bytes, h, sizeof h);
  printf("  persistent        %s (params, grads, AdamW state, inputs)\n", h);
  alto_memplan_human(p->arena_bytes - p->persistent_bytes, h, sizeof h);
  printf("  activations peak  %s\n", h);
  printf("\nvariants (%d):\n", p->n_variants);
  for (int i = 0; i < p->n_variants; i++)
    printf("  %5d  %016llx  %s\n", p->variant_uses[i], (unsigned long long)p->variants[i].hash,
           p->variants[i].key);
  if (ops) {
    printf("\nplan:\n");
    alto_plan_print(p, stdout);
  }
}

static void print_json_(const alto_model *m, const char *recipe, const alto_lowered *l) {
  const alto_plan *p = &l->plan;
  printf("{\n  \"model\": ");
  json_str_(stdout, m->path);
  printf(",\n  \"family\": ");
  json_str_(stdout, m->family);
  printf(",\n  \"flavor\": ");
  json_str_(stdout, m->flavor);
  printf(",\n  \"recipe\": ");
  if (recipe)
    json_str_(stdout, recipe);
  else
    printf("null");
  printf(",\n  \"batch\": %lld,\n  \"seq\": %lld,\n  \"modules\": [", (long long)p->batch,
         (long long)p->seq);
  for (int i = 0; i < l->n_choices; i++) {
    const alto_lower_choice *ch = &l->choices[i];
    printf("%s\n    {\"name\": ", i ? "," : "");
    json_str_(stdout, ch->module);
    printf(", \"class\": ");
    json_str_(stdout, ch->cls);
    printf(", \"layer\": %d, \"scheme\": ", ch->layer);
    json_str_(stdout, alto_scheme_name(ch->scheme));
    printf(", \"why\": ");
    json_str_(stdout, ch->why);
    printf("}");
  }
  printf("\n  ],\n  \"ops\": {");
  int k = 0;
  for (int op = 0; op < ALTO_OP_COUNT; op++) {
    int n = alto_plan_count_op(p, (alto_op)op);
    if (n)
      printf("%s\"%s\": %d", k++ ? ", " : "", alto_ir_op_name((alto_op)op), n);
  }
  printf("},\n  \"n_ops\": %d,\n  \"n_buffers\": %d,\n", p->n_nodes, p->n_bufs);
  printf("  \"memory\": {\"arena_bytes\": %zu, \"persistent_bytes\": %zu, \"align\": %d},\n",
         p->arena_bytes, p->persistent_bytes, ALTO_MEMPLAN_ALIGN);
  printf("  \"variants\": [");
  for (int i = 0; i < p->n_variants; i++) {
    printf("%s\n    {\"key\": ", i ? "," : "");
    json_str_(stdout, p->variants[i].key);
    printf(", \"hash\": \"%016llx\", \"uses\": %d}", (unsigned long long)p->variants[i].hash,
           p->variant_uses[i]);
  }
  printf("\n  ]\n}\n");
}

int main(int argc, char **argv) {
  const char *model = NULL, *recipe = NULL;
  int64_t batch = 1, seq = 2048;
  bool plan = false, json = false, ops = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_val = i + 1 < argc;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage_(stdout);
      return 0;
    } else if (!strcmp(a, "--model")) {
      if (!has_val)
        return usage_error_("--model needs a value", NULL);
      model = argv[++i];
    } else if (!strcmp(a, "--recipe")) {
      if (!has_val)
        return usage_error_("--recipe needs a value", NULL);
      recipe = argv[++i];
    } else if (!strcmp(a, "--batch") || !strcmp(a, "--seq")) {
      if (!has_val || !parse_i64_(argv[i + 1], a[2] == 'b' ? &batch : &seq))
        return usage_error_("needs a positive integer", a);
      i++;
    } else if (!strcmp(a, "--plan")) {
      plan = true;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--ops")) {
      ops = true;
    } else if (!strcmp(a, "--arch") || !strcmp(a, "--emit-src")) {
      return usage_error_("not yet available (kernel generation is a later issue)", a);
    } else {
      return usage_error_("unknown argument", a);
    }
  }
  if (!model)
    return usage_error_("--model is required", NULL);
  if (!plan)
    return usage_error_("nothing to do: give --plan", NULL);
  alto_model m;
  if (alto_model_load(model, &m) != ALTO_OK) {
    fprintf(stderr, "alto-compile: %s\n", alto_last_error());
    return 1;
  }
  alto_recipe *r = NULL;
  char rbuf[600];
  const char *rpath = recipe ? recipe_path_(recipe, rbuf, sizeof rbuf) : NULL;
  if (rpath && alto_recipe_load(rpath, &r) != ALTO_OK) {
    fprintf(stderr, "alto-compile: %s\n", alto_last_error());
    return 1;
  }
  alto_lowered l;
  alto_lower_opts o = {batch, seq, ""};
  if (alto_lower(&m, r, &o, &l) != ALTO_OK) {
    fprintf(stderr, "alto-compile: %s/%s: %s\n", m.family, m.flavor, alto_last_error());
    alto_recipe_free(r);
    return 1;
  }
  if (json)
    print_json_(&m, rpath, &l);
  else
    print_text_(&m, rpath, &l, ops);
  alto_lowered_free(&l);
  alto_recipe_free(r);
  return 0;
}
