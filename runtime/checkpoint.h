/* Training checkpoints as safetensors (ARCHITECTURE.md stage 9).
 *
 * One file holds everything a bit-exact resume needs:
 *   tensors  "<param>"                      fp32 master weights (TorchTitan names)
 *            "optimizer.exp_avg.<param>"    AdamW first moment  (torch's state names)
 *            "optimizer.exp_avg_sq.<param>" AdamW second moment
 *   __metadata__  format "alto-checkpoint", version, step, data_epoch, data_position, seed, rng
 *            (the SR/RHT noise is Philox keyed by the seed with the step in the stream, NUMERICS.md
 *            section 6, so the seed and step restore it), model, model_hash, recipe, recipe_hash,
 *            and the training configuration (lr, min_lr, warmup, steps, batch, seq, ...).
 * Writes are atomic (runtime/safetensors.h: temporary, fsync, rename). A load validates the
 * whole file, the identity and every shape before it copies anything: on any error the executor
 * is unchanged.
 */
#ifndef ALTO_RUNTIME_CHECKPOINT_H
#define ALTO_RUNTIME_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "runtime/train.h"

#define ALTO_CKPT_FORMAT "alto-checkpoint"
#define ALTO_CKPT_VERSION 1

typedef struct {
  int64_t step;                 /* steps completed */
  int64_t data_epoch, data_pos; /* the loader's state after `step` */
  alto_train_identity id;
  alto_train_config cfg; /* cfg.seed is the run seed */
} alto_ckpt_info;

/* "<run_dir>/checkpoints/step_00000100.safetensors" */
void alto_ckpt_path(const char *run_dir, int64_t step, char *buf, size_t n);

/* Writes the parameters and AdamW moments of `exec` with `info` (creates the checkpoints/
 * directory when `path` is under one that is missing). */
alto_status alto_ckpt_save(const char *path, const alto_ckpt_info *info, alto_train_exec_i *exec);

/* Reads only the metadata (validating that `path` is an alto checkpoint). */
alto_status alto_ckpt_read_info(const char *path, alto_ckpt_info *info);

/* Restores the parameters and moments into `exec` and returns the metadata in *info. Errors (the
 * executor untouched): ALTO_ERR_NOT_FOUND / ALTO_ERR_IO (cannot open), ALTO_ERR_PARSE (not a
 * safetensors file, truncated, or not an alto checkpoint), ALTO_ERR_INVALID_ARG (another model or
 * recipe than `expect`, a missing tensor or a shape mismatch; the message names it). */
alto_status alto_ckpt_load(const char *path, const alto_train_identity *expect,
                           alto_train_exec_i *exec, alto_ckpt_info *info);

/* The newest checkpoint in `<run_dir>/checkpoints/` (highest step); ALTO_ERR_NOT_FOUND when
 * there is none. */
alto_status alto_ckpt_latest(const char *run_dir, char *path, size_t n);

/* Removes all but the newest `keep` checkpoints of the run (0: keeps all; < 0: removes all). */
void alto_ckpt_prune(const char *run_dir, int64_t keep);

#endif
