/* alto-compile: lower a model x recipe into the IR plan of one training step and print it; build
 * the plan's kernels (or the whole quantization matrix) ahead of time into the kernel cache, in
 * parallel and without a GPU; write the generated sources for nvcc / hipcc.
 *   alto-compile --model llama3/8b --recipe recipe.yaml --plan [--batch B --seq S] [--json]
 *   alto-compile --arch sm_90a [--model M --recipe R] [-j N] [--only PATTERN] [--emit-src DIR]
 * Exit codes: 0 ok, 1 user error or a failed compile (the message names the file, field, arch or
 * kernel), 2 usage error. Documented in docs/alto-compile.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/parallel.h"
#include "compiler/lower.h"
#include "compiler/memplan.h"
#include "compiler/variant.h"
#include "runtime/aot.h"
#include "runtime/plan_kernels.h"
#include "runtime/exec_gpu.h"
#include "runtime/quant_matrix.h"

static void usage_(FILE *f) {
  fprintf(f,
          "usage: alto-compile --model MODEL [--recipe RECIPE] --plan [--batch B] [--seq S]\n"
          "                    [--json] [--ops]\n"
          "       alto-compile --arch ARCH [--model MODEL [--recipe RECIPE]] [-j N]\n"
          "                    [--only PATTERN]... [--emit-src DIR [--compile]] [--list]\n"
          "\n"
          "--plan lowers MODEL x RECIPE into the IR of one training step (forward, backward,\n"
          "AdamW) and prints the plan: the scheme each module gets and why, op counts, the\n"
          "memory peak, and the kernel variants.\n"
          "\n"
          "--arch ARCH builds kernels ahead of time into the kernel cache, so that training on\n"
          "a GPU of that arch starts warm (no GPU needed here: NVRTC / hiprtc only). With\n"
          "--model (and --recipe) it builds every kernel of that plan; without, the whole\n"
          "quantization matrix (every scheme, block, axis, rounding and RHT variant alto\n"
          "generates). With --model on a CUDA arch it also builds every kernel the GPU executor\n"
          "runs for the plan (training ops, attention, RHT, transposes and, on sm_90a, alto's\n"
          "own FP8 GEMMs for the fp8_block, fp8_rowwise, fp8_tensorwise and MXFP4 linears, with\n"
          "the MXFP4 conversions; the other GEMMs are cuBLASLt's), so the first step of\n"
          "alto-train is warm. Kernels already in the cache are found, not\n"
          "rebuilt.\n"
          "\n"
          "  --model MODEL    family/flavor (llama3/8b, deepseek_v3/16b, gpt_oss/20b, ...) under\n"
          "                   models/, or a path to a model .yaml\n"
          "  --recipe RECIPE  a recipe .yaml/.lua, or a name under recipes/ (default: none =\n"
          "                   everything bf16)\n"
          "  --plan           print the plan\n"
          "  --batch B        sequences per step (default 1)\n"
          "  --seq S          tokens per sequence (default 2048, at most the model's max)\n"
          "  --json           the plan as JSON on stdout (with --plan)\n"
          "  --ops            also list every op (text output of --plan)\n"
          "  --arch ARCH      target arch: CUDA (NVRTC) %s;\n"
          "                   HIP (hiprtc) %s\n"
          "  -j, --jobs N     compile threads (default: the online cores, or ALTO_NUM_THREADS)\n"
          "  --only PATTERN   only kernels whose key contains PATTERN (repeatable: any of them),\n"
          "                   e.g. --only mxfp4 --only .rows.\n"
          "  --list           print the selected kernels (key; with --model: uses per step and\n"
          "                   the first op) and exit without compiling\n"
          "  --emit-src DIR   write each kernel's source as DIR/<kernel name>.cu (.hip for gfx*)\n"
          "                   and the templates under DIR/templates/, instead of compiling;\n"
          "                   each compiles standalone:\n"
          "                     nvcc -std=c++17 -arch=sm_90a -cubin -I DIR/templates DIR/K.cu\n"
          "                     hipcc -std=c++17 --offload-arch=gfx90a --genco -I DIR/templates\n"
          "                           DIR/K.hip\n"
          "  --compile        with --emit-src: also compile into the cache\n"
          "  -h, --help       this help\n"
          "\n"
          "Progress goes to stderr: a bar with count, rate and ETA on a terminal; one line per\n"
          "kernel when stderr is not a terminal or NO_COLOR is set. The summary goes to stdout:\n"
          "  sm_90a: 160 kernels: 12 compiled, 148 found in cache, 0 failed in 4.2 s\n"
          "  cache: /home/me/.cache/alto\n"
          "The cache is $ALTO_CACHE_DIR, else $XDG_CACHE_HOME/alto, else ~/.cache/alto.\n"
          "\n"
          "Examples:\n"
          "  alto-compile --model llama3/8b --recipe mxfp4 --plan\n"
          "  alto-compile --model llama3/8b --recipe mxfp4 --arch sm_90a   # the plan's kernels\n"
          "  alto-compile --arch sm_90a -j 16                              # the whole matrix\n"
          "  alto-compile --arch sm_90a --only nvfp4 --list\n"
          "  alto-compile --arch gfx90a --emit-src /tmp/k && ls /tmp/k\n"
          "\n"
          "Exit codes: 0 ok; 1 bad model/recipe/dimensions/arch, a missing compiler, or a kernel\n"
          "that failed to compile (its log, source and a repro command are printed); 2 usage\n"
          "error.\n",
          alto_aot_archs(ALTO_TARGET_CUDA), alto_aot_archs(ALTO_TARGET_HIP));
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

/* ---- --arch: ahead-of-time compile ----------------------------------------------------------- */

#define MAX_ONLY_ 16

typedef struct {
  const char *arch;
  alto_target target;
  int jobs;
  const char *only[MAX_ONLY_];
  int n_only;
  const char *emit_dir;
  bool compile, list;
} aot_opts_;

typedef struct {
  bool bar; /* a redrawn bar (terminal, no NO_COLOR) or one line per kernel */
  double t0;
} progress_;

static double now_(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void human_secs_(double s, char *buf, size_t n) {
  if (s < 60)
    snprintf(buf, n, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void progress_cb_(void *ctx, int done, int total, const char *key, alto_aot_result res,
                         double secs, const char *error) {
  progress_ *p = ctx;
  if (res == ALTO_AOT_WRITTEN)
    return; /* --emit-src alone: instant, nothing to watch */
  static const char *const what[] = {"compiled", "cached", "written", "FAILED"};
  double el = now_() - p->t0;
  double rate = el > 0 ? done / el : 0;
  char eta[32];
  human_secs_(rate > 0 ? (total - done) / rate : 0, eta, sizeof eta);
  if (!p->bar) {
    fprintf(stderr, "[%*d/%d] %-8s %s (%.2f s)\n", total >= 100 ? 3 : 2, done, total, what[res],
            key, secs);
    if (error)
      fprintf(stderr, "%s\n", error);
    return;
  }
  if (error)
    fprintf(stderr, "\r\x1b[2KFAILED %s\n%s\n", key, error);
  int width = 30, fill = total ? done * width / total : width;
  char bar[64];
  for (int i = 0; i < width; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[width] = '\0';
  fprintf(stderr, "\r\x1b[2K[%s] %d/%d  %.1f/s  ETA %s  %.60s", bar, done, total, rate, eta, key);
  if (done == total)
    fputc('\n', stderr);
  fflush(stderr);
}

static bool selected_(const aot_opts_ *o, const char *key) {
  if (!o->n_only)
    return true;
  for (int i = 0; i < o->n_only; i++)
    if (strstr(key, o->only[i]))
      return true;
  return false;
}

/* The kernels to build: the plan's (l != NULL) or the quantization matrix, filtered by --only.
 * Returns the count; *out is malloc'd. */
static int select_kernels_(const aot_opts_ *o, const alto_plan_kernels *pk, alto_qkern **out) {
  int cap = 512, n = 0;
  alto_qkern *all = alto_xcalloc((size_t)cap, sizeof *all);
  int n_all = pk ? 0 : alto_quant_matrix_kernels(o->target, o->arch, all, cap);
  if (pk) {
    all = alto_xrealloc(all, (size_t)(pk->n ? pk->n : 1) * sizeof *all);
    for (int i = 0; i < pk->n; i++)
      all[n_all++] = pk->kernels[i].k;
  }
  for (int i = 0; i < n_all; i++) {
    char key[256];
    alto_qkern_key(&all[i], key, sizeof key);
    if (selected_(o, key))
      all[n++] = all[i];
  }
  *out = all;
  return n;
}

static void list_kernels_(const alto_qkern *ks, int n, const alto_plan_kernels *pk) {
  for (int i = 0; i < n; i++) {
    char key[256];
    alto_qkern_key(&ks[i], key, sizeof key);
    const alto_plan_kernel *e = NULL;
    for (int j = 0; pk && j < pk->n && !e; j++)
      if (strcmp(pk->kernels[j].key, key) == 0)
        e = &pk->kernels[j];
    if (e)
      printf("%4d  %-72s %s\n", e->uses, key, e->first);
    else
      printf("%s\n", key);
  }
}

/* Emits and/or compiles; returns the exit code. */
/* One batch with the options' target, arch, threads, emit dir and compile flag, and a progress
 * line: quantization descriptors ks, or ready stubs gen. */
static void run_batch_(const aot_opts_ *o, const alto_qkern *ks, const alto_gen_kernel *gen, int n,
                       alto_aot_summary *sum) {
  progress_ prog = {alto_log_color(), now_()};
  alto_aot_batch b = {.kernels = ks,
                      .gen = gen,
                      .n = n,
                      .target = o->target,
                      .arch = o->arch,
                      .threads = o->jobs,
                      .emit_dir = o->emit_dir,
                      .compile = o->compile,
                      .progress = progress_cb_,
                      .progress_ctx = &prog};
  alto_aot_run(&b, sum);
}

static int run_aot_(const aot_opts_ *o, const alto_plan_kernels *pk, const char *what) {
  alto_qkern *ks = NULL;
  int n = select_kernels_(o, pk, &ks);
  const char *tname = alto_target_info_get(o->target)->name;
  if (o->list) {
    list_kernels_(ks, n, pk);
    free(ks);
    return 0;
  }
  printf("%s: %d quantization kernel%s for %s (%s)%s\n", what, n, n == 1 ? "" : "s", o->arch,
         tname, o->n_only ? ", selected by --only" : "");
  fflush(stdout);
  if (n == 0) {
    free(ks);
    if (pk) /* the executor's kernels may still match (main decides) */
      return -1;
    fprintf(stderr, "alto-compile: no kernel matches --only (see --list)\n");
    return 1;
  }
  char root[4096] = "";
  if (o->compile) {
    if (alto_aot_ready(o->target) != ALTO_OK || alto_cache_root(root, sizeof root) != ALTO_OK) {
      fprintf(stderr, "alto-compile: %s\n", alto_last_error());
      free(ks);
      return 1;
    }
  }
  if (o->emit_dir && alto_aot_emit_templates(o->emit_dir) != ALTO_OK) {
    fprintf(stderr, "alto-compile: %s\n", alto_last_error());
    free(ks);
    return 1;
  }
  alto_aot_summary sum;
  run_batch_(o, ks, NULL, n, &sum);
  free(ks);
  if (o->compile)
    printf("%s: %d kernels: %d compiled, %d found in cache, %d failed in %.1f s (%d threads)\n"
           "cache: %s\n",
           o->arch, n, sum.compiled, sum.cached, sum.failed, sum.seconds, o->jobs, root);
  else
    printf("%s: %d kernels: %d written, %d failed in %.1f s\n", o->arch, n, sum.written, sum.failed,
           sum.seconds);
  if (o->emit_dir)
    printf("sources: %s (templates: %s/templates)\n", o->emit_dir, o->emit_dir);
  if (sum.failed)
    fprintf(stderr, "alto-compile: %d of %d kernels failed (messages above)\n", sum.failed, n);
  return sum.failed ? 1 : 0;
}

/* --model with --arch: every kernel the GPU executor runs for the plan (training ops, attention,
 * RHT, transposes, and the quantizers again: found in the cache), so that `alto-train` on a GPU
 * of that arch starts warm. Returns the exit code. */
static int run_exec_aot_(const aot_opts_ *o, const alto_model *m, const alto_plan *p) {
  alto_jit_recorder rec;
  if (alto_exec_gpu_plan_kernels(m, p, o->target, o->arch, &rec) != ALTO_OK) {
    fprintf(stderr, "alto-compile: the GPU executor's kernels: %s\n", alto_last_error());
    return 1;
  }
  int n = 0;
  for (int i = 0; i < rec.n; i++) /* --only keeps the matching ones, in order */
    if (selected_(o, rec.k[i].key)) {
      alto_gen_kernel t = rec.k[n];
      rec.k[n++] = rec.k[i];
      rec.k[i] = t;
    }
  int rc = 0;
  if (o->list) {
    for (int i = 0; i < n; i++)
      printf("exec  %s\n", rec.k[i].key);
  } else if (n == 0) {
    rc = -1; /* none selected by --only */
  } else {
    printf("GPU executor: %d kernels (training ops, attention, quantization) for %s\n", n, o->arch);
    fflush(stdout);
    alto_aot_summary sum;
    run_batch_(o, NULL, rec.k, n, &sum);
    printf("%s: %d executor kernels: %d compiled, %d found in cache, %d written, %d failed in "
           "%.1f s\n",
           o->arch, n, sum.compiled, sum.cached, sum.written, sum.failed, sum.seconds);
    rc = sum.failed ? 1 : 0;
  }
  alto_jit_recorder_free(&rec);
  return rc;
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  const char *model = NULL, *recipe = NULL;
  int64_t batch = 1, seq = 2048;
  bool plan = false, json = false, ops = false;
  aot_opts_ ao = {0};
  ao.jobs = alto_parallel_threads();
  ao.compile = true;
  bool also_compile = false;
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
    } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
      int64_t j;
      if (!has_val || !parse_i64_(argv[i + 1], &j) || j > 256)
        return usage_error_("needs a thread count 1..256", a);
      ao.jobs = (int)j;
      i++;
    } else if (!strcmp(a, "--arch")) {
      if (!has_val)
        return usage_error_("--arch needs a value (e.g. sm_90a, gfx90a)", NULL);
      ao.arch = argv[++i];
    } else if (!strcmp(a, "--emit-src")) {
      if (!has_val)
        return usage_error_("--emit-src needs a directory", NULL);
      ao.emit_dir = argv[++i];
    } else if (!strcmp(a, "--only")) {
      if (!has_val || !*argv[i + 1])
        return usage_error_("--only needs a non-empty pattern", NULL);
      if (ao.n_only == MAX_ONLY_)
        return usage_error_("too many --only patterns (at most 16)", NULL);
      ao.only[ao.n_only++] = argv[++i];
    } else if (!strcmp(a, "--compile")) {
      also_compile = true;
    } else if (!strcmp(a, "--list")) {
      ao.list = true;
    } else if (!strcmp(a, "--plan")) {
      plan = true;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--ops")) {
      ops = true;
    } else {
      return usage_error_("unknown argument", a);
    }
  }
  if (!plan && !ao.arch)
    return usage_error_("nothing to do: give --plan (with --model) or --arch", NULL);
  if (plan && !model)
    return usage_error_("--plan needs --model", NULL);
  if (recipe && !model)
    return usage_error_("--recipe needs --model", NULL);
  if ((ao.emit_dir || ao.n_only || ao.list || also_compile) && !ao.arch)
    return usage_error_("--emit-src, --only, --list and --compile need --arch", NULL);
  if (also_compile && !ao.emit_dir)
    return usage_error_("--compile goes with --emit-src (compiling is the default otherwise)",
                        NULL);
  if (json && !plan)
    return usage_error_("--json applies to --plan", NULL);
  if (ao.emit_dir)
    ao.compile = also_compile;
  if (ao.arch && alto_aot_arch_check(ao.arch, &ao.target) != ALTO_OK) {
    fprintf(stderr, "alto-compile: --arch: %s\n", alto_last_error());
    return 1;
  }
  if (!model) {
    aot_opts_ *o = &ao;
    return run_aot_(o, NULL, "full quantization matrix");
  }
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
  alto_lower_opts lo = {batch, seq, ao.arch ? ao.arch : ""};
  if (alto_lower(&m, r, &lo, &l) != ALTO_OK) {
    fprintf(stderr, "alto-compile: %s/%s: %s\n", m.family, m.flavor, alto_last_error());
    alto_recipe_free(r);
    return 1;
  }
  int rc = 0;
  if (plan && json)
    print_json_(&m, rpath, &l);
  else if (plan)
    print_text_(&m, rpath, &l, ops);
  if (ao.arch) {
    alto_plan_kernels pk;
    if (alto_plan_kernels_of(&l.plan, ao.target, ao.arch, &pk) != ALTO_OK) {
      fprintf(stderr, "alto-compile: %s/%s: %s\n", m.family, m.flavor, alto_last_error());
      rc = 1;
    } else {
      char what[256];
      snprintf(what, sizeof what, "%s/%s x %s", m.family, m.flavor, recipe ? recipe : "bf16");
      if (plan)
        printf("\n");
      rc = run_aot_(&ao, &pk, what);
      /* the executor runs CUDA only (GEMMs through cuBLASLt); -1: --only selected nothing */
      int rc2 = -1;
      if ((rc <= 0 || ao.list) && ao.target == ALTO_TARGET_CUDA)
        rc2 = run_exec_aot_(&ao, &m, &l.plan);
      if (rc < 0 && rc2 < 0) {
        fprintf(stderr, "alto-compile: no kernel matches --only in this plan (see --list)\n");
        rc = 1;
      } else {
        rc = rc > 0 ? rc : rc2 > 0 ? rc2 : 0;
      }
    }
    alto_plan_kernels_free(&pk);
  }
  alto_lowered_free(&l);
  alto_recipe_free(r);
  return rc;
}
