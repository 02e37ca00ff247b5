#include "runtime/gemm_gpu.h"

#include <stdio.h>
#include <string.h>

#include "runtime/cuda/driver.h"
#include "runtime/jit.h"
#include "templates/gemm/gemm_args.h"

/* The SM count of the (one) CUDA device, read once; an H100's 132 where no device is open (the
 * ahead-of-time compile generates the kernels the H100 would use). */
static int alto_gemm_sm_count_(void) {
  static int sms;
  if (sms)
    return sms;
  alto_cuda_device_info info;
  if (alto_cuda_device(&info) == ALTO_OK && info.sm_count > 0)
    return sms = info.sm_count;
  return 132;
}

alto_gemmkern alto_gemm_kernel_for(alto_gemm_bscale bscale, bool out_f32, bool accumulate,
                                   const alto_gemm_config *cfg, const char *arch) {
  alto_gemmkern k;
  memset(&k, 0, sizeof k);
  k.bscale = bscale;
  k.out_f32 = out_f32;
  k.accumulate = accumulate;
  k.bn = cfg->bn;
  k.stages = cfg->stages;
  k.group_m = cfg->group_m;
  k.cluster = cfg->cluster < 1 ? 1 : cfg->cluster;
  k.wgs = cfg->wgs == 3 ? 3 : 2;
  k.target = ALTO_TARGET_CUDA;
  snprintf(k.arch, sizeof k.arch, "%s", arch);
  return k;
}

static alto_status alto_gemm_gen_(const void *k, alto_gen_kernel *g) {
  return alto_gen_gemm((const alto_gemmkern *)k, g);
}

static alto_status alto_gemm_check_(const alto_backend *b, const char *who, int64_t m, int64_t n,
                                    int64_t k, const alto_dptr *aligned16, int n16) {
  if (b->target != ALTO_TARGET_CUDA || strcmp(b->arch, "sm_90a") != 0)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "%s: needs a CUDA sm_90a device (wgmma, TMA); this is "
                      "%s %s",
                      who, b->i->name, b->arch);
  const int64_t lim = (int64_t)1 << 31;
  if (m < 1 || n < 1 || k < 1 || m >= lim || n >= lim || k >= lim)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: M %lld, N %lld, K %lld (each in [1, 2^31))", who,
                      (long long)m, (long long)n, (long long)k);
  for (int i = 0; i < n16; i++)
    if (aligned16[i] % 16)
      return alto_error(ALTO_ERR_UNSUPPORTED, "%s: device pointer %d is not 16-byte aligned", who,
                        i);
  return ALTO_OK;
}

/* One launch of a kernel (bscale 1x128 or 128x128); split: an MX conversion's counter (0: none),
 * the kernel working only if (*split != 0) == split_run. */
static alto_status gemm_fp8_launch_(alto_backend *b, alto_dptr c, alto_dtype out_dtype,
                                    int64_t ldc, bool accumulate, const alto_gemm_fp8_operand *a,
                                    const alto_gemm_fp8_operand *bop, alto_gemm_bscale bscale,
                                    int64_t m, int64_t n, int64_t k, const alto_gemm_config *cfg,
                                    alto_dptr split, bool split_run);

alto_status alto_gemm_fp8(alto_backend *b, alto_dptr c, alto_dtype out_dtype, int64_t ldc,
                          bool accumulate, const alto_gemm_fp8_operand *a,
                          const alto_gemm_fp8_operand *bop, alto_gemm_bscale bscale, int64_t m,
                          int64_t n, int64_t k, const alto_gemm_config *cfg) {
  const alto_dptr ptrs[] = {a->codes, bop->codes, c};
  ALTO_TRY(alto_gemm_check_(b, "fp8 gemm", m, n, k, ptrs, 3));
  if (k % 16)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "fp8 gemm: K = %lld is not a multiple of 16 (TMA needs 16-byte row pitches)",
                      (long long)k);
  if (out_dtype != ALTO_DT_BF16 && out_dtype != ALTO_DT_F32)
    return alto_error(ALTO_ERR_UNSUPPORTED, "fp8 gemm: output dtype %d (bf16 or fp32)",
                      (int)out_dtype);
  if (ldc < n)
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8 gemm: ldc %lld < N %lld", (long long)ldc,
                      (long long)n);
  if ((a->scales | bop->scales) % 4)
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8 gemm: scales not 4-byte aligned");
  if (bscale != ALTO_GEMM_B_1X128 && bscale != ALTO_GEMM_B_128X128 && bscale != ALTO_GEMM_B_MX &&
      bscale != ALTO_GEMM_OUTER)
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8 gemm: B scale kind %d", (int)bscale);
  if (bscale == ALTO_GEMM_B_MX && (a->e5m2 || bop->e5m2))
    return alto_error(ALTO_ERR_INVALID_ARG, "fp8 gemm: MX-scaled operands are E4M3 (converted)");
  if (bscale != ALTO_GEMM_B_MX)
    return gemm_fp8_launch_(b, c, out_dtype, ldc, accumulate, a, bop, bscale, m, n, k, cfg, 0,
                            false);
  if (!bop->split || bop->split % 4)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "fp8 gemm: MX-scaled B needs its conversion's split counter (a 4-byte "
                      "aligned device u32 written by alto_gemm_mx_to_fp8 with shared scales)");
  /* the 128x128 kernel reads block j / 128's scale at its first row's place in the per-row grid
   * (every row of a shared block holds it); the 1x128 kernel the grid as it is. One of the two
   * returns at once, by the conversion's counter. */
  alto_gemm_fp8_operand blocks = *bop;
  blocks.s_r = bop->s_r * 128;
  /* one configuration that both kernels have (a 128x128 width, 1x128's depth) */
  const alto_gemm_config conf =
      cfg ? *cfg : alto_gemm_config_for(m, n, k, ALTO_GEMM_B_MX, alto_gemm_sm_count_());
  ALTO_TRY(gemm_fp8_launch_(b, c, out_dtype, ldc, accumulate, a, &blocks, ALTO_GEMM_B_128X128, m,
                            n, k, &conf, bop->split, false));
  return gemm_fp8_launch_(b, c, out_dtype, ldc, accumulate, a, bop, ALTO_GEMM_B_1X128, m, n, k,
                          &conf, bop->split, true);
}

static alto_status gemm_fp8_launch_(alto_backend *b, alto_dptr c, alto_dtype out_dtype,
                                    int64_t ldc, bool accumulate, const alto_gemm_fp8_operand *a,
                                    const alto_gemm_fp8_operand *bop, alto_gemm_bscale bscale,
                                    int64_t m, int64_t n, int64_t k, const alto_gemm_config *cfg,
                                    alto_dptr split, bool split_run) {
  alto_gemm_config conf = cfg ? *cfg : alto_gemm_config_for(m, n, k, bscale, alto_gemm_sm_count_());
  alto_gemmkern kern =
      alto_gemm_kernel_for(bscale, out_dtype == ALTO_DT_F32, accumulate, &conf, b->arch);
  kern.a_e5m2 = a->e5m2, kern.b_e5m2 = bop->e5m2;
  char key[256];
  alto_gemmkern_key(&kern, key, sizeof key);
  alto_jit_fn fn;
  ALTO_TRY(alto_jit_get_keyed(b, key, alto_gemm_gen_, &kern, &fn));
  if (!fn.fn)
    return ALTO_OK; /* recording (alto_jit_record): compile later, launch nothing */

  alto_gemm_args args;
  memset(&args, 0, sizeof args);
  const int64_t bm = ALTO_GEMM_BM_OF(kern.wgs);
  ALTO_TRY(alto_cuda_tensor_map_2d(&args.tma_a, ALTO_TMAP_U8, ALTO_TMAP_SWZ_128B, a->codes,
                                   (uint64_t)k, (uint64_t)m, (uint64_t)k, ALTO_GEMM_BK,
                                   (unsigned)bm));
  ALTO_TRY(alto_cuda_tensor_map_2d(&args.tma_b, ALTO_TMAP_U8, ALTO_TMAP_SWZ_128B, bop->codes,
                                   (uint64_t)k, (uint64_t)n, (uint64_t)k, ALTO_GEMM_BK,
                                   (unsigned)(conf.bn / kern.cluster)));
  /* the TMA epilogue (templates/gemm: its chunks are 64 bytes of columns, so the tile width must
   * hold whole chunks; C += only into fp32, which the TMA adds in L2) */
  const int esz = out_dtype == ALTO_DT_F32 ? 4 : 2;
  /* at every K: with the one-instruction bf16 pairs and the next tile's first wgmma issued before
   * the epilogue, the TMA stores beat the register stores at long K too (3-9% on the H100;
   * bench/NOTES.md, session 10) */
  args.c_tma = !conf.reg_epilogue && (conf.bn * esz) % 64 == 0 &&
               (!accumulate || out_dtype == ALTO_DT_F32) && c % 16 == 0 && (ldc * esz) % 16 == 0;
  if (args.c_tma)
    ALTO_TRY(alto_cuda_tensor_map_2d(&args.tma_c,
                                     out_dtype == ALTO_DT_F32 ? ALTO_TMAP_F32 : ALTO_TMAP_BF16,
                                     ALTO_TMAP_SWZ_64B, c, (uint64_t)n, (uint64_t)m,
                                     (uint64_t)(ldc * esz), (unsigned)(64 / esz), 64));
  args.sa = a->scales;
  args.sb = bop->scales;
  args.c = c;
  args.sa_r = a->s_r, args.sa_k = a->s_k;
  args.sb_r = bop->s_r, args.sb_k = bop->s_k;
  args.b_split = split;
  args.b_split_run = split_run;
  args.ldc = ldc;
  args.m = m, args.n = n, args.k = k;
  args.tiles_m = (m + bm - 1) / bm;
  args.tiles_n = (n + conf.bn - 1) / conf.bn;
  args.kblocks = (k + ALTO_GEMM_BK - 1) / ALTO_GEMM_BK;
  /* contiguous, 16-byte aligned scale columns load by one bulk copy per stage */
  args.sa_bulk = bscale != ALTO_GEMM_OUTER && a->s_r == 1 && m % 4 == 0 && a->s_k % 4 == 0 &&
                 a->scales % 16 == 0;
  args.sb_bulk = bscale == ALTO_GEMM_B_1X128 && bop->s_r == 1 && n % 4 == 0 && bop->s_k % 4 == 0 &&
                 bop->scales % 16 == 0;
  int64_t units = (args.tiles_m + kern.cluster - 1) / kern.cluster * args.tiles_n;
  int64_t ctas = units * kern.cluster < conf.ctas ? units * kern.cluster : conf.ctas;
  void *params[] = {&args};
  if (kern.cluster == 1) {
    unsigned grid[3] = {(unsigned)ctas, 1, 1};
    return b->i->launch(b, fn.fn, grid, (unsigned)fn.threads, (unsigned)fn.smem_bytes, params);
  }
  /* a persistent grid of pairs no larger than what is co-resident (GPCs with an odd SM count
   * leave an SM out) */
  int resident = 0;
  ALTO_TRY(alto_cuda_max_active_clusters(fn.fn, (unsigned)fn.threads, (unsigned)fn.smem_bytes,
                                         (unsigned)kern.cluster, &resident));
  if (resident >= 1 && ctas > (int64_t)resident * kern.cluster)
    ctas = (int64_t)resident * kern.cluster;
  ctas -= ctas % kern.cluster;
  return alto_cuda_launch_cluster(fn.fn, (unsigned)ctas, (unsigned)fn.threads,
                                  (unsigned)fn.smem_bytes, (unsigned)kern.cluster, params);
}

alto_status alto_gemm_mx_to_fp8(alto_backend *b, const alto_mx_src *src, bool share,
                                alto_dptr codes, alto_dptr scales, int64_t s_r, int64_t s_k,
                                alto_dptr inexact, alto_dptr split, int64_t R, int64_t K) {
  const alto_dptr ptrs[] = {codes, src->codes};
  ALTO_TRY(alto_gemm_check_(b, "mxfp4 -> e4m3", R, 1, K, ptrs, 2));
  if (K % 32)
    return alto_error(ALTO_ERR_INVALID_ARG, "mxfp4 -> e4m3: K = %lld is not a multiple of 32",
                      (long long)K);
  const int64_t kb = (K + 127) / 128;
  if (s_r < 1 || s_k < 1 || (s_r < kb && s_k < R))
    return alto_error(
        ALTO_ERR_INVALID_ARG,
        "mxfp4 -> e4m3: scale strides (%lld, %lld) for a [%lld, %lld] grid (row-major "
        "(%lld, 1) or MN-major (1, >= %lld))",
        (long long)s_r, (long long)s_k, (long long)R, (long long)kb, (long long)kb, (long long)R);
  if (share && (!split || split % 4))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "mxfp4 -> e4m3 (shared scales): the split counter must be a 4-byte aligned "
                      "device u32");
  if ((int)src->layout < 0 || (int)src->layout > 2 || src->mbr < 1 || src->ms_r < 0 ||
      src->ms_k < 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "mxfp4 -> e4m3: source layout %d, scale addressing (%lld, %lld, %lld)",
                      (int)src->layout, (long long)src->mbr, (long long)src->ms_r,
                      (long long)src->ms_k);
  if ((src->layout == ALTO_MX_KPAIRS_T && R % 16) || (src->layout == ALTO_MX_RPAIRS_T && R % 32))
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "mxfp4 -> e4m3: a transposed operand needs R (%lld) a multiple of %d",
                      (long long)R, src->layout == ALTO_MX_KPAIRS_T ? 16 : 32);
  alto_gen_kernel g;
  ALTO_TRY(alto_gen_mx_to_fp8(b->target, b->arch, share, (int)src->layout, &g));
  alto_jit_fn fn;
  alto_status st = alto_jit_get(b, &g, &fn);
  alto_gen_kernel_free(&g);
  ALTO_TRY(st);
  if (!fn.fn)
    return ALTO_OK;
  /* one CTA per 128 rows x `tiles` K tiles, as many as keep two CTAs per SM busy */
  int64_t tiles = ALTO_MX_TILES, rblocks = (R + 127) / 128;
  while (tiles > 1 && rblocks * ((kb + tiles - 1) / tiles) < 2 * alto_gemm_sm_count_())
    tiles /= 2;
  alto_mx2fp8_args args = {codes,    scales,    inexact,   src->codes, src->scales, R, K, s_r,
                           s_k,      split,     src->mbr,  src->ms_r,  src->ms_k,   tiles};
  int64_t ctas = rblocks * ((kb + tiles - 1) / tiles);
  if (ctas >= ((int64_t)1 << 31))
    return alto_error(ALTO_ERR_UNSUPPORTED, "mxfp4 -> e4m3: %lld x %lld is too large", (long long)R,
                      (long long)K);
  unsigned grid[3] = {(unsigned)ctas, 1, 1};
  void *params[] = {&args};
  return b->i->launch(b, fn.fn, grid, (unsigned)fn.threads, 0, params);
}
