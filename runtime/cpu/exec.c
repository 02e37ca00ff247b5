/* The CPU plan executor (see exec.h): one arena, the nodes in order, each dispatched to an op. */
#include "runtime/cpu/exec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/parallel.h"
#include "runtime/cpu/quant.h"

_Static_assert(sizeof(alto_real) == sizeof(float), "the executor runs the float build of ops.c");

#define EXEC_RNG_INIT 3u /* the parameter-init purpose of alto_stream_id (after SR 1, RHT 2) */

struct alto_exec {
  alto_model m;
  const alto_plan *p;
  uint64_t seed;
  uint8_t *arena;
  int64_t step;      /* the step of the pass in progress (SR and RHT streams) */
  double loss_value; /* read right after CROSS_ENTROPY: "loss" is a temp the backward reuses */
  int tokens, targets, loss;
  int *params; /* PARAM buffer ids in plan order */
  int n_params;
};

/* ---- buffers ------------------------------------------------------------------------------ */
static const alto_buffer *buf_(const alto_exec *e, int id) {
  ALTO_ASSERT(id >= 0 && id < e->p->n_bufs);
  return &e->p->bufs[id];
}

static void *ptr_(alto_exec *e, int id) {
  return e->arena + buf_(e, id)->offset;
}

static int64_t numel_(const alto_buffer *b) {
  return alto_buffer_numel(b);
}

/* A buffer as fp32: the arena bytes themselves (fp32) or a widened copy (bf16); release with
 * in_done_. */
static float *in_(alto_exec *e, int id) {
  const alto_buffer *b = buf_(e, id);
  if (b->dtype == ALTO_DT_F32)
    return ptr_(e, id);
  ALTO_ASSERT_MSG(b->dtype == ALTO_DT_BF16, b->name);
  int64_t n = numel_(b);
  const uint16_t *h = ptr_(e, id);
  float *x = alto_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *x);
  for (int64_t i = 0; i < n; i++)
    x[i] = alto_bf16_to_f32(h[i]);
  return x;
}

static void in_done_(alto_exec *e, int id, float *x) {
  if (x != ptr_(e, id))
    free(x);
}

/* An output buffer as fp32 scratch (the current value loaded when `load`: accumulation), then
 * out_done_ rounds it into a bf16 buffer. */
static float *out_(alto_exec *e, int id, bool load) {
  const alto_buffer *b = buf_(e, id);
  if (b->dtype == ALTO_DT_F32)
    return ptr_(e, id);
  if (load)
    return in_(e, id);
  return alto_xmalloc((size_t)(numel_(b) > 0 ? numel_(b) : 1) * sizeof(float));
}

static void out_done_(alto_exec *e, int id, float *x) {
  if (x == ptr_(e, id))
    return;
  uint16_t *h = ptr_(e, id);
  int64_t n = numel_(buf_(e, id));
  for (int64_t i = 0; i < n; i++)
    h[i] = alto_f32_to_bf16(x[i]);
  free(x);
}

int alto_exec_find(const alto_exec *e, const char *name) {
  return alto_plan_find_buffer(e->p, name);
}

const alto_buffer *alto_exec_buffer(const alto_exec *e, int id) {
  return buf_(e, id);
}
void *alto_exec_data(alto_exec *e, int id) {
  return ptr_(e, id);
}
int alto_exec_n_params(const alto_exec *e) {
  return e->n_params;
}

const char *alto_exec_param_name(const alto_exec *e, int i) {
  ALTO_ASSERT(i >= 0 && i < e->n_params);
  return buf_(e, e->params[i])->name;
}

static float *f32_by_name_(alto_exec *e, const char *name, int64_t *numel) {
  int id = alto_exec_find(e, name);
  if (id < 0 || buf_(e, id)->dtype != ALTO_DT_F32)
    return NULL;
  if (numel)
    *numel = numel_(buf_(e, id));
  return ptr_(e, id);
}

float *alto_exec_param(alto_exec *e, const char *name, int64_t *numel) {
  return f32_by_name_(e, name, numel);
}

float *alto_exec_grad(alto_exec *e, const char *name, int64_t *numel) {
  char g[160];
  snprintf(g, sizeof g, "%s.grad", name);
  return f32_by_name_(e, g, numel);
}

/* ---- random streams ----------------------------------------------------------------------- */
static uint32_t fnv1a_(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n && s[i]; i++)
    h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

static uint32_t layer_id_(const alto_node *n) {
  return n->layer < 0 ? 0xFFFFFFFFu : (uint32_t)n->layer;
}

/* The module of an RHT node: its name without the last two components
 * ("layers.0.attention.wq.wgrad.RX" -> "layers.0.attention.wq"). */
static uint32_t rht_role_(const char *name) {
  size_t len = strlen(name);
  for (int dots = 0; len > 0;) {
    len--;
    if (name[len] == '.' && ++dots == 2)
      break;
  }
  return fnv1a_(name, len ? len : strlen(name));
}

/* ---- parameter init ----------------------------------------------------------------------- */
typedef struct {
  float *w;
  uint64_t seed, stream;
  double std, bound; /* bound <= 0: not truncated */
} exec_init_ctx_;

static void exec_init_items_(void *ctx, int64_t begin, int64_t end) {
  exec_init_ctx_ *k = ctx;
  const double two_pi = 6.283185307179586;
  for (int64_t i = begin; i < end; i++) {
    double z = 0;
    for (uint64_t attempt = 0;; attempt++) { /* rejection: resample outside the bounds */
      uint64_t s = alto_mix64(k->stream ^ attempt);
      double u1 = ((double)alto_philox_u32(k->seed, s, 2 * (uint64_t)i) + 0.5) / 4294967296.0;
      double u2 = ((double)alto_philox_u32(k->seed, s, 2 * (uint64_t)i + 1) + 0.5) / 4294967296.0;
      z = sqrt(-2.0 * log(u1)) * cos(two_pi * u2) * k->std;
      if (k->bound <= 0 || fabs(z) <= k->bound)
        break;
    }
    k->w[i] = (float)z;
  }
}

static bool ends_with_(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

void alto_exec_init_param(const alto_model *m, const char *name, float *w, int64_t n,
                          uint64_t seed) {
  if (ends_with_(name, "norm.weight")) {
    for (int64_t j = 0; j < n; j++)
      w[j] = 1.0f;
    return;
  }
  if (ends_with_(name, ".bias")) {
    memset(w, 0, (size_t)n * sizeof *w);
    return;
  }
  double std = 0.02, bound = 2.0;
  int layer = -1;
  if (strncmp(name, "layers.", 7) == 0)
    layer = atoi(name + 7);
  if (strcmp(name, "tok_embeddings.weight") == 0 && !m->tied_embeddings) {
    std = 1.0;
    bound = 0;
  } else if (strcmp(name, "output.weight") == 0 || strcmp(name, "tok_embeddings.weight") == 0) {
    std = 1.0 / sqrt((double)m->dim);
    bound = 3 * std;
  } else if (layer >= 0 && (strstr(name, ".wo.") || strstr(name, ".w2.") || strstr(name, ".w3."))) {
    std = 0.02 / sqrt(2.0 * (layer + 1));
  }
  exec_init_ctx_ k = {w, seed, alto_stream_id(0, fnv1a_(name, strlen(name)), 0, EXEC_RNG_INIT),
                      std, bound};
  alto_parallel_for(n, 16384, exec_init_items_, &k);
}

void alto_exec_init_params(alto_exec *e, uint64_t seed) {
  for (int i = 0; i < e->p->n_bufs; i++) {
    const alto_buffer *b = &e->p->bufs[i];
    if (b->kind == ALTO_BUF_GRAD || b->kind == ALTO_BUF_OPT_STATE)
      memset(ptr_(e, i), 0, b->bytes);
  }
  for (int pi = 0; pi < e->n_params; pi++) {
    const alto_buffer *b = buf_(e, e->params[pi]);
    alto_exec_init_param(&e->m, b->name, ptr_(e, e->params[pi]), numel_(b), seed);
  }
}

/* ---- create ------------------------------------------------------------------------------- */
static alto_status unsupported_(const char *who, const alto_node *n, const char *why) {
  return alto_error(ALTO_ERR_UNSUPPORTED, "%s executor: node '%s' (%s): %s", who, n->name,
                    alto_ir_op_name(n->op), why);
}

static alto_status check_node_(const char *who, const alto_node *n) {
  switch (n->op) {
  case ALTO_OP_GEMM: {
    int operands = n->q.scheme != ALTO_SCHEME_BF16 ? 4 : 2;
    operands += (alto_ir_outer(n, 0) >= 0) + (alto_ir_outer(n, 1) >= 0);
    if (n->n_in != operands || n->n_out != 1)
      return unsupported_(who, n, "GEMM biases are not supported (llama3 has none)");
    return ALTO_OK;
  }
  case ALTO_OP_ATTENTION:
  case ALTO_OP_ATTENTION_BWD:
    if (n->iparam[2] || n->iparam[3] != n->shape[3])
      return unsupported_(who, n, "attention sinks and MLA are not supported");
    return ALTO_OK;
  case ALTO_OP_SWIGLU:
  case ALTO_OP_SWIGLU_BWD:
    if (n->iparam[0])
      return unsupported_(who, n, "the GPT-OSS clamped SwiGLU is not supported");
    return ALTO_OK;
  case ALTO_OP_DGE_SCALE:
    if (n->q.scheme != ALTO_SCHEME_MXFP4)
      return unsupported_(who, n,
                          "DGE is implemented for MXFP4's power-of-two block scales (NUMERICS.md "
                          "5); use_dge: false for this scheme");
    return ALTO_OK;
  case ALTO_OP_QUANTIZE:
  case ALTO_OP_DEQUANTIZE:
  case ALTO_OP_RHT:
  case ALTO_OP_RMSNORM:
  case ALTO_OP_RMSNORM_BWD:
  case ALTO_OP_ROPE:
  case ALTO_OP_ROPE_BWD:
  case ALTO_OP_EMBED:
  case ALTO_OP_EMBED_BWD:
  case ALTO_OP_CROSS_ENTROPY:
  case ALTO_OP_ADD:
  case ALTO_OP_CAST:
  case ALTO_OP_COPY:
  case ALTO_OP_ZERO:
  case ALTO_OP_ADAMW:
    return ALTO_OK;
  default:
    return unsupported_(who, n, "MoE and grouped GEMMs are not supported by the CPU executor yet");
  }
}

alto_status alto_exec_check_plan(const char *who, const alto_model *m, const alto_plan *p) {
  if (m->attn.kind != ALTO_ATTN_GQA)
    return alto_error(ALTO_ERR_UNSUPPORTED, "%s executor: %s/%s uses MLA; only GQA runs here",
                      who, m->family, m->flavor);
  for (int i = 0; i < p->n_nodes; i++)
    ALTO_TRY(check_node_(who, &p->nodes[i]));
  return ALTO_OK;
}

alto_status alto_exec_create(const alto_model *m, const alto_plan *p, uint64_t seed,
                             alto_exec **out) {
  *out = NULL;
  ALTO_TRY(alto_exec_check_plan("cpu", m, p));
  alto_exec *e = alto_xcalloc(1, sizeof *e);
  e->m = *m;
  e->p = p;
  e->seed = seed;
  e->tokens = alto_exec_find(e, "tokens");
  e->targets = alto_exec_find(e, "targets");
  e->loss = alto_exec_find(e, "loss");
  if (e->tokens < 0 || e->targets < 0 || e->loss < 0) {
    free(e);
    return alto_error(ALTO_ERR_INVALID_ARG, "cpu executor: the plan has no tokens/targets/loss");
  }
  e->arena = alto_xcalloc(p->arena_bytes ? p->arena_bytes : 1, 1);
  e->params = alto_xmalloc((size_t)(p->n_bufs ? p->n_bufs : 1) * sizeof *e->params);
  for (int i = 0; i < p->n_bufs; i++)
    if (p->bufs[i].kind == ALTO_BUF_PARAM)
      e->params[e->n_params++] = i;
  alto_exec_init_params(e, seed);
  *out = e;
  return ALTO_OK;
}

void alto_exec_free(alto_exec *e) {
  if (!e)
    return;
  free(e->arena);
  free(e->params);
  free(e);
}

alto_status alto_exec_check_inputs(const int32_t *tokens, const int32_t *targets, int64_t n,
                                   int64_t vocab) {
  for (int64_t i = 0; i < n; i++) {
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return alto_error(ALTO_ERR_INVALID_ARG, "token %lld is %d, outside the vocabulary [0, %lld)",
                        (long long)i, tokens[i], (long long)vocab);
    if (targets[i] >= vocab)
      return alto_error(ALTO_ERR_INVALID_ARG, "target %lld is %d, outside the vocabulary [0, %lld)",
                        (long long)i, targets[i], (long long)vocab);
  }
  return ALTO_OK;
}

alto_status alto_exec_set_inputs(alto_exec *e, const int32_t *tokens, const int32_t *targets) {
  int64_t M = numel_(buf_(e, e->tokens));
  ALTO_TRY(alto_exec_check_inputs(tokens, targets, M, e->m.vocab_size));
  memcpy(ptr_(e, e->tokens), tokens, (size_t)M * sizeof *tokens);
  memcpy(ptr_(e, e->targets), targets, (size_t)M * sizeof *targets);
  return ALTO_OK;
}

/* ---- quantized operands ------------------------------------------------------------------- */
alto_quant_spec alto_exec_quant_spec(const alto_qdesc *q) {
  alto_quant_spec s = alto_quant_spec_default(q->scheme);
  s.axis = q->axis;
  s.block2d = q->two_d;
  s.rule = q->scale_rule;
  s.two_level = q->two_level;
  if (q->scheme == ALTO_SCHEME_FP8_BLOCK || q->scheme == ALTO_SCHEME_FP8_ROWWISE ||
      q->scheme == ALTO_SCHEME_FP8_TENSORWISE)
    s.elem = q->elem;
  return s;
}

/* A view of the plan's codes + scales buffers as an alto_quantized of the tensor whose logical
 * dims are the codes buffer's shape. */
static alto_status qview_(alto_exec *e, int codes, int scales, int outer,
                          const alto_quant_spec *spec, alto_quantized *q) {
  const alto_buffer *cb = buf_(e, codes), *sb = buf_(e, scales);
  alto_tensor_view v = {ptr_(e, codes), ALTO_ELEM_F32, cb->rank, {0, 0, 0}};
  memcpy(v.dims, cb->shape, (size_t)cb->rank * sizeof(int64_t));
  memset(q, 0, sizeof *q);
  ALTO_TRY(alto_quant_layout_of(spec, &v, &q->layout));
  ALTO_ASSERT_MSG((size_t)q->layout.codes_bytes <= cb->bytes, cb->name);
  ALTO_ASSERT_MSG((size_t)(q->layout.scale_count * q->layout.scale_bytes) <= sb->bytes, sb->name);
  q->codes = ptr_(e, codes);
  q->scales = ptr_(e, scales);
  q->outer = 1.0f;
  if (outer >= 0) {
    ALTO_ASSERT(buf_(e, outer)->dtype == ALTO_DT_F32 && numel_(buf_(e, outer)) == 1);
    memcpy(&q->outer, ptr_(e, outer), sizeof q->outer);
  }
  return ALTO_OK;
}

/* Dequantizes (codes, scales [, outer: -1 for none]) to a new fp32 array with the codes
 * buffer's logical shape. */
static alto_status dequant_(alto_exec *e, int codes, int scales, int outer, const alto_qdesc *qd,
                            float **out) {
  alto_quant_spec spec = alto_exec_quant_spec(qd);
  alto_quantized q;
  ALTO_TRY(qview_(e, codes, scales, outer, &spec, &q));
  float *x = alto_xmalloc((size_t)numel_(buf_(e, codes)) * sizeof *x);
  alto_status s = alto_cpu_dequantize(&spec, &q, ALTO_ELEM_F32, x);
  if (s != ALTO_OK) {
    free(x);
    return s;
  }
  *out = x;
  return ALTO_OK;
}

alto_quant_spec alto_exec_quantize_spec(const alto_node *n, uint64_t seed, int64_t step) {
  alto_quant_spec spec = alto_exec_quant_spec(&n->q);
  if (n->q.rounding == ALTO_ROUND_SR) {
    spec.sr = true;
    spec.seed = seed;
    spec.stream = alto_stream_id(layer_id_(n), fnv1a_(n->name, sizeof n->name), (uint64_t)step,
                                 ALTO_RNG_SR);
  }
  return spec;
}

uint64_t alto_exec_rht_stream(const alto_node *n, int64_t step) {
  return alto_stream_id(layer_id_(n), rht_role_(n->name), (uint64_t)step, ALTO_RNG_RHT);
}

static alto_status run_quantize_(alto_exec *e, const alto_node *n) {
  const alto_buffer *src = buf_(e, n->in[0]);
  alto_quant_spec spec = alto_exec_quantize_spec(n, e->seed, e->step);
  alto_tensor_view v = {ptr_(e, n->in[0]),
                        src->dtype == ALTO_DT_BF16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32,
                        n->rank,
                        {0, 0, 0}};
  memcpy(v.dims, n->shape, (size_t)n->rank * sizeof(int64_t));
  alto_quantized q;
  ALTO_TRY(alto_cpu_quantize(&spec, &v, &q));
  const alto_buffer *cb = buf_(e, n->out[0]), *sb = buf_(e, n->out[1]);
  size_t sbytes = (size_t)(q.layout.scale_count * q.layout.scale_bytes);
  ALTO_ASSERT_MSG((size_t)q.layout.codes_bytes <= cb->bytes && sbytes <= sb->bytes, n->name);
  memcpy(ptr_(e, n->out[0]), q.codes, (size_t)q.layout.codes_bytes);
  memcpy(ptr_(e, n->out[1]), q.scales, sbytes);
  int outer = alto_ir_outer(n, 0);
  if (outer >= 0) {
    ALTO_ASSERT(buf_(e, outer)->dtype == ALTO_DT_F32 && numel_(buf_(e, outer)) == 1);
    memcpy(ptr_(e, outer), &q.outer, sizeof q.outer);
  }
  alto_quantized_free(&q);
  return ALTO_OK;
}

/* C (m, n) = op(A) op(B)^T; quantized operands (codes, scales) are dequantized first. */
static alto_status run_gemm_(alto_exec *e, const alto_node *n) {
  int64_t m = n->shape[0], nn = n->shape[1], k = n->shape[2];
  float *a, *b;
  bool qa = n->q.scheme != ALTO_SCHEME_BF16;
  if (qa) {
    ALTO_TRY(dequant_(e, n->in[0], n->in[1], alto_ir_outer(n, 0), &n->q, &a));
    alto_status s = dequant_(e, n->in[2], n->in[3], alto_ir_outer(n, 1), &n->q_b, &b);
    if (s != ALTO_OK) {
      free(a);
      return s;
    }
  } else {
    a = in_(e, n->in[0]);
    b = in_(e, n->in[1]);
  }
  float *c = out_(e, n->out[0], n->accumulate);
  alto_op_gemm(c, a, b, m, nn, k, n->trans_a, n->trans_b, n->accumulate);
  out_done_(e, n->out[0], c);
  if (qa) {
    free(a);
    free(b);
  } else {
    in_done_(e, n->in[0], a);
    in_done_(e, n->in[1], b);
  }
  return ALTO_OK;
}

static alto_status run_rht_(alto_exec *e, const alto_node *n) {
  const alto_buffer *x = buf_(e, n->in[0]), *y = buf_(e, n->out[0]);
  alto_tensor_view v = {ptr_(e, n->in[0]),
                        x->dtype == ALTO_DT_BF16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32,
                        2,
                        {n->shape[0], n->shape[1], 0}};
  uint64_t stream = alto_exec_rht_stream(n, e->step);
  return alto_cpu_rht(&v, n->q.rht_size ? n->q.rht_size : 32, e->seed, stream,
                      y->dtype == ALTO_DT_BF16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32,
                      ptr_(e, n->out[0]));
}

static alto_status run_dge_(alto_exec *e, const alto_node *n) {
  alto_quant_spec spec = alto_exec_quant_spec(&n->q);
  alto_quantized q;
  const alto_buffer *w = buf_(e, n->in[1]);
  alto_tensor_view v = {ptr_(e, n->in[1]), ALTO_ELEM_F32, w->rank, {0, 0, 0}};
  memcpy(v.dims, w->shape, (size_t)w->rank * sizeof(int64_t));
  memset(&q, 0, sizeof q);
  ALTO_TRY(alto_quant_layout_of(&spec, &v, &q.layout));
  q.scales = ptr_(e, n->in[2]);
  q.outer = 1.0f;
  ALTO_ASSERT(n->out[0] == n->in[0]);
  return alto_cpu_dge(&spec, &v, &q, ptr_(e, n->out[0]));
}

/* ---- the other ops ------------------------------------------------------------------------ */
static void run_rope_(alto_exec *e, const alto_node *n) {
  int64_t M = n->shape[0], NH = n->shape[1], D = n->shape[2], rot = n->iparam[0], T = e->p->seq;
  float *tab = alto_xmalloc((size_t)(T * rot) * sizeof *tab); /* cos (T, rot/2), sin (T, rot/2) */
  alto_op_rope_table(tab, tab + T * rot / 2, &e->m.rope, T, rot);
  float *x = in_(e, n->in[0]), *y = out_(e, n->out[0], false);
  if (n->op == ALTO_OP_ROPE)
    alto_op_rope(y, x, tab, tab + T * rot / 2, M, T, NH, D, rot);
  else
    alto_op_rope_bwd(y, x, tab, tab + T * rot / 2, M, T, NH, D, rot);
  out_done_(e, n->out[0], y);
  in_done_(e, n->in[0], x);
  free(tab);
}

static void run_attention_(alto_exec *e, const alto_node *n) {
  int64_t B = n->shape[0], H = n->shape[1], T = n->shape[2], D = n->shape[3];
  int64_t G = n->iparam[0], window = n->iparam[1];
  float *in[6];
  int n_in = n->op == ALTO_OP_ATTENTION ? 3 : 6;
  for (int i = 0; i < n_in; i++)
    in[i] = in_(e, n->in[i]);
  float *out[3];
  for (int i = 0; i < n->n_out; i++)
    out[i] = out_(e, n->out[i], false);
  if (n->op == ALTO_OP_ATTENTION)
    alto_op_attention(out[0], out[1], in[0], in[1], in[2], B, T, H, G, D, window);
  else
    alto_op_attention_bwd(out[0], out[1], out[2], in[0], in[1], in[2], in[3], in[4], in[5], B, T, H,
                          G, D, window);
  for (int i = 0; i < n->n_out; i++)
    out_done_(e, n->out[i], out[i]);
  for (int i = 0; i < n_in; i++)
    in_done_(e, n->in[i], in[i]);
}

/* COPY: a column slice between (rows, cols) buffers of the same dtype. */
static void run_copy_(alto_exec *e, const alto_node *n) {
  const alto_buffer *s = buf_(e, n->in[0]), *d = buf_(e, n->out[0]);
  ALTO_ASSERT(s->dtype == d->dtype);
  size_t es = alto_ir_dtype_bytes(s->dtype, 1);
  int64_t rows = n->shape[0], sc = s->shape[1], dc = d->shape[1];
  const uint8_t *src = ptr_(e, n->in[0]);
  uint8_t *dst = ptr_(e, n->out[0]);
  for (int64_t r = 0; r < rows; r++)
    memcpy(dst + (size_t)(r * dc + n->iparam[1]) * es, src + (size_t)(r * sc + n->iparam[0]) * es,
           (size_t)n->iparam[2] * es);
}

static alto_status run_node_(alto_exec *e, const alto_node *n) {
  int64_t rows = n->shape[0], cols = n->shape[1];
  switch (n->op) {
  case ALTO_OP_QUANTIZE:
    return run_quantize_(e, n);
  case ALTO_OP_DEQUANTIZE: {
    float *x;
    ALTO_TRY(dequant_(e, n->in[0], n->in[1], alto_ir_outer(n, 0), &n->q, &x));
    float *y = out_(e, n->out[0], false);
    memcpy(y, x, (size_t)numel_(buf_(e, n->out[0])) * sizeof *y);
    out_done_(e, n->out[0], y);
    free(x);
    return ALTO_OK;
  }
  case ALTO_OP_GEMM:
    return run_gemm_(e, n);
  case ALTO_OP_RHT:
    return run_rht_(e, n);
  case ALTO_OP_DGE_SCALE:
    return run_dge_(e, n);
  case ALTO_OP_ATTENTION:
  case ALTO_OP_ATTENTION_BWD:
    run_attention_(e, n);
    return ALTO_OK;
  case ALTO_OP_ROPE:
  case ALTO_OP_ROPE_BWD:
    run_rope_(e, n);
    return ALTO_OK;
  case ALTO_OP_COPY:
    run_copy_(e, n);
    return ALTO_OK;
  case ALTO_OP_ZERO:
    memset(ptr_(e, n->out[0]), 0, buf_(e, n->out[0])->bytes);
    return ALTO_OK;
  case ALTO_OP_ADAMW:
    return ALTO_OK; /* alto_exec_optimizer_step */
  default:
    break;
  }
  /* Ops over fp32 views of every input; outputs rounded to their dtype after. */
  float *in[ALTO_IR_MAX_IO] = {0}, *out[ALTO_IR_MAX_IO] = {0};
  for (int i = 0; i < n->n_in; i++)
    if (buf_(e, n->in[i])->dtype != ALTO_DT_I32)
      in[i] = in_(e, n->in[i]);
  bool acc = n->accumulate;
  for (int i = 0; i < n->n_out; i++)
    out[i] = out_(e, n->out[i], acc && i == 0);
  switch (n->op) {
  case ALTO_OP_EMBED:
    alto_op_embed(out[0], ptr_(e, n->in[0]), in[1], rows, cols);
    break;
  case ALTO_OP_EMBED_BWD: /* dtable accumulates (the tied output wgrad, or ZERO, came first) */
    alto_op_embed_bwd(out[0], ptr_(e, n->in[0]), in[1], rows, cols);
    break;
  case ALTO_OP_RMSNORM:
    alto_op_rmsnorm(out[0], out[1], in[0], in[1], rows, cols, e->m.norm_eps);
    break;
  case ALTO_OP_RMSNORM_BWD:
    alto_op_rmsnorm_bwd(out[0], out[1], in[0], in[1], in[2], in[3], rows, cols, acc);
    break;
  case ALTO_OP_SWIGLU:
    alto_op_swiglu(out[0], in[0], in[1], rows * cols);
    break;
  case ALTO_OP_SWIGLU_BWD:
    alto_op_swiglu_bwd(out[0], out[1], in[0], in[1], in[2], rows * cols);
    break;
  case ALTO_OP_ADD:
    alto_op_add(out[0], in[0], in[1], rows * cols);
    break;
  case ALTO_OP_CAST:
    memcpy(out[0], in[0], (size_t)(rows * cols) * sizeof(float));
    break;
  case ALTO_OP_CROSS_ENTROPY:
    e->loss_value = alto_op_cross_entropy(out[1], in[0], ptr_(e, n->in[1]), rows, cols);
    out[0][0] = (float)e->loss_value;
    break;
  default:
    ALTO_ASSERT_MSG(false, n->name); /* check_node_ lets nothing else through */
  }
  for (int i = 0; i < n->n_out; i++)
    out_done_(e, n->out[i], out[i]);
  for (int i = 0; i < n->n_in; i++)
    if (in[i])
      in_done_(e, n->in[i], in[i]);
  return ALTO_OK;
}

static alto_status run_range_(alto_exec *e, int begin, int end, int64_t step) {
  e->step = step;
  for (int i = begin; i < end; i++) {
    alto_status s = run_node_(e, &e->p->nodes[i]);
    if (s != ALTO_OK)
      return alto_error(s, "node %d '%s': %s", i, e->p->nodes[i].name, alto_last_error());
  }
  return ALTO_OK;
}

alto_status alto_exec_forward(alto_exec *e, int64_t step, double *loss) {
  ALTO_TRY(run_range_(e, 0, e->p->n_fwd_end, step));
  *loss = e->loss_value;
  return ALTO_OK;
}

alto_status alto_exec_forward_backward(alto_exec *e, int64_t step, double *loss) {
  ALTO_TRY(run_range_(e, 0, e->p->n_bwd_end, step));
  *loss = e->loss_value;
  return ALTO_OK;
}

/* ---- gradients and the optimizer ---------------------------------------------------------- */
double alto_exec_grad_norm(alto_exec *e) {
  double s = 0;
  for (int i = 0; i < e->p->n_bufs; i++)
    if (e->p->bufs[i].kind == ALTO_BUF_GRAD)
      s += alto_op_sumsq(ptr_(e, i), numel_(&e->p->bufs[i]));
  return sqrt(s);
}

void alto_exec_scale_grads(alto_exec *e, float s) {
  for (int i = 0; i < e->p->n_bufs; i++)
    if (e->p->bufs[i].kind == ALTO_BUF_GRAD)
      alto_op_scale(ptr_(e, i), numel_(&e->p->bufs[i]), s);
}

double alto_exec_clip_grad_norm(alto_exec *e, double max_norm) {
  double norm = alto_exec_grad_norm(e);
  if (max_norm > 0) {
    double f = alto_op_clip_factor(norm, max_norm);
    if (f < 1.0)
      alto_exec_scale_grads(e, (float)f);
  }
  return norm;
}

alto_status alto_exec_optimizer_step(alto_exec *e, const alto_adamw_hparams *h, int64_t step) {
  if (step < 1)
    return alto_error(ALTO_ERR_INVALID_ARG, "optimizer step %lld: steps count from 1",
                      (long long)step);
  for (int i = e->p->n_bwd_end; i < e->p->n_nodes; i++) {
    const alto_node *n = &e->p->nodes[i];
    if (n->op != ALTO_OP_ADAMW)
      continue;
    alto_op_adamw(ptr_(e, n->in[0]), ptr_(e, n->in[1]), ptr_(e, n->in[2]), ptr_(e, n->in[3]),
                  n->shape[0], h, step);
  }
  return ALTO_OK;
}
