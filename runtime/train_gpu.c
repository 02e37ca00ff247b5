/* The GPU executor as the training loop's interface (see train_gpu.h). */
#include "runtime/train_gpu.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/lower.h"

struct alto_train_gpu {
  alto_lowered lowered;
  alto_exec_gpu *exec;
  int64_t n_weights;
  int kernels;
  double prepare_s;
};

static int gpu_n_params_(void *self) {
  return alto_exec_gpu_n_params(((alto_train_gpu *)self)->exec);
}

static void gpu_param_(void *self, int i, alto_train_param *out) {
  alto_train_gpu *g = self;
  memset(out, 0, sizeof *out);
  const char *name;
  alto_exec_gpu_param(g->exec, i, &name, &out->numel, &out->param, &out->grad, &out->m, &out->v);
  const alto_buffer *b = alto_exec_gpu_buffer(g->exec, alto_exec_gpu_find(g->exec, name));
  out->name = b->name;
  out->ndim = b->rank;
  for (int d = 0; d < b->rank && d < ALTO_TRAIN_MAX_DIMS; d++)
    out->shape[d] = b->shape[d];
}

static alto_status gpu_set_batch_(void *self, const int32_t *tok, const int32_t *tgt) {
  return alto_exec_gpu_set_inputs(((alto_train_gpu *)self)->exec, tok, tgt);
}

static alto_status gpu_run_(void *self, int64_t step, bool backward, double *loss) {
  alto_train_gpu *g = self;
  return backward ? alto_exec_gpu_forward_backward(g->exec, step, loss)
                  : alto_exec_gpu_forward(g->exec, step, loss);
}

static alto_status gpu_adamw_(void *self, const alto_train_adamw *h) {
  alto_adamw_hparams hp = {h->lr, h->beta1, h->beta2, h->eps, h->weight_decay};
  return alto_exec_gpu_optimizer_step(((alto_train_gpu *)self)->exec, &hp, h->step);
}

static alto_status gpu_grad_sumsq_(void *self, double *sumsq) {
  return alto_exec_gpu_grad_sumsq(((alto_train_gpu *)self)->exec, sumsq);
}

/* The clip factor rides on the AdamW that follows (one pass over the gradients fewer). */
static alto_status gpu_scale_grads_(void *self, float s) {
  alto_exec_gpu_defer_grad_scale(((alto_train_gpu *)self)->exec, s);
  return ALTO_OK;
}

static alto_status gpu_sync_(void *self, bool to_host) {
  return alto_exec_gpu_sync(((alto_train_gpu *)self)->exec, to_host);
}

alto_status alto_train_gpu_create(alto_backend *b, const alto_model *m, const alto_recipe *r,
                                  int64_t batch, int64_t seq, uint64_t seed,
                                  const alto_train_gpu_opts *o, alto_train_gpu **out,
                                  alto_train_exec_i *iface) {
  *out = NULL;
  alto_train_gpu_opts def = {0};
  if (!o)
    o = &def;
  alto_train_gpu *g = alto_xcalloc(1, sizeof *g);
  alto_lower_opts lo = {batch, seq, b->arch};
  alto_status s = alto_lower(m, r, &lo, &g->lowered);
  if (s != ALTO_OK) {
    free(g);
    return s;
  }
  s = alto_exec_gpu_create(b, m, &g->lowered.plan, seed, &o->exec, &g->exec);
  if (s == ALTO_OK) {
    int threads = o->compile_threads > 0 ? o->compile_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    s = alto_exec_gpu_prepare(g->exec, threads, o->progress, &g->kernels, &g->prepare_s);
  }
  if (s != ALTO_OK) {
    alto_train_gpu_free(g);
    return s;
  }
  for (int i = 0; i < alto_exec_gpu_n_params(g->exec); i++) {
    alto_train_param p;
    gpu_param_(g, i, &p);
    g->n_weights += p.numel;
  }
  *iface = (alto_train_exec_i){.self = g,
                               .n_params = gpu_n_params_,
                               .param = gpu_param_,
                               .set_batch = gpu_set_batch_,
                               .run = gpu_run_,
                               .adamw = gpu_adamw_,
                               .grad_sumsq = gpu_grad_sumsq_,
                               .scale_grads = gpu_scale_grads_,
                               .sync = gpu_sync_};
  *out = g;
  return ALTO_OK;
}

void alto_train_gpu_free(alto_train_gpu *g) {
  if (!g)
    return;
  alto_exec_gpu_free(g->exec);
  alto_lowered_free(&g->lowered);
  free(g);
}

int64_t alto_train_gpu_param_count(const alto_train_gpu *g) {
  return g->n_weights;
}

void alto_train_gpu_prepare_stats(const alto_train_gpu *g, int *kernels, double *seconds) {
  *kernels = g->kernels;
  *seconds = g->prepare_s;
}

alto_exec_gpu *alto_train_gpu_exec(alto_train_gpu *g) {
  return g->exec;
}

const alto_plan *alto_train_gpu_plan(const alto_train_gpu *g) {
  return &g->lowered.plan;
}
