// quant_host_emu.cpp (ctest: test_quant_host_emu): a GPU-less check of the quantization templates,
// as tests/ops_host_emu.cpp is for the ops templates: each CTA runs as NT pthreads with barriers,
// warp shuffles go through per-warp slots. Against the CPU reference (alto_cpu_quantize), codes and
// scales byte for byte, with guard bytes after every output:
//   - quant_codes.cuh's E2M1 cast against alto_e2m1_rne_nonan_ on every non-NaN fp32 pattern, and
//     its fp32 division of fast NVFP4 / FP8 blocks against the fp32 division;
//   - quant_rows.cuh (1xB along K): MX every rule, SR, NVFP4 (one- and two-level), fp8_block;
//   - quant_cols.cuh (Bx1 along M, BxB): MX, NVFP4, both packings, SR; column tails, rows that are
//     not 16-byte aligned;
//   - quant_tile128.cuh (fp8_block 128x1, 128x128);
//   - quant_scaled.cuh: rowwise FP8 (registers, two-read and element paths), tensorwise FP8 with
//     its amax pass;
// on 2-D and 3-D shapes with NaN / Inf / zero blocks. The host build takes the header's scalar FP8
// cast (no cvt instruction here), so this checks the tiling, reductions, masks and packing;
// tests/test_quant_gpu.c remains the real check. By hand: build/test_quant_host_emu [GROUP]...
// (e2m1 div rows cols tile128 tcopy dual128 xdual swiglu mx_tile swiglu_bwd requant scaled rht
// dequant).
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
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(x)
#define __align__(n) __attribute__((aligned(n)))
template <class T> static inline T __ldg(const T *p) { return *p; }
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
static void __syncwarp() { pthread_barrier_wait(&warp_bar[threadIdx.x >> 5]); }
static unsigned shfl_slot[32][32];
static unsigned shfl_bits(unsigned v, int m) {
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  shfl_slot[w][l] = v;
  pthread_barrier_wait(&warp_bar[w]);
  unsigned r = shfl_slot[w][l ^ m];
  pthread_barrier_wait(&warp_bar[w]);
  return r;
}
static float __shfl_xor_sync(unsigned, float v, int m, int) {
  unsigned b;
  memcpy(&b, &v, 4);
  b = shfl_bits(b, m);
  memcpy(&v, &b, 4);
  return v;
}
static unsigned __shfl_xor_sync(unsigned, unsigned v, int m, int) { return shfl_bits(v, m); }
static int __shfl_xor_sync(unsigned, int v, int m, int) { return (int)shfl_bits((unsigned)v, m); }
static inline int max(int a, int b) { return a > b ? a : b; }
/* PTX prmt (default mode): byte i of the result is byte (s >> 4i) & 7 of {b, a}, or with bit 3 of
 * that nibble set, that byte's sign bit replicated */
static unsigned __byte_perm(unsigned a, unsigned b, unsigned s) {
  const unsigned long long v = ((unsigned long long)b << 32) | a;
  unsigned r = 0;
  for (int i = 0; i < 4; i++) {
    const unsigned sel = (s >> (4 * i)) & 0xF, byte = (unsigned)(v >> (8 * (sel & 7))) & 0xFF;
    r |= ((sel & 8) ? ((byte & 0x80) ? 0xFFu : 0u) : byte) << (8 * i);
  }
  return r;
}
static pthread_mutex_t atomic_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned atomicMax(unsigned *p, unsigned v) {
  pthread_mutex_lock(&atomic_mu);
  unsigned o = *p;
  if (v > o)
    *p = v;
  pthread_mutex_unlock(&atomic_mu);
  return o;
}

static double __dsqrt_rn(double x) { return sqrt(x); } /* (ops/ops_common.cuh) */
static float __fsqrt_rn(float x) { return sqrtf(x); }

#define __shared__ static
#define ALTO_DYN_SMEM(T, name) static __attribute__((aligned(16))) T name[65536 / sizeof(T)]
#include "quant/quant_cols.cuh"
#include "quant/quant_rows.cuh"
#include "quant/quant_scaled.cuh"
#include "quant/quant_tile128.cuh"
#include "quant/quant_rht.cuh"
#include "quant/dequant.cuh"
#include "quant/quant_rows_swiglu.cuh"
#include "quant/quant_dual_swiglu_bwd.cuh"

extern "C" {
#include "runtime/cpu/ops.h"
#include "runtime/cpu/quant.h"
}

#include <functional>
typedef std::function<void()> kern_fn;
struct launch {
  const kern_fn *f;
  unsigned bx, by, bz, tid;
};
static void *thread_main(void *p) {
  launch *L = (launch *)p;
  threadIdx = {L->tid, 0, 0};
  blockIdx = {L->bx, L->by, L->bz};
  (*L->f)();
  return NULL;
}
// One CTA at a time (the templates' shared arrays are function statics here).
static void run(const kern_fn &f, unsigned gx, unsigned gy, unsigned nt, unsigned gz = 1) {
  gridDim = {gx, gy, gz}, blockDim = {nt, 1, 1};
  pthread_barrier_init(&cta_bar, NULL, nt);
  for (unsigned w = 0; w < nt / 32; w++)
    pthread_barrier_init(&warp_bar[w], NULL, 32);
  std::vector<pthread_t> th(nt);
  std::vector<launch> L(nt);
  for (unsigned z = 0; z < gz; z++)
    for (unsigned y = 0; y < gy; y++)
      for (unsigned x = 0; x < gx; x++) {
        for (unsigned t = 0; t < nt; t++) {
          L[t] = {&f, x, y, z, t};
          pthread_create(&th[t], NULL, thread_main, &L[t]);
        }
        for (unsigned t = 0; t < nt; t++)
          pthread_join(th[t], NULL);
      }
  pthread_barrier_destroy(&cta_bar);
  for (unsigned w = 0; w < nt / 32; w++)
    pthread_barrier_destroy(&warp_bar[w]);
}
static unsigned cdiv(int64_t a, int64_t b) { return (unsigned)((a + b - 1) / b); }

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
static int bad = 0, checks = 0;

// ---- the E2M1 cast on every non-NaN pattern ---------------------------------------------------------
static void *e2m1_range(void *p) {
  const uint32_t lo = *(uint32_t *)p;
  uintptr_t bad_n = 0;
  for (uint64_t h = lo; h < 0x80000000ull; h += 2) // half the magnitudes each, both signs
    for (uint32_t sgn = 0; sgn < 2; sgn++) {
      uint32_t b = (uint32_t)h | (sgn << 31);
      if ((b & 0x7FFFFFFFu) > 0x7F800000u)
        continue;
      if (alto_e2m1_code_(b) != alto_e2m1_rne_nonan_(b) && bad_n++ < 4)
        printf("  e2m1 0x%08x: %x vs %x\n", b, alto_e2m1_code_(b), alto_e2m1_rne_nonan_(b));
      // the FMA-pipe path from h = q / 2 (exact, or below 2^-126 where q's code is 0)
      const alto_u32 mh = alto_e2m1_mag_h_(alto_f32_from_bits(b) * 0.5f);
      if (mh - 0x4B000000u != (alto_e2m1_rne_nonan_(b) & 7u) && bad_n++ < 4)
        printf("  e2m1 (h) 0x%08x: 0x%x vs %x\n", b, mh, alto_e2m1_rne_nonan_(b));
    }
  return (void *)bad_n;
}
// fn over two halves of a range on two threads (lo[i]: where thread i starts): the summed counts.
static uintptr_t on_two_threads_(void *(*fn)(void *), alto_u32 lo0, alto_u32 lo1) {
  alto_u32 lo[2] = {lo0, lo1};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, fn, &lo[i]);
  uintptr_t n = 0;
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(th[i], &r);
    n += (uintptr_t)r;
  }
  return n;
}
static void check_e2m1() {
  const uintptr_t n = on_two_threads_(e2m1_range, 0, 1);
  printf("%s E2M1 code on every non-NaN fp32 pattern (%lu differ)\n", n ? "FAIL" : "ok  ",
         (unsigned long)n);
  bad += n != 0;
  checks++;
}

// quant_codes.cuh's SR codes against alto_f32_to_e2m1_sr at their decision boundary: the integer
// path (alto_e2m1_sr_code_, of q's bits) and the FMA-pipe one (alto_e2m1_sr_mag_h_, of h = q / 2;
// its magnitude, the sign taken from q). For a pattern whose threshold a helper takes to be t,
// u = t - 1 must round up and u = t down in the reference too (so both thresholds are equal and
// agree for every u), plus u = 0, 2^32-1 and 4 random words. Every 61st non-NaN fp32 pattern of
// both signs, all of them with ALTO_EMU_FULL=1 (by hand: ~10 min).
static alto_u32 sr_int_(alto_u32 b, alto_u32 u) { return alto_e2m1_sr_code_(b, u); }
static alto_u32 sr_fma_(alto_u32 b, alto_u32 u) {
  return (alto_e2m1_sr_mag_h_(alto_f32_from_bits(b) * 0.5f, u) - 0x4B000000u) | ((b >> 28) & 8u);
}
static void *sr_range(void *arg) {
  const alto_u32 lo = *(alto_u32 *)arg, step = getenv("ALTO_EMU_FULL") ? 2u : 122u;
  uintptr_t nb = 0;
  alto_u64 rs = 0x9E3779B97F4A7C15ull ^ lo;
  for (alto_u64 b = lo; b <= 0xFFFFFFFFull; b += step) {
    if ((b & 0x7FFFFFFFu) > 0x7F800000u)
      continue;
    const float x = alto_f32_from_bits((alto_u32)b);
    for (int f = 0; f < 2; f++) {
      alto_u32 (*fn)(alto_u32, alto_u32) = f ? sr_fma_ : sr_int_;
      alto_u32 t = 0; // the threshold the helper uses: the smallest u that does not round up
      const alto_u32 down = fn((alto_u32)b, 0xFFFFFFFFu);
      if (fn((alto_u32)b, 0u) != down) { // binary search of the boundary
        alto_u64 l = 0, h = 0xFFFFFFFFull;
        while (l + 1 < h) {
          const alto_u64 m = (l + h) / 2;
          (fn((alto_u32)b, (alto_u32)m) != down ? l : h) = m;
        }
        t = (alto_u32)h;
      }
      alto_u32 us[8] = {0u, t ? t - 1u : 0u, t, 0xFFFFFFFFu};
      for (int i = 4; i < 8; i++) {
        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        us[i] = (alto_u32)(rs >> 32);
      }
      for (int i = 0; i < 8; i++) {
        const alto_u32 got = fn((alto_u32)b, us[i]), want = alto_f32_to_e2m1_sr(x, us[i]);
        if (got != want && nb++ < 4)
          printf("  sr %s 0x%08x u 0x%08x: %x vs %x\n", f ? "fma" : "int", (alto_u32)b, us[i], got,
                 want);
      }
    }
  }
  return (void *)nb;
}
static void check_e2m1_sr() {
  const uintptr_t n = on_two_threads_(sr_range, 0, 61);
  printf("%s E2M1 SR codes (integer and FMA-pipe paths) at the decision boundary of %s non-NaN fp32 "
         "pattern (%lu differ)\n",
         n ? "FAIL" : "ok  ", getenv("ALTO_EMU_FULL") ? "every" : "every 61st", (unsigned long)n);
  bad += n != 0;
  checks++;
}

// quant_codes.cuh's fp32 division of fast blocks (alto_block_q_ with ALTO_DIV_F32) against the fp32
// division alto_numerics.h makes: every bf16 significand x 2^16 divisor significands (the full
// 2^23 of them took 2^30 pairs once, with 0 differences), every fp32 significand x every E4M3
// significand, 2e7 random pairs over quotients 2^-60 .. 2^83 and 1e7 pairs within 2 ulps of a
// rounding midpoint; and NVFP4 / FP8 blocks that must not be fast (Inf blocks, extreme divisors).
static long div_check_(float v, float k, long *n) {
  alto_block_enc b;
  b.nan = false, b.fast = true, b.k = k, b.y = ALTO_FDIV(1.0f, k), b.r = 0.0;
  const float got = alto_block_q_<ALTO_QK_FP8_BLOCK, ALTO_DIV_F32>(v, b), want = ALTO_FDIV(v, k);
  ++*n;
  return alto_f32_bits(got) != alto_f32_bits(want);
}
static void check_div() {
  long n = 0, nb = 0;
  for (alto_u32 km = 0; km < (1u << 23); km += 128)
    for (alto_u32 vm = 0; vm < 256; vm++) // both signs
      nb += div_check_(alto_f32_from_bits(((vm & 128u) << 24) | 0x3F800000u | ((vm & 127u) << 16)),
                       alto_f32_from_bits(0x3F800000u | km | (km >> 7 & 127u)), &n);
  for (alto_u32 km = 0; km < 8; km++)
    for (alto_u32 vm = 0; vm < (1u << 23); vm++)
      nb += div_check_(alto_f32_from_bits(0x3F800000u | vm), alto_f32_from_bits(0x3F800000u | km << 20), &n);
  alto_u64 s = 88172645463325252ull;
  for (long i = 0; i < 20000000L; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    const float v = ldexpf(alto_f32_from_bits(0x3F800000u | (alto_u32)(s & 0x7FFFFFu)), (int)(s >> 46 & 63) - 20);
    const float k = ldexpf(alto_f32_from_bits(0x3F800000u | (alto_u32)(s >> 23 & 0x7FFFFFu)), (int)(s >> 52 & 63) - 40);
    nb += div_check_((s >> 45 & 1) ? -v : v, k, &n);
  }
  for (long i = 0; i < 2000000L; i++) { // x / k within 2 ulps of a midpoint M / 2^24 (M odd)
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    const alto_u64 D = (1u << 23) | (s & 0x7FFFFFu), M = (1ull << 24) | (s >> 23 & 0xFFFFFFu) | 1u;
    const unsigned __int128 P = (unsigned __int128)M * D;
    int sh = 0;
    while ((P >> sh) >= ((unsigned __int128)1 << 24))
      sh++;
    for (int dx = -2; dx <= 2; dx++) {
      const alto_i64 X = (alto_i64)(P >> sh) + dx;
      if (X >= (1 << 23) && X < (1 << 24))
        nb += div_check_(alto_f32_from_bits(0x3F800000u | ((alto_u32)X & 0x7FFFFFu)),
                         alto_f32_from_bits(0x3F800000u | ((alto_u32)D & 0x7FFFFFu)), &n);
    }
  }
  // blocks the fp32 path must leave to fp64: an NVFP4 Inf block (inner 448), divisors out of range
  const bool slow_ok = !alto_block_enc_make<ALTO_QK_NVFP4>(0x7Eu, 1.0f).fast &&
                       !alto_block_enc_make<ALTO_QK_NVFP4>(0x01u, 1e-30f).fast &&
                       alto_block_enc_make<ALTO_QK_NVFP4>(0x7Du, 1.0f).fast &&
                       !alto_block_enc_make<ALTO_QK_FP8_BLOCK>(alto_f32_bits(INFINITY), 1.0f).fast &&
                       !alto_block_enc_make<ALTO_QK_FP8_BLOCK>(alto_f32_bits(NAN), 1.0f).fast &&
                       !alto_block_enc_make<ALTO_QK_FP8_BLOCK>(alto_f32_bits(0x1p126f), 1.0f).fast &&
                       alto_block_enc_make<ALTO_QK_FP8_BLOCK>(alto_f32_bits(0x1p-48f), 1.0f).fast;
  // the NVFP4 inner scale (alto_nvfp4_inner_) and divisor: every non-NaN amax pattern, for the
  // outer scales 1, a two-level one and the smallest (1e-30)
  long ni = 0;
  const float outers[3] = {1.0f, 0x1.3p-9f, 1e-30f};
  for (alto_u64 b = 0; b < 0x80000000ull; b += 3) {
    const float amax = alto_f32_from_bits((alto_u32)b);
    for (int o = 0; o < 3; o++) {
      const alto_u8 want = alto_nvfp4_inner(amax, outers[o]);
      ni += alto_nvfp4_inner_(amax, outers[o]) != want;
      ni += alto_f32_bits(alto_e4m3_val_(want)) != alto_f32_bits(alto_e4m3_to_f32(want));
    }
  }
  printf("%s fp32 division of fast blocks: %ld pairs, %ld differ; fast-block choice %s; NVFP4 "
         "inner scale of every 3rd amax pattern x 3 outer scales: %ld differ\n",
         nb || !slow_ok || ni ? "FAIL" : "ok  ", n, nb, slow_ok ? "ok" : "WRONG", ni);
  bad += nb != 0 || !slow_ok || ni != 0;
  checks++;
}

// The bf16x2 MX path against alto_mx_encode_inv: every non-NaN bf16 pattern in either half, every
// finite E2M1 scale (s = 1..253), through the host model of the bf16x2 instructions.
static void check_e2m1_bf16x2() {
  long n_bad = 0;
  for (alto_u32 s = 1; s <= 253; s++) {
    const float inv = alto_e8m0_inv_f32((alto_u8)s);
    const alto_u32 inv2 = alto_pow2_bf16x2_(inv, inv);
    for (alto_u32 h = 0; h < 0x10000u; h++) {
      if ((h & 0x7FFFu) > 0x7F80u)
        continue; // NaN: its block is NaN, masked
      const alto_u32 other = (h * 40503u + s) & 0xFFFFu;
      const alto_u32 lo_ok = (other & 0x7FFFu) <= 0x7F80u;
      const alto_u32 w = h | (lo_ok ? other << 16 : 0u);
      const alto_u32 t = alto_mx_e2m1x2_bf16_(w, inv2);
      const alto_u32 want = alto_mx_encode_inv(alto_bf16_to_f32((alto_u16)h), inv, ALTO_ELEM_E2M1);
      const alto_u32 want_hi =
          alto_mx_encode_inv(alto_bf16_to_f32((alto_u16)(w >> 16)), inv, ALTO_ELEM_E2M1);
      if (((t & 0xFu) != want || ((t >> 16) & 0xFu) != want_hi) && n_bad++ < 4)
        printf("  bf16x2 s %u x 0x%04x: 0x%x vs 0x%x / 0x%x\n", s, h, t, want, want_hi);
    }
  }
  printf("%s E2M1 bf16x2 (MX) on every bf16 pattern and scale (%ld differ)\n", n_bad ? "FAIL" : "ok  ",
         n_bad);
  bad += n_bad != 0;
  checks++;
}

// ---- inputs and the comparison -------------------------------------------------------------------------
// The [rows, cols] matrix a (elements of T) transposed, [cols, rows].
template <class T> static std::vector<T> transposed_(const T *a, int64_t rows, int64_t cols) {
  std::vector<T> t((size_t)(rows * cols));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++)
      t[(size_t)(c * rows + r)] = a[r * cols + c];
  return t;
}

struct input {
  int64_t E, R, C;
  bool bf16;
  std::vector<float> xf;
  std::vector<uint16_t> xb;
  alto_tensor_view view() const {
    alto_tensor_view x;
    memset(&x, 0, sizeof x);
    x.data = bf16 ? (const void *)xb.data() : (const void *)xf.data();
    x.dtype = bf16 ? ALTO_ELEM_BF16 : ALTO_ELEM_F32;
    x.ndim = E > 1 ? 3 : 2;
    if (E > 1)
      x.dims[0] = E, x.dims[1] = R, x.dims[2] = C;
    else
      x.dims[0] = R, x.dims[1] = C;
    return x;
  }
  const void *data() const { return bf16 ? (const void *)xb.data() : (const void *)xf.data(); }
};
// randn with outliers, tiny / huge / subnormal values; specials: a NaN, +-Inf, zero blocks.
static input make_input(int64_t E, int64_t R, int64_t C, bool bf16, bool specials) {
  input in{E, R, C, bf16, {}, {}};
  const int64_t rows = E * R, n = rows * C;
  in.xf.resize(n);
  in.xb.resize(n);
  for (int64_t i = 0; i < n; i++)
    in.xf[i] = nrm() * (u32() % 200 == 0 ? 100.0f : 1.0f);
  for (int64_t i = 0; i < n; i++)
    if (u32() % 997 == 0)
      in.xf[i] = ldexpf(nrm(), (int)(u32() % 200) - 140);
  if (specials) {
    in.xf[5 % rows * C + 3] = NAN;
    in.xf[(200 % rows) * C + C - 1] = INFINITY;
    in.xf[(201 % rows) * C + C - 1] = -INFINITY;
    in.xf[(7 % rows) * C + C / 2] = -0.0f;
    if (C > 130)
      for (int64_t r = 0; r < rows && r < 128; r++)
        in.xf[r * C + 130] = 0.0f; // an all-zero column (block)
    if (C >= 256)
      for (int64_t r = 0; r < rows && r < 128; r++)
        for (int64_t c = 128; c < 256; c++)
          in.xf[r * C + c] = 0.0f; // all-zero 2-D blocks
  }
  for (int64_t i = 0; i < n; i++) {
    in.xb[i] = alto_f32_to_bf16(in.xf[i]);
    if (bf16)
      in.xf[i] = alto_bf16_to_f32(in.xb[i]);
  }
  return in;
}

struct outputs {
  std::vector<alto_u8> codes;
  std::vector<alto_u8> scales;
  float outer = 1.0f;
  alto_u32 amax = 0;
  outputs(const alto_quantized &ref) {
    codes.assign(ref.layout.codes_bytes + 64, 0x5A);
    scales.assign(ref.layout.scale_count * ref.layout.scale_bytes + 64, 0xA5);
  }
};

static void compare(const char *what, const input &in, const alto_quantized &ref,
                    const outputs &o) {
  const int64_t nc = ref.layout.codes_bytes, ns = ref.layout.scale_count * ref.layout.scale_bytes;
  int64_t dc = -1, ds = -1;
  for (int64_t i = 0; i < nc && dc < 0; i++)
    if (o.codes[i] != ref.codes[i])
      dc = i;
  for (int64_t i = 0; i < ns && ds < 0; i++)
    if (o.scales[i] != ((const alto_u8 *)ref.scales)[i])
      ds = i;
  bool guards = true;
  for (int i = 0; i < 64; i++)
    guards &= o.codes[nc + i] == 0x5A && o.scales[ns + i] == 0xA5;
  bool outer_ok = memcmp(&o.outer, &ref.outer, 4) == 0;
  bool ok = dc < 0 && ds < 0 && guards && outer_ok;
  printf("%s %-44s %s [%lld x %lld x %lld]", ok ? "ok  " : "FAIL", what, in.bf16 ? "bf16" : "f32 ",
         (long long)in.E, (long long)in.R, (long long)in.C);
  if (dc >= 0)
    printf("  codes differ at %lld: cpu 0x%02x emu 0x%02x", (long long)dc, ref.codes[dc],
           o.codes[dc]);
  if (ds >= 0)
    printf("  scales differ at %lld", (long long)ds);
  if (!guards)
    printf("  wrote past its outputs");
  if (!outer_ok)
    printf("  outer %a vs %a", o.outer, ref.outer);
  printf("\n");
  bad += !ok;
  checks++;
}

static bool reference(const alto_quant_spec &spec, const input &in, alto_quantized *ref) {
  alto_tensor_view x = in.view();
  if (alto_cpu_quantize(&spec, &x, ref) != ALTO_OK) {
    printf("FAIL cpu: %s\n", alto_last_error());
    bad++;
    return false;
  }
  return true;
}

// The tensor amax pass (256 threads, the generator's grid) and, for NVFP4, the outer scale.
template <bool BF16> static void emu_amax(const input &in, outputs &o) {
  const int64_t n = in.E * in.R * in.C;
  const void *x = in.data();
  alto_u32 *ab = &o.amax;
  unsigned g = cdiv(n, 256 * 32);
  run([=] { alto_tensor_amax<BF16, 256>(x, n, ab); }, g < 1024 ? g : 1024, 1, 256);
}

// ---- quant_rows.cuh --------------------------------------------------------------------------------------
// SCALES_T (fp8_block, E = 1): the scales written MN-major, compared with the CPU's transposed.
template <int KIND, int ELEM, int B, bool BF16, int RULE, bool SR, bool SCALES_T = false>
static void rows_case(const char *what, alto_quant_spec spec, int64_t E, int64_t R, int64_t C) {
  input in = make_input(E, R, C, BF16, !spec.two_level);
  alto_quantized ref;
  if (!reference(spec, in, &ref))
    return;
  outputs o(ref);
  const int64_t n = E * R * C;
  if (spec.two_level) {
    emu_amax<BF16>(in, o);
    o.outer = alto_nvfp4_outer(alto_f32_from_bits(o.amax), 1);
  }
  const void *x = in.data();
  alto_u8 *codes = o.codes.data();
  void *scales = o.scales.data();
  const float *outer = KIND == ALTO_QK_NVFP4 ? &o.outer : nullptr;
  const alto_u64 seed = spec.seed, stream = spec.stream;
  const int64_t rows = E * R, cols = C;
  // elements per thread: as compiler/gen.c's alto_gen_rows_per_thread_
  constexpr int PER = (KIND == ALTO_QK_NVFP4 && B == 16 && BF16 && !SR) ? 32 : 16;
  run([=] {
    alto_quant_rows<KIND, ELEM, B, BF16, RULE, SR, SCALES_T, PER>(x, codes, scales, outer, n, seed,
                                                                 stream, rows, cols);
  }, cdiv(n, 256 * PER), 1, 256);
  if (SCALES_T) { // the reference's [rows, cols / B] grid as [cols / B, rows]
    const std::vector<float> t = transposed_((const float *)ref.scales, rows, C / B);
    memcpy(ref.scales, t.data(), t.size() * 4);
  }
  compare(what, in, ref, o);
  alto_quantized_free(&ref);
}

template <bool BF16> static void rows_all() {
  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  rows_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, BF16, ALTO_SCALE_EVEN, false>("rows mxfp4 even", s, 1, 96, 1056);
  s.rule = ALTO_SCALE_UOS;
  rows_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, BF16, ALTO_SCALE_UOS, false>("rows mxfp4 uos", s, 3, 32, 1056);
  s.rule = ALTO_SCALE_EVEN, s.sr = true, s.seed = 0x5EED, s.stream = 77;
  rows_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, BF16, ALTO_SCALE_EVEN, true>("rows mxfp4 sr", s, 1, 64, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E4M3);
  s.rule = ALTO_SCALE_FLOOR;
  rows_case<ALTO_QK_MX, ALTO_ELEM_E4M3, 32, BF16, ALTO_SCALE_FLOOR, false>("rows mxfp8 e4m3 floor", s, 1, 96, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E5M2);
  s.rule = ALTO_SCALE_RCEIL;
  rows_case<ALTO_QK_MX, ALTO_ELEM_E5M2, 32, BF16, ALTO_SCALE_RCEIL, false>("rows mxfp8 e5m2 rceil", s, 2, 48, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  rows_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, BF16, ALTO_SCALE_EVEN, false>("rows nvfp4", s, 1, 96, 1056);
  // an odd number of blocks: the last thread's second block lies past the tensor
  rows_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, BF16, ALTO_SCALE_EVEN, false>("rows nvfp4 odd blocks", s, 3, 1, 1040);
  s.two_level = true;
  rows_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, BF16, ALTO_SCALE_EVEN, false>("rows nvfp4 two-level", s, 1, 96, 1056);
  s.sr = true, s.seed = 7, s.stream = 11;
  rows_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, BF16, ALTO_SCALE_EVEN, true>("rows nvfp4 two-level sr", s, 1, 64, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  rows_case<ALTO_QK_FP8_BLOCK, ALTO_ELEM_E4M3, 128, BF16, ALTO_SCALE_EVEN, false>("rows fp8_block e4m3", s, 1, 96, 1152);
  s.elem = ALTO_ELEM_E5M2;
  rows_case<ALTO_QK_FP8_BLOCK, ALTO_ELEM_E5M2, 128, BF16, ALTO_SCALE_EVEN, false>("rows fp8_block e5m2", s, 3, 32, 1152);
  rows_case<ALTO_QK_FP8_BLOCK, ALTO_ELEM_E5M2, 128, BF16, ALTO_SCALE_EVEN, false, true>("rows fp8_block e5m2 scales MN-major", s, 1, 96, 1152);
}

// ---- quant_cols.cuh --------------------------------------------------------------------------------------
template <int KIND, int ELEM, int BR, int BC, bool BF16, int RULE, bool SR, bool PACK_ROWS>
static void cols_case(const char *what, alto_quant_spec spec, int64_t E, int64_t R, int64_t C) {
  input in = make_input(E, R, C, BF16, !spec.two_level);
  alto_quantized ref;
  if (!reference(spec, in, &ref))
    return;
  outputs o(ref);
  if (spec.two_level) {
    emu_amax<BF16>(in, o);
    o.outer = alto_nvfp4_outer(alto_f32_from_bits(o.amax), 1);
  }
  const void *x = in.data();
  alto_u8 *codes = o.codes.data();
  void *scales = o.scales.data();
  const float *outer = KIND == ALTO_QK_NVFP4 ? &o.outer : nullptr;
  const alto_u64 seed = spec.seed, stream = spec.stream;
  const int64_t cols = C;
  const int tw = 256 / (BR / 8) * (BF16 ? 8 : 4); // as compiler/gen.c's alto_gen_cols_width_
  run([=] {
    alto_quant_cols<KIND, ELEM, BR, BC, BF16, RULE, SR, PACK_ROWS, 256>(x, codes, scales, outer, cols, seed, stream);
  }, cdiv(C, tw), (unsigned)(E * R / BR), 256);
  compare(what, in, ref, o);
  alto_quantized_free(&ref);
}

template <bool BF16> static void cols_all() {
  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  s.axis = -2;
  cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 1, BF16, ALTO_SCALE_EVEN, false, true>("cols mxfp4 32x1", s, 1, 64, 1056);
  cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 1, BF16, ALTO_SCALE_EVEN, false, true>("cols mxfp4 32x1", s, 3, 32, 200);
  cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 1, BF16, ALTO_SCALE_EVEN, false, true>("cols mxfp4 32x1", s, 1, 64, 1030);
  s.block2d = true;
  cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 32, BF16, ALTO_SCALE_EVEN, false, true>("cols mxfp4 32x32 pack rows", s, 2, 64, 1056);
  s.sr = true, s.seed = 0x5EED, s.stream = 0xABCDEF0123ull;
  cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 32, BF16, ALTO_SCALE_EVEN, true, true>("cols mxfp4 32x32 pack rows sr", s, 1, 64, 1056);
  s.sr = false, s.axis = -1;
  cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 32, BF16, ALTO_SCALE_EVEN, false, false>("cols mxfp4 32x32 pack cols", s, 1, 96, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E4M3);
  s.axis = -2;
  cols_case<ALTO_QK_MX, ALTO_ELEM_E4M3, 32, 1, BF16, ALTO_SCALE_EVEN, false, false>("cols mxfp8 e4m3 32x1", s, 1, 64, 1056);
  cols_case<ALTO_QK_MX, ALTO_ELEM_E4M3, 32, 1, BF16, ALTO_SCALE_EVEN, false, false>("cols mxfp8 e4m3 32x1", s, 1, 64, 1030);
  s.rule = ALTO_SCALE_RCEIL;
  cols_case<ALTO_QK_MX, ALTO_ELEM_E4M3, 32, 1, BF16, ALTO_SCALE_RCEIL, false, false>("cols mxfp8 e4m3 32x1 rceil", s, 3, 32, 200);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E5M2);
  s.axis = -2, s.block2d = true;
  cols_case<ALTO_QK_MX, ALTO_ELEM_E5M2, 32, 32, BF16, ALTO_SCALE_EVEN, false, false>("cols mxfp8 e5m2 32x32", s, 1, 64, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  s.axis = -2, s.block2d = true, s.two_level = true;
  cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 16, BF16, ALTO_SCALE_EVEN, false, true>("cols nvfp4 16x16 two-level", s, 1, 96, 1056);
  s.two_level = false, s.axis = -1;
  cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 16, BF16, ALTO_SCALE_EVEN, false, false>("cols nvfp4 16x16 pack cols", s, 1, 64, 1056);
  s.axis = -2, s.block2d = false;
  cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 1, BF16, ALTO_SCALE_EVEN, false, true>("cols nvfp4 16x1", s, 1, 48, 1056);
  cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 1, BF16, ALTO_SCALE_EVEN, false, true>("cols nvfp4 16x1", s, 3, 16, 1030);
  s.sr = true, s.seed = 3, s.stream = 4;
  cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 1, BF16, ALTO_SCALE_EVEN, true, true>("cols nvfp4 16x1 sr", s, 1, 48, 1056);
}

// ---- quant_tile128.cuh -----------------------------------------------------------------------------------
// TRANS: the codes written transposed ([C, R], 2-D only), compared with the CPU's transposed.
template <int ELEM, int BC, bool BF16, bool TRANS = false>
static void tile128_case(int64_t E, int64_t R, int64_t C) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  spec.elem = (alto_elem)ELEM;
  spec.axis = -2;
  spec.block2d = BC == 128;
  input in = make_input(E, R, C, BF16, true);
  alto_quantized ref;
  if (!reference(spec, in, &ref))
    return;
  outputs o(ref);
  const void *x = in.data();
  alto_u8 *codes = o.codes.data();
  void *scales = o.scales.data();
  const int64_t cols = C;
  run([=] { alto_quant_tile128<ELEM, BC, BF16, BF16 ? 256 : 512, TRANS>(x, codes, scales, cols); },
      cdiv(C, 128), (unsigned)(E * R / 128), BF16 ? 256 : 512);
  if (TRANS) {
    const std::vector<alto_u8> t = transposed_(ref.codes, R, C);
    memcpy(ref.codes, t.data(), t.size());
  }
  char what[64];
  snprintf(what, sizeof what, "tile128 %s %s%s", ELEM == ALTO_ELEM_E4M3 ? "e4m3" : "e5m2",
           BC == 1 ? "128x1" : "128x128", TRANS ? " codes transposed" : "");
  compare(what, in, ref, o);
  alto_quantized_free(&ref);
}
// 128x128 with a transposed copy (TRANS_COPY): the codes and scales as the CPU's, the copies as the
// CPU's transposed.
template <bool BF16> static void tcopy_case(int64_t R, int64_t C) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  spec.axis = -2, spec.block2d = true;
  input in = make_input(1, R, C, BF16, true);
  alto_quantized ref;
  if (!reference(spec, in, &ref))
    return;
  outputs o(ref);
  std::vector<alto_u8> ct((size_t)(R * C) + 64, 0x5A);
  std::vector<float> st((size_t)((R / 128) * (C / 128)));
  const void *x = in.data();
  alto_u8 *codes = o.codes.data(), *codes2 = ct.data();
  void *scales = o.scales.data();
  float *scales2 = st.data();
  const int64_t cols = C;
  run([=] {
    alto_quant_tile128<ALTO_ELEM_E4M3, 128, BF16, BF16 ? 256 : 512, false, 0, false, true>(
        x, codes, scales, cols, nullptr, codes2, scales2);
  }, cdiv(C, 128), (unsigned)(R / 128), BF16 ? 256 : 512);
  compare("tile128 e4m3 128x128 + transposed copy", in, ref, o);
  const std::vector<alto_u8> want = transposed_(ref.codes, R, C);
  const std::vector<float> swant = transposed_((const float *)ref.scales, R / 128, C / 128);
  bool ok = memcmp(ct.data(), want.data(), want.size()) == 0 &&
            memcmp(st.data(), swant.data(), swant.size() * 4) == 0;
  for (int i = 0; i < 64; i++)
    ok &= ct[(size_t)(R * C) + i] == 0x5A;
  printf("%s %-44s %s [%lld x %lld]\n", ok ? "ok  " : "FAIL", "  the transposed copy", BF16 ? "bf16" : "f32 ",
         (long long)R, (long long)C);
  bad += !ok;
  checks++;
  alto_quantized_free(&ref);
}

// The CPU's dequantization of q (R x C) to bf16, as the input of the next quantization (what a
// DEQUANTIZE to bf16 writes); false, counted as a failure, when the CPU refuses.
static bool dequant_input_(const alto_quant_spec &spec, const alto_quantized &q, int64_t R,
                           int64_t C, input *y) {
  *y = input{
      1, R, C, true, std::vector<float>((size_t)(R * C)), std::vector<uint16_t>((size_t)(R * C))};
  if (alto_cpu_dequantize(&spec, &q, ALTO_ELEM_BF16, y->xb.data()) == ALTO_OK)
    return true;
  printf("FAIL cpu dequant: %s\n", alto_last_error());
  bad++;
  return false;
}

// Re-quantization (DQ_ELEM): 1x128 codes of a random x (the CPU's), dequantized to bf16 by the CPU
// and quantized 128x1 by the CPU, against the kernel reading the codes (scales row-major or
// MN-major), codes transposed (TRANS) or not.
template <int DQ_ELEM, bool DQ_SCALES_T, bool TRANS> static void requant_case(int64_t R, int64_t C) {
  alto_quant_spec from = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  from.elem = (alto_elem)DQ_ELEM;
  input in = make_input(1, R, C, true, true);
  alto_quantized src;
  if (!reference(from, in, &src))
    return;
  input y; // the DEQUANTIZE's bf16 output
  if (!dequant_input_(from, src, R, C, &y))
    return;
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  spec.axis = -2;
  alto_quantized ref;
  if (!reference(spec, y, &ref))
    return;
  outputs o(ref);
  const std::vector<float> xs =
      DQ_SCALES_T ? transposed_((const float *)src.scales, R, C / 128)
                  : std::vector<float>((const float *)src.scales, (const float *)src.scales + R * (C / 128));
  const void *x = src.codes;
  const float *x_scales = xs.data();
  alto_u8 *codes = o.codes.data();
  void *scales = o.scales.data();
  const int64_t cols = C;
  run([=] {
    alto_quant_tile128<ALTO_ELEM_E4M3, 1, true, 256, TRANS, DQ_ELEM, DQ_SCALES_T>(x, codes, scales,
                                                                                  cols, x_scales);
  }, cdiv(C, 128), (unsigned)(R / 128), 256);
  if (TRANS) {
    const std::vector<alto_u8> t = transposed_(ref.codes, R, C);
    memcpy(ref.codes, t.data(), t.size());
  }
  char what[80];
  snprintf(what, sizeof what, "requant %s 1x128%s -> 128x1%s", DQ_ELEM == ALTO_ELEM_E4M3 ? "e4m3" : "e5m2",
           DQ_SCALES_T ? " (MN-major)" : "", TRANS ? " transposed" : "");
  compare(what, y, ref, o);
  alto_quantized_free(&ref);
  alto_quantized_free(&src);
}

// The dual outputs against the CPU's: the 128x1 quantization ref with its codes transposed (o), and
// the 1x128 one rref (o2, its scales MN-major when rows_copy is 2). ref and rref are laid out so.
static void compare_dual_(const char *what, const input &in, alto_quantized &ref, const outputs &o,
                          alto_quantized &rref, const outputs &o2, int rows_copy) {
  const int64_t R = in.R, C = in.C;
  const std::vector<alto_u8> t = transposed_(ref.codes, R, C);
  memcpy(ref.codes, t.data(), t.size());
  if (rows_copy == 2) { // the CPU's row-major [R, C / 128] scales as the kernel writes them
    const std::vector<float> st = transposed_((const float *)rref.scales, R, C / 128);
    memcpy(rref.scales, st.data(), st.size() * 4);
  }
  char w[96];
  snprintf(w, sizeof w, "%s 128x1 transposed", what);
  compare(w, in, ref, o);
  snprintf(w, sizeof w, "%s 1x128%s", what, rows_copy == 2 ? " (MN-major scales)" : "");
  compare(w, in, rref, o2);
}

// Runs the 1x128 / 128x1 dual tile kernel on in's R x C bf16: the 128x1 copy (codes transposed)
// into o, the 1x128 row copy (ROWS_COPY 1 or 2: scales row-major or MN-major) into o2; RQ: the
// 128x1 copy of the row copy's bf16 dequantization (the forward X's kernel).
template <int ELEM, int ROWS_COPY, bool RQ>
static void run_dual128_(const input &in, outputs &o, outputs &o2, int64_t R, int64_t C) {
  const void *x = in.data();
  alto_u8 *codes = o.codes.data(), *codes2 = o2.codes.data();
  void *scales = o.scales.data();
  float *scales2 = (float *)o2.scales.data();
  const int64_t cols = C;
  run([=] {
    alto_quant_tile128<ELEM, 1, true, 256, true, 0, false, false, ROWS_COPY, false, RQ>(
        x, codes, scales, cols, nullptr, codes2, scales2);
  }, cdiv(C, 128), (unsigned)(R / 128), 256);
}

// The dual kernel of dY (ROWS_COPY): 128x1 codes transposed and scales as the CPU's 128x1, and the
// 1x128 copy (codes2, scales2 row-major or MN-major: ROWS_COPY 1 or 2) as the CPU's 1x128.
template <int ELEM, int ROWS_COPY> static void dual128_case(int64_t R, int64_t C) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), rspec = spec;
  spec.elem = rspec.elem = (alto_elem)ELEM;
  spec.axis = -2;
  input in = make_input(1, R, C, true, true);
  alto_quantized ref, rref;
  if (!reference(spec, in, &ref) || !reference(rspec, in, &rref))
    return;
  outputs o(ref), o2(rref);
  run_dual128_<ELEM, ROWS_COPY, false>(in, o, o2, R, C);
  compare_dual_(ELEM == ALTO_ELEM_E4M3 ? "dual e4m3" : "dual e5m2", in, ref, o, rref, o2,
                ROWS_COPY);
  alto_quantized_free(&ref);
  alto_quantized_free(&rref);
}

// The forward's X of an fp8_block linear (ROWS_COPY with ROWS_RQ): the 1x128 copy as the CPU's
// 1x128 of x (o2: codes2, scales2 row-major or MN-major), and the 128x1 codes (transposed) and
// scales as the CPU's 128x1 of that copy dequantized to bf16: the wgrad X's re-quantization.
template <int ELEM, int ROWS_COPY> static void xdual_case(int64_t R, int64_t C) {
  alto_quant_spec rspec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), spec = rspec;
  rspec.elem = spec.elem = (alto_elem)ELEM;
  spec.axis = -2;
  input in = make_input(1, R, C, true, true);
  alto_quantized rref, ref;
  if (!reference(rspec, in, &rref))
    return;
  input y; // the DEQUANTIZE's bf16 output
  if (!dequant_input_(rspec, rref, R, C, &y))
    return;
  if (!reference(spec, y, &ref))
    return;
  outputs o(ref), o2(rref);
  run_dual128_<ELEM, ROWS_COPY, true>(in, o, o2, R, C);
  const std::vector<alto_u8> t = transposed_(ref.codes, R, C);
  memcpy(ref.codes, t.data(), t.size());
  if (ROWS_COPY == 2) {
    const std::vector<float> st = transposed_((const float *)rref.scales, R, C / 128);
    memcpy(rref.scales, st.data(), st.size() * 4);
  }
  const char *e = ELEM == ALTO_ELEM_E4M3 ? "e4m3" : "e5m2";
  char w[96];
  snprintf(w, sizeof w, "xdual %s 1x128%s", e, ROWS_COPY == 2 ? " (MN-major scales)" : "");
  compare(w, in, rref, o2);
  snprintf(w, sizeof w, "xdual %s 128x1 of its dequantization, transposed", e);
  compare(w, y, ref, o);
  alto_quantized_free(&ref);
  alto_quantized_free(&rref);
}

// SwiGLU backward + both outputs' dual dY quantization (quant_dual_swiglu_bwd.cuh): da and db from
// the CPU's SwiGLU backward rounded to bf16, each quantized 128x1 (codes transposed) and 1x128 by
// the CPU; 3 CTAs walk the tiles in several grid steps.
template <int ELEM, int ROWS_COPY> static void swiglu_bwd_case(int64_t R, int64_t C) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK), rspec = spec;
  spec.elem = rspec.elem = (alto_elem)ELEM;
  spec.axis = -2;
  input d = make_input(1, R, C, true, true), a = make_input(1, R, C, true, true),
        b = make_input(1, R, C, true, false);
  const int64_t n = R * C;
  std::vector<float> ga((size_t)n), gb((size_t)n);
  alto_op_swiglu_bwd(ga.data(), gb.data(), d.xf.data(), a.xf.data(), b.xf.data(), n);
  input g[2] = {{1, R, C, true, std::vector<float>((size_t)n), std::vector<uint16_t>((size_t)n)},
                {1, R, C, true, std::vector<float>((size_t)n), std::vector<uint16_t>((size_t)n)}};
  for (int64_t i = 0; i < n; i++)
    for (int t = 0; t < 2; t++) {
      g[t].xb[i] = alto_f32_to_bf16((t ? gb : ga)[i]);
      g[t].xf[i] = alto_bf16_to_f32(g[t].xb[i]);
    }
  alto_quantized ref[2], rref[2];
  for (int t = 0; t < 2; t++)
    if (!reference(spec, g[t], &ref[t]) || !reference(rspec, g[t], &rref[t]))
      return;
  outputs o0(ref[0]), o1(ref[1]), r0(rref[0]), r1(rref[1]);
  const alto_u16 *pd = d.xb.data(), *pa = a.xb.data(), *pb = b.xb.data();
  alto_u8 *c0 = o0.codes.data(), *c1 = o1.codes.data(), *c2 = r0.codes.data(),
          *c3 = r1.codes.data();
  float *s0 = (float *)o0.scales.data(), *s1 = (float *)o1.scales.data(),
        *s2 = (float *)r0.scales.data(), *s3 = (float *)r1.scales.data();
  run([=] {
    alto_quant_dual_swiglu_bwd<ELEM, ROWS_COPY, 256>(pd, pa, pb, R, C, c0, s0, c2, s2, c1, s1, c3,
                                                      s3);
  }, 3, 1, 256);
  const char *e = ELEM == ALTO_ELEM_E4M3 ? "e4m3" : "e5m2";
  for (int t = 0; t < 2; t++) {
    char what[64];
    snprintf(what, sizeof what, "swiglu_bwd %s %s", t ? "db" : "da", e);
    compare_dual_(what, g[t], ref[t], t ? o1 : o0, rref[t], t ? r1 : r0, ROWS_COPY);
    alto_quantized_free(&ref[t]);
    alto_quantized_free(&rref[t]);
  }
}

// SwiGLU(a, b) as the SWIGLU op writes it: the CPU's values rounded to bf16.
static input swiglu_of_(const input &a, const input &b) {
  const int64_t n = a.E * a.R * a.C;
  std::vector<float> y((size_t)n);
  alto_op_swiglu(y.data(), a.xf.data(), b.xf.data(), n);
  input yi{a.E, a.R, a.C, true, std::vector<float>((size_t)n), std::vector<uint16_t>((size_t)n)};
  for (int64_t i = 0; i < n; i++) {
    yi.xb[i] = alto_f32_to_bf16(y[i]);
    yi.xf[i] = alto_bf16_to_f32(yi.xb[i]);
  }
  return yi;
}

// SwiGLU's output quantized from its inputs (quant_rows_swiglu.cuh): against the CPU's SwiGLU
// rounded to bf16, then the CPU's quantization; 3 CTAs walk the tensor in several grid steps.
template <int KIND, int ELEM, int B, bool SR, bool SCALES_T>
static void swiglu_case(alto_scheme scheme, int64_t R, int64_t C) {
  alto_quant_spec spec = alto_quant_spec_default(scheme);
  spec.sr = SR, spec.seed = 0x5EED, spec.stream = 77;
  input a = make_input(1, R, C, true, true), b = make_input(1, R, C, true, false);
  const int64_t n = R * C;
  const input yi = swiglu_of_(a, b);
  alto_quantized ref;
  if (!reference(spec, yi, &ref))
    return;
  if (SCALES_T) { // the kernel writes the fp32 scale grid MN-major
    const std::vector<float> t = transposed_((const float *)ref.scales, R, C / B);
    memcpy(ref.scales, t.data(), t.size() * 4);
  }
  outputs o(ref);
  const void *pa = a.xb.data(), *pb = b.xb.data();
  alto_u8 *codes = o.codes.data();
  void *scales = o.scales.data();
  const alto_u64 seed = spec.seed, stream = spec.stream;
  std::vector<alto_u16> y(n + 32, 0x5A5A); // SWIGLU's output, written too (MX: y_out), guarded
  alto_u16 *py = SR ? y.data() : nullptr;
  run([=] {
    alto_quant_rows_swiglu<KIND, ELEM, B, ALTO_SCALE_EVEN, SR, SCALES_T, 256>(
        pa, pb, codes, scales, nullptr, n, seed, stream, R, C, py);
  }, 3, 1, 256);
  char what[80];
  snprintf(what, sizeof what, "swiglu -> %s%s%s", alto_scheme_name(scheme), SR ? " sr" : "",
           SCALES_T ? " (MN-major)" : "");
  compare(what, yi, ref, o);
  if (py) {
    bool same = true; // (a NaN's sign may differ: the device's bf16 NaN is 0x7FC0)
    for (int64_t i = 0; i < n; i++)
      same = same &&
             (y[i] == yi.xb[i] || ((y[i] & 0x7FFF) > 0x7F80 && (yi.xb[i] & 0x7FFF) > 0x7F80));
    for (int i = 0; i < 32; i++)
      same = same && y[n + i] == 0x5A5A;
    printf("%s swiglu y written by the kernel [%lld x %lld]\n", same ? "ok  " : "FAIL",
           (long long)R, (long long)C);
    bad += !same, checks++;
  }
  alto_quantized_free(&ref);
}

// MXFP4 1x32 straight into the FP8 GEMM's E4M3 form (quant_rows.cuh ALTO_ROWS_FORM_MX_TILE, and
// of SwiGLU's inputs): against the CPU's MXFP4 quantization through alto_cpu_mx_to_e4m3, codes
// [R, C] and the scales MN-major [C / 128, R rounded up to 4] (the padding rows untouched), with
// guard bytes. The input adds, to make_input's specials, 1x32 blocks 2^-20 and 2^-40 below the
// rest of their 128-block (an inexact form, rounded) and all-zero 1x32 blocks inside non-zero
// 128-blocks (their bytes left out of e_max).
template <bool BF16, bool SR, bool SWIGLU> static void mx_tile_case(int64_t R, int64_t C) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  spec.sr = SR, spec.seed = 0x5EED, spec.stream = 78;
  input a = make_input(1, R, C, BF16 || SWIGLU, true), b = make_input(1, R, C, true, false);
  const int64_t n = R * C, kb = C / 128, r4 = (R + 3) / 4 * 4;
  for (int64_t r = 0; r < R; r++) {
    float *row = a.xf.data() + r * C;
    const int64_t j = (r * 5 % (C / 32)) * 32;
    for (int64_t c = 0; c < 32; c++) {
      if (r % 7 == 3)
        row[j + c] = ldexpf(row[j + c], r % 2 ? -20 : -40);
      if (r % 5 == 1)
        row[(j + 64) % C + c] = 0.0f;
    }
    for (int64_t c = 0; c < C; c++)
      a.xb[r * C + c] = alto_f32_to_bf16(row[c]);
  }
  if (BF16 || SWIGLU)
    for (int64_t i = 0; i < n; i++)
      a.xf[i] = alto_bf16_to_f32(a.xb[i]);
  const input yi = SWIGLU ? swiglu_of_(a, b) : a;
  alto_quantized ref;
  if (!reference(spec, yi, &ref))
    return;
  std::vector<alto_u8> want_c((size_t)n), nanb((size_t)(R * kb));
  std::vector<float> rs((size_t)(R * kb));
  alto_u32 split = 0;
  const alto_u32 inexact = alto_cpu_mx_to_e4m3(ref.codes, (const alto_u8 *)ref.scales, R, C, false,
                                               want_c.data(), rs.data(), nanb.data(), &split);
  std::vector<alto_u8> codes((size_t)n + 64, 0x5A), sc((size_t)(r4 * kb * 4) + 64, 0xA5);
  std::vector<alto_u8> want_s = sc;
  for (int64_t r = 0; r < R; r++)
    for (int64_t q = 0; q < kb; q++)
      memcpy(&want_s[(size_t)((q * r4 + r) * 4)], &rs[(size_t)(r * kb + q)], 4);
  alto_u8 *pc = codes.data();
  void *ps = sc.data();
  const void *x = yi.data(), *pa = a.xb.data(), *pb = b.xb.data();
  const alto_u64 seed = spec.seed, stream = spec.stream;
  if (SWIGLU)
    run([=] {
      alto_quant_rows_swiglu<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, ALTO_SCALE_EVEN, SR,
                             ALTO_ROWS_FORM_MX_TILE, 256>(pa, pb, pc, ps, nullptr, n, seed, stream,
                                                          R, C);
    }, 3, 1, 256);
  else
    run([=] {
      alto_quant_rows<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, BF16, ALTO_SCALE_EVEN, SR,
                      ALTO_ROWS_FORM_MX_TILE, 16>(x, pc, ps, nullptr, n, seed, stream, R, C);
    }, cdiv(n, 256 * 16), 1, 256);
  const bool ok_c = memcmp(codes.data(), want_c.data(), (size_t)n) == 0;
  bool guards = true;
  for (int i = 0; i < 64; i++)
    guards &= codes[(size_t)n + i] == 0x5A;
  const bool ok_s = sc == want_s, ok = ok_c && ok_s && guards && inexact > 0;
  int64_t dc = -1;
  for (int64_t i = 0; i < n && dc < 0; i++)
    if (codes[(size_t)i] != want_c[(size_t)i])
      dc = i;
  char what[64];
  snprintf(what, sizeof what, "mx_tile %s%s", SWIGLU ? "of swiglu" : "rows", SR ? " sr" : "");
  printf("%s %-44s %s [%lld x %lld] (%u inexact 128-blocks)", ok ? "ok  " : "FAIL", what,
         BF16 || SWIGLU ? "bf16" : "f32 ",
         (long long)R, (long long)C, inexact);
  if (dc >= 0)
    printf("  codes differ at %lld: want 0x%02x emu 0x%02x", (long long)dc, want_c[(size_t)dc],
           codes[(size_t)dc]);
  if (!ok_s)
    printf("  scales differ");
  if (!guards)
    printf("  wrote past its codes");
  printf("\n");
  bad += !ok;
  checks++;
  alto_quantized_free(&ref);
}

template <int ELEM, bool BF16> static void tile128_all() {
  tile128_case<ELEM, 1, BF16>(1, 256, 1152);
  tile128_case<ELEM, 1, BF16>(3, 128, 200);  // column tail, rows 16-byte aligned
  tile128_case<ELEM, 1, BF16>(1, 128, 1030); // rows not 16-byte aligned: element loads
  tile128_case<ELEM, 128, BF16>(1, 256, 1152);
  tile128_case<ELEM, 128, BF16>(3, 128, 256);
  tile128_case<ELEM, 1, BF16, true>(1, 256, 1152);
  tile128_case<ELEM, 1, BF16, true>(1, 384, 200);  // column tail
  tile128_case<ELEM, 1, BF16, true>(1, 128, 1030); // rows not 16-byte aligned
}

// ---- quant_scaled.cuh ------------------------------------------------------------------------------------
// AXIS -1: R rows, a scale each (E = 1); AXIS -2: E matrices of R rows, a scale per column of each,
// the amax kernel into the zeroed scales (as alto_gpu_quantize), then the codes (the generator's
// grid); CT: the codes written transposed ([E, C, R], R a multiple of 16), transposed back here
// for the comparison.
template <int ELEM, bool BF16, bool POW2, int AXIS = -1, bool CT = false>
static void rowwise_case(int64_t R, int64_t C, int64_t E = 1) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_ROWWISE);
  spec.elem = (alto_elem)ELEM;
  spec.pow2_scale = POW2;
  spec.axis = AXIS;
  input in = make_input(E, R, C, BF16, true);
  alto_quantized ref;
  if (!reference(spec, in, &ref))
    return;
  outputs o(ref);
  const void *x = in.data();
  alto_u8 *codes = o.codes.data();
  if (AXIS == -1) {
    float *scales = (float *)o.scales.data();
    run([=] { alto_fp8_rowwise_rows<ELEM, BF16, POW2, 256>(x, codes, scales, C); }, (unsigned)R, 1, 256);
  } else {
    alto_u32 *scales = (alto_u32 *)o.scales.data();
    memset(scales, 0, (size_t)(E * C) * 4);
    unsigned g[3];
    alto_rowwise_cols_grid(E, R, C, BF16 ? 8 : 4, g);
    run([=] { alto_fp8_col_amax<BF16, 256>(x, scales, R, C); }, g[0], g[1], 256, g[2]);
    std::vector<alto_u8> ct(CT ? (size_t)(E * R * C) : 1, 0xA5);
    alto_u8 *out = CT ? ct.data() : codes;
    run([=] { alto_fp8_rowwise_cols<ELEM, BF16, POW2, 256, CT>(x, out, scales, R, C); }, g[0],
        g[1], 256, g[2]);
    for (int64_t e = 0; CT && e < E; e++)
      for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++)
          codes[(e * R + r) * C + c] = ct[(size_t)((e * C + c) * R + r)];
  }
  compare(AXIS == -1 ? (POW2 ? "rowwise rows pow2" : "rowwise rows")
          : CT       ? "rowwise cols transposed"
                     : (POW2 ? "rowwise cols pow2" : "rowwise cols"),
          in, ref, o);
  alto_quantized_free(&ref);
}
template <int ELEM, bool BF16, bool POW2> static void tensorwise_case(int64_t R, int64_t C) {
  alto_quant_spec spec = alto_quant_spec_default(ALTO_SCHEME_FP8_TENSORWISE);
  spec.elem = (alto_elem)ELEM;
  spec.pow2_scale = POW2;
  input in = make_input(1, R, C, BF16, false);
  alto_quantized ref;
  if (!reference(spec, in, &ref))
    return;
  outputs o(ref);
  emu_amax<BF16>(in, o);
  const void *x = in.data();
  alto_u8 *codes = o.codes.data();
  float *scales = (float *)o.scales.data();
  const alto_u32 *ab = &o.amax;
  const int64_t n = R * C;
  run([=] { alto_fp8_tensorwise<ELEM, BF16, POW2>(x, codes, scales, ab, n); }, cdiv(n, 256 * 16), 1, 256);
  compare(POW2 ? "tensorwise pow2" : "tensorwise", in, ref, o);
  alto_quantized_free(&ref);
}
template <bool BF16> static void scaled_all() {
  rowwise_case<ALTO_ELEM_E4M3, BF16, false>(6, 1056);
  rowwise_case<ALTO_ELEM_E5M2, BF16, true>(4, 1030);   // element path
  rowwise_case<ALTO_ELEM_E4M3, BF16, false>(2, 20000); // beyond the registers: two reads
  rowwise_case<ALTO_ELEM_E4M3, BF16, false, -2>(600, 1056, 1);  // rows not a multiple of U x RL
  rowwise_case<ALTO_ELEM_E5M2, BF16, true, -2>(40, 1030, 3);   // element path, column tail
  rowwise_case<ALTO_ELEM_E4M3, BF16, false, -2>(7, 72, 2);      // fewer rows than row lanes
  rowwise_case<ALTO_ELEM_E4M3, BF16, false, -2>(2348, 40, 1);   // 5 row splits, the last short
  rowwise_case<ALTO_ELEM_E5M2, BF16, false, -2>(1536, 72, 2);   // splits in two matrices
  rowwise_case<ALTO_ELEM_E4M3, BF16, false, -2, true>(608, 1056, 1); // transposed: a short chunk
  rowwise_case<ALTO_ELEM_E5M2, BF16, true, -2, true>(2352, 40, 1);   // 16-row splits, column tail
  rowwise_case<ALTO_ELEM_E4M3, BF16, false, -2, true>(16, 72, 2);    // one 16-row group, 2 matrices
  rowwise_case<ALTO_ELEM_E5M2, BF16, false, -2, true>(1040, 1030, 1); // element loads
  tensorwise_case<ALTO_ELEM_E4M3, BF16, false>(64, 1056);
  tensorwise_case<ALTO_ELEM_E5M2, BF16, true>(5, 1030); // n % 16 != 0
}

// ---- quant_rht.cuh --------------------------------------------------------------------------------------
// The CPU reference of R x: alto_cpu_rht (rounded to the input dtype), then quantized.
struct rht_tables {
  float sign[256];
  int perm[256];
};
static rht_tables rht_make(int b, alto_u64 seed, alto_u64 stream) {
  rht_tables t;
  alto_rht_make(seed, stream, b, t.sign, t.perm);
  return t;
}
static std::vector<unsigned char> rht_ref(const input &in, int b, alto_u64 seed, alto_u64 stream) {
  alto_tensor_view x = in.view();
  std::vector<unsigned char> y((size_t)(in.E * in.R * in.C) * (in.bf16 ? 2 : 4));
  if (alto_cpu_rht(&x, b, seed, stream, x.dtype, y.data()) != ALTO_OK)
    printf("FAIL cpu rht: %s\n", alto_last_error());
  return y;
}

template <int KIND, int ELEM, int BR, int RHT_B, bool BF16, int RULE, bool SR>
static void rht_cols_case(const char *what, alto_quant_spec spec, int64_t E, int64_t R, int64_t C) {
  input in = make_input(E, R, C, BF16, !spec.two_level);
  const alto_u64 rseed = 0x1234, rstream = 0x99;
  std::vector<unsigned char> xr = rht_ref(in, RHT_B, rseed, rstream);
  input inr = in; // R x as the reference's input
  if (BF16)
    memcpy(inr.xb.data(), xr.data(), xr.size());
  else
    memcpy(inr.xf.data(), xr.data(), xr.size());
  alto_quantized ref;
  if (!reference(spec, inr, &ref))
    return;
  outputs o(ref);
  if (spec.two_level) {
    emu_amax<BF16>(inr, o);
    o.outer = alto_nvfp4_outer(alto_f32_from_bits(o.amax), 1);
  }
  static rht_tables t;
  t = rht_make(RHT_B, rseed, rstream);
  const void *x = in.data();
  alto_u8 *codes = o.codes.data();
  void *scales = o.scales.data();
  const float *outer = KIND == ALTO_QK_NVFP4 ? &o.outer : nullptr;
  const alto_u64 seed = spec.seed, stream = spec.stream;
  const int64_t cols = C;
  run([=] {
    alto_quant_rht_cols<KIND, ELEM, BR, RHT_B, BF16, RULE, SR, 128>(x, codes, scales, outer, t.sign,
                                                                    t.perm, cols, seed, stream);
  }, cdiv(C, 256), (unsigned)(E * R / BR), 128);
  compare(what, in, ref, o);
  alto_quantized_free(&ref);
}

template <int ELEM, bool BF16, bool SR>
static void dual_case(const char *what, alto_scheme scheme, int64_t E, int64_t R, int64_t C) {
  alto_quant_spec f = alto_quant_spec_default(scheme), w = f;
  f.sr = w.sr = SR, f.seed = w.seed = 0xD0A1, f.stream = 0x51;
  w.axis = -2, w.stream = 0x52;
  input in = make_input(E, R, C, BF16, true);
  const alto_u64 rseed = 0x77, rstream = 0x3;
  std::vector<unsigned char> xr = rht_ref(in, 32, rseed, rstream);
  input inr = in;
  if (BF16)
    memcpy(inr.xb.data(), xr.data(), xr.size());
  else
    memcpy(inr.xf.data(), xr.data(), xr.size());
  alto_quantized rf, rw;
  if (!reference(f, in, &rf) || !reference(w, inr, &rw))
    return;
  outputs of(rf), ow(rw);
  static rht_tables t;
  t = rht_make(32, rseed, rstream);
  const void *x = in.data();
  alto_u8 *cf = of.codes.data(), *cw = ow.codes.data();
  void *sf = of.scales.data(), *sw = ow.scales.data();
  const alto_u64 seed = f.seed, s1 = f.stream, s2 = w.stream;
  const int64_t cols = C;
  constexpr int NT = BF16 ? 128 : 64; // as compiler/gen.c
  run([=] {
    alto_quant_dual_rht<ALTO_QK_MX, ELEM, BF16, ALTO_SCALE_EVEN, SR, NT>(
        x, cf, sf, cw, sw, t.sign, t.perm, cols, seed, s1, s2);
  }, cdiv(C, 2 * NT), (unsigned)(E * R / 32), NT);
  char w1[96], w2[96];
  snprintf(w1, sizeof w1, "%s (fprop)", what);
  snprintf(w2, sizeof w2, "%s (wgrad)", what);
  compare(w1, in, rf, of);
  compare(w2, in, rw, ow);
  alto_quantized_free(&rf);
  alto_quantized_free(&rw);
}

template <int RHT_B, bool BF16> static void rht_only_case(int64_t E, int64_t R, int64_t C) {
  input in = make_input(E, R, C, BF16, true);
  const alto_u64 rseed = 0x4321, rstream = 0x17;
  std::vector<unsigned char> ref = rht_ref(in, RHT_B, rseed, rstream);
  std::vector<unsigned char> y(ref.size() + 64, 0x5A);
  static rht_tables t;
  t = rht_make(RHT_B, rseed, rstream);
  const void *x = in.data();
  void *yp = y.data();
  const int64_t cols = C;
  run([=] { alto_rht_cols_only<RHT_B, BF16, 128>(x, yp, t.sign, t.perm, cols); }, cdiv(C, 256),
      (unsigned)(E * R / RHT_B), 128);
  int64_t d = -1;
  for (size_t i = 0; i < ref.size() && d < 0; i++)
    if (y[i] != ref[i])
      d = (int64_t)i;
  bool guards = true;
  for (int i = 0; i < 64; i++)
    guards &= y[ref.size() + i] == 0x5A;
  const bool ok = d < 0 && guards;
  printf("%s rht%-3d only                                  %s [%lld x %lld x %lld]", ok ? "ok  " : "FAIL",
         RHT_B, BF16 ? "bf16" : "f32 ", (long long)E, (long long)R, (long long)C);
  if (d >= 0)
    printf("  differs at byte %lld", (long long)d);
  if (!guards)
    printf("  wrote past its output");
  printf("\n");
  bad += !ok;
  checks++;
}

template <bool BF16> static void rht_all() {
  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  s.axis = -2;
  rht_cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 32, BF16, ALTO_SCALE_EVEN, false>("rht mxfp4 32x1 rht32", s, 1, 64, 1056);
  rht_cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 32, BF16, ALTO_SCALE_EVEN, false>("rht mxfp4 32x1 rht32", s, 3, 32, 200);
  rht_cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 16, BF16, ALTO_SCALE_EVEN, false>("rht mxfp4 32x1 rht16", s, 1, 64, 1030);
  s.sr = true, s.seed = 0x5EED, s.stream = 0xABCDEF0123ull;
  rht_cols_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, 32, BF16, ALTO_SCALE_EVEN, true>("rht mxfp4 32x1 rht32 sr", s, 1, 64, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E4M3);
  s.axis = -2, s.rule = ALTO_SCALE_RCEIL;
  rht_cols_case<ALTO_QK_MX, ALTO_ELEM_E4M3, 32, 32, BF16, ALTO_SCALE_RCEIL, false>("rht mxfp8 e4m3 32x1 rht32 rceil", s, 1, 64, 1030);
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  s.axis = -2;
  rht_cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 16, BF16, ALTO_SCALE_EVEN, false>("rht nvfp4 16x1 rht16", s, 1, 48, 1056);
  rht_cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 16, BF16, ALTO_SCALE_EVEN, false>("rht nvfp4 16x1 rht16", s, 3, 16, 1030);
  s.two_level = true, s.sr = true, s.seed = 7, s.stream = 11;
  rht_cols_case<ALTO_QK_NVFP4, ALTO_ELEM_E2M1, 16, 16, BF16, ALTO_SCALE_EVEN, true>("rht nvfp4 16x1 rht16 two-level sr", s, 2, 32, 1056);
  dual_case<ALTO_ELEM_E2M1, BF16, false>("dual mxfp4 rht32", ALTO_SCHEME_MXFP4, 1, 64, 1056);
  dual_case<ALTO_ELEM_E2M1, BF16, false>("dual mxfp4 rht32", ALTO_SCHEME_MXFP4, 3, 32, 96);
  dual_case<ALTO_ELEM_E2M1, BF16, true>("dual mxfp4 rht32 sr", ALTO_SCHEME_MXFP4, 1, 64, 1056);
  dual_case<ALTO_ELEM_E4M3, BF16, false>("dual mxfp8 e4m3 rht32", ALTO_SCHEME_MXFP8_E4M3, 1, 32, 288);
  rht_only_case<32, BF16>(1, 64, 1056);
  rht_only_case<16, BF16>(3, 16, 1030);
}

// ---- dequant.cuh ------------------------------------------------------------------------------------------
// Codes and scales from the CPU reference, dequantized on both paths (cols % 16 == 0: the vector
// path; otherwise one thread per element), both output dtypes, against alto_cpu_dequantize.
template <int KIND, int ELEM, int BR, int BC, bool PACK_ROWS, int SCALE_MODE, bool SCALES_T = false>
static void dequant_case(const char *what, alto_quant_spec spec, int64_t E, int64_t R, int64_t C) {
  input in = make_input(E, R, C, false, !spec.two_level && spec.scheme != ALTO_SCHEME_FP8_TENSORWISE);
  alto_quantized ref;
  if (!reference(spec, in, &ref))
    return;
  const int64_t rows = E * R, n = rows * C;
  std::vector<float> scales_t; // fp8_block 1xBC scales MN-major: [C / BC, rows]
  if (SCALES_T)
    scales_t = transposed_((const float *)ref.scales, rows, C / BC);
  for (int od = 0; od < 2; od++) {
    const size_t osz = od ? 4 : 2;
    std::vector<unsigned char> want(n * osz), got(n * osz + 64, 0x5A);
    if (alto_cpu_dequantize(&spec, &ref, od ? ALTO_ELEM_F32 : ALTO_ELEM_BF16, want.data()) != ALTO_OK) {
      printf("FAIL cpu dequant: %s\n", alto_last_error());
      bad++;
      continue;
    }
    const alto_u8 *codes = ref.codes;
    const void *scales = SCALES_T ? (const void *)scales_t.data() : ref.scales;
    const float *outer = &ref.outer;
    void *y = got.data();
    const int64_t cols = C, Rr = R;
    constexpr int NT = 64; // as compiler/gen.c
    const int64_t groups = (ELEM == ALTO_ELEM_E2M1 && PACK_ROWS) ? rows / 2 : rows;
    const unsigned gx = C % 16 == 0 ? cdiv(C, 16 * NT) : cdiv(n, NT);
    const unsigned gy = C % 16 == 0 ? (unsigned)(groups < 65535 ? groups : 65535) : 1;
    if (od)
      run([=] { alto_dequant<KIND, ELEM, BR, BC, PACK_ROWS, SCALE_MODE, false, NT, SCALES_T>(codes, scales, outer, y, rows, cols, Rr); }, gx, gy, NT);
    else
      run([=] { alto_dequant<KIND, ELEM, BR, BC, PACK_ROWS, SCALE_MODE, true, NT, SCALES_T>(codes, scales, outer, y, rows, cols, Rr); }, gx, gy, NT);
    int64_t d = -1;
    for (size_t i = 0; i < want.size() && d < 0; i++)
      if (want[i] != got[i])
        d = (int64_t)i;
    bool guards = true;
    for (int i = 0; i < 64; i++)
      guards &= got[want.size() + i] == 0x5A;
    const bool ok = d < 0 && guards;
    printf("%s dequant %-36s %s [%lld x %lld x %lld]", ok ? "ok  " : "FAIL", what, od ? "f32 " : "bf16",
           (long long)E, (long long)R, (long long)C);
    if (d >= 0)
      printf("  differs at byte %lld", (long long)d);
    if (!guards)
      printf("  wrote past its output");
    printf("\n");
    bad += !ok;
    checks++;
  }
  alto_quantized_free(&ref);
}

static void dequant_all() {
  alto_quant_spec s = alto_quant_spec_default(ALTO_SCHEME_MXFP4);
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E2M1, 1, 32, false, 0>("mxfp4 1x32", s, 1, 8, 1056);
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E2M1, 1, 32, false, 0>("mxfp4 1x32", s, 2, 3, 96);
  s.axis = -2;
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E2M1, 32, 1, true, 0>("mxfp4 32x1", s, 1, 64, 1056);
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E2M1, 32, 1, true, 0>("mxfp4 32x1", s, 1, 32, 200);
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E2M1, 32, 1, true, 0>("mxfp4 32x1", s, 1, 32, 72);
  s.block2d = true;
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E2M1, 32, 32, true, 0>("mxfp4 32x32 pack rows", s, 2, 32, 256);
  s.axis = -1;
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E2M1, 32, 32, false, 0>("mxfp4 32x32 pack cols", s, 1, 64, 256);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E4M3);
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E4M3, 1, 32, false, 0>("mxfp8 e4m3 1x32", s, 1, 8, 1056);
  s.axis = -2;
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E4M3, 32, 1, true, 0>("mxfp8 e4m3 32x1", s, 1, 64, 1056);
  s = alto_quant_spec_default(ALTO_SCHEME_MXFP8_E5M2);
  s.axis = -2, s.block2d = true;
  dequant_case<ALTO_DQ_MX, ALTO_ELEM_E5M2, 32, 32, true, 0>("mxfp8 e5m2 32x32", s, 1, 64, 256);
  s = alto_quant_spec_default(ALTO_SCHEME_NVFP4);
  s.two_level = true;
  dequant_case<ALTO_DQ_NVFP4, ALTO_ELEM_E2M1, 1, 16, false, 0>("nvfp4 1x16 two-level", s, 1, 8, 1056);
  s.two_level = false, s.axis = -2;
  dequant_case<ALTO_DQ_NVFP4, ALTO_ELEM_E2M1, 16, 1, true, 0>("nvfp4 16x1", s, 1, 32, 1056);
  s.block2d = true;
  dequant_case<ALTO_DQ_NVFP4, ALTO_ELEM_E2M1, 16, 16, true, 0>("nvfp4 16x16", s, 1, 32, 256);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_BLOCK);
  dequant_case<ALTO_DQ_FP8_BLOCK, ALTO_ELEM_E4M3, 1, 128, false, 0>("fp8_block e4m3 1x128", s, 1, 8, 1152);
  dequant_case<ALTO_DQ_FP8_BLOCK, ALTO_ELEM_E4M3, 1, 128, false, 0, true>("fp8_block e4m3 1x128 scales MN-major", s, 1, 8, 1152);
  s.axis = -2;
  dequant_case<ALTO_DQ_FP8_BLOCK, ALTO_ELEM_E4M3, 128, 1, true, 0>("fp8_block e4m3 128x1", s, 1, 128, 1152);
  s.elem = ALTO_ELEM_E5M2, s.block2d = true;
  dequant_case<ALTO_DQ_FP8_BLOCK, ALTO_ELEM_E5M2, 128, 128, true, 0>("fp8_block e5m2 128x128", s, 1, 128, 256);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_ROWWISE);
  dequant_case<ALTO_DQ_FP8_SCALED, ALTO_ELEM_E4M3, 1, 1, false, ALTO_DQS_ROW>("fp8 rowwise axis-1", s, 1, 8, 1056);
  s.axis = -2, s.elem = ALTO_ELEM_E5M2;
  dequant_case<ALTO_DQ_FP8_SCALED, ALTO_ELEM_E5M2, 1, 1, true, ALTO_DQS_COL>("fp8 rowwise axis-2", s, 3, 8, 1056);
  dequant_case<ALTO_DQ_FP8_SCALED, ALTO_ELEM_E5M2, 1, 1, true, ALTO_DQS_COL>("fp8 rowwise axis-2", s, 2, 4, 1030);
  s = alto_quant_spec_default(ALTO_SCHEME_FP8_TENSORWISE);
  dequant_case<ALTO_DQ_FP8_SCALED, ALTO_ELEM_E4M3, 1, 1, false, ALTO_DQS_TENSOR>("fp8 tensorwise", s, 1, 8, 1056);
}

// Command line: quant_emu [GROUP]...: only the groups named (e2m1 rows cols tile128 scaled rht dequant).
static int n_groups;
static char **groups;
static bool group(const char *g) {
  for (int i = 0; i < n_groups; i++)
    if (strcmp(groups[i], g) == 0)
      return true;
  return n_groups == 0;
}

int main(int argc, char **argv) {
  n_groups = argc - 1, groups = argv + 1;
  if (group("e2m1")) {
    check_e2m1();
    check_e2m1_bf16x2();
    check_e2m1_sr();
  }
  if (group("div"))
    check_div();
  if (group("rows")) {
    rows_all<true>();
    rows_all<false>();
  }
  if (group("cols")) {
    cols_all<true>();
    cols_all<false>();
  }
  if (group("tile128")) {
    tile128_all<ALTO_ELEM_E4M3, true>();
    tile128_all<ALTO_ELEM_E4M3, false>();
    tile128_all<ALTO_ELEM_E5M2, true>();
    tile128_all<ALTO_ELEM_E5M2, false>();
  }
  if (group("tcopy")) {
    tcopy_case<true>(256, 384);
    tcopy_case<false>(384, 256);
  }
  if (group("swiglu")) {
    swiglu_case<ALTO_QK_FP8_BLOCK, ALTO_ELEM_E4M3, 128, false, false>(ALTO_SCHEME_FP8_BLOCK, 96, 1152);
    swiglu_case<ALTO_QK_FP8_BLOCK, ALTO_ELEM_E4M3, 128, false, true>(ALTO_SCHEME_FP8_BLOCK, 64, 1024);
    swiglu_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, false, false>(ALTO_SCHEME_MXFP4, 96, 1088);
    swiglu_case<ALTO_QK_MX, ALTO_ELEM_E2M1, 32, true, false>(ALTO_SCHEME_MXFP4, 64, 1024);
  }
  if (group("mx_tile")) {
    mx_tile_case<true, false, false>(96, 1152);
    mx_tile_case<false, false, false>(37, 640); // rows not a multiple of 4: the grid's padding
    mx_tile_case<true, true, false>(64, 1024);
    mx_tile_case<false, true, false>(40, 512);
    mx_tile_case<true, false, true>(96, 1152);
    mx_tile_case<true, true, true>(64, 1024);
  }
  if (group("swiglu_bwd")) {
    swiglu_bwd_case<ALTO_ELEM_E4M3, 1>(256, 384);
    swiglu_bwd_case<ALTO_ELEM_E4M3, 2>(384, 512);
    swiglu_bwd_case<ALTO_ELEM_E5M2, 2>(128, 256);
  }
  if (group("dual128")) {
    dual128_case<ALTO_ELEM_E4M3, 1>(256, 1152);
    dual128_case<ALTO_ELEM_E4M3, 2>(384, 256);
    dual128_case<ALTO_ELEM_E5M2, 2>(128, 384);
  }
  if (group("xdual")) {
    xdual_case<ALTO_ELEM_E4M3, 1>(256, 1152);
    xdual_case<ALTO_ELEM_E4M3, 2>(384, 256);
    xdual_case<ALTO_ELEM_E5M2, 2>(128, 384);
  }
  if (group("requant")) {
    requant_case<ALTO_ELEM_E4M3, false, false>(256, 1152);
    requant_case<ALTO_ELEM_E4M3, true, true>(384, 1152);
    requant_case<ALTO_ELEM_E5M2, true, false>(128, 256);
    requant_case<ALTO_ELEM_E5M2, false, true>(256, 384);
  }
  if (group("scaled")) {
    scaled_all<true>();
    scaled_all<false>();
  }
  if (group("rht")) {
    rht_all<true>();
    rht_all<false>();
  }
  if (group("dequant"))
    dequant_all();
  printf("%d of %d checks ok; %s\n", checks - bad, checks, bad ? "FAILED" : "all ok");
  return bad != 0;
}
