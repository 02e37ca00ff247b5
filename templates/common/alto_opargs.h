/* alto_opargs: the one argument block of every non-GEMM training op kernel (templates/ops/),
 * passed by value. Shared by the host (C: device pointers as 64-bit integers) and the device
 * templates (real pointers), so the layout is identical on both sides: 8-byte fields only. What
 * each field holds for each kernel is in compiler/gen_ops.c's stubs and runtime/ops_gpu.c. */
#ifndef ALTO_OPARGS_H
#define ALTO_OPARGS_H

#include "common/alto_numerics.h"

#if defined(__CUDACC__) || defined(__CUDACC_RTC__) || defined(__HIPCC__) || defined(__HIPCC_RTC__)
#define ALTO_OPS_DPTR(T) T *
#else
#define ALTO_OPS_DPTR(T) alto_u64
#endif

typedef struct {
  ALTO_OPS_DPTR(void) out;           /* the main output (y, dx, da, param, dlogits) */
  ALTO_OPS_DPTR(void) out2;          /* a second output (rstd, db, dw partials, m, row losses) */
  ALTO_OPS_DPTR(void) out3;          /* a third output (v, loss) */
  ALTO_OPS_DPTR(void) out4;          /* a fourth (AdamW: the parameter's bf16 copy) */
  ALTO_OPS_DPTR(const void) in;      /* the main input (x, a, dy, grad, logits, table) */
  ALTO_OPS_DPTR(const void) in2;     /* (w, b, x, cos, scales) */
  ALTO_OPS_DPTR(const void) in3;     /* (w, dy, sin) */
  ALTO_OPS_DPTR(const void) in4;     /* (rstd) */
  ALTO_OPS_DPTR(const alto_i32) ids; /* tokens (embedding) or targets (cross-entropy) */
  ALTO_OPS_DPTR(alto_i32) iscratch;  /* embedding backward: the counting sort's arrays */
  alto_i64 rows;                     /* M tokens, or N elements */
  alto_i64 cols;                     /* C, or V */
  alto_i64 T;                        /* RoPE: table rows (positions are m % T) */
  alto_i64 heads;                    /* RoPE: heads per token row */
  alto_i64 vocab;                    /* embedding: V */
  alto_i64 flag;                     /* accumulate (RMSNorm dx, sumsq) */
  alto_i64 block_r, block_c;         /* DGE: the scale block's extent along R and C */
  double s[7];                       /* scalars: eps; AdamW's six and its gradient factor; clip
                                      * max_norm; scale factor */
} alto_opargs;

#endif
