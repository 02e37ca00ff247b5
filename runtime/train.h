/* The native training loop (ARCHITECTURE.md stage 9).
 *
 * alto_train() runs steps of: data -> forward + backward -> global gradient norm (non-finite
 * check, clipping) -> AdamW with a warmup + cosine learning rate; validation every K steps;
 * checkpoints every K steps (runtime/checkpoint.h) and at the end; a progress line per step;
 * a metrics file and a loss plot in the run directory.
 *
 * The loop talks to the executor and the data loader through two small interfaces (vtables with
 * optional slots, as ggml's backends), so it can be tested with a toy model and moved to the GPU
 * backend unchanged: `alto_train_exec_i` (the plan executor: parameters by name with their fp32
 * master weights, gradients and AdamW moments) and `alto_train_data_i` (the token stream with an
 * (epoch, position) state and a validation pass).
 */
#ifndef ALTO_RUNTIME_TRAIN_H
#define ALTO_RUNTIME_TRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/status.h"
#include "compiler/model.h"

/* ---- learning-rate schedule -------------------------------------------------------------- */
typedef struct {
  double lr;      /* peak */
  double min_lr;  /* reached at the last step */
  int64_t warmup; /* steps of linear warmup (0: none) */
  int64_t total;  /* steps of the run */
} alto_train_schedule;

/* The rate of step `step` (1-based): lr * step / warmup while step <= warmup, then a cosine from
 * lr down to min_lr at step == total (constant min_lr after). */
double alto_train_lr(const alto_train_schedule *s, int64_t step);

/* ---- AdamW -------------------------------------------------------------------------------- */
typedef struct {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step; /* 1-based: bias corrections use beta^step */
} alto_train_adamw;

/* torch.optim.AdamW on one fp32 tensor (decoupled weight decay, bias-corrected moments). */
void alto_train_adamw_update(const alto_train_adamw *h, float *param, const float *grad, float *m,
                             float *v, int64_t n);

/* ---- the executor interface ----------------------------------------------------------------- */
#define ALTO_TRAIN_MAX_DIMS 4

typedef struct {
  const char *name; /* "layers.0.attention.wq.weight" (TorchTitan) */
  int ndim;
  int64_t shape[ALTO_TRAIN_MAX_DIMS];
  int64_t numel;
  float *param; /* fp32 master weights (host) */
  float *grad;  /* fp32 gradient of the last forward + backward */
  float *m, *v; /* AdamW moments */
} alto_train_param;

typedef struct {
  void *self;
  int (*n_params)(void *self);
  void (*param)(void *self, int i, alto_train_param *out);
  /* B*T tokens and next-token targets of one step (row-major (B, T)). */
  alto_status (*set_batch)(void *self, const int32_t *tokens, const int32_t *targets);
  /* Forward (and backward when `backward`) of training step `step` (1-based; it selects the
   * random streams of SR and RHT, so a resumed run draws the same noise). Mean loss into *loss. */
  alto_status (*run)(void *self, int64_t step, bool backward, double *loss);
  /* Optional: AdamW over every parameter (NULL: alto_train_adamw_update on the host pointers). */
  alto_status (*adamw)(void *self, const alto_train_adamw *h);
  /* Optional (device executors, whose param() arrays are host mirrors of device tensors):
   * the sum of squares of every gradient in fp64, computed where the gradients live (NULL: the
   * loop sums the host grads in parameter order). */
  alto_status (*grad_sumsq)(void *self, double *sumsq);
  /* Optional: every gradient *= s where the gradients live (NULL: on the host grads). It may be
   * deferred into the adamw call that follows (the step reads the scaled values; the gradients
   * themselves need not change). */
  alto_status (*scale_grads)(void *self, float s);
  /* Optional: to_host copies the parameters, moments and gradients into param()'s arrays (the
   * loop calls it before a checkpoint and before scanning for a non-finite value); !to_host
   * uploads the parameters and moments from them (after a checkpoint load). NULL: param()'s
   * arrays are the executor's own. */
  alto_status (*sync)(void *self, bool to_host);
} alto_train_exec_i;

/* ---- the data interface -------------------------------------------------------------------- */
typedef struct {
  void *self;
  /* The next training batch: B*T tokens and their targets. */
  alto_status (*next)(void *self, int32_t *tokens, int32_t *targets);
  /* Where the stream is: (epoch, position); restoring it continues with the same batches. */
  void (*get_pos)(void *self, int64_t *epoch, int64_t *position);
  alto_status (*set_pos)(void *self, int64_t epoch, int64_t position);
  /* Optional (NULL: no validation): restart the validation pass; then the next validation batch
   * with *n_targets = its count of targets (>= 0; ignored ones are -1), 0 at the end. The
   * validation loss is the mean over all targets. */
  alto_status (*val_reset)(void *self);
  alto_status (*val_next)(void *self, int32_t *tokens, int32_t *targets, int64_t *n_targets);
} alto_train_data_i;

/* ---- identity of a run (checked on resume) --------------------------------------------------- */
typedef struct {
  char model[96];       /* "llama3/debugmodel" */
  char model_hash[65];  /* sha256 of the model's dimensions */
  char recipe[256];     /* "recipes/llama3_mxfp4.yaml" or "none" */
  char recipe_hash[65]; /* sha256 of the recipe file's bytes ("none" without a recipe) */
} alto_train_identity;

/* Fills the identity of model x recipe file (`recipe_path` NULL: no recipe, everything bf16). */
alto_status alto_train_identity_make(const alto_model *m, const char *recipe_path,
                                     alto_train_identity *id);

/* ---- the run ------------------------------------------------------------------------------ */
typedef struct {
  int64_t steps;      /* the step to stop after (the total of the schedule) */
  int64_t batch, seq; /* B, T */
  double lr, min_lr;  /* peak and final learning rate */
  int64_t warmup;     /* warmup steps */
  double beta1, beta2, eps, weight_decay;
  double grad_clip;    /* global L2 norm bound; 0: no clipping */
  uint64_t seed;       /* the run seed (init, SR and RHT noise) */
  int64_t val_every;   /* validation every K steps (0: never; also at the end when > 0) */
  int64_t val_batches; /* batches per validation pass (0: the whole validation split) */
  int64_t ckpt_every;  /* checkpoint every K steps (0: only at the end) */
  int64_t keep_ckpts;  /* checkpoints to keep (older ones are removed; 0: keep all) */
} alto_train_config;

/* Defaults: lr 3e-3, min_lr 3e-4, warmup 20, betas (0.9, 0.95), eps 1e-8, wd 0.1, clip 1.0,
 * seed 1234, val every 50 x 4 batches, checkpoint every 100, keep 2. steps/batch/seq are 0. */
void alto_train_config_default(alto_train_config *c);

typedef struct {
  alto_train_config cfg;
  alto_train_identity id;
  const char *run_dir;  /* created when missing; holds metrics.csv, loss.png, checkpoints/ */
  const char *run_name; /* the label in plots (default: the run directory's base name) */
  const char *resume;   /* NULL, a checkpoint path, or "latest" (the newest in run_dir) */
  bool fresh;           /* without resume: remove the run directory's old checkpoints (else a
                           run directory holding checkpoints is an error: two runs would mix) */
  FILE *out;            /* progress (default stderr) */
  int progress;         /* 1: one updating line (a TTY), 0: one line per step, -1: auto */
  bool quiet;           /* no progress at all (tests) */
  int64_t stop_after;   /* stop (with a checkpoint) after this step, as if interrupted; 0: run
                           to cfg.steps (the schedule still spans cfg.steps) */
  int64_t nan_at_step;  /* test hook: the loss of this step becomes NaN (0: none) */
} alto_train_opts;

typedef struct {
  int64_t first_step, last_step; /* steps run by this call (first_step > last_step: none) */
  double first_loss, last_loss;  /* of the first and last step run */
  double last_val_loss;          /* NaN when never validated */
  double tokens_per_s;           /* over the steps run */
  char last_ckpt[4096];          /* the newest checkpoint written or resumed from ("" none) */
} alto_train_result;

/* Runs (or resumes) the training. ALTO_ERR_NUMERIC when a loss or gradient is not finite: the
 * message names the step and the first non-finite tensor; the last checkpoint is left intact.
 * Other errors from the executor, the data, the checkpoint or the run directory propagate. */
alto_status alto_train(const alto_train_opts *o, alto_train_exec_i *exec, alto_train_data_i *data,
                       alto_train_result *res);

/* "12m05s", "3.2s", "1h02m" */
void alto_train_fmt_duration(double seconds, char *buf, size_t n);

#endif
