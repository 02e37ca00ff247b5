/* Generator entries of the attention kernels (templates/attn/): a descriptor -> a readable stub
 * (provenance comment, #include of the template, one extern "C" kernel with the head dim, the
 * causal flag and the tile sizes baked in), its key and its launch geometry. The batch, sequence,
 * head counts (GQA ratio) and the sliding window are runtime arguments (alto_attn_args).
 *
 * The kernels use bf16 tensor-core MMA through PTX (mma.sync m16n8k16): CUDA, sm_80 and newer; on
 * sm_90a the forward, dK / dV and dQ at head dims 64 and 128 use the warpgroup MMA (wgmma,
 * attention_sm90.cuh). */
#ifndef ALTO_COMPILER_GEN_ATTN_H
#define ALTO_COMPILER_GEN_ATTN_H

#include "compiler/gen.h"

typedef enum {
  ALTO_ATTN_FWD,       /* O, lse from Q, K, V */
  ALTO_ATTN_BWD_DELTA, /* delta = rowsum(dO * O) */
  ALTO_ATTN_BWD_DKDV,  /* dK, dV: one CTA per key tile of one kv head */
  ALTO_ATTN_BWD_DQ,    /* dQ: one CTA per query tile of one query head */
  ALTO_ATTN_PART_COUNT
} alto_attn_part;

/* Tile sizes the generator bakes in (rows of queries / keys per CTA step; 16 rows per warp, so
 * the CTA has bm / 16 warps (fwd, dq) or bn / 16 warps (dkdv)). */
typedef struct {
  int bm;   /* queries per CTA (fwd, dq) */
  int bn;   /* keys per CTA (dkdv) or per step (fwd, dq) */
  int bq;   /* queries per step (dkdv) */
  int minb; /* CTAs per SM the register budget aims for (__launch_bounds__'s second argument) */
  int wg;   /* 1: the warpgroup-MMA kernel (sm_90a; fwd, dkdv, dq at D 64, 128; 64 rows (queries;
             * keys in dkdv) per warpgroup) */
} alto_attn_tiles;

/* Everything that makes one attention kernel different from another. */
typedef struct {
  alto_attn_part part;
  int head_dim; /* D: 16, 32, 64 or 128 */
  bool causal;  /* the model's attention is causal; false: every key of the sequence */
  alto_target target;
  char arch[16];         /* "sm_90a" */
  alto_attn_tiles tiles; /* all zero: the defaults; otherwise these (tuning: bench/attn) */
} alto_attnkern;

/* The tiles a kernel uses: k->tiles when set, else the defaults for its part and head dim. */
alto_attn_tiles alto_attn_tiles_of(const alto_attnkern *k);

/* Threads per CTA (32 per 16 rows of the CTA's tile; 128 for bwd_delta). */
int alto_attn_threads(const alto_attnkern *k);

/* Dynamic shared memory bytes per CTA. */
int alto_attn_smem_bytes(const alto_attnkern *k);

/* The canonical key ("attn.fwd.d128.causal.bf16.cuda.sm_90a"; tiles other than the defaults add
 * ".m128n64q64b2"). */
void alto_attnkern_key(const alto_attnkern *k, char *out, size_t n);

/* Generates the stub; ALTO_ERR_INVALID_ARG for a descriptor no template supports (tiles: multiples
 * of 16 from 16 to 256 rows, shared memory within 227 KiB, minb 1 to 4). */
alto_status alto_gen_attn(const alto_attnkern *k, alto_gen_kernel *out);

/* Launch geometry for batch B, sequence T, H query heads, G kv heads (1-D grids: the templates
 * order the CTAs heaviest first). */
void alto_gen_attn_grid(const alto_attnkern *k, int64_t B, int64_t T, int64_t H, int64_t G,
                        unsigned grid[3]);

/* Every supported variant of a target (parts x head dims x causal), for AOT and the compile test;
 * returns the count (at most cap written). */
int alto_attn_variants(alto_target target, const char *arch, alto_attnkern *out, int cap);

#endif
