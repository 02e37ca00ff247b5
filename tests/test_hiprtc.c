/* runtime/hiprtc: a self-contained kernel compiles for gfx90a to an ELF code object; a syntax
 * error gives ALTO_ERR_COMPILE with the log; gfx942 is refused before hiprtc could abort.
 * Skips (77) when libamdhip64 is not installed. */
#include <string.h>

#include "runtime/hiprtc.h"
#include "tests/harness.h"

static const char *kernel_src_ =
    "extern \"C\" __global__ void alto_axpy(float a, const float *x, float *y, int n) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n)\n"
    "    y[i] = a * x[i] + y[i];\n"
    "}\n";

static void test_hiprtc_compile_gfx90a(void) {
  const char *opts[] = {"-O3"};
  alto_hiprtc_output out;
  alto_status st = alto_hiprtc_compile("axpy.hip", kernel_src_, "gfx90a", opts, 1, &out);
  CHECKF(st == ALTO_OK, "%s: %s\nlog:\n%s", alto_status_name(st), alto_last_error(), out.log);
  CHECK(out.code_size > 64);
  CHECK(out.code && memcmp(out.code,
                           "\x7f"
                           "ELF",
                           4) == 0);
  /* e_machine of an AMDGPU ELF is EM_AMDGPU (224). */
  CHECK(out.code && out.code_size > 20 && ((unsigned char *)out.code)[18] == 224);
  alto_hiprtc_output_free(&out);
  st = alto_hiprtc_compile("axpy.hip", kernel_src_, "gfx1030", NULL, 0, &out);
  CHECKF(st == ALTO_OK && out.code_size > 0, "gfx1030: %s", alto_last_error());
  alto_hiprtc_output_free(&out);
}

static void test_hiprtc_syntax_error(void) {
  alto_hiprtc_output out;
  alto_status st = alto_hiprtc_compile(
      "bad.hip", "extern \"C\" __global__ void k(float *y) { y[0] = undefined_thing + ; }\n",
      "gfx90a", NULL, 0, &out);
  CHECK(st == ALTO_ERR_COMPILE);
  CHECK(out.code == NULL && out.code_size == 0);
  CHECKF(strstr(out.log, "error") != NULL, "log: '%s'", out.log);
  /* ROCm 5.2 names the source "CompileSource" in the log, not "bad.hip". */
  CHECKF(strstr(out.log, "undeclared identifier 'undefined_thing'") != NULL, "log: '%s'", out.log);
  CHECK(strstr(alto_last_error(), "hiprtcCompileProgram") != NULL);
  alto_hiprtc_output_free(&out);
}

static void test_hiprtc_arch_refused(void) {
  const char *bad[] = {"gfx942", "gfx940", "gfx1100", "gfx942:xnack-", "sm_90a", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    alto_hiprtc_output out;
    alto_status st = alto_hiprtc_compile("axpy.hip", kernel_src_, bad[i], NULL, 0, &out);
    CHECKF(st == (*bad[i] ? ALTO_ERR_UNSUPPORTED : ALTO_ERR_INVALID_ARG), "%s: %s", bad[i],
           alto_status_name(st));
    CHECKF(strstr(alto_last_error(), "gfx90a, gfx908, gfx1030") != NULL, "%s", alto_last_error());
    if (*bad[i])
      CHECKF(strstr(alto_last_error(), "abort") != NULL, "%s", alto_last_error());
    alto_hiprtc_output_free(&out);
  }
  CHECK(alto_hiprtc_arch_supported("gfx908") == ALTO_OK);
  CHECK(alto_hiprtc_arch_supported("gfx90a:xnack-") == ALTO_OK);
  CHECK(alto_hiprtc_arch_supported("gfx90") == ALTO_ERR_UNSUPPORTED);
  /* An arch smuggled in through the options is refused too. */
  const char *opts[] = {"--offload-arch=gfx942"};
  alto_hiprtc_output out;
  CHECK(alto_hiprtc_compile("axpy.hip", kernel_src_, "gfx90a", opts, 1, &out) ==
        ALTO_ERR_INVALID_ARG);
  alto_hiprtc_output_free(&out);
}

int main(void) {
  /* The refusals need no library: run them first, also where hiprtc is missing. */
  RUN(test_hiprtc_arch_refused);
  if (alto_hiprtc_load() != ALTO_OK) {
    fprintf(stderr, "%s\n", alto_last_error());
    if (alto_test_failures)
      return alto_test_finish();
    alto_test_skip("hiprtc (libamdhip64) not installed");
  }
  int maj = 0, min = 0;
  alto_hiprtc_version(&maj, &min);
  fprintf(stderr, "hiprtc %d.%d\n", maj, min);
  RUN(test_hiprtc_compile_gfx90a);
  RUN(test_hiprtc_syntax_error);
  return alto_test_finish();
}
