// Softmax cross-entropy, forward and backward fused, mean over the tokens whose target is >= 0
// (targets < 0 ignored, PyTorch's ignore_index), as runtime/cpu/ops.c: sums and the log-sum-exp
// in double. Three kernels:
//   count  one CTA: loss[1] = the number of valid targets (as a double)
//   rows   grid (M): one CTA per row, the logits read three times: the max, the sum of
//          exponentials (each thread over its strided columns, then combined across the CTA in a
//          fixed tree), row_loss[m] = lse - logits[t]; then dlogits[v] = (float)(exp(l - lse) /
//          n_valid), dlogits[t] -= (float)(1 / n_valid); ignored rows: loss 0, dlogits 0. dlogits
//          may be nullptr (forward only) or equal logits (in place).
//   mean   one CTA: loss[0] = sum(row_loss) / n_valid (fixed tree order), 0 without valid rows.
// logits, dlogits (M, V) bf16 or fp32; targets (M,) int32 (< V); row_loss (M,) and loss (2,) fp64.
// The exp / log are CUDA's (double, within an ulp of glibc's): see tests/test_ops_gpu.c.
#ifndef ALTO_OPS_CROSS_ENTROPY_CUH
#define ALTO_OPS_CROSS_ENTROPY_CUH

#include "ops/ops_common.cuh"

template <int NT>
__device__ __forceinline__ void alto_ce_count(double *loss, const alto_i32 *targets, alto_i64 M) {
  __shared__ int sh[NT / ALTO_WARP + 1];
  int n = 0;
  for (alto_i64 m = threadIdx.x; m < M; m += NT)
    n += targets[m] >= 0;
  n = alto_block_sum<NT>(n, sh);
  if (threadIdx.x == 0)
    loss[1] = (double)n;
}

template <bool BF16, int NT>
__device__ __forceinline__ void alto_ce_rows(void *dlogits, double *row_loss, const void *logits,
                                             const alto_i32 *targets, const double *loss,
                                             alto_i64 V) {
  __shared__ float shf[NT / ALTO_WARP + 1];
  __shared__ double shd[NT / ALTO_WARP + 1];
  const alto_idx m = blockIdx.x, row = m * V;
  const alto_i32 t = targets[m];
  if (t < 0) {
    if (threadIdx.x == 0)
      row_loss[m] = 0.0;
    if (dlogits)
      for (alto_idx v = threadIdx.x; v < V; v += NT)
        alto_store1<BF16>(dlogits, row + v, 0.0f);
    return;
  }
  /* read before any thread writes dlogits (which may alias logits) */
  const float lt =
      t < V ? alto_load1<BF16>(logits, row + t) : alto_f32_from_bits(ALTO_F32_NAN_BITS);
  /* The CPU subtracts the row max in fp32 before widening, exp((double)(l - mx)): an online max
   * (a running max per thread, rescaled) would round those subtractions differently, by up to
   * 1e-7 in the log-sum-exp. So the max comes first and every term is the CPU's term; only the
   * order of the double sum differs. */
  float mx = -alto_f32_from_bits(ALTO_F32_INF_BITS);
  for (alto_idx v = threadIdx.x; v < V; v += NT)
    mx = alto_ops_max_(mx, alto_load1<BF16>(logits, row + v));
  mx = alto_block_max<NT>(mx, shf);
  double s = 0.0;
  for (alto_idx v = threadIdx.x; v < V; v += NT)
    s = ALTO_DADD(s, exp((double)ALTO_FSUB(alto_load1<BF16>(logits, row + v), mx)));
  const double sum = alto_block_sum<NT>(s, shd);
  const double lse = ALTO_DADD((double)mx, log(sum));
  if (threadIdx.x == 0)
    row_loss[m] = ALTO_DSUB(lse, (double)lt);
  if (!dlogits)
    return;
  const double n = loss[1];
  const double inv_n = n > 0.0 ? ALTO_DDIV(1.0, n) : 0.0;
  for (alto_idx v = threadIdx.x; v < V; v += NT) {
    const float l = alto_load1<BF16>(logits, row + v);
    float d = (float)ALTO_DMUL(exp(ALTO_DSUB((double)l, lse)), inv_n);
    if (v == t)
      d = ALTO_FSUB(d, (float)inv_n);
    alto_store1<BF16>(dlogits, row + v, d);
  }
}

template <int NT>
__device__ __forceinline__ void alto_ce_mean(double *loss, const double *row_loss, alto_i64 M) {
  __shared__ double sh[NT / ALTO_WARP + 1];
  double s = 0.0;
  for (alto_i64 m = threadIdx.x; m < M; m += NT)
    s = ALTO_DADD(s, row_loss[m]);
  s = alto_block_sum<NT>(s, sh);
  if (threadIdx.x == 0)
    loss[0] = loss[1] > 0.0 ? ALTO_DDIV(s, loss[1]) : 0.0;
}

#endif
