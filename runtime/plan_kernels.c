#include "runtime/plan_kernels.h"

#include <string.h>

#include "runtime/cpu/exec.h"
#include "runtime/quant_gpu.h"

alto_status alto_plan_quant_spec(const alto_qdesc *q, alto_quant_spec *out) {
  if (q->scheme == ALTO_SCHEME_BF16 || q->scheme == ALTO_SCHEME_MX9 || q->scheme == ALTO_SCHEME_MX6)
    return alto_error(ALTO_ERR_UNSUPPORTED, "scheme %s is not a block/scaled quantization",
                      alto_scheme_name(q->scheme));
  if (q->axis != -1 && q->axis != -2)
    return alto_error(ALTO_ERR_UNSUPPORTED, "quantization axis %d (valid: -1, -2)", q->axis);
  *out = alto_exec_quant_spec(q);
  out->sr = q->rounding == ALTO_ROUND_SR;
  return ALTO_OK;
}

static alto_status alto_pk_elem_(const alto_node *n, alto_dtype dt, alto_elem *out) {
  if (dt == ALTO_DT_BF16 || dt == ALTO_DT_F32) {
    *out = dt == ALTO_DT_BF16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    return ALTO_OK;
  }
  return alto_error(ALTO_ERR_UNSUPPORTED, "%s: %s high-precision dtype %s (valid: bf16, f32)",
                    n->name, alto_ir_op_name(n->op), alto_ir_dtype_name(dt));
}

static void alto_pk_add_(alto_plan_kernels *pk, const alto_qkern *k, const alto_node *n) {
  char key[256];
  alto_qkern_key(k, key, sizeof key);
  for (int i = 0; i < pk->n; i++)
    if (strcmp(pk->kernels[i].key, key) == 0) {
      pk->kernels[i].uses++;
      return;
    }
  if (pk->n == pk->cap) {
    pk->cap = pk->cap ? 2 * pk->cap : 32;
    pk->kernels = alto_xrealloc(pk->kernels, (size_t)pk->cap * sizeof *pk->kernels);
  }
  alto_plan_kernel *e = &pk->kernels[pk->n++];
  memset(e, 0, sizeof *e);
  e->k = *k;
  snprintf(e->key, sizeof e->key, "%s", key);
  snprintf(e->first, sizeof e->first, "%s", n->name);
  e->uses = 1;
}

/* The RHT node (before `at`) that wrote buffer `buf`, or NULL. */
static const alto_node *alto_pk_rht_of_(const alto_plan *p, int at, int buf) {
  for (int i = at - 1; i >= 0; i--) {
    const alto_node *n = &p->nodes[i];
    for (int j = 0; j < n->n_out; j++)
      if (n->out[j] == buf)
        return n->op == ALTO_OP_RHT ? n : NULL;
  }
  return NULL;
}

static alto_status alto_pk_quant_(const alto_plan *p, int at, alto_target target, const char *arch,
                                  alto_plan_kernels *pk) {
  const alto_node *n = &p->nodes[at];
  alto_quant_spec spec;
  if (alto_plan_quant_spec(&n->q, &spec) != ALTO_OK)
    return alto_error(ALTO_ERR_UNSUPPORTED, "%s: %s", n->name, alto_last_error());
  alto_elem in = ALTO_ELEM_BF16;
  alto_gpu_rht rht = {0, 0, 0, 0};
  alto_dtype in_dt = n->in_dtype;
  if (n->q.rht) { /* the GPU fuses the RHT into the quantization: it reads the RHT's input */
    const alto_node *r = n->n_in ? alto_pk_rht_of_(p, at, n->in[0]) : NULL;
    if (!r)
      return alto_error(ALTO_ERR_UNSUPPORTED,
                        "%s: quantization after an RHT, but its input is not an RHT node's output",
                        n->name);
    rht.b = n->q.rht_size ? n->q.rht_size : r->q.rht_size;
    in_dt = r->in_dtype;
  }
  ALTO_TRY(alto_pk_elem_(n, in_dt, &in));
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  int nk = alto_quant_kernels(&spec, in, &rht, target, arch, ks);
  for (int i = 0; i < nk; i++)
    alto_pk_add_(pk, &ks[i], n);
  return ALTO_OK;
}

alto_status alto_plan_kernels_of(const alto_plan *p, alto_target target, const char *arch,
                                 alto_plan_kernels *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *n = &p->nodes[i];
    switch (n->op) {
    case ALTO_OP_QUANTIZE:
      ALTO_TRY(alto_pk_quant_(p, i, target, arch, out));
      out->n_quant_nodes++;
      break;
    case ALTO_OP_DEQUANTIZE: {
      alto_quant_spec spec;
      alto_elem y = ALTO_ELEM_BF16;
      if (alto_plan_quant_spec(&n->q, &spec) != ALTO_OK)
        return alto_error(ALTO_ERR_UNSUPPORTED, "%s: %s", n->name, alto_last_error());
      ALTO_TRY(alto_pk_elem_(n, n->out_dtype, &y));
      alto_qkern k = alto_dequant_kernel(&spec, y, target, arch);
      alto_pk_add_(out, &k, n);
      out->n_quant_nodes++;
      break;
    }
    case ALTO_OP_RHT: /* fused into the quantization that reads its output */
      break;
    default:
      out->n_pending++;
      break;
    }
  }
  return ALTO_OK;
}

void alto_plan_kernels_free(alto_plan_kernels *k) {
  free(k->kernels);
  memset(k, 0, sizeof *k);
}
