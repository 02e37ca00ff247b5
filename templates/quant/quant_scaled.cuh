// Tensorwise and rowwise FP8 (torchao float8 training), and the tensor amax that NVFP4's two-level
// scaling and tensorwise FP8 need first.
//
// amax_bits  one u32: max |x| over the tensor as fp32 bits; non-negative floats order like their
//            bits and NaN (0x7FC00000) above Inf, so atomicMax on the bits is NaN-sticky.
// scales     tensorwise [1]; rowwise axis -1 [rows]; rowwise axis -2 [E, cols] (per matrix of R rows)
#ifndef ALTO_QUANT_SCALED_CUH
#define ALTO_QUANT_SCALED_CUH

#include "quant/quant_codes.cuh"

// 16 bytes of x at element e as 4 raw words (8 bf16 or 4 fp32 values).
template <bool BF16>
__device__ __forceinline__ void alto_chunk_load_(const void *__restrict__ x, alto_idx e,
                                                 alto_u32 w[4]) {
  const uint4 u = *(const uint4 *)((const unsigned char *)x + e * (BF16 ? 2 : 4));
  w[0] = u.x, w[1] = u.y, w[2] = u.z, w[3] = u.w;
}

// The FP8 codes of a 16-byte chunk's values, value j times s[j] (alto_fp8_tw_encode), as V / 4
// words (byte j: value j; V = 8 bf16 or 4 fp32 values).
template <int ELEM, bool BF16>
__device__ __forceinline__ void alto_chunk_codes_(const alto_u32 w[4], const float *s, alto_u32 *cw) {
  constexpr int V = BF16 ? 8 : 4;
#pragma unroll
  for (int j = 0; j < V; j += 4)
    cw[j / 4] = alto_fp8x2_<ELEM>(ALTO_FMUL(alto_raw_val_<BF16>(w, j), s[j]),
                                  ALTO_FMUL(alto_raw_val_<BF16>(w, j + 1), s[j + 1])) |
                (alto_fp8x2_<ELEM>(ALTO_FMUL(alto_raw_val_<BF16>(w, j + 2), s[j + 2]),
                                   ALTO_FMUL(alto_raw_val_<BF16>(w, j + 3), s[j + 3]))
                 << 16);
}

// The same with one scale for the chunk, stored at codes + e: 8 bytes (bf16) or 4.
template <int ELEM, bool BF16>
__device__ __forceinline__ void alto_chunk_store_codes_(alto_u8 *__restrict__ codes, alto_idx e,
                                                        const alto_u32 w[4], float scale) {
  constexpr int V = BF16 ? 8 : 4;
  float s[V];
#pragma unroll
  for (int j = 0; j < V; j++)
    s[j] = scale;
  alto_u32 cw[V / 4];
  alto_chunk_codes_<ELEM, BF16>(w, s, cw);
  if constexpr (V == 8)
    *(uint2 *)(codes + e) = uint2{cw[0], cw[1]};
  else
    *(alto_u32 *)(codes + e) = cw[0];
}

// The CTA's amax (fp32 bits, an integer max: alto_amax_update's order-free reduction) from each
// thread's; every thread gets it. red: NT / 32 words of shared memory.
template <int NT>
__device__ __forceinline__ alto_u32 alto_cta_amax_bits_(alto_u32 a, alto_u32 *red) {
#pragma unroll
  for (int m = 16; m >= 1; m >>= 1) {
    const alto_u32 o = ALTO_SHFL_XOR(a, m, 32);
    a = o > a ? o : a;
  }
  if ((threadIdx.x & 31) == 0)
    red[threadIdx.x / 32] = a;
  __syncthreads();
  a = red[0];
#pragma unroll
  for (int w = 1; w < NT / 32; w++)
    a = red[w] > a ? red[w] : a;
  return a;
}

// max |x| over n elements into *amax_bits (zeroed by the caller). Grid-stride over 16-byte chunks,
// U chunks per thread and step, all loads of a step in flight together (the first pass of
// tensorwise FP8 and of NVFP4's two-level scale: it must run at copy bandwidth).
template <bool IN_BF16, int NT>
__device__ __forceinline__ void alto_tensor_amax(const void *__restrict__ x, alto_idx n,
                                                 alto_u32 *amax_bits) {
  constexpr int V = IN_BF16 ? 8 : 4, U = 4;
  __shared__ alto_u32 red[NT / 32];
  alto_u32 m = 0; // max over this thread's values of the magnitude bits
  const alto_idx nch = n / V; // whole chunks; x is 16-byte aligned
  const alto_idx stride = (alto_idx)gridDim.x * NT;
  alto_idx k = (alto_idx)blockIdx.x * NT + threadIdx.x;
  for (; k + (U - 1) * stride < nch; k += U * stride) {
    alto_u32 w[U][4];
#pragma unroll
    for (int q = 0; q < U; q++)
      alto_chunk_load_<IN_BF16>(x, (k + q * stride) * V, w[q]);
    const alto_u32 a = alto_raw_amax_bits_<IN_BF16, U>(w);
    m = a > m ? a : m;
  }
  for (; k < nch; k += stride) {
    alto_u32 w[1][4];
    alto_chunk_load_<IN_BF16>(x, k * V, w[0]);
    const alto_u32 a = alto_raw_amax_bits_<IN_BF16, 1>(w);
    m = a > m ? a : m;
  }
  if (blockIdx.x == 0) // the n % V tail
    for (alto_idx e = nch * V + threadIdx.x; e < n; e += NT) {
      const alto_u32 a = alto_f32_bits(alto_load1<IN_BF16>(x, e)) & 0x7FFFFFFFu;
      m = a > m ? a : m;
    }
  m = alto_cta_amax_bits_<NT>(m, red);
  if (threadIdx.x == 0)
    atomicMax(amax_bits, m);
}

// NVFP4 outer scale from the tensor amax: one thread.
__device__ __forceinline__ void alto_nvfp4_outer_kernel(const alto_u32 *amax_bits, float *outer) {
  if (blockIdx.x == 0 && threadIdx.x == 0)
    *outer = alto_nvfp4_outer(alto_f32_from_bits(*amax_bits), 1);
}

// Tensorwise FP8: every element with the one scale; the thread of element 0 also writes the scale.
// A thread encodes 16 elements (two chunks of bf16, four of fp32). The CTAs run in reverse order:
// the amax pass read the tensor's end last, so the first CTAs here find it in L2.
template <int ELEM, bool IN_BF16, bool POW2>
__device__ __forceinline__ void alto_fp8_tensorwise(const void *__restrict__ x,
                                                    alto_u8 *__restrict__ codes,
                                                    float *__restrict__ scales,
                                                    const alto_u32 *amax_bits, alto_idx n) {
  constexpr int V = IN_BF16 ? 8 : 4, NCH = 16 / V;
  const float scale = alto_fp8_tw_scale(alto_f32_from_bits(*amax_bits), (alto_elem)ELEM, POW2);
  const alto_idx cta = (alto_idx)gridDim.x - 1 - blockIdx.x;
  alto_idx e = (cta * blockDim.x + threadIdx.x) * 16;
  if (e == 0)
    scales[0] = scale;
  if (e + 16 <= n) {
    alto_u32 w[NCH][4];
#pragma unroll
    for (int q = 0; q < NCH; q++)
      alto_chunk_load_<IN_BF16>(x, e + q * V, w[q]);
#pragma unroll
    for (int q = 0; q < NCH; q++)
      alto_chunk_store_codes_<ELEM, IN_BF16>(codes, e + q * V, w[q], scale);
  } else {
    for (; e < n; e++)
      codes[e] = alto_fp8_tw_encode(alto_load1<IN_BF16>(x, e), scale, (alto_elem)ELEM);
  }
}

// Rowwise FP8 along axis -1: one CTA per row. Rows of at most NT * C chunks of 16 bytes (bf16:
// 16384 columns with NT = 256, C = 8) stay in registers: x is read once, 16 bytes per load, and the
// codes leave 8 (bf16) or 4 bytes per store. Longer rows read x twice (amax, then encode: the second
// read hits L2), and rows whose length is not a multiple of the chunk take element accesses.
template <int ELEM, bool IN_BF16, bool POW2, int NT>
__device__ __forceinline__ void alto_fp8_rowwise_rows(const void *__restrict__ x,
                                                      alto_u8 *__restrict__ codes,
                                                      float *__restrict__ scales, alto_idx cols) {
  constexpr int V = IN_BF16 ? 8 : 4, C = 8;
  __shared__ alto_u32 red[NT / 32];
  const alto_idx row = blockIdx.x;
  const void *xr = IN_BF16 ? (const void *)((const alto_u16 *)x + row * cols)
                           : (const void *)((const float *)x + row * cols);
  alto_u8 *cr = codes + row * cols;
  const alto_idx nch = cols / V;
  alto_u32 m = 0;
  if (cols % V == 0 && nch <= (alto_idx)NT * C) {
    alto_u32 w[C][4];
#pragma unroll
    for (int i = 0; i < C; i++) {
      const alto_idx k = threadIdx.x + (alto_idx)i * NT;
      if (k < nch)
        alto_chunk_load_<IN_BF16>(xr, k * V, w[i]);
      else
        w[i][0] = w[i][1] = w[i][2] = w[i][3] = 0;
    }
    m = alto_raw_amax_bits_<IN_BF16, C>(w);
    m = alto_cta_amax_bits_<NT>(m, red);
    const float scale = alto_fp8_tw_scale(alto_f32_from_bits(m), (alto_elem)ELEM, POW2);
    if (threadIdx.x == 0)
      scales[row] = scale;
#pragma unroll
    for (int i = 0; i < C; i++) {
      const alto_idx k = threadIdx.x + (alto_idx)i * NT;
      if (k < nch)
        alto_chunk_store_codes_<ELEM, IN_BF16>(cr, k * V, w[i], scale);
    }
    return;
  }
  const bool vec = cols % V == 0;
  if (vec) {
    for (alto_idx k = threadIdx.x; k < nch; k += NT) {
      alto_u32 w[1][4];
      alto_chunk_load_<IN_BF16>(xr, k * V, w[0]);
      const alto_u32 a = alto_raw_amax_bits_<IN_BF16, 1>(w);
      m = a > m ? a : m;
    }
  } else {
    for (alto_idx c = threadIdx.x; c < cols; c += NT) {
      const alto_u32 a = alto_f32_bits(alto_load1<IN_BF16>(xr, c)) & 0x7FFFFFFFu;
      m = a > m ? a : m;
    }
  }
  m = alto_cta_amax_bits_<NT>(m, red);
  const float scale = alto_fp8_tw_scale(alto_f32_from_bits(m), (alto_elem)ELEM, POW2);
  if (threadIdx.x == 0)
    scales[row] = scale;
  if (vec) {
    for (alto_idx k = threadIdx.x; k < nch; k += NT) {
      alto_u32 w[4];
      alto_chunk_load_<IN_BF16>(xr, k * V, w);
      alto_chunk_store_codes_<ELEM, IN_BF16>(cr, k * V, w, scale);
    }
  } else {
    for (alto_idx c = threadIdx.x; c < cols; c += NT)
      cr[c] = alto_fp8_tw_encode(alto_load1<IN_BF16>(xr, c), scale, (alto_elem)ELEM);
  }
}

// Rowwise FP8 along axis -2: one scale per column of each [R, C] matrix, in two kernels over the
// same grid (alto_rowwise_cols_grid): x strips of SW = 4 x V columns (four column lanes of 16 bytes
// of a row: V = 8 bf16 or 4 fp32), y splits of the rows, z matrices. A CTA walks its split's rows
// with NT / 4 row lanes, U rows' loads in flight per thread.
//   1. alto_fp8_col_amax: each column's amax over the split (integer max of the magnitude bits, the
//      row lanes combined in shared memory), atomically maxed into the scales word as bits with bit
//      31 set (the caller zeroes the scales first);
//   2. alto_fp8_rowwise_cols: the column's scale from that word (a word without bit 31 is the
//      scale itself: split 0's CTA stores it as soon as it has read the amax, so a later reader
//      may find it; both give the same scale), the split's rows encoded in reverse order, the CTAs
//      in reverse order (the data the amax kernel read last is in L2).
// Rows of a width that is not a multiple of V are not 16-byte aligned: element loads and stores.
// (It was one thread per column walking all R rows: 7168 threads for an 8192 x 7168 tensor, 4.3 ms
// on the H100; then one CTA per column strip over all rows, 17-20% of copy on 512-1024 columns.)
template <bool IN_BF16, int NT> struct alto_colstrip_ {
  static constexpr int V = IN_BF16 ? 8 : 4, LW = 4, RL = NT / LW, SW = LW * V, U = 8;
  const void *x;
  alto_idx cols, base, c, r0, r1; // matrix's first element, thread's first column, split's rows
  alto_idx nk;                // the thread's rows: r0 + lr + k RL, k < nk
  alto_idx bx, by, bz;        // the CTA's strip, split and matrix
  int lc, lr, n;              // column lane, row lane, columns of the thread inside the matrix
  bool vec;
  // rev: the CTAs in reverse order (the encoding kernel: the amax kernel's last CTAs read the
  // tensor's end last, so the first CTAs here find it in L2)
  // ct: splits of a multiple of 16 rows (the transposed codes' 16-byte stores)
  __device__ __forceinline__ alto_colstrip_(const void *x_, alto_idx R, alto_idx cols_, bool rev,
                                            bool ct = false) {
    x = x_, cols = cols_;
    bx = rev ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    by = rev ? gridDim.y - 1 - blockIdx.y : blockIdx.y;
    bz = rev ? gridDim.z - 1 - blockIdx.z : blockIdx.z;
    lc = threadIdx.x % LW, lr = threadIdx.x / LW;
    base = bz * R * cols;
    c = bx * SW + lc * V;
    n = c < cols ? (int)(cols - c < V ? cols - c : V) : 0;
    vec = cols % V == 0;
    alto_idx rs = (R + gridDim.y - 1) / gridDim.y; // rows per split
    if (ct)
      rs = (rs + 15) / 16 * 16;
    r0 = by * rs < R ? by * rs : R;
    r1 = r0 + rs < R ? r0 + rs : R;
    nk = r1 - r0 > lr ? (r1 - r0 - lr + RL - 1) / RL : 0;
  }
  __device__ __forceinline__ alto_idx elem_row(alto_idx r) const { return base + r * cols + c; }
  __device__ __forceinline__ alto_idx elem(alto_idx k) const { return elem_row(r0 + lr + k * RL); }
  // row k of the thread's columns as raw words (missing columns 0)
  __device__ __forceinline__ void load(alto_idx k, alto_u32 w[4]) const { load_row(r0 + lr + k * RL, w); }
  // row r (of the matrix) of the thread's columns
  __device__ __forceinline__ void load_row(alto_idx r, alto_u32 w[4]) const {
    const alto_idx e = elem_row(r);
    if (vec && n == V) {
      alto_chunk_load_<IN_BF16>(x, e, w);
      return;
    }
    w[0] = w[1] = w[2] = w[3] = 0;
#pragma unroll
    for (int j = 0; j < V; j++)
      if (j < n) {
        const alto_u32 b = alto_f32_bits(alto_load1<IN_BF16>(x, e + j));
        if (IN_BF16)
          w[j / 2] |= (b >> 16) << (16 * (j % 2));
        else
          w[j] = b;
      }
  }
};

template <bool IN_BF16, int NT>
__device__ __forceinline__ void alto_fp8_col_amax(const void *__restrict__ x,
                                                  alto_u32 *__restrict__ scales, alto_idx R,
                                                  alto_idx cols) {
  using S = alto_colstrip_<IN_BF16, NT>;
  constexpr int V = S::V, U = S::U, SW = S::SW, RL = S::RL;
  __shared__ alto_u32 red[RL][SW + 1];
  const S st(x, R, cols, false);
  alto_u32 acc[4] = {0, 0, 0, 0}; // magnitude bits: bf16 two per word, fp32 one
  for (alto_idx k0 = 0; k0 < st.nk; k0 += U) {
    alto_u32 w[U][4];
#pragma unroll
    for (int u = 0; u < U; u++)
      if (k0 + u < st.nk)
        st.load(k0 + u, w[u]);
#pragma unroll
    for (int u = 0; u < U; u++)
      if (k0 + u < st.nk)
#pragma unroll
        for (int i = 0; i < 4; i++)
          acc[i] = IN_BF16 ? alto_max_u16x2_(acc[i], w[u][i] & 0x7FFF7FFFu)
                           : ((w[u][i] & 0x7FFFFFFFu) > acc[i] ? (w[u][i] & 0x7FFFFFFFu) : acc[i]);
  }
#pragma unroll
  for (int j = 0; j < V; j++)
    red[st.lr][st.lc * V + j] =
        IN_BF16 ? ((j % 2) ? (acc[j / 2] & 0xFFFF0000u) : (acc[j / 2] << 16)) : acc[j];
  __syncthreads();
  if (threadIdx.x < SW) {
    alto_u32 a = 0;
    for (int r = 0; r < RL; r++)
      a = red[r][threadIdx.x] > a ? red[r][threadIdx.x] : a;
    const alto_idx col = st.bx * SW + threadIdx.x;
    if (col < cols)
      atomicMax(&scales[st.bz * cols + col], a | 0x80000000u);
  }
}

// The transposed codes of alto_fp8_rowwise_cols (CT: [E, cols, R], the K-major operand of a GEMM
// reducing over the rows; R a multiple of 16). The split's rows go in chunks of U x RL (512 for
// 256 threads, in reverse order): a thread loads rows 4 RL g + 4 lr + q (g < U / 4, q < 4) of its
// V columns, so that each column's codes of four consecutive rows make one word; the words go to a
// shared [SW columns][chunk rows] tile (16-byte groups of a column's row XOR-swizzled by the
// column: the four column lanes of a warp write different banks) and leave as 16-byte stores of
// each column's rows.
template <int ELEM, bool IN_BF16, int NT, typename S>
__device__ __forceinline__ void alto_fp8_rowwise_cols_t_(const S &st, alto_u8 *__restrict__ codes,
                                                         const float *s, alto_idx R) {
  constexpr int V = S::V, U = S::U, SW = S::SW, RL = S::RL, SPAN = U * RL, G16 = SPAN / 16;
  static_assert(U % 4 == 0 && SPAN % 16 == 0, "chunk shape");
  __shared__ uint4 tile[SW * G16];
  alto_u32 *tw = (alto_u32 *)tile;
  const alto_idx nch = st.r1 > st.r0 ? (st.r1 - st.r0 + SPAN - 1) / SPAN : 0;
  auto swz = [](int col) { return 2 * ((col >> 3) & 3); }; // 16-byte group XOR of a column
  for (alto_idx ch = nch - 1; ch >= 0; ch--) {
    const alto_idx cb = st.r0 + ch * SPAN;
    alto_u32 w[U][4];
#pragma unroll
    for (int u = 0; u < U; u++) {
      const alto_idx r = cb + (u / 4) * 4 * RL + 4 * st.lr + u % 4;
      if (r < st.r1)
        st.load_row(r, w[u]);
      else
        w[u][0] = w[u][1] = w[u][2] = w[u][3] = 0;
    }
#pragma unroll
    for (int g = 0; g < U / 4; g++) {
      alto_u32 cw[4][V / 4];
#pragma unroll
      for (int q = 0; q < 4; q++)
        alto_chunk_codes_<ELEM, IN_BF16>(w[4 * g + q], s, cw[q]);
      const int wi = g * RL + st.lr; // the word of rows 4 wi .. 4 wi + 3 in the column's row
#pragma unroll
      for (int j = 0; j < V; j++) {
        const int col = st.lc * V + j, sh = 8 * (j % 4);
        const alto_u32 word = ((cw[0][j / 4] >> sh) & 0xFFu) | (((cw[1][j / 4] >> sh) & 0xFFu) << 8) |
                              (((cw[2][j / 4] >> sh) & 0xFFu) << 16) | ((cw[3][j / 4] >> sh) << 24);
        tw[col * (SPAN / 4) + (((wi / 4) ^ swz(col)) * 4 + wi % 4)] = word;
      }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < SW * G16; i += NT) {
      const int col = i / G16, q = i % G16;
      const alto_idx r = cb + 16 * q, gc = st.bx * SW + col;
      if (r < st.r1 && gc < st.cols)
        *(uint4 *)(codes + (st.bz * st.cols + gc) * R + r) = tile[col * G16 + (q ^ swz(col))];
    }
    __syncthreads();
  }
}

template <int ELEM, bool IN_BF16, bool POW2, int NT, bool CT = false>
__device__ __forceinline__ void alto_fp8_rowwise_cols(const void *__restrict__ x,
                                                      alto_u8 *__restrict__ codes,
                                                      alto_u32 *__restrict__ scales, alto_idx R,
                                                      alto_idx cols) {
  using S = alto_colstrip_<IN_BF16, NT>;
  constexpr int V = S::V, U = S::U, SW = S::SW;
  __shared__ float sc[SW];
  const S st(x, R, cols, true, CT);
  if (threadIdx.x < SW) {
    const alto_idx col = st.bx * SW + threadIdx.x;
    alto_u32 *sp = &scales[st.bz * cols + col];
    float scale = 1.0f;
    if (col < cols) {
      const alto_u32 m = *(volatile alto_u32 *)sp;
      scale = (m & 0x80000000u)
                  ? alto_fp8_tw_scale(alto_f32_from_bits(m & 0x7FFFFFFFu), (alto_elem)ELEM, POW2)
                  : alto_f32_from_bits(m);
      if (st.by == 0)
        *sp = alto_f32_bits(scale);
    }
    sc[threadIdx.x] = scale;
  }
  __syncthreads();
  float s[V];
#pragma unroll
  for (int j = 0; j < V; j++)
    s[j] = sc[st.lc * V + j];
  if constexpr (CT) { // codes [E, cols, R]: the split's rows in chunks of U x RL, transposed through smem
    alto_fp8_rowwise_cols_t_<ELEM, IN_BF16, NT>(st, codes, s, R);
  } else {
    for (alto_idx k0 = st.nk; k0 > 0; k0 -= U) {
      alto_u32 w[U][4];
#pragma unroll
      for (int u = 0; u < U; u++)
        if (k0 - 1 - u >= 0)
          st.load(k0 - 1 - u, w[u]);
#pragma unroll
      for (int u = 0; u < U; u++) {
        if (k0 - 1 - u < 0)
          continue;
        alto_u32 cw[V / 4];
        alto_chunk_codes_<ELEM, IN_BF16>(w[u], s, cw);
        alto_u8 *o = codes + st.elem(k0 - 1 - u);
        if (st.vec && st.n == V) {
          if constexpr (V == 8)
            *(uint2 *)o = uint2{cw[0], cw[1]};
          else
            *(alto_u32 *)o = cw[0];
        } else {
#pragma unroll
          for (int j = 0; j < V; j++)
            if (j < st.n)
              o[j] = (alto_u8)(cw[j / 4] >> (8 * (j % 4)));
        }
      }
    }
  }
}

#endif
