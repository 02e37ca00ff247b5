/* Quantized tensors in safetensors files: the layout alto-quant writes and reads back (and that
 * quantized exports reuse). For a tensor <name>:
 *   "<name>.codes"   U8, the packed codes in the layout's shape (2-D inputs keep 2-D shapes)
 *   "<name>.scales"  U8 for E8M0 (MX) and E4M3 (NVFP4) scales, F32 otherwise; [1] for tensorwise
 *   "<name>.outer"   F32 [1], NVFP4 only
 *   "<name>.dequant" the dequantized values (BF16 or F32); MX9/MX6: the fake-quant values
 *   "<name>.packed"  U8, MX9/MX6 packed bytes; "<name>.rht": the RHT output that was quantized
 * and __metadata__["alto.quant.<name>"] = the JSON of an alto_qstore_info (alto_qstore_info_json).
 */
#ifndef ALTO_RUNTIME_QUANT_STORE_H
#define ALTO_RUNTIME_QUANT_STORE_H

#include "base/json.h"
#include "runtime/cpu/quant.h"
#include "runtime/safetensors.h"

#define ALTO_QSTORE_META_PREFIX "alto.quant."

/* Everything needed to read a quantized tensor back. */
typedef struct {
  alto_quant_spec spec;
  alto_elem dtype; /* the input's (bf16 or f32) */
  int ndim;        /* 2 or 3 */
  int64_t dims[3];
  alto_elem out_dtype; /* of "<name>.dequant" */
  float outer;         /* NVFP4 outer scale (also in "<name>.outer") */
  int group;           /* MX9/MX6 group size */
  int rht;             /* RHT block applied along axis -2 before quantizing (0: none) */
  uint64_t rht_stream; /* its Philox stream (key: spec.seed) */
} alto_qstore_info;

/* "e8m0", "e4m3" or "f32": what the scale bytes are. */
const char *alto_qstore_scale_kind(alto_scheme s);

/* Writes info as one JSON object. */
void alto_qstore_info_json(alto_json_writer *w, const alto_qstore_info *info);
/* Parses what alto_qstore_info_json wrote; `what` names the source in errors. */
alto_status alto_qstore_info_parse(const char *text, const char *what, alto_qstore_info *out);

/* The tensor "<name>.<kind>" with the given dtype and element count, or a clear error. */
alto_status alto_qstore_tensor(const alto_st_file *f, const char *name, const char *kind,
                               alto_st_dtype dtype, int64_t numel, const alto_st_tensor **out);

/* Loads "<name>.codes", ".scales" (and ".outer") into *q (allocated; alto_quantized_free),
 * checked against the layout the info implies. Not for MX9/MX6. */
alto_status alto_qstore_load(const alto_st_file *f, const char *name, const alto_qstore_info *info,
                             alto_quantized *q);

/* Dequantizes tensor <name> into y (out_dtype, the original dims): through alto_qstore_load and
 * alto_cpu_dequantize, or for MX9/MX6 by unpacking "<name>.packed" (group 16) or converting
 * "<name>.dequant". */
alto_status alto_qstore_dequantize(const alto_st_file *f, const char *name,
                                   const alto_qstore_info *info, alto_elem out_dtype, void *y);

/* A quantizable view of a safetensors tensor: 2-D or 3-D, F32 or BF16 as is, F16 and F64
 * converted to F32; the data is copied (aligned) into *owned (free it). ALTO_ERR_UNSUPPORTED with
 * the reason for other ranks and dtypes. */
alto_status alto_qstore_view_of(const alto_st_tensor *t, alto_tensor_view *v, void **owned);

#endif
