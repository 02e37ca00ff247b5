/* bench/gemm: alto's own Hopper FP8 GEMM (runtime/gemm_gpu.h, templates/gemm/) against cuBLASLt on
 * the same operands, TFLOP/s = 2 M N K / time:
 *
 *   build/bench/bench_gemm [--csv] [M N K]   (default: 8192^3; DeepSeek-V3 at M = 4096:
 *                                             N x K = 7168x16384, 2112x7168, 24576x1536; Llama 3
 *                                             8B at M = 8192: 4096x4096, 14336x4096, 4096x14336)
 *        [--only KIND,KIND...]               run these columns only (csv names: lt_fprop, ...)
 *        [--bn N] [--stages S] [--cluster C] alto's kernels with this tile width, pipeline depth
 *                                             or cluster instead of alto_gemm_config_for's
 *        [--wgs W]                           alto's kernels with W consumer warpgroups (2: 128-row
 *                                             tiles; 3: 192-row tiles, at most 128 wide)
 *        [--reg-epilogue]                    alto's kernels write C by register stores, not TMA
 *        [--no-check]                        time without the correctness checks (experiments)
 *
 * Columns:
 *   bf16        cuBLASLt bf16 x bf16, fp32 accumulation, bf16 out
 *   fp8 tensor  cuBLASLt FP8 E4M3, one fp32 scale per operand (the ceiling without block scales)
 *   lt fprop    cuBLASLt FP8 A 1x128 x B 128x128 (scales converted to its layout ahead), bf16 out
 *   lt wgrad    cuBLASLt FP8 A 1x128 x B 1x128 (likewise), bf16 out
 *   alto fprop  alto_gemm_fp8, B 128x128, bf16 out
 *   alto wgrad  alto_gemm_fp8, B 1x128, fp32 out, C += (the training step accumulates dW in fp32)
 *   alto mxfp4  alto_gemm_fp8, B MX-scaled, bf16 out, on E4M3 operands converted from MXFP4 (the
 *               tile form of alto_gemm_mx_to_fp8: A per row, B with 128x128 shared scales)
 *   mxfp4+conv  the same, the two conversions (A and B) inside the timing
 *   alto rowwise alto_gemm_fp8, OUTER scales (rowwise FP8, torchao: one divisor per row of A and
 *               of B, applied in the epilogue), bf16 out
 * Ratios, and the targets alto's kernels are built to meet:
 *   fprop = alto fprop / lt fprop   >= 1.1
 *   wgrad = alto wgrad / lt wgrad   >= 1.4  (cuBLASLt timed with bf16 out, no C read: the
 *                                            comparison is conservative for alto)
 *   mxfp4 = alto mxfp4 / bf16       >= 1.25 (GEMM only; "+conv" with the conversions, reported)
 *   row = alto rowwise / fp8 tensor (reported: per-tensor FP8 is the ceiling of a rowwise GEMM)
 *
 * Before timing, every alto result is compared with cuBLASLt's block-scaled result on the same
 * operands (fprop with lt fprop; wgrad, from C = 0, with lt wgrad; mxfp4 with cuBLASLt 1x128 x
 * 1x128 on the converted codes and scales; rowwise with fp8 tensor, the rows' divisors 250 being
 * the reciprocal of the per-tensor scales 0.004): relative Frobenius error below 1e-2 (bf16 references;
 * NUMERICS.md 8 allows 8e-3 for bf16 output alone); a row that fails says FAIL instead of a time
 * and the exit code is 1. Timing as bench_cublaslt: 3 warm-up calls (the first compiles alto's
 * kernel), then the median of 7 timings of 10 back-to-back calls (device events, no L2 flush).
 * The converted MXFP4 scales are written MN-major (cuBLASLt's layout), so both libraries read them
 * as they are. Inputs: E4M3 codes with moderate exponents (never zero or NaN), positive fp32
 * scales, bf16 randn with outliers, E2M1 nibbles with E8M0 exponents 120..127 (the conversion is
 * then exact), all as a repeated random 1 MiB pattern. K must be a multiple of 128 and N of 16
 * (cuBLASLt's FP8 rules).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/gemm/bench_gemm_util.h"
#include "compiler/gen_gemm.h"
#include "compiler/ir.h"
#include "runtime/backend.h"
#include "runtime/cuda/cublaslt.h"
#include "runtime/cuda/driver.h"
#include "runtime/gemm_gpu.h"
#include "tests/harness.h"

#define CHECK_TOL 1e-2

static alto_backend *B;
static int force_bn, force_stages, force_cluster, force_wgs; /* 0: alto_gemm_config_for's choice */
static int force_reg_epilogue;
static int sm_count = 132;                        /* the device's, set in main */
static unsigned only_mask = ~0u;                  /* columns to run (--only) */
static bool no_check;                             /* --no-check: time without the checks */
static float pat_row[BENCH_PAT_BYTES / 4];         /* the rowwise divisors (250) */

enum {
  KIND_BF16,
  KIND_FP8_TENSOR,
  KIND_LT_FPROP,
  KIND_LT_WGRAD,
  KIND_ALTO_FPROP,
  KIND_ALTO_WGRAD,
  KIND_ALTO_MXFP4,
  KIND_ALTO_MXFP4_CONV,
  KIND_LT_MXFP4_CONV, /* the same conversion, then cuBLASLt's 1x128 x 1x128 FP8 GEMM */
  KIND_ALTO_ROWWISE,
  KIND_COUNT
};
static const char *const kind_names[KIND_COUNT] = {"bf16",       "fp8 tensor", "lt fprop",
                                                   "lt wgrad",   "alto fprop", "alto wgrad",
                                                   "alto mxfp4", "mxfp4+conv", "lt mx+conv",
                                                   "alto row"};
static const char *const kind_csv[KIND_COUNT] = {"bf16",       "fp8_tensor",     "lt_fprop",
                                                 "lt_wgrad",   "alto_fprop",     "alto_wgrad",
                                                 "alto_mxfp4", "alto_mxfp4_conv",
                                                 "lt_mxfp4_conv", "alto_rowwise"};

/* Every buffer of one shape (device pointers; scales in alto's layout unless "lt"). */
typedef struct {
  int64_t m, n, k, kb;
  alto_cuda_ptr a16, b16;             /* bf16 [M, K], [N, K] */
  alto_cuda_ptr a8, b8;               /* E4M3 [M, K], [N, K] */
  alto_cuda_ptr sa, sb2, sb1;         /* fp32 [M, kb], [ceil(N/128), kb], [N, kb] */
  alto_cuda_ptr lsa, lsb2, lsb1;      /* the same in cuBLASLt's layouts */
  alto_cuda_ptr tscale;               /* per-tensor scales of A (at 0) and B (at 16 bytes) */
  alto_cuda_ptr mxa, mxsa, mxb, mxsb; /* MXFP4 codes [R, K/2] and E8M0 scales [R, K/32] */
  alto_cuda_ptr ea, esa, eb, esb;     /* converted: E4M3 [R, K], fp32 [kb, R4] (MN-major, which
                                       * is cuBLASLt's 1x128 layout too) */
  alto_cuda_ptr c, c_ref, c32;        /* bf16 [M, N] (twice), fp32 [M, N] */
  alto_cuda_ptr split;                /* u32: B's 128x128 blocks the 2-D conversion could not share */
  alto_cuda_ptr rsa, rsb;             /* rowwise divisors fp32 [M], [N] (all 250) */
} bench_bufs;

typedef struct {
  int kind;
  const bench_bufs *d;
  alto_status st;
} gemm_ctx;

static alto_gemm_fp8_operand fp8_op(alto_cuda_ptr codes, alto_cuda_ptr scales, int64_t kb) {
  return (alto_gemm_fp8_operand){codes, scales, kb, 1, 0, false};
}

/* The MXFP4 operands as E4M3, as the training step converts them: A with per-row
 * scales, B with 128x128-shared ones (its counter zeroed first), both scale grids MN-major. */
static alto_status convert_mx(const bench_bufs *d) {
  const int64_t m4 = (d->m + 3) / 4 * 4, n4 = (d->n + 3) / 4 * 4;
  const alto_mx_src src = {d->mxa, d->mxsa, ALTO_MX_ROWS, 1, d->k / 32, 1};
  ALTO_TRY(alto_gemm_mx_to_fp8(B, &src, false, d->ea, d->esa, 1, m4, 0, 0, d->m, d->k));
  ALTO_TRY(B->i->memset(B, d->split, 0, 4));
  const alto_mx_src srcb = {d->mxb, d->mxsb, ALTO_MX_ROWS, 1, d->k / 32, 1};
  return alto_gemm_mx_to_fp8(B, &srcb, true, d->eb, d->esb, 1, n4, 0, d->split, d->n, d->k);
}

/* alto's configuration for this shape with the command line's overrides; NULL: none given. */
static const alto_gemm_config *forced_config(alto_gemm_config *c, int64_t m, int64_t n, int64_t k,
                                             alto_gemm_bscale bs) {
  if (!force_bn && !force_stages && !force_cluster && !force_wgs && !force_reg_epilogue)
    return NULL;
  *c = alto_gemm_config_for(m, n, k, bs, sm_count);
  c->reg_epilogue = force_reg_epilogue;
  if (force_bn)
    c->bn = force_bn;
  if (force_stages)
    c->stages = force_stages;
  if (force_cluster)
    c->cluster = force_cluster;
  if (force_wgs)
    c->wgs = force_wgs;
  if (c->wgs == 3 && c->bn > ALTO_GEMM_WGS3_MAX_BN)
    c->bn = ALTO_GEMM_WGS3_MAX_BN;
  if ((force_bn || force_wgs) && !force_stages) /* the deepest ring that fits the forced tile */
    c->stages = alto_gemm_max_stages_wgs(bs, c->bn, c->wgs);
  const int64_t bm = ALTO_GEMM_BM_OF(c->wgs);
  int64_t units = (m + bm * c->cluster - 1) / (bm * c->cluster) * ((n + c->bn - 1) / c->bn);
  int64_t slots = sm_count / c->cluster;
  c->ctas = (int)((units < slots ? units : slots) * c->cluster);
  return c;
}

static alto_status run_kind(int kind, const bench_bufs *d, alto_cuda_ptr c) {
  const int64_t m = d->m, n = d->n, k = d->k, kb = d->kb;
  alto_gemm_config cf1, cf2, cf3, cf4;
  const alto_gemm_config *cfg4 = forced_config(&cf4, m, n, k, ALTO_GEMM_OUTER);
  const alto_gemm_config *cfg1 = forced_config(&cf1, m, n, k, ALTO_GEMM_B_1X128),
                         *cfg2 = forced_config(&cf2, m, n, k, ALTO_GEMM_B_128X128),
                         *cfg3 = forced_config(&cf3, m, n, k, ALTO_GEMM_B_MX);
  alto_cublaslt_fp8_operand la = {d->a8, d->lsa, ALTO_CUBLASLT_SCALE_1X128, ALTO_DT_FP8_E4M3, true};
  alto_cublaslt_fp8_operand lb2 = {d->b8, d->lsb2, ALTO_CUBLASLT_SCALE_128X128, ALTO_DT_FP8_E4M3,
                                   true};
  alto_cublaslt_fp8_operand lb1 = {d->b8, d->lsb1, ALTO_CUBLASLT_SCALE_1X128, ALTO_DT_FP8_E4M3,
                                   true};
  /* the converted MXFP4 operands: their scale grids are MN-major, cuBLASLt's 1x128 layout */
  alto_cublaslt_fp8_operand lea = {d->ea, d->esa, ALTO_CUBLASLT_SCALE_1X128, ALTO_DT_FP8_E4M3,
                                   true},
                            leb = {d->eb, d->esb, ALTO_CUBLASLT_SCALE_1X128, ALTO_DT_FP8_E4M3,
                                   true};
  /* the 1x128 scale grids MN-major ([K/128, rows], cuBLASLt's layout: what the training step
   * hands both GEMMs, and what the MXFP4 conversion writes here), the 128x128 grid row-major */
  const int64_t m4 = (m + 3) / 4 * 4, n4 = (n + 3) / 4 * 4;
  alto_gemm_fp8_operand oa = {d->a8, d->lsa, 1, m4, 0, false}, ob2 = fp8_op(d->b8, d->sb2, kb),
                        ob1 = {d->b8, d->lsb1, 1, n4, 0, false},
                        oea = {d->ea, d->esa, 1, m4, 0, false},
                        oeb = {d->eb, d->esb, 1, n4, d->split, false},
                        ora = {d->a8, d->rsa, 1, 0, 0, false}, orb = {d->b8, d->rsb, 1, 0, 0, false};
  switch (kind) {
  case KIND_BF16:
    return alto_cublaslt_gemm_bf16(c, d->a16, d->b16, m, n, k, false, false, false, ALTO_DT_BF16);
  case KIND_FP8_TENSOR:
    return alto_cublaslt_gemm_fp8_tensor(c, d->a8, d->tscale, d->b8, d->tscale + 16, m, n, k,
                                         false, ALTO_DT_BF16);
  case KIND_LT_FPROP:
    return alto_cublaslt_gemm_fp8_block(c, &la, &lb2, m, n, k, false, ALTO_DT_BF16);
  case KIND_LT_WGRAD:
    return alto_cublaslt_gemm_fp8_block(c, &la, &lb1, m, n, k, false, ALTO_DT_BF16);
  case KIND_ALTO_FPROP:
    return alto_gemm_fp8(B, c, ALTO_DT_BF16, n, false, &oa, &ob2, ALTO_GEMM_B_128X128, m, n, k,
                         cfg2);
  case KIND_ALTO_WGRAD: /* c is the fp32 buffer here */
    return alto_gemm_fp8(B, c, ALTO_DT_F32, n, true, &oa, &ob1, ALTO_GEMM_B_1X128, m, n, k, cfg1);
  case KIND_ALTO_MXFP4_CONV:
  case KIND_LT_MXFP4_CONV:
    ALTO_TRY(convert_mx(d));
    if (kind == KIND_LT_MXFP4_CONV)
      return alto_cublaslt_gemm_fp8_block(c, &lea, &leb, m, n, k, false, ALTO_DT_BF16);
    /* fall through */
  case KIND_ALTO_MXFP4:
    return alto_gemm_fp8(B, c, ALTO_DT_BF16, n, false, &oea, &oeb, ALTO_GEMM_B_MX, m, n, k,
                         cfg3);
  case KIND_ALTO_ROWWISE:
    return alto_gemm_fp8(B, c, ALTO_DT_BF16, n, false, &ora, &orb, ALTO_GEMM_OUTER, m, n, k, cfg4);
  default:
    return ALTO_ERR_INVALID_ARG;
  }
}

static void run_once(void *p) {
  gemm_ctx *g = p;
  if (g->st != ALTO_OK)
    return;
  g->st = run_kind(g->kind, g->d, g->kind == KIND_ALTO_WGRAD ? g->d->c32 : g->d->c);
}


/* Relative Frobenius error of `got` (bf16 or fp32) against the bf16 reference; INFINITY when a
 * value is not finite or the download fails. */
static double rel_err(alto_cuda_ptr got, alto_dtype t, alto_cuda_ptr ref, int64_t count) {
  size_t es = t == ALTO_DT_BF16 ? 2 : 4;
  uint8_t *g = malloc((size_t)count * es);
  uint16_t *r = malloc((size_t)count * 2);
  double num = 0, den = 0;
  if (!g || !r || alto_cuda_sync() || alto_cuda_d2h(g, got, (size_t)count * es) ||
      alto_cuda_d2h(r, ref, (size_t)count * 2))
    num = INFINITY;
  for (int64_t i = 0; i < count && isfinite(num); i++) {
    double x;
    if (t == ALTO_DT_BF16)
      x = alto_bf16_to_f32(((uint16_t *)g)[i]);
    else
      x = ((float *)g)[i];
    double y = alto_bf16_to_f32(r[i]);
    if (!isfinite(x) || !isfinite(y)) {
      num = INFINITY;
      break;
    }
    num += (x - y) * (x - y);
    den += y * y;
  }
  free(g), free(r);
  return isfinite(num) && den > 0 ? sqrt(num / den) : INFINITY;
}

/* alto's result of `kind` against cuBLASLt's `ref_kind` on the same operands. */
static double check_kind(const bench_bufs *d, int kind, int ref_kind) {
  alto_cuda_ptr out = kind == KIND_ALTO_WGRAD ? d->c32 : d->c;
  alto_status st = run_kind(ref_kind, d, d->c_ref);
  if (st != ALTO_OK) {
    fprintf(stderr, "bench_gemm: %s (reference of %s): %s\n", kind_names[ref_kind],
            kind_names[kind], alto_last_error());
    return INFINITY;
  }
  /* the wgrad kernel accumulates: start from C = 0 */
  if (kind == KIND_ALTO_WGRAD && alto_cuda_memset(d->c32, 0, (size_t)(d->m * d->n) * 4))
    return INFINITY;
  st = run_kind(kind, d, out);
  if (st != ALTO_OK) {
    fprintf(stderr, "bench_gemm: %s: %s\n", kind_names[kind], alto_last_error());
    return INFINITY;
  }
  return rel_err(out, kind == KIND_ALTO_WGRAD ? ALTO_DT_F32 : ALTO_DT_BF16, d->c_ref, d->m * d->n);
}

/* The buffers in declaration order (allocation and freeing walk them). */
enum { NBUF = 25 };
static alto_cuda_ptr *buf_slot(bench_bufs *d, int i) {
  alto_cuda_ptr *all[NBUF] = {&d->a16,  &d->b16, &d->a8,    &d->b8,   &d->sa,     &d->sb2,
                              &d->sb1,  &d->lsa, &d->lsb2,  &d->lsb1, &d->tscale, &d->mxa,
                              &d->mxsa, &d->mxb, &d->mxsb,  &d->ea,   &d->esa,    &d->eb,
                              &d->esb,  &d->c,   &d->c_ref, &d->c32, &d->split, &d->rsa,
                              &d->rsb};
  return all[i];
}

/* Allocates and fills every buffer; ALTO_OK or the first failure. */
static alto_status bufs_make(bench_bufs *d, int64_t m, int64_t n, int64_t k) {
  memset(d, 0, sizeof *d);
  d->m = m, d->n = n, d->k = k, d->kb = k / 128;
  const size_t mk = (size_t)(m * k), nk = (size_t)(n * k), mn = (size_t)(m * n);
  const size_t kb = (size_t)d->kb, nb = (size_t)((n + 127) / 128);
  size_t bytes[NBUF] = {mk * 2,
                        nk * 2,
                        mk,
                        nk,
                        (size_t)m * kb * 4,
                        nb * kb * 4,
                        (size_t)n * kb * 4,
                        alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, m, k),
                        alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_128X128, n, k),
                        alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, n, k),
                        32,
                        mk / 2,
                        mk / 32,
                        nk / 2,
                        nk / 32,
                        mk,
                        alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, m, k),
                        nk,
                        alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, n, k),
                        mn * 2,
                        mn * 2,
                        mn * 4,
                        16,
                        (size_t)m * 4,
                        (size_t)n * 4};
  for (int i = 0; i < NBUF; i++)
    ALTO_TRY(alto_cuda_malloc(buf_slot(d, i), bytes[i]));
  float tscale[8] = {0.004f, 0, 0, 0, 0.004f, 0, 0, 0}; /* cuBLASLt: 16-byte aligned scales */
  ALTO_TRY(bench_fill_pattern(d->a16, mk * 2, pat_bf16, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->b16, nk * 2, pat_bf16, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->a8, mk, pat_e4m3, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->b8, nk, pat_e4m3, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->sa, (size_t)m * kb * 4, pat_scale, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->sb2, nb * kb * 4, pat_scale, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->sb1, (size_t)n * kb * 4, pat_scale, BENCH_PAT_BYTES));
  ALTO_TRY(alto_cuda_h2d(d->tscale, tscale, sizeof tscale));
  for (size_t i = 0; i < BENCH_PAT_BYTES / 4; i++)
    pat_row[i] = 250.f; /* 1 / 0.004 (the per-tensor scales): the rowwise check's reference */
  ALTO_TRY(bench_fill_pattern(d->rsa, (size_t)m * 4, pat_row, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->rsb, (size_t)n * 4, pat_row, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->mxa, mk / 2, pat_e2m1, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->mxb, nk / 2, pat_e2m1, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->mxsa, mk / 32, pat_e8m0, BENCH_PAT_BYTES));
  ALTO_TRY(bench_fill_pattern(d->mxsb, nk / 32, pat_e8m0, BENCH_PAT_BYTES));
  ALTO_TRY(alto_cublaslt_convert_scales(d->lsa, d->sa, ALTO_CUBLASLT_SCALE_1X128, m, k));
  ALTO_TRY(alto_cublaslt_convert_scales(d->lsb2, d->sb2, ALTO_CUBLASLT_SCALE_128X128, n, k));
  ALTO_TRY(alto_cublaslt_convert_scales(d->lsb1, d->sb1, ALTO_CUBLASLT_SCALE_1X128, n, k));
  /* the MXFP4 operands converted once (the GEMM-only timing and the check read these) */
  ALTO_TRY(convert_mx(d));
  ALTO_TRY(alto_cuda_sync());
  uint32_t split = 0; /* (the bench's E8M0 bytes span 8: every block shares its scale) */
  ALTO_TRY(alto_cuda_d2h(&split, d->split, 4));
  if (split)
    fprintf(stderr, "bench_gemm: %u of B's 128x128 blocks kept per-row scales\n", split);
  return ALTO_OK;
}

static void bufs_free(bench_bufs *d) {
  alto_cuda_sync();
  for (int i = 0; i < NBUF; i++)
    alto_cuda_free(*buf_slot(d, i));
}

typedef struct {
  double tflops[KIND_COUNT]; /* NaN: failed or not run */
  double err[KIND_COUNT];    /* alto kinds: the check's relative error */
  bool fail[KIND_COUNT];     /* alto kinds: the check failed */
} shape_result;

/* The cuBLASLt result each alto kind is checked against. */
static int reference_of(int kind) {
  if (kind == KIND_ALTO_ROWWISE)
    return KIND_FP8_TENSOR;
  return kind == KIND_ALTO_FPROP ? KIND_LT_FPROP : KIND_LT_WGRAD;
}

static void bench_shape(int64_t m, int64_t n, int64_t k, shape_result *r) {
  for (int i = 0; i < KIND_COUNT; i++)
    r->tflops[i] = NAN, r->err[i] = NAN, r->fail[i] = false;
  bench_bufs d;
  if (bufs_make(&d, m, n, k) != ALTO_OK) {
    fprintf(stderr, "bench_gemm: %lldx%lldx%lld: %s\n", (long long)m, (long long)n, (long long)k,
            alto_last_error());
    for (int i = KIND_ALTO_FPROP; i < KIND_COUNT; i++)
      r->fail[i] = true;
    bufs_free(&d);
    return;
  }
  /* correctness first: the mxfp4 check reads the converted operands; the +conv kind rewrites
   * them with the same values */
  bench_bufs conv = d;
  conv.lsa = d.esa, conv.lsb1 = d.esb, conv.a8 = d.ea, conv.b8 = d.eb;
  for (int kind = KIND_ALTO_FPROP; kind < KIND_COUNT; kind++) {
    if (!(only_mask >> kind & 1))
      continue;
    bool mx = kind == KIND_ALTO_MXFP4 || kind == KIND_ALTO_MXFP4_CONV;
    if (no_check || kind == KIND_LT_MXFP4_CONV) /* (lt mx+conv is the mxfp4 checks' reference) */
      continue;
    r->err[kind] = check_kind(mx ? &conv : &d, kind, reference_of(kind));
    r->fail[kind] = !(r->err[kind] < CHECK_TOL);
  }
  double flops = 2.0 * (double)m * (double)n * (double)k;
  for (int kind = 0; kind < KIND_COUNT; kind++) {
    if (r->fail[kind] || !(only_mask >> kind & 1))
      continue;
    gemm_ctx g = {kind, &d, ALTO_OK};
    float ms = bench_median_ms(B, run_once, &g, &g.st, 10);
    if (g.st != ALTO_OK)
      fprintf(stderr, "bench_gemm: %s %lldx%lldx%lld: %s\n", kind_names[kind], (long long)m,
              (long long)n, (long long)k, alto_last_error());
    else
      r->tflops[kind] = flops / (ms * 1e-3) / 1e12;
  }
  bufs_free(&d);
}

static void print_cell(bool csv, bool fail, double v, int width) {
  if (csv)
    printf(",%s", fail ? "FAIL" : "");
  if (csv && !fail)
    printf("%.1f", v);
  if (!csv && fail)
    printf(" %*s", width, "FAIL");
  else if (!csv)
    printf(" %*.1f", width, v);
}

int main(int argc, char **argv) {
  bool csv = false;
  int64_t shapes[8][3] = {{8192, 8192, 8192},  {4096, 7168, 16384}, {4096, 2112, 7168},
                          {4096, 24576, 1536}, {8192, 4096, 4096},  {8192, 14336, 4096},
                          {8192, 4096, 14336}};
  int ns = 7;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--csv") == 0)
      csv = true;
    else if (strcmp(argv[i], "--no-check") == 0)
      no_check = true;
    else if (strcmp(argv[i], "--bn") == 0 && i + 1 < argc)
      force_bn = atoi(argv[++i]);
    else if (strcmp(argv[i], "--stages") == 0 && i + 1 < argc)
      force_stages = atoi(argv[++i]);
    else if (strcmp(argv[i], "--cluster") == 0 && i + 1 < argc)
      force_cluster = atoi(argv[++i]);
    else if (strcmp(argv[i], "--wgs") == 0 && i + 1 < argc) {
      force_wgs = atoi(argv[++i]);
      if (force_wgs != 2 && force_wgs != 3) {
        fprintf(stderr, "bench_gemm: --wgs %s: consumer warpgroups are 2 or 3\n", argv[i]);
        return 2;
      }
    }
    else if (strcmp(argv[i], "--reg-epilogue") == 0)
      force_reg_epilogue = 1;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only_mask = 0;
      char list[256];
      snprintf(list, sizeof list, "%s", argv[++i]);
      for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
        int k = 0;
        while (k < KIND_COUNT && strcmp(kind_csv[k], t) != 0)
          k++;
        if (k == KIND_COUNT) {
          fprintf(stderr, "bench_gemm: --only %s: not a column (", t);
          for (int j = 0; j < KIND_COUNT; j++)
            fprintf(stderr, "%s%s", kind_csv[j], j + 1 < KIND_COUNT ? ", " : ")\n");
          return 2;
        }
        only_mask |= 1u << k;
      }
    } else if (i + 2 < argc) {
      shapes[0][0] = atoll(argv[i]);
      shapes[0][1] = atoll(argv[i + 1]);
      shapes[0][2] = atoll(argv[i + 2]);
      ns = 1;
      i += 2;
    } else {
      fprintf(stderr, "usage: bench_gemm [--csv] [--only KIND,...] [--bn N] [--stages S] "
                      "[--cluster C] [--wgs W] [--reg-epilogue] [--no-check] [M N K]\n");
      return 2;
    }
  }
  for (int s = 0; s < ns; s++)
    if (shapes[s][0] < 1 || shapes[s][1] < 16 || shapes[s][1] % 16 || shapes[s][2] < 128 ||
        shapes[s][2] % 128) {
      fprintf(stderr,
              "bench_gemm: %lldx%lldx%lld: N must be a multiple of 16 and K of 128 (cuBLASLt's "
              "FP8 block scaling, the reference of every check)\n",
              (long long)shapes[s][0], (long long)shapes[s][1], (long long)shapes[s][2]);
      return 2;
    }
  if (alto_cublaslt_load() != ALTO_OK || alto_backend_open("cuda", &B) != ALTO_OK) {
    fprintf(stderr, "bench_gemm: %s\n", alto_last_error());
    return 77;
  }
  if (alto_cublaslt_init() != ALTO_OK) {
    fprintf(stderr, "bench_gemm: %s\n", alto_last_error());
    return 1;
  }
  alto_cuda_device_info info;
  if (alto_cuda_device(&info) != ALTO_OK) {
    fprintf(stderr, "bench_gemm: %s\n", alto_last_error());
    return 1;
  }
  sm_count = info.sm_count;
  bench_make_patterns();
  if (csv) {
    printf("M,N,K");
    for (int i = 0; i < KIND_COUNT; i++)
      printf(",%s", kind_csv[i]);
    printf(",ratio_fprop,ratio_wgrad,ratio_mxfp4,ratio_mxfp4_conv,ratio_lt_mxfp4_conv,ratio_rowwise,"
           "err_fprop,err_wgrad,err_mxfp4,err_mxfp4_conv,err_lt_mxfp4_conv,err_rowwise\n");
  } else {
    printf("GPU %s (%d SMs), cuBLASLt %zu; TFLOP/s (median of 7 x 10 calls)\n"
           "ratios: fprop = alto fprop / lt fprop (target >= 1.1), wgrad = alto wgrad / lt wgrad "
           "(>= 1.4), mxfp4 = alto mxfp4 / bf16 (>= 1.25; +conv beside it), lt mx = lt mx+conv / "
           "bf16, row = alto row / fp8 tensor\n\n%-20s",
           B->device_name, info.sm_count, alto_cublaslt_version(), "M x N x K");
    for (int i = 0; i < KIND_COUNT; i++)
      printf(" %10s", kind_names[i]);
    printf(" %6s %6s %6s %6s %6s %6s\n", "fprop", "wgrad", "mxfp4", "+conv", "lt mx", "row");
  }
  int failed = 0;
  for (int s = 0; s < ns; s++) {
    int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    shape_result r;
    bench_shape(m, n, k, &r);
    double ratio[6] = {r.tflops[KIND_ALTO_FPROP] / r.tflops[KIND_LT_FPROP],
                       r.tflops[KIND_ALTO_WGRAD] / r.tflops[KIND_LT_WGRAD],
                       r.tflops[KIND_ALTO_MXFP4] / r.tflops[KIND_BF16],
                       r.tflops[KIND_ALTO_MXFP4_CONV] / r.tflops[KIND_BF16],
                       r.tflops[KIND_LT_MXFP4_CONV] / r.tflops[KIND_BF16],
                       r.tflops[KIND_ALTO_ROWWISE] / r.tflops[KIND_FP8_TENSOR]};
    if (csv)
      printf("%lld,%lld,%lld", (long long)m, (long long)n, (long long)k);
    else {
      char dims[64];
      snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)m, (long long)n, (long long)k);
      printf("%-20s", dims);
    }
    for (int i = 0; i < KIND_COUNT; i++) {
      print_cell(csv, r.fail[i], r.tflops[i], 10);
      failed += r.fail[i];
    }
    for (int i = 0; i < 6; i++) {
      if (csv)
        printf(",%.3f", ratio[i]);
      else
        printf(" %6.2f", ratio[i]);
    }
    if (csv) {
      for (int i = KIND_ALTO_FPROP; i < KIND_COUNT; i++)
        printf(",%.3g", r.err[i]);
      printf("\n");
    } else {
      printf("\n");
      alto_gemm_config cf, cw;
      if (!forced_config(&cf, m, n, k, ALTO_GEMM_B_128X128))
        cf = alto_gemm_config_for(m, n, k, ALTO_GEMM_B_128X128, sm_count);
      if (!forced_config(&cw, m, n, k, ALTO_GEMM_B_1X128))
        cw = alto_gemm_config_for(m, n, k, ALTO_GEMM_B_1X128, sm_count);
      fprintf(stderr,
              "  check vs cuBLASLt: fprop %.2e wgrad %.2e mxfp4 %.2e +conv %.2e rowwise %.2e; "
              "config fprop bn %d s%d c%d ctas %d, 1x128 bn %d s%d c%d ctas %d\n",
              r.err[KIND_ALTO_FPROP], r.err[KIND_ALTO_WGRAD], r.err[KIND_ALTO_MXFP4],
              r.err[KIND_ALTO_MXFP4_CONV], r.err[KIND_ALTO_ROWWISE], cf.bn, cf.stages, cf.cluster, cf.ctas, cw.bn, cw.stages,
              cw.cluster, cw.ctas);
    }
    fflush(stdout);
  }
  alto_cublaslt_shutdown();
  alto_backend_close(B);
  return failed ? 1 : 0;
}
