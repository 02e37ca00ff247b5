/* The numerics header is device-clean: NVRTC compiles it (with a probe kernel using every function)
 * for sm_90a without a GPU, with no warnings; and it compiles as C++ too (the HIP host path). */
#include <string.h>
#include <unistd.h>

#include "runtime/nvrtc.h"
#include "tests/harness.h"
#include "tests/numerics_probe.h"

static void compile_probe(const char *arch, int with_cuda_fp8) {
  char *hdr = probe_read_file(ALTO_SOURCE_DIR "/templates/common/alto_numerics.h");
  char *src = probe_read_file(ALTO_SOURCE_DIR "/tests/numerics_probe.cu");
  char *body = probe_read_file(ALTO_SOURCE_DIR "/tests/numerics_probe_body.h");
  CHECK(hdr && src && body);
  if (!hdr || !src || !body)
    return;
  alto_nvrtc_header h[2] = {{"alto_numerics.h", hdr}, {"numerics_probe_body.h", body}};
  char archopt[64];
  snprintf(archopt, sizeof archopt, "--gpu-architecture=%s", arch);
  const char *opts[] = {archopt, "-std=c++17", "-DALTO_PROBE_CUDA_FP8",
                        "-I/usr/local/cuda/include"};
  alto_nvrtc_output out;
  alto_status st = alto_nvrtc_compile("numerics_probe.cu", src, h, 2, opts, with_cuda_fp8 ? 4 : 2,
                                      0, &out);
  CHECKF(st == ALTO_OK, "%s: %s\n%s", arch, alto_last_error(), out.log);
  CHECKF(out.log[0] == '\0', "%s: NVRTC log not empty:\n%s", arch, out.log);
  CHECK(st != ALTO_OK || (out.image_size > 64 && memcmp(out.image, "\x7f" "ELF", 4) == 0));
  alto_nvrtc_output_free(&out);
  free(hdr);
  free(src);
  free(body);
}

static void test_nvrtc_sm90a(void) {
  compile_probe("sm_90a", access("/usr/local/cuda/include/cuda_fp8.h", R_OK) == 0);
  compile_probe("sm_80", 0); /* Ampere: nothing in the header needs Hopper */
}

/* A broken source gives ALTO_ERR_COMPILE with the log. */
static void test_nvrtc_error(void) {
  const char *opts[] = {"--gpu-architecture=sm_90a"};
  alto_nvrtc_output out;
  alto_status st = alto_nvrtc_compile("bad.cu", "__global__ void k() { undefined_thing(); }", NULL,
                                      0, opts, 1, 0, &out);
  CHECK(st == ALTO_ERR_COMPILE);
  CHECK(strstr(out.log, "undefined_thing") != NULL);
  alto_nvrtc_output_free(&out);
}

/* The header as C++ (g++ -x c++), as the HIP host compiler would see it. */
static void test_cxx(void) {
  if (system("command -v g++ >/dev/null 2>&1") != 0) {
    fprintf(stderr, "note: g++ not found, C++ check skipped\n");
    return;
  }
  const char *cmd = "echo '#include \"templates/common/alto_numerics.h\"\nint main(){return "
                    "alto_f32_to_e4m3(1.0f)!=0x38;}' | g++ -std=c++17 -Wall -Wextra -Werror -I"
                    ALTO_SOURCE_DIR " -x c++ - -o /tmp/alto_numerics_cxx_$$ && /tmp/alto_numerics_cxx_$$; "
                    "r=$?; rm -f /tmp/alto_numerics_cxx_$$; exit $r";
  CHECK(system(cmd) == 0);
}

int main(void) {
  if (alto_nvrtc_load() != ALTO_OK) {
    test_cxx();
    if (alto_test_failures)
      return alto_test_finish();
    alto_test_skip(alto_last_error());
  }
  int maj, min;
  alto_nvrtc_version(&maj, &min);
  fprintf(stderr, "NVRTC %d.%d\n", maj, min);
  RUN(test_nvrtc_sm90a);
  RUN(test_nvrtc_error);
  RUN(test_cxx);
  return alto_test_finish();
}
