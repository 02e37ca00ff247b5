/* The GPU plan executor (see exec_gpu.h): one device arena, the nodes in order. */
#include "runtime/exec_gpu.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "compiler/memplan.h"
#include "runtime/attn_gpu.h"
#include "runtime/cpu/exec.h"
#include "runtime/cpu/quant.h"
#include "runtime/cuda/cublaslt.h"
#include "runtime/gemm_gpu.h"
#include "runtime/jit.h"
#include "runtime/ops_gpu.h"
#include "runtime/quant_gpu.h"

#define EXEC_GPU_ALIGN 256
#define EXEC_GPU_RHT_TABLE 2048 /* bytes per uploaded transform: 256 signs + 256 permutation */

/* The GEMM paths, for the summary and the profile. */
typedef enum {
  GEMM_BF16,      /* cuBLASLt bf16 */
  GEMM_DQ_BF16,   /* dequantize to bf16 + cuBLASLt bf16 (MX) */
  GEMM_DQ_F32,    /* dequantize to fp32 + cuBLASLt fp32 (fp8 emulation) */
  GEMM_FP8_BLOCK, /* cuBLASLt block-scaled FP8 */
  GEMM_ALTO_FP8,  /* alto's own block-scaled FP8 GEMM (runtime/gemm_gpu.h), chosen by measurement */
  GEMM_ALTO_MX,   /* MXFP4 on the FP8 tensor cores: the exact E4M3 conversion + alto's GEMM */
  GEMM_ALTO_ROW,  /* rowwise / tensorwise FP8: alto's GEMM with the scales in its epilogue */
  GEMM_PATH_COUNT
} gemm_path_;
static const char *const gemm_path_names_[GEMM_PATH_COUNT] = {
    "cublaslt-bf16", "dequant-bf16",  "dequant-f32", "cublaslt-fp8-block",
    "alto-fp8",      "alto-mxfp4",    "alto-fp8-rowwise"};

/* The choice between cuBLASLt and alto's FP8 GEMM for one GEMM configuration, made once per process
 * by running both on the step's real operands: alto's is allowed only when its output is cuBLASLt's
 * bit for bit (so the choice, which timing makes, never changes the step's bits: a resumed run or
 * another process computes the same), and is chosen when it is faster (median of 3 timings of 5
 * calls each). */
typedef struct {
  int64_t m, n, k;
  int mode_a, mode_b, scales_lt_a, scales_lt_b;
  bool accumulate;
  alto_dtype out;
  bool alto;            /* the choice */
  float ms_lt, ms_alto; /* what was measured (ms_alto < 0: alto's not eligible or failed) */
} gemm_choice_;
#define EXEC_GPU_MAX_CHOICES 64

typedef struct {
  int id, grad, m, v; /* buffer ids */
  int64_t numel;
  float *h_param, *h_grad, *h_m, *h_v; /* host mirrors */
} exec_gpu_param_;

typedef struct {
  int rot;
  alto_dptr cos_t, sin_t; /* (T, rot/2) fp32 */
} exec_gpu_rope_;

struct alto_exec_gpu {
  alto_backend *b;    /* the backend in use (the recording one during prepare) */
  alto_backend *real; /* the caller's */
  alto_model m;
  const alto_plan *p;
  uint64_t seed;
  alto_exec_gpu_opts o;
  alto_dptr arena;
  alto_dptr scratch; /* the largest temporary any node needs (one node at a time) */
  size_t scratch_bytes;
  alto_dptr small; /* loss (2 fp64), sumsq (1 fp64), quant amax scratch, NVFP4 outer, alpha */
  alto_dptr loss_dev, sumsq_dev, qscratch;
  alto_dptr outer; /* fp32 1: the outer scale of one-level NVFP4 and of inner-only dequantization */
  alto_dptr alpha; /* fp32: a two-level NVFP4 GEMM's outer(A) outer(B) */
  alto_dptr sumsq_scratch;
  alto_dptr rht_tables; /* one per RHT node, uploaded per step */
  int *rht_index;       /* node -> its RHT ordinal (-1) */
  int n_rht;
  int *fused_into;      /* a node whose work another node's kernel does (fuse_): -2, and that
                         * node holds its index; -1 otherwise. An RHT, DEQUANTIZE or SWIGLU run
                         * inside the QUANTIZE after it; the second of two QUANTIZEs of one tensor
                         * inside the first (plan_rht_fusion_, plan_requant_fusion_, plan_dual_,
                         * plan_swiglu_); a DEQUANTIZE + QUANTIZE pair inside the forward's
                         * QUANTIZE of their codes' source (plan_xdual_) */
  int n_rht_fused, n_requant, n_dual, n_swiglu;
  int *xdual_q; /* fp8_block X QUANTIZE -> the wgrad re-quantization's QUANTIZE it also writes
                 * (plan_xdual_; -1 otherwise) */
  int n_xdual;
  bool *swiglu_y; /* node (a QUANTIZE with its SWIGLU fused) -> the kernel also writes y */
  bool *mx_tile;        /* codes buffer -> its QUANTIZE writes the E4M3 form (plan_mx_tile_) */
  int n_mx_tile;
  bool *codes_t;        /* buffer -> its codes are stored transposed (plan_codes_t_) */
  int n_codes_t;
  bool *scales_t;       /* buffer -> its 1x128 scales are stored MN-major (plan_codes_t_) */
  int n_scales_t;
  alto_dptr *wt_codes;  /* codes buffer of a weight -> its transposed copy (0: none; plan_w_t_) */
  alto_dptr *wt_scales; /* ... and of its 128x128 scale grid */
  int n_wt;
  /* Weights whose forward copy the optimizer step writes (plan_wq_): a 2-D block weight's
   * QUANTIZE codes and scales, or a bf16 weight's CAST, live in memory of their own (pinned, not
   * the arena) from one step to the next; the AdamW of the parameter writes them (one kernel:
   * quant_tile128.cuh / quant_cols.cuh ADAMW, or AdamW with its bf16 copy) and the forward's node
   * is skipped while they are fresh (set by either, cleared when the parameter is written) */
  alto_dptr *pinned; /* buffer -> its own memory (0: the arena's) */
  size_t *offsets;    /* buffer -> its arena offset when memplan_ redid the layout (else NULL) */
  size_t arena_bytes;
  int *wq_of;        /* parameter buffer -> its QUANTIZE or CAST node (-1: none) */
  bool *wq_fresh;    /* parameter buffer -> its pinned copy is that of its current values */
  int n_wq, n_wc;    /* weights quantized, cast */
  uint8_t *rht_host;
  exec_gpu_rope_ ropes[4];
  int n_ropes;
  exec_gpu_param_ *params;
  int n_params;
  int tokens, targets;
  int64_t step;
  float grad_scale; /* the next optimizer step's gradient factor (alto_exec_gpu_defer_grad_scale) */
  bool recording;
  bool record_only; /* alto_exec_gpu_plan_kernels: no device, no weights */
  int64_t quant_checked;
  int64_t gemm_calls[GEMM_PATH_COUNT];
  int *node_path; /* GEMM node -> its gemm_path_ of the last run (-1 otherwise) */
  gemm_choice_ choices[EXEC_GPU_MAX_CHOICES];
  int n_choices;
  /* alto_exec_gpu_profile: the FP8 GEMM nodes' operand preparation timed apart (ms, count) */
  bool profiling;
  double prep_ms[2];
  int prep_n[2];
};

/* ---- buffers ------------------------------------------------------------------------------ */
static const alto_buffer *buf_(const alto_exec_gpu *e, int id) {
  ALTO_ASSERT(id >= 0 && id < e->p->n_bufs);
  return &e->p->bufs[id];
}

static alto_dptr ptr_(const alto_exec_gpu *e, int id) {
  if (e->pinned && e->pinned[id])
    return e->pinned[id];
  return e->arena + (e->offsets ? e->offsets[id] : buf_(e, id)->offset);
}

/* A buffer's bytes as laid out (plan_mx_tile_'s codes hold the E4M3 form, twice the E2M1 codes). */
static size_t bytes_(const alto_exec_gpu *e, int id) {
  const alto_buffer *b = buf_(e, id);
  return e->mx_tile && e->mx_tile[id] ? 2 * b->bytes : b->bytes;
}

static int64_t numel_(const alto_buffer *b) {
  return alto_buffer_numel(b);
}

static alto_elem elem_(const alto_exec_gpu *e, int id) {
  return buf_(e, id)->dtype == ALTO_DT_BF16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
}

static size_t align_(size_t x) {
  return (x + EXEC_GPU_ALIGN - 1) / EXEC_GPU_ALIGN * EXEC_GPU_ALIGN;
}

int alto_exec_gpu_find(const alto_exec_gpu *e, const char *name) {
  return alto_plan_find_buffer(e->p, name);
}

const alto_buffer *alto_exec_gpu_buffer(const alto_exec_gpu *e, int id) {
  return buf_(e, id);
}

alto_status alto_exec_gpu_read(alto_exec_gpu *e, int id, void *host) {
  return e->real->i->d2h(e->real, host, ptr_(e, id), buf_(e, id)->bytes);
}

alto_status alto_exec_gpu_write(alto_exec_gpu *e, int id, const void *host) {
  if (e->wq_of && e->wq_of[id] >= 0)
    e->wq_fresh[id] = false; /* its codes are re-quantized by the next forward */
  return e->real->i->h2d(e->real, ptr_(e, id), host, buf_(e, id)->bytes);
}

int64_t alto_exec_gpu_quant_checked(const alto_exec_gpu *e) {
  return e->quant_checked;
}

void alto_exec_gpu_gemm_summary(const alto_exec_gpu *e, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < GEMM_PATH_COUNT; i++)
    if (e->gemm_calls[i] && len < n)
      len += (size_t)snprintf(buf + len, n - len, "%s%s x%lld", len ? ", " : "",
                              gemm_path_names_[i], (long long)e->gemm_calls[i]);
}

/* ---- what each node needs ------------------------------------------------------------------ */
static bool is_fp8_scheme_(alto_scheme s) {
  return s == ALTO_SCHEME_FP8_BLOCK || s == ALTO_SCHEME_FP8_ROWWISE ||
         s == ALTO_SCHEME_FP8_TENSORWISE;
}

/* How an fp8_block GEMM operand stored [r, c] maps onto cuBLASLt's K-major operand [R, K]. */
typedef struct {
  bool ok;
  bool transpose; /* codes stored [K, R]: transpose them */
  bool scales_lt; /* the stored scales are cuBLASLt's layout already (128x1 along K) */
  bool scales_tr; /* 128x128 scales of a [K, R] operand: transpose the scale grid */
  alto_cublaslt_scale_mode mode;
} fp8_operand_;

static fp8_operand_ fp8_operand_of_(const alto_qdesc *q, bool trans, int64_t R) {
  fp8_operand_ f = {0};
  if (q->scheme != ALTO_SCHEME_FP8_BLOCK || q->elem != ALTO_ELEM_E4M3)
    return f;
  f.transpose = trans;
  if (q->two_d && q->block_rows == 128 && q->block_cols == 128) {
    f.mode = ALTO_CUBLASLT_SCALE_128X128;
    f.scales_tr = trans;
    f.ok = true;
  } else if (!q->two_d && !trans && q->axis == -1 && q->block_cols == 128) {
    f.mode = ALTO_CUBLASLT_SCALE_1X128;
    f.ok = true;
  } else if (!q->two_d && trans && q->axis == -2 && q->block_rows == 128 && R % 4 == 0) {
    f.mode = ALTO_CUBLASLT_SCALE_1X128;
    f.scales_lt = true;
    f.ok = true;
  }
  return f;
}

static bool gemm_fp8_fast_(const alto_exec_gpu *e, const alto_node *n, fp8_operand_ *fa,
                           fp8_operand_ *fb) {
  int64_t m = n->shape[0], nn = n->shape[1], k = n->shape[2];
  if (e->o.fp8_emulate || e->b->target != ALTO_TARGET_CUDA || k % 128 || nn % 16)
    return false;
  *fa = fp8_operand_of_(&n->q, n->trans_a, m);
  *fb = fp8_operand_of_(&n->q_b, n->trans_b, nn);
  return fa->ok && fb->ok &&
         !(fa->mode == ALTO_CUBLASLT_SCALE_128X128 && fb->mode == ALTO_CUBLASLT_SCALE_128X128);
}

/* How a rowwise / tensorwise FP8 GEMM operand stored [r, c] (trans: [K, R], else [R, K]) reads as
 * the [R, K] operand of alto's GEMM with OUTER scales (runtime/gemm_gpu.h): one divisor per logical
 * row (rowwise along K: axis -1 of [R, K], axis -2 of [K, R]: the scale grid [R, 1] or [1, R] is a
 * vector either way) or one for the tensor (s_r 0); codes stored [K, R] are transposed first. Not
 * where the rows' scales run along K (rowwise along the other axis). */
typedef struct {
  bool ok, transpose, e5m2;
  int64_t s_r;
} outer_operand_;

static outer_operand_ outer_operand_of_(const alto_qdesc *q, bool trans) {
  outer_operand_ o = {false, trans, q->elem == ALTO_ELEM_E5M2, 1};
  if (q->elem != ALTO_ELEM_E4M3 && q->elem != ALTO_ELEM_E5M2)
    return o;
  if (q->scheme == ALTO_SCHEME_FP8_TENSORWISE)
    o.ok = true, o.s_r = 0;
  else if (q->scheme == ALTO_SCHEME_FP8_ROWWISE && !q->two_d && q->axis == (trans ? -2 : -1))
    o.ok = true;
  return o;
}

/* Rowwise / tensorwise FP8 GEMMs on sm_90a through alto's kernel (a fixed rule: no per-process
 * choice); opts.fp8_emulate keeps the dequantize + fp32 GEMM baseline. */
static bool gemm_outer_fast_(const alto_exec_gpu *e, const alto_node *n, outer_operand_ *fa,
                             outer_operand_ *fb) {
  const int64_t k = n->shape[2];
  if (e->o.fp8_emulate || e->b->target != ALTO_TARGET_CUDA || strcmp(e->b->arch, "sm_90a") != 0 ||
      n->op != ALTO_OP_GEMM || k % 16)
    return false;
  const alto_dtype odt = e->p->bufs[n->out[0]].dtype;
  *fa = outer_operand_of_(&n->q, n->trans_a);
  *fb = outer_operand_of_(&n->q_b, n->trans_b);
  return fa->ok && fb->ok && (odt == ALTO_DT_BF16 || odt == ALTO_DT_F32);
}

/* How an MXFP4 GEMM operand stored [r, c] (trans: [K, R], else [R, K]) reads as the conversion's
 * source (runtime/gemm_gpu.h alto_mx_src): E2M1 blocks of 32 along K, 1-D or 32x32; codes and
 * scales filled in by the caller. false where the blocks do not run along K. */
static bool mx_src_of_(const alto_qdesc *q, bool trans, int64_t R, int64_t K, alto_mx_src *src) {
  memset(src, 0, sizeof *src);
  if (q->scheme != ALTO_SCHEME_MXFP4 || q->elem != ALTO_ELEM_E2M1 || K % 32)
    return false;
  const bool d2 = q->two_d && q->block_rows == 32 && q->block_cols == 32;
  const bool along_k = trans ? (d2 || (q->axis == -2 && q->block_rows == 32 && q->block_cols == 1))
                             : (d2 || (q->axis == -1 && q->block_rows == 1 && q->block_cols == 32));
  if (!along_k || (d2 && R % 32))
    return false;
  src->mbr = d2 ? 32 : 1;
  if (!trans) { /* [R, K]: pairs along K; scales [R or R/32, K/32] */
    src->layout = ALTO_MX_ROWS;
    src->ms_r = K / 32, src->ms_k = 1;
    return q->axis == -1;
  }
  /* [K, R]: pairs along the stored rows (axis -2) or columns (axis -1); scales [K/32, R or R/32] */
  src->layout = q->axis == -2 ? ALTO_MX_KPAIRS_T : ALTO_MX_RPAIRS_T;
  src->ms_r = 1, src->ms_k = d2 ? R / 32 : R;
  return R % (src->layout == ALTO_MX_KPAIRS_T ? 16 : 32) == 0;
}

/* MXFP4 x MXFP4 GEMMs on the FP8 tensor cores (sm_90a; unless opts.mx_all_sizes only where K >=
 * 1024 and the output has at least 128 tiles of 128 x 128, where the faster GEMM pays for the two
 * conversions; opts.mx_dequant turns it off). A fixed rule of the shape, so the bits never depend
 * on timing. */
static bool gemm_mx_fast_(const alto_exec_gpu *e, const alto_node *n, alto_mx_src *sa,
                          alto_mx_src *sb) {
  int64_t m = n->shape[0], nn = n->shape[1], k = n->shape[2];
  if (e->o.mx_dequant || e->b->target != ALTO_TARGET_CUDA || strcmp(e->b->arch, "sm_90a") != 0 ||
      n->op != ALTO_OP_GEMM)
    return false;
  const int64_t tiles = ((m + 127) / 128) * ((nn + 127) / 128);
  if (!e->o.mx_all_sizes && (k < 1024 || tiles < 128))
    return false;
  alto_dtype odt = e->p->bufs[n->out[0]].dtype;
  return (odt == ALTO_DT_BF16 || odt == ALTO_DT_F32) && mx_src_of_(&n->q, n->trans_a, m, k, sa) &&
         mx_src_of_(&n->q_b, n->trans_b, nn, k, sb);
}

/* The scratch of an MXFP4 GEMM on the tensor cores: E4M3 codes of A and B, their MN-major fp32
 * grids, the conversion's split counter. */
typedef struct {
  alto_dptr ea, eb, sa, sb, split;
  size_t bytes;
} mx_scratch_;
static mx_scratch_ mx_scratch_of_(alto_dptr base, int64_t m, int64_t nn, int64_t k) {
  const int64_t kb = (k + 127) / 128, m4 = (m + 3) / 4 * 4, n4 = (nn + 3) / 4 * 4;
  mx_scratch_ x;
  x.ea = base;
  x.eb = x.ea + align_((size_t)(m * k));
  x.sa = x.eb + align_((size_t)(nn * k));
  x.sb = x.sa + align_((size_t)(kb * m4 * 4));
  x.split = x.sb + align_((size_t)(kb * n4 * 4));
  x.bytes = (size_t)(x.split - base) + align_(4);
  return x;
}

/* Scratch bytes of one node. */
static size_t node_scratch_(const alto_exec_gpu *e, const alto_node *n) {
  int64_t rows = n->shape[0], cols = n->shape[1];
  switch (n->op) {
  case ALTO_OP_GEMM: {
    if (n->q.scheme == ALTO_SCHEME_BF16)
      return 0;
    int64_t m = n->shape[0], nn = n->shape[1], k = n->shape[2];
    fp8_operand_ fa, fb;
    outer_operand_ oa, ob;
    if (gemm_outer_fast_(e, n, &oa, &ob)) /* the transposed codes */
      return (oa.transpose ? align_((size_t)(m * k)) : 0) +
             (ob.transpose ? align_((size_t)(nn * k)) : 0);
    if (gemm_fp8_fast_(e, n, &fa, &fb)) /* transposed codes + transposed or MN-major scales */
      return align_((size_t)(m * k)) + align_((size_t)(nn * k)) +
             2 * align_((size_t)((m / 128 + 1) * (k / 128 + 1) * 4)) +
             2 * align_((size_t)((nn / 128 + 1) * (k / 128 + 1) * 4)) +
             align_((size_t)(m * ((k + 127) / 128) * 4)) +
             align_((size_t)(nn * ((k + 127) / 128) * 4));
    bool f32 = is_fp8_scheme_(n->q.scheme) || is_fp8_scheme_(n->q_b.scheme);
    size_t es = f32 ? 4 : 2; /* fp32 operands need an fp32 output: a staged C when C is bf16 */
    size_t c = f32 && e->p->bufs[n->out[0]].dtype != ALTO_DT_F32 ? align_((size_t)(m * nn) * 4) : 0;
    size_t dq = align_((size_t)(m * k) * es) + align_((size_t)(nn * k) * es) + c;
    alto_mx_src xa, xb;
    size_t mx = gemm_mx_fast_(e, n, &xa, &xb) ? mx_scratch_of_(0, m, nn, k).bytes : 0;
    return dq > mx ? dq : mx;
  }
  case ALTO_OP_EMBED_BWD:
    return alto_ops_gpu_embed_bwd_scratch_bytes(rows, e->m.vocab_size);
  case ALTO_OP_RMSNORM_BWD:
    return alto_ops_gpu_rmsnorm_bwd_scratch_bytes(rows, cols);
  case ALTO_OP_ATTENTION_BWD:
    return alto_gpu_attention_bwd_workspace(n->shape[0], n->shape[2], n->shape[1]);
  case ALTO_OP_CROSS_ENTROPY:
    return (size_t)rows * sizeof(double);
  default:
    return 0;
  }
}

static alto_status unsupported_(const alto_node *n, const char *why) {
  return alto_error(ALTO_ERR_UNSUPPORTED, "gpu executor: node '%s' (%s): %s", n->name,
                    alto_ir_op_name(n->op), why);
}

/* The dtypes each dispatch below handles. */
static alto_status check_node_(const alto_exec_gpu *e, const alto_node *n) {
  const alto_plan *p = e->p;
#define DT_(i) p->bufs[n->in[i]].dtype
#define ODT_(i) p->bufs[n->out[i]].dtype
  switch (n->op) {
  case ALTO_OP_GEMM:
    if (e->b->target != ALTO_TARGET_CUDA)
      return unsupported_(n, "GEMMs run through cuBLASLt, which only the CUDA backend has");
    if (n->q.scheme == ALTO_SCHEME_BF16 && (DT_(0) != ALTO_DT_BF16 || DT_(1) != ALTO_DT_BF16))
      return unsupported_(n, "a high-precision GEMM must have bf16 operands");
    return ALTO_OK;
  case ALTO_OP_RHT:
    if (DT_(0) != ODT_(0))
      return unsupported_(n, "the RHT writes its input's dtype");
    return ALTO_OK;
  case ALTO_OP_COPY:
    return unsupported_(n, "column-slice copies (MLA) are not supported on the GPU yet");
  case ALTO_OP_ATTENTION:
  case ALTO_OP_ATTENTION_BWD:
    if (n->shape[3] != 16 && n->shape[3] != 32 && n->shape[3] != 64 && n->shape[3] != 128)
      return unsupported_(n, "the GPU attention kernels take head dims 16, 32, 64 and 128");
    return ALTO_OK;
  case ALTO_OP_SWIGLU:
  case ALTO_OP_SWIGLU_BWD:
  case ALTO_OP_ADD:
  case ALTO_OP_ROPE:
  case ALTO_OP_ROPE_BWD:
    for (int i = 0; i < n->n_in; i++)
      if (DT_(i) != DT_(0))
        return unsupported_(n, "elementwise ops need one activation dtype");
    for (int i = 0; i < n->n_out; i++)
      if (ODT_(i) != DT_(0))
        return unsupported_(n, "elementwise ops need one activation dtype");
    return ALTO_OK;
  case ALTO_OP_RMSNORM:
    if (DT_(1) != ALTO_DT_F32 || ODT_(0) != DT_(0) || ODT_(1) != ALTO_DT_F32)
      return unsupported_(n, "RMSNorm takes an fp32 weight and writes x's dtype and fp32 rstd");
    return ALTO_OK;
  case ALTO_OP_RMSNORM_BWD:
    if (DT_(1) != DT_(0) || DT_(2) != ALTO_DT_F32 || ODT_(0) != DT_(0) || ODT_(1) != ALTO_DT_F32)
      return unsupported_(n, "RMSNorm backward dtypes");
    return ALTO_OK;
  case ALTO_OP_EMBED:
    if (DT_(1) != ALTO_DT_F32)
      return unsupported_(n, "the embedding table must be the fp32 master weight");
    return ALTO_OK;
  case ALTO_OP_EMBED_BWD:
  case ALTO_OP_DGE_SCALE:
    if (ODT_(0) != ALTO_DT_F32)
      return unsupported_(n, "gradients are fp32");
    return ALTO_OK;
  default:
    return ALTO_OK;
  }
#undef DT_
#undef ODT_
}

/* ---- create -------------------------------------------------------------------------------- */
static float *xzalloc_f32_(int64_t n) {
  return alto_xcalloc((size_t)(n > 0 ? n : 1), sizeof(float));
}

static int find_suffix_(const alto_exec_gpu *e, const char *name, const char *suffix) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", name, suffix);
  return alto_exec_gpu_find(e, full);
}

static alto_status upload_rope_tables_(alto_exec_gpu *e) {
  for (int i = 0; i < e->p->n_nodes; i++) {
    const alto_node *n = &e->p->nodes[i];
    if (n->op != ALTO_OP_ROPE && n->op != ALTO_OP_ROPE_BWD)
      continue;
    int rot = (int)n->iparam[0], have = 0;
    for (int r = 0; r < e->n_ropes; r++)
      have |= e->ropes[r].rot == rot;
    if (have)
      continue;
    if (e->n_ropes == (int)(sizeof e->ropes / sizeof e->ropes[0]))
      return unsupported_(n, "more than 4 distinct RoPE widths");
    exec_gpu_rope_ *r = &e->ropes[e->n_ropes++];
    r->rot = rot;
    size_t bytes = (size_t)(e->p->seq * rot / 2) * sizeof(float);
    ALTO_TRY(e->b->i->alloc(e->b, bytes ? bytes : 4, &r->cos_t));
    ALTO_TRY(e->b->i->alloc(e->b, bytes ? bytes : 4, &r->sin_t));
    ALTO_TRY(alto_ops_gpu_rope_table(e->b, &e->m.rope, e->p->seq, rot, r->cos_t, r->sin_t));
  }
  return ALTO_OK;
}

static alto_status init_params_(alto_exec_gpu *e) {
  for (int i = 0; i < e->p->n_bufs; i++) {
    const alto_buffer *b = &e->p->bufs[i];
    if (b->kind == ALTO_BUF_GRAD || b->kind == ALTO_BUF_OPT_STATE)
      ALTO_TRY(e->b->i->memset(e->b, ptr_(e, i), 0, b->bytes));
  }
  for (int i = 0; i < e->n_params; i++) {
    exec_gpu_param_ *q = &e->params[i];
    alto_exec_init_param(&e->m, buf_(e, q->id)->name, q->h_param, q->numel, e->seed);
    ALTO_TRY(alto_exec_gpu_write(e, q->id, q->h_param));
  }
  return ALTO_OK;
}

static alto_status plan_rht_fusion_(alto_exec_gpu *e);
static alto_status plan_codes_t_(alto_exec_gpu *e);
static alto_status plan_requant_fusion_(alto_exec_gpu *e);
static alto_status plan_w_t_(alto_exec_gpu *e);
static alto_status plan_wq_(alto_exec_gpu *e);
static alto_status plan_mx_tile_(alto_exec_gpu *e);
static alto_status memplan_(alto_exec_gpu *e);
static alto_status plan_dual_(alto_exec_gpu *e);
static alto_status plan_swiglu_(alto_exec_gpu *e);
static alto_status plan_xdual_(alto_exec_gpu *e);
static void plan_xdual_fuse_(alto_exec_gpu *e);

static alto_status create_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  for (int i = 0; i < p->n_nodes; i++)
    ALTO_TRY(check_node_(e, &p->nodes[i]));
  if (e->b->target == ALTO_TARGET_CUDA && !e->record_only)
    ALTO_TRY(alto_cublaslt_init());
  ALTO_TRY(plan_wq_(e));
  ALTO_TRY(plan_mx_tile_(e));
  ALTO_TRY(plan_codes_t_(e));
  ALTO_TRY(plan_xdual_(e));
  ALTO_TRY(memplan_(e));
  ALTO_TRY(e->b->i->alloc(e->b, e->arena_bytes ? e->arena_bytes : 1, &e->arena));
  for (int i = 0; i < p->n_nodes; i++) {
    size_t s = node_scratch_(e, &p->nodes[i]);
    if (s > e->scratch_bytes)
      e->scratch_bytes = s;
  }
  ALTO_TRY(e->b->i->alloc(e->b, e->scratch_bytes ? e->scratch_bytes : 256, &e->scratch));
  size_t small = 4 * EXEC_GPU_ALIGN + align_(alto_ops_gpu_sumsq_scratch_bytes());
  ALTO_TRY(e->b->i->alloc(e->b, small, &e->small));
  e->loss_dev = e->small;
  e->sumsq_dev = e->small + EXEC_GPU_ALIGN;
  e->qscratch = e->small + 2 * EXEC_GPU_ALIGN;
  e->outer = e->small + 3 * EXEC_GPU_ALIGN;
  e->alpha = e->outer + 16;
  const float one = 1.0f;
  ALTO_TRY(e->b->i->h2d(e->b, e->outer, &one, sizeof one));
  e->sumsq_scratch = e->small + 4 * EXEC_GPU_ALIGN;
  e->rht_index = alto_xmalloc((size_t)(p->n_nodes ? p->n_nodes : 1) * sizeof *e->rht_index);
  e->node_path = alto_xmalloc((size_t)(p->n_nodes ? p->n_nodes : 1) * sizeof *e->node_path);
  for (int i = 0; i < p->n_nodes; i++) {
    e->rht_index[i] = p->nodes[i].op == ALTO_OP_RHT ? e->n_rht++ : -1;
    e->node_path[i] = -1;
  }
  if (e->n_rht) {
    ALTO_TRY(e->b->i->alloc(e->b, (size_t)e->n_rht * EXEC_GPU_RHT_TABLE, &e->rht_tables));
    e->rht_host = alto_xcalloc((size_t)e->n_rht, EXEC_GPU_RHT_TABLE);
  }
  ALTO_TRY(plan_rht_fusion_(e));
  plan_xdual_fuse_(e);
  ALTO_TRY(plan_requant_fusion_(e));
  ALTO_TRY(plan_w_t_(e));
  ALTO_TRY(plan_dual_(e));
  ALTO_TRY(plan_swiglu_(e));
  ALTO_TRY(upload_rope_tables_(e));
  e->params = alto_xcalloc((size_t)(p->n_bufs ? p->n_bufs : 1), sizeof *e->params);
  for (int i = 0; i < p->n_bufs; i++) {
    if (p->bufs[i].kind != ALTO_BUF_PARAM)
      continue;
    exec_gpu_param_ *q = &e->params[e->n_params++];
    const char *name = p->bufs[i].name;
    q->id = i;
    q->grad = find_suffix_(e, name, ".grad");
    q->m = find_suffix_(e, name, ".exp_avg");
    q->v = find_suffix_(e, name, ".exp_avg_sq");
    ALTO_ASSERT_MSG(q->grad >= 0 && q->m >= 0 && q->v >= 0, name);
    q->numel = numel_(&p->bufs[i]);
    if (e->record_only)
      continue;
    q->h_param = xzalloc_f32_(q->numel);
    q->h_grad = xzalloc_f32_(q->numel);
    q->h_m = xzalloc_f32_(q->numel);
    q->h_v = xzalloc_f32_(q->numel);
  }
  return e->record_only ? ALTO_OK : init_params_(e);
}

alto_status alto_exec_gpu_create(alto_backend *b, const alto_model *m, const alto_plan *p,
                                 uint64_t seed, const alto_exec_gpu_opts *opts,
                                 alto_exec_gpu **out) {
  *out = NULL;
  ALTO_TRY(alto_exec_check_plan("gpu", m, p));
  alto_exec_gpu *e = alto_xcalloc(1, sizeof *e);
  e->b = e->real = b;
  e->m = *m;
  e->p = p;
  e->seed = seed;
  e->grad_scale = 1.0f;
  if (opts)
    e->o = *opts;
  e->tokens = alto_exec_gpu_find(e, "tokens");
  e->targets = alto_exec_gpu_find(e, "targets");
  alto_status s =
      e->tokens < 0 || e->targets < 0
          ? alto_error(ALTO_ERR_INVALID_ARG, "gpu executor: the plan has no tokens/targets")
          : create_(e);
  if (s != ALTO_OK) {
    alto_exec_gpu_free(e);
    return s;
  }
  *out = e;
  return ALTO_OK;
}

void alto_exec_gpu_free(alto_exec_gpu *e) {
  if (!e)
    return;
  alto_backend *b = e->real;
  alto_dptr bufs[] = {e->arena, e->scratch, e->small, e->rht_tables};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0] && !e->record_only; i++)
    if (bufs[i])
      b->i->free(b, bufs[i]);
  for (int r = 0; r < e->n_ropes && !e->record_only; r++) {
    b->i->free(b, e->ropes[r].cos_t);
    b->i->free(b, e->ropes[r].sin_t);
  }
  for (int i = 0; i < e->n_params; i++) {
    free(e->params[i].h_param);
    free(e->params[i].h_grad);
    free(e->params[i].h_m);
    free(e->params[i].h_v);
  }
  free(e->params);
  free(e->rht_index);
  free(e->fused_into);
  free(e->swiglu_y);
  free(e->xdual_q);
  for (int i = 0; e->wt_codes && i < e->p->n_bufs && !e->record_only; i++)
    if (e->wt_codes[i]) {
      b->i->free(b, e->wt_codes[i]);
      b->i->free(b, e->wt_scales[i]);
    }
  free(e->wt_codes);
  free(e->wt_scales);
  for (int i = 0; e->pinned && i < e->p->n_bufs && !e->record_only; i++)
    if (e->pinned[i])
      b->i->free(b, e->pinned[i]);
  free(e->pinned);
  free(e->offsets);
  free(e->wq_of);
  free(e->wq_fresh);
  free(e->codes_t);
  free(e->mx_tile);
  free(e->scales_t);
  free(e->node_path);
  free(e->rht_host);
  free(e);
}

alto_status alto_exec_gpu_set_inputs(alto_exec_gpu *e, const int32_t *tokens,
                                     const int32_t *targets) {
  ALTO_TRY(alto_exec_check_inputs(tokens, targets, numel_(buf_(e, e->tokens)), e->m.vocab_size));
  ALTO_TRY(alto_exec_gpu_write(e, e->tokens, tokens));
  return alto_exec_gpu_write(e, e->targets, targets);
}

/* ---- quantization ------------------------------------------------------------------------- */
static alto_tensor_view view_(const alto_exec_gpu *e, int id, const int64_t *dims, int rank) {
  alto_tensor_view v = {NULL, elem_(e, id), rank, {0, 0, 0}};
  memcpy(v.dims, dims, (size_t)rank * sizeof(int64_t));
  return v;
}

/* opts.check_quant: the node's input through the CPU reference, compared byte for byte. */
static alto_status check_quantize_(alto_exec_gpu *e, const alto_node *n,
                                   const alto_quant_spec *spec) {
  const alto_buffer *src = buf_(e, n->in[0]);
  void *x = alto_xmalloc(src->bytes);
  alto_tensor_view v = view_(e, n->in[0], n->shape, n->rank);
  v.data = x;
  alto_quantized q = {0};
  alto_status s = alto_exec_gpu_read(e, n->in[0], x);
  if (s == ALTO_OK)
    s = alto_cpu_quantize(spec, &v, &q);
  uint8_t *codes = NULL, *scales = NULL;
  if (s == ALTO_OK) {
    size_t cb = (size_t)q.layout.codes_bytes,
           sb = (size_t)(q.layout.scale_count * q.layout.scale_bytes);
    codes = alto_xmalloc(cb ? cb : 1);
    scales = alto_xmalloc(sb ? sb : 1);
    s = e->b->i->d2h(e->b, codes, ptr_(e, n->out[0]), cb);
    if (s == ALTO_OK)
      s = e->b->i->d2h(e->b, scales, ptr_(e, n->out[1]), sb);
    if (s == ALTO_OK) {
      const uint8_t *ref[2] = {q.codes, q.scales}, *got[2] = {codes, scales};
      size_t len[2] = {cb, sb};
      for (int t = 0; t < 2 && s == ALTO_OK; t++)
        for (size_t i = 0; i < len[t]; i++)
          if (ref[t][i] != got[t][i]) {
            s = alto_error(ALTO_ERR_NUMERIC,
                           "gpu executor: QUANTIZE '%s' step %lld: %s byte %zu is 0x%02x on the "
                           "GPU, 0x%02x in the CPU reference",
                           n->name, (long long)e->step, t ? "scale" : "code", i, got[t][i],
                           ref[t][i]);
            break;
          }
    }
    const int outer = alto_ir_outer(n, 0);
    float got_outer = 0;
    if (s == ALTO_OK && outer >= 0)
      s = e->b->i->d2h(e->b, &got_outer, ptr_(e, outer), sizeof got_outer);
    if (s == ALTO_OK && outer >= 0 && memcmp(&got_outer, &q.outer, sizeof q.outer) != 0)
      s = alto_error(ALTO_ERR_NUMERIC,
                     "gpu executor: QUANTIZE '%s' step %lld: the outer scale is %a on the GPU, %a "
                     "in the CPU reference",
                     n->name, (long long)e->step, (double)got_outer, (double)q.outer);
    if (s == ALTO_OK)
      e->quant_checked++;
  }
  free(codes);
  free(scales);
  free(x);
  alto_quantized_free(&q);
  return s;
}

static alto_gpu_rht rht_of_(const alto_exec_gpu *e, int idx, const alto_node *n);

/* Where a quantization's NVFP4 outer scale lives: the plan's buffer of a two-level tensor
 * (alto_ir_outer), else the executor's own word (1 for one-level NVFP4). */
static alto_dptr outer_(const alto_exec_gpu *e, int buf) {
  return buf >= 0 ? ptr_(e, buf) : e->outer;
}

/* Node idx makes the forward copy of weight w (plan_wq_): true when that copy is fresh (the node is
 * skipped); else it is fresh once the node has run. False for every other node. */
static bool weight_copy_fresh_(alto_exec_gpu *e, int w, int idx) {
  if (e->wq_of[w] != idx)
    return false;
  if (e->wq_fresh[w])
    return true;
  e->wq_fresh[w] = true;
  return false;
}

/* A QUANTIZE node; one with an RHT fused into it (plan_rht_fusion_) reads the RHT's input and
 * transforms it in the quantization kernel (quant_rht.cuh: the bits of RHT then quantize). */
static alto_status run_quantize_(alto_exec_gpu *e, int idx, const alto_node *n) {
  alto_quant_spec spec = alto_exec_quantize_spec(n, e->seed, e->step);
  int src = n->in[0], ri = e->fused_into[idx];
  if (weight_copy_fresh_(e, src, idx))
    return ALTO_OK;
  alto_gpu_rht r = {0};
  if (ri == -2) /* written by the QUANTIZE before it (plan_dual_, plan_xdual_) */
    return ALTO_OK;
  /* this one and node ri, one kernel: its other quantization (plan_dual_) or the wgrad's
   * re-quantization of its codes (plan_xdual_) */
  if (ri >= 0 && e->p->nodes[ri].op == ALTO_OP_QUANTIZE) {
    const alto_node *w = &e->p->nodes[ri];
    alto_quant_spec ws = alto_exec_quantize_spec(w, e->seed, e->step);
    alto_tensor_view v = view_(e, src, n->shape, n->rank);
    alto_gpu_quantized qf = {ptr_(e, n->out[0]), ptr_(e, n->out[1]), 0, 0, false,
                             e->scales_t[n->out[1]], 0, 0, false};
    alto_gpu_quantized qw = {ptr_(e, w->out[0]), ptr_(e, w->out[1]), 0, 0, true, false, 0, 0, false};
    return e->xdual_q[idx] >= 0
               ? alto_gpu_quantize_x_dual(e->b, &spec, &ws, &v, ptr_(e, src), &qf, &qw)
               : alto_gpu_quantize_dual(e->b, &spec, &ws, &v, ptr_(e, src), NULL, &qf, &qw);
  }
  if (ri >= 0 && e->p->nodes[ri].op == ALTO_OP_SWIGLU) { /* y = SwiGLU(a, b) in the kernel */
    const alto_node *sw = &e->p->nodes[ri];
    alto_tensor_view v = view_(e, src, n->shape, n->rank);
    alto_gpu_quantized q = {ptr_(e, n->out[0]),
                            ptr_(e, n->out[1]),
                            outer_(e, alto_ir_outer(n, 0)),
                            e->qscratch,
                            false,
                            e->scales_t[n->out[1]],
                            0,
                            0,
                            e->mx_tile[n->out[0]]};
    return alto_gpu_quantize_swiglu(e->b, &spec, &v, ptr_(e, sw->in[0]), ptr_(e, sw->in[1]),
                                    e->swiglu_y[idx] ? ptr_(e, sw->out[0]) : 0, &q);
  }
  if (ri >= 0 && e->p->nodes[ri].op == ALTO_OP_DEQUANTIZE) {
    const alto_node *dq = &e->p->nodes[ri];
    alto_quant_spec from = alto_exec_quant_spec(&dq->q);
    alto_tensor_view v = view_(e, src, n->shape, n->rank);
    alto_gpu_quantized q = {ptr_(e, n->out[0]), ptr_(e, n->out[1]), outer_(e, alto_ir_outer(n, 0)),
                            e->qscratch, e->codes_t[n->out[0]], false, 0, 0, false};
    return alto_gpu_requantize(e->b, &spec, &v, &from, ptr_(e, dq->in[0]), ptr_(e, dq->in[1]),
                               e->scales_t[dq->in[1]], &q);
  }
  if (ri >= 0) {
    src = e->p->nodes[ri].in[0];
    r = rht_of_(e, ri, &e->p->nodes[ri]);
  }
  alto_tensor_view v = view_(e, src, n->shape, n->rank);
  alto_gpu_quantized q = {ptr_(e, n->out[0]),
                          ptr_(e, n->out[1]),
                          outer_(e, alto_ir_outer(n, 0)),
                          e->qscratch,
                          e->codes_t[n->out[0]],
                          e->scales_t[n->out[1]],
                          e->wt_codes[n->out[0]],
                          e->wt_scales[n->out[0]],
                          e->mx_tile[n->out[0]]};
  ALTO_TRY(alto_gpu_quantize(e->b, &spec, &v, ptr_(e, src), ri >= 0 ? &r : NULL, &q));
  if (e->o.check_quant && !e->recording)
    return check_quantize_(e, n, &spec);
  return ALTO_OK;
}

/* Dequantizes the (codes, scales [, outer: a buffer, or -1 for one-level NVFP4 and the other
 * schemes]) tensor to `out` in `dtype`; the logical shape is the codes buffer's. */
static alto_status dequant_(alto_exec_gpu *e, int codes, int scales, int outer,
                            const alto_qdesc *qd, alto_elem dtype, alto_dptr out) {
  alto_quant_spec spec = alto_exec_quant_spec(qd);
  const alto_buffer *cb = buf_(e, codes);
  alto_tensor_view v = {NULL, dtype, cb->rank, {0, 0, 0}};
  memcpy(v.dims, cb->shape, (size_t)cb->rank * sizeof(int64_t));
  if (outer < 0) /* inner scales only (the two-level GEMMs' alpha applies the outers) */
    spec.two_level = false;
  alto_gpu_quantized q = {ptr_(e, codes), ptr_(e, scales), outer_(e, outer), e->qscratch, false,
                          e->scales_t[scales], 0, 0, false};
  return alto_gpu_dequantize(e->b, &spec, &v, &q, dtype, out);
}

/* Uploads this step's transforms (one per RHT node; host work is tiny). */
static alto_status upload_rht_(alto_exec_gpu *e, int64_t step) {
  if (!e->n_rht)
    return ALTO_OK;
  for (int i = 0; i < e->p->n_nodes; i++) {
    const alto_node *n = &e->p->nodes[i];
    if (n->op != ALTO_OP_RHT)
      continue;
    int bsz = n->q.rht_size ? n->q.rht_size : 32;
    uint8_t *t = e->rht_host + (size_t)e->rht_index[i] * EXEC_GPU_RHT_TABLE;
    float sign[256];
    int perm[256];
    alto_rht_make(e->seed, alto_exec_rht_stream(n, step), bsz, sign, perm);
    memcpy(t, sign, (size_t)bsz * 4);
    memcpy(t + (size_t)bsz * 4, perm, (size_t)bsz * 4);
  }
  return e->b->i->h2d(e->b, e->rht_tables, e->rht_host, (size_t)e->n_rht * EXEC_GPU_RHT_TABLE);
}

/* The transform of RHT node idx this step (its table uploaded by upload_rht_). */
static alto_gpu_rht rht_of_(const alto_exec_gpu *e, int idx, const alto_node *n) {
  int bsz = n->q.rht_size ? n->q.rht_size : 32;
  alto_gpu_rht r = {bsz, e->seed, alto_exec_rht_stream(n, e->step),
                    e->rht_tables + (size_t)e->rht_index[idx] * EXEC_GPU_RHT_TABLE};
  return r;
}

static alto_status run_rht_(alto_exec_gpu *e, int idx, const alto_node *n) {
  if (e->fused_into[idx] == -2) /* done by the next QUANTIZE */
    return ALTO_OK;
  alto_gpu_rht r = rht_of_(e, idx, n);
  alto_tensor_view v = view_(e, n->in[0], n->shape, 2);
  return alto_gpu_rht_apply(e->b, &v, ptr_(e, n->in[0]), &r, ptr_(e, n->out[0]));
}

/* How many inputs of the plan's nodes are buffer id. */
static int readers_(const alto_plan *p, int id) {
  int n = 0;
  for (int k = 0; k < p->n_nodes; k++)
    for (int j = 0; j < p->nodes[k].n_in; j++)
      n += p->nodes[k].in[j] == id;
  return n;
}

/* Node `skipped`'s work done by node `runner`'s kernel (fused_into: the runner holds the skipped
 * node's index, the skipped node -2); counts it in *n. */
static void fuse_(alto_exec_gpu *e, int runner, int skipped, int *n) {
  e->fused_into[runner] = skipped;
  e->fused_into[skipped] = -2;
  (*n)++;
}

static bool overlap_(const alto_exec_gpu *e, int a, int b) {
  alto_dptr pa = ptr_(e, a), pb = ptr_(e, b);
  return pa < pb + bytes_(e, b) && pb < pa + bytes_(e, a);
}

/* RHT x -> y followed at once by QUANTIZE y (the wgrad operands R X, R dY of the MX and NVFP4
 * recipes): the quantization kernel can transform x itself, saving y's write and read (4 bytes
 * per bf16 element) and a launch. Fusable when y has no other reader and the kernel takes the RHT
 * in registers (MX, one-level NVFP4); not with check_quant, which compares each quantization with
 * the CPU's on its input y. The fused kernel reads x while it writes the codes and scales, so x
 * must share no memory with them: memplan_ keeps x live through the QUANTIZE (the plan's own
 * layout may give x's range to the codes once the RHT, x's last reader, is done). */
static bool rht_fusable_(const alto_exec_gpu *e, int i) {
  const alto_plan *p = e->p;
  if (e->o.check_quant || i + 1 >= p->n_nodes)
    return false;
  const alto_node *r = &p->nodes[i], *q = &p->nodes[i + 1];
  if (r->op != ALTO_OP_RHT || q->op != ALTO_OP_QUANTIZE || q->in[0] != r->out[0] ||
      readers_(p, r->out[0]) != 1)
    return false;
  alto_quant_spec spec = alto_exec_quantize_spec(q, e->seed, 0);
  alto_tensor_view v = view_(e, r->in[0], q->shape, q->rank);
  alto_gpu_rht rt = {r->q.rht_size ? r->q.rht_size : 32, 0, 0, 0}; /* (the block is what counts) */
  bool fused = false;
  return alto_gpu_quantize_check(e->b, &spec, &v, &rt, &fused) == ALTO_OK && fused;
}

static alto_status plan_rht_fusion_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  e->fused_into = alto_xmalloc((size_t)(p->n_nodes ? p->n_nodes : 1) * sizeof *e->fused_into);
  for (int i = 0; i < p->n_nodes; i++)
    e->fused_into[i] = -1;
  for (int i = 0; i + 1 < p->n_nodes; i++) {
    const alto_node *r = &p->nodes[i], *q = &p->nodes[i + 1];
    if (!rht_fusable_(e, i))
      continue;
    /* (memplan_ kept x live through the QUANTIZE: a bug otherwise) */
    ALTO_ASSERT(!overlap_(e, r->in[0], q->out[0]) && !overlap_(e, r->in[0], q->out[1]));
    fuse_(e, i + 1, i, &e->n_rht_fused);
  }
  return ALTO_OK;
}

int alto_exec_gpu_rht_fused(const alto_exec_gpu *e) {
  return e->n_rht_fused;
}

/* Layouts chosen for the FP8 GEMMs. fp8_block operands quantized 128x1 along M (the wgrad GEMM's
 * dY and X, K = M) and fp8_rowwise operands quantized along axis -2 (wgrad's dY and X, dgrad's W;
 * rows a multiple of 16) are read only
 * by GEMMs that need them K-major, i.e. transposed: their quantization writes them transposed
 * (quant_tile128.cuh, quant_scaled.cuh), and the GEMM skips its transpose (a read and a write of
 * every code). When every reader of the codes is such a GEMM operand; not with check_quant (which
 * compares the codes with the CPU's in the plan's layout). */
static alto_status plan_codes_t_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  e->codes_t = alto_xcalloc((size_t)(p->n_bufs ? p->n_bufs : 1), sizeof *e->codes_t);
  e->scales_t = alto_xcalloc((size_t)(p->n_bufs ? p->n_bufs : 1), sizeof *e->scales_t);
  if (e->o.check_quant)
    return ALTO_OK;
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *q = &p->nodes[i];
    const bool block = q->q.scheme == ALTO_SCHEME_FP8_BLOCK && q->q.block_rows == 128;
    const bool row = q->q.scheme == ALTO_SCHEME_FP8_ROWWISE && q->shape[0] % 16 == 0;
    if (q->op != ALTO_OP_QUANTIZE || q->rank != 2 || !(block || row) || q->q.axis != -2 ||
        q->q.two_d)
      continue;
    int cb = q->out[0], readers = 0, transposed = 0;
    for (int k = 0; k < p->n_nodes; k++) {
      const alto_node *g = &p->nodes[k];
      for (int j = 0; j < g->n_in; j++) {
        if (g->in[j] != cb)
          continue;
        readers++;
        fp8_operand_ fa, fb;
        outer_operand_ oa, ob;
        if (g->op == ALTO_OP_GEMM && (j == 0 || j == 2) &&
            (block ? gemm_fp8_fast_(e, g, &fa, &fb) && (j == 0 ? fa : fb).transpose
                   : gemm_outer_fast_(e, g, &oa, &ob) && (j == 0 ? oa : ob).transpose))
          transposed++;
      }
    }
    if (readers > 0 && readers == transposed) {
      e->codes_t[cb] = true;
      e->n_codes_t++;
    }
  }
  /* fp8_block 1x128 scales (fprop X, dgrad dY: the GEMMs' A operands) read only by such GEMM
   * operands, which would convert them to the MN-major layout per call, and by DEQUANTIZE (the
   * wgrad's X), which reads either: quantized MN-major, with no conversion left */
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *q = &p->nodes[i];
    if (q->op != ALTO_OP_QUANTIZE || q->rank != 2 || q->q.scheme != ALTO_SCHEME_FP8_BLOCK ||
        q->q.axis != -1 || q->q.two_d || q->q.block_cols != 128 || q->shape[0] % 4)
      continue;
    int sb = q->out[1], readers = 0, ok = 0;
    for (int k = 0; k < p->n_nodes; k++) {
      const alto_node *g = &p->nodes[k];
      for (int j = 0; j < g->n_in; j++) {
        if (g->in[j] != sb)
          continue;
        readers++;
        fp8_operand_ fa, fb;
        if (g->op == ALTO_OP_DEQUANTIZE && j == 1 && g->rank == 2)
          ok++;
        else if (g->op == ALTO_OP_GEMM && (j == 1 || j == 3) && gemm_fp8_fast_(e, g, &fa, &fb) &&
                 (j == 1 ? fa : fb).mode == ALTO_CUBLASLT_SCALE_1X128 &&
                 !(j == 1 ? fa : fb).scales_lt && !(j == 1 ? fa : fb).transpose)
          ok++;
      }
    }
    if (readers > 0 && readers == ok) {
      e->scales_t[sb] = true;
      e->n_scales_t++;
    }
  }
  return ALTO_OK;
}

int alto_exec_gpu_scales_mn_major(const alto_exec_gpu *e) {
  return e->n_scales_t;
}

/* fp8_block's forward X (the fprop operand, QUANTIZE 1x128 along K: node f) is re-quantized in the
 * backward for the wgrad, 128x1 from f's codes (DEQUANTIZE to bf16 then QUANTIZE with its codes
 * transposed, which plan_requant_fusion_ would run as one kernel). The forward kernel can write
 * both from X (quant_tile128.cuh ROWS_RQ, the same bits): the backward kernel, its launch and its
 * read of the codes go. The re-quantization's outputs then live from f on and f's until their last
 * reader but the DEQUANTIZE (memplan_), so the step's memory stays about the same. Returns the
 * re-quantization's QUANTIZE, or -1. Decided from the plan alone (and plan_codes_t_), before the
 * arena is laid out. Not with check_quant, nor for an X that a SWIGLU makes (plan_swiglu_ computes
 * SwiGLU inside f's rows kernel instead). */
static int xdual_q_of_(const alto_exec_gpu *e, int fi) {
  const alto_plan *p = e->p;
  const alto_node *f = &p->nodes[fi];
  if (f->op != ALTO_OP_QUANTIZE || f->rank != 2 || f->q.scheme != ALTO_SCHEME_FP8_BLOCK ||
      f->q.axis != -1 || f->q.two_d || f->q.block_cols != 128 || f->shape[0] % 128 ||
      f->shape[1] % 128 || buf_(e, f->in[0])->dtype != ALTO_DT_BF16)
    return -1;
  for (int k = 0; k < fi; k++)
    for (int j = 0; j < p->nodes[k].n_out; j++)
      if (p->nodes[k].out[j] == f->in[0] && p->nodes[k].op == ALTO_OP_SWIGLU)
        return -1;
  for (int i = fi + 1; i + 1 < p->n_nodes; i++) {
    const alto_node *d = &p->nodes[i], *q = &p->nodes[i + 1];
    if (d->op != ALTO_OP_DEQUANTIZE || d->in[0] != f->out[0])
      continue;
    if (d->in[1] != f->out[1] || q->op != ALTO_OP_QUANTIZE || q->in[0] != d->out[0] ||
        readers_(p, d->out[0]) != 1 || buf_(e, d->out[0])->dtype != ALTO_DT_BF16 ||
        q->rank != 2 || q->shape[0] != f->shape[0] || q->shape[1] != f->shape[1] ||
        q->q.scheme != ALTO_SCHEME_FP8_BLOCK || q->q.axis != -2 || q->q.two_d ||
        q->q.block_rows != 128 || q->q.elem != f->q.elem || !e->codes_t[q->out[0]])
      return -1;
    return i + 1;
  }
  return -1;
}

static alto_status plan_xdual_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  e->xdual_q = alto_xmalloc((size_t)(p->n_nodes ? p->n_nodes : 1) * sizeof *e->xdual_q);
  for (int i = 0; i < p->n_nodes; i++) {
    e->xdual_q[i] = e->o.check_quant ? -1 : xdual_q_of_(e, i);
    e->n_xdual += e->xdual_q[i] >= 0;
  }
  return ALTO_OK;
}

/* The nodes plan_xdual_ folded into the forward's: the re-quantization's DEQUANTIZE and QUANTIZE
 * (fused_into -2; the forward QUANTIZE holds the latter, so no other plan takes either). */
static void plan_xdual_fuse_(alto_exec_gpu *e) {
  for (int i = 0; i < e->p->n_nodes; i++)
    if (e->xdual_q[i] >= 0) {
      e->fused_into[i] = e->xdual_q[i];
      e->fused_into[e->xdual_q[i]] = e->fused_into[e->xdual_q[i] - 1] = -2;
    }
}

int alto_exec_gpu_xdual_fused(const alto_exec_gpu *e) {
  return e->n_xdual;
}

/* DEQUANTIZE x -> y (bf16) followed at once by a QUANTIZE of y written transposed (fp8_block: the
 * wgrad's X, re-quantized 128x1 from its saved 1x128 codes): the quantization kernel dequantizes
 * the codes itself (quant_tile128.cuh DQ_ELEM, the same bits), so y is neither written nor read.
 * When y has no other reader and the codes and scales read share no memory with those written
 * (the arena may give the saved codes' range, dead after the DEQUANTIZE, to the new ones). */
static alto_status plan_requant_fusion_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  for (int i = 0; i + 1 < p->n_nodes; i++) {
    const alto_node *d = &p->nodes[i], *q = &p->nodes[i + 1];
    if (d->op != ALTO_OP_DEQUANTIZE || q->op != ALTO_OP_QUANTIZE || q->in[0] != d->out[0] ||
        e->fused_into[i] != -1 || !e->codes_t[q->out[0]] ||
        d->q.scheme != ALTO_SCHEME_FP8_BLOCK || d->q.axis != -1 || d->q.two_d ||
        d->q.block_cols != 128 || buf_(e, d->out[0])->dtype != ALTO_DT_BF16 || d->rank != 2 ||
        d->shape[0] % 128 || d->shape[1] % 128)
      continue;
    if (readers_(p, d->out[0]) != 1 || overlap_(e, d->in[0], q->out[0]) || overlap_(e, d->in[0], q->out[1]) ||
        overlap_(e, d->in[1], q->out[0]) || overlap_(e, d->in[1], q->out[1]))
      continue;
    fuse_(e, i + 1, i, &e->n_requant);
  }
  return ALTO_OK;
}

int alto_exec_gpu_requant_fused(const alto_exec_gpu *e) {
  return e->n_requant;
}

/* The weights' fp8_block 128x128 codes feed fprop as they are and dgrad (dX = dY W) transposed:
 * their quantization also writes the transposed codes and scale grid into buffers of their own
 * (the weights' size again in FP8, kept from forward to backward), and dgrad reads those instead
 * of transposing per call. Not with check_quant (the plan's layouts, transposes included). */
static alto_status plan_w_t_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  e->wt_codes = alto_xcalloc((size_t)(p->n_bufs ? p->n_bufs : 1), sizeof *e->wt_codes);
  e->wt_scales = alto_xcalloc((size_t)(p->n_bufs ? p->n_bufs : 1), sizeof *e->wt_scales);
  if (e->o.check_quant)
    return ALTO_OK;
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *q = &p->nodes[i];
    if (q->op != ALTO_OP_QUANTIZE || q->rank != 2 || q->q.scheme != ALTO_SCHEME_FP8_BLOCK ||
        !q->q.two_d || q->q.block_rows != 128 || q->q.block_cols != 128)
      continue;
    int cb = q->out[0], transposed = 0;
    for (int k = 0; k < p->n_nodes; k++) {
      const alto_node *g = &p->nodes[k];
      fp8_operand_ fa, fb;
      for (int j = 0; j < g->n_in; j++)
        if (g->in[j] == cb && g->op == ALTO_OP_GEMM && (j == 0 || j == 2) &&
            gemm_fp8_fast_(e, g, &fa, &fb) && (j == 0 ? fa : fb).transpose &&
            (j == 0 ? fa : fb).scales_tr)
          transposed++;
    }
    if (!transposed || e->wt_codes[cb])
      continue;
    ALTO_TRY(e->b->i->alloc(e->b, buf_(e, cb)->bytes, &e->wt_codes[cb]));
    ALTO_TRY(e->b->i->alloc(e->b, buf_(e, q->out[1])->bytes, &e->wt_scales[cb]));
    e->n_wt++;
  }
  return ALTO_OK;
}

/* The weights whose forward copy is made from the parameter itself, once per step: a 2-D block
 * QUANTIZE of a 2-D parameter that alto_gpu_quantize_adamw takes (fp8_block 128x128, one-level MX /
 * NVFP4 32x32 or 16x16), or a CAST to bf16. The copy gets memory of its own, which the optimizer
 * step writes (AdamW and the quantization or the cast in one kernel, reading the parameter once);
 * the next forward skips the node. Only where that
 * node is the parameter's one copy; not with check_quant. Decided from the plan alone, before the
 * arena is laid out (memplan_ leaves the pinned buffers out of it). */
static alto_status plan_wq_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  const size_t nb = (size_t)(p->n_bufs ? p->n_bufs : 1);
  e->pinned = alto_xcalloc(nb, sizeof *e->pinned);
  e->wq_of = alto_xmalloc(nb * sizeof *e->wq_of);
  e->wq_fresh = alto_xcalloc(nb, sizeof *e->wq_fresh);
  for (size_t i = 0; i < nb; i++)
    e->wq_of[i] = -1;
  if (e->o.check_quant)
    return ALTO_OK;
  int *uses = alto_xcalloc(nb, sizeof *uses); /* QUANTIZE and CAST nodes reading each buffer */
  for (int i = 0; i < p->n_nodes; i++)
    if (p->nodes[i].op == ALTO_OP_QUANTIZE || p->nodes[i].op == ALTO_OP_CAST)
      uses[p->nodes[i].in[0]]++;
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *q = &p->nodes[i];
    const bool quant = q->op == ALTO_OP_QUANTIZE, cast = q->op == ALTO_OP_CAST;
    const int w = quant || cast ? q->in[0] : -1;
    if (w < 0 || buf_(e, w)->kind != ALTO_BUF_PARAM || buf_(e, w)->dtype != ALTO_DT_F32 ||
        uses[w] != 1)
      continue;
    if (quant) {
      alto_quant_spec spec = alto_exec_quantize_spec(q, e->seed, 0);
      alto_tensor_view v = view_(e, w, q->shape, q->rank);
      if (q->rank != 2 || alto_gpu_quantize_adamw_check(e->b, &spec, &v, false) != ALTO_OK)
        continue;
    }
    if (cast && (buf_(e, q->out[0])->dtype != ALTO_DT_BF16 ||
                 numel_(buf_(e, q->out[0])) != numel_(buf_(e, w))))
      continue;
    ALTO_TRY(e->b->i->alloc(e->b, buf_(e, q->out[0])->bytes, &e->pinned[q->out[0]]));
    if (quant)
      ALTO_TRY(e->b->i->alloc(e->b, buf_(e, q->out[1])->bytes, &e->pinned[q->out[1]]));
    e->wq_of[w] = i;
    quant ? e->n_wq++ : e->n_wc++;
  }
  free(uses);
  return ALTO_OK;
}

/* MXFP4 operands quantized straight into the E4M3 form of the FP8 GEMM (runtime/quant_gpu.h
 * mx_tile): a 2-D QUANTIZE 1x32 along the last dim (cols a multiple of 128, rows of 4) whose codes
 * and scales are read only as the A operand of GEMMs that run on the FP8 tensor cores (fprop's X,
 * dgrad's dY): the kernel writes E4M3 codes (twice the E2M1 codes' bytes: memplan_ lays the codes
 * buffer out at that size) and the fp32 MN-major scale grid (the E8M0 grid's bytes exactly), the
 * bits the GEMM's conversion would make, so the GEMM converts only B. Decided from the plan alone,
 * before the arena is laid out; not with check_quant or opts.mx_no_tile. */
static alto_status plan_mx_tile_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  e->mx_tile = alto_xcalloc((size_t)(p->n_bufs ? p->n_bufs : 1), sizeof *e->mx_tile);
  if (e->o.check_quant || e->o.mx_no_tile)
    return ALTO_OK;
  for (int i = 0; i < p->n_nodes; i++) {
    const alto_node *q = &p->nodes[i];
    if (q->op != ALTO_OP_QUANTIZE || q->rank != 2 || q->q.scheme != ALTO_SCHEME_MXFP4 ||
        q->q.axis != -1 || q->q.two_d || q->shape[1] % 128 || q->shape[0] % 4)
      continue;
    ALTO_ASSERT(buf_(e, q->out[1])->bytes == (size_t)(q->shape[0] * q->shape[1] / 32));
    int readers = 0, ok = 0;
    for (int k = 0; k < p->n_nodes; k++) {
      const alto_node *g = &p->nodes[k];
      for (int j = 0; j < g->n_in; j++) {
        if (g->in[j] != q->out[0] && g->in[j] != q->out[1])
          continue;
        readers++;
        alto_mx_src sa, sb;
        ok += g->op == ALTO_OP_GEMM && j == (g->in[j] == q->out[0] ? 0 : 1) && !g->trans_a &&
              gemm_mx_fast_(e, g, &sa, &sb) && sa.layout == ALTO_MX_ROWS;
      }
    }
    if (readers > 0 && readers == ok && !e->mx_tile[q->out[0]]) {
      e->mx_tile[q->out[0]] = true;
      e->n_mx_tile++;
    }
  }
  return ALTO_OK;
}

int alto_exec_gpu_mx_tiles(const alto_exec_gpu *e) {
  return e->n_mx_tile;
}

/* The arena's layout: the plan's, or redone: with pinned buffers (plan_wq_) left out (their bytes
 * would otherwise sit unused in the arena), the E4M3 forms' codes at their size (plan_mx_tile_),
 * and the input of each fusable RHT kept live through its QUANTIZE (rht_fusable_). */
static alto_status memplan_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  e->arena_bytes = p->arena_bytes;
  int n_rht = 0;
  for (int i = 0; i < p->n_nodes; i++)
    n_rht += rht_fusable_(e, i);
  if (!e->n_wq && !e->n_wc && !e->n_mx_tile && !n_rht && !e->n_xdual)
    return ALTO_OK;
  alto_plan q = *p;
  q.bufs = alto_xmalloc((size_t)p->n_bufs * sizeof *q.bufs);
  memcpy(q.bufs, p->bufs, (size_t)p->n_bufs * sizeof *q.bufs);
  for (int i = 0; i < p->n_bufs; i++)
    q.bufs[i].bytes = e->pinned[i] ? 0 : bytes_(e, i);
  for (int i = 0; n_rht && i < p->n_nodes; i++)
    if (rht_fusable_(e, i) && q.bufs[p->nodes[i].in[0]].last < i + 1)
      q.bufs[p->nodes[i].in[0]].last = i + 1;
  for (int i = 0; e->n_xdual && i < p->n_nodes; i++) { /* plan_xdual_'s lifetimes */
    const int qi = e->xdual_q[i];
    if (qi < 0)
      continue;
    const alto_node *f = &p->nodes[i], *d = &p->nodes[qi - 1], *w = &p->nodes[qi];
    for (int t = 0; t < 2; t++) {
      alto_buffer *ob = &q.bufs[w->out[t]]; /* written here, read in the backward */
      if (ob->first > i)
        ob->first = i;
      alto_buffer *fb = &q.bufs[f->out[t]]; /* until its last reader but the DEQUANTIZE */
      int last = i;
      for (int k = i + 1; k < p->n_nodes; k++)
        for (int j = 0; j < p->nodes[k].n_in; j++)
          if (p->nodes[k].in[j] == f->out[t] && k != qi - 1 && k > last)
            last = k;
      fb->last = last;
    }
    q.bufs[d->out[0]].bytes = 0; /* never written */
  }
  alto_status s = alto_memplan_assign(&q);
  if (s == ALTO_OK)
    s = alto_memplan_verify(&q);
  if (s == ALTO_OK) {
    e->offsets = alto_xmalloc((size_t)p->n_bufs * sizeof *e->offsets);
    for (int i = 0; i < p->n_bufs; i++)
      e->offsets[i] = q.bufs[i].offset;
    e->arena_bytes = q.arena_bytes;
  }
  free(q.bufs);
  return s;
}

int alto_exec_gpu_weights_by_optimizer(const alto_exec_gpu *e, int *cast) {
  if (cast)
    *cast = e->n_wc;
  return e->n_wq;
}

/* QUANTIZE dY 1x128 along N (dgrad) followed at once by QUANTIZE dY 128x1 along M written
 * transposed (wgrad), fp8_block (the lowering puts the two together): one kernel reads dY once and
 * writes both (quant_tile128.cuh ROWS_COPY, the same bits). When dY is a 2-D bf16 tensor whose
 * dims are multiples of 128 and the second node's outputs share no memory with dY or the first's
 * outputs. Not with check_quant (plan_codes_t_ leaves the codes in the plan's layout then). */
static alto_status plan_dual_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  for (int i = 0; i + 1 < p->n_nodes; i++) {
    const alto_node *f = &p->nodes[i], *w = &p->nodes[i + 1];
    if (f->op != ALTO_OP_QUANTIZE || w->op != ALTO_OP_QUANTIZE || f->in[0] != w->in[0] ||
        e->fused_into[i] != -1 || e->fused_into[i + 1] != -1 || !e->codes_t[w->out[0]] ||
        f->rank != 2 || f->q.scheme != ALTO_SCHEME_FP8_BLOCK || f->q.axis != -1 || f->q.two_d ||
        f->q.block_cols != 128 || w->q.scheme != ALTO_SCHEME_FP8_BLOCK || w->q.axis != -2 ||
        w->q.two_d || w->q.block_rows != 128 || f->q.elem != w->q.elem ||
        buf_(e, f->in[0])->dtype != ALTO_DT_BF16 || f->shape[0] % 128 || f->shape[1] % 128)
      continue;
    bool apart = true;
    for (int a = 0; a < 2; a++)
      apart = apart && !overlap_(e, w->out[a], f->in[0]) && !overlap_(e, w->out[a], f->out[0]) &&
              !overlap_(e, w->out[a], f->out[1]);
    if (!apart)
      continue;
    fuse_(e, i, i + 1, &e->n_dual);
  }
  return ALTO_OK;
}

int alto_exec_gpu_dual_fused(const alto_exec_gpu *e) {
  return e->n_dual;
}

/* SWIGLU a, b -> y followed at once by a QUANTIZE of y along its last dim (the MLP's
 * down-projection input): the quantization kernel computes y from a and b itself
 * (quant_rows_swiglu.cuh, the SWIGLU op's bits), so y is not read back, and not written where
 * nothing else reads it (fp8_block saves the codes for wgrad; the MX recipes also quantize y
 * along M, so there the kernel writes y: swiglu_y). When y is bf16, the QUANTIZE runs one rows
 * kernel (MX, fp8_block) and its outputs share no memory with a or b. Not with check_quant (which
 * quantizes y on the CPU from its copy). */
static alto_status plan_swiglu_(alto_exec_gpu *e) {
  const alto_plan *p = e->p;
  e->swiglu_y = alto_xcalloc((size_t)(p->n_nodes ? p->n_nodes : 1), sizeof *e->swiglu_y);
  if (e->o.check_quant)
    return ALTO_OK;
  for (int i = 0; i + 1 < p->n_nodes; i++) {
    const alto_node *s = &p->nodes[i], *q = &p->nodes[i + 1];
    if (s->op != ALTO_OP_SWIGLU || q->op != ALTO_OP_QUANTIZE || q->in[0] != s->out[0] ||
        e->fused_into[i] != -1 || e->fused_into[i + 1] != -1 ||
        buf_(e, s->out[0])->dtype != ALTO_DT_BF16 || q->q.axis != -1 || q->q.two_d ||
        q->q.scheme == ALTO_SCHEME_NVFP4)
      continue;
    bool apart = true;
    for (int a = 0; a < 2; a++)
      apart = apart && !overlap_(e, q->out[a], s->in[0]) && !overlap_(e, q->out[a], s->in[1]);
    alto_quant_spec spec = alto_exec_quantize_spec(q, e->seed, 0);
    alto_qkern ks[ALTO_QUANT_MAX_KERNELS];
    int nk = alto_quant_kernels(&spec, ALTO_ELEM_BF16, NULL, e->b->target, e->b->arch, ks);
    if (!apart || nk != 1 || ks[0].kind != ALTO_QKERN_ROWS)
      continue;
    e->swiglu_y[i + 1] = readers_(p, s->out[0]) > 1; /* (y lives on: the kernel writes it) */
    fuse_(e, i + 1, i, &e->n_swiglu);
  }
  return ALTO_OK;
}

int alto_exec_gpu_swiglu_fused(const alto_exec_gpu *e) {
  return e->n_swiglu;
}

int alto_exec_gpu_weights_transposed(const alto_exec_gpu *e) {
  return e->n_wt;
}

int alto_exec_gpu_codes_transposed(const alto_exec_gpu *e) {
  return e->n_codes_t;
}

/* ---- GEMM --------------------------------------------------------------------------------- */
/* alto's operand of a prepared cuBLASLt operand: the same K-major codes; the scale grid addressed
 * by strides (alto's row-major layouts, or cuBLASLt's [K/128, R4] for scales_lt, R4 = R rounded up
 * to a multiple of 4). */
static alto_gemm_fp8_operand alto_operand_of_(const alto_cublaslt_fp8_operand *op, int64_t R,
                                              int64_t k) {
  int64_t kb = (k + 127) / 128;
  alto_gemm_fp8_operand o = {op->codes, op->scales, kb, 1, 0, false};
  if (op->mode == ALTO_CUBLASLT_SCALE_1X128 && op->scales_lt)
    o.s_r = 1, o.s_k = (R + 3) / 4 * 4;
  return o;
}

typedef struct {
  alto_exec_gpu *e;
  alto_cublaslt_fp8_operand op[2];
  alto_gemm_fp8_operand ao[2];
  int64_t m, n, k;
  alto_dtype out;
  bool accumulate, alto;
  alto_dptr c;
  alto_status st;
} gemm_fp8_call_;

static void gemm_fp8_call_run_(void *p) {
  gemm_fp8_call_ *g = p;
  if (g->st != ALTO_OK)
    return;
  if (g->alto)
    g->st = alto_gemm_fp8(g->e->b, g->c, g->out, g->n, g->accumulate, &g->ao[0], &g->ao[1],
                          g->op[1].mode == ALTO_CUBLASLT_SCALE_128X128 ? ALTO_GEMM_B_128X128
                                                                       : ALTO_GEMM_B_1X128,
                          g->m, g->n, g->k, NULL);
  else
    g->st = alto_cublaslt_gemm_fp8_block(g->c, &g->op[0], &g->op[1], g->m, g->n, g->k,
                                         g->accumulate, g->out);
}

static float gemm_fp8_time_(gemm_fp8_call_ *g) {
  float t[3], ms;
  gemm_fp8_call_run_(g); /* warm-up (and the JIT) */
  for (int r = 0; r < 3; r++) {
    if (g->e->b->i->time_ms(g->e->b, gemm_fp8_call_run_, g, 5, &ms) != ALTO_OK || g->st != ALTO_OK)
      return -1.f;
    t[r] = ms / 5.f;
  }
  float lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
  return t[2] < lo ? lo : (t[2] > hi ? hi : t[2]);
}

/* Runs both implementations into temporaries as the call would (C = A B^T, or C += A B^T from a
 * copy of the call's C: the accumulating epilogues are compared too), compares and times them. */
static alto_status gemm_fp8_choose_(gemm_fp8_call_ *g, gemm_choice_ *ch) {
  alto_backend *b = g->e->b;
  size_t es = g->out == ALTO_DT_F32 ? 4 : 2, bytes = (size_t)(g->m * g->n) * es;
  alto_dptr c[2] = {0, 0};
  void *h[2] = {alto_xmalloc(bytes), alto_xmalloc(bytes)};
  void *c_old = g->accumulate ? alto_xmalloc(bytes) : NULL; /* C += starts from the call's C */
  ch->alto = false, ch->ms_alto = -1.f;
  gemm_fp8_call_ t = *g;
  alto_status st = b->i->alloc(b, bytes, &c[0]);
  if (st == ALTO_OK)
    st = b->i->alloc(b, bytes, &c[1]);
  if (st == ALTO_OK && c_old)
    st = b->i->d2h(b, c_old, g->c, bytes);
  for (int i = 0; i < 2 && st == ALTO_OK; i++) {
    if (c_old && (st = b->i->h2d(b, c[i], c_old, bytes)) != ALTO_OK)
      break;
    t.alto = i == 1, t.c = c[i], t.st = ALTO_OK;
    gemm_fp8_call_run_(&t);
    alto_status ti = t.st;
    if (ti == ALTO_OK)
      ti = b->i->d2h(b, h[i], c[i], bytes);
    if (ti != ALTO_OK && i == 0)
      st = ti; /* cuBLASLt itself failed: the caller reports it */
    if (ti != ALTO_OK && i == 1) {
      alto_log(ALTO_LOG_WARN, "exec (gpu): alto's FP8 GEMM %lldx%lldx%lld not eligible: %s",
               (long long)g->m, (long long)g->n, (long long)g->k, alto_last_error());
      goto done;
    }
  }
  if (st != ALTO_OK)
    goto done;
  /* only bit for bit cuBLASLt's output: then the step's bits never depend on which one a
   * process timed faster (a resumed run, another process, the same bits) */
  if (memcmp(h[0], h[1], bytes) != 0) {
    double num = 0, den = 0; /* (how far apart, for the log) */
    for (int64_t i = 0; i < g->m * g->n; i++) {
      float x = es == 4 ? ((float *)h[0])[i] : alto_bf16_to_f32(((uint16_t *)h[0])[i]);
      float y = es == 4 ? ((float *)h[1])[i] : alto_bf16_to_f32(((uint16_t *)h[1])[i]);
      if (isfinite(x) && isfinite(y))
        num += ((double)x - y) * ((double)x - y), den += (double)x * x;
    }
    alto_log(ALTO_LOG_INFO,
             "exec (gpu): alto's FP8 GEMM %lldx%lldx%lld is not bit for bit cuBLASLt's "
             "(relative difference %.3g): not used",
             (long long)g->m, (long long)g->n, (long long)g->k, den > 0 ? sqrt(num / den) : 1.0);
    goto done;
  }
  t.alto = false, t.c = c[0];
  ch->ms_lt = gemm_fp8_time_(&t);
  t.alto = true, t.c = c[1], t.st = ALTO_OK;
  ch->ms_alto = gemm_fp8_time_(&t);
  ch->alto = ch->ms_alto > 0 && ch->ms_lt > 0 && ch->ms_alto < ch->ms_lt;
done:
  if (c[0])
    b->i->free(b, c[0]);
  if (c[1])
    b->i->free(b, c[1]);
  free(h[0]);
  free(h[1]);
  free(c_old);
  return st;
}

/* Block-scaled FP8 with the operands brought to K-major [R, K]: cuBLASLt or alto's own GEMM,
 * whichever measured faster for this configuration (alto's only when A is 1x128-scaled). */
/* An FP8 GEMM operand's preparation: codes or a 128x128 scale grid transposed (K-major for the
 * GEMMs), or 1x128 scales from alto's row-major layout to the MN-major one (cuBLASLt's, and alto's
 * GEMM's bulk-copy case). Timed apart while profiling. */
enum { PREP_TRANSPOSE, PREP_SCALES };
typedef struct {
  alto_exec_gpu *e;
  int kind;
  alto_dptr dst, src;
  int64_t rows, cols; /* transpose: [rows, cols] of es-byte elements; scales: R, K */
  int es;
  alto_status st;
} gemm_prep_op_;

static void gemm_prep_run_(void *p) {
  gemm_prep_op_ *o = p;
  if (o->st != ALTO_OK)
    return;
  o->st = o->kind == PREP_TRANSPOSE
              ? alto_ops_gpu_transpose(o->e->b, o->dst, o->src, o->rows, o->cols, o->es)
              : alto_cublaslt_convert_scales(o->dst, o->src, ALTO_CUBLASLT_SCALE_1X128, o->rows,
                                             o->cols);
}

static alto_status gemm_prep_(alto_exec_gpu *e, int kind, alto_dptr dst, alto_dptr src,
                              int64_t rows, int64_t cols, int es) {
  gemm_prep_op_ o = {e, kind, dst, src, rows, cols, es, ALTO_OK};
  if (!e->profiling) {
    gemm_prep_run_(&o);
    return o.st;
  }
  float t = 0;
  ALTO_TRY(e->b->i->time_ms(e->b, gemm_prep_run_, &o, 1, &t));
  e->prep_ms[kind] += t;
  e->prep_n[kind]++;
  return o.st;
}

static alto_status gemm_fp8_(alto_exec_gpu *e, const alto_node *n, const fp8_operand_ *fa,
                             const fp8_operand_ *fb, gemm_path_ *path) {
  int64_t m = n->shape[0], nn = n->shape[1], k = n->shape[2];
  alto_dptr next = e->scratch;
  const fp8_operand_ *f[2] = {fa, fb};
  int64_t R[2] = {m, nn};
  gemm_fp8_call_ g;
  memset(&g, 0, sizeof g);
  g.e = e, g.m = m, g.n = nn, g.k = k, g.out = buf_(e, n->out[0])->dtype;
  g.accumulate = n->accumulate, g.c = ptr_(e, n->out[0]);
  for (int t = 0; t < 2; t++) {
    int codes = n->in[2 * t], scales = n->in[2 * t + 1];
    g.op[t] = (alto_cublaslt_fp8_operand){ptr_(e, codes), ptr_(e, scales), f[t]->mode,
                                          ALTO_DT_FP8_E4M3, f[t]->scales_lt};
    const bool copy = f[t]->transpose && e->wt_codes[codes];
    if (copy) { /* the quantizer's transposed copy of codes and scale grid (plan_w_t_) */
      g.op[t].codes = e->wt_codes[codes];
      g.op[t].scales = e->wt_scales[codes];
    }
    if (f[t]->transpose && !copy && !e->codes_t[codes]) { /* stored [K, R] -> [R, K] */
      ALTO_TRY(gemm_prep_(e, PREP_TRANSPOSE, next, ptr_(e, codes), k, R[t], 1));
      g.op[t].codes = next;
      next += align_((size_t)(R[t] * k));
    }
    if (f[t]->scales_tr && !copy) { /* [K/128, R/128] -> [R/128, K/128] */
      ALTO_TRY(gemm_prep_(e, PREP_TRANSPOSE, next, ptr_(e, scales), (k + 127) / 128,
                          (R[t] + 127) / 128, 4));
      g.op[t].scales = next;
      next += align_((size_t)(((R[t] + 127) / 128) * ((k + 127) / 128) * 4));
    }
    if (f[t]->mode == ALTO_CUBLASLT_SCALE_1X128 && !f[t]->scales_lt && e->scales_t[scales]) {
      g.op[t].scales_lt = true; /* quantized MN-major (plan_codes_t_) */
    } else if (f[t]->mode == ALTO_CUBLASLT_SCALE_1X128 && !f[t]->scales_lt && R[t] % 4 == 0) {
      /* [R, K/128] -> [K/128, R] here, not inside cuBLASLt per call, so that alto's GEMM reads
       * it too (its bulk-copy case); R % 4: no padding lanes (cuBLASLt's scratch zeroes them) */
      if (!e->recording)
        ALTO_TRY(gemm_prep_(e, PREP_SCALES, next, ptr_(e, scales), R[t], k, 4));
      g.op[t].scales = next;
      g.op[t].scales_lt = true;
      next += align_((size_t)(R[t] * ((k + 127) / 128) * 4));
    }
    g.ao[t] = alto_operand_of_(&g.op[t], R[t], k);
  }
  bool eligible = fa->mode == ALTO_CUBLASLT_SCALE_1X128 && !e->o.no_alto_gemm &&
                  strcmp(e->b->arch, "sm_90a") == 0 &&
                  (g.out == ALTO_DT_BF16 || g.out == ALTO_DT_F32);
  *path = GEMM_FP8_BLOCK;
  if (!eligible) {
    if (!e->recording)
      gemm_fp8_call_run_(&g);
    return g.st;
  }
  if (e->recording) { /* compile alto's kernel with the plan; nothing runs */
    g.alto = true;
    gemm_fp8_call_run_(&g);
    return g.st;
  }
  gemm_choice_ *ch = NULL;
  for (int i = 0; i < e->n_choices; i++) {
    gemm_choice_ *c = &e->choices[i];
    if (c->m == m && c->n == nn && c->k == k && c->mode_a == (int)fa->mode &&
        c->mode_b == (int)fb->mode && c->scales_lt_a == fa->scales_lt &&
        c->scales_lt_b == fb->scales_lt && c->accumulate == n->accumulate && c->out == g.out)
      ch = c;
  }
  if (!ch && e->n_choices < EXEC_GPU_MAX_CHOICES) {
    ch = &e->choices[e->n_choices++];
    *ch = (gemm_choice_){m,
                         nn,
                         k,
                         (int)fa->mode,
                         (int)fb->mode,
                         fa->scales_lt,
                         fb->scales_lt,
                         n->accumulate,
                         g.out,
                         false,
                         -1.f,
                         -1.f};
    ALTO_TRY(gemm_fp8_choose_(&g, ch));
  }
  g.alto = ch && ch->alto;
  if (g.alto)
    *path = GEMM_ALTO_FP8;
  gemm_fp8_call_run_(&g);
  return g.st;
}

void alto_exec_gpu_gemm_choices(const alto_exec_gpu *e, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < e->n_choices && len < n; i++) {
    const gemm_choice_ *c = &e->choices[i];
    len += (size_t)snprintf(
        buf + len, n - len, "%s%lldx%lldx%lld %s%s: %s (cuBLASLt %.3f ms, alto %.3f ms)",
        len ? "\n" : "", (long long)c->m, (long long)c->n, (long long)c->k,
        c->mode_b == (int)ALTO_CUBLASLT_SCALE_128X128 ? "1x128.128x128" : "1x128.1x128",
        c->accumulate ? " +=" : "", c->alto ? "alto" : "cuBLASLt", c->ms_lt, c->ms_alto);
  }
}

/* A rowwise / tensorwise FP8 GEMM: codes stored [K, R] transposed into scratch, then alto's GEMM
 * with OUTER scales. */
static alto_status gemm_outer_(alto_exec_gpu *e, const alto_node *n, const outer_operand_ *fa,
                               const outer_operand_ *fb) {
  const int64_t m = n->shape[0], nn = n->shape[1], k = n->shape[2];
  const outer_operand_ *f[2] = {fa, fb};
  const int64_t R[2] = {m, nn};
  alto_gemm_fp8_operand op[2];
  alto_dptr next = e->scratch;
  for (int t = 0; t < 2; t++) {
    op[t] = (alto_gemm_fp8_operand){ptr_(e, n->in[2 * t]), ptr_(e, n->in[2 * t + 1]), f[t]->s_r, 0,
                                    0, f[t]->e5m2};
    if (f[t]->transpose && !e->codes_t[n->in[2 * t]]) { /* stored [K, R] -> [R, K] */
      ALTO_TRY(gemm_prep_(e, PREP_TRANSPOSE, next, op[t].codes, k, R[t], 1));
      op[t].codes = next;
      next += align_((size_t)(R[t] * k));
    }
  }
  return alto_gemm_fp8(e->b, ptr_(e, n->out[0]), buf_(e, n->out[0])->dtype, nn, n->accumulate,
                       &op[0], &op[1], ALTO_GEMM_OUTER, m, nn, k, NULL);
}

static alto_status run_gemm_(alto_exec_gpu *e, int idx, const alto_node *n) {
  int64_t m = n->shape[0], nn = n->shape[1], k = n->shape[2];
  alto_dtype odt = buf_(e, n->out[0])->dtype;
  gemm_path_ path = GEMM_FP8_BLOCK;
  fp8_operand_ fa, fb;
  outer_operand_ oa, ob;
  alto_mx_src xa, xb;
  alto_status s = ALTO_OK;
  if (n->q.scheme == ALTO_SCHEME_BF16) {
    path = GEMM_BF16;
    if (!e->recording)
      s = alto_cublaslt_gemm_bf16(ptr_(e, n->out[0]), ptr_(e, n->in[0]), ptr_(e, n->in[1]), m, nn,
                                  k, n->trans_a, n->trans_b, n->accumulate, odt);
  } else if (gemm_fp8_fast_(e, n, &fa, &fb)) {
    s = gemm_fp8_(e, n, &fa, &fb, &path); /* recording: the transposes and alto's kernel */
  } else if (gemm_outer_fast_(e, n, &oa, &ob)) {
    path = GEMM_ALTO_ROW;
    s = gemm_outer_(e, n, &oa, &ob);
  } else if (gemm_mx_fast_(e, n, &xa, &xb)) {
    /* MXFP4: both operands converted to E4M3 exactly (A per row, B's 128x128 tiles sharing their
     * scale where exact), alto's FP8 GEMM (the 128x128 promotion, or 1x128 where B's tiles could
     * not share); a fixed choice, not a timed one, so a run's bits do not depend on timing */
    path = GEMM_ALTO_MX;
    const int64_t m4 = (m + 3) / 4 * 4, n4 = (nn + 3) / 4 * 4;
    const mx_scratch_ x = mx_scratch_of_(e->scratch, m, nn, k);
    xa.codes = ptr_(e, n->in[0]), xa.scales = ptr_(e, n->in[1]);
    xb.codes = ptr_(e, n->in[2]), xb.scales = ptr_(e, n->in[3]);
    const bool tile_a = e->mx_tile[n->in[0]]; /* A quantized in E4M3 form (plan_mx_tile_) */
    s = e->b->i->memset(e->b, x.split, 0, 4);
    if (s == ALTO_OK && !tile_a)
      s = alto_gemm_mx_to_fp8(e->b, &xa, false, x.ea, x.sa, 1, m4, 0, 0, m, k);
    if (s == ALTO_OK)
      s = alto_gemm_mx_to_fp8(e->b, &xb, true, x.eb, x.sb, 1, n4, 0, x.split, nn, k);
    alto_gemm_fp8_operand oa = {tile_a ? xa.codes : x.ea, tile_a ? xa.scales : x.sa, 1, m4, 0, false},
                          ob = {x.eb, x.sb, 1, n4, x.split, false};
    if (s == ALTO_OK)
      s = alto_gemm_fp8(e->b, ptr_(e, n->out[0]), odt, nn, n->accumulate, &oa, &ob,
                        ALTO_GEMM_B_MX, m, nn, k, NULL);
  } else {
    bool f32 = is_fp8_scheme_(n->q.scheme) || is_fp8_scheme_(n->q_b.scheme);
    path = f32 ? GEMM_DQ_F32 : GEMM_DQ_BF16;
    alto_elem de = f32 ? ALTO_ELEM_F32 : ALTO_ELEM_BF16;
    alto_dptr a = e->scratch, b = e->scratch + align_((size_t)(m * k) * (f32 ? 4 : 2));
    /* Two-level NVFP4 operands are dequantized with their inner scales only (code x E4M3 scale:
     * exact in bf16), and alpha = outer(A) outer(B) scales the fp32 sums: the CPU's
     * code x (inner x outer) products in another rounding order, within fp32 accumulation error */
    const int outer_a = alto_ir_outer(n, 0), outer_b = alto_ir_outer(n, 1);
    alto_dptr alpha = outer_a < 0 ? (outer_b < 0 ? 0 : ptr_(e, outer_b)) : ptr_(e, outer_a);
    ALTO_ASSERT(!alpha || !f32);
    s = dequant_(e, n->in[0], n->in[1], -1, &n->q, de, a);
    if (s == ALTO_OK)
      s = dequant_(e, n->in[2], n->in[3], -1, &n->q_b, de, b);
    if (s == ALTO_OK && outer_a >= 0 && outer_b >= 0) {
      alpha = e->alpha; /* outer(A), then times outer(B), on the device */
      s = alto_ops_gpu_cast(e->b, alpha, ALTO_ELEM_F32, ptr_(e, outer_a), ALTO_ELEM_F32, 1);
      if (s == ALTO_OK)
        s = alto_ops_gpu_scale_by(e->b, alpha, 1, ptr_(e, outer_b));
    }
    if (s == ALTO_OK && alpha) {
      if (!e->recording)
        s = alto_cublaslt_gemm_bf16_alpha(ptr_(e, n->out[0]), a, b, m, nn, k, n->trans_a,
                                          n->trans_b, n->accumulate, odt, alpha);
    } else if (s == ALTO_OK && f32 && odt != ALTO_DT_F32) {
      /* cuBLASLt has no fp32 x fp32 -> bf16: stage C in fp32 (loaded when accumulating, as the
       * CPU widens it), then round it into the bf16 output */
      alto_dptr c32 = b + align_((size_t)(nn * k) * 4), c = ptr_(e, n->out[0]);
      if (n->accumulate)
        s = alto_ops_gpu_cast(e->b, c32, ALTO_ELEM_F32, c, ALTO_ELEM_BF16, m * nn);
      if (s == ALTO_OK && !e->recording)
        s = alto_cublaslt_gemm_f32(c32, a, b, m, nn, k, n->trans_a, n->trans_b, n->accumulate,
                                   ALTO_DT_F32);
      if (s == ALTO_OK)
        s = alto_ops_gpu_cast(e->b, c, ALTO_ELEM_BF16, c32, ALTO_ELEM_F32, m * nn);
    } else if (s == ALTO_OK && !e->recording) {
      s = f32 ? alto_cublaslt_gemm_f32(ptr_(e, n->out[0]), a, b, m, nn, k, n->trans_a, n->trans_b,
                                       n->accumulate, odt)
              : alto_cublaslt_gemm_bf16(ptr_(e, n->out[0]), a, b, m, nn, k, n->trans_a, n->trans_b,
                                        n->accumulate, odt);
    }
  }
  e->node_path[idx] = (int)path;
  if (!e->recording)
    e->gemm_calls[path]++;
  return s;
}

/* ---- the other ops ------------------------------------------------------------------------ */
static const exec_gpu_rope_ *rope_of_(const alto_exec_gpu *e, int rot) {
  for (int r = 0; r < e->n_ropes; r++)
    if (e->ropes[r].rot == rot)
      return &e->ropes[r];
  ALTO_ASSERT_MSG(false, "a RoPE width without a table");
  return NULL;
}

static alto_status run_dge_(alto_exec_gpu *e, const alto_node *n) {
  alto_quant_spec spec = alto_exec_quant_spec(&n->q);
  const alto_buffer *w = buf_(e, n->in[1]);
  alto_tensor_view v = {NULL, ALTO_ELEM_F32, w->rank, {0, 0, 0}};
  memcpy(v.dims, w->shape, (size_t)w->rank * sizeof(int64_t));
  alto_quant_layout l;
  ALTO_TRY(alto_quant_layout_of(&spec, &v, &l));
  ALTO_ASSERT(n->out[0] == n->in[0]);
  return alto_ops_gpu_dge(e->b, ptr_(e, n->out[0]), ptr_(e, n->in[1]), ptr_(e, n->in[2]), &l,
                          w->shape[w->rank - 2], w->shape[w->rank - 1]);
}

static alto_status run_node_(alto_exec_gpu *e, int idx) {
  const alto_node *n = &e->p->nodes[idx];
  alto_backend *b = e->b;
  int64_t rows = n->shape[0], cols = n->shape[1];
#define IN_(i) ptr_(e, n->in[i])
#define OUT_(i) ptr_(e, n->out[i])
  alto_elem dt = n->n_in ? elem_(e, n->in[0]) : ALTO_ELEM_F32;
  switch (n->op) {
  case ALTO_OP_QUANTIZE:
    return run_quantize_(e, idx, n);
  case ALTO_OP_DEQUANTIZE:
    if (e->fused_into[idx] == -2) /* done by the QUANTIZE after it */
      return ALTO_OK;
    return dequant_(e, n->in[0], n->in[1], alto_ir_outer(n, 0), &n->q, elem_(e, n->out[0]),
                    OUT_(0));
  case ALTO_OP_GEMM:
    return run_gemm_(e, idx, n);
  case ALTO_OP_RHT:
    return run_rht_(e, idx, n);
  case ALTO_OP_DGE_SCALE:
    return run_dge_(e, n);
  case ALTO_OP_ATTENTION:
    return alto_gpu_attention(b, OUT_(0), OUT_(1), IN_(0), IN_(1), IN_(2), n->shape[0], n->shape[2],
                              n->shape[1], n->iparam[0], n->shape[3], n->iparam[1]);
  case ALTO_OP_ATTENTION_BWD:
    return alto_gpu_attention_bwd(b, OUT_(0), OUT_(1), OUT_(2), IN_(0), IN_(1), IN_(2), IN_(3),
                                  IN_(4), IN_(5), n->shape[0], n->shape[2], n->shape[1],
                                  n->iparam[0], n->shape[3], n->iparam[1], e->scratch);
  case ALTO_OP_ROPE:
  case ALTO_OP_ROPE_BWD: {
    const exec_gpu_rope_ *r = rope_of_(e, (int)n->iparam[0]);
    return (n->op == ALTO_OP_ROPE ? alto_ops_gpu_rope : alto_ops_gpu_rope_bwd)(
        b, dt, OUT_(0), IN_(0), r->cos_t, r->sin_t, rows, e->p->seq, n->shape[1], n->shape[2],
        n->iparam[0]);
  }
  case ALTO_OP_RMSNORM:
    return alto_ops_gpu_rmsnorm(b, dt, OUT_(0), OUT_(1), IN_(0), IN_(1), rows, cols, e->m.norm_eps);
  case ALTO_OP_RMSNORM_BWD:
    return alto_ops_gpu_rmsnorm_bwd(b, dt, OUT_(0), OUT_(1), IN_(0), IN_(1), IN_(2), IN_(3), rows,
                                    cols, n->accumulate, e->scratch);
  case ALTO_OP_SWIGLU:
    if (e->fused_into[idx] == -2) /* computed by the QUANTIZE after it */
      return ALTO_OK;
    return alto_ops_gpu_swiglu(b, dt, OUT_(0), IN_(0), IN_(1), rows * cols);
  case ALTO_OP_SWIGLU_BWD:
    return alto_ops_gpu_swiglu_bwd(b, dt, OUT_(0), OUT_(1), IN_(0), IN_(1), IN_(2), rows * cols);
  case ALTO_OP_ADD:
    return alto_ops_gpu_add(b, dt, OUT_(0), IN_(0), IN_(1), rows * cols);
  case ALTO_OP_CAST:
    if (weight_copy_fresh_(e, n->in[0], idx))
      return ALTO_OK;
    return alto_ops_gpu_cast(b, OUT_(0), elem_(e, n->out[0]), IN_(0), dt, rows * cols);
  case ALTO_OP_EMBED:
    return alto_ops_gpu_embed(b, elem_(e, n->out[0]), OUT_(0), IN_(0), IN_(1), rows, cols,
                              e->m.vocab_size);
  case ALTO_OP_EMBED_BWD:
    return alto_ops_gpu_embed_bwd(b, elem_(e, n->in[1]), OUT_(0), IN_(0), IN_(1), rows, cols,
                                  e->m.vocab_size, e->scratch);
  case ALTO_OP_CROSS_ENTROPY:
    return alto_ops_gpu_cross_entropy(b, dt, OUT_(1), e->loss_dev, e->scratch, IN_(0), IN_(1), rows,
                                      cols);
  case ALTO_OP_ZERO:
    return b->i->memset(b, OUT_(0), 0, buf_(e, n->out[0])->bytes);
  case ALTO_OP_ADAMW:
    return ALTO_OK; /* alto_exec_gpu_optimizer_step */
  default:
    return unsupported_(n, "not an op of the GPU executor"); /* check_node_ stops these first */
  }
#undef IN_
#undef OUT_
}

static alto_status run_range_(alto_exec_gpu *e, int begin, int end, int64_t step) {
  e->step = step;
  ALTO_TRY(upload_rht_(e, step));
  for (int i = begin; i < end; i++) {
    alto_status s = run_node_(e, i);
    if (s != ALTO_OK)
      return alto_error(s, "node %d '%s': %s", i, e->p->nodes[i].name, alto_last_error());
  }
  return ALTO_OK;
}

static alto_status read_loss_(alto_exec_gpu *e, double *loss) {
  double l[2] = {0, 0};
  ALTO_TRY(e->b->i->d2h(e->b, l, e->loss_dev, sizeof l));
  *loss = l[0];
  return ALTO_OK;
}

alto_status alto_exec_gpu_forward(alto_exec_gpu *e, int64_t step, double *loss) {
  ALTO_TRY(run_range_(e, 0, e->p->n_fwd_end, step));
  return read_loss_(e, loss);
}

alto_status alto_exec_gpu_forward_backward(alto_exec_gpu *e, int64_t step, double *loss) {
  ALTO_TRY(run_range_(e, 0, e->p->n_bwd_end, step));
  return read_loss_(e, loss);
}

/* ---- gradients and the optimizer ---------------------------------------------------------- */
alto_status alto_exec_gpu_grad_sumsq(alto_exec_gpu *e, double *sumsq) {
  bool first = true;
  for (int i = 0; i < e->n_params; i++) {
    const exec_gpu_param_ *q = &e->params[i];
    ALTO_TRY(alto_ops_gpu_sumsq(e->b, e->sumsq_dev, ptr_(e, q->grad), q->numel, !first,
                                e->sumsq_scratch));
    first = false;
  }
  *sumsq = 0;
  if (first)
    return ALTO_OK;
  return e->b->i->d2h(e->b, sumsq, e->sumsq_dev, sizeof *sumsq);
}

alto_status alto_exec_gpu_scale_grads(alto_exec_gpu *e, float s) {
  for (int i = 0; i < e->n_params; i++)
    ALTO_TRY(alto_ops_gpu_scale(e->b, ptr_(e, e->params[i].grad), e->params[i].numel, s));
  return ALTO_OK;
}

void alto_exec_gpu_defer_grad_scale(alto_exec_gpu *e, float s) {
  e->grad_scale = s;
}

alto_status alto_exec_gpu_optimizer_step(alto_exec_gpu *e, const alto_adamw_hparams *h,
                                         int64_t step) {
  if (step < 1)
    return alto_error(ALTO_ERR_INVALID_ARG, "optimizer step %lld: steps count from 1",
                      (long long)step);
  for (int i = e->p->n_bwd_end; i < e->p->n_nodes; i++) {
    const alto_node *n = &e->p->nodes[i];
    if (n->op != ALTO_OP_ADAMW)
      continue;
    const int w = n->in[0], qi = e->wq_of[w];
    if (qi < 0 || e->p->nodes[qi].op == ALTO_OP_CAST) { /* (with the next forward's bf16 copy) */
      ALTO_TRY(alto_ops_gpu_adamw(e->b, ptr_(e, w), ptr_(e, n->in[1]), ptr_(e, n->in[2]),
                                  ptr_(e, n->in[3]), n->shape[0], h, step, e->grad_scale,
                                  qi < 0 ? 0 : ptr_(e, e->p->nodes[qi].out[0])));
      if (qi >= 0)
        e->wq_fresh[w] = true;
      continue;
    }
    /* the step and the weight's quantization for the next forward, one kernel */
    const alto_node *q = &e->p->nodes[qi];
    alto_quant_spec spec = alto_exec_quantize_spec(q, e->seed, e->step);
    alto_tensor_view v = view_(e, w, q->shape, q->rank);
    alto_gpu_quantized qo = {ptr_(e, q->out[0]), ptr_(e, q->out[1]), 0, 0, false, false,
                             e->wt_codes[q->out[0]], e->wt_scales[q->out[0]], false};
    alto_adamw_k k = alto_ops_gpu_adamw_scalars(h, step, e->grad_scale);
    ALTO_TRY(alto_gpu_quantize_adamw(e->b, &spec, &v, ptr_(e, w), ptr_(e, n->in[1]),
                                     ptr_(e, n->in[2]), ptr_(e, n->in[3]), &k, &qo));
    e->wq_fresh[w] = true;
  }
  e->grad_scale = 1.0f;
  return ALTO_OK;
}

/* ---- host mirrors (the training loop's parameter view) ------------------------------------ */
int alto_exec_gpu_n_params(const alto_exec_gpu *e) {
  return e->n_params;
}

void alto_exec_gpu_param(alto_exec_gpu *e, int i, const char **name, int64_t *numel, float **param,
                         float **grad, float **m, float **v) {
  ALTO_ASSERT(i >= 0 && i < e->n_params);
  exec_gpu_param_ *q = &e->params[i];
  *name = buf_(e, q->id)->name;
  *numel = q->numel;
  *param = q->h_param;
  *grad = q->h_grad;
  *m = q->h_m;
  *v = q->h_v;
}

alto_status alto_exec_gpu_sync(alto_exec_gpu *e, bool to_host) {
  for (int i = 0; i < e->n_params; i++) {
    exec_gpu_param_ *q = &e->params[i];
    int ids[4] = {q->id, q->m, q->v, q->grad};
    float *h[4] = {q->h_param, q->h_m, q->h_v, q->h_grad};
    for (int t = 0; t < (to_host ? 4 : 3); t++)
      ALTO_TRY(to_host ? alto_exec_gpu_read(e, ids[t], h[t])
                       : alto_exec_gpu_write(e, ids[t], h[t]));
  }
  return ALTO_OK;
}

/* ---- prepare: record the kernels of one step, compile them in parallel, load them --------- */
/* Distinct fake ranges (never dereferenced): the launch paths compare pointers (a transpose
 * refuses out == in), so the arena and the scratch must not share an address. */
static alto_status rec_alloc_(alto_backend *b, size_t n, alto_dptr *out) {
  (void)b;
  static alto_dptr next = (alto_dptr)1 << 40;
  *out = __atomic_fetch_add(&next, align_(n ? n : 1) + EXEC_GPU_ALIGN, __ATOMIC_RELAXED);
  return ALTO_OK;
}
static void rec_free_(alto_backend *b, alto_dptr p) {
  (void)b, (void)p;
}
static alto_status rec_memset_(alto_backend *b, alto_dptr p, uint8_t v, size_t n) {
  (void)b, (void)p, (void)v, (void)n;
  return ALTO_OK;
}
static alto_status rec_h2d_(alto_backend *b, alto_dptr d, const void *s, size_t n) {
  (void)b, (void)d, (void)s, (void)n;
  return ALTO_OK;
}
static alto_status rec_d2h_(alto_backend *b, void *d, alto_dptr s, size_t n) {
  (void)b, (void)s;
  memset(d, 0, n);
  return ALTO_OK;
}
static alto_status rec_sync_(alto_backend *b) {
  (void)b;
  return ALTO_OK;
}
static alto_status rec_launch_(alto_backend *b, void *fn, const unsigned grid[3], unsigned threads,
                               unsigned smem, void **args) {
  (void)b, (void)fn, (void)grid, (void)threads, (void)smem, (void)args;
  return ALTO_OK;
}
static const alto_backend_i rec_i_ = {"record", rec_alloc_,  rec_free_, rec_memset_, rec_h2d_,
                                      rec_d2h_, rec_sync_,   NULL,      NULL,        NULL,
                                      NULL,     rec_launch_, NULL,      NULL};

typedef struct {
  alto_exec_gpu *e;
  const alto_jit_recorder *rec;
  int next, done, failed;
  alto_status first_error;
  char error[1024];
  FILE *progress;
  pthread_mutex_t mu;
} prep_ctx_;

static void *prep_worker_(void *arg) {
  prep_ctx_ *c = arg;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    int i = c->next++;
    pthread_mutex_unlock(&c->mu);
    if (i >= c->rec->n)
      return NULL;
    alto_cache_origin origin;
    alto_status s = alto_jit_precompile(c->e->real, &c->rec->k[i], &origin);
    pthread_mutex_lock(&c->mu);
    c->done++;
    if (s != ALTO_OK && !c->failed++) {
      c->first_error = s;
      snprintf(c->error, sizeof c->error, "%s", alto_last_error());
    }
    if (c->progress)
      fprintf(c->progress, "\rkernels: %d/%d compiled or found in the cache", c->done, c->rec->n);
    pthread_mutex_unlock(&c->mu);
  }
}

static double now_(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One step (forward, backward, norm, clipping, AdamW) on a backend that launches nothing, with
 * the JIT recording every kernel it would have loaded. */
static alto_status record_(alto_exec_gpu *e, alto_jit_recorder *rec) {
  alto_backend rec_b = *e->real;
  rec_b.i = &rec_i_;
  alto_backend *saved = e->b;
  e->b = &rec_b;
  e->recording = true;
  alto_jit_record(rec);
  alto_status s = run_range_(e, 0, e->p->n_bwd_end, 1);
  if (s == ALTO_OK) {
    alto_adamw_hparams h = {1e-3, 0.9, 0.95, 1e-8, 0.1};
    s = alto_exec_gpu_optimizer_step(e, &h, 1);
  }
  double sq;
  if (s == ALTO_OK)
    s = alto_exec_gpu_grad_sumsq(e, &sq);
  if (s == ALTO_OK)
    s = alto_exec_gpu_scale_grads(e, 1.0f);
  alto_jit_record(NULL);
  e->recording = false;
  e->b = saved;
  for (int i = 0; e->wq_fresh && i < e->p->n_bufs; i++) /* nothing was computed */
    e->wq_fresh[i] = false;
  return s;
}

alto_status alto_exec_gpu_plan_kernels(const alto_model *m, const alto_plan *p, alto_target target,
                                       const char *arch, alto_jit_recorder *out) {
  memset(out, 0, sizeof *out);
  ALTO_TRY(alto_exec_check_plan("gpu", m, p));
  alto_backend rec_b = {&rec_i_, target, "", "record"};
  snprintf(rec_b.arch, sizeof rec_b.arch, "%s", arch);
  alto_exec_gpu *e = alto_xcalloc(1, sizeof *e);
  e->b = e->real = &rec_b;
  e->m = *m;
  e->p = p;
  e->record_only = true;
  e->tokens = alto_exec_gpu_find(e, "tokens");
  e->targets = alto_exec_gpu_find(e, "targets");
  alto_status s = create_(e);
  if (s == ALTO_OK)
    s = record_(e, out);
  alto_exec_gpu_free(e);
  if (s != ALTO_OK)
    alto_jit_recorder_free(out);
  return s;
}

alto_status alto_exec_gpu_prepare(alto_exec_gpu *e, int threads, FILE *progress, int *n_kernels,
                                  double *seconds) {
  double t0 = now_();
  alto_jit_recorder rec = {0};
  alto_status s = record_(e, &rec);
  if (s != ALTO_OK) {
    alto_jit_recorder_free(&rec);
    return s;
  }
  prep_ctx_ c = {.e = e, .rec = &rec, .progress = progress};
  pthread_mutex_init(&c.mu, NULL);
  int nt = threads < 1 ? 1 : threads > 64 ? 64 : threads;
  if (nt > rec.n)
    nt = rec.n > 0 ? rec.n : 1;
  pthread_t th[64];
  for (int i = 0; i < nt; i++)
    pthread_create(&th[i], NULL, prep_worker_, &c);
  for (int i = 0; i < nt; i++)
    pthread_join(th[i], NULL);
  pthread_mutex_destroy(&c.mu);
  if (progress && rec.n)
    fprintf(progress, "\n");
  s = c.failed ? alto_error(c.first_error, "%d of %d kernels failed to compile; the first: %s",
                            c.failed, rec.n, c.error)
               : ALTO_OK;
  for (int i = 0; i < rec.n && s == ALTO_OK;
       i++) { /* load every module now: the first step is warm */
    alto_jit_fn fn;
    s = alto_jit_get(e->real, &rec.k[i], &fn);
  }
  if (n_kernels)
    *n_kernels = rec.n;
  if (seconds)
    *seconds = now_() - t0;
  alto_jit_recorder_free(&rec);
  return s;
}

/* ---- profile ------------------------------------------------------------------------------ */
typedef struct {
  alto_exec_gpu *e;
  int idx;
  alto_status s;
} prof_ctx_;

static void prof_node_(void *arg) {
  prof_ctx_ *c = arg;
  if (c->s == ALTO_OK)
    c->s = run_node_(c->e, c->idx);
}

/* The profile's labelled rows: the index of `key` among the n names, added when new and there is
 * room (cap); -1 when full. */
enum { PROF_KEY = 112 };
static int prof_row_(char (*names)[PROF_KEY], int *n, int cap, const char *key) {
  int k = 0;
  while (k < *n && strcmp(names[k], key))
    k++;
  if (k == *n && *n < cap)
    snprintf(names[(*n)++], PROF_KEY, "%s", key);
  return k < *n ? k : -1;
}

alto_status alto_exec_gpu_profile(alto_exec_gpu *e, int64_t step, FILE *out) {
  if (!e->b->i->time_ms)
    return alto_error(ALTO_ERR_UNSUPPORTED, "the %s backend cannot time kernels", e->b->i->name);
  /* rows: the ops, the GEMM paths, then the FP8 operands' transposes and scale layout changes
   * (timed apart inside their GEMM nodes, whose rows keep the rest) */
  enum { PREP_ROW = ALTO_OP_COUNT + GEMM_PATH_COUNT, ROWS = PREP_ROW + 2 };
  double ms[ROWS] = {0};
  int count[ROWS] = {0};
  e->step = step;
  ALTO_TRY(upload_rht_(e, step));
  double total = 0;
  /* QUANTIZE by role (the node name's last two parts: "dgrad.dY", "fprop.W", ...): time, count
   * and the bytes it moves (input, outputs, the fused partner's outputs, a weight's copy) */
  enum { ROLES = 16 };
  char role[ROLES][PROF_KEY];
  double role_ms[ROLES] = {0}, role_bytes[ROLES] = {0};
  int role_n[ROLES] = {0}, n_roles = 0;
  /* GEMMs by configuration (shape, accumulation, path): time, count */
  enum { CONFIGS = 48 };
  char config[CONFIGS][PROF_KEY];
  double config_ms[CONFIGS] = {0}, config_flop[CONFIGS] = {0};
  int config_n[CONFIGS] = {0}, n_configs = 0;
  e->profiling = true;
  memset(e->prep_ms, 0, sizeof e->prep_ms);
  memset(e->prep_n, 0, sizeof e->prep_n);
  alto_status st = ALTO_OK;
  for (int i = 0; i < e->p->n_bwd_end && st == ALTO_OK; i++) {
    prof_ctx_ c = {e, i, ALTO_OK};
    float t = 0;
    double prep0 = e->prep_ms[0] + e->prep_ms[1];
    st = e->b->i->time_ms(e->b, prof_node_, &c, 1, &t);
    if (st == ALTO_OK)
      st = c.s;
    const alto_node *n = &e->p->nodes[i];
    int row = n->op == ALTO_OP_GEMM ? ALTO_OP_COUNT + e->node_path[i] : (int)n->op;
    double own = t - (e->prep_ms[0] + e->prep_ms[1] - prep0);
    ms[row] += own;
    count[row]++;
    total += t;
    if (n->op == ALTO_OP_GEMM) {
      char key[PROF_KEY];
      snprintf(key, sizeof key, "%lldx%lldx%lld%s %s", (long long)n->shape[0],
               (long long)n->shape[1], (long long)n->shape[2], n->accumulate ? " +=" : "",
               gemm_path_names_[e->node_path[i]]);
      const int k = prof_row_(config, &n_configs, CONFIGS, key);
      if (k >= 0)
        config_ms[k] += own, config_n[k]++,
            config_flop[k] += 2.0 * (double)n->shape[0] * (double)n->shape[1] * (double)n->shape[2];
    }
    if (n->op == ALTO_OP_QUANTIZE && e->fused_into[i] != -2) {
      const char *nm = n->name, *dot = strrchr(nm, '.');
      while (dot && dot > nm && dot[-1] != '.')
        dot--;
      const char *r = dot && dot > nm ? dot : nm;
      const int k = prof_row_(role, &n_roles, ROLES, r);
      if (k >= 0) {
        const int f = e->fused_into[i];
        const alto_node *fn = f >= 0 ? &e->p->nodes[f] : NULL; /* the node fused into this one */
        const alto_node *src = fn && fn->op != ALTO_OP_QUANTIZE ? fn : n; /* reads the input */
        double by = (double)bytes_(e, src->in[0]) + (double)bytes_(e, n->out[0]) +
                    (double)bytes_(e, n->out[1]);
        if (src->op == ALTO_OP_SWIGLU) /* both of its inputs */
          by += (double)bytes_(e, src->in[1]);
        if (fn && fn->op == ALTO_OP_QUANTIZE) /* the second copy's outputs */
          by += (double)bytes_(e, fn->out[0]) + (double)bytes_(e, fn->out[1]);
        if (e->wt_codes[n->out[0]])
          by += (double)bytes_(e, n->out[0]) + (double)bytes_(e, n->out[1]);
        role_ms[k] += t, role_bytes[k] += by, role_n[k]++;
      }
    }
  }
  e->profiling = false;
  ALTO_TRY(st);
  for (int r = 0; r < 2; r++)
    ms[PREP_ROW + r] = e->prep_ms[r], count[PREP_ROW + r] = e->prep_n[r];
  fprintf(out, "per-op breakdown of one forward + backward (device events per node, ms):\n");
  for (int pass = 0; pass < ROWS; pass++) {
    int best = -1; /* largest first */
    for (int r = 0; r < ROWS; r++)
      if (count[r] && (best < 0 || ms[r] > ms[best]))
        best = r;
    if (best < 0)
      break;
    const char *name = best == PREP_ROW        ? "fp8 operand transpose"
                       : best == PREP_ROW + 1  ? "fp8 scales -> MN-major"
                       : best >= ALTO_OP_COUNT ? gemm_path_names_[best - ALTO_OP_COUNT]
                                               : alto_ir_op_name((alto_op)best);
    fprintf(out, "  %-20s %9.3f ms %5.1f%%  x%d\n", name, ms[best],
            total > 0 ? 100.0 * ms[best] / total : 0.0, count[best]);
    count[best] = 0;
  }
  fprintf(out, "  %-20s %9.3f ms\n", "total", total);
  if (n_roles)
    fprintf(out, "QUANTIZE by role (ms, launches, GB/s of input + outputs):\n");
  for (int k = 0; k < n_roles; k++)
    fprintf(out, "  %-20s %9.3f ms  x%-4d %6.0f GB/s\n", role[k], role_ms[k], role_n[k],
            role_ms[k] > 0 ? role_bytes[k] / (role_ms[k] * 1e-3) / 1e9 : 0.0);
  if (n_configs)
    fprintf(out, "GEMMs by configuration (M x N x K, path; ms, launches, TFLOP/s):\n");
  for (int k = 0; k < n_configs; k++)
    fprintf(out, "  %-44s %9.3f ms  x%-4d %6.0f TFLOP/s\n", config[k], config_ms[k], config_n[k],
            config_ms[k] > 0 ? config_flop[k] / (config_ms[k] * 1e-3) / 1e12 : 0.0);
  return ALTO_OK;
}
