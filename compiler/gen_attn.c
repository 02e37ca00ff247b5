#include "compiler/gen_attn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALTO_ATTN_PAD 8 /* templates/attn/attn_common.cuh: bf16 padding per shared row */
#define ALTO_ATTN_THREADS 128

static const char *const alto_attn_part_names_[ALTO_ATTN_PART_COUNT] = {"fwd", "bwd_delta",
                                                                        "bwd_dkdv", "bwd_dq"};
static const char *const alto_attn_files_[ALTO_ATTN_PART_COUNT] = {
    "attn/attention_fwd.cuh", "attn/attention_bwd.cuh", "attn/attention_bwd.cuh",
    "attn/attention_bwd.cuh"};

/* Defaults, per part and head dim (16, 32, 64, 128): warps of 16 rows; minb 2 where the
 * accumulators fit 128 registers. At D 64 and 128 the backward's tiles are the fastest of
 * bench_attn's sweep on the H100 (bench/NOTES.md session 21: dkdv 64 keys per CTA in steps of 64
 * queries, 0.459 against 0.524 ms for 128 keys on the 1b's shape, 128 keys in steps of 64 at
 * D 128; dq 128 queries in steps of 32 keys, 0.330 against 0.430 ms, and 64 x 64 at D 128). */
static const alto_attn_tiles alto_attn_defaults_[ALTO_ATTN_PART_COUNT][4] = {
    [ALTO_ATTN_FWD] = {{128, 128, 0, 2, 0},
                       {128, 64, 0, 2, 0},
                       {128, 64, 0, 2, 0},
                       {128, 64, 0, 1, 0}},
    [ALTO_ATTN_BWD_DELTA] = {{0, 0, 0, 4, 0}, {0, 0, 0, 4, 0}, {0, 0, 0, 4, 0}, {0, 0, 0, 4, 0}},
    [ALTO_ATTN_BWD_DKDV] = {{0, 128, 32, 2, 0},
                            {0, 128, 64, 1, 0},
                            {0, 64, 64, 1, 0},
                            {0, 128, 64, 1, 0}},
    [ALTO_ATTN_BWD_DQ] = {{128, 64, 0, 2, 0},
                          {128, 64, 0, 2, 0},
                          {128, 32, 0, 2, 0},
                          {64, 64, 0, 1, 0}},
};

/* The warpgroup-MMA forward's defaults (sm_90a; bench/NOTES.md sessions 21, 22). D 64: one
 * warpgroup of 64 query rows per CTA, steps of 64 keys, three CTAs per SM (0.211 ms on the 1b's
 * shape against 0.216-0.341 for 128 / 192 rows or 128-key steps, 0.279 for the mma.sync kernel).
 * D 128: two warpgroups, 64-key steps, one CTA per SM (128-key steps spill since the overlap holds
 * the tile before's P). */
static const alto_attn_tiles alto_attn_sm90_fwd_[2] = {{64, 64, 0, 3, 1}, {128, 64, 0, 1, 1}};

/* The warpgroup-MMA dQ kernel's default (sm_90a, D 64 and 128; session 21): one warpgroup of 64
 * query rows, steps of 64 keys, two CTAs per SM (0.215 ms on the 1b's shape against 0.333 for the
 * mma.sync kernel's best tiles; 0.349 against 0.661 ms at D 128). */
static const alto_attn_tiles alto_attn_sm90_dq_ = {64, 64, 0, 2, 1};

/* The warpgroup-MMA dK / dV kernel's defaults (sm_90a; bench/NOTES.md session 22). D 64: one
 * warpgroup of 64 keys per CTA, steps of 64 queries, two CTAs per SM (0.319 ms on the 1b's shape
 * against 0.328-0.421 for the tilings that do not spill, 0.456 for the mma.sync kernel's best).
 * D 128: two warpgroups (0.466 ms; 64 keys spill: 0.69; 0.883 for mma.sync). */
static const alto_attn_tiles alto_attn_sm90_dkdv_[2] = {{0, 64, 64, 2, 1}, {0, 128, 64, 1, 1}};

static bool alto_attn_sm90a_(const char *arch) {
  return strcmp(arch, "sm_90a") == 0;
}

static int alto_attn_dim_index_(int d) {
  return d == 16 ? 0 : d == 32 ? 1 : d == 64 ? 2 : 3;
}

static bool alto_attn_tiles_set_(const alto_attn_tiles *t) {
  return t->bm || t->bn || t->bq || t->minb || t->wg;
}

alto_attn_tiles alto_attn_tiles_of(const alto_attnkern *k) {
  if (alto_attn_tiles_set_(&k->tiles))
    return k->tiles;
  if (k->part != ALTO_ATTN_BWD_DELTA && alto_attn_sm90a_(k->arch) &&
      (k->head_dim == 64 || k->head_dim == 128))
    return k->part == ALTO_ATTN_FWD    ? alto_attn_sm90_fwd_[k->head_dim == 128]
           : k->part == ALTO_ATTN_BWD_DQ ? alto_attn_sm90_dq_
                                         : alto_attn_sm90_dkdv_[k->head_dim == 128];
  alto_attn_tiles t = alto_attn_defaults_[(unsigned)k->part < ALTO_ATTN_PART_COUNT ? k->part : 0]
                                         [alto_attn_dim_index_(k->head_dim)];
  if (!k->causal && k->part == ALTO_ATTN_FWD)
    t.minb = 1; /* (compile-tested only) at 128 registers ptxas spills a few loop invariants */
  return t;
}

int alto_attn_threads(const alto_attnkern *k) {
  alto_attn_tiles t = alto_attn_tiles_of(k);
  switch (k->part) {
  case ALTO_ATTN_FWD:
  case ALTO_ATTN_BWD_DQ:
    return t.bm / 16 * 32;
  case ALTO_ATTN_BWD_DKDV:
    return t.bn / 16 * 32;
  default:
    return ALTO_ATTN_THREADS;
  }
}

int alto_attn_smem_bytes(const alto_attnkern *k) {
  alto_attn_tiles t = alto_attn_tiles_of(k);
  /* mma.sync: padded rows, two stages of the streamed tiles; wgmma: 128-byte-swizzled rows (no
   * pad, 1024-byte aligned), three stages where a product reads its tile one step late (the
   * forward's P V, dK / dV's; attention_sm90.cuh) */
  const int rb = t.wg ? k->head_dim * 2 : (k->head_dim + ALTO_ATTN_PAD) * 2, al = t.wg ? 1024 : 0;
  const int ns = t.wg && k->part != ALTO_ATTN_BWD_DQ ? 3 : 2;
  switch (k->part) {
  case ALTO_ATTN_FWD: /* Q, the stages of K and V */
    return (t.bm + 2 * ns * t.bn) * rb + al;
  case ALTO_ATTN_BWD_DKDV: /* K, V, the stages of Q, dO, lse, delta */
    return (2 * t.bn + 2 * ns * t.bq) * rb + 2 * ns * t.bq * 4 + al;
  case ALTO_ATTN_BWD_DQ: /* Q, dO, the stages of K and V */
    return (2 * t.bm + 2 * ns * t.bn) * rb + al;
  default:
    return 0;
  }
}

void alto_attnkern_key(const alto_attnkern *k, char *out, size_t n) {
  int w = snprintf(out, n, "attn.%s.d%d.%s.bf16.%s.%s", alto_attn_part_names_[k->part], k->head_dim,
                   k->causal ? "causal" : "full", alto_target_info_get(k->target)->name, k->arch);
  const alto_attn_tiles *t = &k->tiles;
  if (alto_attn_tiles_set_(t) && w >= 0 && (size_t)w < n)
    snprintf(out + w, n - (size_t)w, ".m%dn%dq%db%d%s", t->bm, t->bn, t->bq, t->minb,
             t->wg ? "w" : "");
}

static alto_status alto_attn_check_(const alto_attnkern *k) {
  if ((unsigned)k->part >= ALTO_ATTN_PART_COUNT)
    return alto_error(ALTO_ERR_INVALID_ARG, "attention kernel part %d is not valid", (int)k->part);
  if (k->head_dim != 16 && k->head_dim != 32 && k->head_dim != 64 && k->head_dim != 128)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "attention head dim %d: supported are 16, 32, 64 and 128", k->head_dim);
  if (k->target != ALTO_TARGET_CUDA)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "attention kernels use CUDA tensor-core MMA (sm_80+); no %s version yet",
                      alto_target_info_get(k->target)->name);
  int sm = 0;
  if (sscanf(k->arch, "sm_%d", &sm) != 1 || sm < 80)
    return alto_error(ALTO_ERR_UNSUPPORTED, "attention kernels need sm_80 or newer, not '%s'",
                      k->arch);
  if (k->part == ALTO_ATTN_BWD_DELTA && k->tiles.wg)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "attention: the delta kernel has no warpgroup-MMA form");
  if (alto_attn_tiles_set_(&k->tiles) && k->part != ALTO_ATTN_BWD_DELTA) {
    const alto_attn_tiles *t = &k->tiles;
    bool dkdv = k->part == ALTO_ATTN_BWD_DKDV;
    int rows[2] = {dkdv ? t->bn : t->bm, dkdv ? t->bq : t->bn};
    for (int i = 0; i < 2; i++)
      if (rows[i] < 16 || rows[i] > 256 || rows[i] % 16)
        return alto_error(ALTO_ERR_INVALID_ARG,
                          "attention tiles m %d n %d q %d: need multiples of 16 from 16 to 256",
                          t->bm, t->bn, t->bq);
    if (t->minb < 1 || t->minb > 4)
      return alto_error(ALTO_ERR_INVALID_ARG, "attention tiles: minb %d (1 to 4)", t->minb);
    if (t->wg && (!alto_attn_sm90a_(k->arch) || (k->head_dim != 64 && k->head_dim != 128) ||
                  rows[0] % 64 || rows[0] > 192))
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "attention tiles: the warpgroup-MMA kernels run on sm_90a, at head dims 64 "
                        "and 128, with 64, 128 or 192 rows per CTA (query rows; keys for dkdv), "
                        "not %s, D %d, %d rows",
                        k->arch, k->head_dim, rows[0]);
    if (alto_attn_smem_bytes(k) > 227 * 1024)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "attention tiles m %d n %d q %d: %d bytes of shared memory, above 227 KiB",
                        t->bm, t->bn, t->bq, alto_attn_smem_bytes(k));
  }
  return ALTO_OK;
}

alto_status alto_gen_attn(const alto_attnkern *k, alto_gen_kernel *out) {
  memset(out, 0, sizeof *out);
  ALTO_TRY(alto_attn_check_(k));
  alto_attnkern_key(k, out->key, sizeof out->key);
  alto_gen_kernel_name(out->key, out->name, sizeof out->name);
  alto_attn_tiles t = alto_attn_tiles_of(k);
  out->template_file = t.wg ? "attn/attention_sm90.cuh" : alto_attn_files_[k->part];
  out->threads = alto_attn_threads(k);
  out->smem_bytes = alto_attn_smem_bytes(k);
  char *s = NULL;
  size_t len = 0, cap = 0;
  alto_gen_appendf(&s, &len, &cap,
                   "// Generated by alto's kernel generator v%d; do not edit (alto-compile "
                   "--emit-src writes it).\n// variant: %s\n// template: templates/%s\n\n",
                   ALTO_GEN_VERSION, out->key, out->template_file);
  if (t.wg) { /* S = Q K^T (both K-major), O += P V (P from registers, V N-major); dq: the same
               * two for S, dP = dO V^T and dQ += dS K; dkdv: for S^T = K Q^T, dP^T = V dO^T and
               * dV += P^T dO, dK += dS^T Q */
    const int sn = k->part == ALTO_ATTN_BWD_DKDV ? t.bq : t.bn; /* S's columns (S^T's in dkdv) */
    const alto_gen_wgmma_desc qk = {"alto_attn_wg_qk", sn, 16, "f32.bf16.bf16", false, 0, true};
    const alto_gen_wgmma_desc pv = {
        "alto_attn_wg_pv", k->head_dim, 16, "f32.bf16.bf16", true, 1, true};
    alto_gen_wgmma(&s, &len, &cap, &qk);
    alto_gen_wgmma(&s, &len, &cap, &pv);
  }
  alto_gen_appendf(&s, &len, &cap, "#include \"%s\"\n\n", out->template_file);
  alto_gen_appendf(
      &s, &len, &cap,
      "extern \"C\" __global__ void __launch_bounds__(%d, %d) %s(alto_attn_args a) {\n",
      out->threads, t.minb, out->name);
  const char *causal = k->causal ? "true" : "false";
  switch (k->part) {
  case ALTO_ATTN_FWD:
    alto_gen_appendf(&s, &len, &cap, "  alto_attn_fwd%s<%d, %s, %d, %d>(a);\n", t.wg ? "_sm90" : "",
                     k->head_dim, causal, t.bm, t.bn);
    break;
  case ALTO_ATTN_BWD_DELTA:
    alto_gen_appendf(&s, &len, &cap, "  alto_attn_bwd_delta<%d, %d>(a);\n", k->head_dim,
                     out->threads);
    break;
  case ALTO_ATTN_BWD_DKDV:
    alto_gen_appendf(&s, &len, &cap, "  alto_attn_bwd_dkdv%s<%d, %s, %d, %d>(a);\n",
                     t.wg ? "_sm90" : "", k->head_dim, causal, t.bn, t.bq);
    break;
  case ALTO_ATTN_BWD_DQ:
    alto_gen_appendf(&s, &len, &cap, "  alto_attn_bwd_dq%s<%d, %s, %d, %d>(a);\n",
                     t.wg ? "_sm90" : "", k->head_dim, causal, t.bm, t.bn);
    break;
  case ALTO_ATTN_PART_COUNT:
    ALTO_ASSERT(0);
  }
  alto_gen_appendf(&s, &len, &cap, "}\n");
  out->source = s;
  return ALTO_OK;
}

static unsigned alto_attn_cdiv_(int64_t a, int64_t b) {
  return (unsigned)((a + b - 1) / b);
}

void alto_gen_attn_grid(const alto_attnkern *k, int64_t B, int64_t T, int64_t H, int64_t G,
                        unsigned grid[3]) {
  alto_attn_tiles t = alto_attn_tiles_of(k);
  grid[0] = grid[1] = grid[2] = 1;
  switch (k->part) {
  case ALTO_ATTN_FWD:
  case ALTO_ATTN_BWD_DQ:
    grid[0] = alto_attn_cdiv_(T, t.bm) * (unsigned)(H * B);
    break;
  case ALTO_ATTN_BWD_DKDV:
    grid[0] = alto_attn_cdiv_(T, t.bn) * (unsigned)(G * B);
    break;
  case ALTO_ATTN_BWD_DELTA:
    grid[0] = alto_attn_cdiv_(B * T * H, ALTO_ATTN_THREADS / (k->head_dim / 8));
    break;
  case ALTO_ATTN_PART_COUNT:
    ALTO_ASSERT(0);
  }
}

int alto_attn_variants(alto_target target, const char *arch, alto_attnkern *out, int cap) {
  static const int dims[] = {16, 32, 64, 128};
  int n = 0;
  for (int p = 0; p < ALTO_ATTN_PART_COUNT; p++)
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
      for (int c = 1; c >= 0; c--) {
        if (p == ALTO_ATTN_BWD_DELTA && c == 0)
          continue; /* the delta kernel does not mask: one variant per head dim */
        alto_attnkern k;
        memset(&k, 0, sizeof k);
        k.part = (alto_attn_part)p;
        k.head_dim = dims[d];
        k.causal = c;
        k.target = target;
        snprintf(k.arch, sizeof k.arch, "%s", arch);
        if (n < cap)
          out[n] = k;
        n++;
      }
  return n;
}
