/* The randomized Hadamard transform on the CPU (NUMERICS.md 4): each column of each b-row chunk of
 * every [R, C] matrix goes through alto_rht_apply with one (sign, perm) per call. */
#include "base/parallel.h"
#include "runtime/cpu/quant.h"

typedef struct {
  const alto_tensor_view *x;
  int64_t R, C;
  int b;
  const float *sign;
  const int *perm;
  alto_elem out_dtype;
  void *y;
} alto_rht_ctx_;

/* Items are (matrix, chunk) pairs: rows [chunk * b, chunk * b + b) of one matrix, all columns. */
static void alto_rht_chunks_(void *ctx, int64_t begin, int64_t end) {
  alto_rht_ctx_ *k = ctx;
  float col[256], out[256], scratch[256];
  int b = k->b;
  for (int64_t item = begin; item < end; item++) {
    int64_t base = item * b * k->C; /* row-major index of the chunk's first element */
    for (int64_t c = 0; c < k->C; c++) {
      for (int i = 0; i < b; i++)
        col[i] = alto_tensor_get(k->x, base + i * k->C + c);
      alto_rht_apply(col, out, k->sign, k->perm, b, scratch);
      for (int i = 0; i < b; i++) {
        int64_t j = base + i * k->C + c;
        if (k->out_dtype == ALTO_ELEM_BF16)
          ((uint16_t *)k->y)[j] = alto_f32_to_bf16(out[i]);
        else
          ((float *)k->y)[j] = out[i];
      }
    }
  }
}

alto_status alto_cpu_rht(const alto_tensor_view *x, int b, uint64_t seed, uint64_t stream,
                         alto_elem out_dtype, void *y) {
  if (!x || !x->data || !y)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_cpu_rht: NULL argument");
  if (x->ndim != 2 && x->ndim != 3)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "rht: tensor has ndim %d; expected ndim 2 ([R, C]) or 3 ([E, R, C])",
                      x->ndim);
  if (x->dtype != ALTO_ELEM_BF16 && x->dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "rht: input dtype must be bf16 or f32");
  if (out_dtype != ALTO_ELEM_BF16 && out_dtype != ALTO_ELEM_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "rht: output dtype must be bf16 or f32");
  if (b < 16 || b > 256 || (b & (b - 1)) != 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "rht: block size %d is not supported; use a power of two in 16..256", b);
  for (int d = 0; d < x->ndim; d++)
    if (x->dims[d] <= 0)
      return alto_error(ALTO_ERR_INVALID_ARG, "rht: dim %d is %lld; every dim must be positive", d,
                        (long long)x->dims[d]);
  int64_t E = x->ndim == 3 ? x->dims[0] : 1;
  int64_t R = x->dims[x->ndim - 2], C = x->dims[x->ndim - 1];
  if (R % b != 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "rht with block %d needs the row (token) dim (%lld) to be a multiple of %d; "
                      "pad it",
                      b, (long long)R, b);
  float sign[256];
  int perm[256];
  alto_rht_make(seed, stream, b, sign, perm);
  alto_rht_ctx_ k = {x, R, C, b, sign, perm, out_dtype, y};
  int64_t grain = C * b >= 4096 ? 1 : 4096 / (C * b);
  alto_parallel_for(E * (R / b), grain, alto_rht_chunks_, &k);
  return ALTO_OK;
}
