/* The tile configuration of alto's Hopper FP8 GEMM (compiler/gen_gemm.h) as a pure function, and
 * the descriptor checks of its generator (no GPU, no compiler needed):
 *   - alto_gemm_config_for over many shapes (the benchmark shapes, tiny ones, M and N tails, odd N)
 *     on 132, 114 and 1 SMs, every kernel scale kind (B 1x128, 128x128, OUTER): the tile width is one the template supports (a
 *     multiple of 16 in [64, 192] or 256 (two 128-wide sub-tiles); with 128x128 B scales not 176,
 *     the one width whose tiles can span three scale blocks) and the one the header's rule picks
 *     (the best product of the share of the
 *     grid's tile slots holding outputs and the operand reuse bn / (128 + bn)), the pipeline depth
 * is in [2, 8] and is the deepest that fits in shared memory for every output dtype, 1 <= CTAs <=
 * min(SMs, tiles), row-tile groups of 8 (fewer only when there are fewer row tiles), and the same
 * inputs give the same answer;
 *   - every kernel the configuration can pick is one alto_gemm_variants lists (so alto-compile
 *     builds exactly what the runtime launches), and the variant keys are distinct;
 *   - alto_gemmkern_key in the format of the header's example;
 *   - alto_gen_gemm refuses descriptors the template does not support (ALTO_ERR_INVALID_ARG), and
 *     accepts a tile width and depth exactly when their shared memory fits. */
#include <string.h>

#include "compiler/gen_gemm.h"
#include "runtime/gemm_gpu.h"
#include "tests/harness.h"

#define MAX_VARIANTS 320
static alto_gemmkern variants[MAX_VARIANTS];
static int n_variants;

static const int64_t shapes[][3] = {
    /* bench/gemm/bench_gemm.c: 8192^3, DeepSeek-V3, Llama 3 8B at M = 8192 */
    {8192, 8192, 8192},
    {4096, 7168, 16384},
    {4096, 2112, 7168},
    {4096, 24576, 1536},
    {8192, 4096, 4096},
    {8192, 14336, 4096},
    {8192, 4096, 14336},
    /* tiny, tails, odd N (the configuration is pure: any N, K) */
    {1, 1, 16},
    {1, 16, 16},
    {128, 128, 128},
    {4096 + 96, 256, 7168},
    {200, 72, 336},
    {257, 1000, 512},
    {130, 136, 1024},
    {129, 4097, 4096},
    {4096, 1, 4096},
    {1, 4096, 4096},
    {7, 333, 48},
    {65536, 160, 128},
    {16384, 65536, 1024},
    {300, 96, 7168},
    {1024, 1024, 1024},
    {2048, 80, 256},
};

static const char *bscale_name(alto_gemm_bscale b) {
  return b == ALTO_GEMM_B_128X128 ? "128x128" : b == ALTO_GEMM_OUTER ? "outer" : "1x128";
}

/* The kernel scale kinds (MX runs as two of them). */
static const alto_gemm_bscale kinds[3] = {ALTO_GEMM_B_1X128, ALTO_GEMM_B_128X128, ALTO_GEMM_OUTER};

static int64_t cdiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

static int variant_index(const char *key) {
  char k[256];
  for (int i = 0; i < n_variants && i < MAX_VARIANTS; i++) {
    alto_gemmkern_key(&variants[i], k, sizeof k);
    if (strcmp(k, key) == 0)
      return i;
  }
  return -1;
}

/* The header's choice of tile width, computed here from its words: over the widths of the scale
 * kind, maximize (M N / (waves x SMs x 128 x bn)) x (bn / (128 + bn)), waves = ceil(tiles / SMs);
 * ties (to a relative 1e-9) go to the wider tile. */
static const int widths[] = {64, 80, 96, 112, 128, 144, 160, 176, 192, 256};
#define N_WIDTHS ((int)(sizeof widths / sizeof widths[0]))

/* Tiles start at multiples of gcd(w, 128) inside a 128-column scale block: at most two blocks per
 * tile when 128 - gcd(w, 128) + w <= 256. */
static bool block_width(int w) {
  int g = 128;
  while (w % g)
    g /= 2;
  return 128 - g + w <= 256;
}

/* The consumer warpgroups the header's rule gives: three for 1x128 B when M > 128. */
static int expected_wgs(int64_t m, alto_gemm_bscale bs) {
  return bs == ALTO_GEMM_B_1X128 && m > 128 ? 3 : 2;
}

static int expected_width(int64_t m, int64_t n, alto_gemm_bscale bs, int sm) {
  int best = 0;
  double best_eff = -1;
  const int wgs = expected_wgs(m, bs), bm = 64 * wgs;
  for (int i = 0; i < N_WIDTHS; i++) {
    int w = widths[i];
    if (bs == ALTO_GEMM_B_128X128 && !block_width(w))
      continue;
    if (wgs == 3 && w > 128)
      continue;
    int64_t tiles = cdiv(m, bm) * cdiv(n, w);
    double slots = (double)cdiv(tiles, sm) * sm * bm * w;
    double eff = (double)m * (double)n / slots * w / (bm + w);
    if (eff > best_eff * (1 + 1e-9) || (eff >= best_eff * (1 - 1e-9) && w > best))
      best = w, best_eff = eff;
  }
  return best;
}

/* The kernel of cfg with `stages` replaced (for the "deepest that fits" check). */
static int smem_with_stages(alto_gemm_bscale bs, bool f32, bool acc, const alto_gemm_config *cfg,
                            int stages) {
  alto_gemm_config c = *cfg;
  c.stages = stages;
  alto_gemmkern k = alto_gemm_kernel_for(bs, f32, acc, &c, "sm_90a");
  return alto_gemm_smem_bytes(&k);
}

static void check_one(int64_t m, int64_t n, int64_t k, alto_gemm_bscale bs, int sm) {
  char what[160];
  snprintf(what, sizeof what, "M=%lld N=%lld K=%lld B %s, %d SMs", (long long)m, (long long)n,
           (long long)k, bscale_name(bs), sm);
  alto_gemm_config c = alto_gemm_config_for(m, n, k, bs, sm);
  alto_gemm_config c2 = alto_gemm_config_for(m, n, k, bs, sm);
  CHECKF(c.bn == c2.bn && c.stages == c2.stages && c.group_m == c2.group_m && c.ctas == c2.ctas &&
             c.wgs == c2.wgs,
         "%s: not deterministic", what);
  CHECKF(c.wgs == expected_wgs(m, bs), "%s: %d consumer warpgroups", what, c.wgs);
  if (c.wgs == 3)
    CHECKF(c.bn <= ALTO_GEMM_WGS3_MAX_BN && c.cluster == 1, "%s: three consumers, bn %d cluster %d",
           what, c.bn, c.cluster);
  CHECKF((c.bn % 16 == 0 && c.bn >= 64 && c.bn <= 192) || c.bn == 256, "%s: bn %d", what, c.bn);
  if (bs == ALTO_GEMM_B_128X128)
    CHECKF(block_width(c.bn), "%s: bn %d tiles can span three 128-column scale blocks", what,
           c.bn);
  CHECKF(c.cluster == 1 || c.cluster == 2, "%s: cluster %d", what, c.cluster);
  CHECKF(c.ctas % c.cluster == 0, "%s: ctas %d not whole clusters", what, c.ctas);
  CHECKF(c.bn == expected_width(m, n, bs, sm), "%s: bn %d, the header's rule picks %d", what, c.bn,
         expected_width(m, n, bs, sm));
  CHECKF(c.stages >= 2 && c.stages <= 8, "%s: stages %d", what, c.stages);
  int64_t row_tiles = cdiv(m, ALTO_GEMM_BM_OF(c.wgs));
  int64_t tiles = row_tiles * cdiv(n, c.bn > 0 ? c.bn : 1);
  CHECKF(c.ctas >= 1 && c.ctas <= sm && c.ctas <= tiles, "%s: ctas %d (tiles %lld)", what, c.ctas,
         (long long)tiles);
  CHECKF(c.group_m >= 1 && c.group_m <= 8, "%s: group_m %d", what, c.group_m);
  if (row_tiles >= 8)
    CHECKF(c.group_m == 8, "%s: group_m %d with %lld row tiles", what, c.group_m,
           (long long)row_tiles);
  /* Every output dtype and accumulate mode: the descriptor mirrors cfg, fits in shared memory,
   * and is one of the precompiled variants. The depth is the deepest that fits for all of them. */
  bool deeper_fits = c.stages < 8;
  for (int v = 0; v < 4; v++) {
    bool f32 = v & 1, acc = v & 2;
    alto_gemmkern kd = alto_gemm_kernel_for(bs, f32, acc, &c, "sm_90a");
    CHECKF(kd.bscale == bs && kd.out_f32 == f32 && kd.accumulate == acc && kd.bn == c.bn &&
               kd.stages == c.stages && kd.group_m == c.group_m && kd.wgs == c.wgs &&
               kd.target == ALTO_TARGET_CUDA &&
               strcmp(kd.arch, "sm_90a") == 0,
           "%s: alto_gemm_kernel_for does not mirror the configuration", what);
    int smem = alto_gemm_smem_bytes(&kd);
    CHECKF(smem > 0 && smem <= ALTO_GEMM_SMEM_MAX, "%s f32=%d acc=%d: %d bytes of shared memory",
           what, f32, acc, smem);
    if (c.stages < 8 && smem_with_stages(bs, f32, acc, &c, c.stages + 1) > ALTO_GEMM_SMEM_MAX)
      deeper_fits = false;
    char key[256];
    alto_gemmkern_key(&kd, key, sizeof key);
    CHECKF(variant_index(key) >= 0, "%s: kernel %s is not among alto_gemm_variants", what, key);
  }
  CHECKF(!deeper_fits, "%s: %d stages, but %d fit in shared memory", what, c.stages, c.stages + 1);
}

/* MX (two launches, one of each kernel): the 128x128 kind's tile width, with a depth whose shared
 * memory fits the 1x128 kernel too. */
static void test_config_mx(void) {
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    alto_gemm_config x = alto_gemm_config_for(shapes[s][0], shapes[s][1], shapes[s][2],
                                              ALTO_GEMM_B_MX, 132),
                     blk = alto_gemm_config_for(shapes[s][0], shapes[s][1], shapes[s][2],
                                                ALTO_GEMM_B_128X128, 132);
    CHECKF(x.bn == blk.bn && x.ctas == blk.ctas && x.group_m == blk.group_m,
           "shape %zu: MX bn %d ctas %d, 128x128 bn %d ctas %d", s, x.bn, x.ctas, blk.bn, blk.ctas);
    CHECKF(x.stages == alto_gemm_max_stages(ALTO_GEMM_B_1X128, x.bn), "shape %zu: MX stages %d",
           s, x.stages);
    for (int bs = 0; bs < 2; bs++) {
      alto_gemmkern k = alto_gemm_kernel_for((alto_gemm_bscale)bs, true, true, &x, "sm_90a");
      CHECKF(alto_gemm_smem_bytes(&k) <= ALTO_GEMM_SMEM_MAX, "shape %zu: MX config too deep", s);
    }
  }
  /* a kernel descriptor of kind MX is refused (it is not a kernel) */
  alto_gemmkern k = {ALTO_GEMM_B_MX, false, false, 128, 4, 8, 1, false, false, ALTO_TARGET_CUDA, "sm_90a", 2};
  alto_gen_kernel g;
  CHECK(alto_gen_gemm(&k, &g) == ALTO_ERR_INVALID_ARG);
}

static void test_config_properties(void) {
  static const int sms[] = {132, 114, 1};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (size_t i = 0; i < sizeof sms / sizeof sms[0]; i++)
      for (int b = 0; b < 3; b++)
        check_one(shapes[s][0], shapes[s][1], shapes[s][2], kinds[b], sms[i]);
  /* one SM: one persistent CTA walks every tile */
  alto_gemm_config c = alto_gemm_config_for(8192, 8192, 8192, ALTO_GEMM_B_1X128, 1);
  CHECK(c.ctas == 1);
  /* a 1x1 output is one tile: one CTA however many SMs */
  c = alto_gemm_config_for(1, 1, 16, ALTO_GEMM_B_128X128, 132);
  CHECK(c.ctas == 1);
  /* what the benchmark shapes get on an H100 SXM (132 SMs), for the record */
  for (int s = 0; s < 7; s++)
    for (int b = 0; b < 3; b++) {
      c = alto_gemm_config_for(shapes[s][0], shapes[s][1], shapes[s][2], kinds[b], 132);
      fprintf(stderr, "  %lldx%lldx%lld B %-7s: bn %3d stages %d group %d ctas %d\n",
              (long long)shapes[s][0], (long long)shapes[s][1], (long long)shapes[s][2],
              bscale_name(kinds[b]), c.bn, c.stages, c.group_m, c.ctas);
    }
}

static void test_variants(void) {
  n_variants = alto_gemm_variants(ALTO_TARGET_CUDA, "sm_90a", variants, MAX_VARIANTS);
  /* both scale kinds x bf16/fp32 x accumulate: at least the two 128x128 widths and one 1x128
   * width each */
  CHECKF(n_variants >= 12 && n_variants <= MAX_VARIANTS, "%d variants", n_variants);
  alto_gemmkern one[1];
  CHECK(alto_gemm_variants(ALTO_TARGET_CUDA, "sm_90a", one, 1) == n_variants);
  int seen[4][2][2] = {{{0}}}, outer_e5m2 = 0, w3 = 0;
  for (int i = 0; i < n_variants && i < MAX_VARIANTS; i++) {
    const alto_gemmkern *v = &variants[i];
    CHECK(v->target == ALTO_TARGET_CUDA && strcmp(v->arch, "sm_90a") == 0);
    CHECK(v->bscale == ALTO_GEMM_B_1X128 || v->bscale == ALTO_GEMM_B_128X128 ||
          v->bscale == ALTO_GEMM_OUTER);
    CHECKF(!v->b_e5m2 && (!v->a_e5m2 || v->bscale == ALTO_GEMM_OUTER),
           "variant %d: E5M2 outside OUTER's A", i);
    outer_e5m2 += v->a_e5m2;
    CHECKF(v->wgs == 2 || (v->wgs == 3 && v->bscale == ALTO_GEMM_B_1X128 && v->bn <= 128 &&
                           v->cluster == 1),
           "variant %d: %d consumer warpgroups", i, v->wgs);
    w3 += v->wgs == 3;
    CHECKF(v->group_m == 8, "variant %d: group %d", i, v->group_m);
    CHECKF(alto_gemm_smem_bytes(v) <= ALTO_GEMM_SMEM_MAX, "variant %d: %d bytes", i,
           alto_gemm_smem_bytes(v));
    seen[v->bscale & 3][v->out_f32][v->accumulate]++;
    char key[256], other[256];
    alto_gemmkern_key(v, key, sizeof key);
    for (int j = 0; j < i; j++) {
      alto_gemmkern_key(&variants[j], other, sizeof other);
      CHECKF(strcmp(key, other) != 0, "variants %d and %d share the key %s", j, i, key);
    }
  }
  for (int b = 0; b < 3; b++)
    for (int f = 0; f < 2; f++)
      for (int a = 0; a < 2; a++)
        CHECKF(seen[kinds[b]][f][a] > 0, "no variant with B %s f32=%d acc=%d",
               bscale_name(kinds[b]), f, a);
  /* OUTER: every width, A E4M3 and E5M2 (cluster 1) */
  for (int f = 0; f < 2; f++)
    for (int a = 0; a < 2; a++)
      CHECKF(seen[ALTO_GEMM_OUTER][f][a] == 2 * N_WIDTHS, "%d OUTER variants with f32=%d acc=%d",
             seen[ALTO_GEMM_OUTER][f][a], f, a);
  CHECKF(outer_e5m2 == 4 * N_WIDTHS, "%d OUTER variants with E5M2 A", outer_e5m2);
  /* three consumer warpgroups: 1x128, every width up to 128, per dtype and mode */
  int n_w3 = 0;
  for (int i = 0; i < N_WIDTHS; i++)
    n_w3 += widths[i] <= 128;
  CHECKF(w3 == 4 * n_w3, "%d variants with three consumer warpgroups (expected %d)", w3, 4 * n_w3);
  /* 128x128: exactly the widths whose tiles span at most two scale blocks, per dtype and mode,
   * each alone and in pairs */
  int n_block = 0;
  for (int i = 0; i < N_WIDTHS; i++)
    n_block += block_width(widths[i]);
  for (int f = 0; f < 2; f++)
    for (int a = 0; a < 2; a++)
      CHECKF(seen[ALTO_GEMM_B_128X128][f][a] == 2 * n_block,
             "%d 128x128 variants with f32=%d acc=%d (expected %d)",
             seen[ALTO_GEMM_B_128X128][f][a], f, a, 2 * n_block);
}

/* Replaces the first `from` in s with `to` (in place, s has room). */
static void replace(char *s, size_t cap, const char *from, const char *to) {
  char *p = strstr(s, from);
  if (!p)
    return;
  char rest[256];
  snprintf(rest, sizeof rest, "%s", p + strlen(from));
  snprintf(p, cap - (size_t)(p - s), "%s%s", to, rest);
}

static void test_keys(void) {
  alto_gemmkern k = {ALTO_GEMM_B_128X128, false, false, 128, 6, 8, 1, false, false, ALTO_TARGET_CUDA, "sm_90a", 2};
  char key[256], base[256], want[256];
  alto_gemmkern_key(&k, base, sizeof base);
  CHECKF(strcmp(base, "gemm.fp8.a1x128.b128x128.bf16.n128.s6.g8.c1.cuda.sm_90a") == 0, "%s", base);
  /* accumulate: ".acc" added somewhere, nothing else changes */
  k.accumulate = true;
  alto_gemmkern_key(&k, key, sizeof key);
  CHECKF(strstr(key, ".acc") != NULL, "%s", key);
  replace(key, sizeof key, ".acc", "");
  CHECKF(strcmp(key, base) == 0, "%s", key);
  k.accumulate = false;
  /* B 1x128 */
  k.bscale = ALTO_GEMM_B_1X128;
  alto_gemmkern_key(&k, key, sizeof key);
  snprintf(want, sizeof want, "%s", base);
  replace(want, sizeof want, ".b128x128.", ".b1x128.");
  CHECKF(strcmp(key, want) == 0, "%s (want %s)", key, want);
  /* fp32 output: named, and not bf16 */
  k.out_f32 = true;
  alto_gemmkern_key(&k, key, sizeof key);
  CHECKF((strstr(key, ".f32.") || strstr(key, ".fp32.")) && !strstr(key, "bf16"), "%s", key);
  /* OUTER, and E5M2 operands after their scale kind */
  k.out_f32 = false, k.bscale = ALTO_GEMM_OUTER;
  alto_gemmkern_key(&k, key, sizeof key);
  snprintf(want, sizeof want, "%s", base);
  replace(want, sizeof want, ".a1x128.b128x128.", ".arow.brow.");
  CHECKF(strcmp(key, want) == 0, "%s (want %s)", key, want);
  k.a_e5m2 = true;
  alto_gemmkern_key(&k, key, sizeof key);
  replace(want, sizeof want, ".arow.brow.", ".arow.e5m2.brow.");
  CHECKF(strcmp(key, want) == 0, "%s (want %s)", key, want);
  k.bscale = ALTO_GEMM_B_128X128, k.a_e5m2 = false, k.b_e5m2 = true;
  alto_gemmkern_key(&k, key, sizeof key);
  snprintf(want, sizeof want, "%s", base);
  replace(want, sizeof want, ".b128x128.", ".b128x128.e5m2.");
  CHECKF(strcmp(key, want) == 0, "%s (want %s)", key, want);
  /* three consumer warpgroups: ".w3" after the cluster; 0 and 2 are the same kernel */
  k.b_e5m2 = false, k.wgs = 3;
  alto_gemmkern_key(&k, key, sizeof key);
  snprintf(want, sizeof want, "%s", base);
  replace(want, sizeof want, ".c1.", ".c1.w3.");
  CHECKF(strcmp(key, want) == 0, "%s (want %s)", key, want);
  k.wgs = 0;
  alto_gemmkern_key(&k, key, sizeof key);
  CHECKF(strcmp(key, base) == 0, "%s", key);
  /* tile width, depth and group are in the key */
  k = (alto_gemmkern){ALTO_GEMM_B_1X128, false, true, 80, 3, 4, 2, false, false, ALTO_TARGET_CUDA, "sm_90a", 2};
  alto_gemmkern_key(&k, key, sizeof key);
  CHECKF(strncmp(key, "gemm.fp8.a1x128.b1x128.", 23) == 0, "%s", key);
  CHECKF(strstr(key, ".n80.") && strstr(key, ".s3.") && strstr(key, ".g4.") && strstr(key, ".c2") &&
             strstr(key, ".acc") && strstr(key, ".cuda.sm_90a"),
         "%s", key);
  /* a short buffer is truncated, not overrun */
  char small[12];
  memset(small, 'x', sizeof small);
  alto_gemmkern_key(&k, small, 8);
  CHECK(memchr(small, '\0', 8) != NULL && small[8] == 'x');
}

static void test_generator_refusals(void) {
  alto_gemm_config c = alto_gemm_config_for(4096, 4096, 4096, ALTO_GEMM_B_128X128, 132);
  alto_gemmkern ok = alto_gemm_kernel_for(ALTO_GEMM_B_128X128, false, false, &c, "sm_90a");
  alto_gen_kernel g;
  CHECKF(alto_gen_gemm(&ok, &g) == ALTO_OK, "%s", alto_last_error());
  alto_gen_kernel_free(&g);
  struct {
    const char *what;
    int bscale, bn, stages;
    alto_target target;
    const char *arch;
  } bad[] = {
      {"bn 72", ALTO_GEMM_B_1X128, 72, 4, ALTO_TARGET_CUDA, "sm_90a"},
      {"bn 200", ALTO_GEMM_B_1X128, 200, 2, ALTO_TARGET_CUDA, "sm_90a"},
      {"bn 48", ALTO_GEMM_B_1X128, 48, 4, ALTO_TARGET_CUDA, "sm_90a"},
      {"bn 208", ALTO_GEMM_B_1X128, 208, 2, ALTO_TARGET_CUDA, "sm_90a"},
      {"bn 0", ALTO_GEMM_B_1X128, 0, 4, ALTO_TARGET_CUDA, "sm_90a"},
      {"stages 1", ALTO_GEMM_B_1X128, 128, 1, ALTO_TARGET_CUDA, "sm_90a"},
      {"stages 9", ALTO_GEMM_B_1X128, 64, 9, ALTO_TARGET_CUDA, "sm_90a"},
      {"arch sm_80", ALTO_GEMM_B_1X128, 128, 4, ALTO_TARGET_CUDA, "sm_80"},
      {"arch sm_90", ALTO_GEMM_B_1X128, 128, 4, ALTO_TARGET_CUDA, "sm_90"},
      {"target HIP", ALTO_GEMM_B_1X128, 128, 4, ALTO_TARGET_HIP, "sm_90a"},
      {"target HIP gfx942", ALTO_GEMM_B_1X128, 128, 4, ALTO_TARGET_HIP, "gfx942"},
      {"128x128 bn 176 (three scale blocks)", ALTO_GEMM_B_128X128, 176, 2, ALTO_TARGET_CUDA,
       "sm_90a"},
      {"bn 240", ALTO_GEMM_B_1X128, 240, 2, ALTO_TARGET_CUDA, "sm_90a"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    alto_gemmkern k = ok;
    k.bscale = (alto_gemm_bscale)bad[i].bscale;
    k.bn = bad[i].bn, k.stages = bad[i].stages, k.target = bad[i].target;
    snprintf(k.arch, sizeof k.arch, "%s", bad[i].arch);
    alto_status st = alto_gen_gemm(&k, &g);
    CHECKF(st == ALTO_ERR_INVALID_ARG, "%s: %s", bad[i].what, alto_status_name(st));
    if (st == ALTO_OK)
      alto_gen_kernel_free(&g);
    else
      CHECKF(alto_last_error()[0] != '\0', "%s: refused without a message", bad[i].what);
  }
  /* three consumer warpgroups: tiles up to 128 wide, no pairs; 2 or 3 only */
  struct {
    const char *what;
    int wgs, bn, cluster;
  } bad_wgs[] = {{"wgs 4", 4, 128, 1}, {"wgs 1", 1, 128, 1}, {"wgs 3 bn 144", 3, 144, 1},
                 {"wgs 3 bn 256", 3, 256, 1}, {"wgs 3 cluster 2", 3, 128, 2}};
  for (size_t i = 0; i < sizeof bad_wgs / sizeof bad_wgs[0]; i++) {
    alto_gemmkern k = ok;
    k.wgs = bad_wgs[i].wgs, k.bn = bad_wgs[i].bn, k.cluster = bad_wgs[i].cluster;
    k.stages = 2;
    alto_status st = alto_gen_gemm(&k, &g);
    CHECKF(st == ALTO_ERR_INVALID_ARG, "%s: %s", bad_wgs[i].what, alto_status_name(st));
    if (st == ALTO_OK)
      alto_gen_kernel_free(&g);
  }
  /* Every supported width and depth: generated exactly when its shared memory fits. */
  for (int b = 0; b < 2; b++)
    for (int wi = 0; wi < N_WIDTHS; wi++)
      for (int stages = 2; stages <= 8; stages++) {
        int bn = widths[wi];
        if (b == ALTO_GEMM_B_128X128 && !block_width(bn))
          continue;
        alto_gemm_config cfg = {bn, stages, 8, 1, 1, 0, 2};
        alto_gemmkern k = alto_gemm_kernel_for((alto_gemm_bscale)b, true, true, &cfg, "sm_90a");
        bool fits = alto_gemm_smem_bytes(&k) <= ALTO_GEMM_SMEM_MAX;
        alto_status st = alto_gen_gemm(&k, &g);
        CHECKF(st == (fits ? ALTO_OK : ALTO_ERR_INVALID_ARG), "B %s bn %d stages %d (%d bytes): %s",
               bscale_name((alto_gemm_bscale)b), bn, stages, alto_gemm_smem_bytes(&k),
               alto_status_name(st));
        if (st == ALTO_OK)
          alto_gen_kernel_free(&g);
      }
  /* shared memory grows with the depth and the tile width */
  alto_gemm_config c2 = {128, 2, 8, 1, 1, 0, 2}, c3 = {128, 3, 8, 1, 1, 0, 2}, c2w = {144, 2, 8, 1, 1, 0, 2};
  alto_gemmkern k2 = alto_gemm_kernel_for(ALTO_GEMM_B_1X128, false, false, &c2, "sm_90a");
  alto_gemmkern k3 = alto_gemm_kernel_for(ALTO_GEMM_B_1X128, false, false, &c3, "sm_90a");
  alto_gemmkern k2w = alto_gemm_kernel_for(ALTO_GEMM_B_1X128, false, false, &c2w, "sm_90a");
  CHECK(alto_gemm_smem_bytes(&k3) > alto_gemm_smem_bytes(&k2));
  CHECK(alto_gemm_smem_bytes(&k2w) > alto_gemm_smem_bytes(&k2));
  /* at least the operand tiles: (128 + bn) x 128 bytes per stage */
  CHECK(alto_gemm_smem_bytes(&k3) >= 3 * (128 + 128) * 128);
}

int main(void) {
  RUN(test_variants);
  RUN(test_keys);
  RUN(test_config_properties);
  RUN(test_config_mx);
  RUN(test_generator_refusals);
  return alto_test_finish();
}
