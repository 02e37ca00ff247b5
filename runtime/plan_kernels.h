/* The kernels a plan needs (ARCHITECTURE.md stages 5-6): the IR's nodes -> the generator's
 * descriptors, deduplicated by kernel key. `alto-compile --model M --recipe R --arch A` compiles
 * exactly this list, so a training run of that plan starts warm.
 *
 * Mapping: a QUANTIZE node's alto_qdesc (with the node's input dtype) -> alto_quant_spec ->
 * alto_quant_kernels(); when qdesc.rht is set, the RHT node that produced the input is fused in
 * (its chunk size and input dtype are used: the GPU kernel reads x and applies R itself). A
 * DEQUANTIZE node -> alto_dequant_kernel(). RHT nodes run inside the quantization after them.
 *
 * Only quantization kernels exist so far: GEMM, attention and the elementwise ops have no
 * generator yet; their nodes are counted in n_pending. */
#ifndef ALTO_RUNTIME_PLAN_KERNELS_H
#define ALTO_RUNTIME_PLAN_KERNELS_H

#include "compiler/gen.h"
#include "compiler/ir.h"
#include "runtime/cpu/quant.h"

typedef struct {
  alto_qkern k;
  char key[256];   /* alto_qkern_key(&k) */
  int uses;        /* kernel launches per step (nodes that run it) */
  char first[112]; /* name of the first node that runs it */
} alto_plan_kernel;

typedef struct {
  alto_plan_kernel *kernels; /* distinct, in order of first use */
  int n, cap;
  int n_quant_nodes; /* QUANTIZE and DEQUANTIZE nodes mapped */
  int n_pending;     /* nodes of ops with no generator yet (GEMM, attention, norms, ...) */
} alto_plan_kernels;

/* The distinct kernels of `p` for a target and arch. ALTO_ERR_UNSUPPORTED naming the node when a
 * quantization has no kernel (e.g. an RHT quantize whose RHT node is missing). Free with
 * alto_plan_kernels_free (also after an error). */
alto_status alto_plan_kernels_of(const alto_plan *p, alto_target target, const char *arch,
                                 alto_plan_kernels *out);
void alto_plan_kernels_free(alto_plan_kernels *k);

/* The quantization spec of an IR descriptor (seed/stream left 0: they are launch arguments). */
alto_status alto_plan_quant_spec(const alto_qdesc *q, alto_quant_spec *out);

#endif
