// Dequantization of every scheme back to bf16 or fp32: one thread per element (speed is secondary
// here; the GEMMs consume codes directly). Layouts as templates/quant/quant_rows.cuh / quant_tile.cuh.
//
// KIND: ALTO_DQ_MX, ALTO_DQ_NVFP4, ALTO_DQ_FP8_BLOCK (scale per BR x BC block),
//       ALTO_DQ_FP8_SCALED (rowwise / tensorwise: scale index from SCALE_MODE)
#ifndef ALTO_DEQUANT_CUH
#define ALTO_DEQUANT_CUH

#include "common/alto_device.h"

enum { ALTO_DQ_MX = 0, ALTO_DQ_NVFP4 = 1, ALTO_DQ_FP8_BLOCK = 2, ALTO_DQ_FP8_SCALED = 3 };
enum { ALTO_DQS_TENSOR = 0, ALTO_DQS_ROW = 1, ALTO_DQS_COL = 2 };

template <int KIND, int ELEM, int BR, int BC, bool PACK_ROWS, int SCALE_MODE, bool OUT_BF16>
__device__ __forceinline__ void alto_dequant(const alto_u8 *__restrict__ codes,
                                             const void *__restrict__ scales,
                                             const float *__restrict__ outer_ptr,
                                             void *__restrict__ y, alto_idx rows, alto_idx cols,
                                             alto_idx R) {
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

#endif
