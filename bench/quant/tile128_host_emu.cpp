// tile128_host_emu.cpp: a GPU-less check of templates/quant/quant_tile128.cuh (not part of the
// CMake build), as tests/ops_host_emu.cpp is for the ops templates: each CTA runs as NT pthreads
// with barriers, warp shuffles go through per-warp slots. Every fp8_block 128x1 / 128x128 variant
// (e4m3, e5m2; bf16, fp32 input) against the CPU reference (alto_cpu_quantize), codes and scales
// byte for byte, on 2-D and 3-D shapes with NaN / Inf / zero blocks, column tails and rows that are
// not 16-byte aligned (the element-load path). The host build takes the header's scalar FP8 cast,
// so this checks the tiling and the reductions; tests/test_quant_gpu.c remains the real check.
//   cmake --build build --target alto && g++ -std=c++17 -O1 -w -Itemplates -I. \
//     bench/quant/tile128_host_emu.cpp build/libalto.a -lm -lpthread -ldl -o /tmp/t128_emu &&
//     /tmp/t128_emu
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(x)
struct uint4 {
  unsigned x, y, z, w;
};
struct uint2 {
  unsigned x, y;
};
struct float4 {
  float x, y, z, w;
};
static inline float4 make_float4(float a, float b, float c, float d) {
  return {a, b, c, d};
}
struct dim3_ {
  unsigned x, y, z;
};
static thread_local dim3_ threadIdx, blockIdx;
static dim3_ gridDim, blockDim;
static pthread_barrier_t cta_bar, warp_bar[32];
static void __syncthreads() {
  pthread_barrier_wait(&cta_bar);
}
static float shfl_slot[32][32];
static float __shfl_xor_sync(unsigned, float v, int m, int) {
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  shfl_slot[w][l] = v;
  pthread_barrier_wait(&warp_bar[w]);
  float r = shfl_slot[w][l ^ m];
  pthread_barrier_wait(&warp_bar[w]);
  return r;
}

#define __shared__ static
#include "quant/quant_tile128.cuh"

extern "C" {
#include "runtime/cpu/quant.h"
}

struct kargs {
  const void *x;
  alto_u8 *codes;
  void *scales;
  alto_idx cols;
};
typedef void (*kern_fn)(const kargs &);
struct launch {
  kern_fn f;
  const kargs *a;
  unsigned bx, by, tid;
};
static void *thread_main(void *p) {
  launch *L = (launch *)p;
  threadIdx = {L->tid, 0, 0};
  blockIdx = {L->bx, L->by, 0};
  L->f(*L->a);
  return NULL;
}
// One CTA at a time (the template's shared arrays are function statics here).
static void run(kern_fn f, const kargs &a, unsigned gx, unsigned gy, unsigned nt) {
  gridDim = {gx, gy, 1}, blockDim = {nt, 1, 1};
  pthread_barrier_init(&cta_bar, NULL, nt);
  for (unsigned w = 0; w < nt / 32; w++)
    pthread_barrier_init(&warp_bar[w], NULL, 32);
  std::vector<pthread_t> th(nt);
  std::vector<launch> L(nt);
  for (unsigned y = 0; y < gy; y++)
    for (unsigned x = 0; x < gx; x++) {
      for (unsigned t = 0; t < nt; t++) {
        L[t] = {f, &a, x, y, t};
        pthread_create(&th[t], NULL, thread_main, &L[t]);
      }
      for (unsigned t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    }
  pthread_barrier_destroy(&cta_bar);
  for (unsigned w = 0; w < nt / 32; w++)
    pthread_barrier_destroy(&warp_bar[w]);
}

static uint64_t rs = 88172645463325252ull;
static uint32_t u32() {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (uint32_t)(rs >> 16);
}
static float nrm() {
  double u = (u32() + 1.0) / 4294967297.0, v = u32() / 4294967296.0;
  return (float)(sqrt(-2 * log(u)) * cos(6.283185307 * v));
}
static int bad = 0;

template <int ELEM, int BC, bool BF16> static void quant_case(int64_t E, int64_t R, int64_t C) {
  const int64_t rows = E * R, n = rows * C;
  std::vector<float> xf(n);
  for (int64_t i = 0; i < n; i++)
    xf[i] = nrm() * (u32() % 200 == 0 ? 100.0f : 1.0f);
  for (int64_t i = 0; i < n; i++) // tiny, huge and subnormal values
    if (u32() % 997 == 0)
      xf[i] = ldexpf(nrm(), (int)(u32() % 200) - 140);
  xf[5 * C + 3] = NAN; // a NaN block (column 3, or the first 2-D block)
  xf[200 % rows * C + C - 1] = INFINITY;
  xf[201 % rows * C + C - 1] = -INFINITY;
  if (C > 130)
    for (int64_t r = 0; r < 128; r++)
      xf[r * C + 130] = 0.0f; // an all-zero column block
  if (BC == 128 && C >= 256)
    for (int64_t r = 0; r < 128; r++)
      for (int64_t c = 128; c < 256; c++)
        xf[r * C + c] = 0.0f; // an all-zero 2-D block
  std::vector<uint16_t> xb(n);
  for (int64_t i = 0; i < n; i++) {
    xb[i] = alto_f32_to_bf16(xf[i]);
    if (BF16)
      xf[i] = alto_bf16_to_f32(xb[i]);
  }
  alto_tensor_view x;
  memset(&x, 0, sizeof x);
  x.data = BF16 ? (const void *)xb.data() : (const void *)xf.data();
  x.dtype = BF16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
  x.ndim = E > 1 ? 3 : 2;
  if (E > 1)
    x.dims[0] = E, x.dims[1] = R, x.dims[2] = C;
  else
    x.dims[0] = R, x.dims[1] = C;
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  spec.elem = (alto_elem)ELEM;
  spec.axis = -2;
  spec.block2d = BC == 128;
  alto_quantized ref;
  if (alto_cpu_quantize(&spec, &x, &ref) != ALTO_OK) {
    printf("FAIL cpu: %s\n", alto_last_error());
    bad++;
    return;
  }
  const int64_t nscales = ref.layout.scale_count;
  std::vector<alto_u8> codes(n + 64, 0x5A);
  std::vector<float> scales(nscales + 16, -7.0f);
  kargs a = {x.data, codes.data(), scales.data(), C};
  const unsigned nt = BF16 ? 256 : 512;
  run(
      [](const kargs &q) {
        alto_quant_tile128<ELEM, BC, BF16, BF16 ? 256 : 512>(q.x, q.codes, q.scales, q.cols);
      },
      a, (unsigned)((C + 127) / 128), (unsigned)(rows / 128), nt);
  int64_t dc = -1, ds = -1;
  for (int64_t i = 0; i < n && dc < 0; i++)
    if (codes[i] != ref.codes[i])
      dc = i;
  for (int64_t i = 0; i < nscales && ds < 0; i++)
    if (memcmp(&scales[i], (const char *)ref.scales + 4 * i, 4))
      ds = i;
  bool guards = true;
  for (int i = 0; i < 64; i++)
    guards &= codes[n + i] == 0x5A;
  for (int i = 0; i < 16; i++)
    guards &= scales[nscales + i] == -7.0f;
  bool ok = dc < 0 && ds < 0 && guards;
  printf("%s %s %s %s [%lld x %lld x %lld]", ok ? "ok  " : "FAIL",
         ELEM == ALTO_ELEM_E4M3 ? "e4m3" : "e5m2", BC == 1 ? "128x1  " : "128x128",
         BF16 ? "bf16" : "f32 ", (long long)E, (long long)R, (long long)C);
  if (dc >= 0)
    printf("  codes differ at %lld: cpu 0x%02x emu 0x%02x", (long long)dc, ref.codes[dc],
           codes[dc]);
  if (ds >= 0)
    printf("  scales differ at %lld", (long long)ds);
  if (!guards)
    printf("  wrote past its outputs");
  printf("\n");
  bad += !ok;
  alto_quantized_free(&ref);
}

template <int ELEM, bool BF16> static void all_shapes() {
  quant_case<ELEM, 1, BF16>(1, 256, 1152);
  quant_case<ELEM, 1, BF16>(3, 128, 200);  // column tail, rows 16-byte aligned
  quant_case<ELEM, 1, BF16>(1, 128, 1030); // rows not 16-byte aligned: element loads
  quant_case<ELEM, 1, BF16>(2, 128, 6);
  quant_case<ELEM, 128, BF16>(1, 256, 1152);
  quant_case<ELEM, 128, BF16>(3, 128, 256);
}

int main() {
  all_shapes<ALTO_ELEM_E4M3, true>();
  all_shapes<ALTO_ELEM_E4M3, false>();
  all_shapes<ALTO_ELEM_E5M2, true>();
  all_shapes<ALTO_ELEM_E5M2, false>();
  printf("%s\n", bad ? "FAILED" : "all ok");
  return bad != 0;
}
