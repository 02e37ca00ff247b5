/* The IR: op and dtype names, plan construction, lifetimes, printing. */
#include "compiler/ir.h"

#include <stdlib.h>
#include <string.h>

#include "compiler/variant.h"

static const char *const op_names_[] = {
    "QUANTIZE",      "DEQUANTIZE",
    "GEMM",          "GROUPED_GEMM",
    "ATTENTION",     "ATTENTION_BWD",
    "RHT",           "RMSNORM",
    "RMSNORM_BWD",   "ROPE",
    "ROPE_BWD",      "SWIGLU",
    "SWIGLU_BWD",    "EMBED",
    "EMBED_BWD",     "CROSS_ENTROPY",
    "ADD",           "CAST",
    "COPY",          "ZERO",
    "MOE_ROUTE",     "MOE_ROUTE_BWD",
    "MOE_PERMUTE",   "MOE_PERMUTE_BWD",
    "MOE_UNPERMUTE", "MOE_UNPERMUTE_BWD",
    "DGE_SCALE",     "ADAMW",
};
_Static_assert(sizeof op_names_ / sizeof *op_names_ == ALTO_OP_COUNT, "name every op");

static const char *const dtype_names_[] = {"bf16", "f32", "e2m1", "e4m3", "e5m2", "e8m0", "i32"};
_Static_assert(sizeof dtype_names_ / sizeof *dtype_names_ == ALTO_DT_COUNT, "name every dtype");

static const char *const buf_kind_names_[] = {"input",     "param", "grad",
                                              "opt_state", "saved", "temp"};
_Static_assert(sizeof buf_kind_names_ / sizeof *buf_kind_names_ == ALTO_BUF_KIND_COUNT,
               "name every buffer kind");

const char *alto_ir_op_name(alto_op op) {
  ALTO_ASSERT((unsigned)op < ALTO_OP_COUNT);
  return op_names_[op];
}

const char *alto_ir_dtype_name(alto_dtype dt) {
  ALTO_ASSERT((unsigned)dt < ALTO_DT_COUNT);
  return dtype_names_[dt];
}

const char *alto_ir_buf_kind_name(alto_buf_kind k) {
  ALTO_ASSERT((unsigned)k < ALTO_BUF_KIND_COUNT);
  return buf_kind_names_[k];
}

size_t alto_ir_dtype_bytes(alto_dtype dt, int64_t n) {
  ALTO_ASSERT(n >= 0);
  switch (dt) {
  case ALTO_DT_FP4_E2M1:
    return (size_t)(n + 1) / 2;
  case ALTO_DT_FP8_E4M3:
  case ALTO_DT_FP8_E5M2:
  case ALTO_DT_E8M0:
    return (size_t)n;
  case ALTO_DT_BF16:
    return (size_t)n * 2;
  case ALTO_DT_F32:
  case ALTO_DT_I32:
    return (size_t)n * 4;
  case ALTO_DT_COUNT:
    break;
  }
  ALTO_ASSERT(0);
  return 0;
}

int alto_ir_outer(const alto_node *n, int operand) {
  switch (n->op) {
  case ALTO_OP_QUANTIZE:
    return n->q.two_level && n->n_out > 2 ? n->out[2] : -1;
  case ALTO_OP_DEQUANTIZE:
    return n->q.two_level && n->n_in > 2 ? n->in[2] : -1;
  case ALTO_OP_GEMM:
  case ALTO_OP_GROUPED_GEMM: {
    bool oa = n->q.scheme != ALTO_SCHEME_BF16 && n->q.two_level;
    bool ob = n->q_b.scheme != ALTO_SCHEME_BF16 && n->q_b.two_level;
    if (operand == 0 ? !oa : !ob)
      return -1;
    ALTO_ASSERT(n->n_in >= 4 + oa + ob);
    return n->in[n->n_in - 1 - (operand == 0 && ob)];
  }
  default:
    return -1;
  }
}

alto_dtype alto_ir_elem_dtype(alto_elem e) {
  switch (e) {
  case ALTO_ELEM_E2M1:
    return ALTO_DT_FP4_E2M1;
  case ALTO_ELEM_E4M3:
    return ALTO_DT_FP8_E4M3;
  case ALTO_ELEM_E5M2:
    return ALTO_DT_FP8_E5M2;
  case ALTO_ELEM_BF16:
    return ALTO_DT_BF16;
  case ALTO_ELEM_F32:
    return ALTO_DT_F32;
  case ALTO_ELEM_COUNT:
    break;
  }
  ALTO_ASSERT(0);
  return ALTO_DT_BF16;
}

void alto_plan_init(alto_plan *p) {
  memset(p, 0, sizeof *p);
}

void alto_plan_free(alto_plan *p) {
  free(p->nodes);
  free(p->bufs);
  free(p->variants);
  free(p->variant_uses);
  memset(p, 0, sizeof *p);
}

int alto_plan_buffer(alto_plan *p, const char *name, alto_dtype dt, alto_buf_kind kind, int rank,
                     const int64_t *shape) {
  ALTO_ASSERT(rank >= 1 && rank <= 4);
  if (p->n_bufs == p->cap_bufs) {
    p->cap_bufs = p->cap_bufs ? 2 * p->cap_bufs : 256;
    p->bufs = alto_xrealloc(p->bufs, (size_t)p->cap_bufs * sizeof *p->bufs);
  }
  alto_buffer *b = &p->bufs[p->n_bufs];
  memset(b, 0, sizeof *b);
  snprintf(b->name, sizeof b->name, "%s", name);
  b->dtype = dt;
  b->kind = kind;
  b->rank = rank;
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    ALTO_ASSERT(shape[i] > 0);
    b->shape[i] = shape[i];
    n *= shape[i];
  }
  b->bytes = alto_ir_dtype_bytes(dt, n);
  b->first = b->last = -1;
  return p->n_bufs++;
}

alto_node *alto_plan_node(alto_plan *p, alto_op op, const char *name) {
  if (p->n_nodes == p->cap_nodes) {
    p->cap_nodes = p->cap_nodes ? 2 * p->cap_nodes : 256;
    p->nodes = alto_xrealloc(p->nodes, (size_t)p->cap_nodes * sizeof *p->nodes);
  }
  alto_node *n = &p->nodes[p->n_nodes++];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->layer = -1;
  n->variant = -1;
  snprintf(n->name, sizeof n->name, "%s", name);
  return n;
}

static void touch_(alto_buffer *b, int i) {
  if (b->first < 0 || i < b->first)
    b->first = i;
  if (i > b->last)
    b->last = i;
}

void alto_plan_finish(alto_plan *p, const char *arch) {
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *n = &p->nodes[i];
    for (int j = 0; j < n->n_in; j++) {
      ALTO_ASSERT(n->in[j] >= 0 && n->in[j] < p->n_bufs);
      touch_(&p->bufs[n->in[j]], i);
    }
    for (int j = 0; j < n->n_out; j++) {
      ALTO_ASSERT(n->out[j] >= 0 && n->out[j] < p->n_bufs);
      touch_(&p->bufs[n->out[j]], i);
    }
  }
  p->persistent_bytes = 0;
  for (int i = 0; i < p->n_bufs; i++) {
    alto_buffer *b = &p->bufs[i];
    bool whole = b->kind == ALTO_BUF_PARAM || b->kind == ALTO_BUF_GRAD ||
                 b->kind == ALTO_BUF_OPT_STATE || b->kind == ALTO_BUF_INPUT;
    if (whole || b->first < 0) { /* an unused buffer still gets a place */
      b->first = 0;
      b->last = p->n_nodes > 0 ? p->n_nodes - 1 : 0;
    }
    if (whole)
      p->persistent_bytes += b->bytes;
  }
  /* the variant table */
  free(p->variants);
  free(p->variant_uses);
  p->variants = NULL;
  p->variant_uses = NULL;
  p->n_variants = 0;
  int cap = 0;
  for (int i = 0; i < p->n_nodes; i++) {
    alto_variant v;
    alto_variant_from_node(&p->nodes[i], arch, &v);
    int k = 0;
    while (k < p->n_variants && p->variants[k].hash != v.hash)
      k++;
    if (k < p->n_variants) {
      ALTO_ASSERT(strcmp(p->variants[k].key, v.key) == 0); /* a 64-bit collision is a bug */
    } else {
      if (p->n_variants == cap) {
        cap = cap ? 2 * cap : 64;
        p->variants = alto_xrealloc(p->variants, (size_t)cap * sizeof *p->variants);
        p->variant_uses = alto_xrealloc(p->variant_uses, (size_t)cap * sizeof(int));
      }
      p->variants[k] = v;
      p->variant_uses[k] = 0;
      p->n_variants++;
    }
    p->variant_uses[k]++;
    p->nodes[i].variant = k;
  }
}

int alto_plan_find_buffer(const alto_plan *p, const char *name) {
  for (int i = 0; i < p->n_bufs; i++)
    if (strcmp(p->bufs[i].name, name) == 0)
      return i;
  return -1;
}

int64_t alto_buffer_numel(const alto_buffer *b) {
  int64_t n = 1;
  for (int d = 0; d < b->rank; d++)
    n *= b->shape[d];
  return n;
}

int alto_plan_count_op(const alto_plan *p, alto_op op) {
  int c = 0;
  for (int i = 0; i < p->n_nodes; i++)
    c += p->nodes[i].op == op;
  return c;
}

void alto_ir_qdesc_str(const alto_qdesc *q, char *buf, size_t n) {
  if (q->scheme == ALTO_SCHEME_BF16) {
    snprintf(buf, n, "bf16");
    return;
  }
  char r[16], c[16];
  snprintf(r, sizeof r, q->block_rows ? "%d" : "all", q->block_rows);
  snprintf(c, sizeof c, q->block_cols ? "%d" : "all", q->block_cols);
  snprintf(buf, n, "%s %s %sx%s axis %d %s%s%s", alto_scheme_name(q->scheme),
           alto_elem_name(q->elem), r, c, q->axis, q->rounding == ALTO_ROUND_SR ? "sr" : "rne",
           q->rht ? " rht" : "", q->dge ? " dge" : "");
}

void alto_plan_print(const alto_plan *p, FILE *f) {
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *n = &p->nodes[i];
    fprintf(f, "%5d %-14s %-48s", i, alto_ir_op_name(n->op), n->name);
    fprintf(f, " (");
    for (int d = 0; d < n->rank; d++)
      fprintf(f, "%s%lld", d ? ", " : "", (long long)n->shape[d]);
    fprintf(f, ")");
    if (n->q.scheme != ALTO_SCHEME_BF16) {
      char q[96];
      alto_ir_qdesc_str(&n->q, q, sizeof q);
      fprintf(f, " [%s]", q);
    }
    if (n->variant >= 0)
      fprintf(f, " v%d", n->variant);
    fprintf(f, "\n");
  }
}
