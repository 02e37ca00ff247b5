// gemm_fp8_sm90.cuh: block-scaled FP8 GEMM for Hopper (sm_90a), C[M, N] (+)= A[M, K] B[N, K]^T
// with A scaled per 1x128 along K and B per 1x128 or per 128x128 (runtime/gemm_gpu.h).
//
// One CTA of 128 (WGS + 1) threads, persistent over the output tiles (BM = 64 WGS rows x BN
// columns; WGS = 2 or 3 consumer warpgroups):
//   warpgroup 0, warp 0   producer: for every 128-deep K block of every tile, waits for a free
//                         stage of the shared-memory ring, copies the block's fp32 scales with
//                         cp.async (completing on the stage's "full" mbarrier, one arrival per lane)
//                         and issues two TMA bulk-tensor loads (A 128 x 128 bytes, B BN x 128 bytes,
//                         128-byte swizzle, out-of-range rows and columns zero-filled) that complete
//                         on the same barrier by transaction bytes.
//   warpgroups 1..WGS     consumers, 64 rows each: wait for the stage, four wgmma m64nBNk32 E4M3
//                         (K-major A and B from shared memory, fp32 accumulators in registers), then
//                         promote: total += partial * scale_a[row] * scale_b[col] in fp32, and free
//                         the stage (one arrival per warp on its "empty" mbarrier). With three
//                         consumers (BM 192) the tensor cores run one warpgroup's wgmma while the
//                         other two promote (the 1x128 x 1x128 promotion takes two fp32 operations
//                         per output and K block: with two consumers it left the tensor cores idle
//                         half the time, bench/NOTES.md session 11). After the last
//                         K block: the epilogue writes the tile (bf16 round-to-nearest-even or fp32,
//                         optionally adding the old C), rows >= M and columns >= N skipped. Where
//                         C allows it (args.c_tma) each warpgroup stages its 64 rows in 4 KiB
//                         chunks and TMA stores them (fp32 C += by the TMA's add in L2) while it
//                         goes on to the next tile; else register stores (and loads for C +=).
// OUTER scales (rowwise / tensorwise FP8): the K blocks' partial sums are added unscaled, and the
// epilogue divides by the row's and the column's scale (times their reciprocals).
// The stub that includes this file defines alto_gemm_wgmma(acc, desc_a, desc_b, scale_d) for its BN
// and element types (the generator writes the accumulator operand list) before the #include.
#ifndef ALTO_GEMM_FP8_SM90_CUH
#define ALTO_GEMM_FP8_SM90_CUH

#include "common/alto_device.h"
#include "common/wgmma.cuh"
#include "gemm/gemm_args.h"

namespace alto_gemm {

constexpr int BK = 128;
// the TMA epilogue's staging buffers per consumer warpgroup: two of 4 KiB (compiler/gen_gemm.c)
constexpr int EPI_WG_BYTES = 2 * 64 * 64;

__device__ __forceinline__ alto_u32 smem_addr(const void *p) {
  return (alto_u32)__cvta_generic_to_shared(p);
}

// ---- mbarriers ---------------------------------------------------------------------------------
__device__ __forceinline__ void mbar_init(alto_u32 bar, alto_u32 count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_wait(alto_u32 bar, alto_u32 parity) {
  alto_u32 done;
  do {
    asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                 " selp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done)
                 : "r"(bar), "r"(parity)
                 : "memory");
  } while (!done);
}
__device__ __forceinline__ void mbar_arrive(alto_u32 bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_arrive_expect_tx(alto_u32 bar, alto_u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}

// ---- copies ------------------------------------------------------------------------------------
// 4 bytes global -> shared; src_bytes 0 writes a zero (rows past the end).
__device__ __forceinline__ void cp_async4(alto_u32 dst, const void *src, alto_u32 src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(dst), "l"(src), "r"(src_bytes)
               : "memory");
}
// One arrival on bar once this thread's earlier cp.async copies have landed (counted in the
// barrier's expected arrivals: .noinc).
__device__ __forceinline__ void cp_async_arrive(alto_u32 bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(bar) : "memory");
}
// A 1-D bulk copy of `bytes` (a multiple of 16, 16-byte aligned ends) global -> shared, completing
// on bar by bytes.
__device__ __forceinline__ void bulk_load(alto_u32 dst, const void *src, alto_u32 bytes,
                                          alto_u32 bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, "
               "[%3];" ::"r"(dst),
               "l"(src), "r"(bytes), "r"(bar)
               : "memory");
}
// A 2-D TMA tile load: box at (x = K element, y = row), completing on bar by bytes.
__device__ __forceinline__ void tma_load_2d(alto_u32 dst, const alto_tensor_map *map, int x, int y,
                                            alto_u32 bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, "
      "%3}], [%4];" ::"r"(dst),
      "l"((alto_u64)map), "r"(x), "r"(y), "r"(bar)
      : "memory");
}

// The same 2-D load multicast to the CTAs of the cluster in `mask`: each receives the box at the
// same shared-memory offset and the bytes complete on its own barrier at bar's offset.
__device__ __forceinline__ void tma_load_2d_mc(alto_u32 dst, const alto_tensor_map *map, int x,
                                               int y, alto_u32 bar, unsigned short mask) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes."
               "multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;" ::"r"(dst),
               "l"((alto_u64)map), "r"(x), "r"(y), "r"(bar), "h"(mask)
               : "memory");
}
// One arrival on the barrier at the same offset in CTA `rank` of the cluster. Default (.cta)
// release semantics: it orders this thread's shared-memory reads (the stage was read by wgmma,
// already waited for), and .release.cluster would cost a GPU-wide memory barrier per arrival.
__device__ __forceinline__ void mbar_arrive_cluster(alto_u32 bar, alto_u32 rank) {
  asm volatile("{\n .reg .b32 ra;\n mapa.shared::cluster.u32 ra, %0, %1;\n"
               " mbarrier.arrive.shared::cluster.b64 _, [ra];\n}" ::"r"(bar), "r"(rank)
               : "memory");
}
__device__ __forceinline__ alto_u32 cluster_rank() {
  alto_u32 r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;" ::: "memory");
}

// ---- the TMA epilogue ----------------------------------------------------------------------------
// A 2-D TMA store of a shared-memory box to the tensor at (x = column, y = row); with REDUCE the box
// is added into it instead (fp32 add in L2, round to nearest even). Completes in this thread's bulk
// group; out-of-range rows and columns are not written.
template <bool REDUCE>
__device__ __forceinline__ void tma_store_2d(const alto_tensor_map *map, int x, int y,
                                             alto_u32 src) {
  if (REDUCE)
    asm volatile("cp.reduce.async.bulk.tensor.2d.global.shared::cta.add.tile.bulk_group [%0, {%1, "
                 "%2}], [%3];" ::"l"((alto_u64)map),
                 "r"(x), "r"(y), "r"(src)
                 : "memory");
  else
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];" ::"l"(
                     (alto_u64)map),
                 "r"(x), "r"(y), "r"(src)
                 : "memory");
  asm volatile("cp.async.bulk.commit_group;" ::: "memory");
}
// Waits until at most N of this thread's bulk groups still read shared memory.
template <int N> __device__ __forceinline__ void bulk_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;" ::"n"(N) : "memory");
}
__device__ __forceinline__ void bulk_wait_all() {
  asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
}
// The 128 threads of one consumer warpgroup (named barrier 1 + warpgroup).
__device__ __forceinline__ void wg_sync(int cw) {
  asm volatile("bar.sync %0, 128;" ::"r"(1 + cw) : "memory");
}
// Byte offset of (row r, byte b) in a 64-row box of 64-byte rows under the 64-byte swizzle (the
// 16-byte chunk index XOR bits 1-2 of the row), in a buffer aligned to 512 bytes.
__device__ __forceinline__ alto_u32 swz64(int r, int b) {
  return (alto_u32)(r * 64 + ((((b >> 4) ^ (r >> 1)) & 3) << 4) + (b & 15));
}

// The ring position after stage s: the next stage, and the barrier phase parity flipped on wrapping
// (the producer and the consumers walk the ring alike, without divisions).
template <int STAGES> __device__ __forceinline__ void ring_next(int &s, alto_u32 &parity) {
  if (++s == STAGES)
    s = 0, parity ^= 1;
}

// The scales of a tile's ROWS rows from row0 (of `rows`) for one K block, one 4-byte cp.async per
// row and lane (the producer warp's 32 lanes share them; rows past the end get zeros).
template <int ROWS>
__device__ __forceinline__ void copy_scale_rows(float *dst, const float *src, alto_i64 row0,
                                                alto_i64 rows, alto_i64 s_r, alto_i64 off,
                                                int lane) {
#pragma unroll 2
  for (int i = lane; i < ROWS; i += 32) {
    const alto_i64 r = row0 + i;
    const bool in = r < rows;
    cp_async4(smem_addr(dst + i), in ? src + r * s_r + off : src, in ? 4 : 0);
  }
}
// Bytes of a tile's contiguous scale column (its rows up to `rows`; 0 for a tile past the end).
template <int ROWS>
__device__ __forceinline__ alto_u32 tile_scale_bytes(alto_i64 row0, alto_i64 rows) {
  return 4u * (alto_u32)max((alto_i64)0, min((alto_i64)ROWS, rows - row0));
}

// The tile of a persistent step: row tiles in groups of GROUP_M, column-major inside a group, so
// consecutive CTAs share B tiles (and A tiles) in L2.
template <int GROUP_M>
__device__ __forceinline__ void tile_of(alto_i64 t, alto_i64 tiles_m, alto_i64 tiles_n,
                                        int &tm, int &tn) {
  alto_i64 per_group = (alto_i64)GROUP_M * tiles_n;
  alto_i64 g = t / per_group, first = g * GROUP_M, in = t - g * per_group;
  alto_i64 rows = tiles_m - first < GROUP_M ? tiles_m - first : GROUP_M;
  tm = (int)(first + in % rows);
  tn = (int)(in / rows);
}

// Two outputs as bf16 (lo in the low half) by one hardware conversion: round to nearest even, as
// alto_f32_to_bf16 for every non-NaN value; a NaN becomes the canonical 0x7FFF (cuBLASLt's output)
// where alto_f32_to_bf16 keeps the payload. (The software form cost ~8 instructions per pair in
// the epilogue.)
__device__ __forceinline__ alto_u32 pack_bf16x2(float lo, float hi) {
  alto_u32 r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// The old values of two adjacent outputs (row r, columns c and c + 1) for C +=; 0 past the edges.
template <bool OUT_F32>
__device__ __forceinline__ float2 load2(const alto_gemm_args &a, alto_i64 r, alto_i64 c,
                                        bool pair_ok) {
  float2 v = make_float2(0.f, 0.f);
  if (r >= a.m || c >= a.n)
    return v;
  const alto_i64 e = r * a.ldc + c;
  const bool two = c + 1 < a.n;
  if (OUT_F32) {
    const float *p = (const float *)a.c + e;
    if (pair_ok && two)
      return *(const float2 *)p;
    v.x = p[0];
    v.y = two ? p[1] : 0.f;
  } else {
    const alto_u16 *p = (const alto_u16 *)a.c + e;
    if (pair_ok && two) {
      const alto_u32 w = *(const alto_u32 *)p;
      return make_float2(alto_bf16_to_f32((alto_u16)(w & 0xFFFFu)),
                         alto_bf16_to_f32((alto_u16)(w >> 16)));
    }
    v.x = alto_bf16_to_f32(p[0]);
    v.y = two ? alto_bf16_to_f32(p[1]) : 0.f;
  }
  return v;
}

// Two adjacent outputs (row r, columns c and c + 1) of the epilogue (bf16 round-to-nearest-even or
// fp32); past the edges nothing.
template <bool OUT_F32>
__device__ __forceinline__ void store2(const alto_gemm_args &a, alto_i64 r, alto_i64 c, float v0,
                                       float v1, bool pair_ok) {
  if (r >= a.m || c >= a.n)
    return;
  const alto_i64 e = r * a.ldc + c;
  const bool two = c + 1 < a.n;
  if (OUT_F32) {
    float *p = (float *)a.c + e;
    if (pair_ok && two) {
      *(float2 *)p = make_float2(v0, v1);
    } else {
      p[0] = v0;
      if (two)
        p[1] = v1;
    }
  } else {
    alto_u16 *p = (alto_u16 *)a.c + e;
    if (pair_ok && two) {
      *(alto_u32 *)p = pack_bf16x2(v0, v1);
    } else {
      p[0] = alto_f32_to_bf16(v0);
      if (two)
        p[1] = alto_f32_to_bf16(v1);
    }
  }
}

// OUTER: the reciprocal of a row's or a column's scale (the value of a code is code / scale,
// NUMERICS.md 3; torchao's scaled_mm multiplies by the reciprocal scales): rcp.approx, within one
// ulp (the scales of rowwise / tensorwise FP8 are normal fp32: 448 / amax with amax clamped to
// [1e-12, fp32 max]); 0 for an index past the end (its outputs are not stored).
__device__ __forceinline__ float outer_rcp(const float *s, alto_i64 i, alto_i64 stride,
                                           alto_i64 count) {
  if (i >= count)
    return 0.f;
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(__ldg(s + i * stride)));
  return r;
}

// One K block's scales for this thread's rows (a0: row r_in, a1: row r_in + 8) and, with 128x128
// B scales, the tile's first and second B block (b0, b1; read before the wgmma wait).
struct blk_scales {
  float a0, a1, b0, b1;
};

// BN: tile columns; STAGES: ring depth; BSCALE: 1 B scaled per 128x128, 0 per 1x128 (A 1x128 in
// both), 3 OUTER (no per-block promotion scales: one divisor per row of A and of B, above);
// OUT_F32: fp32 output (else bf16); ACCUM: C += (else C =); GROUP_M: raster group; CLUSTER: CTAs
// per cluster (1, or 2: the pair takes two row tiles of one column tile, each CTA loads half of the
// B tile and multicasts it to both, and a stage is refilled only when both pairs' consumers freed
// it); WGS: consumer warpgroups (2: BM 128, up to 224 registers each; 3: BM 192, 160 registers,
// tiles up to 128 wide).
// With 128x128-scaled B a tile whose width does not divide 128 straddles two scale blocks: its
// 8-column groups before the block boundary take the first block's scale, the rest the second's.
template <int BN, int STAGES, int BSCALE, bool OUT_F32, bool ACCUM, int GROUP_M, int CLUSTER,
          int WGS>
__device__ __forceinline__ void gemm_fp8(const alto_gemm_args &a) {
  static_assert(WGS == 2 || (WGS == 3 && BN <= 128), "consumer warpgroups (3: tiles <= 128 wide)");
  constexpr int BM = 64 * WGS, EPI_BYTES = WGS * EPI_WG_BYTES;
  // the scale kind (compiler/gen_gemm.h alto_gemm_bscale): B per 128x128 block, or one divisor
  // per row of A and of B applied in the epilogue (OUTER: rowwise / tensorwise FP8), else B 1x128
  constexpr bool B_BLOCK = BSCALE == 1, OUTER = BSCALE == 3;
  static_assert(BSCALE == 0 || BSCALE == 1 || BSCALE == 3, "scale kind");
  static_assert(BN % 16 == 0 && BN >= 16 && BN <= 256, "tile width");
  // tiles wider than 192 run as SPLIT sub-tiles of BNS columns: one accumulator set, reused
  constexpr int SPLIT = BN > 192 ? 2 : 1, BNS = BN / SPLIT;
  static_assert(BNS <= 192 && BNS % 8 == 0, "sub-tile width");
  // tile starts are multiples of gcd(BN, 128) inside a scale block: at most two blocks per tile
  constexpr int GCD128 = (BN % 128 == 0) ? 128 : (BN % 64 == 0) ? 64 : (BN % 32 == 0) ? 32 : 16;
  static_assert(!B_BLOCK || 128 - GCD128 + BN <= 256, "a 128x128-scaled B tile spans <= 2 blocks");
  constexpr bool B_UNIFORM = B_BLOCK && 128 % BN == 0; // one B scale per tile and K block
  // the tile's start column modulo 128 takes PH values (phases; 1 where GCD128 is 128)
  constexpr int PH = B_BLOCK && !B_UNIFORM ? 128 / GCD128 : 1;
  static_assert(CLUSTER == 1 || (CLUSTER == 2 && BN % 16 == 0), "pairs multicast 8-row halves");
  constexpr int A_BYTES = BM * BK, B_BYTES = BN * BK;
  constexpr int SB = B_BLOCK || OUTER ? 4 : BN; // B scales per stage (padded to 16 bytes)
  constexpr int NACC = BNS / 2;        // fp32 accumulators per thread (m64nBNS over 128 threads)
  // The TMA epilogue: each consumer warpgroup stages its 64 rows in chunks of 64 bytes of columns
  // (32 bf16 or 16 fp32; two 4 KiB buffers per warpgroup, 64-byte swizzle) and stores them by TMA
  // (C =) or adds them into fp32 C (C +=), while it goes on to the next tile.
  constexpr int ESZ = OUT_F32 ? 4 : 2, CCOLS = 64 / ESZ;
  constexpr bool TMA_EPI = !(ACCUM && !OUT_F32) && BN % CCOLS == 0;

  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // 1024-byte alignment of the tiles (the 128-byte swizzle repeats every 8 rows of 128 bytes)
  const alto_u32 raw = smem_addr(smem_raw);
  const alto_u32 base = (raw + 1023u) & ~1023u;
  unsigned char *gbase = smem_raw + (base - raw);
  const alto_u32 s_a = base;                               // [STAGES][BM][128] codes
  const alto_u32 s_b = s_a + STAGES * A_BYTES;             // [STAGES][BN][128] codes
  const alto_u32 s_epi = s_b + STAGES * B_BYTES;           // [WGS warpgroups][2][64][64] bytes
  float *sc_a = (float *)(gbase + STAGES * (A_BYTES + B_BYTES) + EPI_BYTES); // [STAGES][BM]
  float *sc_b = sc_a + STAGES * BM;                        // [STAGES][SB]
  const alto_u32 bar_full = smem_addr(sc_b + STAGES * SB); // [STAGES] u64
  const alto_u32 bar_empty = bar_full + STAGES * 8;        // [STAGES] u64
  // OUTER: the reciprocals of a tile's column scales, one row of BN per consumer warpgroup
  float *sc_col = sc_b + STAGES * SB + 4 * STAGES; // [WGS][BN] (after the barriers)

  // MX-scaled B (runtime/gemm_gpu.h) runs as two launches of which one works: the 128x128 kernel
  // where the conversion shared every block's scale (its counter 0), else the 1x128 kernel
  if (a.b_split && ((*(const volatile alto_u32 *)a.b_split != 0) != (a.b_split_run != 0)))
    return; // (the same for every thread, before any barrier)
  const int wg = threadIdx.x / 128, lane = threadIdx.x % 32;
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; s++) {
      mbar_init(bar_full + 8 * s, 33); // 32 cp.async lanes + the TMA issuer's expect_tx
      mbar_init(bar_empty + 8 * s, 4 * WGS * CLUSTER); // one arrival per consumer warp of the cluster
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  }
  if (CLUSTER > 1)
    cluster_sync(); // the peer's barriers are initialized before any multicast or remote arrival
  else
    __syncthreads();

  const alto_u32 crank = CLUSTER > 1 ? cluster_rank() : 0;
  const alto_i64 tiles_mc = (a.tiles_m + CLUSTER - 1) / CLUSTER; // row tiles per cluster step
  const alto_i64 tiles = tiles_mc * a.tiles_n;
  const alto_i64 t0 = blockIdx.x / CLUSTER, tstep = gridDim.x / CLUSTER;
  const int kblocks = (int)a.kblocks;
  const float *sa = (const float *)a.sa, *sb = (const float *)a.sb;

  if (wg == 0) {
    // ---- producer ------------------------------------------------------------------------------
    // (the register file: 128 x 56 + 256 x 224, or 128 x 32 + 384 x 160 = 65536)
    if constexpr (WGS == 2)
      asm volatile("setmaxnreg.dec.sync.aligned.u32 56;");
    else
      asm volatile("setmaxnreg.dec.sync.aligned.u32 32;");
    if (threadIdx.x < 32) {
    if (lane == 0) {
      asm volatile("prefetch.tensormap [%0];" ::"l"((alto_u64)&a.tma_a) : "memory");
      asm volatile("prefetch.tensormap [%0];" ::"l"((alto_u64)&a.tma_b) : "memory");
    }
    int s = 0;             // the stage of the next K block
    alto_u32 free_par = 1; // the parity its empty barrier must show (the first round passes)
    for (alto_i64 t = t0; t < tiles; t += tstep) {
      int tm, tn;
      tile_of<GROUP_M>(t, tiles_mc, a.tiles_n, tm, tn);
      tm = tm * CLUSTER + (int)crank;
      const alto_i64 row0 = (alto_i64)tm * BM, col0 = (alto_i64)tn * BN;
      for (int kb = 0; kb < kblocks; kb++) {
        mbar_wait(bar_empty + 8 * s, free_par);
        // scale bytes that arrive by bulk copy (the rest by cp.async): the tile's rows up to M
        // (N), a multiple of 16 bytes since M (N) is a multiple of 4 there
        // (none for a pair's tile past the end)
        // (OUTER: no per-block scales; the epilogue reads the rows' and columns' divisors)
        const alto_u32 sa_bytes = !OUTER && a.sa_bulk ? tile_scale_bytes<BM>(row0, a.m) : 0u;
        const alto_u32 sb_bytes =
            !B_BLOCK && !OUTER && a.sb_bulk ? tile_scale_bytes<BN>(col0, a.n) : 0u;
        if (!OUTER && !a.sa_bulk)
          copy_scale_rows<BM>(sc_a + s * BM, sa, row0, a.m, a.sa_r, kb * a.sa_k, lane);
        if (OUTER) {
        } else if (B_BLOCK) {
          if (lane < (B_UNIFORM ? 1 : 2)) { // the tile's first scale block and the next
            const alto_i64 nb = col0 / 128 + lane;
            const bool in = nb * 128 < a.n;
            cp_async4(smem_addr(sc_b + s * SB + lane), in ? sb + nb * a.sb_r + kb * a.sb_k : sb,
                      in ? 4 : 0);
          }
        } else if (!a.sb_bulk) {
          copy_scale_rows<BN>(sc_b + s * SB, sb, col0, a.n, a.sb_r, kb * a.sb_k, lane);
        }
        cp_async_arrive(bar_full + 8 * s);
        if (lane == 0) {
          mbar_arrive_expect_tx(bar_full + 8 * s, A_BYTES + B_BYTES + sa_bytes + sb_bytes);
          if (sa_bytes)
            bulk_load(smem_addr(sc_a + s * BM), sa + row0 + kb * a.sa_k, sa_bytes,
                      bar_full + 8 * s);
          if (sb_bytes)
            bulk_load(smem_addr(sc_b + s * SB), sb + col0 + kb * a.sb_k, sb_bytes,
                      bar_full + 8 * s);
          tma_load_2d(s_a + s * A_BYTES, &a.tma_a, kb * BK, (int)row0, bar_full + 8 * s);
          if (CLUSTER == 1)
            tma_load_2d(s_b + s * B_BYTES, &a.tma_b, kb * BK, (int)col0, bar_full + 8 * s);
          else // this CTA's half of the B tile, to both
            tma_load_2d_mc(s_b + s * B_BYTES + crank * (B_BYTES / 2), &a.tma_b, kb * BK,
                           (int)col0 + (int)crank * (BN / 2), bar_full + 8 * s, 0x3);
        }
        ring_next<STAGES>(s, free_par);
      }
    }
    }
    if (CLUSTER > 1)
      cluster_sync(); // stay until the peer's last remote arrival
    return;
  }

  // ---- consumers -------------------------------------------------------------------------------
  if constexpr (WGS == 2)
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;");
  else
    asm volatile("setmaxnreg.inc.sync.aligned.u32 160;");
  // consumer warpgroup: rows cw * 64 .. (broadcast from lane 0 so that ptxas knows it is
  // warp-uniform and keeps the descriptors derived from it in uniform registers)
  const int cw = __shfl_sync(0xffffffffu, wg - 1, 0);
  const int wq = (threadIdx.x % 128) / 32; // warp in the warpgroup: rows wq * 16 ..
  const int r_in = cw * 64 + wq * 16 + lane / 4; // this thread's rows: r_in and r_in + 8
  const int c_in = 2 * (lane % 4);               // its columns: 8 j + c_in, + 1
  float acc[NACC], tot[SPLIT * NACC];
  // the ring position of the next K block (stage, and the parity of its full barrier's phase);
  // TMA epilogue stores issued (its buffer parity)
  int stg = 0;
  alto_u32 phase = 0, epi_n = 0;
  // stage 0's descriptors
  const alto_u32 a_lo = alto_wg_desc_lo(s_a + cw * 64 * BK), b_lo = alto_wg_desc_lo(s_b);
  const bool epi_issuer = threadIdx.x % 128 == 0;
  bool ahead = false; // this tile's first K block's first sub-tile was issued by the tile before
  for (alto_i64 t = t0; t < tiles; t += tstep) {
    int tm, tn;
    tile_of<GROUP_M>(t, tiles_mc, a.tiles_n, tm, tn);
    tm = tm * CLUSTER + (int)crank;
    // the tile's phase: its start column modulo 128 in units of GCD128 (128x128 scales)
    // (0 where there is one phase)
    const int phase_b = PH > 1 ? (int)(((alto_i64)tn * BN) % 128) / GCD128 : 0;
    // The block in stage s: its scales (read before the wgmma wait, so that the loads overlap it)
    auto scales_of = [&](int s) {
      blk_scales k;
      k.a0 = k.a1 = k.b0 = k.b1 = 0.f;
      if (OUTER)
        return k;
      k.a0 = sc_a[s * BM + r_in];
      k.a1 = sc_a[s * BM + r_in + 8];
      if (B_BLOCK) {
        k.b0 = sc_b[s * SB];
        k.b1 = B_UNIFORM ? k.b0 : sc_b[s * SB + 1];
      }
      return k;
    };
    // Sub-tile h of the block in stage s: four wgmma into acc (A and B from shared memory).
    auto issue = [&](int s, int h) {
      const alto_u32 da = a_lo + (alto_u32)s * (A_BYTES >> 4);
      const alto_u32 db = b_lo + (alto_u32)s * (B_BYTES >> 4) + (alto_u32)h * (BNS * BK >> 4);
#pragma unroll
      for (int q = 0; q < NACC; q++)
        alto_wg_pin(acc[q]);
      alto_wg_fence();
#pragma unroll
      for (int kk = 0; kk < BK / 32; kk++) // 32 bytes of K per wgmma: +2 in descriptor units
        alto_gemm_wgmma(acc, alto_wg_desc(da + 2 * kk), alto_wg_desc(db + 2 * kk), kk > 0);
      alto_wg_commit();
    };
    // acc (finished) of the block in stage s, sub-tile h, into the fp32 totals with the block's
    // scales k (128x128: b0 for the tile's column groups < nf, else b1; 1x128: the stage's
    // per-column scales). first_kb (a constant at every call): the tile's first K block, whose
    // products start the totals (an FFMA with +0, as adding to zeroed totals would, without
    // zeroing them).
    auto promote = [&](int s, int h, const blk_scales &k, int nf, bool first_kb) {
#pragma unroll
      for (int q = 0; q < NACC; q++)
        alto_wg_pin(acc[q]);
      float *tt = tot + h * NACC;
      auto add = [&](int i, float f) { tt[i] = __fmaf_rn(acc[i], f, first_kb ? 0.f : tt[i]); };
      if (OUTER) { // the block's sum into the totals, unscaled (the first: + 0, as above)
#pragma unroll
        for (int i = 0; i < NACC; i++)
          tt[i] = __fadd_rn(acc[i], first_kb ? 0.f : tt[i]);
      } else if (B_BLOCK) {
        const float f00 = k.a0 * k.b0, f10 = k.a1 * k.b0, f01 = k.a0 * k.b1, f11 = k.a1 * k.b1;
#pragma unroll
        for (int j = 0; j < BNS / 8; j++) {
          const bool first = B_UNIFORM || h * (BNS / 8) + j < nf; // (a constant: see below)
          const float f0 = first ? f00 : f01, f1 = first ? f10 : f11;
          add(4 * j + 0, f0);
          add(4 * j + 1, f0);
          add(4 * j + 2, f1);
          add(4 * j + 3, f1);
        }
      } else {
#pragma unroll
        for (int j = 0; j < BNS / 8; j++) {
          const float2 b = *(const float2 *)(sc_b + s * SB + h * BNS + 8 * j + c_in);
          add(4 * j + 0, k.a0 * b.x);
          add(4 * j + 1, k.a0 * b.y);
          add(4 * j + 2, k.a1 * b.x);
          add(4 * j + 3, k.a1 * b.y);
        }
      }
    };
    // waits for the block in the current stage and issues its first sub-tile
    auto start_block = [&]() {
      mbar_wait(bar_full + 8 * stg, phase);
      issue(stg, 0);
    };
    // stage s is free again (one arrival per consumer warp, both CTAs of a pair)
    auto release = [&](int s) {
      __syncwarp();
      if (lane == 0) {
        mbar_arrive(bar_empty + 8 * s);
        if (CLUSTER > 1)
          mbar_arrive_cluster(bar_empty + 8 * s, crank ^ 1);
      }
    };
    // Per K block and sub-tile: wgmma, wait, promote (the block's scales read while the first
    // sub-tile runs). (A second partial set, so that the next block's wgmma run during this one's
    // promotion, measured no faster, also with A from registers and 64-wide sub-tiles:
    // bench/NOTES.md.)
    // The main loop, once per phase (unrolled: ph, nf and every block choice of the promotion are
    // constants in each copy; one compare per phase and tile picks the copy). nf: the tile's
    // 8-column groups before its scale-block boundary.
#pragma unroll
    for (int ph = 0; ph < PH; ph++) {
      if (ph != phase_b)
        continue;
      const int nf = (128 - ph * GCD128) / 8;
      // one K block (first: the tile's first, peeled so that it is a constant in both copies)
      auto kblock = [&](bool first) {
        if (!first || !ahead)
          start_block();
        const blk_scales k = scales_of(stg);
#pragma unroll
        for (int h = 0; h < SPLIT; h++) {
          if (h > 0)
            issue(stg, h);
          alto_wg_wait<0>();
          promote(stg, h, k, nf, first);
        }
        release(stg);
        ring_next<STAGES>(stg, phase);
      };
      if constexpr (CLUSTER == 1) {
        kblock(true); // (kblocks >= 1: K >= 1)
      } else { // (the peeled copy spilled in a pair variant: zeroed totals there)
#pragma unroll
        for (int i = 0; i < SPLIT * NACC; i++)
          tot[i] = 0.f;
        kblock(false);
      }
      for (int kb = 1; kb < kblocks; kb++)
        kblock(false);
    }
    // The next tile's first sub-tile is issued before this tile's epilogue, so that the tensor
    // cores work while the totals are written (acc is free; the totals are not touched by it).
    // Not for C +=: its epilogue's loads of C need the registers (ptxas spilled there). Not for
    // pairs: their first K block is not peeled (that copy spilled), so it would issue the
    // sub-tile again (skipping the issue there spilled too).
    ahead = CLUSTER == 1 && !ACCUM && t + tstep < tiles;
    if (ahead)
      start_block();
    // ---- epilogue ----
    const alto_i64 r0 = (alto_i64)tm * BM + r_in;
    const alto_i64 cbase = (alto_i64)tn * BN + c_in;
    const bool pair_ok = (a.ldc % 2) == 0;
    // OUTER: the tile's column reciprocals into shared memory (each of the warpgroup's threads
    // computes one or two; the barrier before: the previous tile's have been read), the rows' into
    // registers; out(j) gives the four outputs of column group j, scaled where OUTER
    float ia0 = 1.f, ia1 = 1.f;
    if (OUTER) {
      const float *sb = (const float *)a.sb, *sa = (const float *)a.sa;
      wg_sync(cw);
      for (int c = threadIdx.x % 128; c < BN; c += 128)
        sc_col[cw * BN + c] = outer_rcp(sb, (alto_i64)tn * BN + c, a.sb_r, a.n);
      ia0 = outer_rcp(sa, r0, a.sa_r, a.m);
      ia1 = outer_rcp(sa, r0 + 8, a.sa_r, a.m);
      wg_sync(cw);
    }
    const alto_u32 s_col = smem_addr(sc_col + cw * BN + c_in); // (OUTER) this thread's columns
    auto out = [&](int j) {
      float4 v = make_float4(tot[4 * j], tot[4 * j + 1], tot[4 * j + 2], tot[4 * j + 3]);
      if (OUTER) {
        float2 ib;
        asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];"
                     : "=f"(ib.x), "=f"(ib.y)
                     : "r"(s_col + 32u * j));
        // (rounded products: never contracted into C += 's add, which the TMA epilogue does in
        // L2 after them)
        v.x = __fmul_rn(__fmul_rn(v.x, ia0), ib.x);
        v.y = __fmul_rn(__fmul_rn(v.y, ia0), ib.y);
        v.z = __fmul_rn(__fmul_rn(v.z, ia1), ib.x);
        v.w = __fmul_rn(__fmul_rn(v.w, ia1), ib.y);
      }
      return v;
    };
    if (TMA_EPI && a.c_tma) {
      const int lr = wq * 16 + lane / 4; // this thread's rows in the warpgroup's 64: lr, lr + 8
      const int y = tm * BM + cw * 64;
#pragma unroll
      for (int ch = 0; ch < BN / CCOLS; ch++) {
        // Chunks wholly past the edges are neither staged nor stored, and do not count: the two
        // buffers alternate over the stores actually issued, so that waiting for all but the
        // last store always frees the buffer about to be written (skipped chunks counted in the
        // parity would let a tile start on the buffer whose store is still in flight).
        const int x = tn * BN + ch * CCOLS;
        if (x >= a.n || y >= a.m) // (the same for the whole warpgroup)
          break;
        const alto_u32 buf = s_epi + (alto_u32)(cw * 2 + (epi_n & 1)) * 4096u;
        epi_n++;
        if (epi_issuer)
          bulk_wait_read<1>(); // the store issued from this buffer two stores ago has read it
        wg_sync(cw);
#pragma unroll
        for (int g = 0; g < CCOLS / 8; g++) {
          const int j = ch * (CCOLS / 8) + g;
          const float4 v = out(j);
          if (OUT_F32) {
            const int bb = g * 32 + c_in * 4;
            asm volatile("st.shared.v2.f32 [%0], {%1, %2};" ::"r"(buf + swz64(lr, bb)),
                         "f"(v.x), "f"(v.y) : "memory");
            asm volatile("st.shared.v2.f32 [%0], {%1, %2};" ::"r"(buf + swz64(lr + 8, bb)),
                         "f"(v.z), "f"(v.w) : "memory");
          } else {
            const int bb = g * 16 + c_in * 2;
            asm volatile("st.shared.b32 [%0], %1;" ::"r"(buf + swz64(lr, bb)),
                         "r"(pack_bf16x2(v.x, v.y)) : "memory");
            asm volatile("st.shared.b32 [%0], %1;" ::"r"(buf + swz64(lr + 8, bb)),
                         "r"(pack_bf16x2(v.z, v.w)) : "memory");
          }
        }
        asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); // visible to the TMA
        wg_sync(cw);
        if (epi_issuer)
          tma_store_2d<ACCUM>(&a.tma_c, x, y, buf);
      }
    } else if (ACCUM) {
      // C +=: the old values of EPI column groups are loaded together (one round trip per batch,
      // not per pair: a load after a store to C cannot be hoisted above it), then the sums stored
      constexpr int EPI = 8;
#pragma unroll
      for (int j0 = 0; j0 < BN / 8; j0 += EPI) {
        float2 old[EPI][2];
#pragma unroll
        for (int jj = 0; jj < EPI; jj++) {
          if (j0 + jj < BN / 8) { // (BN / 8 need not be a multiple of EPI)
            old[jj][0] = load2<OUT_F32>(a, r0, cbase + 8 * (j0 + jj), pair_ok);
            old[jj][1] = load2<OUT_F32>(a, r0 + 8, cbase + 8 * (j0 + jj), pair_ok);
          }
        }
#pragma unroll
        for (int jj = 0; jj < EPI; jj++) {
          const int j = j0 + jj;
          if (j >= BN / 8)
            break;
          const float4 v = out(j);
          store2<OUT_F32>(a, r0, cbase + 8 * j, old[jj][0].x + v.x, old[jj][0].y + v.y, pair_ok);
          store2<OUT_F32>(a, r0 + 8, cbase + 8 * j, old[jj][1].x + v.z, old[jj][1].y + v.w,
                          pair_ok);
        }
      }
    } else {
#pragma unroll
      for (int j = 0; j < BN / 8; j++) { // sub-tile h's column block j' is j = h * BNS / 8 + j'
        const float4 v = out(j);
        store2<OUT_F32>(a, r0, cbase + 8 * j, v.x, v.y, pair_ok);
        store2<OUT_F32>(a, r0 + 8, cbase + 8 * j, v.z, v.w, pair_ok);
      }
    }
  }
  if (TMA_EPI && epi_issuer)
    bulk_wait_all(); // the last stores have read the staging buffers (and are done)
  if (CLUSTER > 1)
    cluster_sync();
}

} // namespace alto_gemm

#endif
