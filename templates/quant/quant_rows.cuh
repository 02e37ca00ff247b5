// Quantization along the last axis with 1-D blocks of B consecutive elements ("1xB along K"):
// MX (E8M0 scales), NVFP4 (E4M3 inner scale, fp32 outer), blockwise FP8 (fp32 scales).
//
// x      [rows, cols] bf16 or fp32 (a 3-D [E, R, C] tensor is [E*R, C]); cols % B == 0
// codes  FP4: [rows, cols/2], two elements per byte, even element in the low nibble;
//        FP8: [rows, cols]
// scales [rows, cols/B]: E8M0 / E4M3 bytes, or fp32 for blockwise FP8
// outer  NVFP4 two-level: one fp32 (the tensor's outer scale), or nullptr for 1
//
// One thread owns 16 consecutive elements (two 16-byte loads of bf16, four of fp32) as raw words;
// the G = B/16 threads of a block are consecutive lanes and combine their amax with shuffles. The
// block's constant (alto_block_enc) is computed once, the elements are encoded in pairs without a
// branch (quant_codes.cuh: the hardware FP8 cast, the E2M1 magic add), a NaN block's codes are
// masked to 0, and the codes leave in one 16-byte (FP8) or 8-byte (FP4) store. Bits equal the CPU
// reference (runtime/cpu/quant_mx.c, quant_fp8.c).
#ifndef ALTO_QUANT_ROWS_CUH
#define ALTO_QUANT_ROWS_CUH

#include "quant/mx_e4m3.cuh"

// Codes of 8 consecutive values of one block (w: two raw chunks of bf16, or one of fp32 per 4
// values: v(j) = alto_raw_val_): FP4 -> out[0] (element j in nibble j); FP8 -> out[0], out[1]
// (element j in byte j). u: the values' random words (SR).
template <int KIND, int ELEM, bool SR, bool BF16, int DIV>
__device__ __forceinline__ void alto_encode8_(const alto_u32 (*w)[4], int j0,
                                              const alto_block_enc &b, const alto_u32 *u,
                                              alto_u32 out[2]) {
  constexpr int V = BF16 ? 8 : 4; // values per chunk
  if constexpr (ELEM == ALTO_ELEM_E2M1 && BF16) { // on the FMA pipe (quant_codes.cuh)
    alto_u32 m[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
      const float h = alto_block_h_<KIND, DIV>(alto_raw_val_<true>(w[j0 / 8], i), b);
      m[i] = SR ? alto_e2m1_sr_mag_h_(h, u[i]) : alto_e2m1_mag_h_(h);
    }
    out[0] = alto_e2m1_pack8_bf16_(m, w[j0 / 8]);
    out[1] = 0;
  } else {
    alto_u32 c[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int j = j0 + 2 * i;
      c[i] = alto_codes2_<KIND, ELEM, SR, DIV>(alto_raw_val_<BF16>(w[j / V], j % V),
                                          alto_raw_val_<BF16>(w[j / V], j % V + 1), b, u[2 * i],
                                          u[2 * i + 1]);
    }
    if (ELEM == ALTO_ELEM_E2M1) {
      out[0] = c[0] | (c[1] << 8) | (c[2] << 16) | (c[3] << 24);
    } else {
      out[0] = c[0] | (c[1] << 16);
      out[1] = c[2] | (c[3] << 16);
    }
  }
}

// The V (16 or 32) consecutive elements e0 .. e0 + V - 1 of one thread, as raw words w (V / 8
// 16-byte chunks of bf16, V / 4 of fp32): the block amax (the G = B / V lanes of a block are
// consecutive lanes: shuffles, in which every lane of the warp takes part), the block's scale
// (stored by the first lane of the block: first), the codes (8- to 32-byte stores). Inactive lanes
// (past the tensor) only shuffle.
// FORM, what is written:
// - ALTO_ROWS_FORM_CODES: the codes and scales above.
// - ALTO_ROWS_FORM_SCALES_T (blockwise FP8 of a 2-D x): the fp32 scales MN-major, [cols / B, rows]
//   (the layout cuBLASLt's and alto's FP8 GEMMs read for a 1x128 operand), at (e0 % cols) / B *
//   rows + e0 / cols.
// - ALTO_ROWS_FORM_MX_TILE (MXFP4 1x32 of a 2-D x, cols % 128 == 0): the MXFP4 quantization's
//   E4M3 form (mx_e4m3.cuh), the FP8 GEMM's operand: codes [rows, cols] E4M3, scales fp32
//   MN-major [cols / 128, rows rounded up to 4]; the bits gemm/mx_to_fp8.cuh makes of the MXFP4
//   codes and scales. The eight lanes of a 128-block reduce its statistics with shuffles, so in
//   this form inactive lanes take part to the end (whole 128-blocks are active or not).
enum { ALTO_ROWS_FORM_CODES = 0, ALTO_ROWS_FORM_SCALES_T = 1, ALTO_ROWS_FORM_MX_TILE = 2 };

// FORM ALTO_ROWS_FORM_MX_TILE of one lane's 16 elements (w: their E2M1 codes, two words; e: their
// block's E8M0 byte).
__device__ __forceinline__ void alto_rows_mx_tile_(const alto_u32 w[2], int e, bool active,
                                                   alto_u8 *__restrict__ codes,
                                                   float *__restrict__ scales, alto_idx e0,
                                                   alto_idx rows, alto_idx cols) {
  // a 1x32 block is two lanes, its 128-block eight
  const int nz = ((w[0] | w[1]) & 0x77777777u) != 0;
  int st[4];
  alto_mx_e4m3_stats_(st, active, nz | ALTO_SHFL_XOR(nz, 1, ALTO_WARP), e);
#pragma unroll
  for (int q = 0; q < 4; q++)
#pragma unroll
    for (int m = 2; m < 8; m <<= 1)
      st[q] = max(st[q], ALTO_SHFL_XOR(st[q], m, ALTO_WARP));
  if (!active)
    return;
  if (e0 % 128 == 0)
    scales[(e0 % cols) / 128 * ((rows + 3) / 4 * 4) + e0 / cols] = alto_mx_e4m3_scale_(st);
  alto_u32 lut0, lut1, o[4];
  alto_mx_e4m3_lut_(e, alto_mx_e4m3_emax_(st), lut0, lut1);
  alto_mx_e4m3x8_(w[0], lut0, lut1, o);
  alto_mx_e4m3x8_(w[1], lut0, lut1, o + 2);
  *(uint4 *)(codes + e0) = uint4{o[0], o[1], o[2], o[3]};
}

template <int KIND, int ELEM, int B, bool IN_BF16, int RULE, bool SR, int V,
          int FORM = ALTO_ROWS_FORM_CODES>
__device__ __forceinline__ void
alto_rows_encode_(const alto_u32 (*w)[4], bool active, bool first, alto_u8 *__restrict__ codes,
                  void *__restrict__ scales, const float *__restrict__ outer_ptr, alto_idx e0,
                  alto_u64 seed, alto_u64 stream, alto_idx rows = 0, alto_idx cols = 0) {
  constexpr int NCH = V / (IN_BF16 ? 8 : 4); // 16-byte chunks per thread
  constexpr int G = B / V;                   // lanes per block
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  constexpr bool TILE = FORM == ALTO_ROWS_FORM_MX_TILE;
  static_assert((V == 16 || V == 32) && B % V == 0, "16 or 32 elements of one block");
  static_assert(!TILE || (KIND == ALTO_QK_MX && FP4 && B == 32 && V == 16), "the MXFP4 1x32 form");
  static_assert(FORM != ALTO_ROWS_FORM_SCALES_T || KIND == ALTO_QK_FP8_BLOCK, "fp32 scales");
  float amax = alto_f32_from_bits(alto_raw_amax_bits_<IN_BF16, NCH>(w));
  // Groups of G lanes are aligned (blocks start at multiples of B), so inactive tail lanes only
  // ever meet each other.
#pragma unroll
  for (int m = 1; m < G; m <<= 1)
    amax = alto_amax_update(amax, ALTO_SHFL_XOR(amax, m, ALTO_WARP));
  if (!active && !TILE)
    return;
  const float outer = (KIND == ALTO_QK_NVFP4 && outer_ptr) ? *outer_ptr : 1.0f;
  const alto_u32 s = alto_block_scale<KIND, ELEM, RULE>(amax, outer);
  alto_u32 u[V];
#pragma unroll
  for (int i = 0; i < V; i++)
    u[i] = 0;
  if (SR) {
#pragma unroll
    for (int q = 0; q < V / 4; q++) {
      alto_philox4 r = alto_philox_words4(seed, stream, e0 + 4 * q);
#pragma unroll
      for (int i = 0; i < 4; i++)
        u[4 * q + i] = r.v[i];
    }
  }
  const alto_block_enc be = alto_block_enc_make<KIND>(s, outer);
  const alto_u32 mask = alto_block_mask_<KIND>(be);
  alto_u32 c[V / 8][2]; // 8 elements each: FP4 one word, FP8 two
  if constexpr (KIND == ALTO_QK_MX && FP4 && !SR && IN_BF16 && ALTO_QUANT_BF16X2) {
    const alto_u32 inv2 = alto_pow2_bf16x2_(be.k, be.k); // two elements per instruction
#pragma unroll
    for (int h = 0; h < V / 8; h++) {
      alto_u32 b[4]; // byte i: elements 8h + 2i, 8h + 2i + 1
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const alto_u32 t = alto_mx_e2m1x2_bf16_(w[h][i], inv2);
        b[i] = alto_bitsel_(0xFu, t, t >> 12);
      }
      c[h][0] = alto_bytes4_(b[0], b[1], b[2], b[3]);
      c[h][1] = 0;
    }
  } else if (KIND == ALTO_QK_MX || be.fast) { // the block's divisions in fp32 (quant_codes.cuh)
#pragma unroll
    for (int h = 0; h < V / 8; h++)
      alto_encode8_<KIND, ELEM, SR, IN_BF16, ALTO_DIV_F32>(w, 8 * h, be, u + 8 * h, c[h]);
  } else if constexpr (KIND != ALTO_QK_MX) {
#pragma unroll
    for (int h = 0; h < V / 8; h++)
      alto_encode8_<KIND, ELEM, SR, IN_BF16, ALTO_DIV_F64>(w, 8 * h, be, u + 8 * h, c[h]);
  }
  if constexpr (TILE) {
    const alto_u32 wc[2] = {c[0][0] & mask, c[1][0] & mask};
    alto_rows_mx_tile_(wc, (int)s, active, codes, (float *)scales, e0, rows, cols);
    return;
  } else if constexpr (FP4) {
    if constexpr (V == 16)
      *(uint2 *)(codes + e0 / 2) = uint2{c[0][0] & mask, c[1][0] & mask};
    else
      *(uint4 *)(codes + e0 / 2) =
          uint4{c[0][0] & mask, c[1][0] & mask, c[2][0] & mask, c[3][0] & mask};
  } else {
#pragma unroll
    for (int h = 0; h < V / 16; h++)
      *(uint4 *)(codes + e0 + 16 * h) = uint4{c[2 * h][0] & mask, c[2 * h][1] & mask,
                                              c[2 * h + 1][0] & mask, c[2 * h + 1][1] & mask};
  }
  if (first) {
    if (FORM == ALTO_ROWS_FORM_SCALES_T)
      ((alto_u32 *)scales)[(e0 % cols) / B * rows + e0 / cols] = s;
    else if (KIND == ALTO_QK_FP8_BLOCK)
      ((alto_u32 *)scales)[e0 / B] = s;
    else
      ((alto_u8 *)scales)[e0 / B] = (alto_u8)s;
  }
}

// PER: elements per thread, 16 or (one lane per block, G = 1) 32: two blocks, both loads issued
// before either is encoded.
template <int KIND, int ELEM, int B, bool IN_BF16, int RULE, bool SR,
          int FORM = ALTO_ROWS_FORM_CODES, int PER = 16>
__device__ __forceinline__ void alto_quant_rows(const void *__restrict__ x,
                                                alto_u8 *__restrict__ codes,
                                                void *__restrict__ scales,
                                                const float *__restrict__ outer_ptr,
                                                alto_idx n_elems, alto_u64 seed, alto_u64 stream,
                                                alto_idx rows = 0, alto_idx cols = 0) {
  constexpr int V = 16;               // elements per encoding step
  constexpr int NCH = IN_BF16 ? 2 : 4; // 16-byte chunks per step
  constexpr int G = B / V;            // lanes per block
  constexpr int NS = PER / V;         // steps per thread
  static_assert(PER == V || (PER == 2 * V && G == 1), "16 elements, or 32 of 16-wide blocks");
  // CTAs in reverse order: after NVFP4's two-level amax pass, which read the tensor's end last, the
  // first CTAs find their rows in L2 (as alto_fp8_tensorwise)
  const alto_idx t = ((alto_idx)gridDim.x - 1 - blockIdx.x) * blockDim.x + threadIdx.x;
  alto_u32 w[NS][NCH][4];
#pragma unroll
  for (int i = 0; i < NS; i++) {
    const alto_idx e0 = t * PER + i * V;
#pragma unroll
    for (int q = 0; q < NCH; q++) {
      uint4 p = e0 < n_elems
                    ? ((const uint4 *)((const unsigned char *)x + e0 * (IN_BF16 ? 2 : 4)))[q]
                    : uint4{0, 0, 0, 0};
      w[i][q][0] = p.x, w[i][q][1] = p.y, w[i][q][2] = p.z, w[i][q][3] = p.w;
    }
  }
#pragma unroll
  for (int i = 0; i < NS; i++) {
    const alto_idx e0 = t * PER + i * V;
    alto_rows_encode_<KIND, ELEM, B, IN_BF16, RULE, SR, V, FORM>(
        w[i], e0 < n_elems, (t & (G - 1)) == 0, codes, scales, outer_ptr, e0, seed, stream, rows,
        cols);
  }
}

#endif
