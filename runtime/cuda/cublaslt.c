#include "runtime/cuda/cublaslt.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "base/log.h"

/* The cuBLASLt types, enums and entry points we use, declared here (values from CUDA 13.0's
 * cublasLt.h, cublas_api.h and library_types.h; they are ABI and stable since CUDA 12.9) so the
 * build needs no CUDA headers. */
typedef int ltStatus_;                   /* cublasStatus_t, CUBLAS_STATUS_SUCCESS == 0 */
typedef struct ltContext_ *ltHandle_;    /* cublasLtHandle_t */
typedef struct ltOpaque_ *ltMatmulDesc_; /* cublasLtMatmulDesc_t */
typedef struct ltOpaque_ *ltLayout_;     /* cublasLtMatrixLayout_t */
typedef struct ltOpaque_ *ltPref_;       /* cublasLtMatmulPreference_t */
typedef struct ltOpaque_ *ltTransform_;  /* cublasLtMatrixTransformDesc_t */
typedef struct {
  uint64_t data[8];
} ltAlgo_; /* cublasLtMatmulAlgo_t */
typedef struct {
  ltAlgo_ algo;
  size_t workspaceSize;
  ltStatus_ state;
  float wavesCount;
  int reserved[4];
} ltHeuristic_; /* cublasLtMatmulHeuristicResult_t */

enum {
  LT_STATUS_NOT_SUPPORTED_ = 15,
  LT_R_32F_ = 0, /* cudaDataType_t */
  LT_R_16BF_ = 14,
  LT_R_8F_E4M3_ = 28,
  LT_R_8F_E5M2_ = 29,
  LT_COMPUTE_32F_ = 68, /* cublasComputeType_t */
  LT_OP_N_ = 0,         /* cublasOperation_t */
  LT_OP_T_ = 1,
  LT_DESC_POINTER_MODE_ = 2, /* cublasLtMatmulDescAttributes_t */
  LT_DESC_TRANSA_ = 3,
  LT_DESC_TRANSB_ = 4,
  LT_DESC_A_SCALE_POINTER_ = 17,
  LT_DESC_B_SCALE_POINTER_ = 18,
  LT_DESC_A_SCALE_MODE_ = 31,
  LT_DESC_B_SCALE_MODE_ = 32,
  LT_SCALE_VEC128_32F_ = 4, /* cublasLtMatmulMatrixScale_t */
  LT_SCALE_BLK128x128_32F_ = 5,
  LT_PREF_MAX_WORKSPACE_BYTES_ = 1, /* cublasLtMatmulPreferenceAttributes_t */
  LT_PREF_MIN_ALIGNMENT_A_BYTES_ = 5,
  LT_PREF_MIN_ALIGNMENT_B_BYTES_ = 6,
  LT_PREF_MIN_ALIGNMENT_C_BYTES_ = 7,
  LT_PREF_MIN_ALIGNMENT_D_BYTES_ = 8,
  LT_TRANSFORM_SCALE_TYPE_ = 0, /* cublasLtMatrixTransformDescAttributes_t */
  LT_TRANSFORM_TRANSA_ = 2,
};

static const char *const alto_lt_sonames_[] = {"libcublasLt.so.13", "libcublasLt.so.12",
                                               "libcublasLt.so"};

typedef struct {
  ltStatus_ (*Create)(ltHandle_ *);
  ltStatus_ (*Destroy)(ltHandle_);
  const char *(*GetStatusString)(ltStatus_);
  size_t (*GetVersion)(void);
  ltStatus_ (*MatmulDescCreate)(ltMatmulDesc_ *, int, int);
  ltStatus_ (*MatmulDescDestroy)(ltMatmulDesc_);
  ltStatus_ (*MatmulDescSetAttribute)(ltMatmulDesc_, int, const void *, size_t);
  ltStatus_ (*MatrixLayoutCreate)(ltLayout_ *, int, uint64_t, uint64_t, int64_t);
  ltStatus_ (*MatrixLayoutDestroy)(ltLayout_);
  ltStatus_ (*MatmulPreferenceCreate)(ltPref_ *);
  ltStatus_ (*MatmulPreferenceDestroy)(ltPref_);
  ltStatus_ (*MatmulPreferenceSetAttribute)(ltPref_, int, const void *, size_t);
  ltStatus_ (*MatmulAlgoGetHeuristic)(ltHandle_, ltMatmulDesc_, ltLayout_, ltLayout_, ltLayout_,
                                      ltLayout_, ltPref_, int, ltHeuristic_ *, int *);
  ltStatus_ (*Matmul)(ltHandle_, ltMatmulDesc_, const void *, const void *, ltLayout_, const void *,
                      ltLayout_, const void *, const void *, ltLayout_, void *, ltLayout_,
                      const ltAlgo_ *, void *, size_t, void *);
  ltStatus_ (*MatrixTransformDescCreate)(ltTransform_ *, int);
  ltStatus_ (*MatrixTransformDescDestroy)(ltTransform_);
  ltStatus_ (*MatrixTransformDescSetAttribute)(ltTransform_, int, const void *, size_t);
  ltStatus_ (*MatrixTransform)(ltHandle_, ltTransform_, const void *, const void *, ltLayout_,
                               const void *, const void *, ltLayout_, void *, ltLayout_, void *);
} alto_lt_fns_;

/* One cached GEMM configuration: descriptors and the heuristic's algorithm. */
typedef struct {
  int64_t m, n, k;
  int ta, tb, acc;
  int a_type, b_type, c_type; /* alto's A, B, C (cudaDataType_t) */
  int a_mode, b_mode;         /* alto_cublaslt_scale_mode; -1 bf16, -2 per-tensor FP8 */
  int align_a, align_b,
      align_c;   /* pointer alignment in bytes (<= 256): the algorithm depends on it */
  int dev_alpha; /* alpha (and beta) read from device memory (CUBLASLT_POINTER_MODE_DEVICE) */
} alto_lt_key_;

enum { ALTO_LT_CANDIDATES_ = 8 };

typedef struct {
  alto_lt_key_ key;
  ltMatmulDesc_ desc;
  ltLayout_ la, lb, lc; /* cuBLASLt's A (= alto B), B (= alto A), C/D */
  ltAlgo_ algo;         /* the one in use: the heuristic's first, or the tuned choice */
  size_t ws;
  ltAlgo_ cand[ALTO_LT_CANDIDATES_]; /* the heuristic's candidates, best first */
  size_t cand_ws[ALTO_LT_CANDIDATES_];
  int n_cand;
  bool tuned;             /* alto_lt_tune_ ran (on the plan's first call) */
  alto_cuda_ptr alpha;    /* key.dev_alpha: this call's device alpha (set before each run) */
} alto_lt_plan_;

enum { ALTO_LT_MAX_PLANS_ = 256 };

/* The key's scale mode of a per-tensor FP8 GEMM: no scale mode is set on the descriptor (cuBLASLt's
 * default, one fp32 scalar per operand). */
enum { ALTO_LT_MODE_TENSOR_ = -2 };

static struct {
  void *lib;
  alto_status load_status;
  char load_error[1024];
  alto_lt_fns_ f;
  ltHandle_ handle;
  alto_cuda_ptr workspace;
  alto_cuda_ptr scratch; /* converted scales */
  alto_cuda_ptr betas;   /* fp32 {0, 1}: beta on the device for device-alpha plans */
  size_t scratch_bytes;
  alto_lt_plan_ *plans[ALTO_LT_MAX_PLANS_];
  int n_plans;
} alto_lt_;

static pthread_mutex_t alto_lt_mutex_ = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t alto_lt_once_ = PTHREAD_ONCE_INIT;

const char *alto_cublaslt_status_name(int status) {
  switch (status) {
  case 0:
    return "CUBLAS_STATUS_SUCCESS";
  case 1:
    return "CUBLAS_STATUS_NOT_INITIALIZED";
  case 3:
    return "CUBLAS_STATUS_ALLOC_FAILED";
  case 7:
    return "CUBLAS_STATUS_INVALID_VALUE";
  case 8:
    return "CUBLAS_STATUS_ARCH_MISMATCH";
  case 11:
    return "CUBLAS_STATUS_MAPPING_ERROR";
  case 13:
    return "CUBLAS_STATUS_EXECUTION_FAILED";
  case 14:
    return "CUBLAS_STATUS_INTERNAL_ERROR";
  case 15:
    return "CUBLAS_STATUS_NOT_SUPPORTED";
  case 16:
    return "CUBLAS_STATUS_LICENSE_ERROR";
  default:
    return "CUBLAS_STATUS_<unknown>";
  }
}

/* Opens `soname` (or the default list when NULL) and resolves every symbol into *f. On failure
 * writes a message naming the library into err and returns ALTO_ERR_LIBRARY. */
static alto_status alto_lt_open_(const char *soname, void **lib, alto_lt_fns_ *f, char *err,
                                 size_t err_size) {
  const char *const *names = soname ? &soname : alto_lt_sonames_;
  size_t n = soname ? 1 : sizeof alto_lt_sonames_ / sizeof alto_lt_sonames_[0];
  char tried[512] = "";
  const char *opened = NULL;
  *lib = NULL;
  for (size_t i = 0; i < n && !*lib; i++) {
    *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (*lib)
      opened = names[i];
    else {
      strncat(tried, i ? ", " : "", sizeof tried - strlen(tried) - 1);
      strncat(tried, names[i], sizeof tried - strlen(tried) - 1);
    }
  }
  if (!*lib) {
    const char *why = dlerror();
    snprintf(err, err_size,
             "cuBLASLt not found (tried %s: %s); install the CUDA toolkit's cuBLAS (libcublasLt) "
             "or add its lib directory to LD_LIBRARY_PATH",
             tried, why ? why : "not found");
    return ALTO_ERR_LIBRARY;
  }
#define ALTO_LT_SYM_(field, sym)                                                                   \
  do {                                                                                             \
    *(void **)&f->field = dlsym(*lib, sym);                                                        \
    if (!f->field) {                                                                               \
      snprintf(err, err_size, "%s lacks the symbol %s (cuBLASLt from CUDA >= 12.9 is needed)",     \
               opened, sym);                                                                       \
      dlclose(*lib);                                                                               \
      *lib = NULL;                                                                                 \
      return ALTO_ERR_LIBRARY;                                                                     \
    }                                                                                              \
  } while (0)
  ALTO_LT_SYM_(Create, "cublasLtCreate");
  ALTO_LT_SYM_(Destroy, "cublasLtDestroy");
  ALTO_LT_SYM_(GetStatusString, "cublasLtGetStatusString");
  ALTO_LT_SYM_(GetVersion, "cublasLtGetVersion");
  ALTO_LT_SYM_(MatmulDescCreate, "cublasLtMatmulDescCreate");
  ALTO_LT_SYM_(MatmulDescDestroy, "cublasLtMatmulDescDestroy");
  ALTO_LT_SYM_(MatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute");
  ALTO_LT_SYM_(MatrixLayoutCreate, "cublasLtMatrixLayoutCreate");
  ALTO_LT_SYM_(MatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy");
  ALTO_LT_SYM_(MatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate");
  ALTO_LT_SYM_(MatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy");
  ALTO_LT_SYM_(MatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute");
  ALTO_LT_SYM_(MatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic");
  ALTO_LT_SYM_(Matmul, "cublasLtMatmul");
  ALTO_LT_SYM_(MatrixTransformDescCreate, "cublasLtMatrixTransformDescCreate");
  ALTO_LT_SYM_(MatrixTransformDescDestroy, "cublasLtMatrixTransformDescDestroy");
  ALTO_LT_SYM_(MatrixTransformDescSetAttribute, "cublasLtMatrixTransformDescSetAttribute");
  ALTO_LT_SYM_(MatrixTransform, "cublasLtMatrixTransform");
#undef ALTO_LT_SYM_
  return ALTO_OK;
}

static void alto_lt_load_once_(void) {
  alto_lt_.load_status = alto_lt_open_(NULL, &alto_lt_.lib, &alto_lt_.f, alto_lt_.load_error,
                                       sizeof alto_lt_.load_error);
}

alto_status alto_cublaslt_load(void) {
  pthread_once(&alto_lt_once_, alto_lt_load_once_);
  if (alto_lt_.load_status != ALTO_OK)
    return alto_error(alto_lt_.load_status, "%s", alto_lt_.load_error);
  return ALTO_OK;
}

alto_status alto_cublaslt_probe_library(const char *soname) {
  ALTO_ASSERT(soname);
  void *lib;
  alto_lt_fns_ f;
  char err[1024];
  alto_status st = alto_lt_open_(soname, &lib, &f, err, sizeof err);
  if (st != ALTO_OK)
    return alto_error(st, "%s", err);
  dlclose(lib);
  return ALTO_OK;
}

size_t alto_cublaslt_version(void) {
  return alto_lt_.lib && alto_lt_.load_status == ALTO_OK ? alto_lt_.f.GetVersion() : 0;
}

/* "cublasLtMatmul failed: CUBLAS_STATUS_NOT_SUPPORTED (the functionality requested is not
 * supported)"; NOT_SUPPORTED maps to ALTO_ERR_UNSUPPORTED, everything else to ALTO_ERR_DEVICE. */
static alto_status alto_lt_check_(ltStatus_ s, const char *call) {
  if (s == 0)
    return ALTO_OK;
  const char *str = alto_lt_.f.GetStatusString ? alto_lt_.f.GetStatusString(s) : NULL;
  return alto_error(s == LT_STATUS_NOT_SUPPORTED_ ? ALTO_ERR_UNSUPPORTED : ALTO_ERR_DEVICE,
                    "%s failed: %s (%s)", call, alto_cublaslt_status_name(s),
                    str ? str : "no description");
}

alto_status alto_cublaslt_init(void) {
  ALTO_TRY(alto_cublaslt_load());
  pthread_mutex_lock(&alto_lt_mutex_);
  alto_status st = ALTO_OK;
  if (!alto_lt_.handle) {
    st = alto_lt_check_(alto_lt_.f.Create(&alto_lt_.handle), "cublasLtCreate");
    if (st != ALTO_OK)
      alto_lt_.handle = NULL;
  }
  if (st == ALTO_OK && !alto_lt_.betas) {
    const float betas[2] = {0.0f, 1.0f};
    st = alto_cuda_malloc(&alto_lt_.betas, sizeof betas);
    if (st == ALTO_OK)
      st = alto_cuda_h2d(alto_lt_.betas, betas, sizeof betas);
    if (st != ALTO_OK) {
      alto_cuda_free(alto_lt_.betas);
      alto_lt_.betas = 0;
    }
  }
  if (st == ALTO_OK && !alto_lt_.workspace) {
    st = alto_cuda_malloc(&alto_lt_.workspace, ALTO_CUBLASLT_WORKSPACE_BYTES);
    if (st != ALTO_OK) {
      char why[512]; /* alto_error must not read the buffer it writes */
      snprintf(why, sizeof why, "%s", alto_last_error());
      alto_lt_.workspace = 0;
      st = alto_error(st, "cuBLASLt workspace (%u MiB): %s", ALTO_CUBLASLT_WORKSPACE_BYTES >> 20,
                      why);
    }
  }
  pthread_mutex_unlock(&alto_lt_mutex_);
  return st;
}

static void alto_lt_plan_free_(alto_lt_plan_ *p) {
  if (!p)
    return;
  if (p->desc)
    alto_lt_.f.MatmulDescDestroy(p->desc);
  if (p->la)
    alto_lt_.f.MatrixLayoutDestroy(p->la);
  if (p->lb)
    alto_lt_.f.MatrixLayoutDestroy(p->lb);
  if (p->lc)
    alto_lt_.f.MatrixLayoutDestroy(p->lc);
  free(p);
}

void alto_cublaslt_shutdown(void) {
  pthread_mutex_lock(&alto_lt_mutex_);
  for (int i = 0; i < alto_lt_.n_plans; i++)
    alto_lt_plan_free_(alto_lt_.plans[i]);
  alto_lt_.n_plans = 0;
  if (alto_lt_.workspace || alto_lt_.scratch)
    alto_cuda_sync();
  alto_cuda_free(alto_lt_.workspace);
  alto_cuda_free(alto_lt_.scratch);
  alto_cuda_free(alto_lt_.betas);
  alto_lt_.workspace = alto_lt_.scratch = alto_lt_.betas = 0;
  alto_lt_.scratch_bytes = 0;
  if (alto_lt_.handle)
    alto_lt_.f.Destroy(alto_lt_.handle);
  alto_lt_.handle = NULL;
  pthread_mutex_unlock(&alto_lt_mutex_);
}

int alto_cublaslt_cached_plans(void) {
  pthread_mutex_lock(&alto_lt_mutex_);
  int n = alto_lt_.n_plans;
  pthread_mutex_unlock(&alto_lt_mutex_);
  return n;
}

static int alto_lt_key_eq_(const alto_lt_key_ *x, const alto_lt_key_ *y) {
  return x->m == y->m && x->n == y->n && x->k == y->k && x->ta == y->ta && x->tb == y->tb &&
         x->acc == y->acc && x->a_type == y->a_type && x->b_type == y->b_type &&
         x->c_type == y->c_type && x->a_mode == y->a_mode && x->b_mode == y->b_mode &&
         x->align_a == y->align_a && x->align_b == y->align_b && x->align_c == y->align_c &&
         x->dev_alpha == y->dev_alpha;
}

static int alto_lt_scale_enum_(int mode) {
  return mode == ALTO_CUBLASLT_SCALE_1X128 ? LT_SCALE_VEC128_32F_ : LT_SCALE_BLK128x128_32F_;
}

static const char *alto_lt_type_name_(int t) {
  switch (t) {
  case LT_R_32F_:
    return "fp32";
  case LT_R_16BF_:
    return "bf16";
  case LT_R_8F_E4M3_:
    return "e4m3";
  case LT_R_8F_E5M2_:
    return "e5m2";
  default:
    return "?";
  }
}

/* Builds the descriptors of a configuration (the row-major -> column-major mapping of the header)
 * and asks the heuristic for the best algorithm. Caller holds the mutex. */
static alto_status alto_lt_plan_build_(const alto_lt_key_ *key, alto_lt_plan_ **out) {
  alto_lt_plan_ *p = alto_xcalloc(1, sizeof *p);
  p->key = *key;
  alto_status st = ALTO_OK;
  ltPref_ pref = NULL;
  /* cuBLASLt A = alto B: op(B) is N x K. Stored [N, K] row-major = col-major K x N (ld K), op T;
   * trans_b: stored [K, N] = col-major N x K (ld N), op N. */
  int32_t op_a = key->tb ? LT_OP_N_ : LT_OP_T_;
  uint64_t ar = key->tb ? (uint64_t)key->n : (uint64_t)key->k;
  uint64_t ac = key->tb ? (uint64_t)key->k : (uint64_t)key->n;
  /* cuBLASLt B = alto A: op must give K x M. Stored [M, K] = col-major K x M (ld K), op N;
   * trans_a: stored [K, M] = col-major M x K (ld M), op T. */
  int32_t op_b = key->ta ? LT_OP_T_ : LT_OP_N_;
  uint64_t br = key->ta ? (uint64_t)key->m : (uint64_t)key->k;
  uint64_t bc = key->ta ? (uint64_t)key->k : (uint64_t)key->m;
#define ALTO_LT_STEP_(expr, call)                                                                  \
  do {                                                                                             \
    if (st == ALTO_OK)                                                                             \
      st = alto_lt_check_((expr), call);                                                           \
  } while (0)
  ALTO_LT_STEP_(alto_lt_.f.MatmulDescCreate(&p->desc, LT_COMPUTE_32F_, LT_R_32F_),
                "cublasLtMatmulDescCreate");
  ALTO_LT_STEP_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_TRANSA_, &op_a, sizeof op_a),
                "cublasLtMatmulDescSetAttribute(TRANSA)");
  ALTO_LT_STEP_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_TRANSB_, &op_b, sizeof op_b),
                "cublasLtMatmulDescSetAttribute(TRANSB)");
  if (key->dev_alpha) {
    int32_t mode = 1; /* CUBLASLT_POINTER_MODE_DEVICE */
    ALTO_LT_STEP_(
        alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_POINTER_MODE_, &mode, sizeof mode),
        "cublasLtMatmulDescSetAttribute(POINTER_MODE)");
  }
  if (key->a_mode >= 0) {
    int32_t lt_a_mode = alto_lt_scale_enum_(key->b_mode); /* cuBLASLt A = alto B */
    int32_t lt_b_mode = alto_lt_scale_enum_(key->a_mode);
    ALTO_LT_STEP_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_A_SCALE_MODE_, &lt_a_mode,
                                                    sizeof lt_a_mode),
                  "cublasLtMatmulDescSetAttribute(A_SCALE_MODE)");
    ALTO_LT_STEP_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_B_SCALE_MODE_, &lt_b_mode,
                                                    sizeof lt_b_mode),
                  "cublasLtMatmulDescSetAttribute(B_SCALE_MODE)");
  }
  if (key->a_mode >= 0 || key->a_mode == ALTO_LT_MODE_TENSOR_) {
    /* The heuristic wants the scale pointers set (block scaling is refused with INVALID_VALUE
     * otherwise; per-tensor scaling gets an algorithm without scales that cublasLtMatmul then
     * refuses with NOT_SUPPORTED): any device address serves here; each call sets the real
     * ones. */
    void *placeholder = (void *)(uintptr_t)alto_lt_.workspace;
    ALTO_LT_STEP_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_A_SCALE_POINTER_, &placeholder,
                                                    sizeof placeholder),
                  "cublasLtMatmulDescSetAttribute(A_SCALE_POINTER)");
    ALTO_LT_STEP_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_B_SCALE_POINTER_, &placeholder,
                                                    sizeof placeholder),
                  "cublasLtMatmulDescSetAttribute(B_SCALE_POINTER)");
  }
  ALTO_LT_STEP_(alto_lt_.f.MatrixLayoutCreate(&p->la, key->b_type, ar, ac, (int64_t)ar),
                "cublasLtMatrixLayoutCreate(A)");
  ALTO_LT_STEP_(alto_lt_.f.MatrixLayoutCreate(&p->lb, key->a_type, br, bc, (int64_t)br),
                "cublasLtMatrixLayoutCreate(B)");
  ALTO_LT_STEP_(alto_lt_.f.MatrixLayoutCreate(&p->lc, key->c_type, (uint64_t)key->n,
                                              (uint64_t)key->m, key->n),
                "cublasLtMatrixLayoutCreate(C)");
  ALTO_LT_STEP_(alto_lt_.f.MatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  uint64_t ws = ALTO_CUBLASLT_WORKSPACE_BYTES;
  ALTO_LT_STEP_(
      alto_lt_.f.MatmulPreferenceSetAttribute(pref, LT_PREF_MAX_WORKSPACE_BYTES_, &ws, sizeof ws),
      "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
  /* The heuristic assumes 256-byte aligned pointers unless told (cuBLASLt A = alto B). */
  uint32_t al_a = (uint32_t)key->align_b, al_b = (uint32_t)key->align_a,
           al_c = (uint32_t)key->align_c;
  ALTO_LT_STEP_(alto_lt_.f.MatmulPreferenceSetAttribute(pref, LT_PREF_MIN_ALIGNMENT_A_BYTES_, &al_a,
                                                        sizeof al_a),
                "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_A_BYTES)");
  ALTO_LT_STEP_(alto_lt_.f.MatmulPreferenceSetAttribute(pref, LT_PREF_MIN_ALIGNMENT_B_BYTES_, &al_b,
                                                        sizeof al_b),
                "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_B_BYTES)");
  ALTO_LT_STEP_(alto_lt_.f.MatmulPreferenceSetAttribute(pref, LT_PREF_MIN_ALIGNMENT_C_BYTES_, &al_c,
                                                        sizeof al_c),
                "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_C_BYTES)");
  ALTO_LT_STEP_(alto_lt_.f.MatmulPreferenceSetAttribute(pref, LT_PREF_MIN_ALIGNMENT_D_BYTES_, &al_c,
                                                        sizeof al_c),
                "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_D_BYTES)");
  ltHeuristic_ hs[ALTO_LT_CANDIDATES_];
  int found = 0;
  memset(hs, 0, sizeof hs);
  ALTO_LT_STEP_(alto_lt_.f.MatmulAlgoGetHeuristic(alto_lt_.handle, p->desc, p->la, p->lb, p->lc,
                                                  p->lc, pref, ALTO_LT_CANDIDATES_, hs, &found),
                "cublasLtMatmulAlgoGetHeuristic");
  const ltHeuristic_ h = hs[0];
#undef ALTO_LT_STEP_
  if (pref)
    alto_lt_.f.MatmulPreferenceDestroy(pref);
  if (st == ALTO_OK && (found < 1 || h.state != 0))
    st = alto_error(ALTO_ERR_UNSUPPORTED, "cublasLtMatmulAlgoGetHeuristic found no algorithm (%s)",
                    found < 1 ? "none returned" : alto_cublaslt_status_name(h.state));
  if (st != ALTO_OK) {
    char why[512]; /* alto_error must not read the buffer it writes */
    snprintf(why, sizeof why, "%s", alto_last_error());
    alto_lt_plan_free_(p);
    return alto_error(
        st, "cuBLASLt GEMM M=%lld N=%lld K=%lld trans_a=%d trans_b=%d A %s B %s C %s%s: %s",
        (long long)key->m, (long long)key->n, (long long)key->k, key->ta, key->tb,
        alto_lt_type_name_(key->a_type), alto_lt_type_name_(key->b_type),
        alto_lt_type_name_(key->c_type),
        key->a_mode == ALTO_LT_MODE_TENSOR_ ? " (per-tensor scales)"
        : key->a_mode < 0                   ? ""
        : key->a_mode == ALTO_CUBLASLT_SCALE_128X128 && key->b_mode == ALTO_CUBLASLT_SCALE_128X128
            ? " (128x128 x 128x128)"
        : key->a_mode == ALTO_CUBLASLT_SCALE_1X128 && key->b_mode == ALTO_CUBLASLT_SCALE_1X128
            ? " (1x128 x 1x128)"
        : key->a_mode == ALTO_CUBLASLT_SCALE_1X128 ? " (1x128 x 128x128)"
                                                   : " (128x128 x 1x128)",
        why);
  }
  p->algo = h.algo;
  p->ws = h.workspaceSize;
  for (int i = 0; i < found && i < ALTO_LT_CANDIDATES_; i++)
    if (hs[i].state == 0 && hs[i].workspaceSize <= ALTO_CUBLASLT_WORKSPACE_BYTES) {
      p->cand[p->n_cand] = hs[i].algo;
      p->cand_ws[p->n_cand++] = hs[i].workspaceSize;
    }
  *out = p;
  return ALTO_OK;
}

/* The cached plan for key, built on first use. Caller holds the mutex. */
static alto_status alto_lt_plan_get_(const alto_lt_key_ *key, alto_lt_plan_ **out) {
  for (int i = 0; i < alto_lt_.n_plans; i++)
    if (alto_lt_key_eq_(&alto_lt_.plans[i]->key, key)) {
      *out = alto_lt_.plans[i];
      return ALTO_OK;
    }
  ALTO_TRY(alto_lt_plan_build_(key, out));
  if (alto_lt_.n_plans == ALTO_LT_MAX_PLANS_) { /* full: drop the oldest */
    alto_lt_plan_free_(alto_lt_.plans[0]);
    memmove(alto_lt_.plans, alto_lt_.plans + 1,
            sizeof alto_lt_.plans[0] * (ALTO_LT_MAX_PLANS_ - 1));
    alto_lt_.n_plans--;
  }
  alto_lt_.plans[alto_lt_.n_plans++] = *out;
  return ALTO_OK;
}

static alto_status alto_lt_ready_(void) {
  if (!alto_lt_.handle || !alto_lt_.workspace)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt is not initialized: call alto_cublaslt_init() after "
                      "alto_cuda_init() (or alto_backend_open(\"cuda\"))");
  return ALTO_OK;
}

/* Sets the scale pointers of an FP8 plan (alto's A and B scales; cuBLASLt's A is alto's B, the
 * header's C^T = B A^T) and runs it. Caller holds the mutex. */
static alto_status alto_lt_run_(alto_lt_plan_ *p, alto_cuda_ptr c, alto_cuda_ptr a,
                                alto_cuda_ptr b);
static alto_status alto_lt_run_scaled_(alto_lt_plan_ *p, alto_cuda_ptr c, alto_cuda_ptr a,
                                       alto_cuda_ptr a_scales, alto_cuda_ptr b,
                                       alto_cuda_ptr b_scales) {
  void *lt_a_scale = (void *)(uintptr_t)b_scales, *lt_b_scale = (void *)(uintptr_t)a_scales;
  ALTO_TRY(alto_lt_check_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_A_SCALE_POINTER_,
                                                            &lt_a_scale, sizeof lt_a_scale),
                          "cublasLtMatmulDescSetAttribute(A_SCALE_POINTER)"));
  ALTO_TRY(alto_lt_check_(alto_lt_.f.MatmulDescSetAttribute(p->desc, LT_DESC_B_SCALE_POINTER_,
                                                            &lt_b_scale, sizeof lt_b_scale),
                          "cublasLtMatmulDescSetAttribute(B_SCALE_POINTER)"));
  return alto_lt_run_(p, c, a, b);
}

/* Runs a plan with algorithm `algo` (workspace ws). */
static alto_status alto_lt_run_algo_(alto_lt_plan_ *p, const ltAlgo_ *algo, size_t ws,
                                     alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b) {
  float alpha = 1.0f, beta = p->key.acc ? 1.0f : 0.0f;
  const void *alpha_p = &alpha, *beta_p = &beta;
  if (p->key.dev_alpha) {
    alpha_p = (const void *)(uintptr_t)p->alpha;
    beta_p = (const void *)(uintptr_t)(alto_lt_.betas + (p->key.acc ? sizeof(float) : 0));
  }
  void *cp = (void *)(uintptr_t)c;
  return alto_lt_check_(
      alto_lt_.f.Matmul(alto_lt_.handle, p->desc, alpha_p, (const void *)(uintptr_t)b, p->la,
                        (const void *)(uintptr_t)a, p->lb, beta_p, cp, p->lc, cp, p->lc, algo,
                        (void *)(uintptr_t)alto_lt_.workspace, ws, NULL),
      "cublasLtMatmul");
}

typedef struct {
  alto_lt_plan_ *p;
  int i;
  alto_cuda_ptr c, a, b;
  alto_status st;
} alto_lt_trial_;

static void alto_lt_trial_run_(void *arg) {
  alto_lt_trial_ *t = arg;
  if (t->st == ALTO_OK)
    t->st = alto_lt_run_algo_(t->p, &t->p->cand[t->i], t->p->cand_ws[t->i], t->c, t->a, t->b);
}

static size_t alto_lt_type_bytes_(int t) {
  return t == LT_R_32F_ ? 4 : t == LT_R_16BF_ ? 2 : 1;
}

static int alto_lt_cmp_float_(const void *x, const void *y) {
  float a = *(const float *)x, b = *(const float *)y;
  return (a > b) - (a < b);
}

/* On a plan's first call (ALTO_CUBLASLT_TUNE): each candidate runs on the call's operands into a
 * scratch C (a copy of C when accumulating); those whose output has exactly the first candidate's
 * bits are timed in interleaved rounds (2 calls per candidate per round, 7 rounds, so that clock
 * drift hits them alike), and the one with the lowest median is kept if it beats the first
 * candidate's median by more than 3%. The results therefore do not depend on the timing (a resumed
 * run in another process gets the same bits); algorithms that sum in another order (split-K) are
 * left out by the comparison. Any failure (memory, a candidate refusing the call) keeps the
 * heuristic's first choice. Caller holds the mutex. */
static void alto_lt_tune_(alto_lt_plan_ *p, alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b) {
  enum { ROUNDS = 7, CALLS = 2 };
  p->tuned = true;
  if (p->n_cand < 2 || !alto_env_get_bool(ALTO_ENV_CUBLASLT_TUNE))
    return;
  const size_t bytes = (size_t)p->key.m * (size_t)p->key.n * alto_lt_type_bytes_(p->key.c_type);
  alto_cuda_ptr tmp = 0;
  void *ref = malloc(bytes), *got = malloc(bytes);
  alto_status st = ref && got ? alto_cuda_malloc(&tmp, bytes) : ALTO_ERR_NOMEM;
  int ok[ALTO_LT_CANDIDATES_], n_ok = 0; /* candidates with the first one's bits */
  for (int i = 0; i < p->n_cand && st == ALTO_OK; i++) {
    alto_lt_trial_ t = {p, i, tmp, a, b, ALTO_OK};
    alto_status s = p->key.acc ? alto_cuda_d2d(tmp, c, bytes) : ALTO_OK;
    if (s == ALTO_OK) {
      alto_lt_trial_run_(&t);
      s = t.st;
    }
    if (s == ALTO_OK)
      s = alto_cuda_d2h(i ? got : ref, tmp, bytes);
    if (!i && s != ALTO_OK)
      st = s;
    else if (s == ALTO_OK && (!i || memcmp(ref, got, bytes) == 0))
      ok[n_ok++] = i;
  }
  float ms[ALTO_LT_CANDIDATES_][ROUNDS];
  for (int r = 0; r < ROUNDS && st == ALTO_OK && n_ok > 1; r++)
    for (int j = 0; j < n_ok && st == ALTO_OK; j++) {
      alto_lt_trial_ t = {p, ok[j], tmp, a, b, ALTO_OK};
      st = alto_cuda_time_ms(alto_lt_trial_run_, &t, CALLS, &ms[j][r]);
      if (st == ALTO_OK)
        st = t.st;
    }
  int best = 0;
  float med[ALTO_LT_CANDIDATES_] = {0};
  for (int j = 0; j < n_ok && st == ALTO_OK && n_ok > 1; j++) {
    qsort(ms[j], ROUNDS, sizeof ms[j][0], alto_lt_cmp_float_);
    med[j] = ms[j][ROUNDS / 2] / CALLS;
    if (med[j] < 0.97f * med[0] && med[j] < med[best])
      best = j;
  }
  if (tmp)
    alto_cuda_free(tmp);
  free(ref);
  free(got);
  alto_error_clear();
  if (st == ALTO_OK && best) {
    p->algo = p->cand[ok[best]];
    p->ws = p->cand_ws[ok[best]];
  }
  alto_log_debug("cuBLASLt M=%lld N=%lld K=%lld: %d of %d candidates give the first one's bits; "
                 "candidate %d kept (%.4f ms, the first %.4f ms)",
                 (long long)p->key.m, (long long)p->key.n, (long long)p->key.k, n_ok, p->n_cand,
                 best ? ok[best] : 0, med[best], med[0]);
}

/* Runs a plan (tuning it on its first call). Caller holds the mutex. */
static alto_status alto_lt_run_(alto_lt_plan_ *p, alto_cuda_ptr c, alto_cuda_ptr a,
                                alto_cuda_ptr b) {
  if (!p->tuned)
    alto_lt_tune_(p, c, a, b);
  return alto_lt_run_algo_(p, &p->algo, p->ws, c, a, b);
}

/* The largest power of two <= 256 dividing the address. */
static int alto_lt_align_(alto_cuda_ptr p) {
  int a = 256;
  while (a > 1 && p % (alto_cuda_ptr)a)
    a /= 2;
  return a;
}

static alto_status alto_lt_check_dims_(int64_t m, int64_t n, int64_t k) {
  if (m < 1 || n < 1 || k < 1 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt GEMM: M=%lld N=%lld K=%lld: every dim must be in [1, 2^31)",
                      (long long)m, (long long)n, (long long)k);
  return ALTO_OK;
}

/* bf16 x bf16 or fp32 x fp32 (in_type: LT_R_16BF_ or LT_R_32F_); the fp32 case runs
 * CUBLAS_COMPUTE_32F, which never uses TF32. */
static alto_status alto_lt_gemm_dense_(const char *fn, int in_type, alto_cuda_ptr c,
                                       alto_cuda_ptr a, alto_cuda_ptr b, int64_t m, int64_t n,
                                       int64_t k, bool trans_a, bool trans_b, bool accumulate,
                                       alto_dtype out_dtype, alto_cuda_ptr alpha) {
  ALTO_TRY(alto_lt_ready_());
  ALTO_TRY(alto_lt_check_dims_(m, n, k));
  if (out_dtype != ALTO_DT_BF16 && out_dtype != ALTO_DT_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: output dtype %s: use bf16 or f32", fn,
                      alto_ir_dtype_name(out_dtype));
  alto_lt_key_ key = {m,
                      n,
                      k,
                      trans_a,
                      trans_b,
                      accumulate,
                      in_type,
                      in_type,
                      out_dtype == ALTO_DT_BF16 ? LT_R_16BF_ : LT_R_32F_,
                      -1,
                      -1,
                      alto_lt_align_(a),
                      alto_lt_align_(b),
                      alto_lt_align_(c),
                      alpha != 0};
  pthread_mutex_lock(&alto_lt_mutex_);
  alto_lt_plan_ *p;
  alto_status st = alto_lt_plan_get_(&key, &p);
  if (st == ALTO_OK) {
    p->alpha = alpha;
    st = alto_lt_run_(p, c, a, b);
  }
  pthread_mutex_unlock(&alto_lt_mutex_);
  return st;
}

alto_status alto_cublaslt_gemm_bf16(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b, int64_t m,
                                    int64_t n, int64_t k, bool trans_a, bool trans_b,
                                    bool accumulate, alto_dtype out_dtype) {
  return alto_lt_gemm_dense_("alto_cublaslt_gemm_bf16", LT_R_16BF_, c, a, b, m, n, k, trans_a,
                             trans_b, accumulate, out_dtype, 0);
}

alto_status alto_cublaslt_gemm_bf16_alpha(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b,
                                          int64_t m, int64_t n, int64_t k, bool trans_a,
                                          bool trans_b, bool accumulate, alto_dtype out_dtype,
                                          alto_cuda_ptr alpha) {
  if (!alpha)
    return alto_error(ALTO_ERR_INVALID_ARG, "alto_cublaslt_gemm_bf16_alpha: no device alpha");
  return alto_lt_gemm_dense_("alto_cublaslt_gemm_bf16_alpha", LT_R_16BF_, c, a, b, m, n, k,
                             trans_a, trans_b, accumulate, out_dtype, alpha);
}

alto_status alto_cublaslt_gemm_f32(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr b, int64_t m,
                                   int64_t n, int64_t k, bool trans_a, bool trans_b,
                                   bool accumulate, alto_dtype out_dtype) {
  return alto_lt_gemm_dense_("alto_cublaslt_gemm_f32", LT_R_32F_, c, a, b, m, n, k, trans_a,
                             trans_b, accumulate, out_dtype, 0);
}

/* ---- FP8 block scaling -------------------------------------------------------------------- */

static int64_t alto_lt_round4_(int64_t x) {
  return (x + 3) / 4 * 4;
}

size_t alto_cublaslt_scale_bytes(alto_cublaslt_scale_mode mode, int64_t rows, int64_t k) {
  int64_t kb = k / 128;
  if (mode == ALTO_CUBLASLT_SCALE_1X128)
    return (size_t)(kb * alto_lt_round4_(rows)) * 4;
  return (size_t)(((rows + 127) / 128) * alto_lt_round4_(kb)) * 4;
}

/* True when alto's layout already is cuBLASLt's (no conversion needed). */
static bool alto_lt_scales_same_(alto_cublaslt_scale_mode mode, int64_t rows, int64_t k) {
  int64_t kb = k / 128;
  if (mode == ALTO_CUBLASLT_SCALE_1X128)
    return kb == 1 && rows % 4 == 0;
  return kb % 4 == 0;
}

/* The conversion with cublasLtMatrixTransform (C = alpha op(A), beta = 0, no B). Caller holds the
 * mutex. Column-major views: alto 1x128 [R, Kb] row-major = Kb x R (ld Kb) -> transposed into
 * R x Kb (ld R4) = [Kb, R4] row-major; alto 128x128 [Rb, Kb] = Kb x Rb (ld Kb) -> copied into
 * Kb x Rb (ld Kb4) = [Rb, Kb4] row-major. */
static alto_status alto_lt_convert_locked_(alto_cuda_ptr dst, alto_cuda_ptr src,
                                           alto_cublaslt_scale_mode mode, int64_t rows, int64_t k) {
  int64_t kb = k / 128, rb = (rows + 127) / 128;
  int one_d = mode == ALTO_CUBLASLT_SCALE_1X128;
  uint64_t src_r = (uint64_t)kb, src_c = (uint64_t)(one_d ? rows : rb);
  uint64_t dst_r = one_d ? (uint64_t)rows : (uint64_t)kb;
  uint64_t dst_c = one_d ? (uint64_t)kb : (uint64_t)rb;
  int64_t dst_ld = one_d ? alto_lt_round4_(rows) : alto_lt_round4_(kb);
  int32_t op = one_d ? LT_OP_T_ : LT_OP_N_;
  int32_t scale_type = LT_R_32F_;
  ltTransform_ td = NULL;
  ltLayout_ ls = NULL, ld = NULL;
  alto_status st = alto_lt_check_(alto_lt_.f.MatrixTransformDescCreate(&td, LT_R_32F_),
                                  "cublasLtMatrixTransformDescCreate");
  if (st == ALTO_OK)
    st = alto_lt_check_(alto_lt_.f.MatrixTransformDescSetAttribute(td, LT_TRANSFORM_SCALE_TYPE_,
                                                                   &scale_type, sizeof scale_type),
                        "cublasLtMatrixTransformDescSetAttribute(SCALE_TYPE)");
  if (st == ALTO_OK)
    st = alto_lt_check_(
        alto_lt_.f.MatrixTransformDescSetAttribute(td, LT_TRANSFORM_TRANSA_, &op, sizeof op),
        "cublasLtMatrixTransformDescSetAttribute(TRANSA)");
  if (st == ALTO_OK)
    st = alto_lt_check_(alto_lt_.f.MatrixLayoutCreate(&ls, LT_R_32F_, src_r, src_c, kb),
                        "cublasLtMatrixLayoutCreate(scales in)");
  if (st == ALTO_OK)
    st = alto_lt_check_(alto_lt_.f.MatrixLayoutCreate(&ld, LT_R_32F_, dst_r, dst_c, dst_ld),
                        "cublasLtMatrixLayoutCreate(scales out)");
  float alpha = 1.0f, beta = 0.0f;
  if (st == ALTO_OK)
    st = alto_lt_check_(alto_lt_.f.MatrixTransform(alto_lt_.handle, td, &alpha,
                                                   (const void *)(uintptr_t)src, ls, &beta, NULL,
                                                   NULL, (void *)(uintptr_t)dst, ld, NULL),
                        "cublasLtMatrixTransform(scales)");
  if (ls)
    alto_lt_.f.MatrixLayoutDestroy(ls);
  if (ld)
    alto_lt_.f.MatrixLayoutDestroy(ld);
  if (td)
    alto_lt_.f.MatrixTransformDescDestroy(td);
  return st;
}

static alto_status alto_lt_check_k_(int64_t rows, int64_t k) {
  if (rows < 1 || k < 128 || k % 128)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt FP8 block scaling: [%lld, %lld]: K must be a positive multiple of "
                      "128 (one scale per 128-deep block) and rows >= 1",
                      (long long)rows, (long long)k);
  return ALTO_OK;
}

alto_status alto_cublaslt_convert_scales(alto_cuda_ptr dst, alto_cuda_ptr src,
                                         alto_cublaslt_scale_mode mode, int64_t rows, int64_t k) {
  ALTO_TRY(alto_lt_ready_());
  ALTO_TRY(alto_lt_check_k_(rows, k));
  pthread_mutex_lock(&alto_lt_mutex_);
  alto_status st = alto_lt_convert_locked_(dst, src, mode, rows, k);
  pthread_mutex_unlock(&alto_lt_mutex_);
  return st;
}

/* Grows the scale scratch to `bytes` (zero-filled, so padding lanes hold 0, never NaN). Caller
 * holds the mutex. */
static alto_status alto_lt_scratch_(size_t bytes) {
  if (bytes <= alto_lt_.scratch_bytes)
    return ALTO_OK;
  if (alto_lt_.scratch) {
    ALTO_TRY(alto_cuda_sync()); /* in-flight GEMMs may still read the old scales */
    alto_cuda_free(alto_lt_.scratch);
    alto_lt_.scratch = 0;
    alto_lt_.scratch_bytes = 0;
  }
  size_t want = bytes < (1u << 20) ? (1u << 20) : bytes;
  ALTO_TRY(alto_cuda_malloc(&alto_lt_.scratch, want));
  alto_status st = alto_cuda_memset(alto_lt_.scratch, 0, want);
  if (st != ALTO_OK)
    return st;
  alto_lt_.scratch_bytes = want;
  return ALTO_OK;
}

static alto_status alto_lt_check_operand_(const alto_cublaslt_fp8_operand *o, const char *which) {
  if (!o || !o->codes || !o->scales)
    return alto_error(ALTO_ERR_INVALID_ARG, "cuBLASLt FP8 GEMM: operand %s needs codes and scales",
                      which);
  if (o->elem != ALTO_DT_FP8_E4M3 && o->elem != ALTO_DT_FP8_E5M2)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt FP8 GEMM: operand %s has element dtype %s: use fp8_e4m3 or "
                      "fp8_e5m2",
                      which, alto_ir_dtype_name(o->elem));
  if (o->mode != ALTO_CUBLASLT_SCALE_1X128 && o->mode != ALTO_CUBLASLT_SCALE_128X128)
    return alto_error(ALTO_ERR_INVALID_ARG, "cuBLASLt FP8 GEMM: operand %s: unknown scale mode %d",
                      which, (int)o->mode);
  return ALTO_OK;
}

alto_status alto_cublaslt_gemm_fp8_block(alto_cuda_ptr c, const alto_cublaslt_fp8_operand *a,
                                         const alto_cublaslt_fp8_operand *b, int64_t m, int64_t n,
                                         int64_t k, bool accumulate, alto_dtype out_dtype) {
  ALTO_TRY(alto_lt_ready_());
  ALTO_TRY(alto_lt_check_dims_(m, n, k));
  ALTO_TRY(alto_lt_check_operand_(a, "A"));
  ALTO_TRY(alto_lt_check_operand_(b, "B"));
  ALTO_TRY(alto_lt_check_k_(m, k));
  if (n % 16)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt FP8 GEMM: N=%lld must be a multiple of 16 (16-byte rows of B "
                      "and C)",
                      (long long)n);
  if (a->mode == ALTO_CUBLASLT_SCALE_128X128 && b->mode == ALTO_CUBLASLT_SCALE_128X128)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "cuBLASLt FP8 GEMM: 128x128 x 128x128 block scaling is not supported by "
                      "cuBLASLt on Hopper; quantize one operand 1x128 along K");
  if (out_dtype != ALTO_DT_BF16 && out_dtype != ALTO_DT_F32)
    return alto_error(ALTO_ERR_INVALID_ARG, "cuBLASLt FP8 GEMM: output dtype %s: use bf16 (or f32)",
                      alto_ir_dtype_name(out_dtype));
  alto_lt_key_ key = {m,
                      n,
                      k,
                      0,
                      0,
                      accumulate,
                      a->elem == ALTO_DT_FP8_E4M3 ? LT_R_8F_E4M3_ : LT_R_8F_E5M2_,
                      b->elem == ALTO_DT_FP8_E4M3 ? LT_R_8F_E4M3_ : LT_R_8F_E5M2_,
                      out_dtype == ALTO_DT_BF16 ? LT_R_16BF_ : LT_R_32F_,
                      (int)a->mode,
                      (int)b->mode,
                      alto_lt_align_(a->codes),
                      alto_lt_align_(b->codes),
                      alto_lt_align_(c),
                      0};
  pthread_mutex_lock(&alto_lt_mutex_);
  alto_lt_plan_ *p = NULL;
  alto_status st = alto_lt_plan_get_(&key, &p);
  /* Scales in cuBLASLt's layout: as given, or converted into the scratch. */
  alto_cuda_ptr sa = a->scales, sb = b->scales;
  bool conv_a = !a->scales_lt && !alto_lt_scales_same_(a->mode, m, k);
  bool conv_b = !b->scales_lt && !alto_lt_scales_same_(b->mode, n, k);
  size_t bytes_a = (alto_cublaslt_scale_bytes(a->mode, m, k) + 255) / 256 * 256;
  size_t bytes_b = alto_cublaslt_scale_bytes(b->mode, n, k);
  if (st == ALTO_OK && (conv_a || conv_b))
    st = alto_lt_scratch_(bytes_a + bytes_b);
  if (st == ALTO_OK && conv_a) {
    sa = alto_lt_.scratch;
    st = alto_lt_convert_locked_(sa, a->scales, a->mode, m, k);
  }
  if (st == ALTO_OK && conv_b) {
    sb = alto_lt_.scratch + bytes_a;
    st = alto_lt_convert_locked_(sb, b->scales, b->mode, n, k);
  }
  if (st == ALTO_OK)
    st = alto_lt_run_scaled_(p, c, a->codes, sa, b->codes, sb);
  pthread_mutex_unlock(&alto_lt_mutex_);
  return st;
}

alto_status alto_cublaslt_gemm_fp8_tensor(alto_cuda_ptr c, alto_cuda_ptr a, alto_cuda_ptr a_scale,
                                          alto_cuda_ptr b, alto_cuda_ptr b_scale, int64_t m,
                                          int64_t n, int64_t k, bool accumulate,
                                          alto_dtype out_dtype) {
  ALTO_TRY(alto_lt_ready_());
  ALTO_TRY(alto_lt_check_dims_(m, n, k));
  if (!a || !b || !a_scale || !b_scale)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt per-tensor FP8 GEMM: A, B and both scales are needed");
  if (a_scale % 16 || b_scale % 16)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt per-tensor FP8 GEMM: the scale pointers must be 16-byte aligned "
                      "(cuBLASLt refuses others with NOT_SUPPORTED)");
  if (k % 16 || n % 16)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt per-tensor FP8 GEMM: N=%lld and K=%lld must be multiples of 16 "
                      "(16-byte rows of the FP8 operands)",
                      (long long)n, (long long)k);
  if (out_dtype != ALTO_DT_BF16 && out_dtype != ALTO_DT_F32)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "cuBLASLt per-tensor FP8 GEMM: output dtype %s: use bf16 or f32",
                      alto_ir_dtype_name(out_dtype));
  alto_lt_key_ key = {m,
                      n,
                      k,
                      0,
                      0,
                      accumulate,
                      LT_R_8F_E4M3_,
                      LT_R_8F_E4M3_,
                      out_dtype == ALTO_DT_BF16 ? LT_R_16BF_ : LT_R_32F_,
                      ALTO_LT_MODE_TENSOR_,
                      ALTO_LT_MODE_TENSOR_,
                      alto_lt_align_(a),
                      alto_lt_align_(b),
                      alto_lt_align_(c),
                      0};
  pthread_mutex_lock(&alto_lt_mutex_);
  alto_lt_plan_ *p = NULL;
  alto_status st = alto_lt_plan_get_(&key, &p);
  if (st == ALTO_OK)
    st = alto_lt_run_scaled_(p, c, a, a_scale, b, b_scale);
  pthread_mutex_unlock(&alto_lt_mutex_);
  return st;
}
