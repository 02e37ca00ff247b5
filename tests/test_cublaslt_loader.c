/* The cuBLASLt loader without a GPU: a missing library gives ALTO_ERR_LIBRARY with a message that
 * names it, status names, scale layout sizes, and the "not initialized" error. The GEMMs
 * themselves are in test_cublaslt.c (GPU). */
#include <string.h>

#include "runtime/cuda/cublaslt.h"
#include "tests/harness.h"

static void test_missing_library(void) {
  const char *bogus = "libcublasLt_alto_missing.so.99";
  alto_status st = alto_cublaslt_probe_library(bogus);
  CHECK(st == ALTO_ERR_LIBRARY);
  const char *msg = alto_last_error();
  CHECKF(strstr(msg, bogus) != NULL, "message does not name the library: %s", msg);
  CHECKF(strstr(msg, "cuBLASLt") != NULL, "message does not say cuBLASLt: %s", msg);
  CHECKF(strstr(msg, "LD_LIBRARY_PATH") != NULL, "message does not say what to fix: %s", msg);
}

/* A library that exists but is not cuBLASLt: the missing symbol is named. */
static void test_wrong_library(void) {
  alto_status st = alto_cublaslt_probe_library("libm.so.6");
  CHECK(st == ALTO_ERR_LIBRARY);
  const char *msg = alto_last_error();
  CHECKF(strstr(msg, "libm.so.6") != NULL && strstr(msg, "cublasLtCreate") != NULL,
         "message should name the library and the symbol: %s", msg);
}

/* The real library, when installed here: it loads and has every symbol; its version is sane. */
static void test_real_library(void) {
  alto_status st = alto_cublaslt_load();
  if (st != ALTO_OK) {
    CHECK(st == ALTO_ERR_LIBRARY);
    CHECKF(strstr(alto_last_error(), "libcublasLt") != NULL, "%s", alto_last_error());
    fprintf(stderr, "     (libcublasLt not installed here: %s)\n", alto_last_error());
    return;
  }
  size_t v = alto_cublaslt_version();
  CHECKF(v >= 120000, "cublasLtGetVersion() = %zu", v);
  fprintf(stderr, "     (libcublasLt %zu loaded)\n", v);
}

static void test_status_names(void) {
  CHECK(strcmp(alto_cublaslt_status_name(0), "CUBLAS_STATUS_SUCCESS") == 0);
  CHECK(strcmp(alto_cublaslt_status_name(7), "CUBLAS_STATUS_INVALID_VALUE") == 0);
  CHECK(strcmp(alto_cublaslt_status_name(15), "CUBLAS_STATUS_NOT_SUPPORTED") == 0);
  CHECK(strcmp(alto_cublaslt_status_name(13), "CUBLAS_STATUS_EXECUTION_FAILED") == 0);
  CHECK(strstr(alto_cublaslt_status_name(99), "unknown") != NULL);
}

static void test_scale_bytes(void) {
  /* 1x128: [K/128, round4(R)] fp32 */
  CHECK(alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, 4096, 4096) == 32u * 4096 * 4);
  CHECK(alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_1X128, 130, 640) == 5u * 132 * 4);
  /* 128x128: [ceil(R/128), round4(K/128)] fp32 */
  CHECK(alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_128X128, 4096, 4096) == 32u * 32 * 4);
  CHECK(alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_128X128, 384, 640) == 3u * 8 * 4);
  CHECK(alto_cublaslt_scale_bytes(ALTO_CUBLASLT_SCALE_128X128, 200, 128) == 2u * 4 * 4);
}

/* Without alto_cublaslt_init the GEMMs refuse with a message saying what to call. */
static void test_not_initialized(void) {
  alto_status st = alto_cublaslt_gemm_bf16(1, 2, 3, 8, 8, 8, false, false, false, ALTO_DT_BF16);
  CHECK(st == ALTO_ERR_INVALID_ARG);
  CHECKF(strstr(alto_last_error(), "alto_cublaslt_init") != NULL, "%s", alto_last_error());
  alto_cublaslt_fp8_operand a = {1, 2, ALTO_CUBLASLT_SCALE_1X128, ALTO_DT_FP8_E4M3, false};
  st = alto_cublaslt_gemm_fp8_block(3, &a, &a, 128, 128, 128, false, ALTO_DT_BF16);
  CHECK(st == ALTO_ERR_INVALID_ARG);
  CHECK(alto_cublaslt_cached_plans() == 0);
}

int main(void) {
  RUN(test_missing_library);
  RUN(test_wrong_library);
  RUN(test_real_library);
  RUN(test_status_names);
  RUN(test_scale_bytes);
  RUN(test_not_initialized);
  return alto_test_finish();
}
