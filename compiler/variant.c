/* Variant keys: the canonical string and its hash. */
#include "compiler/variant.h"

#include <ctype.h>
#include <string.h>

uint64_t alto_variant_hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ull;
  }
  return h;
}

static void add_dim_(alto_variant *v, char name, int64_t value) {
  ALTO_ASSERT(v->n_dims < ALTO_VARIANT_MAX_DIMS);
  v->dim_names[v->n_dims] = name;
  v->dims[v->n_dims++] = value;
}

void alto_variant_from_node(const alto_node *n, const char *arch, alto_variant *out) {
  memset(out, 0, sizeof *out);
  alto_variant *v = out;
  v->op = n->op;
  v->q = n->q;
  v->q_b = n->q_b;
  v->trans_a = n->trans_a;
  v->trans_b = n->trans_b;
  v->accumulate = n->accumulate;
  v->in_dtype = n->in_dtype;
  v->out_dtype = n->out_dtype;
  snprintf(v->arch, sizeof v->arch, "%s", arch ? arch : "");
  /* Baked dims: the ones fixed by the model (weights, widths), never the token count, so one
   * kernel serves every batch and sequence length. */
  switch (n->op) {
  case ALTO_OP_GEMM: /* (M, N, K); wgrad (trans_a) reduces over the tokens: bake M, N */
    add_dim_(v, n->trans_a ? 'm' : 'n', n->shape[n->trans_a ? 0 : 1]);
    add_dim_(v, n->trans_a ? 'n' : 'k', n->shape[n->trans_a ? 1 : 2]);
    break;
  case ALTO_OP_GROUPED_GEMM: /* (E, M, N, K) */
    add_dim_(v, 'e', n->shape[0]);
    add_dim_(v, n->trans_a ? 'm' : 'n', n->shape[n->trans_a ? 1 : 2]);
    add_dim_(v, n->trans_a ? 'n' : 'k', n->shape[n->trans_a ? 2 : 3]);
    break;
  case ALTO_OP_QUANTIZE:
  case ALTO_OP_DEQUANTIZE:
  case ALTO_OP_RMSNORM:
  case ALTO_OP_RMSNORM_BWD:
  case ALTO_OP_RHT:
    add_dim_(v, 'c', n->shape[n->rank - 1]);
    break;
  case ALTO_OP_ATTENTION:
  case ALTO_OP_ATTENTION_BWD: /* (B, H, T, D), iparam: kv heads, window, sinks, v dim */
    add_dim_(v, 'h', n->shape[1]);
    add_dim_(v, 'd', n->shape[3]);
    add_dim_(v, 'g', n->iparam[0]);
    add_dim_(v, 'v', n->iparam[3]);
    v->flags = (n->iparam[1] << 1) | (n->iparam[2] ? 1 : 0);
    break;
  case ALTO_OP_ROPE:
  case ALTO_OP_ROPE_BWD: /* (M, heads, head_dim); iparam: rotated dims */
    add_dim_(v, 'd', n->shape[2]);
    add_dim_(v, 'r', n->iparam[0]);
    break;
  case ALTO_OP_MOE_ROUTE:
  case ALTO_OP_MOE_ROUTE_BWD:
    add_dim_(v, 'e', n->shape[1]);
    add_dim_(v, 'k', n->iparam[0]);
    v->flags = n->iparam[1];
    break;
  case ALTO_OP_SWIGLU:
  case ALTO_OP_SWIGLU_BWD: /* iparam[0]: GPT-OSS clamped form */
    v->flags = n->iparam[0];
    break;
  default:
    break;
  }
  alto_variant_finish(v);
}

static void put_(char *key, size_t n, const char *s) {
  size_t len = strlen(key);
  ALTO_ASSERT(len + strlen(s) + 2 < n);
  if (len)
    key[len++] = '.';
  strcpy(key + len, s);
}

static void put_q_(char *key, size_t n, const alto_qdesc *q, const char *prefix) {
  char s[64];
  snprintf(s, sizeof s, "%s%s.%s", prefix, alto_scheme_name(q->scheme), alto_elem_name(q->elem));
  put_(key, n, s);
  char r[16], c[16];
  snprintf(r, sizeof r, q->block_rows ? "%d" : "all", q->block_rows);
  snprintf(c, sizeof c, q->block_cols ? "%d" : "all", q->block_cols);
  snprintf(s, sizeof s, "b%sx%s", r, c);
  put_(key, n, s);
  snprintf(s, sizeof s, "axis%d", q->axis);
  put_(key, n, s);
  put_(key, n, q->rounding == ALTO_ROUND_SR ? "sr" : "rne");
  if (q->scheme == ALTO_SCHEME_MXFP4 || q->scheme == ALTO_SCHEME_MXFP8_E4M3 ||
      q->scheme == ALTO_SCHEME_MXFP8_E5M2)
    put_(key, n, alto_scale_rule_name(q->scale_rule));
  if (q->rht) {
    snprintf(s, sizeof s, "rht%d", q->rht_size);
    put_(key, n, s);
  }
  if (q->two_d)
    put_(key, n, "2d");
  if (q->dge)
    put_(key, n, "dge");
  if (q->two_level)
    put_(key, n, "two_level");
}

void alto_variant_finish(alto_variant *v) {
  char *key = v->key;
  size_t n = sizeof v->key;
  char s[64];
  key[0] = '\0';
  const char *op = alto_ir_op_name(v->op);
  if (v->op == ALTO_OP_QUANTIZE)
    op = "QUANT";
  else if (v->op == ALTO_OP_DEQUANTIZE)
    op = "DEQUANT";
  size_t i = 0;
  for (; op[i] && i < sizeof s - 1; i++)
    s[i] = (char)tolower((unsigned char)op[i]);
  s[i] = '\0';
  put_(key, n, s);
  if (v->q.scheme != ALTO_SCHEME_BF16)
    put_q_(key, n, &v->q, "");
  if (v->q_b.scheme != ALTO_SCHEME_BF16 &&
      (v->q_b.scheme != v->q.scheme || v->q_b.block_rows != v->q.block_rows ||
       v->q_b.block_cols != v->q.block_cols || v->q_b.axis != v->q.axis ||
       v->q_b.elem != v->q.elem || v->q_b.two_d != v->q.two_d || v->q_b.rht != v->q.rht))
    put_q_(key, n, &v->q_b, "b_");
  if (v->trans_a)
    put_(key, n, "ta");
  if (v->trans_b)
    put_(key, n, "tb");
  if (v->accumulate)
    put_(key, n, "acc");
  snprintf(s, sizeof s, "in_%s.out_%s", alto_ir_dtype_name(v->in_dtype),
           alto_ir_dtype_name(v->out_dtype));
  put_(key, n, s);
  for (int d = 0; d < v->n_dims; d++) {
    snprintf(s, sizeof s, "%c%lld", v->dim_names[d], (long long)v->dims[d]);
    put_(key, n, s);
  }
  if (v->flags) {
    snprintf(s, sizeof s, "f%llx", (unsigned long long)v->flags);
    put_(key, n, s);
  }
  if (v->arch[0])
    put_(key, n, v->arch);
  v->hash = alto_variant_hash_str(key);
}
