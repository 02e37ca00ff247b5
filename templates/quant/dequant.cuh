// Dequantization of every scheme back to bf16 or fp32: y = canon(decode(code) * k), k the element's
// block constant (MX 2^(s-127), NVFP4 e4m3(inner) * outer, blockwise FP8 d), or, for rowwise /
// tensorwise FP8, canon(decode(code) / scale). Layouts as quant_rows.cuh / quant_cols.cuh.
//
// KIND: ALTO_DQ_MX, ALTO_DQ_NVFP4, ALTO_DQ_FP8_BLOCK (scale per BR x BC block),
//       ALTO_DQ_FP8_SCALED (rowwise / tensorwise: scale index from SCALE_MODE)
//
// When cols % 16 == 0 (compiler/gen.c's grid makes the same choice) a thread owns 16 consecutive
// elements of a row, or of two rows for FP4 codes packed along the rows (one 16-byte load of both
// rows' codes): codes arrive in one 8- or 16-byte load, the block constants once per thread (blocks
// along the row) or per column (column blocks, from 16 consecutive scales), the E2M1 values come
// from a byte-permute table (alto_e2m1x8_bf16_), FP8 values from the hardware cast (sm_89+), and
// the outputs leave in 16-byte stores. Otherwise one thread per element (the scalar path).
#ifndef ALTO_DEQUANT_CUH
#define ALTO_DEQUANT_CUH

#include "quant/quant_codes.cuh"

enum { ALTO_DQ_MX = 0, ALTO_DQ_NVFP4 = 1, ALTO_DQ_FP8_BLOCK = 2, ALTO_DQ_FP8_SCALED = 3 };
enum { ALTO_DQS_TENSOR = 0, ALTO_DQS_ROW = 1, ALTO_DQS_COL = 2 };

// The element's value before canonicalization: decode(code) * k, or decode(code) / k (scaled FP8).
template <int KIND>
__device__ __forceinline__ float alto_dq_apply_(float v, float k) {
  return KIND == ALTO_DQ_FP8_SCALED ? ALTO_FDIV(v, k) : ALTO_FMUL(v, k);
}

// The block constant k of a scale (u8 bytes: E8M0 / E4M3; fp32 bits otherwise).
template <int KIND>
__device__ __forceinline__ float alto_dq_k_(alto_u32 s, float outer) {
  if (KIND == ALTO_DQ_MX)
    return alto_e8m0_to_f32((alto_u8)s);
  if (KIND == ALTO_DQ_NVFP4)
    return ALTO_FMUL(alto_e4m3_to_f32((alto_u8)s), outer);
  return alto_f32_from_bits(s);
}

// ---- the scalar path: one thread per element ---------------------------------------------------
template <int KIND, int ELEM, int BR, int BC, bool PACK_ROWS, int SCALE_MODE, bool OUT_BF16>
__device__ __forceinline__ void alto_dequant_scalar(const alto_u8 *__restrict__ codes,
                                                    const void *__restrict__ scales,
                                                    const float *__restrict__ outer_ptr,
                                                    void *__restrict__ y, alto_idx rows,
                                                    alto_idx cols, alto_idx R) {
  alto_idx e = (alto_idx)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= rows * cols)
    return;
  alto_idx r = e / cols, c = e % cols;
  alto_u8 code;
  if (ELEM == ALTO_ELEM_E2M1) {
    alto_u8 byte = PACK_ROWS ? codes[(r / 2) * cols + c] : codes[r * (cols / 2) + c / 2];
    code = (alto_u8)(((PACK_ROWS ? r : c) & 1) ? (byte >> 4) : (byte & 0xF));
  } else {
    code = codes[e];
  }
  float v;
  if (KIND == ALTO_DQ_FP8_SCALED) {
    alto_idx si = SCALE_MODE == ALTO_DQS_TENSOR ? 0
                  : SCALE_MODE == ALTO_DQS_ROW  ? r
                                                : (r / R) * cols + c;
    v = alto_fp8_tw_decode(code, ((const float *)scales)[si], (alto_elem)ELEM);
  } else {
    alto_idx si = (r / BR) * (cols / BC) + c / BC;
    if (KIND == ALTO_DQ_MX)
      v = alto_mx_decode(code, ((const alto_u8 *)scales)[si], (alto_elem)ELEM);
    else if (KIND == ALTO_DQ_NVFP4)
      v = alto_nvfp4_decode(code, ((const alto_u8 *)scales)[si], outer_ptr ? *outer_ptr : 1.0f);
    else
      v = alto_fp8_block_decode(code, ((const float *)scales)[si], (alto_elem)ELEM);
  }
  alto_store1<OUT_BF16>(y, e, v);
}

// ---- element decoding, 8 or 2 at a time ------------------------------------------------------------
// The bf16 bits of 8 E2M1 codes (nibble i of c = element i): out[j] = element 2j (low half), 2j + 1
// (high half); exact (every E2M1 value is a bf16). The magnitudes' two bytes come from byte-permute
// tables indexed by the nibbles (sign bits cleared: a selector's bit 3 would replicate a sign), the
// signs are moved from bits 4i + 3 to bit 15 / 31 of their word by one multiply each (no carry
// reaches those bits).
__device__ __forceinline__ void alto_e2m1x8_bf16_(alto_u32 c, alto_u32 out[4]) {
  // magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6} as bf16: 0x0000 3F00 3F80 3FC0 4000 4040 4080 40C0
  const alto_u32 lo0 = 0xC0800000u, lo1 = 0xC0804000u; // low bytes of codes 0..3, 4..7
  const alto_u32 hi0 = 0x3F3F3F00u, hi1 = 0x40404040u; // high bytes
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const alto_u32 q = h ? c >> 16 : c; // codes of elements 4h .. 4h + 3 in the low 16 bits
    const alto_u32 sel = q & 0x7777u, sg = q & 0x8888u;
    const alto_u32 lo = alto_prmt_(lo0, lo1, sel), hi = alto_prmt_(hi0, hi1, sel);
    // elements 4h, 4h + 1: sign bits 3, 7 -> 15, 31; elements 4h + 2, 4h + 3: bits 11, 15 -> 15, 31
    out[2 * h] = alto_prmt_(lo, hi, 0x5140u) | ((sg * 0x01001000u) & 0x80008000u);
    out[2 * h + 1] = alto_prmt_(lo, hi, 0x7362u) | ((sg * 0x00010010u) & 0x80008000u);
  }
}

// fp32 values of the FP8 codes in bytes 0 and 1 of c (exact: e4m3 / e5m2 -> f16 -> f32 in hardware
// on sm_89+, NaN stays NaN; elsewhere alto_elem_decode).
template <int ELEM>
__device__ __forceinline__ void alto_fp8x2_f32_(alto_u32 c, float &v0, float &v1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  alto_u32 h;
  const unsigned short b = (unsigned short)c;
  if constexpr (ELEM == ALTO_ELEM_E4M3)
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"(b));
  else
    asm("cvt.rn.f16x2.e5m2x2 %0, %1;" : "=r"(h) : "h"(b));
  asm("{\n .reg .f16 l, u;\n mov.b32 {l, u}, %2;\n cvt.f32.f16 %0, l;\n cvt.f32.f16 %1, u;\n}"
      : "=f"(v0), "=f"(v1)
      : "r"(h));
#else
  v0 = alto_elem_decode((alto_elem)ELEM, (alto_u8)(c & 0xFFu));
  v1 = alto_elem_decode((alto_elem)ELEM, (alto_u8)((c >> 8) & 0xFFu));
#endif
}

// Two canonicalized fp32 values as bf16 (alto_f32_to_bf16), lo in the low half: one
// cvt.rn.bf16x2, whose NaN (0x7FFF, the only bf16 NaN it writes) becomes alto_f32_to_bf16's
// 0x7FC0 by a signed 16-bit min (finite and infinite halves are below 0x7FC0 as s16).
__device__ __forceinline__ alto_u32 alto_dq_bf16x2_(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  alto_u32 w;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo));
  asm("min.s16x2 %0, %0, %1;" : "+r"(w) : "r"(0x7FC07FC0u));
  return w;
#else
  return (alto_u32)alto_f32_to_bf16(alto_f32_canon(lo)) |
         ((alto_u32)alto_f32_to_bf16(alto_f32_canon(hi)) << 16);
#endif
}

// 16 values of one row (v, canonicalized here) to y at element e: two (bf16) or four (fp32)
// 16-byte chunks. Directly, a warp's store instruction would cover every second (bf16) or fourth
// (fp32) 16-byte chunk of the warp's span (39-46% of copy bandwidth for fp32 on the H100). When
// the whole warp stores one contiguous span (whole: uniform over the warp, 16 values per lane at
// e = e0 + 16 lane), the chunks go through the warp's stage (C chunks per lane, C = 2 or 4) and
// each store instruction writes 32 consecutive chunks. Chunk j of lane l sits at stage slot
// l C + (j ^ ((l / (8 / C)) % C)): both the writes (lanes C chunks apart) and the reads (32
// consecutive chunks) meet eight distinct bank groups per quarter warp. (CUDA only: HIP stores
// directly.)
template <bool OUT_BF16>
__device__ __forceinline__ void alto_dq_store16_(void *__restrict__ y, alto_idx e, const float *v,
                                                 bool whole, uint4 *stage) {
  constexpr int C = OUT_BF16 ? 2 : 4; // 16-byte chunks per lane
  alto_u32 w[4 * C];
#pragma unroll
  for (int i = 0; i < 4 * C; i++)
    w[i] = OUT_BF16 ? alto_dq_bf16x2_(v[2 * i], v[2 * i + 1]) : alto_f32_bits(alto_f32_canon(v[i]));
  uint4 *p = (uint4 *)((alto_u8 *)y + e * (OUT_BF16 ? 2 : 4));
  if (!whole) {
#pragma unroll
    for (int j = 0; j < C; j++)
      p[j] = uint4{w[4 * j], w[4 * j + 1], w[4 * j + 2], w[4 * j + 3]};
    return;
  }
  const int l = threadIdx.x % ALTO_WARP;
#pragma unroll
  for (int j = 0; j < C; j++)
    stage[l * C + (j ^ ((l / (8 / C)) % C))] =
        uint4{w[4 * j], w[4 * j + 1], w[4 * j + 2], w[4 * j + 3]};
  ALTO_SYNCWARP();
  p -= l * C; // the warp's first chunk
#pragma unroll
  for (int i = 0; i < C; i++) {
    const int q = i * ALTO_WARP + l, t = q / C; // chunk q: lane t's chunk q % C
    p[q] = stage[t * C + ((q % C) ^ ((t / (8 / C)) % C))];
  }
  ALTO_SYNCWARP(); // (the stage is rewritten by the next row)
}

// ---- the vector path ----------------------------------------------------------------------------------
// Grid (ceil(cols / (16 NT)), min(row groups, 65535)); a row group is one row, or two for FP4 codes
// packed along the rows; CTAs step over the row groups by gridDim.y.
// SCALES_T: blockwise FP8 1xBC scales stored MN-major, [cols / BC, rows] (quant_rows.cuh).
template <int KIND, int ELEM, int BR, int BC, bool PACK_ROWS, int SCALE_MODE, bool OUT_BF16, int NT,
          bool SCALES_T = false>
__device__ __forceinline__ void alto_dequant_vec(const alto_u8 *__restrict__ codes,
                                                 const void *__restrict__ scales,
                                                 const float *__restrict__ outer_ptr,
                                                 void *__restrict__ y, alto_idx rows, alto_idx cols,
                                                 alto_idx R) {
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  constexpr bool TWO = FP4 && PACK_ROWS; // two rows per thread
  constexpr bool SCALED = KIND == ALTO_DQ_FP8_SCALED;
  // one constant per thread (blocks along the row, or the tensor / the row) or one per column
  constexpr bool PER_COL = SCALED ? SCALE_MODE == ALTO_DQS_COL : BC == 1;
  constexpr bool F32_SCALES = KIND == ALTO_DQ_FP8_BLOCK || SCALED;
  const alto_idx c = ((alto_idx)blockIdx.x * NT + threadIdx.x) * 16;
  // the warp's store stage (alto_dq_store16_), used when its 32 lanes' columns all exist
  __shared__ uint4 s_stage[NT / ALTO_WARP][ALTO_WARP * (OUT_BF16 ? 2 : 4)];
  const bool whole =
      ALTO_HAS_SYNCWARP && c - (alto_idx)(threadIdx.x % ALTO_WARP) * 16 + ALTO_WARP * 16 <= cols;
  if (c >= cols)
    return;
  const float outer = (KIND == ALTO_DQ_NVFP4 && outer_ptr) ? *outer_ptr : 1.0f;
  const alto_idx ngroups = TWO ? rows / 2 : rows;
  for (alto_idx g = blockIdx.y; g < ngroups; g += gridDim.y) {
    const alto_idx r = TWO ? 2 * g : g; // first row
    // the codes: element j of row r + h in code[h][j]
    alto_u32 cw[4]; // raw code words
    if constexpr (FP4 && !PACK_ROWS) {
      const uint2 u = *(const uint2 *)(codes + r * (cols / 2) + c / 2);
      cw[0] = u.x, cw[1] = u.y, cw[2] = cw[3] = 0;
    } else {
      const uint4 u = *(const uint4 *)(codes + (TWO ? g : r) * cols + c);
      cw[0] = u.x, cw[1] = u.y, cw[2] = u.z, cw[3] = u.w;
    }
    // the block constants
    float k[PER_COL ? 16 : 1];
    if constexpr (PER_COL) {
      const alto_idx si = SCALED ? (r / R) * cols + c : (r / BR) * cols + c;
      if constexpr (F32_SCALES) {
#pragma unroll
        for (int q = 0; q < 4; q++) {
          const uint4 u = ((const uint4 *)((const float *)scales + si))[q];
          k[4 * q] = alto_f32_from_bits(u.x), k[4 * q + 1] = alto_f32_from_bits(u.y);
          k[4 * q + 2] = alto_f32_from_bits(u.z), k[4 * q + 3] = alto_f32_from_bits(u.w);
        }
      } else {
        const uint4 u = *(const uint4 *)((const alto_u8 *)scales + si);
        const alto_u32 sw[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int j = 0; j < 16; j++)
          k[j] = alto_dq_k_<KIND>((sw[j / 4] >> (8 * (j % 4))) & 0xFFu, outer);
      }
    } else {
      const alto_idx si = SCALED     ? (SCALE_MODE == ALTO_DQS_TENSOR ? 0 : r)
                          : SCALES_T ? (c / BC) * rows + r
                                     : (r / BR) * (cols / BC) + c / BC;
      k[0] = alto_dq_k_<KIND>(F32_SCALES ? ((const alto_u32 *)scales)[si]
                                         : (alto_u32)((const alto_u8 *)scales)[si],
                              outer);
    }
    // the values, row by row
#pragma unroll
    for (int h = 0; h < (TWO ? 2 : 1); h++) {
      float v[16];
      if constexpr (FP4) {
        alto_u32 c8[2]; // nibble i of c8[q] = element 8q + i of this row
        if constexpr (TWO) { // byte j of cw: column j, row r (low nibble), r + 1 (high nibble)
#pragma unroll
          for (int q = 0; q < 2; q++) {
            const alto_u32 a = cw[2 * q], b = cw[2 * q + 1];
            // the nibbles of one row: (x >> 4h) & 0x0F0F0F0F spread bytes; pack two words' worth
            const alto_u32 na = (a >> (4 * h)) & 0x0F0F0F0Fu, nb = (b >> (4 * h)) & 0x0F0F0F0Fu;
            c8[q] = alto_prmt_(na | (na >> 4), nb | (nb >> 4), 0x6420u);
          }
        } else {
          c8[0] = cw[0], c8[1] = cw[1];
        }
#pragma unroll
        for (int q = 0; q < 2; q++) {
          alto_u32 b[4];
          alto_e2m1x8_bf16_(c8[q], b);
#pragma unroll
          for (int i = 0; i < 4; i++) {
            v[8 * q + 2 * i] = alto_f32_from_bits(b[i] << 16);
            v[8 * q + 2 * i + 1] = alto_f32_from_bits(b[i] & 0xFFFF0000u);
          }
        }
      } else {
#pragma unroll
        for (int i = 0; i < 8; i++)
          alto_fp8x2_f32_<ELEM>(cw[i / 2] >> (16 * (i % 2)), v[2 * i], v[2 * i + 1]);
      }
#pragma unroll
      for (int j = 0; j < 16; j++)
        v[j] = alto_dq_apply_<KIND>(v[j], k[PER_COL ? j : 0]);
      alto_dq_store16_<OUT_BF16>(y, (r + h) * cols + c, v, whole,
                                 s_stage[threadIdx.x / ALTO_WARP]);
    }
  }
}

template <int KIND, int ELEM, int BR, int BC, bool PACK_ROWS, int SCALE_MODE, bool OUT_BF16, int NT,
          bool SCALES_T = false>
__device__ __forceinline__ void alto_dequant(const alto_u8 *__restrict__ codes,
                                             const void *__restrict__ scales,
                                             const float *__restrict__ outer_ptr,
                                             void *__restrict__ y, alto_idx rows, alto_idx cols,
                                             alto_idx R) {
  static_assert(!SCALES_T || (KIND == ALTO_DQ_FP8_BLOCK && BR == 1), "MN-major 1xB fp32 scales");
  if (SCALES_T || cols % 16 == 0) // (1x128 blocks: cols % 128 == 0)
    alto_dequant_vec<KIND, ELEM, BR, BC, PACK_ROWS, SCALE_MODE, OUT_BF16, NT, SCALES_T>(
        codes, scales, outer_ptr, y, rows, cols, R);
  else
    alto_dequant_scalar<KIND, ELEM, BR, BC, PACK_ROWS, SCALE_MODE, OUT_BF16>(codes, scales,
                                                                             outer_ptr, y, rows,
                                                                             cols, R);
}

#endif
