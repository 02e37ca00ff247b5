// wgmma.cuh: the Hopper warpgroup MMA primitives the sm_90a templates share
// (gemm/gemm_fp8_sm90.cuh, attn/attention_sm90.cuh): shared-memory matrix descriptors of
// 128-byte-swizzled tiles, fence, commit, wait, and the register pin. The MMA instructions
// themselves are written by the generator into each stub (inline asm takes no operand arrays:
// compiler/gen_wgmma.c).
//
// The tiles are what TMA's 128-byte swizzle writes (and what attn_common.cuh's row copies write):
// rows of 128 bytes, 8-row groups of 1024 bytes (1024-byte aligned), the 16-byte
// chunk j of row r at r * 128 + ((j ^ (r % 8)) * 16).
//   K-major (the reduction dimension contiguous, A and B of C = A B^T): one tile per 128 bytes of
//     K; a K step of 32 bytes inside the tile moves the start address by 32 bytes.
//   MN-major (B[k][n], n contiguous: imm-trans-b 1): 64 bf16 of N per tile row, consecutive K
//     rows; a 64-wide N panel after the next is `leading` bytes on (the descriptor's leading
//     offset), 8-row K groups 1024 bytes apart; a K step of 16 rows moves the start by 2048 bytes.
#ifndef ALTO_WGMMA_CUH
#define ALTO_WGMMA_CUH

#include "common/alto_device.h"

// The descriptor's low word: start address in 16-byte units, leading offset (16-byte units; unused
// by K-major tiles, 1 there). Adding to the low word moves the start (shared memory is below
// 256 KiB, so the 14-bit field never carries): per-stage and per-K-step descriptors are one add.
__device__ __forceinline__ alto_u32 alto_wg_desc_lo(alto_u32 addr, alto_u32 leading = 16) {
  return ((addr & 0x3FFFF) >> 4) | ((leading >> 4) << 16);
}
// The whole descriptor from its low word: 1024 bytes between 8-row groups, 128-byte swizzle.
__device__ __forceinline__ alto_u64 alto_wg_desc(alto_u32 lo) {
  return ((alto_u64)((1024 >> 4) | (1u << 30)) << 32) | lo;
}
__device__ __forceinline__ void alto_wg_fence() {
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}
__device__ __forceinline__ void alto_wg_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
// Orders this thread's earlier shared-memory writes (st.shared, cp.async once waited for) before
// later reads through the async proxy (wgmma operands, TMA stores).
__device__ __forceinline__ void alto_wg_fence_proxy() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
// Waits until at most N of this warpgroup's committed groups are pending.
template <int N> __device__ __forceinline__ void alto_wg_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
// Pins a register at this point of the instruction stream (accumulators must not be read before
// the wgmma that writes them has been waited for, nor register operands changed before it reads
// them).
__device__ __forceinline__ void alto_wg_pin(float &r) {
  asm volatile("" : "+f"(r)::"memory");
}
__device__ __forceinline__ void alto_wg_pin(alto_u32 &r) {
  asm volatile("" : "+r"(r)::"memory");
}

#endif
