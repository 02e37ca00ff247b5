#include "compiler/gen_gemm.h"

#include <stdio.h>
#include <string.h>

/* Tile widths per scale kind: every multiple of 16 from 64 to 192 (a 64 x 192 fp32 tile and its
 * partial sums fit the consumer's 224 registers), and 256 as two 128-wide sub-tiles sharing one
 * partial-sum set; with 128x128-scaled B only the widths whose tiles span at most two scale blocks
 * (128 - gcd(bn, 128) + bn <= 256: not 176). */
static const int alto_gemm_bn_1x128_[] = {64, 80, 96, 112, 128, 144, 160, 176, 192, 256};
static const int alto_gemm_bn_block_[] = {64, 80, 96, 112, 128, 144, 160, 192, 256};
#define ALTO_GEMM_GROUP_M 8
#define ALTO_GEMM_MAX_STAGES 8

static int alto_gemm_widths_(alto_gemm_bscale bs, const int **w) {
  if (bs == ALTO_GEMM_B_128X128 || bs == ALTO_GEMM_B_MX) { /* (MX runs as either kernel) */
    *w = alto_gemm_bn_block_;
    return (int)(sizeof alto_gemm_bn_block_ / sizeof alto_gemm_bn_block_[0]);
  }
  *w = alto_gemm_bn_1x128_;
  return (int)(sizeof alto_gemm_bn_1x128_ / sizeof alto_gemm_bn_1x128_[0]);
}

static int alto_gemm_wgs_(int wgs) { return wgs == 3 ? 3 : 2; }

/* Shared memory of one pipeline stage: the A and B tiles, the scales, two mbarriers. */
static int alto_gemm_stage_bytes_(alto_gemm_bscale bs, int bn, int wgs) {
  const int bm = ALTO_GEMM_BM_OF(wgs);
  int sb = bs == ALTO_GEMM_B_128X128 || bs == ALTO_GEMM_OUTER ? 4 : bn;
  return bm * ALTO_GEMM_BK + bn * ALTO_GEMM_BK + (bm + sb) * 4 + 16;
}

/* 1 KiB alignment slack, the epilogue's staging per consumer warpgroup and (OUTER) the
 * reciprocals of a tile's column scales, a row of bn fp32 per consumer warpgroup. */
static int alto_gemm_fixed_bytes_(alto_gemm_bscale bs, int bn, int wgs) {
  wgs = alto_gemm_wgs_(wgs);
  return 1024 + wgs * ALTO_GEMM_EPI_WG_BYTES + (bs == ALTO_GEMM_OUTER ? wgs * bn * 4 : 0);
}

int alto_gemm_max_stages_wgs(alto_gemm_bscale bs, int bn, int wgs) {
  int s = (ALTO_GEMM_SMEM_MAX - alto_gemm_fixed_bytes_(bs, bn, wgs)) /
          alto_gemm_stage_bytes_(bs, bn, wgs);
  return s > ALTO_GEMM_MAX_STAGES ? ALTO_GEMM_MAX_STAGES : s;
}

int alto_gemm_max_stages(alto_gemm_bscale bs, int bn) { return alto_gemm_max_stages_wgs(bs, bn, 2); }

alto_gemm_config alto_gemm_config_for(int64_t m, int64_t n, int64_t k, alto_gemm_bscale bscale,
                                      int sm_count) {
  (void)k;
  if (sm_count < 1)
    sm_count = 1;
  if (m < 1)
    m = 1;
  if (n < 1)
    n = 1;
  const int *w;
  int nw = alto_gemm_widths_(bscale, &w);
  alto_gemm_config best;
  memset(&best, 0, sizeof best);
  /* 1x128-scaled B (wgrad): three consumer warpgroups (192-row tiles, at most 128 wide) wherever
   * M fills more than one 128-row tile. Its promotion takes two fp32 operations per output and K
   * block, during which two warpgroups left the tensor cores idle; three ran 1.06-1.12x faster on
   * five of the seven benchmark shapes and level on the other two (H100, bench/NOTES.md session
   * 14). The other kinds' one FFMA per output hides behind two. */
  best.wgs = bscale == ALTO_GEMM_B_1X128 && m > ALTO_GEMM_BM ? 3 : 2;
  const int64_t bm = ALTO_GEMM_BM_OF(best.wgs);
  double best_eff = -1.0;
  for (int i = 0; i < nw; i++) {
    if (best.wgs == 3 && w[i] > ALTO_GEMM_WGS3_MAX_BN)
      continue;
    int64_t tiles = ((m + bm - 1) / bm) * ((n + w[i] - 1) / w[i]);
    int64_t waves = (tiles + sm_count - 1) / sm_count;
    /* the share of the launched tile slots that hold real outputs, times the tile's operand
     * reuse (MACs per byte loaded per K step: bn / (bm + bn)): the kernels are bound by shared
     * memory and L2 traffic at narrow tiles (H100: bn 64 runs at 2/3 of bn 128's speed) */
    double eff = (double)m * (double)n / ((double)waves * sm_count * (double)bm * w[i]) *
                 ((double)w[i] / ((double)bm + w[i]));
    if (eff > best_eff * (1.0 + 1e-9) || (eff >= best_eff * (1.0 - 1e-9) && w[i] > best.bn)) {
      best_eff = eff;
      best.bn = w[i];
    }
  }
  best.stages = alto_gemm_max_stages_wgs(bscale, best.bn, best.wgs);
  best.group_m = ALTO_GEMM_GROUP_M;
  best.cluster = 1; /* pairs multicasting B measured slower on the H100 (bench/NOTES.md) */
  int64_t units = (m + bm * best.cluster - 1) / (bm * best.cluster) *
                  ((n + best.bn - 1) / best.bn); /* cluster steps */
  int64_t slots = sm_count / best.cluster;
  best.ctas = (int)((units < slots ? units : slots) * best.cluster);
  return best;
}

int alto_gemm_smem_bytes(const alto_gemmkern *k) {
  return alto_gemm_fixed_bytes_(k->bscale, k->bn, k->wgs) +
         k->stages * alto_gemm_stage_bytes_(k->bscale, k->bn, k->wgs);
}

void alto_gemmkern_key(const alto_gemmkern *k, char *out, size_t n) {
  const bool outer = k->bscale == ALTO_GEMM_OUTER;
  snprintf(out, n, "gemm.fp8.%s%s.%s%s.%s.n%d.s%d.g%d.c%d%s%s.%s.%s", outer ? "arow" : "a1x128",
           k->a_e5m2 ? ".e5m2" : "",
           outer ? "brow" : k->bscale == ALTO_GEMM_B_128X128 ? "b128x128" : "b1x128",
           k->b_e5m2 ? ".e5m2" : "", k->out_f32 ? "f32" : "bf16", k->bn, k->stages, k->group_m,
           k->cluster, k->wgs == 3 ? ".w3" : "", k->accumulate ? ".acc" : "",
           alto_target_info_get(k->target)->name, k->arch);
}

static alto_status alto_gemm_check_(const alto_gemmkern *k) {
  if (k->bscale != ALTO_GEMM_B_1X128 && k->bscale != ALTO_GEMM_B_128X128 &&
      k->bscale != ALTO_GEMM_OUTER)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "gemm kernel: B scale kind %d (the kernels are 1x128, 128x128 or outer; MX "
                      "runs as one of them)",
                      (int)k->bscale);
  if (k->target != ALTO_TARGET_CUDA || strcmp(k->arch, "sm_90a") != 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "gemm kernel: target %s arch %s: alto's FP8 GEMM needs CUDA sm_90a (wgmma)",
                      alto_target_info_get(k->target)->name, k->arch);
  const int *w;
  int nw = alto_gemm_widths_(k->bscale, &w);
  bool ok = false;
  for (int i = 0; i < nw; i++)
    ok |= w[i] == k->bn;
  if (!ok)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "gemm kernel: tile width %d (multiples of 16 in [64, 192] and 256; not 176 "
                      "with 128x128 B scales)",
                      k->bn);
  if (k->wgs != 0 && k->wgs != 2 && k->wgs != 3)
    return alto_error(ALTO_ERR_INVALID_ARG, "gemm kernel: %d consumer warpgroups (2 or 3)",
                      k->wgs);
  if (k->wgs == 3 && (k->bn > ALTO_GEMM_WGS3_MAX_BN || k->cluster != 1))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "gemm kernel: three consumer warpgroups take tiles up to %d wide, cluster 1 "
                      "(tile width %d, cluster %d)",
                      ALTO_GEMM_WGS3_MAX_BN, k->bn, k->cluster);
  if (k->stages < 2 || k->stages > ALTO_GEMM_MAX_STAGES ||
      alto_gemm_smem_bytes(k) > ALTO_GEMM_SMEM_MAX)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "gemm kernel: %d stages of tile width %d (2 to %d, within %d bytes of shared "
                      "memory)",
                      k->stages, k->bn, alto_gemm_max_stages_wgs(k->bscale, k->bn, k->wgs),
                      ALTO_GEMM_SMEM_MAX);
  if (k->cluster != 1 && k->cluster != 2)
    return alto_error(ALTO_ERR_INVALID_ARG, "gemm kernel: cluster %d (1 or 2)", k->cluster);
  if (k->group_m < 1 || k->group_m > 64)
    return alto_error(ALTO_ERR_INVALID_ARG, "gemm kernel: raster group %d (1 to 64)", k->group_m);
  return ALTO_OK;
}

alto_status alto_gen_gemm(const alto_gemmkern *k, alto_gen_kernel *out) {
  memset(out, 0, sizeof *out);
  ALTO_TRY(alto_gemm_check_(k));
  alto_gemmkern_key(k, out->key, sizeof out->key);
  alto_gen_kernel_name(out->key, out->name, sizeof out->name);
  out->template_file = "gemm/gemm_fp8_sm90.cuh";
  out->threads = ALTO_GEMM_THREADS_OF(k->wgs);
  out->smem_bytes = alto_gemm_smem_bytes(k);
  char *s = NULL;
  size_t len = 0, cap = 0;
  alto_gen_appendf(&s, &len, &cap,
                   "// Generated by alto's kernel generator v%d; do not edit (alto-compile "
                   "--emit-src writes it).\n// variant: %s\n// template: templates/%s\n\n",
                   ALTO_GEN_VERSION, out->key, out->template_file);
  char types[32];
  snprintf(types, sizeof types, "f32.%s.%s", k->a_e5m2 ? "e5m2" : "e4m3",
           k->b_e5m2 ? "e5m2" : "e4m3");
  /* one instruction per sub-tile (tiles over 192 columns run as two) */
  const alto_gen_wgmma_desc w = {"alto_gemm_wgmma", k->bn > 192 ? k->bn / 2 : k->bn, 32, types,
                                 false, -1, false};
  alto_gen_wgmma(&s, &len, &cap, &w);
  alto_gen_appendf(&s, &len, &cap, "#include \"%s\"\n\n", out->template_file);
  alto_gen_appendf(&s, &len, &cap,
                   "extern \"C\" __global__ void __launch_bounds__(%d, 1)\n"
                   "%s(const __grid_constant__ alto_gemm_args a) {\n"
                   "  alto_gemm::gemm_fp8<%d, %d, %d, %s, %s, %d, %d, %d>(a);\n}\n",
                   out->threads, out->name, k->bn, k->stages, (int)k->bscale,
                   k->out_f32 ? "true" : "false", k->accumulate ? "true" : "false", k->group_m,
                   k->cluster, alto_gemm_wgs_(k->wgs));
  out->source = s;
  return ALTO_OK;
}

/* One variant: group 8, the deepest pipeline that fits, B E4M3. */
static alto_gemmkern alto_gemm_variant_(alto_gemm_bscale bs, bool f32, bool acc, int bn, int wgs,
                                        int cluster, bool a_e5m2, alto_target target,
                                        const char *arch) {
  alto_gemmkern k;
  memset(&k, 0, sizeof k);
  k.bscale = bs;
  k.out_f32 = f32;
  k.accumulate = acc;
  k.bn = bn;
  k.wgs = wgs;
  k.stages = alto_gemm_max_stages_wgs(bs, bn, wgs);
  k.group_m = ALTO_GEMM_GROUP_M;
  k.cluster = cluster;
  k.a_e5m2 = a_e5m2;
  k.target = target;
  snprintf(k.arch, sizeof k.arch, "%s", arch);
  return k;
}

int alto_gemm_variants(alto_target target, const char *arch, alto_gemmkern *out, int cap) {
  static const alto_gemm_bscale kinds[] = {ALTO_GEMM_B_1X128, ALTO_GEMM_B_128X128, ALTO_GEMM_OUTER};
  int n = 0;
  /* 1x128 with three consumer warpgroups: the widths up to 128 x output dtypes x accumulate */
  const int *w1;
  const int nw1 = alto_gemm_widths_(ALTO_GEMM_B_1X128, &w1);
  for (int i = 0; i < nw1; i++)
    for (int f32 = 0; f32 < 2 && w1[i] <= ALTO_GEMM_WGS3_MAX_BN; f32++)
      for (int acc = 0; acc < 2; acc++, n++)
        if (n < cap)
          out[n] = alto_gemm_variant_(ALTO_GEMM_B_1X128, f32, acc, w1[i], 3, 1, false, target,
                                      arch);
  for (int b = 0; b < 3; b++) {
    const alto_gemm_bscale bs = kinds[b];
    const bool outer = bs == ALTO_GEMM_OUTER;
    const int *w;
    int nw = alto_gemm_widths_(bs, &w);
    for (int i = 0; i < nw; i++)
      for (int f32 = 0; f32 < 2; f32++)
        for (int acc = 0; acc < 2; acc++)
          for (int v = 0; v < 2; v++, n++) /* cluster 1 / 2, or (OUTER) A E4M3 / E5M2 */
            if (n < cap)
              out[n] = alto_gemm_variant_(bs, f32, acc, w[i], 2, outer ? 1 : 1 + v, outer && v,
                                          target, arch);
  }
  return n;
}

alto_status alto_gen_mx_to_fp8(alto_target target, const char *arch, bool share, int layout,
                               alto_gen_kernel *out) {
  memset(out, 0, sizeof *out);
  if (target != ALTO_TARGET_CUDA)
    return alto_error(ALTO_ERR_INVALID_ARG, "mxfp4 -> e4m3 conversion: CUDA only (target %s)",
                      alto_target_info_get(target)->name);
  if (layout < 0 || layout > 2)
    return alto_error(ALTO_ERR_INVALID_ARG, "mxfp4 -> e4m3 conversion: layout %d (0..2)", layout);
  snprintf(out->key, sizeof out->key, "gemm.mx_to_fp8.e2m1.e4m3.tile.l%d.%s.%s.%s", layout,
           share ? "shared" : "rows", alto_target_info_get(target)->name, arch);
  alto_gen_kernel_name(out->key, out->name, sizeof out->name);
  out->template_file = "gemm/mx_to_fp8.cuh";
  out->threads = ALTO_MX_TO_FP8_THREADS;
  out->smem_bytes = 0;
  char *s = NULL;
  size_t len = 0, cap = 0;
  alto_gen_appendf(&s, &len, &cap,
                   "// Generated by alto's kernel generator v%d; do not edit (alto-compile "
                   "--emit-src writes it).\n// variant: %s\n// template: templates/%s\n"
                   "#include \"%s\"\n\n"
                   "extern \"C\" __global__ void __launch_bounds__(%d, 2)\n"
                   "%s(const alto_mx2fp8_args a) {\n  alto_mx_to_fp8<%d, %s, %d>(a);\n}\n",
                   ALTO_GEN_VERSION, out->key, out->template_file, out->template_file,
                   out->threads, out->name, out->threads, share ? "true" : "false", layout);
  out->source = s;
  return ALTO_OK;
}
