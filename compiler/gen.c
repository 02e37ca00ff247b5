#include "compiler/gen.h"
#include "templates/common/alto_qargs.h" /* alto_rowwise_cols_grid */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const alto_target_info alto_targets_[ALTO_TARGET_COUNT] = {
    [ALTO_TARGET_CUDA] = {"cuda", ".cu", "nvcc", 32},
    [ALTO_TARGET_HIP] = {"hip", ".hip", "hipcc", 64},
};

const alto_target_info *alto_target_info_get(alto_target t) {
  ALTO_ASSERT((unsigned)t < ALTO_TARGET_COUNT);
  return &alto_targets_[t];
}

static const char *const alto_qkern_names_[ALTO_QKERN_COUNT] = {
    "rows", "tile", "dequant", "amax", "nvfp4_outer", "fp8_tensorwise", "fp8_rowwise_rows",
    "fp8_rowwise_cols", "mx69", "rht", "dual", "fp8_col_amax"};

/* Template file and CTA size per kind. */
static const struct {
  const char *file;
  int threads;
} alto_qkern_tpl_[ALTO_QKERN_COUNT] = {
    [ALTO_QKERN_ROWS] = {"quant/quant_rows.cuh", 256},
    [ALTO_QKERN_TILE] = {"quant/quant_tile.cuh", 128},
    [ALTO_QKERN_DEQUANT] = {"quant/dequant.cuh", 64},
    [ALTO_QKERN_AMAX] = {"quant/quant_scaled.cuh", 256},
    [ALTO_QKERN_NVFP4_OUTER] = {"quant/quant_scaled.cuh", 32},
    [ALTO_QKERN_FP8_TENSORWISE] = {"quant/quant_scaled.cuh", 256},
    [ALTO_QKERN_FP8_ROWWISE_ROWS] = {"quant/quant_scaled.cuh", 256},
    [ALTO_QKERN_FP8_ROWWISE_COLS] = {"quant/quant_scaled.cuh", 256},
    [ALTO_QKERN_MX69] = {"quant/mx69.cuh", 256},
    [ALTO_QKERN_RHT] = {"quant/quant_tile.cuh", 128},
    [ALTO_QKERN_DUAL] = {"quant/quant_dual.cuh", 128},
    [ALTO_QKERN_FP8_COL_AMAX] = {"quant/quant_scaled.cuh", 256},
};

/* CTAs of the SwiGLU rows kernel at most: two per SM of an H100, each walking the tensor. */
enum { ALTO_GEN_SWIGLU_CTAS = 264 };
/* the SwiGLU backward + dual dY kernel: 2 CTAs of 256 threads per H100 SM (its launch bounds), and
 * the table's bytes (ops/sigmoid_bf16.h: 2 x ALTO_OPS_SIGMOID_PER floats) */
enum { ALTO_GEN_SWIGLU_BWD_CTAS = 264, ALTO_GEN_SIGMOID_TAB_BYTES = 2 * 4224 * 4 };

static const char *alto_elem_enum_(alto_elem e) {
  static const char *const n[] = {"ALTO_ELEM_E2M1", "ALTO_ELEM_E4M3", "ALTO_ELEM_E5M2",
                                  "ALTO_ELEM_BF16", "ALTO_ELEM_F32"};
  return n[e];
}
static const char *alto_rule_enum_(alto_scale_rule r) {
  static const char *const n[] = {"ALTO_SCALE_EVEN", "ALTO_SCALE_FLOOR", "ALTO_SCALE_UOS",
                                  "ALTO_SCALE_RCEIL"};
  return n[r];
}
static const char *alto_qk_family_(alto_scheme s) {
  switch (s) {
  case ALTO_SCHEME_NVFP4:
    return "ALTO_QK_NVFP4";
  case ALTO_SCHEME_FP8_BLOCK:
    return "ALTO_QK_FP8_BLOCK";
  default:
    return "ALTO_QK_MX";
  }
}
static const char *alto_dq_family_(alto_scheme s) {
  switch (s) {
  case ALTO_SCHEME_NVFP4:
    return "ALTO_DQ_NVFP4";
  case ALTO_SCHEME_FP8_BLOCK:
    return "ALTO_DQ_FP8_BLOCK";
  case ALTO_SCHEME_FP8_ROWWISE:
  case ALTO_SCHEME_FP8_TENSORWISE:
    return "ALTO_DQ_FP8_SCALED";
  default:
    return "ALTO_DQ_MX";
  }
}

static bool alto_scheme_is_blocked_(alto_scheme s) {
  return s == ALTO_SCHEME_MXFP4 || s == ALTO_SCHEME_MXFP8_E4M3 || s == ALTO_SCHEME_MXFP8_E5M2 ||
         s == ALTO_SCHEME_NVFP4 || s == ALTO_SCHEME_FP8_BLOCK;
}

/* Blockwise FP8 with 128-row blocks (128x1 column blocks, 128x128 2-D blocks, no RHT) has its own
 * template: quant_tile128.cuh, one CTA per 128 x 128 tile; 256 threads (bf16) or 512 (fp32) keep
 * 8 rows of 16 bytes per thread in registers. */
static bool alto_gen_tile128_(const alto_qkern *k) {
  return k->kind == ALTO_QKERN_TILE && k->scheme == ALTO_SCHEME_FP8_BLOCK && k->block_r == 128 &&
         !k->rht && !k->sr && k->elem != ALTO_ELEM_E2M1;
}

/* Column (Bx1) and 2-D (BxB) blocks of 16 or 32 rows without an RHT (MX, NVFP4) have their own
 * template too: quant_cols.cuh, 256 threads per tile of B rows, 8 rows of 16 bytes per thread. */
static bool alto_gen_cols_(const alto_qkern *k) {
  return k->kind == ALTO_QKERN_TILE && k->scheme != ALTO_SCHEME_FP8_BLOCK && !k->rht &&
         (k->block_r == 16 || k->block_r == 32);
}
enum { ALTO_COLS_THREADS = 256, ALTO_COLS_ROWS_PER_THREAD = 8 };

/* The RHT of 16 or 32 rows fused in registers: quant_rht.cuh, one CTA per B x (2 * threads) tile,
 * 128 threads (the dual-output kernel of fp32 inputs: 64, two 16 KB tiles). Column blocks of 16 or
 * 32 rows with b <= B (MX, NVFP4); the dual-output kernel with b = 32; the RHT alone. Larger
 * transforms keep quant_tile.cuh's shared-memory path. */
static bool alto_gen_rht_fast_(const alto_qkern *k) {
  switch (k->kind) {
  case ALTO_QKERN_TILE:
    return (k->rht == 16 || k->rht == 32) && k->block_c == 1 &&
           (k->block_r == 16 || k->block_r == 32) && k->rht <= k->block_r &&
           k->scheme != ALTO_SCHEME_FP8_BLOCK;
  case ALTO_QKERN_DUAL:
    return k->rht == 32;
  case ALTO_QKERN_RHT:
    return k->rht == 16 || k->rht == 32;
  default:
    return false;
  }
}
static int alto_gen_rht_fast_threads_(const alto_qkern *k) {
  return (k->kind == ALTO_QKERN_DUAL && !k->in_bf16) ? 64 : 128;
}
/* Columns of one quant_cols.cuh tile: (threads per row group) x (columns per thread). */
static int alto_gen_cols_width_(const alto_qkern *k) {
  int groups = k->block_r / ALTO_COLS_ROWS_PER_THREAD;
  return ALTO_COLS_THREADS / groups * (k->in_bf16 ? 8 : 4);
}

int alto_gen_tile_cpt(const alto_qkern *k) {
  if (k->kind != ALTO_QKERN_TILE && k->kind != ALTO_QKERN_DUAL)
    return 2;
  return (k->block_c >= 128 || k->sr) ? 4 : 2; /* SR: one Philox call serves 4 columns */
}

/* Tile rows and CTA size: smaller CTAs for taller tiles keep the RHT staging tile small. */
static int alto_gen_tile_rows_(const alto_qkern *k) { return k->rht > k->block_r ? k->rht : k->block_r; }
/* Elements per thread of the rows kernel: two NVFP4 blocks for bf16 input without SR (both 32-byte
 * loads in flight before either block is encoded: 57.3 -> 56.1 us at 8192 x 7168 on the H100),
 * else 16. */
/* The rows kernels' FORM (quant_rows.cuh). */
static const char *alto_rows_form_(const alto_qkern *k) {
  return k->scales_t  ? "ALTO_ROWS_FORM_SCALES_T"
         : k->mx_tile ? "ALTO_ROWS_FORM_MX_TILE"
                      : "ALTO_ROWS_FORM_CODES";
}

static int alto_gen_rows_per_thread_(const alto_qkern *k) {
  return (k->scheme == ALTO_SCHEME_NVFP4 && k->block_c == 16 && k->in_bf16 && !k->sr && !k->swiglu)
             ? 32
             : 16;
}

static int alto_gen_threads_(const alto_qkern *k) {
  if (k->kind != ALTO_QKERN_TILE && k->kind != ALTO_QKERN_RHT && k->kind != ALTO_QKERN_DUAL)
    return alto_qkern_tpl_[k->kind].threads;
  if (alto_gen_tile128_(k))
    return k->in_bf16 ? 256 : 512;
  if (alto_gen_cols_(k))
    return ALTO_COLS_THREADS;
  if (alto_gen_rht_fast_(k))
    return alto_gen_rht_fast_threads_(k);
  int t = alto_gen_tile_rows_(k);
  return t <= 32 ? 128 : (t == 64 ? 64 : 32);
}

void alto_qkern_key(const alto_qkern *k, char *out, size_t n) {
  size_t o = 0;
#define ALTO_KEY_(...) o += (size_t)snprintf(out + o, o < n ? n - o : 0, __VA_ARGS__)
  ALTO_KEY_("quant.%s", alto_qkern_names_[k->kind]);
  if (k->kind == ALTO_QKERN_RHT)
    ALTO_KEY_(".rht%d", k->rht);
  else if (k->kind != ALTO_QKERN_AMAX && k->kind != ALTO_QKERN_NVFP4_OUTER &&
           k->kind != ALTO_QKERN_FP8_COL_AMAX) {
    ALTO_KEY_(".%s.%s", alto_scheme_name(k->scheme), alto_elem_name(k->elem));
    if (k->kind == ALTO_QKERN_ROWS || k->kind == ALTO_QKERN_TILE || k->kind == ALTO_QKERN_DEQUANT)
      ALTO_KEY_(".b%dx%d", k->block_r, k->block_c);
    if (k->kind == ALTO_QKERN_DUAL)
      ALTO_KEY_(".b1x32+b32x1");
    if (k->elem == ALTO_ELEM_E2M1 && k->kind != ALTO_QKERN_ROWS && k->kind != ALTO_QKERN_DUAL)
      ALTO_KEY_(".%s", k->pack_rows ? "pack_rows" : "pack_cols");
    if (k->kind == ALTO_QKERN_ROWS || k->kind == ALTO_QKERN_TILE || k->kind == ALTO_QKERN_DUAL) {
      ALTO_KEY_(".%s", k->sr ? "sr" : "rne");
      if (k->scheme == ALTO_SCHEME_MXFP4 || k->scheme == ALTO_SCHEME_MXFP8_E4M3 ||
          k->scheme == ALTO_SCHEME_MXFP8_E5M2)
        ALTO_KEY_(".%s", alto_scale_rule_name(k->rule));
      if (k->rht)
        ALTO_KEY_(".rht%d", k->rht);
    }
    if (k->pow2)
      ALTO_KEY_(".pow2");
    if (k->codes_t)
      ALTO_KEY_(".codes_t");
    if (k->scales_t)
      ALTO_KEY_(".scales_t");
    if (k->mx_tile)
      ALTO_KEY_(".e4m3_tile");
    if (k->dq_elem != ALTO_ELEM_E2M1)
      ALTO_KEY_(".from_%s%s", alto_elem_name(k->dq_elem), k->dq_scales_t ? "_scales_t" : "");
    if (k->t_copy)
      ALTO_KEY_(".t_copy");
    if (k->rows_copy)
      ALTO_KEY_(".rows_copy%s", k->rows_copy == 2 ? "_scales_t" : "");
    if (k->rows_rq)
      ALTO_KEY_(".rows_rq");
    if (k->swiglu)
      ALTO_KEY_(".of_swiglu");
    if (k->adamw)
      ALTO_KEY_(".after_adamw");
    if (k->swiglu_bwd)
      ALTO_KEY_(".of_swiglu_bwd");
    if (k->kind == ALTO_QKERN_DEQUANT && (k->scheme == ALTO_SCHEME_FP8_ROWWISE ||
                                          k->scheme == ALTO_SCHEME_FP8_TENSORWISE))
      ALTO_KEY_(".scale%d", k->scale_mode);
    if (k->kind == ALTO_QKERN_MX69)
      ALTO_KEY_(".q%d.g%d", k->quant_bit, k->group_size);
  }
  if (k->kind == ALTO_QKERN_DEQUANT)
    ALTO_KEY_(".out_%s", k->out_bf16 ? "bf16" : "f32");
  else if (k->kind != ALTO_QKERN_NVFP4_OUTER)
    ALTO_KEY_(".in_%s", k->in_bf16 ? "bf16" : "f32");
  ALTO_KEY_(".%s.%s", alto_target_info_get(k->target)->name, k->arch);
#undef ALTO_KEY_
}

void alto_gen_kernel_name(const char *key, char *name, size_t n) {
  size_t o = (size_t)snprintf(name, n, "alto_");
  for (const char *p = key; *p && o + 1 < n; p++)
    name[o++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                    ? *p
                    : '_';
  name[o] = '\0';
}

void alto_gen_appendf(char **s, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (*len + (size_t)need + 1 > *cap) {
    *cap = (*len + (size_t)need + 1) * 2;
    *s = alto_xrealloc(*s, *cap);
  }
  va_start(ap, fmt);
  vsnprintf(*s + *len, *cap - *len, fmt, ap);
  va_end(ap);
  *len += (size_t)need;
}

void alto_gen_wgmma(char **s, size_t *len, size_t *cap, const alto_gen_wgmma_desc *w) {
  const int nacc = w->n / 2, na = w->a_regs ? 4 : 1; /* accumulators, A operands */
  char dims[24];
  if (w->rows4)
    snprintf(dims, sizeof dims, "[%d][4]", w->n / 8);
  else
    snprintf(dims, sizeof dims, "[%d]", nacc);
  alto_gen_appendf(
      s, len, cap,
      "// One wgmma m64n%dk%d %s, A from %s, B from a shared-memory descriptor%s;\n"
      "// scale_d false: d = A B, else d += A B.\n"
      "__device__ __forceinline__ void %s(float (&d)%s, %s, unsigned long long desc_b,\n"
      "    bool scale_d) {\n"
      "  asm volatile(\n"
      "      \"{\\n .reg .pred p;\\n setp.ne.b32 p, %%%d, 0;\\n\"\n"
      "      \" wgmma.mma_async.sync.aligned.m64n%dk%d.%s\\n\"\n",
      w->n, w->k, w->types, w->a_regs ? "registers" : "a shared-memory descriptor",
      w->trans_b == 1 ? " (N-major)" : "", w->name, dims,
      w->a_regs ? "const unsigned (&a)[4]" : "unsigned long long desc_a", nacc + na + 1, w->n, w->k,
      w->types);
  for (int i = 0; i < nacc; i += 8) {
    alto_gen_appendf(s, len, cap, "      \"%s", i == 0 ? " {" : "  ");
    for (int j = i; j < i + 8 && j < nacc; j++)
      alto_gen_appendf(s, len, cap, "%%%d%s", j, j + 1 == nacc ? "}," : (j % 8 == 7 ? "," : ", "));
    alto_gen_appendf(s, len, cap, "\\n\"\n");
  }
  if (w->a_regs)
    alto_gen_appendf(s, len, cap, "      \"  {%%%d, %%%d, %%%d, %%%d},", nacc, nacc + 1, nacc + 2,
                     nacc + 3);
  else
    alto_gen_appendf(s, len, cap, "      \"  %%%d,", nacc);
  alto_gen_appendf(s, len, cap, " %%%d, p, 1, 1%s;\\n}\\n\"\n      :", nacc + na,
                   w->trans_b < 0 ? ""
                   : w->a_regs    ? (w->trans_b ? ", 1" : ", 0")
                                  : (w->trans_b ? ", 0, 1" : ", 0, 0"));
  for (int j = 0; j < nacc; j++) {
    char acc[24];
    if (w->rows4)
      snprintf(acc, sizeof acc, "d[%d][%d]", j / 4, j % 4);
    else
      snprintf(acc, sizeof acc, "d[%d]", j);
    alto_gen_appendf(s, len, cap, "%s\"+f\"(%s)%s", j % 6 == 0 ? "\n        " : " ", acc,
                     j + 1 < nacc ? "," : "");
  }
  if (w->a_regs)
    alto_gen_appendf(s, len, cap,
                     "\n      : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3]), \"l\"(desc_b), "
                     "\"r\"((int)scale_d));\n}\n\n");
  else
    alto_gen_appendf(s, len, cap,
                     "\n      : \"l\"(desc_a), \"l\"(desc_b), \"r\"((int)scale_d));\n}\n\n");
}

alto_status alto_gen_quant_check(const alto_qkern *k) {
  bool fp4 = k->elem == ALTO_ELEM_E2M1;
  switch (k->kind) {
  case ALTO_QKERN_ROWS:
    if (!alto_scheme_is_blocked_(k->scheme) || k->block_r != 1 ||
        (k->block_c != 16 && k->block_c != 32 && k->block_c != 128))
      return alto_error(ALTO_ERR_INVALID_ARG, "rows kernel needs a block scheme with 1x16, 1x32 or 1x128 blocks");
    break;
  case ALTO_QKERN_TILE:
    if (!alto_scheme_is_blocked_(k->scheme) || !(k->block_c == 1 || k->block_c == k->block_r) ||
        (k->block_r != 16 && k->block_r != 32 && k->block_r != 128))
      return alto_error(ALTO_ERR_INVALID_ARG, "tile kernel needs Bx1 or BxB blocks, B in 16, 32, 128");
    if (k->rht && (k->block_c != 1 || k->rht < 16 || k->rht > 256 || (k->rht & (k->rht - 1))))
      return alto_error(ALTO_ERR_INVALID_ARG, "RHT needs column blocks and a size 16..256, power of two");
    if (fp4 && !k->pack_rows && k->block_c == 1)
      return alto_error(ALTO_ERR_INVALID_ARG, "FP4 column blocks pack along the rows");
    break;
  case ALTO_QKERN_DUAL:
    if ((k->scheme != ALTO_SCHEME_MXFP4 && k->scheme != ALTO_SCHEME_MXFP8_E4M3 &&
         k->scheme != ALTO_SCHEME_MXFP8_E5M2) ||
        k->rht < 32 || k->rht > 256 || (k->rht & (k->rht - 1)))
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "the dual-output kernel is for MX schemes with an RHT of 32..256 rows");
    break;
  default:
    break;
  }
  if (k->sr && !fp4)
    return alto_error(ALTO_ERR_INVALID_ARG, "stochastic rounding is defined for E2M1 elements only");
  if (k->codes_t && !(alto_gen_tile128_(k) && k->block_c == 1) &&
      k->kind != ALTO_QKERN_FP8_ROWWISE_COLS)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "transposed codes are written by the fp8_block 128x1 column kernel and the "
                      "rowwise FP8 per-column kernel only");
  if (k->t_copy && !(alto_gen_tile128_(k) && k->block_c == 128))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "a transposed copy is written by the fp8_block 128x128 kernel only");
  if (k->swiglu && !(k->kind == ALTO_QKERN_ROWS && k->in_bf16 && k->scheme != ALTO_SCHEME_NVFP4))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "SwiGLU inputs: the rows kernel of bf16 values, MX or fp8_block");
  if (k->swiglu_bwd && !(k->rows_copy && k->codes_t))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "SwiGLU backward before the quantization: the fp8_block dual dY kernel "
                      "(128x1 transposed with the 1x128 row copy)");
  if (k->adamw && !((alto_gen_tile128_(k) && k->block_c == 128 && !k->in_bf16) ||
                    (alto_gen_cols_(k) && k->block_c == k->block_r && !k->in_bf16)))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "AdamW before the quantization: the fp8_block 128x128 kernel or the MX / "
                      "NVFP4 2-D block kernel, of fp32 values");
  if (k->rows_copy &&
      !(alto_gen_tile128_(k) && k->block_c == 1 && k->codes_t && k->in_bf16 &&
        k->dq_elem == ALTO_ELEM_E2M1 && (k->rows_copy == 1 || k->rows_copy == 2)))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "a 1x128 row copy is written by the fp8_block 128x1 transposed column kernel "
                      "of bf16 values only");
  if (k->rows_rq && !k->rows_copy)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the re-quantization of a 1x128 row copy needs the row copy (rows_copy)");
  if (k->dq_elem != ALTO_ELEM_E2M1 &&
      !(alto_gen_tile128_(k) && k->block_c == 1 && k->in_bf16 &&
        (k->dq_elem == ALTO_ELEM_E4M3 || k->dq_elem == ALTO_ELEM_E5M2)))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "re-quantization from FP8 codes: the fp8_block 128x1 column kernel, bf16 values");
  if (k->scales_t && !((k->kind == ALTO_QKERN_ROWS || k->kind == ALTO_QKERN_DEQUANT) &&
                       k->scheme == ALTO_SCHEME_FP8_BLOCK && k->block_r == 1))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "MN-major scales are for fp8_block 1x128 (rows and dequantize kernels)");
  if (k->mx_tile && !(k->kind == ALTO_QKERN_ROWS && k->scheme == ALTO_SCHEME_MXFP4 &&
                      k->elem == ALTO_ELEM_E2M1 && k->block_r == 1 && k->block_c == 32 &&
                      k->target == ALTO_TARGET_CUDA))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the E4M3 form of the FP8 GEMM is written by the MXFP4 1x32 rows kernel, "
                      "on CUDA only");
  return ALTO_OK;
}

alto_status alto_gen_quant(const alto_qkern *k, alto_gen_kernel *out) {
  memset(out, 0, sizeof *out);
  ALTO_TRY(alto_gen_quant_check(k));
  alto_qkern_key(k, out->key, sizeof out->key);
  alto_gen_kernel_name(out->key, out->name, sizeof out->name);
  out->template_file = k->swiglu_bwd         ? "quant/quant_dual_swiglu_bwd.cuh"
                       : k->swiglu             ? "quant/quant_rows_swiglu.cuh"
                       : alto_gen_tile128_(k)  ? "quant/quant_tile128.cuh"
                       : alto_gen_cols_(k)     ? "quant/quant_cols.cuh"
                       : alto_gen_rht_fast_(k) ? "quant/quant_rht.cuh"
                                               : alto_qkern_tpl_[k->kind].file;
  out->threads = alto_gen_threads_(k);
  char *s = NULL;
  size_t len = 0, cap = 0;
  alto_gen_appendf(&s, &len, &cap,
           "// Generated by alto's kernel generator v%d; do not edit (alto-compile --emit-src "
           "writes it).\n// variant: %s\n// template: templates/%s\n#include \"%s\"\n"
           "#include \"common/alto_qargs.h\"\n\n",
           ALTO_GEN_VERSION, out->key, out->template_file, out->template_file);
  /* (the SwiGLU backward kernel: two CTAs per SM, 127 registers without spills, instead of 165) */
  alto_gen_appendf(&s, &len, &cap,
                   "extern \"C\" __global__ void __launch_bounds__(%d%s) %s(alto_qargs a) {\n",
                   out->threads, k->swiglu_bwd ? ", 2" : "", out->name);
  const char *in = k->in_bf16 ? "true" : "false";
  const char *sr = k->sr ? "true" : "false";
  switch (k->kind) {
  case ALTO_QKERN_ROWS:
    if (k->swiglu) {
      alto_gen_appendf(&s, &len, &cap,
                       "  alto_quant_rows_swiglu<%s, %s, %d, %s, %s, %s, %d>(\n"
                       "      a.x, a.x2, a.codes, a.scales, a.outer, a.rows * a.cols, a.seed, "
                       "a.stream, a.rows,\n      a.cols, (alto_u16 *)a.y);\n",
                       alto_qk_family_(k->scheme), alto_elem_enum_(k->elem), k->block_c,
                       alto_rule_enum_(k->rule), sr, alto_rows_form_(k), out->threads);
      break;
    }
    alto_gen_appendf(&s, &len, &cap,
             "  alto_quant_rows<%s, %s, %d, %s, %s, %s, %s, %d>(a.x, a.codes, a.scales, a.outer,\n"
             "                                          a.rows * a.cols, a.seed, a.stream, a.rows,\n"
             "                                          a.cols);\n",
             alto_qk_family_(k->scheme), alto_elem_enum_(k->elem), k->block_c, in,
             alto_rule_enum_(k->rule), sr, alto_rows_form_(k), alto_gen_rows_per_thread_(k));
    break;
  case ALTO_QKERN_TILE: {
    if (k->swiglu_bwd) {
      out->smem_bytes = ALTO_GEN_SIGMOID_TAB_BYTES;
      alto_gen_appendf(&s, &len, &cap,
                       "  alto_quant_dual_swiglu_bwd<%s, %d, %d>(\n"
                       "      (const alto_u16 *)a.x, (const alto_u16 *)a.x2, (const alto_u16 *)a.x3, "
                       "a.rows, a.cols,\n      a.codes, (float *)a.scales, a.codes2, (float *)a.scales2, "
                       "a.codes3, (float *)a.scales3,\n      a.codes4, (float *)a.scales4);\n",
                       alto_elem_enum_(k->elem), k->rows_copy, out->threads);
      break;
    }
    if (alto_gen_tile128_(k)) {
      alto_gen_appendf(&s, &len, &cap,
                       "  alto_quant_tile128<%s, %d, %s, %d, %s, %s, %s, %s, %d%s>(\n"
                       "      a.x, a.codes, a.scales, a.cols, a.x_scales, a.codes2, (float *)a.scales2%s);\n",
                       alto_elem_enum_(k->elem), k->block_c, in, out->threads,
                       k->codes_t ? "true" : "false",
                       k->dq_elem != ALTO_ELEM_E2M1 ? alto_elem_enum_(k->dq_elem) : "0",
                       k->dq_scales_t ? "true" : "false", k->t_copy ? "true" : "false",
                       k->rows_copy, k->rows_rq ? ", false, true" : k->adamw ? ", true" : "",
                       k->adamw ? ",\n      a.opt_grad, a.opt_m, a.opt_v, a.opt_k" : "");
      break;
    }
    if (alto_gen_cols_(k)) {
      alto_gen_appendf(&s, &len, &cap,
                       "  alto_quant_cols<%s, %s, %d, %d, %s, %s, %s, %s, %d%s>(\n"
                       "      a.x, a.codes, a.scales, a.outer, a.cols, a.seed, a.stream%s);\n",
                       alto_qk_family_(k->scheme), alto_elem_enum_(k->elem), k->block_r,
                       k->block_c, in, alto_rule_enum_(k->rule), sr,
                       k->pack_rows ? "true" : "false", out->threads, k->adamw ? ", true" : "",
                       k->adamw ? ",\n      a.opt_grad, a.opt_m, a.opt_v, a.opt_k" : "");
      break;
    }
    if (alto_gen_rht_fast_(k)) {
      alto_gen_appendf(&s, &len, &cap,
                       "  alto_quant_rht_cols<%s, %s, %d, %d, %s, %s, %s, %d>(\n"
                       "      a.x, a.codes, a.scales, a.outer, a.rht_sign, a.rht_perm, a.cols, "
                       "a.seed, a.stream);\n",
                       alto_qk_family_(k->scheme), alto_elem_enum_(k->elem), k->block_r, k->rht,
                       in, alto_rule_enum_(k->rule), sr, out->threads);
      break;
    }
    int cpt = alto_gen_tile_cpt(k);
    int t = alto_gen_tile_rows_(k);
    if (k->rht || t <= 64) /* the staged tile (quant_tile.cuh's STAGE) */
      out->smem_bytes = t * out->threads * cpt * (k->in_bf16 ? 2 : 4) + k->rht * 8;
    alto_gen_appendf(&s, &len, &cap,
             "  alto_quant_tile<%s, %s, %d, %d, %d, %s, %s, %s, %s, %d, %d>(\n"
             "      a.x, a.codes, a.scales, a.outer, a.rht_sign, a.rht_perm, a.rows, a.cols, "
             "a.seed, a.stream);\n",
             alto_qk_family_(k->scheme), alto_elem_enum_(k->elem), k->block_r, k->block_c, k->rht,
             in, alto_rule_enum_(k->rule), sr, k->pack_rows ? "true" : "false", cpt, out->threads);
    break;
  }
  case ALTO_QKERN_DEQUANT:
    alto_gen_appendf(&s, &len, &cap,
             "  alto_dequant<%s, %s, %d, %d, %s, %d, %s, %d, %s>(a.codes, a.scales, a.outer, a.y, "
             "a.rows, a.cols, a.R);\n",
             alto_dq_family_(k->scheme), alto_elem_enum_(k->elem), k->block_r, k->block_c,
             k->pack_rows ? "true" : "false", k->scale_mode, k->out_bf16 ? "true" : "false",
             out->threads, k->scales_t ? "true" : "false");
    break;
  case ALTO_QKERN_AMAX:
    alto_gen_appendf(&s, &len, &cap, "  alto_tensor_amax<%s, %d>(a.x, a.rows * a.cols, a.amax_bits);\n",
             in, out->threads);
    break;
  case ALTO_QKERN_NVFP4_OUTER:
    alto_gen_appendf(&s, &len, &cap, "  alto_nvfp4_outer_kernel(a.amax_bits, a.outer);\n");
    break;
  case ALTO_QKERN_FP8_TENSORWISE:
    alto_gen_appendf(&s, &len, &cap,
             "  alto_fp8_tensorwise<%s, %s, %s>(a.x, a.codes, (float *)a.scales, a.amax_bits, "
             "a.rows * a.cols);\n",
             alto_elem_enum_(k->elem), in, k->pow2 ? "true" : "false");
    break;
  case ALTO_QKERN_FP8_ROWWISE_ROWS:
    alto_gen_appendf(&s, &len, &cap,
             "  alto_fp8_rowwise_rows<%s, %s, %s, %d>(a.x, a.codes, (float *)a.scales, a.cols);\n",
             alto_elem_enum_(k->elem), in, k->pow2 ? "true" : "false", out->threads);
    break;
  case ALTO_QKERN_FP8_ROWWISE_COLS:
    alto_gen_appendf(&s, &len, &cap,
             "  alto_fp8_rowwise_cols<%s, %s, %s, %d, %s>(a.x, a.codes, (alto_u32 *)a.scales, "
             "a.R, a.cols);\n",
             alto_elem_enum_(k->elem), in, k->pow2 ? "true" : "false", out->threads,
             k->codes_t ? "true" : "false");
    break;
  case ALTO_QKERN_FP8_COL_AMAX:
    alto_gen_appendf(&s, &len, &cap,
             "  alto_fp8_col_amax<%s, %d>(a.x, (alto_u32 *)a.scales, a.R, a.cols);\n", in,
             out->threads);
    break;
  case ALTO_QKERN_MX69:
    alto_gen_appendf(&s, &len, &cap, "  alto_mx69<%d, %d, %s>(a.x, a.y, a.rows, a.cols);\n", k->quant_bit,
             k->group_size, in);
    break;
  case ALTO_QKERN_DUAL: {
    if (alto_gen_rht_fast_(k)) {
      alto_gen_appendf(&s, &len, &cap,
                       "  alto_quant_dual_rht<%s, %s, %s, %s, %s, %d>(\n"
                       "      a.x, a.codes, a.scales, a.codes2, a.scales2, a.rht_sign, a.rht_perm,\n"
                       "      a.cols, a.seed, a.stream, a.stream2);\n",
                       alto_qk_family_(k->scheme), alto_elem_enum_(k->elem), in,
                       alto_rule_enum_(k->rule), sr, out->threads);
      break;
    }
    int t = alto_gen_tile_rows_(k), cpt = alto_gen_tile_cpt(k);
    out->smem_bytes = t * out->threads * cpt * (k->in_bf16 ? 2 : 4) + k->rht * 8;
    alto_gen_appendf(&s, &len, &cap,
             "  alto_quant_dual<%s, %s, %s, %s, %s, %d, %d, %d>(\n"
             "      a.x, a.codes, a.scales, a.codes2, a.scales2, a.outer, a.rht_sign, a.rht_perm,\n"
             "      a.rows, a.cols, a.seed, a.stream, a.stream2);\n",
             alto_qk_family_(k->scheme), alto_elem_enum_(k->elem), in, alto_rule_enum_(k->rule), sr,
             k->rht, cpt, out->threads);
    break;
  }
  case ALTO_QKERN_RHT:
    if (alto_gen_rht_fast_(k)) {
      alto_gen_appendf(&s, &len, &cap,
                       "  alto_rht_cols_only<%d, %s, %d>(a.x, a.y, a.rht_sign, a.rht_perm, a.cols);\n",
                       k->rht, in, out->threads);
      break;
    }
    out->smem_bytes = k->rht * out->threads * 2 * (k->in_bf16 ? 2 : 4) + k->rht * 8;
    alto_gen_appendf(&s, &len, &cap,
             "  alto_rht_only<%d, %s, 2, %d>(a.x, a.y, a.rht_sign, a.rht_perm, a.cols);\n", k->rht,
             in, out->threads);
    break;
  case ALTO_QKERN_COUNT:
    ALTO_ASSERT(0);
  }
  alto_gen_appendf(&s, &len, &cap, "}\n");
  out->source = s;
  return ALTO_OK;
}

void alto_gen_kernel_free(alto_gen_kernel *g) {
  free(g->source);
  g->source = NULL;
}

static unsigned alto_cdiv_(int64_t a, int64_t b) { return (unsigned)((a + b - 1) / b); }

void alto_gen_quant_grid(const alto_qkern *k, int64_t rows, int64_t cols, int64_t R,
                         unsigned grid[3]) {
  int threads = alto_gen_threads_(k);
  grid[0] = grid[1] = grid[2] = 1;
  switch (k->kind) {
  case ALTO_QKERN_ROWS:
    grid[0] = alto_cdiv_(rows * cols, (int64_t)threads * alto_gen_rows_per_thread_(k));
    if (k->swiglu && grid[0] > ALTO_GEN_SWIGLU_CTAS) /* each CTA fills a 33 KB table first */
      grid[0] = ALTO_GEN_SWIGLU_CTAS;
    break;
  case ALTO_QKERN_FP8_TENSORWISE: /* 16 elements per thread */
    grid[0] = alto_cdiv_(rows * cols, (int64_t)threads * 16);
    break;
  case ALTO_QKERN_RHT:
  case ALTO_QKERN_DUAL:
  case ALTO_QKERN_TILE: {
    int t = alto_gen_tile_rows_(k);
    if (k->swiglu_bwd) { /* persistent over the 128 x 128 tiles: each CTA fills a 33 KB table */
      int64_t tiles = (rows / 128) * (cols / 128);
      grid[0] = (unsigned)(tiles < ALTO_GEN_SWIGLU_BWD_CTAS ? tiles : ALTO_GEN_SWIGLU_BWD_CTAS);
      break;
    }
    if (alto_gen_tile128_(k)) { /* one CTA per 128 x 128 tile */
      grid[0] = alto_cdiv_(cols, 128);
      grid[1] = (unsigned)(rows / 128);
      break;
    }
    if (alto_gen_rht_fast_(k)) { /* one CTA per t x (2 * threads) tile */
      grid[0] = alto_cdiv_(cols, (int64_t)threads * 2);
      grid[1] = (unsigned)(rows / t);
      break;
    }
    if (alto_gen_cols_(k)) { /* one CTA per tile of block_r rows */
      grid[0] = alto_cdiv_(cols, alto_gen_cols_width_(k));
      grid[1] = (unsigned)(rows / k->block_r);
      break;
    }
    grid[0] = alto_cdiv_(cols, (int64_t)threads * alto_gen_tile_cpt(k));
    grid[1] = (unsigned)(rows / t);
    break;
  }
  case ALTO_QKERN_DEQUANT:
    if (cols % 16 == 0) { /* dequant.cuh's vector path: 16 columns per thread, row groups in y */
      int64_t groups = (k->elem == ALTO_ELEM_E2M1 && k->pack_rows) ? rows / 2 : rows;
      grid[0] = alto_cdiv_(cols, (int64_t)threads * 16);
      grid[1] = (unsigned)(groups < 65535 ? groups : 65535);
    } else { /* one thread per element */
      grid[0] = alto_cdiv_(rows * cols, threads);
    }
    break;
  case ALTO_QKERN_AMAX: {
    /* grid-stride: ~1 wave of 256-thread CTAs on a large GPU, 32 elements per thread and step */
    unsigned g = alto_cdiv_(rows * cols, (int64_t)threads * 32);
    grid[0] = g < 1024 ? g : 1024;
    break;
  }
  case ALTO_QKERN_NVFP4_OUTER:
    break;
  case ALTO_QKERN_FP8_ROWWISE_ROWS:
    grid[0] = (unsigned)rows;
    break;
  case ALTO_QKERN_FP8_COL_AMAX: /* both kernels: strips x row splits x matrices */
  case ALTO_QKERN_FP8_ROWWISE_COLS:
    alto_rowwise_cols_grid(rows / R, R, cols, k->in_bf16 ? 8 : 4, grid);
    break;
  case ALTO_QKERN_MX69: {
    int64_t cols_pad = (cols + k->group_size - 1) / k->group_size * k->group_size;
    grid[0] = alto_cdiv_(rows * (cols_pad / 8), threads);
    break;
  }
  case ALTO_QKERN_COUNT:
    ALTO_ASSERT(0);
  }
}
