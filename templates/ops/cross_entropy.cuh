// Softmax cross-entropy, forward and backward fused, mean over the tokens whose target is >= 0
// (targets < 0 ignored, PyTorch's ignore_index), as runtime/cpu/ops.c: sums and the log-sum-exp
// in double. Three kernels:
//   count  one CTA: loss[1] = the number of valid targets (as a double)
//   rows   grid (M): one CTA per row, the logits read three times: the max, the sum of
//          exponentials (each thread over its strided columns, then combined across the CTA in a
//          fixed tree), row_loss[m] = lse - logits[t]; then dlogits[v] = (float)(exp(l - lse) /
//          n_valid), dlogits[t] -= (float)(1 / n_valid); ignored rows: loss 0, dlogits 0. dlogits
//          may be nullptr (forward only) or equal logits (in place).
//   mean   one CTA: loss[0] = sum(row_loss) / n_valid (fixed tree order), 0 without valid rows.
// logits, dlogits (M, V) bf16 or fp32; targets (M,) int32 (< V); row_loss (M,) and loss (2,) fp64.
// The exp / log are CUDA's (double, within an ulp of glibc's): see tests/test_ops_gpu.c.
// For bf16 logits on sm_90, ce_rows_cl (below) replaces rows: one read and one write.
#ifndef ALTO_OPS_CROSS_ENTROPY_CUH
#define ALTO_OPS_CROSS_ENTROPY_CUH

#include "ops/ops_common.cuh"

template <int NT>
__device__ __forceinline__ void alto_ce_count(double *loss, const alto_i32 *targets, alto_i64 M) {
  __shared__ int sh[NT / ALTO_WARP + 1];
  int n = 0;
  for (alto_i64 m = threadIdx.x; m < M; m += NT)
    n += targets[m] >= 0;
  n = alto_block_sum<NT>(n, sh);
  if (threadIdx.x == 0)
    loss[1] = (double)n;
}

template <bool BF16, int NT>
__device__ __forceinline__ void alto_ce_rows(void *dlogits, double *row_loss, const void *logits,
                                             const alto_i32 *targets, const double *loss,
                                             alto_i64 V) {
  __shared__ float shf[NT / ALTO_WARP + 1];
  __shared__ double shd[NT / ALTO_WARP + 1];
  const alto_idx m = blockIdx.x, row = m * V;
  const alto_i32 t = targets[m];
  if (t < 0) {
    if (threadIdx.x == 0)
      row_loss[m] = 0.0;
    if (dlogits)
      for (alto_idx v = threadIdx.x; v < V; v += NT)
        alto_store1<BF16>(dlogits, row + v, 0.0f);
    return;
  }
  /* read before any thread writes dlogits (which may alias logits) */
  const float lt =
      t < V ? alto_load1<BF16>(logits, row + t) : alto_f32_from_bits(ALTO_F32_NAN_BITS);
  /* The CPU subtracts the row max in fp32 before widening, exp((double)(l - mx)): an online max
   * (a running max per thread, rescaled) would round those subtractions differently, by up to
   * 1e-7 in the log-sum-exp. So the max comes first and every term is the CPU's term; only the
   * order of the double sum differs. */
  float mx = -alto_f32_from_bits(ALTO_F32_INF_BITS);
  for (alto_idx v = threadIdx.x; v < V; v += NT)
    mx = alto_ops_max_(mx, alto_load1<BF16>(logits, row + v));
  mx = alto_block_max<NT>(mx, shf);
  double s = 0.0;
  for (alto_idx v = threadIdx.x; v < V; v += NT)
    s = ALTO_DADD(s, exp((double)ALTO_FSUB(alto_load1<BF16>(logits, row + v), mx)));
  const double sum = alto_block_sum<NT>(s, shd);
  const double lse = ALTO_DADD((double)mx, log(sum));
  if (threadIdx.x == 0)
    row_loss[m] = ALTO_DSUB(lse, (double)lt);
  if (!dlogits)
    return;
  const double n = loss[1];
  const double inv_n = n > 0.0 ? ALTO_DDIV(1.0, n) : 0.0;
  for (alto_idx v = threadIdx.x; v < V; v += NT) {
    const float l = alto_load1<BF16>(logits, row + v);
    float d = (float)ALTO_DMUL(exp(ALTO_DSUB((double)l, lse)), inv_n);
    if (v == t)
      d = ALTO_FSUB(d, (float)inv_n);
    alto_store1<BF16>(dlogits, row + v, d);
  }
}

template <int NT>
__device__ __forceinline__ void alto_ce_mean(double *loss, const double *row_loss, alto_i64 M) {
  __shared__ double sh[NT / ALTO_WARP + 1];
  double s = 0.0;
  for (alto_i64 m = threadIdx.x; m < M; m += NT)
    s = ALTO_DADD(s, row_loss[m]);
  s = alto_block_sum<NT>(s, sh);
  if (threadIdx.x == 0)
    loss[0] = loss[1] > 0.0 ? ALTO_DDIV(s, loss[1]) : 0.0;
}

// ---- the fused one-pass kernel: bf16 logits, CUDA sm_90 ------------------------------------
// ce_rows_cl: the same row losses and dlogits in one read of the logits and one write. A thread
// block cluster of CL CTAs (NT threads, 8 VEC elements each) holds a row: each CTA copies its
// chunk (consecutive 16-byte groups of the row) into shared memory with cp.async, the next row's
// while it computes this one; the CTAs exchange their maxima and sums through distributed shared
// memory (alto_ce_xchg_; combined in rank order: every CTA gets the same bits). Each cluster walks
// ROWS consecutive rows.
//   max   as the rows kernel (ignoring NaN, bf16 pairs at a time).
//   sum   the terms are the CPU's, exp((double)(l - mx)) with the fp32 subtraction, summed in
//         double (each thread's elements in order, its slow ones last, then a fixed tree, then
//         the ranks in order). Where l - mx is exact in fp32 (l's exponent within 16 of mx's,
//         both normal: almost every element) the term is computed by a table-driven exp
//         (2^(n/256) times a degree-4 polynomial: within 2^-51 relative), with the argument
//         clamped at -87 (a term below e^-87 moves a sum >= 1 by nothing, V e^-87 < 2^-100);
//         other elements use CUDA's exp.
//   dlogits  d = (float)(exp((double)l - lse) / n_valid), rounded to bf16. The fast path forms
//         y = e * K in fp32, e = exp(l - mx) truncated to 20 mantissa bits (the sum's term's high
//         word) and K = (float)(exp(mx - lse) / n_valid): |y - d| < 2^-19.8 |y| < 19 ulps of y,
//         so where y is normal and more than 24 ulps from a bf16 rounding midpoint (all but 49
//         in 65536), y rounds to d's bf16. Other elements (and the target, and the row's partial
//         16-byte groups) are computed as the rows kernel computes them: every dlogit is the rows
//         kernel's formula, bit for bit, given the lse.
// Needs 16-byte aligned logits and dlogits and V + 16 <= 8 CL NT VEC (runtime/ops_gpu.c checks).
#if !defined(__HIPCC__) && !defined(__HIPCC_RTC__)

#if defined(__CUDA_ARCH__)
#define ALTO_CE_DFMA_(a, b, c) __fma_rn((a), (b), (c))
extern __shared__ uint4 alto_ce_dyn_smem_[];
#define ALTO_CE_DYN_SMEM_ ((unsigned char *)alto_ce_dyn_smem_)
#else /* tests/ops_host_emu.cpp */
#define ALTO_CE_DFMA_(a, b, c) fma((a), (b), (c))
#define ALTO_CE_DYN_SMEM_ alto_emu_dyn_smem()
#endif

template <int CL> __device__ __forceinline__ unsigned alto_ce_rank_() {
  if (CL == 1)
    return 0;
#if defined(__CUDA_ARCH__)
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
#else
  return alto_emu_cluster_rank();
#endif
}

#if defined(__CUDA_ARCH__)
// The shared-window address of a pointer into this CTA's shared memory.
__device__ __forceinline__ alto_u32 alto_ce_smem_addr_(const void *p) {
  alto_u32 a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}
// The same address in the shared memory of CTA `rank` of the cluster.
__device__ __forceinline__ alto_u32 alto_ce_peer_addr_(const void *p, unsigned rank) {
  alto_u32 r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;"
               : "=r"(r)
               : "r"(alto_ce_smem_addr_(p)), "r"(rank));
  return r;
}
#endif

// The cluster's exchange: one double per CTA per phase (0: the maxima, 1: the sums). Thread 0 of
// each CTA stores its value into slot `rank` of every CTA with st.async, which completes the
// receiver's mbarrier of the phase (one arrival, the receiver's own, expecting CL values); every
// thread then waits for its barrier's phase and reads the CL slots. No fence, no cluster barrier
// per row: a CTA runs at most one phase ahead of another (it needs everyone's value to finish a
// phase), and the two phases have their own barriers and slots.
struct alto_ce_slots_ {
  alto_u64 bar[2];
  double slot[2][8];
};

template <int CL> __device__ __forceinline__ void alto_ce_xchg_init_(alto_ce_slots_ *x) {
  if (CL == 1)
    return;
#if defined(__CUDA_ARCH__)
  if (threadIdx.x == 0) {
    for (int p = 0; p < 2; p++)
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(alto_ce_smem_addr_(&x->bar[p]))
                   : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
               "barrier.cluster.wait.acquire.aligned;" ::
                   : "memory");
#endif
}

// Sends v (every thread passes this CTA's value; thread 0 sends it) and waits for the phase's CL
// values: x->slot[p][0 .. CL-1] then hold the ranks' values. parity: this barrier's phase bit.
template <int CL>
__device__ __forceinline__ void alto_ce_xchg_(alto_ce_slots_ *x, int p, double v, unsigned rank,
                                              unsigned &parity) {
#if defined(__CUDA_ARCH__)
  if (threadIdx.x == 0) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(
                     alto_ce_smem_addr_(&x->bar[p])),
                 "r"(CL * 8)
                 : "memory");
    for (int r = 0; r < CL; r++)
      asm volatile(
          "st.async.shared::cluster.mbarrier::complete_tx::bytes.b64 [%0], %1, [%2];" ::"r"(
              alto_ce_peer_addr_(&x->slot[p][rank], r)),
          "l"(alto_f64_bits(v)), "r"(alto_ce_peer_addr_(&x->bar[p], r))
          : "memory");
  }
  const alto_u32 bar = alto_ce_smem_addr_(&x->bar[p]);
  alto_u32 done = 0;
  while (!done)
    asm volatile(
        "{ .reg .pred q; mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 q, [%1], %2; "
        "selp.u32 %0, 1, 0, q; }"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  parity ^= 1u;
#else
  if (threadIdx.x == 0)
    for (unsigned r = 0; r < CL; r++)
      *(double *)alto_emu_cluster_map(&x->slot[p][rank], r) = v;
  alto_emu_cluster_sync();
  parity ^= 1u;
#endif
}

// 16 bytes global -> shared, asynchronously (commit after a batch); wait: all of this thread's
// copies landed.
__device__ __forceinline__ void alto_ce_cp16_(uint4 *dst, const uint4 *src) {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(alto_ce_smem_addr_(dst)), "l"(src)
               : "memory");
#else
  *dst = *src;
#endif
}
__device__ __forceinline__ void alto_ce_cp_wait_all_() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_all;" ::: "memory");
#endif
}
__device__ __forceinline__ void alto_ce_cp_commit_() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

// Elementwise max of two bf16 pairs, a NaN in b ignored (a is never NaN).
__device__ __forceinline__ alto_u32 alto_ce_max2_(alto_u32 a, alto_u32 b) {
#if defined(__CUDA_ARCH__)
  alto_u32 r;
  asm("max.bf16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  const alto_u32 lo = alto_ops_lo_(b) > alto_ops_lo_(a) ? b & 0xFFFFu : a & 0xFFFFu;
  const alto_u32 hi = alto_ops_hi_(b) > alto_ops_hi_(a) ? b >> 16 : a >> 16;
  return lo | hi << 16;
#endif
}

// The two words of a double, and back.
__device__ __forceinline__ alto_u32 alto_ce_hi_(double x) {
#if defined(__CUDA_ARCH__)
  return (alto_u32)__double2hiint(x);
#else
  return (alto_u32)(alto_f64_bits(x) >> 32);
#endif
}
__device__ __forceinline__ alto_u32 alto_ce_lo_(double x) {
#if defined(__CUDA_ARCH__)
  return (alto_u32)__double2loint(x);
#else
  return (alto_u32)alto_f64_bits(x);
#endif
}
__device__ __forceinline__ double alto_ce_hilo_(alto_u32 hi, alto_u32 lo) {
#if defined(__CUDA_ARCH__)
  return __hiloint2double((int)hi, (int)lo);
#else
  return alto_f64_from_bits((alto_u64)hi << 32 | lo);
#endif
}

// exp(t) for t in [-87, 0]: 2^(n/256) (a table) times a degree-4 polynomial in
// r = t - n ln2/256, |r| <= ln2/512 (truncation r^5/120 < 2^-54); relative error below 2^-51.
__device__ __forceinline__ double alto_ce_exp_(double t, const double *tab) {
  const double kd = ALTO_CE_DFMA_(t, 0x1.71547652b82fep+8, 0x1.8p52); /* 256/ln2; n: low bits */
  const alto_u32 n = alto_ce_lo_(kd);
  const double k = ALTO_DSUB(kd, 0x1.8p52);
  double r = ALTO_CE_DFMA_(-k, 0x1.62e42fefa0000p-9, t); /* ln2/256 in 36 bits: exact */
  r = ALTO_CE_DFMA_(-k, 0x1.cf79abc9e3b3ap-48, r);
  double p = ALTO_CE_DFMA_(r, 1.0 / 24, 1.0 / 6);
  p = ALTO_CE_DFMA_(p, r, 0.5);
  p = ALTO_CE_DFMA_(p, r, 1.0);
  p = ALTO_CE_DFMA_(p, r, 1.0);
  /* 2^(n/256) = tab[n mod 256] 2^(n div 256): the exponent added to the high word */
  const double c = tab[n & 255u];
  const alto_u32 hi = alto_ce_hi_(c) + (alto_u32)((int)n >> 8) * (1u << 20);
  return ALTO_DMUL(alto_ce_hilo_(hi, alto_ce_lo_(c)), p);
}

// 2^(j/256), j = 0 .. 255, rounded to nearest.
alignas(16) static __device__ const double alto_ce_exp_tab_[256] = {
    0x1.0000000000000p+0, 0x1.00b1afa5abcbfp+0, 0x1.0163da9fb3335p+0, 0x1.02168143b0281p+0,
    0x1.02c9a3e778061p+0, 0x1.037d42e11bbccp+0, 0x1.04315e86e7f85p+0, 0x1.04e5f72f654b1p+0,
    0x1.059b0d3158574p+0, 0x1.0650a0e3c1f89p+0, 0x1.0706b29ddf6dep+0, 0x1.07bd42b72a836p+0,
    0x1.0874518759bc8p+0, 0x1.092bdf66607e0p+0, 0x1.09e3ecac6f383p+0, 0x1.0a9c79b1f3919p+0,
    0x1.0b5586cf9890fp+0, 0x1.0c0f145e46c85p+0, 0x1.0cc922b7247f7p+0, 0x1.0d83b23395decp+0,
    0x1.0e3ec32d3d1a2p+0, 0x1.0efa55fdfa9c5p+0, 0x1.0fb66affed31bp+0, 0x1.1073028d7233ep+0,
    0x1.11301d0125b51p+0, 0x1.11edbab5e2ab6p+0, 0x1.12abdc06c31ccp+0, 0x1.136a814f204abp+0,
    0x1.1429aaea92de0p+0, 0x1.14e95934f312ep+0, 0x1.15a98c8a58e51p+0, 0x1.166a45471c3c2p+0,
    0x1.172b83c7d517bp+0, 0x1.17ed48695bbc0p+0, 0x1.18af9388c8deap+0, 0x1.1972658375d2fp+0,
    0x1.1a35beb6fcb75p+0, 0x1.1af99f8138a1cp+0, 0x1.1bbe084045cd4p+0, 0x1.1c82f95281c6bp+0,
    0x1.1d4873168b9aap+0, 0x1.1e0e75eb44027p+0, 0x1.1ed5022fcd91dp+0, 0x1.1f9c18438ce4dp+0,
    0x1.2063b88628cd6p+0, 0x1.212be3578a819p+0, 0x1.21f49917ddc96p+0, 0x1.22bdda27912d1p+0,
    0x1.2387a6e756238p+0, 0x1.2451ffb82140ap+0, 0x1.251ce4fb2a63fp+0, 0x1.25e85711ece75p+0,
    0x1.26b4565e27cddp+0, 0x1.2780e341ddf29p+0, 0x1.284dfe1f56381p+0, 0x1.291ba7591bb70p+0,
    0x1.29e9df51fdee1p+0, 0x1.2ab8a66d10f13p+0, 0x1.2b87fd0dad990p+0, 0x1.2c57e39771b2fp+0,
    0x1.2d285a6e4030bp+0, 0x1.2df961f641589p+0, 0x1.2ecafa93e2f56p+0, 0x1.2f9d24abd886bp+0,
    0x1.306fe0a31b715p+0, 0x1.31432edeeb2fdp+0, 0x1.32170fc4cd831p+0, 0x1.32eb83ba8ea32p+0,
    0x1.33c08b26416ffp+0, 0x1.3496266e3fa2dp+0, 0x1.356c55f929ff1p+0, 0x1.36431a2de883bp+0,
    0x1.371a7373aa9cbp+0, 0x1.37f26231e754ap+0, 0x1.38cae6d05d866p+0, 0x1.39a401b7140efp+0,
    0x1.3a7db34e59ff7p+0, 0x1.3b57fbfec6cf4p+0, 0x1.3c32dc313a8e5p+0, 0x1.3d0e544ede173p+0,
    0x1.3dea64c123422p+0, 0x1.3ec70df1c5175p+0, 0x1.3fa4504ac801cp+0, 0x1.40822c367a024p+0,
    0x1.4160a21f72e2ap+0, 0x1.423fb2709468ap+0, 0x1.431f5d950a897p+0, 0x1.43ffa3f84b9d4p+0,
    0x1.44e086061892dp+0, 0x1.45c2042a7d232p+0, 0x1.46a41ed1d0057p+0, 0x1.4786d668b3237p+0,
    0x1.486a2b5c13cd0p+0, 0x1.494e1e192aed2p+0, 0x1.4a32af0d7d3dep+0, 0x1.4b17dea6db7d7p+0,
    0x1.4bfdad5362a27p+0, 0x1.4ce41b817c114p+0, 0x1.4dcb299fddd0dp+0, 0x1.4eb2d81d8abffp+0,
    0x1.4f9b2769d2ca7p+0, 0x1.508417f4531eep+0, 0x1.516daa2cf6642p+0, 0x1.5257de83f4eefp+0,
    0x1.5342b569d4f82p+0, 0x1.542e2f4f6ad27p+0, 0x1.551a4ca5d920fp+0, 0x1.56070dde910d2p+0,
    0x1.56f4736b527dap+0, 0x1.57e27dbe2c4cfp+0, 0x1.58d12d497c7fdp+0, 0x1.59c0827ff07ccp+0,
    0x1.5ab07dd485429p+0, 0x1.5ba11fba87a03p+0, 0x1.5c9268a5946b7p+0, 0x1.5d84590998b93p+0,
    0x1.5e76f15ad2148p+0, 0x1.5f6a320dceb71p+0, 0x1.605e1b976dc09p+0, 0x1.6152ae6cdf6f4p+0,
    0x1.6247eb03a5585p+0, 0x1.633dd1d1929fdp+0, 0x1.6434634ccc320p+0, 0x1.652b9febc8fb7p+0,
    0x1.6623882552225p+0, 0x1.671c1c70833f6p+0, 0x1.68155d44ca973p+0, 0x1.690f4b19e9538p+0,
    0x1.6a09e667f3bcdp+0, 0x1.6b052fa75173ep+0, 0x1.6c012750bdabfp+0, 0x1.6cfdcddd47645p+0,
    0x1.6dfb23c651a2fp+0, 0x1.6ef9298593ae5p+0, 0x1.6ff7df9519484p+0, 0x1.70f7466f42e87p+0,
    0x1.71f75e8ec5f74p+0, 0x1.72f8286ead08ap+0, 0x1.73f9a48a58174p+0, 0x1.74fbd35d7cbfdp+0,
    0x1.75feb564267c9p+0, 0x1.77024b1ab6e09p+0, 0x1.780694fde5d3fp+0, 0x1.790b938ac1cf6p+0,
    0x1.7a11473eb0187p+0, 0x1.7b17b0976cfdbp+0, 0x1.7c1ed0130c132p+0, 0x1.7d26a62ff86f0p+0,
    0x1.7e2f336cf4e62p+0, 0x1.7f3878491c491p+0, 0x1.80427543e1a12p+0, 0x1.814d2add106d9p+0,
    0x1.82589994cce13p+0, 0x1.8364c1eb941f7p+0, 0x1.8471a4623c7adp+0, 0x1.857f4179f5b21p+0,
    0x1.868d99b4492edp+0, 0x1.879cad931a436p+0, 0x1.88ac7d98a6699p+0, 0x1.89bd0a478580fp+0,
    0x1.8ace5422aa0dbp+0, 0x1.8be05bad61778p+0, 0x1.8cf3216b5448cp+0, 0x1.8e06a5e0866d9p+0,
    0x1.8f1ae99157736p+0, 0x1.902fed0282c8ap+0, 0x1.9145b0b91ffc6p+0, 0x1.925c353aa2fe2p+0,
    0x1.93737b0cdc5e5p+0, 0x1.948b82b5f98e5p+0, 0x1.95a44cbc8520fp+0, 0x1.96bdd9a7670b3p+0,
    0x1.97d829fde4e50p+0, 0x1.98f33e47a22a2p+0, 0x1.9a0f170ca07bap+0, 0x1.9b2bb4d53fe0dp+0,
    0x1.9c49182a3f090p+0, 0x1.9d674194bb8d5p+0, 0x1.9e86319e32323p+0, 0x1.9fa5e8d07f29ep+0,
    0x1.a0c667b5de565p+0, 0x1.a1e7aed8eb8bbp+0, 0x1.a309bec4a2d33p+0, 0x1.a42c980460ad8p+0,
    0x1.a5503b23e255dp+0, 0x1.a674a8af46052p+0, 0x1.a799e1330b358p+0, 0x1.a8bfe53c12e59p+0,
    0x1.a9e6b5579fdbfp+0, 0x1.ab0e521356ebap+0, 0x1.ac36bbfd3f37ap+0, 0x1.ad5ff3a3c2774p+0,
    0x1.ae89f995ad3adp+0, 0x1.afb4ce622f2ffp+0, 0x1.b0e07298db666p+0, 0x1.b20ce6c9a8952p+0,
    0x1.b33a2b84f15fbp+0, 0x1.b468415b749b1p+0, 0x1.b59728de5593ap+0, 0x1.b6c6e29f1c52ap+0,
    0x1.b7f76f2fb5e47p+0, 0x1.b928cf22749e4p+0, 0x1.ba5b030a1064ap+0, 0x1.bb8e0b79a6f1fp+0,
    0x1.bcc1e904bc1d2p+0, 0x1.bdf69c3f3a207p+0, 0x1.bf2c25bd71e09p+0, 0x1.c06286141b33dp+0,
    0x1.c199bdd85529cp+0, 0x1.c2d1cd9fa652cp+0, 0x1.c40ab5fffd07ap+0, 0x1.c544778fafb22p+0,
    0x1.c67f12e57d14bp+0, 0x1.c7ba88988c933p+0, 0x1.c8f6d9406e7b5p+0, 0x1.ca3405751c4dbp+0,
    0x1.cb720dcef9069p+0, 0x1.ccb0f2e6d1675p+0, 0x1.cdf0b555dc3fap+0, 0x1.cf3155b5bab74p+0,
    0x1.d072d4a07897cp+0, 0x1.d1b532b08c968p+0, 0x1.d2f87080d89f2p+0, 0x1.d43c8eacaa1d6p+0,
    0x1.d5818dcfba487p+0, 0x1.d6c76e862e6d3p+0, 0x1.d80e316c98398p+0, 0x1.d955d71ff6075p+0,
    0x1.da9e603db3285p+0, 0x1.dbe7cd63a8315p+0, 0x1.dd321f301b460p+0, 0x1.de7d5641c0658p+0,
    0x1.dfc97337b9b5fp+0, 0x1.e11676b197d17p+0, 0x1.e264614f5a129p+0, 0x1.e3b333b16ee12p+0,
    0x1.e502ee78b3ff6p+0, 0x1.e653924676d76p+0, 0x1.e7a51fbc74c83p+0, 0x1.e8f7977cdb740p+0,
    0x1.ea4afa2a490dap+0, 0x1.eb9f4867cca6ep+0, 0x1.ecf482d8e67f1p+0, 0x1.ee4aaa2188510p+0,
    0x1.efa1bee615a27p+0, 0x1.f0f9c1cb6412ap+0, 0x1.f252b376bba97p+0, 0x1.f3ac948dd7274p+0,
    0x1.f50765b6e4540p+0, 0x1.f6632798844f8p+0, 0x1.f7bfdad9cbe14p+0, 0x1.f91d802243c89p+0,
    0x1.fa7c1819e90d8p+0, 0x1.fbdba3692d514p+0, 0x1.fd3c22b8f71f1p+0, 0x1.fe9d96b2a23d9p+0};

// The dynamic shared memory of one CTA.
template <int NT, int VEC> struct alto_ce_cl_smem_ {
  uint4 buf[2][VEC * NT]; /* the chunk of this row and of the next */
  double shd[NT / ALTO_WARP + 1];
  float shf[NT / ALTO_WARP + 1];
  alto_ce_slots_ x;
};

// The element e (0..7) of a 16-byte group as fp32.
__device__ __forceinline__ float alto_ce_elem_(const uint4 &g, int e) {
  const alto_u32 w = e < 2 ? g.x : e < 4 ? g.y : e < 6 ? g.z : g.w;
  return e & 1 ? alto_ops_hi_(w) : alto_ops_lo_(w);
}

// Two fp32 values rounded to nearest even bf16, packed (no NaN fix-up: an element the fast path
// does not certify is rewritten by the slow path).
__device__ __forceinline__ alto_u32 alto_ce_pack_(float lo, float hi) {
#if defined(__CUDA_ARCH__)
  alto_u32 w;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo));
  return w;
#else
  return (alto_u32)alto_f32_to_bf16(lo) | (alto_u32)alto_f32_to_bf16(hi) << 16;
#endif
}

// The rows kernel's dlogit of a logit (given lse and 1 / n_valid).
__device__ __forceinline__ float alto_ce_dlogit_(float l, double lse, double inv_n) {
  return (float)ALTO_DMUL(exp(ALTO_DSUB((double)l, lse)), inv_n);
}

// grid (CL ceil(M / ROWS)), clusters of CL; dynamic shared memory: 32 NT VEC + 1024 bytes.
template <int CL, int NT, int VEC, int ROWS>
__device__ __forceinline__ void alto_ce_rows_cl(alto_u16 *dlogits, double *row_loss,
                                                const alto_u16 *logits, const alto_i32 *targets,
                                                const double *loss, alto_i64 M, alto_i64 V) {
  static_assert(sizeof(alto_ce_cl_smem_<NT, VEC>) <= 32 * NT * VEC + 1024, "shared memory");
  alto_ce_cl_smem_<NT, VEC> &sm = *(alto_ce_cl_smem_<NT, VEC> *)ALTO_CE_DYN_SMEM_;
  const unsigned rank = alto_ce_rank_<CL>();
  const int tid = threadIdx.x;
  const alto_i64 m0 = (alto_i64)(blockIdx.x / CL) * ROWS;
  const alto_i64 m1 = m0 + ROWS < M ? m0 + ROWS : M;
  __shared__ double tab[256];
  for (int i = tid; i < 256; i += NT)
    tab[i] = alto_ce_exp_tab_[i];
  alto_ce_xchg_init_<CL>(&sm.x);
  unsigned parity[2] = {0, 0};
  const double n = loss[1];
  const double inv_n = n > 0.0 ? ALTO_DDIV(1.0, n) : 0.0;
  const uint4 *lg = (const uint4 *)logits;

  /* this CTA's part of row m: the 16-byte groups g0 + v NT + tid (v < VEC, below g_end) */
  struct geo {
    alto_i64 base, g_first, gpc, g0, g_end;
  };
  auto geometry = [&](alto_i64 m) {
    geo g;
    g.base = m * V;
    g.g_first = g.base >> 3;
    const alto_i64 ng = ((g.base + V - 1) >> 3) - g.g_first + 1;
    g.gpc = (ng + CL - 1) / CL;
    g.g0 = g.g_first + rank * g.gpc;
    g.g_end = g.g0 + g.gpc < g.g_first + ng ? g.g0 + g.gpc : g.g_first + ng;
    return g;
  };
  auto prefetch = [&](alto_i64 m, int b) {
    const geo g = geometry(m);
#pragma unroll
    for (int v = 0; v < VEC; v++)
      if (g.g0 + v * NT + tid < g.g_end)
        alto_ce_cp16_(&sm.buf[b][v * NT + tid], lg + g.g0 + v * NT + tid);
    alto_ce_cp_commit_();
  };

  prefetch(m0, 0);
  for (alto_i64 m = m0; m < m1; m++) {
    const int b = (int)((m - m0) & 1);
    alto_ce_cp_wait_all_(); /* this thread's groups of row m landed (each thread reads only the
                               groups it copied) */
    if (m + 1 < m1)
      prefetch(m + 1, b ^ 1);
    const geo g = geometry(m);
    uint4 *buf = sm.buf[b];
    /* the row's elements of each group (0xFF but at the row's ends; 0: not this thread's); the
       others become NaN in the copy, which max, sum and the fast paths ignore */
    alto_u32 valid[VEC];
#pragma unroll
    for (int v = 0; v < VEC; v++) {
      const alto_i64 gi = g.g0 + v * NT + tid;
      valid[v] = gi < g.g_end ? 0xFFu : 0u;
      if (valid[v] && (8 * gi < g.base || 8 * gi + 8 > g.base + V)) {
        const alto_i64 lo = g.base - 8 * gi, hi = g.base + V - 8 * gi;
        alto_u16 *h = (alto_u16 *)&buf[v * NT + tid];
        for (int e = 0; e < 8; e++)
          if (e < lo || e >= hi) {
            valid[v] &= ~(1u << e);
            h[e] = 0x7FC0u;
          }
      }
    }
    const alto_i32 t = targets[m];
    if (t < 0) { /* ignored: loss 0, dlogits 0 */
      if (rank == 0 && tid == 0)
        row_loss[m] = 0.0;
      if (dlogits) {
#pragma unroll
        for (int v = 0; v < VEC; v++) {
          const alto_i64 e0 = (g.g0 + v * NT + tid) * 8;
          if (valid[v] == 0xFFu)
            ((uint4 *)dlogits)[e0 / 8] = uint4{0, 0, 0, 0};
          else
            for (int e = 0; e < 8; e++)
              if (valid[v] >> e & 1)
                dlogits[e0 + e] = 0;
        }
      }
      continue;
    }

    /* ---- max ---- */
    alto_u32 mx2 = 0xFF80FF80u; /* -Inf, -Inf */
#pragma unroll
    for (int v = 0; v < VEC; v++) {
      if (!valid[v])
        continue;
      const uint4 q = buf[v * NT + tid];
      mx2 = alto_ce_max2_(mx2, q.x), mx2 = alto_ce_max2_(mx2, q.y);
      mx2 = alto_ce_max2_(mx2, q.z), mx2 = alto_ce_max2_(mx2, q.w);
    }
    float mx = alto_ops_max_(alto_ops_lo_(mx2), alto_ops_hi_(mx2));
    mx = alto_block_max<NT>(mx, sm.shf);
    if (CL > 1) {
      alto_ce_xchg_<CL>(&sm.x, 0, (double)mx, rank, parity[0]);
      mx = (float)sm.x.slot[0][0];
      for (int r = 1; r < CL; r++)
        mx = alto_ops_max_(mx, (float)sm.x.slot[0][r]);
    }

    /* ---- sum ---- */
    /* fast elements: |l|'s bits in [lo_bits, lo_bits + span] (exponent within 16 of mx's) */
    const alto_u32 em = alto_f32_bits(mx) >> 23 & 0xFFu;
    alto_u32 lo_bits = 0x80000000u, span = 0;
    if (em >= 1 && em <= 254) {
      const alto_u32 elo = em > 17 ? em - 16 : 1, ehi = em < 238 ? em + 16 : 254;
      lo_bits = elo << 23;
      span = ((ehi - elo + 1) << 23) - 1;
    }
    /* the high words of the fast elements' terms (E in [e^-87, 1]), for the dlogits */
    alto_u32 eh[VEC][8];
    alto_u64 slow = 0;
    double s = 0.0;
#pragma unroll
    for (int v = 0; v < VEC; v++) {
      if (!valid[v])
        continue;
      const uint4 q = buf[v * NT + tid];
      double sg = 0.0;
      bool all_fast = true;
#pragma unroll
      for (int e = 0; e < 8; e++) {
        const float l = alto_ce_elem_(q, e);
        const bool fast = (alto_f32_bits(l) & 0x7FFFFFFFu) - lo_bits <= span;
        all_fast = all_fast && fast;
        /* t = l - mx in [-87, 0] (exact when fast), as a double from its bits (a subnormal t
           gives a tiny wrong t: exp is 1 either way) */
        const alto_u32 tb = alto_f32_bits(fmaxf(ALTO_FSUB(l, mx), -87.0f));
        const double E = alto_ce_exp_(alto_ce_hilo_((tb >> 3) + 0xA8000000u, tb << 29), tab);
        eh[v][e] = alto_ce_hi_(E);
        if (fast)
          sg = ALTO_DADD(sg, E);
      }
      s = ALTO_DADD(s, sg);
      if (!all_fast || valid[v] != 0xFFu) { /* rare: the slow elements, summed below */
        const uint4 q2 = buf[v * NT + tid]; /* reloaded: q need not stay in registers */
        alto_u32 bits = 0;
        for (int e = 0; e < 8; e++)
          bits |= (alto_u32)((alto_f32_bits(alto_ce_elem_(q2, e)) & 0x7FFFFFFFu) - lo_bits > span)
                  << e;
        slow |= (alto_u64)(bits & valid[v]) << (v * 8);
      }
    }
    for (alto_u64 rest = slow; rest; rest &= rest - 1) { /* in element order */
      const int i = __ffsll((long long)rest) - 1;
      const float l = alto_ce_elem_(buf[(i >> 3) * NT + tid], i & 7);
      s = ALTO_DADD(s, exp((double)ALTO_FSUB(l, mx)));
    }
    s = alto_block_sum<NT>(s, sm.shd);
    if (CL > 1) {
      alto_ce_xchg_<CL>(&sm.x, 1, s, rank, parity[1]);
      s = sm.x.slot[1][0];
      for (int r = 1; r < CL; r++)
        s = ALTO_DADD(s, sm.x.slot[1][r]);
    }
    const double mxd = (double)mx;
    const double lse = ALTO_DADD(mxd, log(s));

    /* ---- the target: row loss, and its dlogit last ---- */
    int t_v = -1, t_e = 0; /* this thread's group / element holding the target, if any */
    if (t < V) {
      const alto_i64 q = ((g.base + t) >> 3) - g.g0;
      if (q >= 0 && q < g.g_end - g.g0 && q % NT == tid)
        t_v = (int)(q / NT), t_e = (int)((g.base + t) & 7);
    } else if (rank == 0 && tid == 0) {
      row_loss[m] = ALTO_DSUB(lse, (double)alto_f32_from_bits(ALTO_F32_NAN_BITS));
    }
    float lt = 0.0f;
    if (t_v >= 0) {
      lt = alto_ce_elem_(buf[t_v * NT + tid], t_e);
      row_loss[m] = ALTO_DSUB(lse, (double)lt);
    }
    if (!dlogits)
      continue;

    /* ---- dlogits ---- */
    const double Kd = ALTO_DMUL(exp(ALTO_DSUB(mxd, lse)), inv_n);
    const float K = (float)Kd;
    /* y = e K is normal (>= 2^-120) when e >= e_min; a NaN row fails every test */
    const float e_min = (float)ALTO_DDIV(0x1p-119, Kd);
    const alto_u64 slow_sum = slow;
    slow = 0;
#pragma unroll
    for (int v = 0; v < VEC; v++) {
      if (!valid[v])
        continue;
      float y[8];
      /* a boundary group (element by element) or a slow element: not certified */
      bool all_ok = valid[v] == 0xFFu && (alto_u32)(slow_sum >> (v * 8) & 0xFFu) == 0;
#pragma unroll
      for (int e = 0; e < 8; e++) {
        /* e = E truncated to fp32 (its high word: 20 mantissa bits; the exponent's top two
           bits are 01): |y - d| < 2^-19.8 |y| < 19 ulps of y */
        const float ev = alto_f32_from_bits(eh[v][e] * 8u - (384u << 23));
        y[e] = ALTO_FMUL(ev, K);
        all_ok = all_ok && ev >= e_min && ((alto_f32_bits(y[e]) - 0x7FE8u) & 0xFFFFu) > 48u;
      }
      if (valid[v] == 0xFFu) {
        uint4 o;
        o.x = alto_ce_pack_(y[0], y[1]);
        o.y = alto_ce_pack_(y[2], y[3]);
        o.z = alto_ce_pack_(y[4], y[5]);
        o.w = alto_ce_pack_(y[6], y[7]);
        ((uint4 *)dlogits)[g.g0 + v * NT + tid] = o;
      }
      if (!all_ok) { /* rare: the elements the fast path does not certify, rewritten below */
        alto_u32 bad = valid[v] == 0xFFu ? (alto_u32)(slow_sum >> (v * 8) & 0xFFu) : 0xFFu;
        for (int e = 0; e < 8; e++)
          bad |= (alto_u32) !(alto_f32_from_bits(eh[v][e] * 8u - (384u << 23)) >= e_min &&
                              ((alto_f32_bits(y[e]) - 0x7FE8u) & 0xFFFFu) > 48u)
                 << e;
        slow |= (alto_u64)(bad & valid[v]) << (v * 8);
      }
    }
    for (alto_u64 rest = slow; rest; rest &= rest - 1) {
      const int i = __ffsll((long long)rest) - 1;
      const alto_i64 e0 = (g.g0 + (i >> 3) * NT + tid) * 8;
      const float l = alto_ce_elem_(buf[(i >> 3) * NT + tid], i & 7);
      dlogits[e0 + (i & 7)] = alto_f32_to_bf16(alto_ce_dlogit_(l, lse, inv_n));
    }
    if (t_v >= 0) {
      const float d = ALTO_FSUB(alto_ce_dlogit_(lt, lse, inv_n), (float)inv_n);
      dlogits[g.base + t] = alto_f32_to_bf16(d);
    }
  }
}

#endif /* CUDA */

#endif
