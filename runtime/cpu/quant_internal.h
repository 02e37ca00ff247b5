/* Internal interfaces between the CPU quantizer files (not part of the public contract).
 *
 * quant.c owns validation, layouts and allocation, and dispatches per scheme:
 *   MX (mxfp4, mxfp8_*) and NVFP4 -> quant_mx.c;  fp8_block / rowwise / tensorwise -> quant_fp8.c.
 * Every body here receives a spec and view already checked by alto_quant_layout_of. */
#ifndef ALTO_RUNTIME_CPU_QUANT_INTERNAL_H
#define ALTO_RUNTIME_CPU_QUANT_INTERNAL_H

#include "runtime/cpu/quant.h"

/* fp8_block, fp8_rowwise, fp8_tensorwise (quant_fp8.c). out->layout is filled and out->codes /
 * out->scales are allocated (zeroed) by the caller. */
alto_status alto_cpu_quantize_fp8_(const alto_quant_spec *spec, const alto_tensor_view *x,
                                   alto_quantized *out);
alto_status alto_cpu_dequantize_fp8_(const alto_quant_spec *spec, const alto_quantized *q,
                                     alto_elem out_dtype, void *y);

/* mxfp4, mxfp8_e4m3, mxfp8_e5m2, nvfp4 (quant_mx.c); same conventions as above. */
alto_status alto_cpu_quantize_mx_(const alto_quant_spec *spec, const alto_tensor_view *x,
                                  alto_quantized *out);
alto_status alto_cpu_dequantize_mx_(const alto_quant_spec *spec, const alto_quantized *q,
                                    alto_elem out_dtype, void *y);

/* True for the schemes whose elements are E2M1 (two per byte). */
static inline bool alto_quant_is_e2m1_(alto_scheme s) {
  return s == ALTO_SCHEME_MXFP4 || s == ALTO_SCHEME_NVFP4;
}

/* Index of the scale entry of element (e, r, c) under layout l (every scheme but tensorwise). */
static inline int64_t alto_quant_scale_index_(const alto_quant_layout *l, int64_t e, int64_t r,
                                              int64_t c) {
  int64_t br = l->block_r, bc = l->block_c;
  return (e * l->scale_dims[1] + r / br) * l->scale_dims[2] + c / bc;
}

#endif
