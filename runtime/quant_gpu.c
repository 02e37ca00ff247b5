#include "runtime/quant_gpu.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/jit.h"
#include "templates/common/alto_qargs.h"

static int alto_scheme_b_(alto_scheme s) { return alto_scheme_block(s); }

static alto_qkern alto_qkern_base_(const alto_quant_spec *spec, alto_target target,
                                   const char *arch) {
  alto_qkern k;
  memset(&k, 0, sizeof k);
  k.scheme = spec->scheme;
  k.elem = (spec->scheme == ALTO_SCHEME_FP8_BLOCK || spec->scheme == ALTO_SCHEME_FP8_ROWWISE ||
            spec->scheme == ALTO_SCHEME_FP8_TENSORWISE)
               ? spec->elem
               : alto_scheme_elem(spec->scheme);
  k.rule = spec->rule;
  k.sr = spec->sr;
  k.pow2 = spec->pow2_scale;
  k.target = target;
  snprintf(k.arch, sizeof k.arch, "%s", arch);
  return k;
}

int alto_quant_kernels(const alto_quant_spec *spec, alto_elem in_dtype, const alto_gpu_rht *rht,
                       alto_target target, const char *arch,
                       alto_qkern out[ALTO_QUANT_MAX_KERNELS]) {
  alto_qkern k = alto_qkern_base_(spec, target, arch);
  k.in_bf16 = in_dtype == ALTO_ELEM_BF16;
  int n = 0;
  int B = alto_scheme_b_(spec->scheme);
  switch (spec->scheme) {
  case ALTO_SCHEME_FP8_TENSORWISE:
    out[n] = k, out[n++].kind = ALTO_QKERN_AMAX;
    out[n] = k, out[n++].kind = ALTO_QKERN_FP8_TENSORWISE;
    return n;
  case ALTO_SCHEME_FP8_ROWWISE:
    if (spec->axis == -1) {
      out[n] = k, out[n++].kind = ALTO_QKERN_FP8_ROWWISE_ROWS;
    } else { /* the columns' amax (into the scales), then the codes */
      out[n] = k, out[n++].kind = ALTO_QKERN_FP8_COL_AMAX;
      out[n] = k, out[n++].kind = ALTO_QKERN_FP8_ROWWISE_COLS;
    }
    return n;
  default:
    break;
  }
  bool fuse_rht = rht && rht->b;
  if (spec->scheme == ALTO_SCHEME_NVFP4 && spec->two_level) {
    if (fuse_rht) { /* the outer scale needs the amax of R x: transform first */
      out[n] = k, out[n].kind = ALTO_QKERN_RHT, out[n++].rht = rht->b;
      fuse_rht = false;
    }
    out[n] = k, out[n++].kind = ALTO_QKERN_AMAX;
    out[n] = k, out[n++].kind = ALTO_QKERN_NVFP4_OUTER;
  }
  if (!spec->block2d && spec->axis == -1 && !fuse_rht) {
    k.kind = ALTO_QKERN_ROWS;
    k.block_r = 1, k.block_c = B;
  } else {
    k.kind = ALTO_QKERN_TILE;
    k.block_r = B;
    k.block_c = spec->block2d ? B : 1;
    k.pack_rows = spec->axis == -2;
    k.rht = fuse_rht ? rht->b : 0;
  }
  out[n++] = k;
  return n;
}

alto_qkern alto_dequant_kernel(const alto_quant_spec *spec, alto_elem out_dtype, alto_target target,
                               const char *arch) {
  alto_qkern k = alto_qkern_base_(spec, target, arch);
  k.kind = ALTO_QKERN_DEQUANT;
  k.sr = false;
  k.pow2 = false;
  k.out_bf16 = out_dtype == ALTO_ELEM_BF16;
  int B = alto_scheme_b_(spec->scheme);
  if (spec->scheme == ALTO_SCHEME_FP8_ROWWISE || spec->scheme == ALTO_SCHEME_FP8_TENSORWISE) {
    k.block_r = k.block_c = 1;
    k.scale_mode = spec->scheme == ALTO_SCHEME_FP8_TENSORWISE ? 0 : (spec->axis == -1 ? 1 : 2);
  } else if (spec->block2d) {
    k.block_r = k.block_c = B;
  } else {
    k.block_r = spec->axis == -1 ? 1 : B;
    k.block_c = spec->axis == -1 ? B : 1;
  }
  k.pack_rows = spec->axis == -2;
  return k;
}

alto_qkern alto_mx69_kernel(int quant_bit, int group_size, alto_elem dtype, alto_target target,
                            const char *arch) {
  alto_qkern k;
  memset(&k, 0, sizeof k);
  k.kind = ALTO_QKERN_MX69;
  k.scheme = quant_bit == 8 ? ALTO_SCHEME_MX9 : ALTO_SCHEME_MX6;
  k.elem = dtype;
  k.in_bf16 = k.out_bf16 = dtype == ALTO_ELEM_BF16;
  k.quant_bit = quant_bit;
  k.group_size = group_size;
  k.target = target;
  snprintf(k.arch, sizeof k.arch, "%s", arch);
  return k;
}

/* rows = all rows (E*R), cols, R = rows per matrix. */
static void alto_dims_(const alto_tensor_view *x, int64_t *rows, int64_t *cols, int64_t *R) {
  *cols = x->dims[x->ndim - 1];
  *R = x->dims[x->ndim - 2];
  *rows = x->ndim == 3 ? x->dims[0] * *R : *R;
}

/* A kernel's arguments over x (its dims), input xd and outputs codes, scales; the rest zero. */
static alto_qargs alto_qargs_of_(const alto_tensor_view *x, alto_dptr xd, alto_dptr codes,
                                 alto_dptr scales) {
  alto_qargs a;
  memset(&a, 0, sizeof a);
  alto_dims_(x, &a.rows, &a.cols, &a.R);
  a.x = xd;
  a.codes = codes;
  a.scales = scales;
  return a;
}

static alto_status alto_quant_gen_(const void *k, alto_gen_kernel *g) {
  return alto_gen_quant((const alto_qkern *)k, g);
}

static alto_status alto_launch_(alto_backend *b, const alto_qkern *k, alto_qargs *a) {
  char key[256];
  alto_qkern_key(k, key, sizeof key);
  alto_jit_fn fn;
  ALTO_TRY(alto_jit_get_keyed(b, key, alto_quant_gen_, k, &fn));
  unsigned grid[3];
  alto_gen_quant_grid(k, a->rows, a->cols, a->R, grid);
  if (grid[0] == 0 || grid[1] == 0)
    return ALTO_OK; /* empty tensor */
  void *args[] = {a};
  return b->i->launch(b, fn.fn, grid, (unsigned)fn.threads, (unsigned)fn.smem_bytes, args);
}

alto_status alto_gpu_rht_upload(alto_backend *b, alto_gpu_rht *rht) {
  if (rht->b < 16 || rht->b > 256 || (rht->b & (rht->b - 1)))
    return alto_error(ALTO_ERR_INVALID_ARG, "RHT size %d: valid sizes are 16, 32, 64, 128, 256",
                      rht->b);
  float sign[256];
  int perm[256];
  alto_rht_make(rht->seed, rht->stream, rht->b, sign, perm);
  if (!rht->table)
    ALTO_TRY(b->i->alloc(b, 256 * 8, &rht->table));
  ALTO_TRY(b->i->h2d(b, rht->table, sign, (size_t)rht->b * 4));
  return b->i->h2d(b, rht->table + (size_t)rht->b * 4, perm, (size_t)rht->b * 4);
}

void alto_gpu_rht_free(alto_backend *b, alto_gpu_rht *rht) {
  if (rht->table)
    b->i->free(b, rht->table);
  rht->table = 0;
}

/* The device table of an RHT: the caller's, or a temporary one (*owned set: free after a sync). */
static alto_status alto_rht_table_(alto_backend *b, const alto_gpu_rht *rht, alto_gpu_rht *tmp,
                                   alto_dptr *table, bool *owned) {
  *owned = false;
  if (rht->table) {
    *table = rht->table;
    return ALTO_OK;
  }
  *tmp = *rht;
  tmp->table = 0;
  ALTO_TRY(alto_gpu_rht_upload(b, tmp));
  *table = tmp->table;
  *owned = true;
  return ALTO_OK;
}

/* MN-major scales (alto_gpu_quantized.scales_t): blockwise FP8 1x128 blocks along the last dim
 * of a 2-D tensor (one rows kernel). */
static alto_status scales_t_ok_(const alto_quant_spec *spec, const alto_tensor_view *x) {
  if (x->ndim != 2 || spec->scheme != ALTO_SCHEME_FP8_BLOCK || spec->axis != -1 || spec->block2d)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "MN-major scales: fp8_block 1x128 blocks (axis -1) of a 2-D tensor only");
  return ALTO_OK;
}

/* The E4M3 form (alto_gpu_quantized.mx_tile): MXFP4 1x32 blocks along the last dim of a 2-D
 * tensor whose last dim is a multiple of 128 (one rows kernel), on CUDA. */
static alto_status mx_tile_ok_(const alto_backend *b, const alto_quant_spec *spec,
                               const alto_tensor_view *x) {
  if (x->ndim != 2 || spec->scheme != ALTO_SCHEME_MXFP4 || spec->axis != -1 || spec->block2d ||
      x->dims[1] % 128 || b->target != ALTO_TARGET_CUDA)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the E4M3 form: MXFP4 1x32 blocks (axis -1) of a 2-D tensor whose last dim "
                      "(%lld) is a multiple of 128, on CUDA",
                      (long long)(x->ndim ? x->dims[x->ndim - 1] : 0));
  return ALTO_OK;
}

alto_status alto_gpu_quantize_check(const alto_backend *b, const alto_quant_spec *spec,
                                    const alto_tensor_view *x, const alto_gpu_rht *rht,
                                    bool *rht_fused) {
  alto_quant_layout layout;
  ALTO_TRY(alto_quant_layout_of(spec, x, &layout));
  if (rht && rht->b) {
    if (spec->axis != -2 || spec->block2d)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "the RHT is fused into column quantization only (axis -2, 1-D blocks)");
    if (x->dims[x->ndim - 2] % rht->b)
      return alto_error(ALTO_ERR_INVALID_ARG, "RHT of %d rows needs the rows (%lld) to be a multiple",
                        rht->b, (long long)x->dims[x->ndim - 2]);
  }
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  int nk = alto_quant_kernels(spec, x->dtype, rht, b->target, b->arch, ks);
  int64_t rows, cols, R;
  alto_dims_(x, &rows, &cols, &R);
  if (ks[nk - 1].kind == ALTO_QKERN_TILE && cols % alto_gen_tile_cpt(&ks[nk - 1]))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "column and 2-D quantization on the GPU need the last dim (%lld) to be a "
                      "multiple of %d",
                      (long long)cols, alto_gen_tile_cpt(&ks[nk - 1]));
  if (rht_fused) {
    *rht_fused = rht && rht->b;
    for (int i = 0; i < nk; i++)
      *rht_fused = *rht_fused && ks[i].kind != ALTO_QKERN_RHT;
  }
  return ALTO_OK;
}

alto_status alto_gpu_quantize(alto_backend *b, const alto_quant_spec *spec,
                              const alto_tensor_view *x, alto_dptr xd, const alto_gpu_rht *rht,
                              const alto_gpu_quantized *q) {
  ALTO_TRY(alto_gpu_quantize_check(b, spec, x, rht, NULL));
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  int nk = alto_quant_kernels(spec, x->dtype, rht, b->target, b->arch, ks);
  if (q->codes_t) {
    const bool block = spec->scheme == ALTO_SCHEME_FP8_BLOCK && !spec->block2d && nk == 1 &&
                       ks[0].kind == ALTO_QKERN_TILE;
    const bool row = spec->scheme == ALTO_SCHEME_FP8_ROWWISE && nk == 2 &&
                     ks[1].kind == ALTO_QKERN_FP8_ROWWISE_COLS && x->dims[0] % 16 == 0;
    if (x->ndim != 2 || spec->axis != -2 || !(block || row))
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "transposed codes: fp8_block 128x1 blocks or fp8_rowwise along axis -2 "
                        "(rows a multiple of 16) of a 2-D tensor only");
    ks[nk - 1].codes_t = true;
  }
  if (q->scales_t) {
    ALTO_TRY(scales_t_ok_(spec, x));
    ALTO_ASSERT(nk == 1 && ks[0].kind == ALTO_QKERN_ROWS);
    ks[0].scales_t = true;
  }
  if (q->mx_tile) {
    ALTO_TRY(mx_tile_ok_(b, spec, x));
    if (rht && rht->b)
      return alto_error(ALTO_ERR_INVALID_ARG, "the E4M3 form: no RHT (a column quantization)");
    ALTO_ASSERT(nk == 1 && ks[0].kind == ALTO_QKERN_ROWS);
    ks[0].mx_tile = true;
  }
  if (q->codes_tr) {
    if (x->ndim != 2 || spec->scheme != ALTO_SCHEME_FP8_BLOCK || !spec->block2d || !q->scales_tr ||
        nk != 1 || ks[0].kind != ALTO_QKERN_TILE)
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "a transposed copy: fp8_block 128x128 blocks of a 2-D tensor only, with "
                        "both its codes and scales");
    ks[0].t_copy = true;
  }
  alto_qargs a = alto_qargs_of_(x, xd, q->codes, q->scales);
  a.codes2 = q->codes_tr;
  a.scales2 = q->scales_tr;
  a.outer = q->outer;
  a.amax_bits = q->scratch;
  a.seed = spec->seed;
  a.stream = spec->stream;
  alto_gpu_rht tmp_rht;
  bool own_table = false;
  if (rht && rht->b) {
    alto_dptr table;
    ALTO_TRY(alto_rht_table_(b, rht, &tmp_rht, &table, &own_table));
    a.rht_sign = table;
    a.rht_perm = table + (size_t)rht->b * 4;
  }
  alto_status st = ALTO_OK;
  if (spec->scheme == ALTO_SCHEME_NVFP4 && !spec->two_level && q->outer) {
    float one = 1.0f; /* (a synchronous h2d stalled the device on every call: ~9 us at 8192 x 7168) */
    st = b->i->memset32 ? b->i->memset32(b, q->outer, 0x3F800000u, 1) : b->i->h2d(b, q->outer, &one, 4);
  }
  alto_dptr tmp = 0;
  for (int i = 0; i < nk && st == ALTO_OK; i++) {
    if (ks[i].kind == ALTO_QKERN_AMAX)
      st = b->i->memset(b, q->scratch, 0, 4);
    if (ks[i].kind == ALTO_QKERN_FP8_COL_AMAX) /* [E, cols] fp32 scales, maxed into from 0 */
      st = b->i->memset(b, q->scales, 0, (size_t)(a.rows / a.R * a.cols) * 4);
    if (ks[i].kind == ALTO_QKERN_RHT && st == ALTO_OK) {
      st = b->i->alloc(b, (size_t)(a.rows * a.cols) * (x->dtype == ALTO_ELEM_BF16 ? 2 : 4), &tmp);
      a.y = tmp;
    }
    if (st == ALTO_OK)
      st = alto_launch_(b, &ks[i], &a);
    if (ks[i].kind == ALTO_QKERN_RHT)
      a.x = tmp; /* every later kernel reads R x */
  }
  if (tmp) {
    alto_status s2 = b->i->sync(b);
    b->i->free(b, tmp);
    if (st == ALTO_OK)
      st = s2;
  }
  if (own_table) {
    alto_status s2 = b->i->sync(b); /* the temporary table must outlive the kernel */
    alto_gpu_rht_free(b, &tmp_rht);
    if (st == ALTO_OK)
      st = s2;
  }
  return st;
}

/* The kernel of AdamW then quantization of x (ks[0]); ALTO_ERR_INVALID_ARG for a form it does not
 * take (transposed: with fp8_block's transposed copy). */
static alto_status adamw_kernel_(const alto_backend *b, const alto_quant_spec *spec,
                                 const alto_tensor_view *x, bool transposed, alto_qkern *ks) {
  ALTO_TRY(alto_gpu_quantize_check(b, spec, x, NULL, NULL));
  int nk = alto_quant_kernels(spec, x->dtype, NULL, b->target, b->arch, ks);
  const bool fp8 = spec->scheme == ALTO_SCHEME_FP8_BLOCK;
  ks[0].adamw = true;
  ks[0].t_copy = transposed;
  if (!(x->ndim == 2 && x->dtype == ALTO_ELEM_F32 && spec->block2d && nk == 1 &&
        ks[0].kind == ALTO_QKERN_TILE &&
        (fp8 ? x->dims[0] % 128 == 0 && x->dims[1] % 128 == 0 : !transposed)) ||
      alto_gen_quant_check(&ks[0]) != ALTO_OK) /* (the generator's rules decide the rest) */
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "AdamW then quantization: 2-D blocks of a 2-D fp32 parameter, fp8_block "
                      "128x128 (dims multiples of 128; optionally a transposed copy) or one-level "
                      "MX / NVFP4 (no copy)");
  return ALTO_OK;
}

alto_status alto_gpu_quantize_adamw_check(const alto_backend *b, const alto_quant_spec *spec,
                                          const alto_tensor_view *x, bool transposed) {
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  return adamw_kernel_(b, spec, x, transposed, ks);
}

alto_status alto_gpu_quantize_adamw(alto_backend *b, const alto_quant_spec *spec,
                                    const alto_tensor_view *x, alto_dptr param, alto_dptr grad,
                                    alto_dptr m, alto_dptr v, const alto_adamw_k *k,
                                    const alto_gpu_quantized *q) {
  if (!q->codes_tr != !q->scales_tr)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "AdamW then quantization: a transposed copy needs both codes and scales");
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  ALTO_TRY(adamw_kernel_(b, spec, x, q->codes_tr != 0, ks));
  alto_qargs a = alto_qargs_of_(x, param, q->codes, q->scales);
  a.codes2 = q->codes_tr;
  a.scales2 = q->scales_tr;
  a.opt_grad = grad;
  a.opt_m = m;
  a.opt_v = v;
  a.opt_k = *k;
  return alto_launch_(b, &ks[0], &a);
}

alto_status alto_gpu_quantize_swiglu(alto_backend *b, const alto_quant_spec *spec,
                                     const alto_tensor_view *x, alto_dptr a, alto_dptr bd,
                                     alto_dptr y, const alto_gpu_quantized *q) {
  ALTO_TRY(alto_gpu_quantize_check(b, spec, x, NULL, NULL));
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  int nk = alto_quant_kernels(spec, x->dtype, NULL, b->target, b->arch, ks);
  if (x->dtype != ALTO_ELEM_BF16 || spec->scheme == ALTO_SCHEME_NVFP4 || nk != 1 ||
      ks[0].kind != ALTO_QKERN_ROWS)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "quantizing SwiGLU's output from its inputs: bf16, MX or fp8_block blocks "
                      "along the last dim");
  if (q->scales_t) {
    ALTO_TRY(scales_t_ok_(spec, x));
    ks[0].scales_t = true;
  }
  if (q->mx_tile) {
    ALTO_TRY(mx_tile_ok_(b, spec, x));
    ks[0].mx_tile = true;
  }
  ks[0].swiglu = true;
  alto_qargs args = alto_qargs_of_(x, a, q->codes, q->scales);
  args.x2 = bd;
  args.y = y;
  args.seed = spec->seed;
  args.stream = spec->stream;
  return alto_launch_(b, &ks[0], &args);
}

alto_status alto_gpu_requantize(alto_backend *b, const alto_quant_spec *spec,
                                const alto_tensor_view *x, const alto_quant_spec *from,
                                alto_dptr in_codes, alto_dptr in_scales, bool in_scales_t,
                                const alto_gpu_quantized *q) {
  ALTO_TRY(alto_gpu_quantize_check(b, spec, x, NULL, NULL));
  if (x->ndim != 2 || x->dtype != ALTO_ELEM_BF16 || x->dims[0] % 128 || x->dims[1] % 128 ||
      spec->scheme != ALTO_SCHEME_FP8_BLOCK || spec->axis != -2 || spec->block2d ||
      from->scheme != ALTO_SCHEME_FP8_BLOCK || from->axis != -1 || from->block2d ||
      (from->elem != ALTO_ELEM_E4M3 && from->elem != ALTO_ELEM_E5M2))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "re-quantization: fp8_block 1x128 codes to fp8_block 128x1 of a 2-D bf16 "
                      "tensor whose dims are multiples of 128");
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  int nk = alto_quant_kernels(spec, x->dtype, NULL, b->target, b->arch, ks);
  ALTO_ASSERT(nk == 1 && ks[0].kind == ALTO_QKERN_TILE);
  ks[0].dq_elem = from->elem;
  ks[0].dq_scales_t = in_scales_t;
  ks[0].codes_t = q->codes_t;
  alto_qargs a = alto_qargs_of_(x, in_codes, q->codes, q->scales);
  a.x_scales = in_scales;
  return alto_launch_(b, &ks[0], &a);
}

alto_qkern alto_rht_kernel(alto_elem dtype, int rht_b, alto_target target, const char *arch) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  alto_qkern k = alto_qkern_base_(&spec, target, arch);
  k.kind = ALTO_QKERN_RHT;
  k.in_bf16 = dtype == ALTO_ELEM_BF16;
  k.rht = rht_b;
  return k;
}

alto_status alto_gpu_rht_apply(alto_backend *b, const alto_tensor_view *x, alto_dptr xd,
                         const alto_gpu_rht *rht, alto_dptr y) {
  if (!rht || !rht->table)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_gpu_rht_apply: the transform is not uploaded");
  if (x->ndim < 2 || x->dims[x->ndim - 2] % rht->b)
    return alto_error(ALTO_ERR_INVALID_ARG, "RHT of %d rows needs the rows to be a multiple",
                      rht->b);
  alto_qkern k = alto_rht_kernel(x->dtype, rht->b, b->target, b->arch);
  alto_qargs a = alto_qargs_of_(x, xd, 0, 0);
  if (a.cols % 2) /* the kernels transform column pairs */
    return alto_error(ALTO_ERR_INVALID_ARG, "the RHT on the GPU needs an even last dim, not %lld",
                      (long long)a.cols);
  a.y = y;
  a.rht_sign = rht->table;
  a.rht_perm = rht->table + (size_t)rht->b * 4;
  return alto_launch_(b, &k, &a);
}

alto_qkern alto_dual_kernel(const alto_quant_spec *fprop, alto_elem in_dtype, int rht_b,
                            alto_target target, const char *arch) {
  alto_qkern k = alto_qkern_base_(fprop, target, arch);
  k.kind = ALTO_QKERN_DUAL;
  k.in_bf16 = in_dtype == ALTO_ELEM_BF16;
  k.block_r = 32, k.block_c = 1;
  k.rht = rht_b;
  return k;
}

/* fp8_block's pair: the 128x1 column kernel writing its codes transposed also writes the 1x128
 * copy (quant_tile128.cuh ROWS_COPY). */
static alto_status alto_fp8_dual_kernel_(const alto_backend *b, const alto_quant_spec *fprop,
                                         const alto_quant_spec *wgrad,
                                         const alto_tensor_view *x,
                                         const alto_gpu_quantized *q_fprop,
                                         const alto_gpu_quantized *q_wgrad, alto_qkern *k) {
  if (fprop->scheme != ALTO_SCHEME_FP8_BLOCK || fprop->axis != -1 || fprop->block2d ||
      wgrad->scheme != ALTO_SCHEME_FP8_BLOCK || wgrad->axis != -2 || wgrad->block2d ||
      fprop->elem != wgrad->elem || !q_wgrad->codes_t || x->ndim != 2 ||
      x->dtype != ALTO_ELEM_BF16 || x->dims[0] % 128 || x->dims[1] % 128)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the fp8_block dual-output kernel writes 1x128 along K and 128x1 along M "
                      "(its codes transposed) of one element format, from a 2-D bf16 tensor whose "
                      "dims are multiples of 128");
  alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
  int nk = alto_quant_kernels(wgrad, x->dtype, NULL, b->target, b->arch, ks);
  ALTO_ASSERT(nk == 1 && ks[0].kind == ALTO_QKERN_TILE);
  ks[0].codes_t = true;
  ks[0].rows_copy = q_fprop->scales_t ? 2 : 1;
  *k = ks[0];
  return ALTO_OK;
}

/* (rq: the 128x1 copy of the 1x128 copy's dequantization, alto_gpu_quantize_x_dual) */
static alto_status alto_fp8_dual_(alto_backend *b, const alto_quant_spec *fprop,
                                  const alto_quant_spec *wgrad, const alto_tensor_view *x,
                                  alto_dptr xd, const alto_gpu_quantized *q_fprop,
                                  const alto_gpu_quantized *q_wgrad, bool rq) {
  alto_qkern k;
  ALTO_TRY(alto_fp8_dual_kernel_(b, fprop, wgrad, x, q_fprop, q_wgrad, &k));
  k.rows_rq = rq;
  alto_qargs a = alto_qargs_of_(x, xd, q_wgrad->codes, q_wgrad->scales);
  a.codes2 = q_fprop->codes, a.scales2 = q_fprop->scales;
  return alto_launch_(b, &k, &a);
}

alto_status alto_gpu_quantize_dual_swiglu_bwd(alto_backend *b, const alto_quant_spec *fprop,
                                              const alto_quant_spec *wgrad,
                                              const alto_tensor_view *x, alto_dptr dy,
                                              alto_dptr a, alto_dptr bd,
                                              const alto_gpu_quantized *qa_fprop,
                                              const alto_gpu_quantized *qa_wgrad,
                                              const alto_gpu_quantized *qb_fprop,
                                              const alto_gpu_quantized *qb_wgrad) {
  alto_qkern k;
  ALTO_TRY(alto_fp8_dual_kernel_(b, fprop, wgrad, x, qa_fprop, qa_wgrad, &k));
  if (!qb_wgrad->codes_t || qb_fprop->scales_t != qa_fprop->scales_t)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "SwiGLU backward + dual dY: db's copies in da's layouts (codes transposed, "
                      "the same 1x128 scale layout)");
  k.swiglu_bwd = true;
  alto_qargs q = alto_qargs_of_(x, dy, qa_wgrad->codes, qa_wgrad->scales);
  q.codes2 = qa_fprop->codes, q.scales2 = qa_fprop->scales;
  q.x2 = a, q.x3 = bd;
  q.codes3 = qb_wgrad->codes, q.scales3 = qb_wgrad->scales;
  q.codes4 = qb_fprop->codes, q.scales4 = qb_fprop->scales;
  return alto_launch_(b, &k, &q);
}

alto_status alto_gpu_quantize_dual(alto_backend *b, const alto_quant_spec *fprop,
                                   const alto_quant_spec *wgrad, const alto_tensor_view *x,
                                   alto_dptr xd, const alto_gpu_rht *rht,
                                   const alto_gpu_quantized *q_fprop,
                                   const alto_gpu_quantized *q_wgrad) {
  alto_quant_layout lf, lw;
  ALTO_TRY(alto_quant_layout_of(fprop, x, &lf));
  ALTO_TRY(alto_quant_layout_of(wgrad, x, &lw));
  if (fprop->scheme == ALTO_SCHEME_FP8_BLOCK && !(rht && rht->b))
    return alto_fp8_dual_(b, fprop, wgrad, x, xd, q_fprop, q_wgrad, false);
  if (fprop->axis != -1 || fprop->block2d || wgrad->axis != -2 || wgrad->block2d ||
      fprop->scheme != wgrad->scheme || fprop->rule != wgrad->rule || fprop->sr != wgrad->sr ||
      fprop->seed != wgrad->seed || !rht || !rht->b)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the dual-output kernel writes 1x32 along K and R X 32x1 along M of one "
                      "scheme, rule, rounding and seed, with an RHT");
  alto_qkern k = alto_dual_kernel(fprop, x->dtype, rht->b, b->target, b->arch);
  alto_qargs a = alto_qargs_of_(x, xd, q_fprop->codes, q_fprop->scales);
  if (a.rows % (rht->b > 32 ? rht->b : 32) || a.cols % 32)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the dual-output kernel needs rows (%lld) a multiple of %d and cols (%lld) "
                      "a multiple of 32",
                      (long long)a.rows, rht->b > 32 ? rht->b : 32, (long long)a.cols);
  a.codes2 = q_wgrad->codes, a.scales2 = q_wgrad->scales;
  a.seed = fprop->seed, a.stream = fprop->stream, a.stream2 = wgrad->stream;
  alto_gpu_rht tmp_rht;
  bool own_table = false;
  alto_dptr table;
  ALTO_TRY(alto_rht_table_(b, rht, &tmp_rht, &table, &own_table));
  a.rht_sign = table;
  a.rht_perm = table + (size_t)rht->b * 4;
  alto_status st = alto_launch_(b, &k, &a);
  if (own_table) {
    alto_status s2 = b->i->sync(b);
    alto_gpu_rht_free(b, &tmp_rht);
    if (st == ALTO_OK)
      st = s2;
  }
  return st;
}

alto_status alto_gpu_quantize_x_dual(alto_backend *b, const alto_quant_spec *fprop,
                                     const alto_quant_spec *wgrad, const alto_tensor_view *x,
                                     alto_dptr xd, const alto_gpu_quantized *q_fprop,
                                     const alto_gpu_quantized *q_wgrad) {
  alto_quant_layout lf, lw;
  ALTO_TRY(alto_quant_layout_of(fprop, x, &lf));
  ALTO_TRY(alto_quant_layout_of(wgrad, x, &lw));
  return alto_fp8_dual_(b, fprop, wgrad, x, xd, q_fprop, q_wgrad, true);
}

alto_status alto_gpu_dequantize(alto_backend *b, const alto_quant_spec *spec,
                                const alto_tensor_view *x, const alto_gpu_quantized *q,
                                alto_elem out_dtype, alto_dptr y) {
  alto_quant_layout layout;
  ALTO_TRY(alto_quant_layout_of(spec, x, &layout));
  alto_qkern k = alto_dequant_kernel(spec, out_dtype, b->target, b->arch);
  if (q->scales_t) {
    ALTO_TRY(scales_t_ok_(spec, x));
    k.scales_t = true;
  }
  alto_qargs a = alto_qargs_of_(x, 0, q->codes, q->scales);
  a.outer = spec->scheme == ALTO_SCHEME_NVFP4 ? q->outer : 0;
  a.y = y;
  return alto_launch_(b, &k, &a);
}

alto_status alto_gpu_mx69(alto_backend *b, const alto_tensor_view *x, alto_dptr xd, int quant_bit,
                          int group_size, alto_dptr y) {
  if (quant_bit != 8 && quant_bit != 5)
    return alto_error(ALTO_ERR_INVALID_ARG, "MX9/MX6 quant_bit must be 8 or 5, not %d", quant_bit);
  if (group_size != 16 && group_size != 32)
    return alto_error(ALTO_ERR_INVALID_ARG, "MX9/MX6 on the GPU: group size 16 or 32, not %d",
                      group_size);
  alto_qkern k = alto_mx69_kernel(quant_bit, group_size, x->dtype, b->target, b->arch);
  alto_qargs a = alto_qargs_of_(x, xd, 0, 0);
  a.y = y;
  return alto_launch_(b, &k, &a);
}
