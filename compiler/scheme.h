/* Quantization schemes and their names, shared by recipes, the IR, the generator and the
 * CPU reference. The element formats and scale rules themselves are defined in the numerics
 * header (templates/common/alto_numerics.h), which device code includes too. */
#ifndef ALTO_COMPILER_SCHEME_H
#define ALTO_COMPILER_SCHEME_H

#include <stdbool.h>
#include <stdio.h>

#include "base/status.h"
#include "templates/common/alto_numerics.h"

typedef enum {
  ALTO_SCHEME_BF16,           /* no quantization (the baseline) */
  ALTO_SCHEME_MXFP4,          /* OCP MX: E2M1, block 32, E8M0 scale */
  ALTO_SCHEME_MXFP8_E4M3,     /* OCP MX: E4M3, block 32 */
  ALTO_SCHEME_MXFP8_E5M2,     /* OCP MX: E5M2, block 32 */
  ALTO_SCHEME_NVFP4,          /* E2M1, block 16, E4M3 scale (+ fp32 outer) */
  ALTO_SCHEME_FP8_BLOCK,      /* DeepSeek-V3: 1x128 / 128x128, fp32 scales */
  ALTO_SCHEME_FP8_ROWWISE,    /* torchao: one fp32 scale per row */
  ALTO_SCHEME_FP8_TENSORWISE, /* torchao: one fp32 scale per tensor */
  ALTO_SCHEME_MX9,            /* Quark MX9 fake-quant (PTQ) */
  ALTO_SCHEME_MX6,            /* Quark MX6 fake-quant (PTQ) */
  ALTO_SCHEME_COUNT
} alto_scheme;

/* "mxfp4", "mxfp8_e4m3", ... ("bf16" for none). */
const char *alto_scheme_name(alto_scheme s);
/* Parses a scheme name; on failure sets an error listing the valid names. */
alto_status alto_scheme_parse(const char *name, alto_scheme *out);
/* "bf16, mxfp4, mxfp8_e4m3, ..." */
const char *alto_scheme_valid_names(void);

/* The element format of the scheme's forward operands. */
alto_elem alto_scheme_elem(alto_scheme s);
/* Elements per scale block along the quantization axis (32, 16, 128; 0 = row/tensor). */
int alto_scheme_block(alto_scheme s);

const char *alto_scale_rule_name(alto_scale_rule r);
alto_status alto_scale_rule_parse(const char *name, alto_scale_rule *out);
const char *alto_elem_name(alto_elem e);
alto_status alto_elem_parse(const char *name, alto_elem *out);

#endif
