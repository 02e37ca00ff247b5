/* The training ops' kernels: descriptor -> key, stub, CTA size and grid (see gen_ops.h). */
#include "compiler/gen_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Name, template file, and whether a bf16 variant exists, per kind. */
static const struct {
  const char *name;
  const char *file;
  bool dtype;
} alto_opkern_tab_[ALTO_OPKERN_COUNT] = {
    [ALTO_OPKERN_EMBED] = {"embed", "ops/embed.cuh", true},
    [ALTO_OPKERN_EMBED_HIST] = {"embed_hist", "ops/embed.cuh", false},
    [ALTO_OPKERN_EMBED_SCAN] = {"embed_scan", "ops/embed.cuh", false},
    [ALTO_OPKERN_EMBED_RANK] = {"embed_rank", "ops/embed.cuh", false},
    [ALTO_OPKERN_EMBED_ACCUM] = {"embed_accum", "ops/embed.cuh", true},
    [ALTO_OPKERN_RMSNORM] = {"rmsnorm", "ops/rmsnorm.cuh", true},
    [ALTO_OPKERN_RMSNORM_BWD] = {"rmsnorm_bwd", "ops/rmsnorm.cuh", true},
    [ALTO_OPKERN_RMSNORM_DW] = {"rmsnorm_dw", "ops/rmsnorm.cuh", false},
    [ALTO_OPKERN_ROPE] = {"rope", "ops/rope.cuh", true},
    [ALTO_OPKERN_ROPE_BWD] = {"rope_bwd", "ops/rope.cuh", true},
    [ALTO_OPKERN_SWIGLU] = {"swiglu", "ops/swiglu.cuh", true},
    [ALTO_OPKERN_SWIGLU_BWD] = {"swiglu_bwd", "ops/swiglu.cuh", true},
    [ALTO_OPKERN_ADD] = {"add", "ops/elementwise.cuh", true},
    [ALTO_OPKERN_CE_COUNT] = {"ce_count", "ops/cross_entropy.cuh", false},
    [ALTO_OPKERN_CE_ROWS] = {"ce_rows", "ops/cross_entropy.cuh", true},
    [ALTO_OPKERN_CE_MEAN] = {"ce_mean", "ops/cross_entropy.cuh", false},
    [ALTO_OPKERN_CE_ROWS_CL] = {"ce_rows_cl", "ops/cross_entropy.cuh", true},
    [ALTO_OPKERN_ADAMW] = {"adamw", "ops/optim.cuh", false},
    [ALTO_OPKERN_SUMSQ_PART] = {"sumsq_part", "ops/optim.cuh", false},
    [ALTO_OPKERN_SUMSQ_FINAL] = {"sumsq_final", "ops/optim.cuh", false},
    [ALTO_OPKERN_SCALE] = {"scale", "ops/optim.cuh", false},
    [ALTO_OPKERN_CAST] = {"cast", "ops/convert.cuh", true},
    [ALTO_OPKERN_TRANSPOSE] = {"transpose", "ops/convert.cuh", false},
    [ALTO_OPKERN_DGE] = {"dge", "ops/dge.cuh", false},
};
_Static_assert(ALTO_OPKERN_COUNT == 24, "add the new kind to alto_opkern_tab_ and the stub switch");

const char *alto_opkern_name(alto_opkern_kind k) {
  ALTO_ASSERT((unsigned)k < ALTO_OPKERN_COUNT);
  return alto_opkern_tab_[k].name;
}

bool alto_opkern_has_dtype(alto_opkern_kind k) {
  ALTO_ASSERT((unsigned)k < ALTO_OPKERN_COUNT);
  return alto_opkern_tab_[k].dtype;
}

static bool alto_opkern_is_norm_(alto_opkern_kind k) {
  return k == ALTO_OPKERN_RMSNORM || k == ALTO_OPKERN_RMSNORM_BWD;
}
static bool alto_opkern_is_rope_(alto_opkern_kind k) {
  return k == ALTO_OPKERN_ROPE || k == ALTO_OPKERN_ROPE_BWD;
}

alto_opkern alto_opkern_make(alto_opkern_kind kind, bool bf16, int cols, int head_dim, int rot,
                             alto_target target, const char *arch) {
  alto_opkern k;
  memset(&k, 0, sizeof k);
  k.kind = kind;
  k.bf16 = alto_opkern_has_dtype(kind) && bf16;
  k.cols = alto_opkern_is_norm_(kind) ? cols : 0;
  k.head_dim = alto_opkern_is_rope_(kind) ? head_dim : 0;
  k.rot = alto_opkern_is_rope_(kind) ? rot : 0;
  k.target = target;
  snprintf(k.arch, sizeof k.arch, "%s", arch);
  return k;
}

alto_opkern alto_opkern_make_cast(bool in_bf16, bool out_bf16, alto_target target,
                                  const char *arch) {
  alto_opkern k = alto_opkern_make(ALTO_OPKERN_CAST, out_bf16, 0, 0, 0, target, arch);
  k.in_bf16 = in_bf16;
  return k;
}

alto_opkern alto_opkern_make_ce_cl(int per_thread, int cluster, alto_target target,
                                   const char *arch) {
  alto_opkern k = alto_opkern_make(ALTO_OPKERN_CE_ROWS_CL, true, 0, 0, 0, target, arch);
  k.per_thread = per_thread;
  k.cluster = cluster;
  return k;
}

bool alto_opkern_ce_cl_shape(int64_t V, int *per_thread, int *cluster) {
  for (int e = 8; e <= 32; e *= 2)
    if (V + 16 <= (int64_t)e * ALTO_OPS_CE_THREADS) {
      *per_thread = e, *cluster = 1;
      return true;
    }
  for (int c = 2; c <= 8; c *= 2)
    if (V + 16 <= (int64_t)32 * c * ALTO_OPS_CE_THREADS) {
      *per_thread = 32, *cluster = c;
      return true;
    }
  return false;
}

alto_opkern alto_opkern_make_transpose(int elem_bytes, alto_target target, const char *arch) {
  alto_opkern k = alto_opkern_make(ALTO_OPKERN_TRANSPOSE, false, 0, 0, 0, target, arch);
  k.elem_bytes = elem_bytes;
  return k;
}

/* TRANSPOSE: the square tile (64 x 64 bytes or halves, 32 x 32 words). */
static int alto_opkern_transpose_tile_(int elem_bytes) {
  return elem_bytes == 4 ? 32 : 64;
}

void alto_opkern_key(const alto_opkern *k, char *out, size_t n) {
  size_t o = 0;
#define ALTO_OKEY_(...) o += (size_t)snprintf(out + o, o < n ? n - o : 0, __VA_ARGS__)
  ALTO_OKEY_("ops.%s", alto_opkern_name(k->kind));
  if (alto_opkern_is_norm_(k->kind))
    ALTO_OKEY_(".c%d", k->cols);
  if (alto_opkern_is_rope_(k->kind))
    ALTO_OKEY_(".d%d.r%d", k->head_dim, k->rot);
  if (k->kind == ALTO_OPKERN_TRANSPOSE)
    ALTO_OKEY_(".e%d", k->elem_bytes);
  if (k->kind == ALTO_OPKERN_CE_ROWS_CL)
    ALTO_OKEY_(".e%d.k%d", k->per_thread, k->cluster);
  if (k->kind == ALTO_OPKERN_ADAMW && k->copy_bf16)
    ALTO_OKEY_(".copy_bf16");
  if (k->kind == ALTO_OPKERN_CAST)
    ALTO_OKEY_(".%s_to_%s", k->in_bf16 ? "bf16" : "f32", k->bf16 ? "bf16" : "f32");
  else if (alto_opkern_has_dtype(k->kind))
    ALTO_OKEY_(".%s", k->bf16 ? "bf16" : "f32");
  ALTO_OKEY_(".%s.%s", alto_target_info_get(k->target)->name, k->arch);
#undef ALTO_OKEY_
}

/* RMSNorm: about 8 elements (a 16-byte vector of bf16) per thread; at least 64 threads (a HIP
 * wavefront), at most 1024. */
static int alto_opkern_norm_threads_(int C) {
  int want = (C + 7) / 8, t = 64;
  while (t < want && t < 1024)
    t *= 2;
  return t;
}

int alto_opkern_threads(const alto_opkern *k) {
  switch (k->kind) {
  case ALTO_OPKERN_RMSNORM:
  case ALTO_OPKERN_RMSNORM_BWD:
    return alto_opkern_norm_threads_(k->cols);
  case ALTO_OPKERN_EMBED_SCAN:
  case ALTO_OPKERN_EMBED_RANK:
  case ALTO_OPKERN_CE_COUNT:
  case ALTO_OPKERN_CE_MEAN:
  case ALTO_OPKERN_SUMSQ_FINAL:
    return 1024;
  case ALTO_OPKERN_CE_ROWS:
    return 512;
  case ALTO_OPKERN_CE_ROWS_CL:
    return ALTO_OPS_CE_THREADS;
  case ALTO_OPKERN_SWIGLU:
  case ALTO_OPKERN_SWIGLU_BWD: /* bf16: the sigmoid table's copy shared by more threads */
    return k->bf16 ? 512 : 256;
  default:
    return 256;
  }
}

int alto_opkern_smem_bytes(const alto_opkern *k) {
  if (k->kind == ALTO_OPKERN_CE_ROWS_CL) /* two chunks of the row (bf16), the exchange slots */
    return 32 * ALTO_OPS_CE_THREADS * (k->per_thread / 8) + 1024;
  return 0;
}

static unsigned alto_ocdiv_(int64_t a, int64_t b) {
  return (unsigned)((a + b - 1) / b);
}
static unsigned alto_ocap_(int64_t a, unsigned cap) {
  return a < (int64_t)cap ? (unsigned)a : cap;
}

void alto_opkern_grid(const alto_opkern *k, int64_t rows, int64_t cols, unsigned grid[3]) {
  const int nt = alto_opkern_threads(k);
  grid[0] = grid[1] = grid[2] = 1;
  switch (k->kind) {
  case ALTO_OPKERN_EMBED:
  case ALTO_OPKERN_EMBED_ACCUM: /* blockIdx.x: a token row (accum: an occurring token, <= M);
                                   8 columns per thread */
    grid[0] = (unsigned)rows;
    grid[1] = alto_ocdiv_(cols, 8 * (int64_t)nt);
    break;
  case ALTO_OPKERN_EMBED_HIST:
    grid[0] = alto_ocap_(alto_ocdiv_(rows, nt), 65535);
    break;
  case ALTO_OPKERN_RMSNORM:
  case ALTO_OPKERN_CE_ROWS:
    grid[0] = (unsigned)rows;
    break;
  case ALTO_OPKERN_RMSNORM_BWD:
    grid[0] = alto_ocdiv_(rows, ALTO_OPS_NORM_ROWS);
    break;
  case ALTO_OPKERN_RMSNORM_DW: /* 32 columns per CTA */
    grid[0] = alto_ocdiv_(cols, 32);
    break;
  case ALTO_OPKERN_ROPE:
  case ALTO_OPKERN_ROPE_BWD: { /* rows = M * NH; one item per copied dim or rotated pair, or per
                                  8 of them (ops/rope.cuh: alto_rope_vec_) */
    const int off = k->head_dim - k->rot, h = k->rot / 2;
    int64_t items = off % 8 == 0 && h % 8 == 0 ? rows * (off / 8 + h / 8) : rows * (off + h);
    grid[0] = alto_ocap_(alto_ocdiv_(items, nt), 1u << 20);
    break;
  }
  case ALTO_OPKERN_SWIGLU:
  case ALTO_OPKERN_SWIGLU_BWD: /* bf16: about 64 elements per thread (one table copy per CTA) */
    grid[0] = alto_ocap_(alto_ocdiv_(rows, (int64_t)nt * (k->bf16 ? 64 : 8)), 1u << 20);
    break;
  case ALTO_OPKERN_ADD:
  case ALTO_OPKERN_CAST: /* 8 elements per thread */
    grid[0] = alto_ocap_(alto_ocdiv_(rows, 8 * (int64_t)nt), 1u << 20);
    break;
  case ALTO_OPKERN_ADAMW:
  case ALTO_OPKERN_SCALE:
  case ALTO_OPKERN_DGE:
    grid[0] = alto_ocap_(alto_ocdiv_(rows, nt), 1u << 20);
    break;
  case ALTO_OPKERN_CE_ROWS_CL: /* clusters of k->cluster CTAs, ALTO_OPS_CE_ROWS rows each */
    grid[0] = (unsigned)k->cluster * alto_ocdiv_(rows, ALTO_OPS_CE_ROWS);
    break;
  case ALTO_OPKERN_TRANSPOSE: { /* one CTA per tile (grid-stride beyond the cap) */
    const int tile = alto_opkern_transpose_tile_(k->elem_bytes);
    grid[0] = alto_ocap_((int64_t)alto_ocdiv_(rows, tile) * alto_ocdiv_(cols, tile), 1u << 20);
    break;
  }
  case ALTO_OPKERN_SUMSQ_PART: { /* a pure function of N: the partials' order is fixed by it */
    unsigned g = alto_ocap_(alto_ocdiv_(rows, (int64_t)nt * 8), ALTO_OPS_SUMSQ_MAX_PARTS);
    grid[0] = g < 1 ? 1 : g;
    break;
  }
  case ALTO_OPKERN_EMBED_SCAN:
  case ALTO_OPKERN_EMBED_RANK:
  case ALTO_OPKERN_CE_COUNT:
  case ALTO_OPKERN_CE_MEAN:
  case ALTO_OPKERN_SUMSQ_FINAL:
    break;
  case ALTO_OPKERN_COUNT:
    ALTO_ASSERT(0);
  }
}

static alto_status alto_opkern_check_(const alto_opkern *k) {
  if ((unsigned)k->kind >= ALTO_OPKERN_COUNT)
    return alto_error(ALTO_ERR_INVALID_ARG, "op kernel kind %d out of range", (int)k->kind);
  if (k->bf16 && !alto_opkern_has_dtype(k->kind))
    return alto_error(ALTO_ERR_INVALID_ARG, "ops.%s has an fp32 variant only",
                      alto_opkern_name(k->kind));
  if (alto_opkern_is_norm_(k->kind) && (k->cols < 1 || k->cols > ALTO_OPS_NORM_MAX_COLS))
    return alto_error(ALTO_ERR_INVALID_ARG, "RMSNorm on the GPU: the model dim %d must be in 1..%d",
                      k->cols, ALTO_OPS_NORM_MAX_COLS);
  if (alto_opkern_is_rope_(k->kind) &&
      (k->head_dim < 2 || k->rot < 2 || k->rot > k->head_dim || k->rot % 2))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "RoPE: head dim %d and rotated dims %d (even, 2 .. head dim) are invalid",
                      k->head_dim, k->rot);
  if (k->kind == ALTO_OPKERN_TRANSPOSE && k->elem_bytes != 1 && k->elem_bytes != 2 &&
      k->elem_bytes != 4)
    return alto_error(ALTO_ERR_INVALID_ARG, "transpose: %d-byte elements (valid: 1, 2, 4)",
                      k->elem_bytes);
  if (k->kind == ALTO_OPKERN_CE_ROWS_CL &&
      (k->target != ALTO_TARGET_CUDA || !k->bf16 ||
       (k->per_thread != 8 && k->per_thread != 16 && k->per_thread != 32) ||
       (k->cluster != 1 && k->cluster != 2 && k->cluster != 4 && k->cluster != 8) ||
       (k->cluster > 1 && k->per_thread != 32)))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "ops.ce_rows_cl: bf16 on CUDA, %d logits per thread (8, 16, 32) and %d CTAs "
                      "per row (1, 2, 4, 8 with 32 per thread)",
                      k->per_thread, k->cluster);
  if (k->copy_bf16 && k->kind != ALTO_OPKERN_ADAMW)
    return alto_error(ALTO_ERR_INVALID_ARG, "ops.%s writes no bf16 copy (AdamW only)",
                      alto_opkern_name(k->kind));
  if (k->in_bf16 && k->kind != ALTO_OPKERN_CAST)
    return alto_error(ALTO_ERR_INVALID_ARG, "ops.%s has no input dtype of its own",
                      alto_opkern_name(k->kind));
  return ALTO_OK;
}

alto_status alto_gen_ops(const alto_opkern *k, alto_gen_kernel *out) {
  memset(out, 0, sizeof *out);
  ALTO_TRY(alto_opkern_check_(k));
  alto_opkern_key(k, out->key, sizeof out->key);
  alto_gen_kernel_name(out->key, out->name, sizeof out->name);
  out->template_file = alto_opkern_tab_[k->kind].file;
  out->threads = alto_opkern_threads(k);
  out->smem_bytes = alto_opkern_smem_bytes(k);
  const int nt = out->threads;
  const char *bf = k->bf16 ? "true" : "false";
  char *s = NULL;
  size_t len = 0, cap = 0;
  alto_gen_appendf(&s, &len, &cap,
            "// Generated by alto's kernel generator v%d; do not edit (alto-compile --emit-src "
            "writes it).\n// variant: %s\n// template: templates/%s\n#include \"%s\"\n\n",
            ALTO_GEN_VERSION, out->key, out->template_file, out->template_file);
  if (k->kind == ALTO_OPKERN_CE_ROWS_CL) /* one CTA per SM, 128 registers per thread */
    alto_gen_appendf(&s, &len, &cap, "extern \"C\" __global__ void __launch_bounds__(%d, 1)", nt);
  else
    alto_gen_appendf(&s, &len, &cap, "extern \"C\" __global__ void __launch_bounds__(%d)", nt);
  if (k->kind == ALTO_OPKERN_CE_ROWS_CL && k->cluster > 1)
    alto_gen_appendf(&s, &len, &cap, " __cluster_dims__(%d, 1, 1)", k->cluster);
  alto_gen_appendf(&s, &len, &cap, " %s(alto_opargs a) {\n", out->name);
  switch (k->kind) {
  case ALTO_OPKERN_EMBED:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_embed_fwd<%s, %d>(a.out, (const float *)a.in, a.ids, a.cols, a.vocab);\n",
              bf, nt);
    break;
  case ALTO_OPKERN_EMBED_HIST:
    alto_gen_appendf(&s, &len, &cap, "  alto_embed_hist(a.iscratch, a.ids, a.rows, a.vocab);\n");
    break;
  case ALTO_OPKERN_EMBED_SCAN:
    alto_gen_appendf(&s, &len, &cap, "  alto_embed_scan<%d>(a.iscratch, a.rows, a.vocab);\n", nt);
    break;
  case ALTO_OPKERN_EMBED_RANK:
    alto_gen_appendf(&s, &len, &cap, "  alto_embed_rank<%d>(a.iscratch, a.ids, a.rows, a.vocab);\n", nt);
    break;
  case ALTO_OPKERN_EMBED_ACCUM:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_embed_accum<%s, %d>((float *)a.out, a.in, a.iscratch, a.rows, a.cols, "
              "a.vocab);\n",
              bf, nt);
    break;
  case ALTO_OPKERN_RMSNORM:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_rmsnorm_fwd<%s, %d, %d>(a.out, (float *)a.out2, a.in, (const float *)a.in2,\n"
              "                              a.s[0]);\n",
              bf, k->cols, nt);
    break;
  case ALTO_OPKERN_RMSNORM_BWD:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_rmsnorm_bwd<%s, %d, %d, %d>(a.out, (float *)a.out2, a.in, a.in2,\n"
              "                                   (const float *)a.in3, (const float *)a.in4, "
              "a.rows,\n                                   a.flag != 0);\n",
              bf, k->cols, nt, ALTO_OPS_NORM_ROWS);
    break;
  case ALTO_OPKERN_RMSNORM_DW:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_rmsnorm_dw<%d>((float *)a.out, (const float *)a.in, (a.rows + %d) / %d, "
              "a.cols);\n",
              nt, ALTO_OPS_NORM_ROWS - 1, ALTO_OPS_NORM_ROWS);
    break;
  case ALTO_OPKERN_ROPE:
  case ALTO_OPKERN_ROPE_BWD:
    alto_gen_appendf(
        &s, &len, &cap,
        "  alto_rope<%s, %d, %d, %s>(a.out, a.in, (const float *)a.in2, (const float *)a.in3, "
        "a.rows, a.T,\n                             a.heads);\n",
        bf, k->head_dim, k->rot, k->kind == ALTO_OPKERN_ROPE_BWD ? "true" : "false");
    break;
  case ALTO_OPKERN_SWIGLU:
    alto_gen_appendf(&s, &len, &cap, "  alto_swiglu<%s, %d>(a.out, a.in, a.in2, a.rows);\n", bf,
                     nt);
    break;
  case ALTO_OPKERN_SWIGLU_BWD:
    alto_gen_appendf(&s, &len, &cap,
                     "  alto_swiglu_bwd<%s, %d>(a.out, a.out2, a.in, a.in2, a.in3, a.rows);\n", bf,
                     nt);
    break;
  case ALTO_OPKERN_ADD:
    alto_gen_appendf(&s, &len, &cap, "  alto_add<%s>(a.out, a.in, a.in2, a.rows);\n", bf);
    break;
  case ALTO_OPKERN_CE_COUNT:
    alto_gen_appendf(&s, &len, &cap, "  alto_ce_count<%d>((double *)a.out3, a.ids, a.rows);\n", nt);
    break;
  case ALTO_OPKERN_CE_ROWS:
    alto_gen_appendf(
        &s, &len, &cap,
        "  alto_ce_rows<%s, %d>(a.out, (double *)a.out2, a.in, a.ids, (const double *)a.out3, "
        "a.cols);\n",
        bf, nt);
    break;
  case ALTO_OPKERN_CE_MEAN:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_ce_mean<%d>((double *)a.out3, (const double *)a.out2, a.rows);\n", nt);
    break;
  case ALTO_OPKERN_CE_ROWS_CL:
    alto_gen_appendf(&s, &len, &cap,
                     "  alto_ce_rows_cl<%d, %d, %d, %d>((alto_u16 *)a.out, (double *)a.out2,\n"
                     "                               (const alto_u16 *)a.in, a.ids, "
                     "(const double *)a.out3,\n                               a.rows, a.cols);\n",
                     k->cluster, nt, k->per_thread / 8, ALTO_OPS_CE_ROWS);
    break;
  case ALTO_OPKERN_ADAMW:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_adamw<%s>((float *)a.out, (const float *)a.in, (float *)a.out2, "
              "(float *)a.out3, a.rows,\n             (float)a.s[0], (float)a.s[1], (float)a.s[2], "
              "(float)a.s[3], (float)a.s[4],\n             (float)a.s[5], (float)a.s[6], "
              "(alto_u16 *)a.out4);\n", k->copy_bf16 ? "true" : "false");
    break;
  case ALTO_OPKERN_SUMSQ_PART:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_sumsq_part<%d>((double *)a.out2, (const float *)a.in, a.rows);\n", nt);
    break;
  case ALTO_OPKERN_SUMSQ_FINAL:
    alto_gen_appendf(&s, &len, &cap,
              "  alto_sumsq_final<%d>((double *)a.out, (const double *)a.out2, a.cols, a.flag != "
              "0);\n",
              nt);
    break;
  case ALTO_OPKERN_SCALE:
    alto_gen_appendf(
        &s, &len, &cap,
        "  alto_scale((float *)a.out, a.rows, (float)a.s[0], (const double *)a.in, a.s[1],\n"
        "             (const float *)a.in2);\n");
    break;
  case ALTO_OPKERN_CAST:
    alto_gen_appendf(&s, &len, &cap, "  alto_cast<%s, %s>(a.out, a.in, a.rows);\n",
                     k->in_bf16 ? "true" : "false", bf);
    break;
  case ALTO_OPKERN_TRANSPOSE: {
    const char *e = k->elem_bytes == 1 ? "alto_u8" : k->elem_bytes == 2 ? "alto_u16" : "alto_u32";
    alto_gen_appendf(&s, &len, &cap,
                     "  alto_transpose<%s, %d, %d>((%s *)a.out, (const %s *)a.in, a.rows, "
                     "a.cols);\n",
                     e, alto_opkern_transpose_tile_(k->elem_bytes), nt, e, e);
    break;
  }
  case ALTO_OPKERN_DGE:
    alto_gen_appendf(&s, &len, &cap,
                     "  alto_dge((float *)a.out, (const float *)a.in, (const alto_u8 *)a.in2, "
                     "a.rows, a.cols,\n           a.block_r, a.block_c);\n");
    break;
  case ALTO_OPKERN_COUNT:
    ALTO_ASSERT(0);
  }
  alto_gen_appendf(&s, &len, &cap, "}\n");
  out->source = s;
  return ALTO_OK;
}
