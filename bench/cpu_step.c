/* One training step (forward + backward + AdamW) of a model on the CPU executor, timed.
 * Build (after the library):
 *   cc -O2 -I. -Itemplates -Itemplates/common -DALTO_SOURCE_DIR=\"$PWD\" bench/cpu_step.c \
 *      build/libalto.a $(grep -E '^(YAML|LUA)_LIBRARY:' build/CMakeCache.txt | cut -d= -f2) \
 *      -lpthread -ldl -lm -o build/cpu_step
 * Run: ALTO_NUM_THREADS=2 ./build/cpu_step llama3/debugmodel recipes/bf16.yaml 4 256 3 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "compiler/lower.h"
#include "compiler/recipe.h"
#include "runtime/cpu/exec.h"

static double now_(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s MODEL RECIPE BATCH SEQ STEPS\n", argv[0]);
    return 2;
  }
  alto_model m;
  alto_recipe *r;
  alto_lowered l;
  alto_exec *e;
  alto_lower_opts o = {atoll(argv[3]), atoll(argv[4]), ""};
  if (alto_model_load(argv[1], &m) || alto_recipe_load(argv[2], &r) || alto_lower(&m, r, &o, &l) ||
      alto_exec_create(&m, &l.plan, 1, &e)) {
    fprintf(stderr, "error: %s\n", alto_last_error());
    return 1;
  }
  int64_t M = o.batch * o.seq;
  int32_t *tok = malloc((size_t)M * sizeof *tok), *tgt = malloc((size_t)M * sizeof *tgt);
  for (int64_t i = 0; i < M; i++)
    tok[i] = (int32_t)((i * 7919) % m.vocab_size), tgt[i] = (int32_t)((i * 104729) % m.vocab_size);
  alto_exec_set_inputs(e, tok, tgt);
  alto_adamw_hparams h = {
      .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  int steps = atoi(argv[5]);
  for (int s = 1; s <= steps; s++) {
    double t0 = now_(), loss;
    alto_exec_forward_backward(e, s, &loss);
    double t1 = now_();
    alto_exec_clip_grad_norm(e, 1.0);
    alto_exec_optimizer_step(e, &h, s);
    double t2 = now_();
    printf("step %d loss %.4f fwd+bwd %.3f s optimizer %.3f s total %.3f s (arena %.1f MiB)\n", s,
           loss, t1 - t0, t2 - t1, t2 - t0, (double)l.plan.arena_bytes / (1 << 20));
  }
  alto_exec_free(e);
  alto_lowered_free(&l);
  alto_recipe_free(r);
  free(tok);
  free(tgt);
  return 0;
}
