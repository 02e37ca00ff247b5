/* alto_variant: everything that makes one kernel different from another (ARCHITECTURE.md
 * stage 5). Two nodes with equal keys run the same compiled kernel. The canonical string is
 * the key; the hash is FNV-1a 64 of it.
 *
 * Canonical form, fields joined by '.', absent fields left out:
 *   <op>                       lower-case op name ("quant", "dequant", "gemm", "grouped_gemm",
 *                              "attention", "rmsnorm", ...)
 *   <scheme>.<elem>            when quantized, e.g. "mxfp4.e2m1" (GEMM: of operand A; a
 *                              different operand B adds "b_<scheme>.<elem>")
 *   b<R>x<C>                   block shape ("b1x32", "b32x32"; "all" for a whole dimension:
 *                              "b1xall" rowwise, "ballxall" tensorwise); GEMM: "b<A>_<B>"
 *   axis-1 | axis-2            quantization axis
 *   rne | sr                   rounding
 *   <scale rule>               "even", "floor", "uos", "rceil" (MX schemes)
 *   rht32, 2d, dge, two_level  flags
 *   ta, tb, acc                GEMM transposes, accumulation
 *   in_<dt>.out_<dt>           dtypes
 *   <dim letter><value>...     compiled dims (GEMM n, k; quant/norm cols; attention h, kv, d)
 *   <arch>                     "sm_90a" (empty: any)
 * Example: "quant.mxfp4.e2m1.b1x32.axis-1.rne.even.in_bf16.out_e2m1.k4096.sm_90a".
 */
#ifndef ALTO_COMPILER_VARIANT_H
#define ALTO_COMPILER_VARIANT_H

#include <stdint.h>

#include "compiler/ir.h"

#define ALTO_VARIANT_MAX_DIMS 4

struct alto_variant {
  alto_op op;
  alto_qdesc q;   /* operand A / the quantized tensor */
  alto_qdesc q_b; /* GEMM operand B */
  bool trans_a, trans_b, accumulate;
  alto_dtype in_dtype, out_dtype;
  char dim_names[ALTO_VARIANT_MAX_DIMS]; /* 'n', 'k', 'c', 'h', ... */
  int64_t dims[ALTO_VARIANT_MAX_DIMS];   /* compiled (baked) dims; the rest are runtime */
  int n_dims;
  int64_t flags; /* op specific baked flags (attention: causal window, sinks, mla) */
  char arch[16]; /* "sm_90a", "gfx942"; "" = not yet chosen */
  char key[256]; /* the canonical string */
  uint64_t hash; /* FNV-1a 64 of key */
};

/* The variant of one node, for `arch` ("" when not chosen). */
void alto_variant_from_node(const alto_node *n, const char *arch, alto_variant *out);
/* Writes the canonical key into v->key and the hash into v->hash. */
void alto_variant_finish(alto_variant *v);
uint64_t alto_variant_hash_str(const char *s);

#endif
