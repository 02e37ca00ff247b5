/* TEMPORARY: placeholders until runtime/cpu/quant_fp8.c (another engineer's) lands; delete then. */
#include "runtime/cpu/quant_internal.h"

alto_status alto_cpu_quantize_fp8_(const alto_quant_spec *spec, const alto_tensor_view *x,
                                   alto_quantized *out) {
  (void)x;
  (void)out;
  return alto_error(ALTO_ERR_UNSUPPORTED, "%s: the CPU FP8 quantizer is not built yet",
                    alto_scheme_name(spec->scheme));
}

alto_status alto_cpu_dequantize_fp8_(const alto_quant_spec *spec, const alto_quantized *q,
                                     alto_elem out_dtype, void *y) {
  (void)q;
  (void)out_dtype;
  (void)y;
  return alto_error(ALTO_ERR_UNSUPPORTED, "%s: the CPU FP8 dequantizer is not built yet",
                    alto_scheme_name(spec->scheme));
}
