/* alto_attn_args: the one argument block of every attention kernel, passed by value. Shared by the
 * host (C: device pointers as 64-bit integers) and the device templates (real pointers): 8-byte
 * fields only, so the layout is identical on both sides. Layouts are runtime/cpu/ops.h's
 * alto_op_attention / alto_op_attention_bwd, in bf16 (bits) with fp32 statistics. */
#ifndef ALTO_ATTN_ARGS_H
#define ALTO_ATTN_ARGS_H

#include "common/alto_qargs.h" /* ALTO_DPTR */

typedef struct {
  ALTO_DPTR(const alto_u16) q;    /* (B*T, H*D) bf16 */
  ALTO_DPTR(const alto_u16) k;    /* (B*T, G*D) bf16 */
  ALTO_DPTR(const alto_u16) v;    /* (B*T, G*D) bf16 */
  ALTO_DPTR(alto_u16) o;          /* (B*T, H*D) bf16: forward output, backward input */
  ALTO_DPTR(float) lse;           /* (B, H, T) fp32 log-sum-exp of the scaled scores */
  ALTO_DPTR(const alto_u16) dout; /* (B*T, H*D) bf16 */
  ALTO_DPTR(alto_u16) dq;         /* (B*T, H*D) bf16 */
  ALTO_DPTR(alto_u16) dk;         /* (B*T, G*D) bf16 */
  ALTO_DPTR(alto_u16) dv;         /* (B*T, G*D) bf16 */
  ALTO_DPTR(float) delta;         /* (B, H, T) fp32 rowsum(dO * O), backward scratch */
  alto_i64 B, T, H, G;
  alto_i64 window; /* > 0: key s visible to query t when t - window < s <= t */
} alto_attn_args;

#endif
