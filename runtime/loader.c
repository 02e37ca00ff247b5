/* The training loader (deterministic shuffled windows, exact resume) and the sequential
 * validation iterator. */
#include <stdlib.h>
#include <string.h>

#include "runtime/data.h"

static uint64_t alto_loader_splitmix_(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* An unbiased draw in [0, n) (rejection of the low remainder). */
static uint64_t alto_loader_below_(uint64_t *s, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    uint64_t x = alto_loader_splitmix_(s);
    if (x < limit)
      return x % n;
  }
}

/* The window order of epoch e: Fisher-Yates driven by a stream that depends on (seed, e) only. */
static void alto_loader_build_perm_(alto_loader *L, uint64_t epoch) {
  uint64_t s = L->state.seed;
  uint64_t k = epoch ^ 0x6a09e667f3bcc909ull;
  s ^= alto_loader_splitmix_(&k);
  for (uint64_t i = 0; i < L->n_windows; i++)
    L->perm[i] = (uint32_t)i;
  for (uint64_t i = L->n_windows - 1; i > 0; i--) {
    uint64_t j = alto_loader_below_(&s, i + 1);
    uint32_t t = L->perm[i];
    L->perm[i] = L->perm[j];
    L->perm[j] = t;
  }
  L->perm_epoch = epoch;
}

alto_status alto_loader_init(alto_loader *L, const alto_shard *train, int B, int T, uint64_t seed) {
  memset(L, 0, sizeof *L);
  if (B <= 0 || T <= 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "loader: batch size B=%d and sequence length T=%d must "
                      "be positive",
                      B, T);
  uint64_t n_windows = (uint64_t)train->n_tokens / ((uint64_t)T + 1);
  if (n_windows < (uint64_t)B)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the train shard has %lld tokens, too few for one batch: B=%d sequences of "
                      "T+1=%d tokens need at least %lld tokens (use a larger corpus or a smaller "
                      "batch or sequence length)",
                      (long long)train->n_tokens, B, T + 1, (long long)B * (T + 1));
  if (n_windows > UINT32_MAX)
    return alto_error(ALTO_ERR_UNSUPPORTED,
                      "the train shard has %llu windows of T+1=%d tokens; "
                      "at most 2^32-1 are supported (use a larger T or split the shard)",
                      (unsigned long long)n_windows, T + 1);
  L->shard = train;
  L->B = B;
  L->T = T;
  L->n_windows = n_windows;
  L->state = (alto_loader_state){.seed = seed, .n_windows = n_windows};
  L->perm = alto_xmalloc(n_windows * sizeof *L->perm);
  L->inputs = alto_xcalloc((size_t)B * (size_t)T, sizeof *L->inputs);
  L->targets = alto_xcalloc((size_t)B * (size_t)T, sizeof *L->targets);
  L->windows = alto_xcalloc((size_t)B, sizeof *L->windows);
  alto_loader_build_perm_(L, 0);
  return ALTO_OK;
}

void alto_loader_next(alto_loader *L) {
  int T = L->T;
  for (int r = 0; r < L->B; r++) {
    if (L->state.position == L->n_windows) {
      L->state.epoch++;
      L->state.position = 0;
    }
    if (L->perm_epoch != L->state.epoch)
      alto_loader_build_perm_(L, L->state.epoch);
    uint64_t w = L->perm[L->state.position++];
    L->windows[r] = w;
    const uint32_t *src = L->shard->tokens + w * (uint64_t)(T + 1);
    int32_t *in = L->inputs + (size_t)r * T, *tg = L->targets + (size_t)r * T;
    for (int t = 0; t < T; t++) {
      in[t] = (int32_t)src[t];
      tg[t] = (int32_t)src[t + 1];
    }
  }
}

alto_loader_state alto_loader_get_state(const alto_loader *L) {
  return L->state;
}

alto_status alto_loader_set_state(alto_loader *L, alto_loader_state s) {
  if (s.n_windows != L->n_windows)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "loader state is for %llu windows, this shard with T=%d has %llu: resume "
                      "with the same train shard and sequence length",
                      (unsigned long long)s.n_windows, L->T, (unsigned long long)L->n_windows);
  if (s.position > s.n_windows)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "loader state position %llu is past the %llu windows "
                      "of an epoch (a corrupt checkpoint?)",
                      (unsigned long long)s.position, (unsigned long long)s.n_windows);
  bool reseed = s.seed != L->state.seed;
  L->state = s;
  if (reseed || L->perm_epoch != s.epoch)
    alto_loader_build_perm_(L, s.epoch);
  return ALTO_OK;
}

void alto_loader_free(alto_loader *L) {
  free(L->perm);
  free(L->inputs);
  free(L->targets);
  free(L->windows);
  memset(L, 0, sizeof *L);
}

/* --- validation ------------------------------------------------------------------------------- */

alto_status alto_loader_val_init(alto_loader_val *V, const alto_shard *val, int B, int T) {
  memset(V, 0, sizeof *V);
  if (B <= 0 || T <= 0)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "validation: batch size B=%d and sequence length T=%d "
                      "must be positive",
                      B, T);
  if (val->n_tokens < 2)
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "the validation shard has %lld tokens; it needs at least 2 (one input and "
                      "its target)",
                      (long long)val->n_tokens);
  V->shard = val;
  V->B = B;
  V->T = T;
  V->n_windows = (val->n_tokens - 1 + T - 1) / T;
  V->inputs = alto_xcalloc((size_t)B * (size_t)T, sizeof *V->inputs);
  V->targets = alto_xcalloc((size_t)B * (size_t)T, sizeof *V->targets);
  return ALTO_OK;
}

bool alto_loader_val_next(alto_loader_val *V) {
  if (V->next_window >= V->n_windows)
    return false;
  int64_t n = V->shard->n_tokens;
  const uint32_t *tok = V->shard->tokens;
  V->rows = 0;
  V->n_targets = 0;
  for (int r = 0; r < V->B; r++) {
    int32_t *in = V->inputs + (size_t)r * V->T, *tg = V->targets + (size_t)r * V->T;
    bool live = V->next_window < V->n_windows;
    int64_t start = live ? V->next_window++ * V->T : n;
    if (live)
      V->rows++;
    for (int t = 0; t < V->T; t++) {
      int64_t i = start + t;
      bool ok = i + 1 < n;
      in[t] = ok ? (int32_t)tok[i] : 0;
      tg[t] = ok ? (int32_t)tok[i + 1] : -1;
      V->n_targets += ok;
    }
  }
  return true;
}

void alto_loader_val_reset(alto_loader_val *V) {
  V->next_window = 0;
  V->rows = 0;
  V->n_targets = 0;
}

void alto_loader_val_free(alto_loader_val *V) {
  free(V->inputs);
  free(V->targets);
  memset(V, 0, sizeof *V);
}
