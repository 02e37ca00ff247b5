// ops_host_emu.cpp: a GPU-less check of templates/ops/ kernels (not part of the CMake build), as
// tests/attn_host_emu.cpp is for attention: each CTA runs as NT pthreads with barriers, warp
// shuffles go through per-warp slots, a thread block cluster's CTAs run together (the cluster
// barrier and distributed shared memory emulated). Checks cast, transpose, DGE, embedding, RMSNorm
// (fp32 weights), add, SwiGLU, RoPE and the one-pass cross-entropy against the CPU reference,
// with tails, misaligned calls and small grids (so the grid-stride loops wrap). The inline PTX
// (cp.async, mbarriers, st.async, cvt / max on bf16 pairs) runs only on the GPU: the GPU test
// (test_ops_gpu.c) remains the real check.
//   --sigmoid-table prints templates/ops/sigmoid_bf16.h.
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
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
struct dim3_ { unsigned x, y, z; };
static thread_local dim3_ threadIdx, blockIdx;
static dim3_ gridDim, blockDim;
// Up to 8 CTAs run at once (a thread block cluster); each has its barriers, shuffle slots and
// dynamic shared memory. __shared__ variables are static: shared by the concurrent CTAs, which
// the cluster kernel uses only for identical tables.
enum { MAX_CL = 8 };
static thread_local int cta_slot;
static pthread_barrier_t cta_bar[MAX_CL], warp_bar[MAX_CL][32], cluster_bar;
static unsigned char *dyn_smem[MAX_CL];
static void __syncthreads() { pthread_barrier_wait(&cta_bar[cta_slot]); }
static double shfl_slot[MAX_CL][32][32];
template <typename T> static T __shfl_xor_sync(unsigned, T v, int m, int) {
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  shfl_slot[cta_slot][w][l] = (double)v;
  pthread_barrier_wait(&warp_bar[cta_slot][w]);
  T r = (T)shfl_slot[cta_slot][w][l ^ m];
  pthread_barrier_wait(&warp_bar[cta_slot][w]);
  return r;
}
static double __dsqrt_rn(double x) { return sqrt(x); } /* correctly rounded on the host too */
static float __fsqrt_rn(float x) { return sqrtf(x); }
static int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static unsigned alto_emu_cluster_rank() { return (unsigned)cta_slot; }
static void alto_emu_cluster_sync() { pthread_barrier_wait(&cluster_bar); }
static void *alto_emu_cluster_map(const void *p, unsigned rank) {
  return dyn_smem[rank] + ((const unsigned char *)p - dyn_smem[cta_slot]);
}
static unsigned char *alto_emu_dyn_smem() { return dyn_smem[cta_slot]; }

#define __shared__ static
#include "common/alto_numerics.h"
#define __CUDACC_RTC__
#include "common/alto_opargs.h"
#undef __CUDACC_RTC__
#include "ops/convert.cuh"
#include "ops/cross_entropy.cuh"
#include "ops/dge.cuh"
#include "ops/elementwise.cuh"
#include "ops/embed.cuh"
#include "ops/rmsnorm.cuh"
#define alto_rope alto_rope_kernel /* the CPU's alto_rope is the struct of rope parameters */
#include "ops/rope.cuh"
#undef alto_rope
#include "ops/swiglu.cuh"

extern "C" {
#include "runtime/cpu/ops.h"
#include "runtime/cpu/quant.h"
}

// Runs f on a grid of CTAs of nt threads: clusters of cl consecutive CTAs (blockIdx.x) at once,
// each with smem bytes of dynamic shared memory; one cluster at a time.
typedef void (*kern_fn)(const alto_opargs &);
struct launch { kern_fn f; const alto_opargs *a; unsigned bx, by, tid; int slot; };
static void *thread_main(void *p) {
  launch *L = (launch *)p;
  threadIdx = {L->tid, 0, 0};
  blockIdx = {L->bx, L->by, 0};
  cta_slot = L->slot;
  L->f(*L->a);
  return NULL;
}
static void run_cl(kern_fn f, const alto_opargs &a, unsigned gx, unsigned gy, unsigned nt,
                   unsigned cl, size_t smem) {
  gridDim = {gx, gy, 1}, blockDim = {nt, 1, 1};
  for (unsigned c = 0; c < cl; c++) {
    pthread_barrier_init(&cta_bar[c], NULL, nt);
    for (unsigned w = 0; w < (nt + 31) / 32; w++) pthread_barrier_init(&warp_bar[c][w], NULL, 32);
    dyn_smem[c] = (unsigned char *)aligned_alloc(16, smem ? (smem + 15) / 16 * 16 : 16);
    memset(dyn_smem[c], 0xA5, smem);
  }
  pthread_barrier_init(&cluster_bar, NULL, nt * cl);
  for (unsigned y = 0; y < gy; y++)
    for (unsigned x = 0; x < gx; x += cl) {
      std::vector<pthread_t> th(nt * cl);
      std::vector<launch> L(nt * cl);
      for (unsigned c = 0; c < cl; c++)
        for (unsigned t = 0; t < nt; t++) {
          L[c * nt + t] = {f, &a, x + c, y, t, (int)c};
          pthread_create(&th[c * nt + t], NULL, thread_main, &L[c * nt + t]);
        }
      for (unsigned t = 0; t < nt * cl; t++) pthread_join(th[t], NULL);
    }
  for (unsigned c = 0; c < cl; c++) {
    pthread_barrier_destroy(&cta_bar[c]);
    for (unsigned w = 0; w < (nt + 31) / 32; w++) pthread_barrier_destroy(&warp_bar[c][w]);
    free(dyn_smem[c]);
  }
  pthread_barrier_destroy(&cluster_bar);
}
static void run(kern_fn f, const alto_opargs &a, unsigned gx, unsigned gy, unsigned nt) {
  run_cl(f, a, gx, gy, nt, 1, 0);
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
  run([](const alto_opargs &x) { alto_embed_fwd<BF16, 64>(x.out, (const float *)x.in, x.ids, x.cols, x.vocab); }, a, (unsigned)M, (unsigned)((C + 511) / 512), 64);
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
  run([](const alto_opargs &q) { alto_rmsnorm_dw<256>((float *)q.out, (const float *)q.in, (q.rows + ROWS - 1) / ROWS, q.cols); }, d, (C + 31) / 32, 1, 256);
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

// Prints templates/ops/sigmoid_bf16.h: the CPU reference's sigmoid (runtime/cpu/ops.c) of every
// bf16 magnitude in [2^-26, 128), both signs, with this host's libm.
static int print_sigmoid_table() {
  const unsigned LO = 101u << 7, HI = 134u << 7; /* exponent fields 101 (2^-26) .. 133 */
  printf("// Generated by tests/ops_host_emu.cpp --sigmoid-table; do not edit.\n"
         "// The sigmoid of bf16 values as runtime/cpu/ops.c computes it, (float)(1 / (1 + exp(-(double)a)))\n"
         "// with glibc's exp, as fp32 bits: entry s * ALTO_OPS_SIGMOID_PER + u - ALTO_OPS_SIGMOID_LO is\n"
         "// the sigmoid of the bf16 of sign s and magnitude bits u (its bits & 0x7FFF) for u in\n"
         "// [ALTO_OPS_SIGMOID_LO, ALTO_OPS_SIGMOID_HI), 2^-26 <= |a| < 128. Clamping u into that range\n"
         "// gives every other non-NaN bf16 its value (|a| < 2^-26: 0.5, a >= 128: 1, a <= -128: 0).\n"
         "// tests/test_ops_compile.c checks all 65536 bf16 against the host libm.\n"
         "#ifndef ALTO_OPS_SIGMOID_BF16_H\n#define ALTO_OPS_SIGMOID_BF16_H\n\n"
         "#define ALTO_OPS_SIGMOID_LO %uu\n#define ALTO_OPS_SIGMOID_HI %uu\n"
         "#define ALTO_OPS_SIGMOID_PER %uu\n\n"
         "#ifndef ALTO_OPS_SIGMOID_QUAL\n#define ALTO_OPS_SIGMOID_QUAL static const\n#endif\n"
         "ALTO_OPS_SIGMOID_QUAL unsigned alto_ops_sigmoid_bf16_tab[%u] = {\n",
         LO, HI, HI - LO, 2 * (HI - LO));
  for (unsigned s = 0; s < 2; s++)
    for (unsigned u = LO; u < HI; u++) {
      float a = alto_bf16_to_f32((alto_u16)(s << 15 | u));
      float sg = (float)(1.0 / (1.0 + exp(-(double)a)));
      unsigned i = s * (HI - LO) + u - LO;
      printf("%s0x%08xu,%s", i % 7 ? " " : "    ", alto_f32_bits(sg), i % 7 == 6 || i + 1 == 2 * (HI - LO) ? "\n" : "");
    }
  printf("};\n\n#endif\n");
  return 0;
}

// bf16 / fp32 activations: the device bytes and their fp32 values.
struct acts {
  std::vector<uint16_t> b16;
  std::vector<float> f;
  bool bf16;
  acts(int64_t n, bool bf, float scale) : b16(n), f(n), bf16(bf) {
    for (int64_t i = 0; i < n; i++) {
      float v = nrm() * scale * (u32() % 200 == 0 ? 100.0f : 1.0f);
      b16[i] = alto_f32_to_bf16(v);
      f[i] = bf ? alto_bf16_to_f32(b16[i]) : v;
    }
  }
  const void *dev(int64_t off = 0) const { return bf16 ? (const void *)(b16.data() + off) : (const void *)(f.data() + off); }
};
// Output buffer in a dtype, read back as fp32.
struct outs {
  std::vector<uint16_t> b16;
  std::vector<float> f;
  bool bf16;
  outs(int64_t n, bool bf) : b16(n + 16, 0xA5A5), f(n + 16, alto_f32_from_bits(0xA5A5A5A5u)), bf16(bf) {}
  void *dev(int64_t off = 0) { return bf16 ? (void *)(b16.data() + off) : (void *)(f.data() + off); }
  float at(int64_t i) const { return bf16 ? alto_bf16_to_f32(b16[i]) : f[i]; }
};
// Bit for bit against the CPU's fp32 (rounded to the dtype); NaN matches NaN. Returns mismatches.
static int64_t diff_bits(const outs &o, const float *ref, int64_t n, int64_t off = 0) {
  int64_t d = 0;
  for (int64_t i = 0; i < n; i++) {
    float r = o.bf16 ? alto_bf16_to_f32(alto_f32_to_bf16(ref[i])) : ref[i], g = o.at(off + i);
    d += !((isnan(r) && isnan(g)) || alto_f32_bits(r) == alto_f32_bits(g));
  }
  return d;
}

// add and SwiGLU (the bf16 sigmoid table: every bf16 value of a, both directions), 16-byte
// vectors with a tail, a small grid (grid-stride), and a misaligned call (the scalar path).
template <bool BF16> static void elementwise_case(int64_t n, int64_t off) {
  acts a(n + off, BF16, 2.0f), b(n + off, BF16, 1.0f), dy(n + off, BF16, 1.0f);
  if (BF16)
    for (int64_t i = 0; i < n && i < 65536; i++) /* every bf16 pattern as a */
      a.b16[off + i] = (uint16_t)i, a.f[off + i] = alto_bf16_to_f32((uint16_t)i);
  std::vector<float> r1(n), r2(n);
  outs o1(n + off, BF16), o2(n + off, BF16);
  alto_opargs q = {};
  q.out = o1.dev(off), q.out2 = o2.dev(off), q.in = a.dev(off), q.in2 = b.dev(off), q.in3 = dy.dev(off), q.rows = n;
  char w[96];
  alto_op_add(r1.data(), a.f.data() + off, b.f.data() + off, n);
  run([](const alto_opargs &x) { alto_add<BF16>(x.out, x.in, x.in2, x.rows); }, q, 5, 1, 256);
  snprintf(w, sizeof w, "add %s n %lld offset %lld", BF16 ? "bf16" : "f32", (long long)n, (long long)off);
  report(w, diff_bits(o1, r1.data(), n, off) == 0);
  alto_op_swiglu(r1.data(), a.f.data() + off, b.f.data() + off, n);
  run([](const alto_opargs &x) { alto_swiglu<BF16, 512>(x.out, x.in, x.in2, x.rows); }, q, 3, 1, 512);
  snprintf(w, sizeof w, "swiglu %s n %lld offset %lld (bits)", BF16 ? "bf16" : "f32", (long long)n, (long long)off);
  report(w, diff_bits(o1, r1.data(), n, off) == 0);
  q.in = dy.dev(off), q.in2 = a.dev(off), q.in3 = b.dev(off);
  alto_op_swiglu_bwd(r1.data(), r2.data(), dy.f.data() + off, a.f.data() + off, b.f.data() + off, n);
  run([](const alto_opargs &x) { alto_swiglu_bwd<BF16, 512>(x.out, x.out2, x.in, x.in2, x.in3, x.rows); }, q, 3, 1, 512);
  snprintf(w, sizeof w, "swiglu_bwd %s n %lld offset %lld (bits)", BF16 ? "bf16" : "f32", (long long)n, (long long)off);
  report(w, diff_bits(o1, r1.data(), n, off) == 0 && diff_bits(o2, r2.data(), n, off) == 0);
}

// RoPE forward and backward against the CPU: bit for bit, vector and scalar shapes, in place.
template <bool BF16, int D, int ROT> static void rope_case(int64_t M, int64_t T, int64_t NH, bool in_place) {
  const int64_t h = ROT / 2, n = M * NH * D;
  alto_rope rp = {};
  rp.theta = 500000;
  std::vector<float> cs(T * h), sn(T * h), ref(n);
  alto_op_rope_table(cs.data(), sn.data(), &rp, T, ROT);
  for (int bwd = 0; bwd < 2; bwd++) {
    acts x(n, BF16, 1.0f);
    (bwd ? alto_op_rope_bwd : alto_op_rope)(ref.data(), x.f.data(), cs.data(), sn.data(), M, T, NH, D, ROT);
    outs o(n, BF16);
    if (in_place) {
      if (BF16)
        memcpy(o.b16.data(), x.b16.data(), n * 2);
      else
        memcpy(o.f.data(), x.f.data(), n * 4);
    }
    alto_opargs q = {};
    q.out = o.dev(), q.in = in_place ? (const void *)o.dev() : x.dev(), q.in2 = cs.data(), q.in3 = sn.data();
    q.rows = M, q.T = T, q.heads = NH;
    if (bwd)
      run([](const alto_opargs &a) { alto_rope_kernel<BF16, D, ROT, true>(a.out, a.in, (const float *)a.in2, (const float *)a.in3, a.rows, a.T, a.heads); }, q, 7, 1, 64);
    else
      run([](const alto_opargs &a) { alto_rope_kernel<BF16, D, ROT, false>(a.out, a.in, (const float *)a.in2, (const float *)a.in3, a.rows, a.T, a.heads); }, q, 7, 1, 64);
    char w[96];
    snprintf(w, sizeof w, "rope%s %s D %d rot %d%s", bwd ? "_bwd" : "", BF16 ? "bf16" : "f32", D, ROT, in_place ? " in place" : "");
    report(w, diff_bits(o, ref.data(), n) == 0);
  }
}

// Embedding backward (the four kernels) against the CPU: bit for bit.
template <bool BF16> static void embed_bwd_case(int64_t M, int64_t C, int64_t V) {
  std::vector<int32_t> tok(M);
  for (auto &t : tok) t = u32() % 3 == 0 ? (int32_t)(V / 2) : (int32_t)(u32() % V);
  acts dout(M * C, BF16, 1.0f);
  std::vector<float> dt(V * C), ref(V * C);
  for (auto &v : dt) v = 0.1f * nrm();
  ref = dt;
  alto_op_embed_bwd(ref.data(), tok.data(), dout.f.data(), M, C);
  std::vector<int32_t> scratch((V + 1) + V + M + M + 1, 0);
  alto_opargs a = {};
  a.out = dt.data(), a.in = dout.dev(), a.ids = tok.data(), a.iscratch = scratch.data(), a.rows = M, a.cols = C, a.vocab = V;
  run([](const alto_opargs &x) { alto_embed_hist(x.iscratch, x.ids, x.rows, x.vocab); }, a, 3, 1, 256);
  run([](const alto_opargs &x) { alto_embed_scan<256>(x.iscratch, x.rows, x.vocab); }, a, 1, 1, 256);
  run([](const alto_opargs &x) { alto_embed_rank<256>(x.iscratch, x.ids, x.rows, x.vocab); }, a, 1, 1, 256);
  run([](const alto_opargs &x) { alto_embed_accum<BF16, 32>((float *)x.out, x.in, x.iscratch, x.rows, x.cols, x.vocab); }, a, (unsigned)M, (unsigned)((C + 255) / 256), 32);
  bool ok = true;
  for (int64_t i = 0; i < V * C; i++) ok &= alto_f32_bits(ref[i]) == alto_f32_bits(dt[i]);
  char w[96];
  snprintf(w, sizeof w, "embed_bwd %s M %lld C %lld V %lld", BF16 ? "bf16" : "f32", (long long)M, (long long)C, (long long)V);
  report(w, ok);
}

// The fused cross-entropy (clusters of CL CTAs of NT threads, 8 VEC logits each) against the CPU
// (the test's bounds) and against the rows kernel (bit for bit but for the lse's last bits).
// mode 0: dlogits apart, 1: in place, 2: forward only.
template <int CL, int NT, int VEC> static void ce_case(int64_t M, int64_t V, int mode) {
  constexpr int ROWS = 8;
  std::vector<uint16_t> lg(M * V + 16);
  std::vector<float> lf(M * V);
  std::vector<int32_t> tg(M);
  for (int64_t m = 0; m < M; m++) {
    const int kind = (int)(m % 7);
    for (int64_t v = 0; v < V; v++) {
      float x = nrm() * 2.0f;
      if (kind == 1) x = x * 1e-6f; /* tiny logits: inexact l - mx (the slow sum) */
      if (kind == 2) x = v % 97 == 0 ? 60.0f + x : x * 40.0f; /* a wide row: clamps, tiny dlogits */
      if (kind == 3) x = 1.5f;                               /* all equal */
      if (u32() % 500 == 0) x *= 100.0f;
      lg[m * V + v] = alto_f32_to_bf16(x);
    }
    if (kind == 4) lg[m * V + V / 3] = 0x7FC1; /* a NaN logit: a NaN row */
    tg[m] = m % 5 == 1 ? -100 : m % 11 == 0 ? 0 : m % 13 == 0 ? (int32_t)(V - 1) : (int32_t)(u32() % V);
  }
  for (int64_t i = 0; i < M * V; i++) lf[i] = alto_bf16_to_f32(lg[i]);
  int64_t n_valid = 0;
  for (auto t : tg) n_valid += t >= 0;
  std::vector<float> dref(M * V);
  double loss_ref = alto_op_cross_entropy(dref.data(), lf.data(), tg.data(), M, V);
  std::vector<uint16_t> out(M * V + 16, 0xA5A5), out_rows(M * V + 16, 0xA5A5), lg2 = lg;
  std::vector<double> rl(M, -1.0), rl_rows(M), loss(2), loss_rows(2);
  alto_opargs a = {};
  a.out = mode == 2 ? nullptr : mode == 1 ? (void *)lg2.data() : (void *)out.data();
  a.out2 = rl.data(), a.out3 = loss.data(), a.in = mode == 1 ? lg2.data() : lg.data(), a.ids = tg.data(), a.rows = M, a.cols = V;
  run([](const alto_opargs &x) { alto_ce_count<NT>((double *)x.out3, x.ids, x.rows); }, a, 1, 1, NT);
  run_cl([](const alto_opargs &x) { alto_ce_rows_cl<CL, NT, VEC, ROWS>((alto_u16 *)x.out, (double *)x.out2, (const alto_u16 *)x.in, x.ids, (const double *)x.out3, x.rows, x.cols); },
         a, (unsigned)(CL * ((M + ROWS - 1) / ROWS)), 1, NT, CL, 32 * NT * VEC + 1024);
  run([](const alto_opargs &x) { alto_ce_mean<NT>((double *)x.out3, (const double *)x.out2, x.rows); }, a, 1, 1, NT);
  alto_opargs b = a;
  b.out = mode == 2 ? nullptr : (void *)out_rows.data(), b.in = lg.data(), b.out2 = rl_rows.data(), b.out3 = loss_rows.data();
  run([](const alto_opargs &x) { alto_ce_count<NT>((double *)x.out3, x.ids, x.rows); }, b, 1, 1, NT);
  run([](const alto_opargs &x) { alto_ce_rows<true, NT>(x.out, (double *)x.out2, x.in, x.ids, (const double *)x.out3, x.cols); }, b, (unsigned)M, 1, NT);
  const uint16_t *got = mode == 1 ? lg2.data() : out.data();
  int64_t bad_d = 0, differ_cpu = 0, differ_rows = 0, bad_rl = 0;
  double inv_n = n_valid ? 1.0 / (double)n_valid : 0;
  for (int64_t m = 0; m < M; m++) {
    double ref = 0;
    if (tg[m] >= 0) {
      const float *l = lf.data() + m * V;
      float mx = -INFINITY;
      for (int64_t v = 0; v < V; v++) mx = l[v] > mx ? l[v] : mx;
      double sm = 0;
      for (int64_t v = 0; v < V; v++) sm += exp((double)(l[v] - mx));
      ref = (double)mx + log(sm) - (double)l[tg[m]];
    }
    double tol = (double)V * ldexp(1, -50) + ldexp(fabs(ref) + 64, -50);
    bool ok = fabs(rl[m] - ref) <= tol || (isnan(rl[m]) && isnan(ref));
    if (!ok && bad_rl < 3) printf("     row %lld: loss %.17g cpu %.17g\n", (long long)m, rl[m], ref);
    bad_rl += !ok;
  }
  if (mode != 2)
    for (int64_t i = 0; i < M * V; i++) {
      float g = alto_bf16_to_f32(got[i]), r = alto_bf16_to_f32(alto_f32_to_bf16(dref[i]));
      if (!((isnan(g) && isnan(r)) || alto_f32_bits(g) == alto_f32_bits(r))) {
        differ_cpu++;
        double tol = ldexp(fabs((double)dref[i]) + inv_n, -22) + ldexp(fmax(fabs(r), fabs(g)), -7);
        if (!(fabs((double)g - r) <= tol)) {
          if (bad_d < 3) printf("     element %lld: %a cpu %a\n", (long long)i, g, r);
          bad_d++;
        }
      }
      differ_rows += got[i] != out_rows[i] && !(isnan(alto_bf16_to_f32(got[i])) && isnan(alto_bf16_to_f32(out_rows[i])));
    }
  bool guard = true;
  for (int i = 0; i < 16; i++) guard &= out[M * V + i] == 0xA5A5 && lg2[M * V + i] == lg[M * V + i];
  bool loss_ok = fabs(loss[0] - loss_ref) <= 1e-12 * (fabs(loss_ref) + 1) || (isnan(loss[0]) && isnan(loss_ref));
  char w[160];
  snprintf(w, sizeof w, "ce_rows_cl<%d, %d, %d> M %lld V %lld %s: dlogits %lld differ from the CPU (%lld out of bounds), %lld from the rows kernel",
           CL, NT, VEC, (long long)M, (long long)V, mode == 1 ? "in place" : mode == 2 ? "forward" : "apart", (long long)differ_cpu,
           (long long)bad_d, (long long)differ_rows);
  report(w, bad_d == 0 && bad_rl == 0 && guard && loss_ok && differ_rows <= (M * V) / 100000 && loss[1] == (double)n_valid);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--sigmoid-table") == 0)
    return print_sigmoid_table();
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
  elementwise_case<true>(65536 + 8 * 1000 + 5, 0);
  elementwise_case<true>(1003, 1);
  elementwise_case<false>(8 * 1000 + 5, 0);
  elementwise_case<false>(1003, 3);
  rope_case<true, 64, 64>(37, 16, 4, false);
  rope_case<false, 128, 64>(37, 50, 3, true);
  rope_case<true, 128, 64>(37, 50, 3, false);
  rope_case<true, 6, 4>(37, 16, 4, false);
  embed_bwd_case<true>(300, 72, 50);
  embed_bwd_case<false>(300, 13, 50);
  ce_case<4, 64, 4>(29, 5000, 0);
  ce_case<4, 64, 4>(29, 8192 - 40, 1);
  ce_case<2, 64, 4>(21, 4096, 2);
  ce_case<1, 64, 2>(21, 1001, 0);
  return bad != 0;
}
