/* The GPU plan executor against the CPU executor, on the real GPU (skips without one).
 *
 * For the bf16, ALTO-default mxfp4, fp8_block, fp8_rowwise, fp8_tensorwise and nvfp4 (two-level)
 * recipes (mxfp4 both on
 * the FP8 tensor cores and through dequantization + bf16 GEMMs; fp8_block both through cuBLASLt
 * block-scaled FP8 and through the fp32 emulation; rowwise and tensorwise through alto's FP8 GEMM
 * with the scales in its epilogue, E5M2 gradients included) on the debug model:
 *   - both backends start from the same weights (bit for bit);
 *   - one training step: every QUANTIZE of the GPU step equals the CPU reference on the GPU's
 *     own input (check_quant), the losses agree, every gradient agrees (relative L2 error and
 *     cosine, bounds below with why);
 *   - AdamW on the GPU, fed the CPU's gradients, writes the CPU's weights and moments bit for
 *     bit;
 *   - the GPU step is deterministic (two runs, the same loss and gradient bits);
 *   - a GPU checkpoint resumes on the CPU and a CPU checkpoint on the GPU (training goes on, the
 *     losses within 5% of the uninterrupted GPU run's), and GPU 4 + resume 2 = GPU 6 bit for bit
 *     (identical checkpoint files).
 *
 * Tolerances. Activations are bf16 on both backends, so every op output carries a rounding of
 * 2^-9 relative; the backends differ in summation order (cuBLASLt's fp32 accumulation, attention
 * tiles, tree reductions), so after a rounding boundary an element can land one bf16 ulp apart
 * (2^-8 relative). Over one step these differences are independent across elements: the loss
 * (a mean over 256 tokens) moves by far less than one ulp of one element (we allow 2e-3
 * relative, about half a bf16 ulp), gradients by a few bf16 ulps in relative L2 (bound 3%; cos >
 * 0.999). With quantization, one ulp of input difference can move a value across a rounding
 * boundary of a 4-bit (E2M1: 1 of 8 steps) or 8-bit grid: the affected elements change by a
 * whole quantization step (up to a third of their value for E2M1), and small gradients that are
 * sums of many such terms with cancellation (the norm weights') move the most. Measured on the
 * H100: mxfp4 worst tensor 13% relative L2 (layers.0.attention_norm.weight, cos 0.992), fp8_block
 * 4% (cos 0.9993). Bounds: 25% and cos > 0.98 for quantized recipes, still far below what a wrong
 * scale, block, stream or transpose produces (errors of order 1, cosines near 0). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/lower.h"
#include "compiler/model.h"
#include "compiler/recipe.h"
#include "runtime/backend.h"
#include "runtime/checkpoint.h"
#include "runtime/cpu/exec.h"
#include "runtime/exec_gpu.h"
#include "runtime/train.h"
#include "runtime/train_cpu.h"
#include "runtime/train_gpu.h"
#include "tests/harness.h"

static alto_backend *B;
static alto_model M;

#define BATCH 2
#define SEQ 128
#define SEED 1234

typedef struct {
  const char *recipe; /* under recipes/, NULL: bf16 */
  bool fp8_emulate;
  double rel, cos; /* gradient bounds */
} case_;

static alto_recipe *load_recipe_(const char *name) {
  if (!name)
    return NULL;
  char path[512];
  snprintf(path, sizeof path, "%s/recipes/%s", ALTO_SOURCE_DIR, name);
  alto_recipe *r = NULL;
  CHECKF(alto_recipe_load(path, &r) == ALTO_OK, "%s", alto_last_error());
  return r;
}

static void random_batch_(uint64_t seed, int32_t *tok, int32_t *tgt, int64_t n) {
  alto_test_rng r = {seed};
  for (int64_t i = 0; i < n; i++) {
    tok[i] = (int32_t)(alto_test_u32(&r) % (uint32_t)M.vocab_size);
    tgt[i] = i % 97 == 5 ? -1 : (int32_t)(alto_test_u32(&r) % (uint32_t)M.vocab_size);
  }
}

static float *read_f32_(alto_exec_gpu *g, int id) {
  const alto_buffer *b = alto_exec_gpu_buffer(g, id);
  float *x = malloc(b->bytes);
  CHECKF(alto_exec_gpu_read(g, id, x) == ALTO_OK, "%s", alto_last_error());
  return x;
}

static void one_step_(const case_ *c) {
  alto_recipe *r = load_recipe_(c->recipe);
  alto_lower_opts lo = {BATCH, SEQ, B->arch};
  alto_lowered l;
  CHECKF(alto_lower(&M, r, &lo, &l) == ALTO_OK, "%s", alto_last_error());
  alto_exec *cpu = NULL;
  alto_exec_gpu *gpu = NULL;
  CHECKF(alto_exec_create(&M, &l.plan, SEED, &cpu) == ALTO_OK, "%s", alto_last_error());
  alto_exec_gpu_opts go = {.check_quant = true,
                           .fp8_emulate = c->fp8_emulate,
                           .mx_dequant = c->fp8_emulate,
                           .mx_all_sizes = true}; /* (the debug model's K is 256 / 768) */
  CHECKF(alto_exec_gpu_create(B, &M, &l.plan, SEED, &go, &gpu) == ALTO_OK, "%s",
         alto_last_error());
  int nk = 0;
  double secs = 0;
  CHECKF(alto_exec_gpu_prepare(gpu, 8, NULL, &nk, &secs) == ALTO_OK, "%s", alto_last_error());
  CHECK(nk > 5);

  /* the same initial weights */
  int np = alto_exec_n_params(cpu), differ = 0;
  for (int i = 0; i < np; i++) {
    const char *name = alto_exec_param_name(cpu, i);
    int64_t n;
    float *w = alto_exec_param(cpu, name, &n);
    float *g = read_f32_(gpu, alto_exec_gpu_find(gpu, name));
    differ += memcmp(w, g, (size_t)n * 4) != 0;
    free(g);
  }
  CHECKF(differ == 0, "%d parameters start differently", differ);

  const int64_t n_tok = BATCH * SEQ;
  int32_t *tok = malloc(n_tok * 4), *tgt = malloc(n_tok * 4);
  random_batch_(77, tok, tgt, n_tok);
  CHECK(alto_exec_set_inputs(cpu, tok, tgt) == ALTO_OK);
  CHECK(alto_exec_gpu_set_inputs(gpu, tok, tgt) == ALTO_OK);
  double lc = 0, lg = 0, lg2 = 0;
  CHECKF(alto_exec_forward_backward(cpu, 3, &lc) == ALTO_OK, "%s", alto_last_error());
  alto_status s = alto_exec_gpu_forward_backward(gpu, 3, &lg);
  CHECKF(s == ALTO_OK, "%s", alto_last_error());
  int quants = alto_plan_count_op(&l.plan, ALTO_OP_QUANTIZE);
  CHECKF(alto_exec_gpu_quant_checked(gpu) == quants, "%lld of %d quantizations checked",
         (long long)alto_exec_gpu_quant_checked(gpu), quants);
  CHECKF(isfinite(lg) && fabs(lg - lc) <= 2e-3 * fabs(lc), "loss: gpu %.6f cpu %.6f", lg, lc);
  char gemms[256];
  alto_exec_gpu_gemm_summary(gpu, gemms, sizeof gemms);
  printf("  %-22s %s: loss cpu %.6f gpu %.6f (%+.2e), %d quantizations bit-exact, %d kernels "
         "(%.2f s), GEMMs: %s\n",
         c->recipe ? c->recipe : "bf16", c->fp8_emulate ? "emulated" : "", lc, lg, lg - lc, quants,
         nk, secs, gemms);
  if (c->recipe && (strstr(c->recipe, "rowwise") || strstr(c->recipe, "tensorwise")) &&
      !c->fp8_emulate)
    CHECKF(strstr(gemms, "alto-fp8-rowwise") && !strstr(gemms, "dequant"),
           "%s: the linears' GEMMs ran as %s", c->recipe, gemms);
  if (c->recipe && strstr(c->recipe, "nvfp4"))
    CHECKF(strstr(gemms, "dequant-bf16") && !strstr(gemms, "dequant-f32"),
           "%s: the linears' GEMMs ran as %s", c->recipe, gemms);

  /* gradients */
  double worst_rel = 0, worst_cos = 1;
  const char *worst = "";
  float **ggrads = calloc((size_t)np, sizeof *ggrads);
  for (int i = 0; i < np; i++) {
    const char *name = alto_exec_param_name(cpu, i);
    int64_t n;
    float *gc = alto_exec_grad(cpu, name, &n);
    char gname[160];
    snprintf(gname, sizeof gname, "%s.grad", name);
    float *gg = ggrads[i] = read_f32_(gpu, alto_exec_gpu_find(gpu, gname));
    double d = 0, nc = 0, ng = 0, dot = 0;
    int nonfinite = 0;
    for (int64_t k = 0; k < n; k++) {
      nonfinite += !isfinite(gg[k]);
      d += ((double)gg[k] - gc[k]) * ((double)gg[k] - gc[k]);
      nc += (double)gc[k] * gc[k];
      ng += (double)gg[k] * gg[k];
      dot += (double)gg[k] * gc[k];
    }
    CHECKF(nonfinite == 0, "%s: %d non-finite gradients", gname, nonfinite);
    double rel = sqrt(d / (nc > 0 ? nc : 1)), cs = dot / sqrt(nc * ng + 1e-300);
    if (rel > worst_rel)
      worst_rel = rel, worst = name;
    if (cs < worst_cos)
      worst_cos = cs;
  }
  printf("  %-22s gradients: worst relative L2 error %.2e (%s), worst cosine %.6f\n", "",
         worst_rel, worst, worst_cos);
  CHECKF(worst_rel < c->rel && worst_cos > c->cos, "gradients: rel %.3e (%s) cos %.6f", worst_rel,
         worst, worst_cos);

  /* determinism: the same step again gives the same bits */
  CHECK(alto_exec_gpu_forward_backward(gpu, 3, &lg2) == ALTO_OK);
  CHECKF(memcmp(&lg, &lg2, sizeof lg) == 0, "loss %.17g then %.17g", lg, lg2);
  int nondet = 0;
  for (int i = 0; i < np; i++) {
    const char *name = alto_exec_param_name(cpu, i);
    int64_t n;
    alto_exec_grad(cpu, name, &n);
    char gname[160];
    snprintf(gname, sizeof gname, "%s.grad", name);
    float *again = read_f32_(gpu, alto_exec_gpu_find(gpu, gname));
    nondet += memcmp(again, ggrads[i], (size_t)n * 4) != 0;
    free(again);
  }
  CHECKF(nondet == 0, "%d gradients differ between two runs of the same step", nondet);

  /* without check_quant the executor fuses each RHT into the quantization after it (MX: every
   * wgrad operand) and has fp8_block's wgrad operands quantized straight into the GEMM's K-major
   * layout: the same step gives the same bits as with check_quant (two fresh executors, the same
   * initial weights and inputs; cuBLASLt's FP8 GEMMs in both, so that no per-process timing
   * choice differs) */
  const char *rn = c->recipe ? c->recipe : "bf16";
  if (!c->recipe || strstr(rn, "mxfp4") || !c->fp8_emulate) {
    alto_exec_gpu_opts fo = {.fp8_emulate = c->fp8_emulate,
                             .no_alto_gemm = true,
                             .mx_dequant = c->fp8_emulate,
                             .mx_all_sizes = true};
    alto_exec_gpu_opts ro = fo;
    ro.check_quant = true;
    alto_exec_gpu *ex[2] = {NULL, NULL};
    double lx[2] = {0, 0};
    float **gx[2] = {calloc((size_t)np, sizeof(float *)), calloc((size_t)np, sizeof(float *))};
    for (int k = 0; k < 2; k++) {
      CHECKF(alto_exec_gpu_create(B, &M, &l.plan, SEED, k ? &ro : &fo, &ex[k]) == ALTO_OK, "%s",
             alto_last_error());
      CHECK(alto_exec_gpu_set_inputs(ex[k], tok, tgt) == ALTO_OK);
      CHECKF(alto_exec_gpu_forward_backward(ex[k], 3, &lx[k]) == ALTO_OK, "%s", alto_last_error());
      for (int i = 0; i < np; i++) {
        char gname[160];
        snprintf(gname, sizeof gname, "%s.grad", alto_exec_param_name(cpu, i));
        gx[k][i] = read_f32_(ex[k], alto_exec_gpu_find(ex[k], gname));
      }
    }
    int rhts = alto_plan_count_op(&l.plan, ALTO_OP_RHT), fused = alto_exec_gpu_rht_fused(ex[0]);
    int tr = alto_exec_gpu_codes_transposed(ex[0]);
    /* (every one: the executor's memory plan keeps each RHT's input live through its QUANTIZE;
     * none under two-level NVFP4, whose outer scale needs the amax of R x before any code) */
    CHECKF(fused == (strstr(rn, "nvfp4") ? 0 : rhts), "%d of %d RHT nodes fused", fused, rhts);
    CHECKF(alto_exec_gpu_rht_fused(ex[1]) == 0 && alto_exec_gpu_codes_transposed(ex[1]) == 0 &&
               alto_exec_gpu_scales_mn_major(ex[1]) == 0 && alto_exec_gpu_requant_fused(ex[1]) == 0 &&
               alto_exec_gpu_weights_transposed(ex[1]) == 0 && alto_exec_gpu_dual_fused(ex[1]) == 0 &&
               alto_exec_gpu_swiglu_fused(ex[1]) == 0 && alto_exec_gpu_xdual_fused(ex[1]) == 0,
           "check_quant must keep the plan's layouts");
    int mn = alto_exec_gpu_scales_mn_major(ex[0]);
    if (strstr(rn, "fp8_block")) { /* per layer: dY of 7 linears, X of 4 inputs */
      CHECKF(tr == 6 * 11, "%d fp8_block wgrad operands quantized transposed", tr);
      CHECKF(mn == 6 * 11, "%d fp8_block 1x128 scale grids quantized MN-major", mn);
      /* the wgrad X of each of the 4 inputs per layer: written by the forward's kernel with the
       * fprop copy (xn1, o, xn2: plan_xdual_), or (SwiGLU's y) re-quantized from its codes,
       * unless the arena gave the codes' range to the new ones */
      CHECKF(alto_exec_gpu_weights_transposed(ex[0]) == 6 * 7, "%d weights with a transposed copy",
             alto_exec_gpu_weights_transposed(ex[0]));
      int rq = alto_exec_gpu_requant_fused(ex[0]), xd = alto_exec_gpu_xdual_fused(ex[0]);
      CHECKF(xd == 6 * 3, "%d wgrad X written in the forward", xd);
      CHECKF(rq > 0 && rq <= 6, "%d re-quantizations fused", rq);
      printf("  %-22s %d of %d wgrad X written by the forward's kernel, %d of the other %d read "
             "the saved codes directly\n", "", xd, 6 * 4, rq, 6 * 4 - xd);
      /* the dY of each of the 7 linears per layer: read once for its dgrad and wgrad copies,
       * unless the arena overlaps them */
      int du = alto_exec_gpu_dual_fused(ex[0]);
      CHECKF(du > 6 * 7 / 2 && du <= 6 * 7, "%d dY pairs quantized by one kernel", du);
      printf("  %-22s %d of %d dY read once for both of their copies\n", "", du, 6 * 7);
      /* the MLP's SwiGLU output of each layer: quantized from the SwiGLU's inputs */
      int sw = alto_exec_gpu_swiglu_fused(ex[0]);
      CHECKF(sw == 6, "%d SwiGLU outputs quantized from their inputs", sw);
    } else if (strstr(rn, "rowwise")) { /* per layer: dgrad W of 7 linears, wgrad dY of 7, X of 4 */
      CHECKF(tr == 6 * 18, "%d fp8_rowwise operands quantized transposed", tr);
    } else if (strstr(rn, "mxfp4")) { /* MX: y is also quantized along M, so the kernel writes it */
      CHECKF(alto_exec_gpu_swiglu_fused(ex[0]) == 6, "%d SwiGLU fused under %s",
             alto_exec_gpu_swiglu_fused(ex[0]), rn);
    }
    /* MXFP4 on the FP8 tensor cores: per layer the X of 4 inputs and the dY of 7 linears are the
     * A operands of their GEMMs only, so they are quantized straight into the GEMM's E4M3 form
     * (the comparison below: the bits of the conversion) */
    const int mt = alto_exec_gpu_mx_tiles(ex[0]);
    CHECKF(alto_exec_gpu_mx_tiles(ex[1]) == 0, "check_quant: %d E4M3 forms",
           alto_exec_gpu_mx_tiles(ex[1]));
    if (strstr(rn, "mxfp4") && !c->fp8_emulate) {
      CHECKF(mt > 6 * 11 / 2 && mt <= 6 * 11, "%d MXFP4 operands quantized in E4M3 form", mt);
      printf("  %-22s %d MXFP4 operands quantized straight into the FP8 GEMM's E4M3 form\n", "", mt);
    } else {
      CHECKF(mt == 0, "%d E4M3 forms under %s", mt, rn);
    }
    CHECKF(memcmp(&lx[0], &lx[1], sizeof lx[0]) == 0, "fused: loss %.17g, unfused %.17g", lx[0],
           lx[1]);
    int fdiff = 0;
    for (int i = 0; i < np; i++) {
      int64_t n;
      alto_exec_grad(cpu, alto_exec_param_name(cpu, i), &n);
      fdiff += memcmp(gx[0][i], gx[1][i], (size_t)n * 4) != 0;
      free(gx[0][i]), free(gx[1][i]);
    }
    free(gx[0]), free(gx[1]);
    CHECKF(fdiff == 0, "fused: %d gradients differ from the unfused step", fdiff);
    printf("  %-22s %d of %d RHT nodes fused, %d operands quantized transposed, %d scale grids "
           "MN-major: the same loss and gradient bits as the plan's layouts\n", "", fused, rhts, tr,
           mn);
    /* weights quantized by the optimizer step (fp8_block 128x128, MXFP4 32x32): an AdamW step
     * and a forward + backward
     * of both executors (the fused one skips the weights' QUANTIZE after its AdamW wrote their
     * codes), then every weight rewritten and a forward + backward (which must quantize them
     * again): the same weights, moments, loss and gradient bits */
    int wc = 0, wc1 = 0, wq = alto_exec_gpu_weights_by_optimizer(ex[0], &wc);
    CHECKF(alto_exec_gpu_weights_by_optimizer(ex[1], &wc1) == 0 && wc1 == 0,
           "check_quant: weights copied by AdamW");
    if (strstr(rn, "fp8_block") || strstr(rn, "mxfp4")) /* and the output projection's cast */
      CHECKF(wq == 6 * 7 && wc == 1, "%d weights quantized, %d cast by the optimizer step", wq, wc);
    if (strstr(rn, "nvfp4")) /* (two-level 16x16 blocks need the tensor's amax first) */
      CHECKF(wq == 0 && wc == 1, "%d weights quantized, %d cast by the optimizer step", wq, wc);
    if (!c->recipe) /* the 7 linears of each layer and the output projection */
      CHECKF(wq == 0 && wc == 6 * 7 + 1, "%d weights cast by the optimizer step", wc);
    alto_adamw_hparams h2 = {3e-3, 0.9, 0.95, 1e-8, 0.1};
    int sdiff = 0;
    for (int round = 0; round < 2; round++) {
      if (round == 1)
        for (int i = 0; i < np; i++) { /* new weights, written to both */
          int id = alto_exec_gpu_find(ex[1], alto_exec_param_name(cpu, i));
          float *w = read_f32_(ex[1], id);
          int64_t n = alto_exec_gpu_buffer(ex[1], id)->bytes / 4;
          for (int64_t j = 0; j < n; j++)
            w[j] *= 0.75f;
          for (int k = 0; k < 2; k++)
            CHECK(alto_exec_gpu_write(ex[k], id, w) == ALTO_OK);
          free(w);
        }
      for (int k = 0; k < 2; k++) {
        if (round == 0)
          CHECKF(alto_exec_gpu_optimizer_step(ex[k], &h2, 1) == ALTO_OK, "%s", alto_last_error());
        CHECKF(alto_exec_gpu_forward_backward(ex[k], 4 + round, &lx[k]) == ALTO_OK, "%s",
               alto_last_error());
      }
      sdiff += memcmp(&lx[0], &lx[1], sizeof lx[0]) != 0;
      for (int i = 0; i < l.plan.n_bufs; i++) {
        const alto_buffer *b = &l.plan.bufs[i];
        if (b->kind != ALTO_BUF_PARAM && b->kind != ALTO_BUF_OPT_STATE && b->kind != ALTO_BUF_GRAD)
          continue;
        float *a0 = read_f32_(ex[0], i), *a1 = read_f32_(ex[1], i);
        sdiff += memcmp(a0, a1, b->bytes) != 0;
        free(a0), free(a1);
      }
    }
    CHECKF(sdiff == 0, "weights quantized by the optimizer: %d losses / tensors differ", sdiff);
    printf("  %-22s %d weights quantized and %d cast by the optimizer step: a step after it and "
           "one after rewriting the weights give the same bits\n", "", wq, wc);
    alto_exec_gpu_free(ex[0]);
    alto_exec_gpu_free(ex[1]);
    /* the same layouts with alto's own FP8 GEMM allowed (it runs on the step's operands to be
     * checked against cuBLASLt and timed): the step runs and its loss is the CPU's */
    fo.no_alto_gemm = false;
    alto_exec_gpu *ea = NULL;
    double la = 0;
    CHECKF(alto_exec_gpu_create(B, &M, &l.plan, SEED, &fo, &ea) == ALTO_OK, "%s", alto_last_error());
    CHECK(alto_exec_gpu_set_inputs(ea, tok, tgt) == ALTO_OK);
    CHECKF(alto_exec_gpu_forward_backward(ea, 3, &la) == ALTO_OK, "%s", alto_last_error());
    CHECKF(isfinite(la) && fabs(la - lc) <= 2e-3 * fabs(lc), "alto GEMMs: loss %.6f cpu %.6f", la,
           lc);
    alto_exec_gpu_free(ea);
  }

  /* AdamW: the CPU's gradients in, the CPU's weights and moments out, bit for bit */
  for (int i = 0; i < np; i++) {
    const char *name = alto_exec_param_name(cpu, i);
    char gname[160];
    snprintf(gname, sizeof gname, "%s.grad", name);
    CHECK(alto_exec_gpu_write(gpu, alto_exec_gpu_find(gpu, gname), alto_exec_grad(cpu, name, NULL)) ==
          ALTO_OK);
  }
  alto_adamw_hparams h = {3e-3, 0.9, 0.95, 1e-8, 0.1};
  CHECK(alto_exec_optimizer_step(cpu, &h, 3) == ALTO_OK);
  CHECK(alto_exec_gpu_optimizer_step(gpu, &h, 3) == ALTO_OK);
  int bad = 0;
  for (int i = 0; i < l.plan.n_bufs; i++) {
    const alto_buffer *b = &l.plan.bufs[i];
    if (b->kind != ALTO_BUF_PARAM && b->kind != ALTO_BUF_OPT_STATE)
      continue;
    float *g = read_f32_(gpu, i);
    int id = alto_exec_find(cpu, b->name);
    bad += memcmp(g, alto_exec_data(cpu, id), b->bytes) != 0;
    free(g);
  }
  CHECKF(bad == 0, "%d weights / moments differ after AdamW", bad);

  for (int i = 0; i < np; i++)
    free(ggrads[i]);
  free(ggrads);
  free(tok);
  free(tgt);
  alto_exec_gpu_free(gpu);
  alto_exec_free(cpu);
  alto_lowered_free(&l);
  alto_recipe_free(r);
}

/* ---- checkpoints across backends ---------------------------------------------------------- */
typedef struct {
  int64_t pos;
} toy_data_;

static alto_status toy_next_(void *self, int32_t *tok, int32_t *tgt) {
  toy_data_ *d = self;
  random_batch_(1000 + (uint64_t)d->pos++, tok, tgt, BATCH * SEQ);
  return ALTO_OK;
}
static void toy_get_pos_(void *self, int64_t *epoch, int64_t *pos) {
  *epoch = 0;
  *pos = ((toy_data_ *)self)->pos;
}
static alto_status toy_set_pos_(void *self, int64_t epoch, int64_t pos) {
  (void)epoch;
  ((toy_data_ *)self)->pos = pos;
  return ALTO_OK;
}

/* Trains `backend` ("cpu"/"cuda") from scratch or from `resume` up to `stop_after` of `steps`. */
static void train_(const char *backend, const char *dir, const char *resume, int64_t steps,
                   int64_t stop_after, alto_train_result *res) {
  alto_recipe *r = load_recipe_("llama3_mxfp4.yaml");
  char rpath[512];
  snprintf(rpath, sizeof rpath, "%s/recipes/llama3_mxfp4.yaml", ALTO_SOURCE_DIR);
  alto_train_opts o = {.run_dir = dir, .resume = resume, .fresh = !resume, .quiet = true,
                       .stop_after = stop_after};
  alto_train_config_default(&o.cfg);
  o.cfg.steps = steps;
  o.cfg.batch = BATCH;
  o.cfg.seq = SEQ;
  o.cfg.val_every = 0;
  o.cfg.ckpt_every = 0;
  o.cfg.keep_ckpts = 0;
  CHECK(alto_train_identity_make(&M, rpath, &o.id) == ALTO_OK);
  alto_train_exec_i ex;
  alto_train_cpu *cpu = NULL;
  alto_train_gpu *gpu = NULL;
  if (!strcmp(backend, "cpu"))
    CHECK(alto_train_cpu_create(&M, r, BATCH, SEQ, o.cfg.seed, &cpu, &ex) == ALTO_OK);
  else
    CHECKF(alto_train_gpu_create(B, &M, r, BATCH, SEQ, o.cfg.seed, NULL, &gpu, &ex) == ALTO_OK,
           "%s", alto_last_error());
  toy_data_ d = {0};
  alto_train_data_i di = {.self = &d, .next = toy_next_, .get_pos = toy_get_pos_,
                          .set_pos = toy_set_pos_};
  CHECKF(alto_train(&o, &ex, &di, res) == ALTO_OK, "%s", alto_last_error());
  alto_train_cpu_free(cpu);
  alto_train_gpu_free(gpu);
  alto_recipe_free(r);
}

static void checkpoints_(void) {
  const char *base = alto_test_tmpdir("exec_gpu");
  char g6[600], g4[600], c4[600];
  snprintf(g6, sizeof g6, "%s/gpu6", base);
  snprintf(g4, sizeof g4, "%s/gpu4", base);
  snprintf(c4, sizeof c4, "%s/cpu4", base);
  alto_train_result a, b, c, d, e;
  train_("cuda", g6, NULL, 6, 0, &a);
  train_("cuda", g4, NULL, 6, 4, &b);
  char ck[4200];
  snprintf(ck, sizeof ck, "%s", b.last_ckpt);
  train_("cuda", g4, "latest", 6, 0, &c); /* GPU 4 + resume 2 */
  CHECKF(memcmp(&a.last_loss, &c.last_loss, sizeof a.last_loss) == 0,
         "gpu 6 steps: loss %.17g, 4 + resume 2: %.17g", a.last_loss, c.last_loss);
  CHECK(alto_test_files_equal(a.last_ckpt, c.last_ckpt));
  /* the GPU's step-4 checkpoint on the CPU, and the CPU's on the GPU */
  train_("cpu", g4, ck, 6, 0, &d);
  CHECKF(isfinite(d.last_loss) && fabs(d.last_loss - a.last_loss) < 0.05 * a.last_loss,
         "gpu->cpu resume: loss %.6f vs gpu %.6f", d.last_loss, a.last_loss);
  train_("cpu", c4, NULL, 6, 4, &e);
  snprintf(ck, sizeof ck, "%s", e.last_ckpt);
  train_("cuda", c4, ck, 6, 0, &e);
  CHECKF(isfinite(e.last_loss) && fabs(e.last_loss - a.last_loss) < 0.05 * a.last_loss,
         "cpu->gpu resume: loss %.6f vs gpu %.6f", e.last_loss, a.last_loss);
  printf("  checkpoints: gpu 6 steps loss %.6f = gpu 4 + resume 2 (identical checkpoint files); "
         "gpu->cpu %.6f, cpu->gpu %.6f\n",
         a.last_loss, d.last_loss, e.last_loss);
}

int main(int argc, char **argv) {
  if (alto_backend_open("cuda", &B) != ALTO_OK)
    alto_test_skip(alto_last_error());
  /* argv[1]: another model (name or .yaml path) */
  CHECKF(alto_model_load(argc > 1 ? argv[1] : "llama3/debugmodel", &M) == ALTO_OK, "%s",
         alto_last_error());
  const case_ cases[] = {
      {NULL, false, 0.03, 0.999},
      {"llama3_mxfp4.yaml", false, 0.25, 0.98},
      {"llama3_mxfp4.yaml", true, 0.25, 0.98},
      {"fp8_block.yaml", true, 0.25, 0.98},
      {"fp8_block.yaml", false, 0.25, 0.98},
      {"fp8_rowwise.yaml", false, 0.25, 0.98},
      {"fp8_tensorwise.yaml", false, 0.25, 0.98},
      {"nvfp4.yaml", false, 0.25, 0.98}, /* two-level: the outers in cuBLASLt's device alpha */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    one_step_(&cases[i]);
  checkpoints_();
  alto_backend_close(B);
  return alto_test_finish();
}
