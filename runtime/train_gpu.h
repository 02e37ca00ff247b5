/* The GPU backend behind the training loop's executor interface (runtime/train.h): model x
 * recipe lowered to the same plan as the CPU's, run by the GPU plan executor (runtime/exec_gpu.h)
 * on a device backend. param() returns host mirrors that the loop's sync slot keeps current, so
 * checkpoints are the CPU backend's files: either backend resumes the other's. */
#ifndef ALTO_RUNTIME_TRAIN_GPU_H
#define ALTO_RUNTIME_TRAIN_GPU_H

#include <stdint.h>
#include <stdio.h>

#include "base/status.h"
#include "compiler/model.h"
#include "compiler/recipe.h"
#include "runtime/backend.h"
#include "runtime/exec_gpu.h"
#include "runtime/train.h"

typedef struct alto_train_gpu alto_train_gpu;

typedef struct {
  int compile_threads; /* parallel kernel compiles at start (<= 0: the online cores) */
  FILE *progress;      /* the compile progress line (NULL: quiet) */
  alto_exec_gpu_opts exec;
} alto_train_gpu_opts;

/* Lowers model x recipe (NULL: bf16) for (batch, seq), creates the executor on `b` with the
 * parameters of `seed`, and compiles or loads every kernel of the plan (alto_exec_gpu_prepare). */
alto_status alto_train_gpu_create(alto_backend *b, const alto_model *m, const alto_recipe *r,
                                  int64_t batch, int64_t seq, uint64_t seed,
                                  const alto_train_gpu_opts *o, alto_train_gpu **out,
                                  alto_train_exec_i *iface);
void alto_train_gpu_free(alto_train_gpu *g);
int64_t alto_train_gpu_param_count(const alto_train_gpu *g);
/* What prepare did: kernels and seconds. */
void alto_train_gpu_prepare_stats(const alto_train_gpu *g, int *kernels, double *seconds);
alto_exec_gpu *alto_train_gpu_exec(alto_train_gpu *g);
const alto_plan *alto_train_gpu_plan(const alto_train_gpu *g);

#endif
