/* BPE training: count the pre-split pieces ("words") of the corpus, then merge the most frequent
 * adjacent pair until the vocabulary is full.
 *
 * Incremental: a pair table holds each pair's count over all words (weighted by the word's count)
 * and the words it occurs in; a merge rewrites only the words of the merged pair and applies the
 * difference of their pair multisets. A max-heap with lazy deletion finds the best pair: every
 * pair with a count has an entry >= its count (decreases leave stale larger entries, which are
 * re-pushed with the current count when popped; increases push a new entry), so the first popped
 * entry whose count is current is the maximum, ties broken by the smallest (left, right) id. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "runtime/tok_internal.h"

typedef struct {
  uint32_t a, b;
  int64_t count;
  uint32_t *words; /* words where the pair occurs (may hold stale entries and repeats) */
  uint32_t n_words, cap_words;
  uint32_t stamp; /* the merge step that last increased the count */
} alto_tok_pair_;

typedef struct {
  int64_t count;
  uint32_t a, b;
} alto_tok_heap_entry_;

typedef struct {
  /* words: unique pieces with their counts and current token sequences */
  uint32_t n_words, cap_words;
  int64_t *freq;     /* (n_words) */
  size_t *tok_off;   /* (n_words) start of the word's tokens in toks */
  uint32_t *tok_len; /* (n_words) current number of tokens */
  uint32_t *stamp;   /* (n_words) the merge step that last rewrote the word */
  uint32_t *toks;    /* token ids of all words, back to back */
  size_t n_toks, cap_toks;
  uint32_t *word_slots; /* hash of piece bytes -> word + 1, during counting */
  size_t n_word_slots;
  /* pairs */
  alto_tok_pair_ *pairs;
  uint32_t n_pairs, cap_pairs;
  uint32_t *pair_slots; /* hash of (a, b) -> pair + 1 */
  size_t n_pair_slots;
  alto_tok_heap_entry_ *heap;
  size_t n_heap, cap_heap;
} alto_tok_trainer_;

/* --- counting the pieces ---------------------------------------------------------------------- */

static uint64_t alto_tok_mix_(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

/* The word of a piece: its tokens are still its bytes while counting. */
static bool alto_tok_word_is_(const alto_tok_trainer_ *t, uint32_t w, const uint8_t *p, size_t n) {
  if (t->tok_len[w] != n)
    return false;
  const uint32_t *s = t->toks + t->tok_off[w];
  for (size_t i = 0; i < n; i++)
    if (s[i] != p[i])
      return false;
  return true;
}

static void alto_tok_word_slots_grow_(alto_tok_trainer_ *t) {
  free(t->word_slots);
  t->n_word_slots = t->n_word_slots ? 2 * t->n_word_slots : 1 << 14;
  t->word_slots = alto_xcalloc(t->n_word_slots, sizeof *t->word_slots);
  size_t mask = t->n_word_slots - 1;
  for (uint32_t w = 0; w < t->n_words; w++) {
    uint8_t buf[256];
    size_t n = t->tok_len[w];
    uint64_t h;
    if (n <= sizeof buf) {
      for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)t->toks[t->tok_off[w] + i];
      h = alto_tok_hash(buf, n);
    } else {
      uint8_t *big = alto_xmalloc(n);
      for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)t->toks[t->tok_off[w] + i];
      h = alto_tok_hash(big, n);
      free(big);
    }
    size_t i = (size_t)h & mask;
    while (t->word_slots[i])
      i = (i + 1) & mask;
    t->word_slots[i] = w + 1;
  }
}

static void alto_tok_count_piece_(alto_tok_trainer_ *t, const uint8_t *p, size_t n) {
  if (2 * (size_t)(t->n_words + 1) > t->n_word_slots)
    alto_tok_word_slots_grow_(t);
  size_t mask = t->n_word_slots - 1;
  size_t i = (size_t)alto_tok_hash(p, n) & mask;
  for (; t->word_slots[i]; i = (i + 1) & mask) {
    uint32_t w = t->word_slots[i] - 1;
    if (alto_tok_word_is_(t, w, p, n)) {
      t->freq[w]++;
      return;
    }
  }
  if (t->n_words == t->cap_words) {
    t->cap_words = t->cap_words ? 2 * t->cap_words : 4096;
    t->freq = alto_xrealloc(t->freq, t->cap_words * sizeof *t->freq);
    t->tok_off = alto_xrealloc(t->tok_off, t->cap_words * sizeof *t->tok_off);
    t->tok_len = alto_xrealloc(t->tok_len, t->cap_words * sizeof *t->tok_len);
  }
  if (t->n_toks + n > t->cap_toks) {
    t->cap_toks = 2 * (t->n_toks + n) + 4096;
    t->toks = alto_xrealloc(t->toks, t->cap_toks * sizeof *t->toks);
  }
  uint32_t w = t->n_words++;
  t->freq[w] = 1;
  t->tok_off[w] = t->n_toks;
  t->tok_len[w] = (uint32_t)n;
  for (size_t k = 0; k < n; k++)
    t->toks[t->n_toks + k] = p[k];
  t->n_toks += n;
  t->word_slots[i] = w + 1;
}

/* --- pairs and the heap ----------------------------------------------------------------------- */

static uint32_t alto_tok_pair_get_(alto_tok_trainer_ *t, uint32_t a, uint32_t b) {
  if (2 * (size_t)(t->n_pairs + 1) > t->n_pair_slots) {
    free(t->pair_slots);
    t->n_pair_slots = t->n_pair_slots ? 2 * t->n_pair_slots : 1 << 16;
    t->pair_slots = alto_xcalloc(t->n_pair_slots, sizeof *t->pair_slots);
    size_t mask = t->n_pair_slots - 1;
    for (uint32_t k = 0; k < t->n_pairs; k++) {
      size_t i = (size_t)alto_tok_mix_((uint64_t)t->pairs[k].a << 32 | t->pairs[k].b) & mask;
      while (t->pair_slots[i])
        i = (i + 1) & mask;
      t->pair_slots[i] = k + 1;
    }
  }
  size_t mask = t->n_pair_slots - 1;
  size_t i = (size_t)alto_tok_mix_((uint64_t)a << 32 | b) & mask;
  for (; t->pair_slots[i]; i = (i + 1) & mask) {
    uint32_t k = t->pair_slots[i] - 1;
    if (t->pairs[k].a == a && t->pairs[k].b == b)
      return k;
  }
  if (t->n_pairs == t->cap_pairs) {
    t->cap_pairs = t->cap_pairs ? 2 * t->cap_pairs : 4096;
    t->pairs = alto_xrealloc(t->pairs, t->cap_pairs * sizeof *t->pairs);
  }
  uint32_t k = t->n_pairs++;
  t->pairs[k] = (alto_tok_pair_){.a = a, .b = b, .stamp = UINT32_MAX};
  t->pair_slots[i] = k + 1;
  return k;
}

static void alto_tok_pair_add_word_(alto_tok_pair_ *p, uint32_t w) {
  if (p->n_words == p->cap_words) {
    p->cap_words = p->cap_words ? 2 * p->cap_words : 4;
    p->words = alto_xrealloc(p->words, p->cap_words * sizeof *p->words);
  }
  p->words[p->n_words++] = w;
}

static bool alto_tok_heap_better_(const alto_tok_heap_entry_ *x, const alto_tok_heap_entry_ *y) {
  if (x->count != y->count)
    return x->count > y->count;
  return x->a != y->a ? x->a < y->a : x->b < y->b;
}

static void alto_tok_heap_push_(alto_tok_trainer_ *t, int64_t count, uint32_t a, uint32_t b) {
  if (t->n_heap == t->cap_heap) {
    t->cap_heap = t->cap_heap ? 2 * t->cap_heap : 4096;
    t->heap = alto_xrealloc(t->heap, t->cap_heap * sizeof *t->heap);
  }
  size_t i = t->n_heap++;
  alto_tok_heap_entry_ e = {count, a, b};
  while (i > 0 && alto_tok_heap_better_(&e, &t->heap[(i - 1) / 2])) {
    t->heap[i] = t->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  t->heap[i] = e;
}

static alto_tok_heap_entry_ alto_tok_heap_pop_(alto_tok_trainer_ *t) {
  alto_tok_heap_entry_ top = t->heap[0], e = t->heap[--t->n_heap];
  size_t i = 0, n = t->n_heap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && alto_tok_heap_better_(&t->heap[c + 1], &t->heap[c]))
      c++;
    if (!alto_tok_heap_better_(&t->heap[c], &e))
      break;
    t->heap[i] = t->heap[c];
    i = c;
  }
  if (n > 0)
    t->heap[i] = e;
  return top;
}

/* --- merging ---------------------------------------------------------------------------------- */

static int alto_tok_u64_cmp_(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static void alto_tok_sorted_pairs_(const uint32_t *s, uint32_t n, uint64_t *out) {
  for (uint32_t i = 0; i + 1 < n; i++)
    out[i] = (uint64_t)s[i] << 32 | s[i + 1];
  if (n > 1)
    qsort(out, n - 1, sizeof *out, alto_tok_u64_cmp_);
}

typedef struct {
  uint64_t *old_pairs, *new_pairs;
  uint32_t cap;
  uint32_t *increased; /* pairs whose count went up in this step */
  uint32_t n_inc, cap_inc;
} alto_tok_scratch_;

/* Rewrites word w with (a, b) -> c and applies the change of its pairs. */
static void alto_tok_merge_word_(alto_tok_trainer_ *t, alto_tok_scratch_ *sc, uint32_t w,
                                 uint32_t a, uint32_t b, uint32_t c, uint32_t step) {
  uint32_t *s = t->toks + t->tok_off[w], n = t->tok_len[w];
  if (n > sc->cap) {
    sc->cap = 2 * n;
    sc->old_pairs = alto_xrealloc(sc->old_pairs, sc->cap * sizeof(uint64_t));
    sc->new_pairs = alto_xrealloc(sc->new_pairs, sc->cap * sizeof(uint64_t));
  }
  alto_tok_sorted_pairs_(s, n, sc->old_pairs);
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
      s[m++] = c;
      i++;
    } else {
      s[m++] = s[i];
    }
  }
  if (m == n)
    return;
  t->tok_len[w] = m;
  alto_tok_sorted_pairs_(s, m, sc->new_pairs);
  uint32_t no = n - 1, nn = m > 0 ? m - 1 : 0, i = 0, j = 0;
  while (i < no || j < nn) {
    uint64_t key = i < no && (j >= nn || sc->old_pairs[i] <= sc->new_pairs[j]) ? sc->old_pairs[i]
                                                                               : sc->new_pairs[j];
    int64_t mo = 0, mn = 0;
    while (i < no && sc->old_pairs[i] == key)
      i++, mo++;
    while (j < nn && sc->new_pairs[j] == key)
      j++, mn++;
    if (mo == mn)
      continue;
    uint32_t k = alto_tok_pair_get_(t, (uint32_t)(key >> 32), (uint32_t)key);
    alto_tok_pair_ *p = &t->pairs[k];
    p->count += (mn - mo) * t->freq[w];
    if (mo == 0)
      alto_tok_pair_add_word_(p, w);
    if (mn > mo && p->stamp != step) {
      p->stamp = step;
      if (sc->n_inc == sc->cap_inc) {
        sc->cap_inc = sc->cap_inc ? 2 * sc->cap_inc : 256;
        sc->increased = alto_xrealloc(sc->increased, sc->cap_inc * sizeof *sc->increased);
      }
      sc->increased[sc->n_inc++] = k;
    }
  }
}

static void alto_tok_trainer_free_(alto_tok_trainer_ *t) {
  for (uint32_t k = 0; k < t->n_pairs; k++)
    free(t->pairs[k].words);
  free(t->pairs);
  free(t->pair_slots);
  free(t->heap);
  free(t->freq);
  free(t->tok_off);
  free(t->tok_len);
  free(t->stamp);
  free(t->toks);
  free(t->word_slots);
}

alto_status alto_tok_train(const char *const *docs, const size_t *lens, size_t n_docs,
                           int vocab_size, alto_tok **out) {
  *out = NULL;
  int min_vocab = 256 + ALTO_TOK_SPECIAL_COUNT;
  if (vocab_size < min_vocab || vocab_size > (1 << 24))
    return alto_error(ALTO_ERR_INVALID_ARG,
                      "vocabulary size %d is out of range: it must be in [%d, %d] (256 bytes + "
                      "merges + %d special tokens)",
                      vocab_size, min_vocab, 1 << 24, ALTO_TOK_SPECIAL_COUNT);
  alto_tok_trainer_ t = {0};
  for (size_t d = 0; d < n_docs; d++) {
    const uint8_t *s = (const uint8_t *)docs[d];
    size_t len = lens[d];
    while (len > 0) {
      size_t k = alto_tok_split_piece(s, len);
      alto_tok_count_piece_(&t, s, k);
      s += k;
      len -= k;
    }
  }
  free(t.word_slots);
  t.word_slots = NULL;
  t.stamp = alto_xmalloc((t.n_words ? t.n_words : 1) * sizeof *t.stamp);
  for (uint32_t w = 0; w < t.n_words; w++) {
    t.stamp[w] = UINT32_MAX;
    const uint32_t *s = t.toks + t.tok_off[w];
    for (uint32_t i = 0; i + 1 < t.tok_len[w]; i++) {
      uint32_t k = alto_tok_pair_get_(&t, s[i], s[i + 1]);
      t.pairs[k].count += t.freq[w];
      uint32_t nw = t.pairs[k].n_words;
      if (nw == 0 || t.pairs[k].words[nw - 1] != w)
        alto_tok_pair_add_word_(&t.pairs[k], w);
    }
  }
  for (uint32_t k = 0; k < t.n_pairs; k++)
    alto_tok_heap_push_(&t, t.pairs[k].count, t.pairs[k].a, t.pairs[k].b);

  alto_tok *tok = alto_tok_new_empty();
  for (int b = 0; b < 256; b++) {
    uint8_t c = (uint8_t)b;
    alto_tok_add(tok, &c, 1);
  }
  uint32_t target = (uint32_t)(vocab_size - ALTO_TOK_SPECIAL_COUNT);
  alto_tok_scratch_ sc = {0};
  uint8_t *joined = NULL;
  size_t joined_cap = 0;
  uint32_t step = 0;
  int64_t last_count = 0;
  while (tok->n_ranks < target && t.n_heap > 0) {
    alto_tok_heap_entry_ e = alto_tok_heap_pop_(&t);
    uint32_t k = alto_tok_pair_get_(&t, e.a, e.b);
    int64_t cur = t.pairs[k].count;
    if (cur != e.count) {
      if (cur < e.count && cur > 0)
        alto_tok_heap_push_(&t, cur, e.a, e.b);
      continue;
    }
    if (cur < 2)
      break; /* no pair occurs twice: more merges would only memorize single pieces */
    last_count = cur;
    size_t la = tok->len[e.a], lb = tok->len[e.b];
    if (la + lb > joined_cap) {
      joined_cap = 2 * (la + lb);
      joined = alto_xrealloc(joined, joined_cap);
    }
    memcpy(joined, tok->pool + tok->off[e.a], la);
    memcpy(joined + la, tok->pool + tok->off[e.b], lb);
    uint32_t c = alto_tok_find(tok, joined, la + lb);
    if (c == ALTO_TOK_NONE)
      c = alto_tok_add(tok, joined, la + lb);
    step++;
    sc.n_inc = 0;
    for (uint32_t i = 0; i < t.pairs[k].n_words; i++) {
      uint32_t w = t.pairs[k].words[i]; /* re-read: merge_word_ may grow t.pairs */
      if (t.stamp[w] == step)
        continue;
      t.stamp[w] = step;
      alto_tok_merge_word_(&t, &sc, w, e.a, e.b, c, step);
    }
    ALTO_ASSERT(t.pairs[k].count == 0);
    free(t.pairs[k].words);
    t.pairs[k].words = NULL;
    t.pairs[k].n_words = t.pairs[k].cap_words = 0;
    for (uint32_t i = 0; i < sc.n_inc; i++) {
      const alto_tok_pair_ *p = &t.pairs[sc.increased[i]];
      if (p->count > 0)
        alto_tok_heap_push_(&t, p->count, p->a, p->b);
    }
  }
  if ((int)tok->n_ranks + ALTO_TOK_SPECIAL_COUNT < vocab_size)
    alto_log_info("tokenizer: the corpus supports only %d of the %d ids asked for (no pair left "
                  "that occurs twice)",
                  (int)tok->n_ranks + ALTO_TOK_SPECIAL_COUNT, vocab_size);
  alto_log_debug("tokenizer: %u words, %u pairs, %u merge steps, last merge count %lld", t.n_words,
                 t.n_pairs, step, (long long)last_count);
  free(joined);
  free(sc.old_pairs);
  free(sc.new_pairs);
  free(sc.increased);
  alto_tok_trainer_free_(&t);
  *out = tok;
  return ALTO_OK;
}
