#include "runtime/attn_gpu.h"

#include <stdio.h>
#include <string.h>

#include "runtime/jit.h"
#include "templates/attn/attn_args.h"

alto_attnkern alto_attn_kernel(alto_attn_part part, int head_dim, bool causal, alto_target target,
                               const char *arch) {
  alto_attnkern k;
  memset(&k, 0, sizeof k);
  k.part = part;
  k.head_dim = head_dim;
  k.causal = causal;
  k.target = target;
  snprintf(k.arch, sizeof k.arch, "%s", arch);
  return k;
}

static alto_status alto_attn_check_(int64_t B, int64_t T, int64_t H, int64_t G, int64_t D,
                                    int64_t window, const alto_dptr *ptrs, int n) {
  if (B < 0 || T < 0 || H <= 0 || G <= 0 || H % G || window < 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "attention: B %lld, T %lld, H %lld, G %lld, window %lld: need H a multiple "
                      "of G > 0 and window >= 0",
                      (long long)B, (long long)T, (long long)H, (long long)G, (long long)window);
  if (D != 16 && D != 32 && D != 64 && D != 128)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "attention on the GPU: head dim %lld (16, 32, 64, 128 are)", (long long)D);
  if (B > 65535 || H > 65535 || T >= (1 << 30) || H * D >= (1 << 22) ||
      (T + 15) / 16 * H * B >= (int64_t)1 << 31)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "attention on the GPU: B %lld, T %lld, H %lld, D %lld: need B, H <= 65535, "
                      "T < 2^30, H * D < 2^22 and T / 16 * H * B < 2^31",
                      (long long)B, (long long)T, (long long)H, (long long)D);
  for (int i = 0; i < n; i++)
    if (ptrs[i] % 16)
      return alto_error(ALTO_ERR_INVALID_ARG, "attention: device pointer %d is not 16-byte aligned",
                        i);
  return ALTO_OK;
}

static alto_status alto_attn_gen_(const void *k, alto_gen_kernel *g) {
  return alto_gen_attn((const alto_attnkern *)k, g);
}

static alto_status alto_attn_launch_(alto_backend *b, alto_attn_part part, int64_t D,
                                     const alto_attn_args *a, const alto_attn_tuning *tune) {
  alto_attnkern k = alto_attn_kernel(part, (int)D, true, b->target, b->arch);
  if (tune)
    k.tiles = part == ALTO_ATTN_FWD        ? tune->fwd
              : part == ALTO_ATTN_BWD_DKDV ? tune->dkdv
              : part == ALTO_ATTN_BWD_DQ   ? tune->dq
                                           : k.tiles;
  char key[256];
  alto_attnkern_key(&k, key, sizeof key);
  alto_jit_fn fn;
  ALTO_TRY(alto_jit_get_keyed(b, key, alto_attn_gen_, &k, &fn));
  unsigned grid[3];
  alto_gen_attn_grid(&k, a->B, a->T, a->H, a->G, grid);
  if (grid[0] == 0)
    return ALTO_OK; /* empty */
  void *args[] = {(void *)a};
  return b->i->launch(b, fn.fn, grid, (unsigned)fn.threads, (unsigned)fn.smem_bytes, args);
}

alto_status alto_gpu_attention(alto_backend *b, alto_dptr out, alto_dptr lse, alto_dptr q,
                               alto_dptr k, alto_dptr v, int64_t B, int64_t T, int64_t H, int64_t G,
                               int64_t D, int64_t window) {
  return alto_gpu_attention_tuned(b, out, lse, q, k, v, B, T, H, G, D, window, NULL);
}

alto_status alto_gpu_attention_tuned(alto_backend *b, alto_dptr out, alto_dptr lse, alto_dptr q,
                                     alto_dptr k, alto_dptr v, int64_t B, int64_t T, int64_t H,
                                     int64_t G, int64_t D, int64_t window,
                                     const alto_attn_tuning *tune) {
  const alto_dptr ptrs[] = {out, lse, q, k, v};
  ALTO_TRY(alto_attn_check_(B, T, H, G, D, window, ptrs, 5));
  if (B == 0 || T == 0)
    return ALTO_OK;
  alto_attn_args a;
  memset(&a, 0, sizeof a);
  a.q = q, a.k = k, a.v = v, a.o = out, a.lse = lse;
  a.B = B, a.T = T, a.H = H, a.G = G, a.window = window;
  return alto_attn_launch_(b, ALTO_ATTN_FWD, D, &a, tune);
}

size_t alto_gpu_attention_bwd_workspace(int64_t B, int64_t T, int64_t H) {
  return (size_t)(B * H * T) * sizeof(float);
}

alto_status alto_gpu_attention_bwd(alto_backend *b, alto_dptr dq, alto_dptr dk, alto_dptr dv,
                                   alto_dptr q, alto_dptr k, alto_dptr v, alto_dptr out,
                                   alto_dptr lse, alto_dptr dout, int64_t B, int64_t T, int64_t H,
                                   int64_t G, int64_t D, int64_t window, alto_dptr workspace) {
  return alto_gpu_attention_bwd_tuned(b, dq, dk, dv, q, k, v, out, lse, dout, B, T, H, G, D, window,
                                      workspace, NULL);
}

alto_status alto_gpu_attention_bwd_tuned(alto_backend *b, alto_dptr dq, alto_dptr dk, alto_dptr dv,
                                         alto_dptr q, alto_dptr k, alto_dptr v, alto_dptr out,
                                         alto_dptr lse, alto_dptr dout, int64_t B, int64_t T,
                                         int64_t H, int64_t G, int64_t D, int64_t window,
                                         alto_dptr workspace, const alto_attn_tuning *tune) {
  const alto_dptr ptrs[] = {dq, dk, dv, q, k, v, out, lse, dout, workspace};
  ALTO_TRY(alto_attn_check_(B, T, H, G, D, window, ptrs, 10));
  if (B == 0 || T == 0)
    return ALTO_OK;
  alto_dptr tmp = 0;
  if (!workspace) {
    ALTO_TRY(b->i->alloc(b, alto_gpu_attention_bwd_workspace(B, T, H), &tmp));
    workspace = tmp;
  }
  alto_attn_args a;
  memset(&a, 0, sizeof a);
  a.q = q, a.k = k, a.v = v, a.o = out, a.lse = lse, a.dout = dout;
  a.dq = dq, a.dk = dk, a.dv = dv, a.delta = workspace;
  a.B = B, a.T = T, a.H = H, a.G = G, a.window = window;
  /* delta first (both others read it); dkdv and dq are independent */
  static const alto_attn_part parts[] = {ALTO_ATTN_BWD_DELTA, ALTO_ATTN_BWD_DKDV, ALTO_ATTN_BWD_DQ};
  unsigned mask = tune && tune->bwd_parts ? tune->bwd_parts : ~0u;
  alto_status st = ALTO_OK;
  for (int i = 0; i < 3 && st == ALTO_OK; i++)
    if (mask & (1u << parts[i]))
      st = alto_attn_launch_(b, parts[i], D, &a, tune);
  if (tmp) {
    alto_status s2 = b->i->sync(b); /* the kernels read the temporary */
    b->i->free(b, tmp);
    if (st == ALTO_OK)
      st = s2;
  }
  return st;
}
