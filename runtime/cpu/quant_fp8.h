/* FP8 helpers of the CPU reference beyond the quantize/dequantize dispatch
 * (runtime/cpu/quant_fp8.c). */
#ifndef ALTO_RUNTIME_CPU_QUANT_FP8_H
#define ALTO_RUNTIME_CPU_QUANT_FP8_H

#include "runtime/cpu/quant.h"

/* DeepSeek-V3 "double quantization" for wgrad (NUMERICS.md 3): dequantizes `fwd` (an fp8_block
 * quantization 1x128 along axis -1, per `fwd_spec`) to `dtype` (bf16 or fp32), exactly as
 * alto_cpu_dequantize would, and re-quantizes that tensor per `wgrad_spec` (fp8_block, 128x1
 * along axis -2) into *out, which is allocated here (release it with alto_quantized_free).
 * The result equals quantizing the dequantized tensor directly, bit for bit. */
alto_status alto_cpu_fp8_block_requant(const alto_quant_spec *fwd_spec, const alto_quantized *fwd,
                                       alto_elem dtype, const alto_quant_spec *wgrad_spec,
                                       alto_quantized *out);

#endif
