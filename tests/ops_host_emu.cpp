// ops_host_emu.cpp: a GPU-less check of templates/ops/ kernels (not part of the CMake build), as
// tests/attn_host_emu.cpp is for attention: each CTA runs as NT pthreads with barriers, warp
// shuffles go through per-warp slots. Checks cast, transpose, DGE, the embedding gather and
// RMSNorm forward / backward (fp32 weights) against the CPU reference, with tails and a small
// grid (so the grid-stride loops wrap). The GPU test (test_ops_gpu.c) remains the real check.
//   cmake --build build --target alto && g++ -std=c++17 -O1 -w -Itemplates -I. \
//     tests/ops_host_emu.cpp build/libalto.a -lm -lpthread -ldl -o /tmp/ops_emu && /tmp/ops_emu
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
struct uint4 { unsigned x, y, z, w; };
struct float4 { float x, y, z, w; };
static inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
struct dim3_ { unsigned x, y, z; };
static thread_local dim3_ threadIdx, blockIdx;
static dim3_ gridDim, blockDim;
static pthread_barrier_t cta_bar, warp_bar[32];
static void __syncthreads() { pthread_barrier_wait(&cta_bar); }
static float shfl_slot[32][32];
static float __shfl_xor_sync(unsigned, float v, int m, int) {
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  shfl_slot[w][l] = v;
  pthread_barrier_wait(&warp_bar[w]);
  float r = shfl_slot[w][l ^ m];
  pthread_barrier_wait(&warp_bar[w]);
  return r;
}
static double __dsqrt_rn(double x) { return sqrt(x); } /* correctly rounded on the host too */
static float __fsqrt_rn(float x) { return sqrtf(x); }
static int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }

#define __shared__ static
#include "common/alto_numerics.h"
#define __CUDACC_RTC__
#include "common/alto_opargs.h"
#undef __CUDACC_RTC__
#include "ops/convert.cuh"
#include "ops/dge.cuh"
#include "ops/embed.cuh"
#include "ops/rmsnorm.cuh"

extern "C" {
#include "runtime/cpu/ops.h"
#include "runtime/cpu/quant.h"
}

// Runs f on a grid of CTAs of nt threads, one CTA at a time.
typedef void (*kern_fn)(const alto_opargs &);
struct launch { kern_fn f; const alto_opargs *a; unsigned bx, by, tid; };
static void *thread_main(void *p) {
  launch *L = (launch *)p;
  threadIdx = {L->tid, 0, 0};
  blockIdx = {L->bx, L->by, 0};
  L->f(*L->a);
  return NULL;
}
static void run(kern_fn f, const alto_opargs &a, unsigned gx, unsigned gy, unsigned nt) {
  gridDim = {gx, gy, 1}, blockDim = {nt, 1, 1};
  pthread_barrier_init(&cta_bar, NULL, nt);
  for (unsigned w = 0; w < (nt + 31) / 32; w++) pthread_barrier_init(&warp_bar[w], NULL, 32);
  for (unsigned y = 0; y < gy; y++)
    for (unsigned x = 0; x < gx; x++) {
      std::vector<pthread_t> th(nt);
      std::vector<launch> L(nt);
      for (unsigned t = 0; t < nt; t++) {
        L[t] = {f, &a, x, y, t};
        pthread_create(&th[t], NULL, thread_main, &L[t]);
      }
      for (unsigned t = 0; t < nt; t++) pthread_join(th[t], NULL);
    }
  pthread_barrier_destroy(&cta_bar);
  for (unsigned w = 0; w < (nt + 31) / 32; w++) pthread_barrier_destroy(&warp_bar[w]);
}

static uint64_t rs = 88172645463325252ull;
static uint32_t u32() { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (uint32_t)(rs >> 16); }
static float nrm() {
  double u = (u32() + 1.0) / 4294967297.0, v = u32() / 4294967296.0;
  return (float)(sqrt(-2 * log(u)) * cos(6.283185307 * v));
}
static int bad = 0;
static void report(const char *what, bool ok) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  bad += !ok;
}

template <bool IN, bool OUT> static void cast_case(int64_t n) {
  std::vector<uint32_t> x32(n), want(n), got(n, 0xA5A5A5A5u);
  std::vector<uint16_t> x16(n);
  for (int64_t i = 0; i < n; i++) x32[i] = i < 65536 * 4 ? (uint32_t)(i % 65536) << 16 | (0x7FFF + i / 65536 - 1) : u32(), x16[i] = (uint16_t)(i < 65536 ? i : u32());
  for (int64_t i = 0; i < n; i++) {
    uint32_t v = IN ? (uint32_t)x16[i] << 16 : x32[i];
    want[i] = OUT ? (IN ? x16[i] : alto_f32_to_bf16(alto_f32_from_bits(v))) : v;
  }
  std::vector<uint16_t> g16(n, 0xA5A5);
  alto_opargs a = {};
  a.out = OUT ? (void *)g16.data() : (void *)got.data();
  a.in = IN ? (const void *)x16.data() : (const void *)x32.data();
  a.rows = n;
  run([](const alto_opargs &x) { alto_cast<IN, OUT>(x.out, x.in, x.rows); }, a, 3, 1, 256);
  bool ok = true;
  for (int64_t i = 0; i < n; i++) ok &= (OUT ? g16[i] : got[i]) == want[i];
  char w[64];
  snprintf(w, sizeof w, "cast %d -> %d n %lld", IN, OUT, (long long)n);
  report(w, ok);
}

template <typename E, int TILE> static void transpose_case(int64_t rows, int64_t cols, unsigned grid) {
  std::vector<E> x(rows * cols), out(rows * cols + 64, (E)0x5A);
  for (auto &v : x) v = (E)u32();
  alto_opargs a = {};
  a.out = out.data(), a.in = x.data(), a.rows = rows, a.cols = cols;
  run([](const alto_opargs &q) { alto_transpose<E, TILE, 256>((E *)q.out, (const E *)q.in, q.rows, q.cols); }, a, grid, 1, 256);
  bool ok = true;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) ok &= out[c * rows + r] == x[r * cols + c];
  for (int i = 0; i < 64; i++) ok &= out[rows * cols + i] == (E)0x5A;
  char w[80];
  snprintf(w, sizeof w, "transpose %lld x %lld, %d bytes, grid %u", (long long)rows, (long long)cols, (int)sizeof(E), grid);
  report(w, ok);
}

static void dge_case(int64_t R, int64_t C, int axis, bool b2d) {
  std::vector<float> w(R * C), dw(R * C), ref;
  for (auto &v : w) v = nrm() * 0.02f * (u32() % 200 == 0 ? 100 : 1);
  for (auto &v : dw) v = nrm();
  w[R * C / 2] = NAN, w[R * C / 3] = INFINITY, w[5] = 0;
  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  s.axis = axis, s.block2d = b2d;
  alto_tensor_view v = {w.data(), ALTO_ELEM_F32, 2, {R, C, 0}};
  alto_quantized q;
  if (alto_cpu_quantize(&s, &v, &q) != ALTO_OK) { report("dge quantize", false); return; }
  for (int64_t i = 0; i < R * C; i += 37) { /* edges of the E2M1 intervals */
    uint8_t s8 = ((uint8_t *)q.scales)[(i / C / q.layout.block_r) * q.layout.scale_dims[2] + (i % C) / q.layout.block_c];
    if (s8 != 0xFF) w[i] = 0.25f * (float)(i / 37 % 28) * ldexpf(1, s8 - 127);
  }
  ref = dw;
  alto_cpu_dge(&s, &v, &q, ref.data());
  alto_opargs a = {};
  a.out = dw.data(), a.in = w.data(), a.in2 = q.scales, a.rows = R, a.cols = C;
  a.block_r = q.layout.block_r, a.block_c = q.layout.block_c;
  run([](const alto_opargs &x) { alto_dge((float *)x.out, (const float *)x.in, (const alto_u8 *)x.in2, x.rows, x.cols, x.block_r, x.block_c); }, a, 5, 1, 256);
  bool ok = true;
  int nans = 0;
  for (int64_t i = 0; i < R * C; i++) {
    nans += isnan(ref[i]);
    ok &= (isnan(ref[i]) && isnan(dw[i])) || alto_f32_bits(ref[i]) == alto_f32_bits(dw[i]);
  }
  char wh[80];
  snprintf(wh, sizeof wh, "dge %lld x %lld axis %d %s (%d NaN)", (long long)R, (long long)C, axis, b2d ? "2-D" : "1-D", nans);
  report(wh, ok && nans > 0);
  alto_quantized_free(&q);
}

template <bool BF16> static void embed_case(int64_t M, int64_t C, int64_t V) {
  std::vector<float> table(V * C), ref(M * C);
  std::vector<int32_t> tok(M);
  for (auto &v : table) v = nrm();
  table[C + 1] = alto_f32_from_bits(0x3F808000u), table[C + 2] = alto_f32_from_bits(0x7FC12345u);
  for (auto &t : tok) t = (int32_t)(u32() % V);
  tok[0] = 1;
  alto_op_embed(ref.data(), tok.data(), table.data(), M, C);
  std::vector<uint32_t> g32(M * C);
  std::vector<uint16_t> g16(M * C);
  alto_opargs a = {};
  a.out = BF16 ? (void *)g16.data() : (void *)g32.data();
  a.in = table.data(), a.ids = tok.data(), a.cols = C, a.vocab = V;
  run([](const alto_opargs &x) { alto_embed_fwd<BF16, 64>(x.out, (const float *)x.in, x.ids, x.cols, x.vocab); }, a, (unsigned)M, (unsigned)((C + 63) / 64), 64);
  bool ok = true;
  for (int64_t i = 0; i < M * C; i++)
    ok &= BF16 ? g16[i] == alto_f32_to_bf16(ref[i]) : g32[i] == alto_f32_bits(ref[i]);
  report(BF16 ? "embed bf16 out" : "embed f32 out", ok);
}

template <bool BF16> static void rmsnorm_case() {
  constexpr int M = 40, C = 200, NT = 64, ROWS = 32;
  std::vector<float> x(M * C), w(C), dy(M * C), out(M * C), rstd(M), dx(M * C), dw(C);
  std::vector<uint16_t> x16(M * C), dy16(M * C);
  for (int i = 0; i < M * C; i++) {
    x16[i] = alto_f32_to_bf16(nrm()), x[i] = alto_bf16_to_f32(x16[i]);
    dy16[i] = alto_f32_to_bf16(nrm()), dy[i] = alto_bf16_to_f32(dy16[i]);
  }
  for (auto &v : w) v = 1 + 0.1f * nrm();
  alto_op_rmsnorm(out.data(), rstd.data(), x.data(), w.data(), M, C, 1e-5);
  alto_op_rmsnorm_bwd(dx.data(), dw.data(), dy.data(), x.data(), w.data(), rstd.data(), M, C, false);
  std::vector<uint32_t> gout(M * C);
  std::vector<uint16_t> gout16(M * C), gdx16(M * C);
  std::vector<float> grstd(M), gdx(M * C), part((M + ROWS - 1) / ROWS * C), gdw(C);
  alto_opargs a = {};
  a.out = BF16 ? (void *)gout16.data() : (void *)gout.data(), a.out2 = grstd.data();
  a.in = BF16 ? (const void *)x16.data() : (const void *)x.data(), a.in2 = w.data();
  a.s[0] = 1e-5;
  run([](const alto_opargs &q) { alto_rmsnorm_fwd<BF16, C, NT>(q.out, (float *)q.out2, q.in, (const float *)q.in2, q.s[0]); }, a, M, 1, NT);
  double eo = 0, er = 0;
  for (int i = 0; i < M; i++) er = fmax(er, fabs(grstd[i] - rstd[i]) / rstd[i]);
  for (int i = 0; i < M * C; i++) {
    float g = BF16 ? alto_bf16_to_f32(gout16[i]) : alto_f32_from_bits(gout[i]);
    eo = fmax(eo, fabs(g - out[i]) / (fabs(out[i]) + 1e-3));
  }
  alto_opargs b = {};
  b.out = BF16 ? (void *)gdx16.data() : (void *)gdx.data(), b.out2 = part.data();
  b.in = BF16 ? (const void *)dy16.data() : (const void *)dy.data();
  b.in2 = BF16 ? (const void *)x16.data() : (const void *)x.data();
  b.in3 = w.data(), b.in4 = rstd.data(), b.rows = M, b.flag = 0;
  run([](const alto_opargs &q) { alto_rmsnorm_bwd<BF16, C, NT, ROWS>(q.out, (float *)q.out2, q.in, q.in2, (const float *)q.in3, (const float *)q.in4, q.rows, q.flag != 0); }, b, (M + ROWS - 1) / ROWS, 1, NT);
  alto_opargs d = {};
  d.out = gdw.data(), d.in = part.data(), d.rows = M, d.cols = C;
  run([](const alto_opargs &q) { alto_rmsnorm_dw<NT>((float *)q.out, (const float *)q.in, (q.rows + ROWS - 1) / ROWS, q.cols); }, d, (C + NT - 1) / NT, 1, NT);
  double ex = 0, ew = 0;
  for (int i = 0; i < M * C; i++) {
    float g = BF16 ? alto_bf16_to_f32(gdx16[i]) : gdx[i];
    ex = fmax(ex, fabs(g - dx[i]) / (fabs(dx[i]) + 1e-2));
  }
  for (int i = 0; i < C; i++) ew = fmax(ew, fabs(gdw[i] - dw[i]) / (fabs(dw[i]) + 1e-2));
  double tol = BF16 ? 1e-2 : 1e-5;
  char wh[120];
  snprintf(wh, sizeof wh, "rmsnorm %s: rstd %.1e out %.1e dx %.1e dw %.1e", BF16 ? "bf16" : "f32", er, eo, ex, ew);
  report(wh, er < 1e-5 && eo < tol && ex < tol && ew < 1e-4); /* dw: sums of 40 terms of ~1 */
}

int main() {
  cast_case<false, true>(4 * 65536 + 1001);
  cast_case<true, false>(65536 + 7);
  cast_case<false, false>(1001);
  cast_case<true, true>(65536 + 3);
  transpose_case<alto_u8, 64>(129, 33, 2);
  transpose_case<alto_u8, 64>(4096 + 96, 300, 7);
  transpose_case<alto_u16, 64>(129, 33, 1);
  transpose_case<alto_u32, 32>(129, 33, 3);
  transpose_case<alto_u32, 32>(1, 1000, 4);
  transpose_case<alto_u8, 64>(1000, 1, 4);
  dge_case(96, 128, -1, true);
  dge_case(96, 77, -2, false);
  dge_case(33, 128, -1, false);
  embed_case<true>(50, 130, 7);
  embed_case<false>(50, 130, 7);
  rmsnorm_case<true>();
  rmsnorm_case<false>();
  return bad != 0;
}
