// Token embedding: the gather (forward) and a deterministic scatter-add (backward).
//
// forward   out (M, C) = table (V, C) rows tokens[m]. The table is the fp32 master weight; out is
//           fp32 (bits copied) or bf16 (each value rounded to nearest even, alto_f32_to_bf16:
//           the CPU executor's rounding of the fp32 row). A token outside [0, V) gives a NaN row
//           (the CPU reference requires valid tokens).
// backward  dtable (V, C) fp32 += dout (M, C) (bf16 or fp32) rows, per column in token order, as
//           runtime/cpu/ops.c: bit for bit the CPU's sums. Four kernels, no float atomics:
//   hist    counts[v] = occurrences of v (integer atomics: the counts are exact)
//   scan    offsets = exclusive prefix sum of counts (in place, offsets[V] = valid tokens),
//           cursor = a copy, uniq = the tokens that occur, ascending, n_uniq = their count
//   rank    order[offsets[v] ..] = the positions of v in increasing m (a stable counting sort:
//           one CTA walks the positions in chunks, ranking each inside its chunk)
//   accum   one CTA per (occurring token, column block of 8 NT): dtable[v][c] += dout[order[i]][c]
//   for
//           i in offsets[v] .. offsets[v+1] - 1, in that (token) order
// iscratch (ints): counts/offsets [V + 1], cursor [V], order [M], uniq [M], n_uniq [1].
#ifndef ALTO_OPS_EMBED_CUH
#define ALTO_OPS_EMBED_CUH

#include "ops/ops_common.cuh"

struct alto_embed_scratch_ {
  alto_i32 *offsets, *cursor, *order, *uniq, *n_uniq;
};
__device__ __forceinline__ alto_embed_scratch_ alto_embed_scratch(alto_i32 *s, alto_i64 M,
                                                                  alto_i64 V) {
  alto_embed_scratch_ r;
  r.offsets = s;
  r.cursor = s + V + 1;
  r.order = r.cursor + V;
  r.uniq = r.order + M;
  r.n_uniq = r.uniq + M;
  return r;
}

// grid (M, ceil(C / (8 NT))): one token row per blockIdx.x; each thread 8 consecutive columns
// (one 16-byte store when C is a multiple of 8 and the pointers 16-byte aligned). BF16: out.
template <bool BF16, int NT>
__device__ __forceinline__ void alto_embed_fwd(void *out, const float *table,
                                               const alto_i32 *tokens, alto_i64 C, alto_i64 V) {
  const alto_idx m = blockIdx.x, c0 = ((alto_idx)blockIdx.y * NT + threadIdx.x) * 8;
  if (c0 >= C)
    return;
  const alto_i32 t = tokens[m];
  const bool valid = t >= 0 && t < V;
  if (C % 8 == 0 && alto_ops_aligned16(out, table)) {
    if (valid) {
      float v[8];
      alto_ops_load8<false>(table, (alto_idx)t * C + c0, v);
      alto_ops_store8<BF16>(out, m * C + c0, v);
    } else {
      const float nan = alto_f32_from_bits(ALTO_F32_NAN_BITS);
      const float v[8] = {nan, nan, nan, nan, nan, nan, nan, nan};
      alto_ops_store8<BF16>(out, m * C + c0, v);
    }
    return;
  }
  for (alto_idx c = c0; c < c0 + 8 && c < C; c++)
    if (valid)
      alto_cast1<false, BF16>(out, m * C + c, table, (alto_idx)t * C + c);
    else
      alto_store1<BF16>(out, m * C + c, alto_f32_from_bits(ALTO_F32_NAN_BITS));
}

// grid-stride over the M tokens; counts zeroed by the caller.
__device__ __forceinline__ void alto_embed_hist(alto_i32 *scratch, const alto_i32 *tokens,
                                                alto_i64 M, alto_i64 V) {
  alto_i32 *counts = scratch;
  for (alto_idx m = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x; m < M;
       m += (alto_idx)gridDim.x * blockDim.x) {
    alto_i32 t = tokens[m];
    if (t >= 0 && t < V)
      atomicAdd(&counts[t], 1);
  }
}

// Inclusive scan of one int per thread over the CTA (Hillis-Steele in shared memory).
template <int NT> __device__ __forceinline__ int alto_block_scan_incl(int v, int *sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int o = 1; o < NT; o <<= 1) {
    int add = threadIdx.x >= o ? sh[threadIdx.x - o] : 0;
    __syncthreads();
    sh[threadIdx.x] += add;
    __syncthreads();
  }
  int r = sh[threadIdx.x];
  __syncthreads();
  return r;
}

// One CTA of NT threads: each thread scans a contiguous segment of the V counts.
template <int NT>
__device__ __forceinline__ void alto_embed_scan(alto_i32 *scratch, alto_i64 M, alto_i64 V) {
  __shared__ int sh[NT];
  alto_embed_scratch_ s = alto_embed_scratch(scratch, M, V);
  const alto_i64 seg = (V + NT - 1) / NT;
  const alto_i64 v0 = threadIdx.x * seg, v1 = v0 + seg < V ? v0 + seg : V;
  int sum = 0, nz = 0;
  for (alto_i64 v = v0; v < v1; v++) {
    sum += s.offsets[v];
    nz += s.offsets[v] > 0;
  }
  int sum_end = alto_block_scan_incl<NT>(sum, sh);
  int nz_end = alto_block_scan_incl<NT>(nz, sh);
  int off = sum_end - sum, u = nz_end - nz;
  for (alto_i64 v = v0; v < v1; v++) {
    int c = s.offsets[v];
    s.offsets[v] = off;
    s.cursor[v] = off;
    if (c > 0)
      s.uniq[u++] = (alto_i32)v;
    off += c;
  }
  if (threadIdx.x == NT - 1) {
    s.offsets[V] = sum_end;
    *s.n_uniq = nz_end;
  }
}

// One CTA of NT threads walks the positions in chunks of NT: a position's slot is the cursor of
// its token plus its rank among the chunk's earlier positions of the same token.
template <int NT>
__device__ __forceinline__ void alto_embed_rank(alto_i32 *scratch, const alto_i32 *tokens,
                                                alto_i64 M, alto_i64 V) {
  __shared__ alto_i32 sh[NT];
  alto_embed_scratch_ s = alto_embed_scratch(scratch, M, V);
  for (alto_i64 base = 0; base < M; base += NT) {
    const alto_i64 m = base + threadIdx.x;
    alto_i32 t = m < M ? tokens[m] : -1;
    const bool valid = t >= 0 && t < V;
    sh[threadIdx.x] = valid ? t : -1;
    __syncthreads();
    int rank = 0, count = 0;
    if (valid)
      for (int j = 0; j < NT; j++)
        if (sh[j] == t) {
          rank += j < (int)threadIdx.x;
          count++;
        }
    if (valid)
      s.order[s.cursor[t] + rank] = (alto_i32)m;
    __syncthreads(); /* every slot read before the cursors move */
    if (valid && rank == count - 1)
      s.cursor[t] += count;
    __syncthreads(); /* cursors (global) visible to the whole CTA before the next chunk */
  }
}

// grid (M, ceil(C / (8 NT))): blockIdx.x indexes the occurring tokens (those past n_uniq exit);
// each thread 8 consecutive columns (16-byte accesses when C is a multiple of 8 and the pointers
// 16-byte aligned), each column's adds in token order.
template <bool BF16, int NT>
__device__ __forceinline__ void alto_embed_accum(float *dtable, const void *dout,
                                                 const alto_i32 *scratch, alto_i64 M, alto_i64 C,
                                                 alto_i64 V) {
  alto_embed_scratch_ s = alto_embed_scratch((alto_i32 *)scratch, M, V);
  if ((alto_i64)blockIdx.x >= (alto_i64)*s.n_uniq)
    return;
  const alto_idx c0 = ((alto_idx)blockIdx.y * NT + threadIdx.x) * 8;
  if (c0 >= C)
    return;
  const alto_i32 v = s.uniq[blockIdx.x];
  const alto_i32 i0 = s.offsets[v], i1 = s.offsets[v + 1];
  float *drow = dtable + (alto_idx)v * C;
  if (C % 8 == 0 && alto_ops_aligned16(dtable, dout)) {
    float acc[8], d[8];
    alto_ops_load8<false>(drow, c0, acc);
    for (alto_i32 i = i0; i < i1; i++) {
      alto_ops_load8<BF16>(dout, (alto_idx)s.order[i] * C + c0, d);
#pragma unroll
      for (int e = 0; e < 8; e++)
        acc[e] = ALTO_FADD(acc[e], d[e]);
    }
    alto_ops_store8<false>(drow, c0, acc);
    return;
  }
  for (alto_idx c = c0; c < c0 + 8 && c < C; c++) {
    float acc = drow[c];
    for (alto_i32 i = i0; i < i1; i++)
      acc = ALTO_FADD(acc, alto_load1<BF16>(dout, (alto_idx)s.order[i] * C + c));
    drow[c] = acc;
  }
}

#endif
