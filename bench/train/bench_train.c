/* bench_train: alto's GPU training step, timed the way bench/train/torch_ref.py times PyTorch's
 * (same model, batch, sequence and random tokens; FLOPs per token 6 N + 12 L d T with N the
 * non-embedding parameters, the output projection counted; MFU against 989.4 TFLOP/s, the H100
 * SXM dense bf16 peak).
 *
 *   build/bench/bench_train --model llama3/1b --recipe fp8_block --batch 4 --seq 2048 \
 *       [--steps 20] [--warmup 3] [--profile] [--fp8-emulate] [--mxfp4-dequant] [--mxfp4-all-sizes]
 *
 * One step = what alto-train does per step: upload the batch, forward + backward, the global
 * gradient norm (read back: the loop checks it is finite), clipping, AdamW. Time: wall clock over
 * the timed steps (every step ends synchronized when the loss is read). Memory: device memory in
 * use (cuMemGetInfo) after the steps minus before the executor was created: everything alto
 * allocated (arena, scratch, cuBLASLt workspace, modules). Prints one human line and a JSON line
 * ("RESULT {...}") like torch_ref.py. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/model.h"
#include "compiler/recipe.h"
#include "runtime/backend.h"
#include "runtime/cuda/driver.h"
#include "runtime/exec_gpu.h"
#include "runtime/train_gpu.h"

static double now_(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail_(const char *what) {
  fprintf(stderr, "bench_train: %s: %s\n", what, alto_last_error());
  return 1;
}

int main(int argc, char **argv) {
  const char *model = "llama3/debugmodel", *recipe = NULL;
  int64_t batch = 8, seq = 2048, steps = 20, warmup = 3;
  bool profile = false, emulate = false, mx_dequant = false, mx_all = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--profile"))
      profile = true;
    else if (!strcmp(a, "--fp8-emulate"))
      emulate = true;
    else if (!strcmp(a, "--mxfp4-dequant"))
      mx_dequant = true;
    else if (!strcmp(a, "--mxfp4-all-sizes"))
      mx_all = true;
    else if (!strcmp(a, "--model"))
      model = v, i++;
    else if (!strcmp(a, "--recipe"))
      recipe = v, i++;
    else if (!strcmp(a, "--batch"))
      batch = atoll(v), i++;
    else if (!strcmp(a, "--seq"))
      seq = atoll(v), i++;
    else if (!strcmp(a, "--steps"))
      steps = atoll(v), i++;
    else if (!strcmp(a, "--warmup"))
      warmup = atoll(v), i++;
    else {
      fprintf(stderr, "bench_train: unknown argument %s\n", a);
      return 2;
    }
  }
  alto_backend *b;
  if (alto_backend_open("cuda", &b) != ALTO_OK)
    return fail_("cuda");
  alto_model m;
  if (alto_model_load(model, &m) != ALTO_OK)
    return fail_("model");
  alto_recipe *r = NULL;
  char rpath[512] = "bf16";
  if (recipe && strcmp(recipe, "bf16")) {
    snprintf(rpath, sizeof rpath, "%s/recipes/%s.yaml", ALTO_SOURCE_DIR, recipe);
    if (alto_recipe_load(rpath, &r) != ALTO_OK)
      return fail_("recipe");
  }
  size_t free0, total;
  alto_cuda_sync();
  if (alto_cuda_mem_info(&free0, &total) != ALTO_OK)
    return fail_("cuMemGetInfo");
  alto_train_gpu *g;
  alto_train_exec_i ex;
  alto_train_gpu_opts go = {
      .progress = stderr,
      .exec = {.fp8_emulate = emulate, .mx_dequant = mx_dequant, .mx_all_sizes = mx_all}};
  double t0 = now_();
  if (alto_train_gpu_create(b, &m, r, batch, seq, 1234, &go, &g, &ex) != ALTO_OK)
    return fail_("create");
  double create_s = now_() - t0;
  int nk;
  double prep_s;
  alto_train_gpu_prepare_stats(g, &nk, &prep_s);
  alto_exec_gpu *e = alto_train_gpu_exec(g);

  const int64_t n_tok = batch * seq;
  int32_t *tok = malloc((size_t)n_tok * 4), *tgt = malloc((size_t)n_tok * 4);
  uint64_t state = 42;
  double first_loss = NAN, last_loss = NAN, t_steps = 0;
  for (int64_t step = 1; step <= warmup + steps; step++) {
    for (int64_t i = 0; i < n_tok; i++) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      tok[i] = (int32_t)((state >> 33) % (uint64_t)m.vocab_size);
    }
    for (int64_t i = 0; i < n_tok; i++)
      tgt[i] = i + 1 < n_tok ? tok[i + 1] : tok[0];
    double ts = now_(), loss, sq;
    alto_status s = ex.set_batch(ex.self, tok, tgt);
    if (s == ALTO_OK)
      s = ex.run(ex.self, step, true, &loss);
    if (s == ALTO_OK)
      s = ex.grad_sumsq(ex.self, &sq);
    if (s == ALTO_OK && sqrt(sq) > 1.0)
      s = ex.scale_grads(ex.self, (float)(1.0 / (sqrt(sq) + 1e-6)));
    alto_train_adamw h = {3e-4, 0.9, 0.95, 1e-8, 0.1, step};
    if (s == ALTO_OK)
      s = ex.adamw(ex.self, &h);
    if (s == ALTO_OK)
      s = alto_cuda_sync();
    if (s != ALTO_OK)
      return fail_("step");
    if (step > warmup)
      t_steps += now_() - ts;
    if (step == 1)
      first_loss = loss;
    last_loss = loss;
  }
  size_t free1;
  alto_cuda_mem_info(&free1, &total);
  double mem_gib = (double)(free0 - free1) / (1024.0 * 1024.0 * 1024.0);

  int64_t total_params = alto_train_gpu_param_count(g);
  int64_t emb = m.vocab_size * m.dim;
  int64_t nonemb = total_params - emb + (m.tied_embeddings ? emb : 0);
  int64_t head_dim = m.dim / m.attn.n_heads;
  double flops_tok = 6.0 * (double)nonemb + 12.0 * (double)m.n_layers *
                                                 (double)(m.attn.n_heads * head_dim) * (double)seq;
  double tps = (double)(steps * n_tok) / t_steps;
  double mfu = tps * flops_tok / 989.4e12;
  char gemms[256], choices[4096];
  alto_exec_gpu_gemm_summary(e, gemms, sizeof gemms);
  alto_exec_gpu_gemm_choices(e, choices, sizeof choices);
  if (choices[0])
    printf("FP8 GEMM choices (measured on the first step):\n%s\n", choices);
  printf("alto %s/%s %s%s batch %" PRId64 " seq %" PRId64 ": %.0f tok/s, %.2f ms/step, MFU %.1f%%, "
         "memory %.2f GiB, loss %.4f -> %.4f, %d kernels ready in %.3f s (create %.2f s); GEMMs: "
         "%s\n",
         m.family, m.flavor, recipe ? recipe : "bf16", emulate ? " (fp8 emulated)" : "", batch, seq,
         tps, 1e3 * t_steps / (double)steps, 100 * mfu, mem_gib, first_loss, last_loss, nk, prep_s,
         create_s, gemms);
  printf("RESULT {\"impl\":\"alto\",\"model\":\"%s\",\"precision\":\"%s%s\",\"batch\":%" PRId64
         ",\"seq\":%" PRId64 ",\"steps\":%" PRId64 ",\"tokens_per_s\":%.1f,\"ms_per_step\":%.3f,"
         "\"mfu\":%.4f,\"mem_gib\":%.3f,\"first_loss\":%.6f,\"last_loss\":%.6f,\"kernels\":%d,"
         "\"prepare_s\":%.4f,\"params\":%" PRId64 ",\"params_nonembedding\":%" PRId64 "}\n",
         m.flavor, recipe ? recipe : "bf16", emulate ? "_emulated" : "", batch, seq, steps, tps,
         1e3 * t_steps / (double)steps, mfu, mem_gib, first_loss, last_loss, nk, prep_s,
         total_params, nonemb);
  if (profile && alto_exec_gpu_profile(e, warmup + steps, stdout) != ALTO_OK)
    return fail_("profile");
  free(tok);
  free(tgt);
  alto_train_gpu_free(g);
  alto_recipe_free(r);
  alto_backend_close(b);
  return 0;
}
