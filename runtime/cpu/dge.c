/* The DGE gradient multiplier on the CPU (NUMERICS.md 5): dW *= g(W / block scale). */
#include "base/parallel.h"
#include "runtime/cpu/quant_internal.h"

typedef struct {
  const alto_tensor_view *w;
  const alto_quant_layout *layout;
  const uint8_t *scales;
  int64_t R, C;
  float *dw;
} alto_dge_ctx_;

static void alto_dge_rows_(void *ctx, int64_t begin, int64_t end) {
  alto_dge_ctx_ *k = ctx;
  for (int64_t row = begin; row < end; row++) {
    int64_t e = row / k->R, r = row % k->R;
    for (int64_t c = 0; c < k->C; c++) {
      int64_t i = row * k->C + c;
      uint8_t s = k->scales[alto_quant_scale_index_(k->layout, e, r, c)];
      k->dw[i] = k->dw[i] * alto_dge_multiplier(alto_tensor_get(k->w, i), s);
    }
  }
}

alto_status alto_cpu_dge(const alto_quant_spec *spec, const alto_tensor_view *w,
                         const alto_quantized *q, float *dw) {
  if (!spec || !w || !q || !dw || !w->data || !q->scales)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_cpu_dge: NULL argument");
  if (spec->scheme != ALTO_SCHEME_MXFP4)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "dge: the weight quantization is %s; DGE is defined for mxfp4 weights",
                      (unsigned)spec->scheme < ALTO_SCHEME_COUNT ? alto_scheme_name(spec->scheme)
                                                                 : "?");
  alto_quant_layout l;
  ALTO_TRY(alto_quant_layout_of(spec, w, &l));
  const alto_quant_layout *ql = &q->layout;
  for (int d = 0; d < 3; d++)
    if (l.scale_dims[d] != ql->scale_dims[d])
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "dge: the quantized weight's scales [%lld, %lld, %lld] do not match W's "
                        "shape under the spec (expected [%lld, %lld, %lld])",
                        (long long)ql->scale_dims[0], (long long)ql->scale_dims[1],
                        (long long)ql->scale_dims[2], (long long)l.scale_dims[0],
                        (long long)l.scale_dims[1], (long long)l.scale_dims[2]);
  if (l.block_r != ql->block_r || l.block_c != ql->block_c)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "dge: the quantized weight has %dx%d blocks but the spec gives %dx%d",
                      ql->block_r, ql->block_c, l.block_r, l.block_c);
  int64_t E = l.scale_dims[0];
  int64_t R = w->dims[w->ndim - 2], C = w->dims[w->ndim - 1];
  alto_dge_ctx_ k = {w, &l, q->scales, R, C, dw};
  int64_t grain = C >= 4096 ? 1 : 4096 / C;
  alto_parallel_for(E * R, grain, alto_dge_rows_, &k);
  return ALTO_OK;
}
