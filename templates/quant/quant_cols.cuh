// Blocks along the rows without an RHT: BR x 1 column blocks ("32x1 along M", the wgrad operands)
// and BR x BR 2-D blocks; MX and NVFP4 (BR = 32 or 16), RNE or stochastic rounding. (The RHT
// variants stage their tiles in shared memory: quant_tile.cuh; blockwise FP8's 128-row blocks:
// quant_tile128.cuh, whose design this follows.)
//
// x      [rows, cols] bf16 or fp32 (3-D [E, R, C] = [E*R, C]); rows % BR == 0 (R % BR == 0 keeps
//        blocks inside one matrix); 2-D blocks: cols % BR == 0
// codes  FP4 packed along the rows (PACK_ROWS): [rows/2, cols], byte = rows 2i (low), 2i+1 (high);
//        FP4 packed along the columns (2-D blocks only): [rows, cols/2]; FP8: [rows, cols]
// scales column blocks [rows/BR, cols]; 2-D blocks [rows/BR, cols/BR]; E8M0 / E4M3 bytes
//
// A CTA of NT threads quantizes a tile of BR rows x TW columns. A thread owns V adjacent columns,
// 16 bytes of a row (V = 8 bf16 or 4 fp32), and P = 8 rows, held in 32 registers as raw bits: x is
// read once, all 8 loads in flight before the first use. RG = BR / P row groups cover the tile's
// rows, LPR = NT / RG threads its columns (TW = LPR * V). Then
//   1. each thread's amax per column over its P rows, to shared memory;
//   2. each thread combines the RG partials of its columns (2-D blocks: and the GL = BR / V lanes
//      of its block, by shuffles) and derives the scales (the first row group stores them);
//   3. each thread encodes its rows from registers (quant_codes.cuh: pairs, no branch, NaN blocks
//      masked to 0) and stores V code bytes per row (FP4 packed along the rows: per row pair).
// Consecutive threads read consecutive 16-byte chunks of a row and write consecutive 8- or 4-byte
// chunks of codes. The generic tile kernel (quant_tile.cuh) staged the tile in shared memory, read
// it back per element and wrote codes byte by byte (53-63% of copy bandwidth on the H100).
//
// ADAMW (2-D blocks of fp32 x: the MX / NVFP4 weights, quantized by the optimizer step): x is the
// parameter, read once, updated in place with ops/optim.cuh's element step from opt_grad and the
// moments opt_m, opt_v (updated too) and the step's scalars opt_k; the updated values are
// quantized: the bits of the AdamW kernel followed by this kernel on its output (as
// quant_tile128.cuh's ADAMW).
//
// Bits equal the CPU reference (runtime/cpu/quant_mx.c): alto_amax_update's order-free integer max,
// the same scale and element functions (quant_codes.cuh), the same element indices for SR.
#ifndef ALTO_QUANT_COLS_CUH
#define ALTO_QUANT_COLS_CUH

#include "common/alto_qargs.h"
#include "ops/optim.cuh"
#include "quant/quant_codes.cuh"

// Step 3 of the tile kernels (also quant_rht.cuh's): the codes of one thread's P rows x V columns
// (16 bytes of each row, raw words w; row gr0 + p, columns c .. c + V - 1, of which n exist), given
// each column's block state be[] and NaN mask (byte j % 4 of mask[j / 4]), stored V code bytes per
// row (FP4 packed along the rows: per row pair; FP4 packed along the columns, 2-D blocks only:
// V / 2 bytes per row). full: all V columns exist and rows are 16-byte aligned (wide stores).
// DIV: how the NVFP4 / FP8 divisions run (quant_codes.cuh's alto_block_q_), checked by the caller.
template <int KIND, int ELEM, int P, bool IN_BF16, bool SR, bool PACK_ROWS, int DIV>
__device__ __forceinline__ void alto_cols_codes_(const alto_u32 (*w)[4], const alto_block_enc *be,
                                                 const alto_u32 *mask, alto_u8 *__restrict__ codes,
                                                 alto_idx r0, alto_idx c, alto_idx cols, int n,
                                                 bool full, alto_u64 seed, alto_u64 stream) {
  constexpr int V = IN_BF16 ? 8 : 4;
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  // MX E2M1 of bf16 inputs: two elements per instruction (quant_codes.cuh), 2^(127-s) per column
  constexpr bool X2 = KIND == ALTO_QK_MX && FP4 && !SR && IN_BF16 && ALTO_QUANT_BF16X2;
  // other E2M1 of bf16 inputs (NVFP4, SR): on the FMA pipe from h = q / 2 (quant_codes.cuh)
  constexpr bool FMA4 = FP4 && IN_BF16 && !X2;
  alto_u32 inv2[V / 2];
#pragma unroll
  for (int i = 0; i < V / 2; i++)
    inv2[i] = X2 ? alto_pow2_bf16x2_(be[2 * i].k, be[2 * i + 1].k) : 0;
  constexpr int RS = (FP4 && PACK_ROWS) ? 2 : 1; // rows per code row
#pragma unroll
  for (int p = 0; p < P; p += RS) {
    const alto_idx gr = r0 + p;
    alto_u32 u[RS][V]; // the elements' random words (SR): one Philox call per 4 columns
#pragma unroll
    for (int q = 0; q < RS; q++)
#pragma unroll
      for (int j = 0; j < V; j += 4) {
        if (SR) {
          const alto_philox4 r = alto_philox_words4(seed, stream, (gr + q) * cols + c + j);
          u[q][j] = r.v[0], u[q][j + 1] = r.v[1], u[q][j + 2] = r.v[2], u[q][j + 3] = r.v[3];
        } else {
          u[q][j] = u[q][j + 1] = u[q][j + 2] = u[q][j + 3] = 0;
        }
      }
    if constexpr (FP4 && !PACK_ROWS && FMA4) { // 2-D blocks: one block per thread, always full
      alto_u32 m[8];
#pragma unroll
      for (int i = 0; i < 8; i++) {
        const float h = alto_block_h_<KIND, DIV>(alto_raw_val_<true>(w[p], i), be[i]);
        m[i] = SR ? alto_e2m1_sr_mag_h_(h, u[0][i]) : alto_e2m1_mag_h_(h);
      }
      *(alto_u32 *)(codes + gr * (cols / 2) + c / 2) = alto_e2m1_pack8_bf16_(m, w[p]) & mask[0];
    } else if constexpr (FP4 && !PACK_ROWS) {
      alto_u32 b[V / 2]; // byte i: columns 2i, 2i + 1 of row p
#pragma unroll
      for (int i = 0; i < V / 2; i++) {
        if (X2) {
          const alto_u32 t = alto_mx_e2m1x2_bf16_(w[p][i], inv2[i]);
          b[i] = alto_bitsel_(0xFu, t, t >> 12);
        } else {
          b[i] = alto_codes2_<KIND, ELEM, SR, DIV>(alto_raw_val_<IN_BF16>(w[p], 2 * i),
                                              alto_raw_val_<IN_BF16>(w[p], 2 * i + 1), be[2 * i],
                                              u[0][2 * i], u[0][2 * i + 1]);
        }
      }
      alto_u8 *o = codes + gr * (cols / 2) + c / 2;
      if constexpr (V == 8)
        *(alto_u32 *)o = alto_bytes4_(b[0], b[1], b[2], b[3]) & mask[0];
      else
        *(alto_u16 *)o = (alto_u16)((b[0] & 0xFFu) | (b[1] << 8)) & (alto_u16)mask[0];
    } else {
      alto_u32 cw[V / 4]; // V bytes, byte j = column j
#pragma unroll
      for (int j = 0; j < V; j += 4) {
        if (FP4 && X2) { // rows p, p + 1 of columns j .. j + 3
          const alto_u32 t0 = alto_mx_e2m1x2_bf16_(w[p][j / 2], inv2[j / 2]);
          const alto_u32 t1 = alto_mx_e2m1x2_bf16_(w[p + 1][j / 2], inv2[j / 2]);
          const alto_u32 t2 = alto_mx_e2m1x2_bf16_(w[p][j / 2 + 1], inv2[j / 2 + 1]);
          const alto_u32 t3 = alto_mx_e2m1x2_bf16_(w[p + 1][j / 2 + 1], inv2[j / 2 + 1]);
          // bytes 0 and 2 of each: column 2i (row p low nibble, row p + 1 high), column 2i + 1
          const alto_u32 a = alto_bitsel_(0x000F000Fu, t0, t1 << 4);
          const alto_u32 b = alto_bitsel_(0x000F000Fu, t2, t3 << 4);
          cw[j / 4] = alto_prmt_(a, b, 0x6420u);
        } else if constexpr (FMA4) { // rows p, p + 1 of columns j .. j + 3
          alto_u32 m0[4], m1[4];
#pragma unroll
          for (int i = 0; i < 4; i++) {
            const float h0 = alto_block_h_<KIND, DIV>(alto_raw_val_<true>(w[p], j + i), be[j + i]),
                        h1 = alto_block_h_<KIND, DIV>(alto_raw_val_<true>(w[p + 1], j + i), be[j + i]);
            m0[i] = SR ? alto_e2m1_sr_mag_h_(h0, u[0][j + i]) : alto_e2m1_mag_h_(h0);
            m1[i] = SR ? alto_e2m1_sr_mag_h_(h1, u[1][j + i]) : alto_e2m1_mag_h_(h1);
          }
          cw[j / 4] = alto_e2m1_pack4x2_bf16_(m0, m1, w[p][j / 2], w[p][j / 2 + 1], w[p + 1][j / 2],
                                              w[p + 1][j / 2 + 1]);
        } else {
          alto_u32 b2[2];
#pragma unroll
          for (int h = 0; h < 2; h++) {
            const int jj = j + 2 * h;
            if (FP4) // column jj: rows p, p + 1; column jj + 1: rows p, p + 1
              b2[h] = alto_codes2_<KIND, ELEM, SR, DIV>(alto_raw_val_<IN_BF16>(w[p], jj),
                                                   alto_raw_val_<IN_BF16>(w[p + RS - 1], jj), be[jj],
                                                   u[0][jj], u[RS - 1][jj]) |
                      (alto_codes2_<KIND, ELEM, SR, DIV>(alto_raw_val_<IN_BF16>(w[p], jj + 1),
                                                    alto_raw_val_<IN_BF16>(w[p + RS - 1], jj + 1),
                                                    be[jj + 1], u[0][jj + 1], u[RS - 1][jj + 1])
                       << 8);
            else // FP8: one byte per column (k differs between the columns of column blocks)
              b2[h] = alto_fp8x2_<ELEM>(
                  alto_block_q_<KIND, DIV>(alto_raw_val_<IN_BF16>(w[p], jj), be[jj]),
                  alto_block_q_<KIND, DIV>(alto_raw_val_<IN_BF16>(w[p], jj + 1), be[jj + 1]));
          }
          cw[j / 4] = b2[0] | (b2[1] << 16);
        }
        cw[j / 4] &= mask[j / 4];
      }
      alto_u8 *o = codes + (FP4 ? gr / 2 : gr) * cols + c;
      if (full) {
        if constexpr (V == 8)
          *(uint2 *)o = uint2{cw[0], cw[1]};
        else
          *(alto_u32 *)o = cw[0];
      } else {
#pragma unroll
        for (int j = 0; j < V; j++)
          if (j < n)
            o[j] = (alto_u8)(cw[j / 4] >> (8 * (j % 4)));
      }
    }
  }
}

template <int KIND, int ELEM, int BR, int BC, bool IN_BF16, int RULE, bool SR, bool PACK_ROWS,
          int NT, bool ADAMW = false>
__device__ __forceinline__ void
alto_quant_cols(const void *__restrict__ x, alto_u8 *__restrict__ codes, void *__restrict__ scales,
                const float *__restrict__ outer_ptr, alto_idx cols, alto_u64 seed, alto_u64 stream,
                const float *__restrict__ opt_grad = nullptr, float *__restrict__ opt_m = nullptr,
                float *__restrict__ opt_v = nullptr, alto_adamw_k opt_k = alto_adamw_k{}) {
  constexpr int V = IN_BF16 ? 8 : 4; // columns per thread: 16 bytes of a row
  constexpr int P = 8;               // rows per thread
  constexpr int RG = BR / P;         // row groups
  constexpr int LPR = NT / RG;       // threads across the tile
  constexpr int TW = LPR * V;        // tile columns
  constexpr int GL = BC > 1 ? BC / V : 1; // lanes sharing a 2-D block
  constexpr bool FP4 = ELEM == ALTO_ELEM_E2M1;
  static_assert(BC == 1 || BC == BR, "column or square blocks");
  static_assert(BR % P == 0 && NT % RG == 0 && LPR % ALTO_WARP == 0, "whole warps per row group");
  static_assert(BC == 1 || BC % V == 0, "a thread's columns lie in one 2-D block");
  static_assert(!FP4 || BC > 1 || PACK_ROWS, "FP4 column blocks pack along the rows");
  static_assert(!SR || V % 4 == 0, "SR: one Philox call per 4 columns");
  static_assert(!ADAMW || (BC > 1 && !IN_BF16), "AdamW: 2-D blocks of fp32");
  __shared__ alto_u32 s_part[RG][TW]; // per-column amax bits of each row group

  const int tc = threadIdx.x % LPR, g = threadIdx.x / LPR; // column group, row group
  const alto_idx c = (alto_idx)blockIdx.x * TW + tc * V;  // first column of this thread
  const alto_idx r0 = (alto_idx)blockIdx.y * BR + g * P;  // first row of this thread
  const alto_idx sb = (alto_idx)blockIdx.y;               // block row of the scales
  const int n = cols - c >= V ? V : (cols > c ? (int)(cols - c) : 0); // columns that exist here
  // 16-byte accesses: all V columns exist and rows are 16-byte aligned (2-D blocks: cols % BC == 0,
  // so a thread has all of its columns or none; one with none reads nothing)
  const bool full = n == V && (BC > 1 || cols % V == 0);

  alto_u32 w[P][4]; // rows r0 + p, columns c .. c + V - 1
  if (ADAMW && full) { // the step's new values
#pragma unroll
    for (int p = 0; p < P; p++)
      alto_adamw_elem4((float *)x, opt_grad, opt_m, opt_v, (r0 + p) * cols + c, opt_k.k, w[p]);
  } else if (full) {
#pragma unroll
    for (int p = 0; p < P; p++) {
      uint4 u = *(const uint4 *)((const unsigned char *)x + ((r0 + p) * cols + c) * (IN_BF16 ? 2 : 4));
      w[p][0] = u.x, w[p][1] = u.y, w[p][2] = u.z, w[p][3] = u.w;
    }
  } else { // element loads of the n < V columns that exist; zeros after them (|0| never wins a max)
#pragma unroll
    for (int p = 0; p < P; p++) {
      w[p][0] = w[p][1] = w[p][2] = w[p][3] = 0;
#pragma unroll
      for (int j = 0; j < V; j++) // constant indices keep w[] in registers
        if (j < n) {
          const alto_idx e = (r0 + p) * cols + c + j;
          if (IN_BF16)
            w[p][j / 2] |= (alto_u32)((const alto_u16 *)x)[e] << (16 * (j & 1));
          else
            w[p][j] = ((const alto_u32 *)x)[e];
        }
    }
  }

  // 1. amax bits per column over this thread's rows
  alto_u32 am[V];
  if constexpr (IN_BF16) { // the 16-bit halves: bf16 widens by a shift, which keeps the order
    alto_u32 m[4] = {0, 0, 0, 0};
#pragma unroll
    for (int p = 0; p < P; p++)
#pragma unroll
      for (int i = 0; i < 4; i++)
        m[i] = alto_max_u16x2_(m[i], w[p][i] & 0x7FFF7FFFu);
#pragma unroll
    for (int i = 0; i < 4; i++)
      am[2 * i] = m[i] << 16, am[2 * i + 1] = m[i] & 0xFFFF0000u;
  } else {
#pragma unroll
    for (int j = 0; j < V; j++) {
      am[j] = 0;
#pragma unroll
      for (int p = 0; p < P; p++) {
        const alto_u32 a = w[p][j] & 0x7FFFFFFFu;
        am[j] = a > am[j] ? a : am[j];
      }
    }
  }
#pragma unroll
  for (int j = 0; j < V; j += 4)
    *(uint4 *)&s_part[g][tc * V + j] = uint4{am[j], am[j + 1], am[j + 2], am[j + 3]};
  __syncthreads();

  // 2. block amax and scales: every row group derives the same ones
#pragma unroll
  for (int k = 0; k < RG; k++)
#pragma unroll
    for (int j = 0; j < V; j += 4) {
      const uint4 u = *(const uint4 *)&s_part[k][tc * V + j];
      am[j] = u.x > am[j] ? u.x : am[j];
      am[j + 1] = u.y > am[j + 1] ? u.y : am[j + 1];
      am[j + 2] = u.z > am[j + 2] ? u.z : am[j + 2];
      am[j + 3] = u.w > am[j + 3] ? u.w : am[j + 3];
    }
  const float outer = (KIND == ALTO_QK_NVFP4 && outer_ptr) ? *outer_ptr : 1.0f;
  alto_block_enc be[V]; // the encoding state of each column's block
  alto_u32 mask[V / 4]; // byte j % 4 of word j / 4: 0 for a column whose block is NaN
  if constexpr (BC > 1) {
    float a = alto_f32_from_bits(am[0]);
#pragma unroll
    for (int j = 1; j < V; j++)
      a = alto_amax_update(a, alto_f32_from_bits(am[j]));
#pragma unroll
    for (int m = 1; m < GL; m <<= 1)
      a = alto_amax_update(a, ALTO_SHFL_XOR(a, m, ALTO_WARP));
    const alto_u32 s = alto_block_scale<KIND, ELEM, RULE>(a, outer);
    const alto_block_enc b = alto_block_enc_make<KIND>(s, outer);
#pragma unroll
    for (int j = 0; j < V; j++)
      be[j] = b;
#pragma unroll
    for (int i = 0; i < V / 4; i++)
      mask[i] = alto_block_mask_<KIND>(b);
    if (g == 0 && tc % GL == 0 && n > 0)
      ((alto_u8 *)scales)[sb * (cols / BC) + c / BC] = (alto_u8)s;
  } else {
    alto_u32 s[V];
#pragma unroll
    for (int j = 0; j < V; j++) {
      s[j] = alto_block_scale<KIND, ELEM, RULE>(alto_f32_from_bits(am[j]), outer);
      be[j] = alto_block_enc_make<KIND>(s[j], outer);
      if (j % 4 == 0)
        mask[j / 4] = 0;
      mask[j / 4] |= (alto_block_mask_<KIND>(be[j]) & 0xFFu) << (8 * (j % 4));
    }
    if (g == 0) {
      alto_u8 *o = (alto_u8 *)scales + sb * cols + c;
      if (full) {
        alto_u32 sw[V / 4];
#pragma unroll
        for (int i = 0; i < V / 4; i++)
          sw[i] = s[4 * i] | (s[4 * i + 1] << 8) | (s[4 * i + 2] << 16) | (s[4 * i + 3] << 24);
        if constexpr (V == 8)
          *(uint2 *)o = uint2{sw[0], sw[1]};
        else
          *(alto_u32 *)o = sw[0];
      } else {
#pragma unroll
        for (int j = 0; j < V; j++)
          if (j < n)
            o[j] = (alto_u8)s[j];
      }
    }
  }
  if (n == 0)
    return;

  // 3. codes: the divisions in fp32 when every block of the thread allows it (quant_codes.cuh)
  bool fast = true;
#pragma unroll
  for (int j = 0; j < V; j++)
    fast = fast && be[j].fast;
  if (KIND == ALTO_QK_MX || fast)
    alto_cols_codes_<KIND, ELEM, P, IN_BF16, SR, PACK_ROWS, ALTO_DIV_F32>(w, be, mask, codes, r0, c,
                                                                          cols, n, full, seed, stream);
  else if constexpr (KIND != ALTO_QK_MX) { // fp64 for all (the fast blocks' r was not needed yet)
#pragma unroll
    for (int j = 0; j < V; j++)
      be[j].r = alto_rcp64_(be[j].k);
    alto_cols_codes_<KIND, ELEM, P, IN_BF16, SR, PACK_ROWS, ALTO_DIV_F64>(w, be, mask, codes, r0, c,
                                                                          cols, n, full, seed, stream);
  }
}

#endif
