/* Internal entry points of the CPU reference (runtime/cpu/quant_fp8.c). */
#ifndef ALTO_RUNTIME_CPU_QUANT_INTERNAL_H
#define ALTO_RUNTIME_CPU_QUANT_INTERNAL_H
#include "runtime/cpu/quant.h"
alto_status alto_cpu_quantize_fp8_(const alto_quant_spec *spec, const alto_tensor_view *x, alto_quantized *out);
alto_status alto_cpu_dequantize_fp8_(const alto_quant_spec *spec, const alto_quantized *q, alto_elem out_dtype, void *y);
#endif
