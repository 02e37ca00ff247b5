/* Byte-level BPE: the byte-string table, the pre-splitter, tiktoken-style encode, decode and the
 * tiktoken rank file format. Training is in tok_train.c. */
#include <stdlib.h>
#include <string.h>

#include "runtime/data.h"
#include "runtime/tok_internal.h"

static const char *const alto_tok_special_text_[ALTO_TOK_SPECIAL_COUNT] = {
    "<|begin_of_text|>",
    "<|end_of_text|>",
};

void alto_tok_ids_push(alto_tok_ids *v, uint32_t id) {
  if (v->n == v->cap) {
    v->cap = v->cap ? 2 * v->cap : 256;
    v->ids = alto_xrealloc(v->ids, v->cap * sizeof *v->ids);
  }
  v->ids[v->n++] = id;
}

void alto_tok_ids_free(alto_tok_ids *v) {
  free(v->ids);
  *v = (alto_tok_ids){0};
}

/* --- the byte-string table -------------------------------------------------------------------- */

uint64_t alto_tok_hash(const uint8_t *bytes, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++)
    h = (h ^ bytes[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

alto_tok *alto_tok_new_empty(void) {
  alto_tok *t = alto_xcalloc(1, sizeof *t);
  t->n_slots = 1024;
  t->slots = alto_xcalloc(t->n_slots, sizeof *t->slots);
  return t;
}

void alto_tok_free(alto_tok *tok) {
  if (!tok)
    return;
  free(tok->pool);
  free(tok->off);
  free(tok->len);
  free(tok->slots);
  free(tok);
}

uint32_t alto_tok_find(const alto_tok *tok, const uint8_t *bytes, size_t len) {
  size_t mask = tok->n_slots - 1;
  for (size_t i = (size_t)alto_tok_hash(bytes, len) & mask;; i = (i + 1) & mask) {
    uint32_t s = tok->slots[i];
    if (s == 0)
      return ALTO_TOK_NONE;
    uint32_t r = s - 1;
    if (tok->len[r] == len && memcmp(tok->pool + tok->off[r], bytes, len) == 0)
      return r;
  }
}

static void alto_tok_insert_slot_(alto_tok *tok, uint32_t r) {
  size_t mask = tok->n_slots - 1;
  size_t i = (size_t)alto_tok_hash(tok->pool + tok->off[r], tok->len[r]) & mask;
  while (tok->slots[i] != 0)
    i = (i + 1) & mask;
  tok->slots[i] = r + 1;
}

uint32_t alto_tok_add(alto_tok *tok, const uint8_t *bytes, size_t len) {
  ALTO_ASSERT(len > 0 && alto_tok_find(tok, bytes, len) == ALTO_TOK_NONE);
  if (tok->n_ranks == tok->ranks_cap) {
    tok->ranks_cap = tok->ranks_cap ? 2 * tok->ranks_cap : 512;
    tok->off = alto_xrealloc(tok->off, tok->ranks_cap * sizeof *tok->off);
    tok->len = alto_xrealloc(tok->len, tok->ranks_cap * sizeof *tok->len);
  }
  if (tok->pool_len + len > tok->pool_cap) {
    tok->pool_cap = 2 * (tok->pool_len + len) + 1024;
    tok->pool = alto_xrealloc(tok->pool, tok->pool_cap);
  }
  uint32_t r = tok->n_ranks++;
  memcpy(tok->pool + tok->pool_len, bytes, len);
  tok->off[r] = tok->pool_len;
  tok->len[r] = (uint32_t)len;
  tok->pool_len += len;
  if (2 * (size_t)tok->n_ranks > tok->n_slots) {
    free(tok->slots);
    tok->n_slots *= 2;
    tok->slots = alto_xcalloc(tok->n_slots, sizeof *tok->slots);
    for (uint32_t i = 0; i < tok->n_ranks; i++)
      alto_tok_insert_slot_(tok, i);
  } else {
    alto_tok_insert_slot_(tok, r);
  }
  return r;
}

int alto_tok_n_ranks(const alto_tok *tok) {
  return (int)tok->n_ranks;
}

int alto_tok_vocab_size(const alto_tok *tok) {
  return (int)tok->n_ranks + ALTO_TOK_SPECIAL_COUNT;
}

uint32_t alto_tok_special(const alto_tok *tok, alto_tok_special_kind kind) {
  ALTO_ASSERT(kind >= 0 && kind < ALTO_TOK_SPECIAL_COUNT);
  return tok->n_ranks + (uint32_t)kind;
}

const uint8_t *alto_tok_bytes(const alto_tok *tok, uint32_t id, size_t *len) {
  if (id < tok->n_ranks) {
    *len = tok->len[id];
    return tok->pool + tok->off[id];
  }
  if (id - tok->n_ranks < ALTO_TOK_SPECIAL_COUNT) {
    const char *s = alto_tok_special_text_[id - tok->n_ranks];
    *len = strlen(s);
    return (const uint8_t *)s;
  }
  *len = 0;
  return NULL;
}

/* --- the pre-splitter ------------------------------------------------------------------------- */

static bool alto_tok_is_space_(uint8_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}
static bool alto_tok_is_letter_(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
static bool alto_tok_is_digit_(uint8_t c) {
  return c >= '0' && c <= '9';
}
static uint8_t alto_tok_lower_(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static size_t alto_tok_split_piece_uncapped_(const uint8_t *s, size_t n) {
  if (s[0] == '\'' && n >= 2) { /* 's 't 'm 'd 're 've 'll (any case, as Llama 3) */
    uint8_t a = alto_tok_lower_(s[1]), b = n >= 3 ? alto_tok_lower_(s[2]) : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
      return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
      return 3;
  }
  size_t i = (s[0] == ' ' && n >= 2 && !alto_tok_is_space_(s[1])) ? 1 : 0;
  uint8_t c = s[i];
  if (alto_tok_is_letter_(c)) {
    while (i < n && alto_tok_is_letter_(s[i]))
      i++;
    return i;
  }
  if (alto_tok_is_digit_(c)) {
    size_t start = i;
    while (i < n && i - start < 3 && alto_tok_is_digit_(s[i]))
      i++;
    return i;
  }
  if (!alto_tok_is_space_(c)) { /* punctuation and other symbols */
    while (i < n && !alto_tok_is_space_(s[i]) && !alto_tok_is_letter_(s[i]) &&
           !alto_tok_is_digit_(s[i]))
      i++;
    return i;
  }
  /* Whitespace: the whole run, less its last character when a non-space follows (that one goes
   * with the next word when it is ' ', else stands alone), like \s+(?!\S)|\s+. */
  size_t j = 0;
  while (j < n && alto_tok_is_space_(s[j]))
    j++;
  if (j == n || j == 1)
    return j;
  return j - 1;
}

size_t alto_tok_split_piece(const uint8_t *s, size_t n) {
  ALTO_ASSERT(n > 0);
  size_t k = alto_tok_split_piece_uncapped_(s, n);
  return k < ALTO_TOK_MAX_PIECE ? k : ALTO_TOK_MAX_PIECE;
}

/* --- encode and decode ------------------------------------------------------------------------ */

/* tiktoken's byte_pair_merge: parts start as single bytes; merge the adjacent pair whose
 * concatenation has the lowest rank (leftmost on ties) until no pair is a token. */
static void alto_tok_merge_piece_(const alto_tok *tok, const uint8_t *p, size_t n,
                                  alto_tok_ids *out) {
  uint32_t whole = alto_tok_find(tok, p, n);
  if (whole != ALTO_TOK_NONE) {
    alto_tok_ids_push(out, whole);
    return;
  }
  enum { STACK = 128 };
  size_t pos_s[STACK + 1];
  uint32_t rank_s[STACK];
  size_t *pos = n < STACK ? pos_s : alto_xmalloc((n + 1) * sizeof *pos);
  uint32_t *rank = n < STACK ? rank_s : alto_xmalloc(n * sizeof *rank);
  size_t m = n; /* parts: [pos[i], pos[i+1]) for i < m */
  for (size_t i = 0; i <= n; i++)
    pos[i] = i;
  /* rank[i]: rank of parts i and i+1 merged (ALTO_TOK_NONE: not a token) */
  for (size_t i = 0; i + 1 < m; i++)
    rank[i] = alto_tok_find(tok, p + pos[i], pos[i + 2] - pos[i]);
  while (m > 1) {
    size_t best = SIZE_MAX;
    uint32_t best_rank = ALTO_TOK_NONE;
    for (size_t i = 0; i + 1 < m; i++)
      if (rank[i] < best_rank) {
        best_rank = rank[i];
        best = i;
      }
    if (best == SIZE_MAX)
      break;
    /* remove the boundary pos[best + 1] */
    memmove(pos + best + 1, pos + best + 2, (m - best - 1) * sizeof *pos);
    if (best + 2 < m)
      memmove(rank + best + 1, rank + best + 2, (m - best - 2) * sizeof *rank);
    m--;
    if (best + 1 < m)
      rank[best] = alto_tok_find(tok, p + pos[best], pos[best + 2] - pos[best]);
    if (best > 0)
      rank[best - 1] = alto_tok_find(tok, p + pos[best - 1], pos[best + 1] - pos[best - 1]);
  }
  for (size_t i = 0; i < m; i++) {
    uint32_t id = alto_tok_find(tok, p + pos[i], pos[i + 1] - pos[i]);
    ALTO_ASSERT(id != ALTO_TOK_NONE);
    alto_tok_ids_push(out, id);
  }
  if (pos != pos_s)
    free(pos);
  if (rank != rank_s)
    free(rank);
}

void alto_tok_encode(const alto_tok *tok, const void *text, size_t len, alto_tok_ids *out) {
  const uint8_t *s = text;
  while (len > 0) {
    size_t k = alto_tok_split_piece(s, len);
    alto_tok_merge_piece_(tok, s, k, out);
    s += k;
    len -= k;
  }
}

alto_status alto_tok_decode(const alto_tok *tok, const uint32_t *ids, size_t n, char **out,
                            size_t *len) {
  size_t total = 0, l;
  for (size_t i = 0; i < n; i++) {
    if (!alto_tok_bytes(tok, ids[i], &l))
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "cannot decode token %zu: id %u is out of range (vocabulary size %d)", i,
                        ids[i], alto_tok_vocab_size(tok));
    total += l;
  }
  char *buf = alto_xmalloc(total + 1), *w = buf;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *b = alto_tok_bytes(tok, ids[i], &l);
    memcpy(w, b, l);
    w += l;
  }
  *w = '\0';
  *out = buf;
  *len = total;
  return ALTO_OK;
}

/* --- the tiktoken rank format ----------------------------------------------------------------- */

static const char alto_tok_b64_[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int alto_tok_b64_value_(char c) {
  const char *p = c ? strchr(alto_tok_b64_, c) : NULL;
  return p ? (int)(p - alto_tok_b64_) : -1;
}

/* Decodes standard padded base64 into out (room for 3 * n / 4 bytes); returns the length, or -1
 * with *bad = the offending column. */
static long alto_tok_b64_decode_(const char *s, size_t n, uint8_t *out, size_t *bad) {
  if (n == 0 || n % 4 != 0) {
    *bad = n;
    return -1;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      char c = s[i + k];
      bool last = i + 4 == n;
      if (c == '=' && last && k >= 2 && (k == 3 || s[i + 3] == '=')) {
        v[k] = 0;
        pad++;
        continue;
      }
      v[k] = alto_tok_b64_value_(c);
      if (v[k] < 0 || pad > 0) {
        *bad = i + (size_t)k;
        return -1;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[o++] = (uint8_t)(w >> 16);
    if (pad < 2)
      out[o++] = (uint8_t)(w >> 8);
    if (pad < 1)
      out[o++] = (uint8_t)w;
  }
  return (long)o;
}

typedef struct {
  uint32_t rank;
  uint32_t line;
  size_t off, len; /* decoded bytes in the scratch pool */
} alto_tok_entry_;

static int alto_tok_entry_cmp_(const void *a, const void *b) {
  const alto_tok_entry_ *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  return x->line < y->line ? -1 : (x->line > y->line);
}

alto_status alto_tok_parse(const char *name, const char *text, size_t len, alto_tok **out) {
  *out = NULL;
  if (len == 0)
    return alto_error(ALTO_ERR_PARSE,
                      "%s: empty file (a tiktoken rank file has one '<base64> <rank>' line per "
                      "token)",
                      name);
  uint32_t line = 1;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '\n')
      line++;
    else if ((c < 0x20 && c != '\r' && c != '\t') || c >= 0x7f)
      return alto_error(ALTO_ERR_PARSE,
                        "%s:%u: binary data (byte 0x%02x at offset %zu): not a tiktoken rank "
                        "file of '<base64> <rank>' lines (SentencePiece .model files, e.g. "
                        "Llama 2's, are not supported)",
                        name, line, c, i);
  }
  alto_tok_entry_ *ent = NULL;
  size_t n_ent = 0, cap_ent = 0;
  uint8_t *pool = alto_xmalloc(len + 1);
  size_t pool_len = 0;
  alto_status st = ALTO_OK;
  line = 0;
  for (size_t i = 0; i < len && st == ALTO_OK;) {
    line++;
    size_t e = i;
    while (e < len && text[e] != '\n')
      e++;
    size_t next = e + 1, end = e;
    if (end > i && text[end - 1] == '\r')
      end--;
    if (end == i) { /* blank lines are skipped, as tiktoken does */
      i = next;
      continue;
    }
    const char *sp = memchr(text + i, ' ', end - i);
    if (!sp) {
      st = alto_error(ALTO_ERR_PARSE, "%s:%u: missing rank: expected '<base64 token> <rank>'", name,
                      line);
      break;
    }
    size_t blen = (size_t)(sp - (text + i)), bad = 0;
    long dl = alto_tok_b64_decode_(text + i, blen, pool + pool_len, &bad);
    if (dl <= 0) {
      st = alto_error(ALTO_ERR_PARSE, "%s:%u: bad base64 '%.*s' %s %zu", name, line,
                      (int)(blen < 60 ? blen : 60), text + i,
                      blen % 4 || blen == 0 ? "(length must be a positive multiple of 4), is"
                                            : "(invalid character) at column",
                      bad + 1);
      break;
    }
    const char *r = sp + 1, *rend = text + end;
    uint64_t rank = 0;
    bool ok = r < rend;
    for (const char *q = r; q < rend && ok; q++) {
      ok = *q >= '0' && *q <= '9';
      rank = rank * 10 + (uint64_t)(*q - '0');
      ok = ok && rank < (1u << 31);
    }
    if (!ok) {
      st =
          alto_error(ALTO_ERR_PARSE, "%s:%u: %s rank '%.*s': expected a non-negative integer", name,
                     line, r < rend ? "bad" : "missing", (int)(rend - r < 40 ? rend - r : 40), r);
      break;
    }
    if (n_ent == cap_ent) {
      cap_ent = cap_ent ? 2 * cap_ent : 1024;
      ent = alto_xrealloc(ent, cap_ent * sizeof *ent);
    }
    ent[n_ent++] = (alto_tok_entry_){(uint32_t)rank, line, pool_len, (size_t)dl};
    pool_len += (size_t)dl;
    i = next;
  }
  if (st == ALTO_OK && n_ent == 0)
    st = alto_error(ALTO_ERR_PARSE, "%s: no tokens (only blank lines)", name);
  if (st == ALTO_OK) {
    qsort(ent, n_ent, sizeof *ent, alto_tok_entry_cmp_);
    for (size_t k = 0; k < n_ent && st == ALTO_OK; k++) {
      if (k > 0 && ent[k].rank == ent[k - 1].rank)
        st = alto_error(ALTO_ERR_PARSE, "%s:%u: duplicate rank %u (already at line %u)", name,
                        ent[k].line, ent[k].rank, ent[k - 1].line);
      else if (ent[k].rank != k)
        st = alto_error(ALTO_ERR_PARSE,
                        "%s: ranks are not contiguous: rank %zu is missing (line %u has rank %u; "
                        "ranks must be 0..N-1)",
                        name, k, ent[k].line, ent[k].rank);
    }
  }
  alto_tok *tok = NULL;
  if (st == ALTO_OK) {
    tok = alto_tok_new_empty();
    for (size_t k = 0; k < n_ent && st == ALTO_OK; k++) {
      uint32_t prev = alto_tok_find(tok, pool + ent[k].off, ent[k].len);
      if (prev != ALTO_TOK_NONE)
        st = alto_error(ALTO_ERR_PARSE, "%s:%u: the bytes of rank %u repeat those of rank %u", name,
                        ent[k].line, ent[k].rank, prev);
      else
        alto_tok_add(tok, pool + ent[k].off, ent[k].len);
    }
    for (int b = 0; b < 256 && st == ALTO_OK; b++) {
      uint8_t c = (uint8_t)b;
      if (alto_tok_find(tok, &c, 1) == ALTO_TOK_NONE)
        st = alto_error(ALTO_ERR_PARSE,
                        "%s: byte 0x%02x has no token: a byte-level BPE vocabulary needs all 256 "
                        "single bytes",
                        name, b);
    }
  }
  free(ent);
  free(pool);
  if (st != ALTO_OK) {
    alto_tok_free(tok);
    return st;
  }
  *out = tok;
  return ALTO_OK;
}

alto_status alto_tok_load(const char *path, alto_tok **out) {
  char *text = NULL;
  size_t len = 0;
  *out = NULL;
  ALTO_TRY(alto_data_read_file(path, &text, &len));
  alto_status st = alto_tok_parse(path, text, len, out);
  free(text);
  return st;
}

alto_status alto_tok_save(const alto_tok *tok, const char *path) {
  size_t cap = 4 * tok->pool_len / 3 + 24 * (size_t)tok->n_ranks + 16, n = 0;
  char *buf = alto_xmalloc(cap);
  for (uint32_t r = 0; r < tok->n_ranks; r++) {
    const uint8_t *b = tok->pool + tok->off[r];
    size_t l = tok->len[r];
    for (size_t i = 0; i < l; i += 3) {
      uint32_t w = (uint32_t)b[i] << 16 | (i + 1 < l ? (uint32_t)b[i + 1] << 8 : 0) |
                   (i + 2 < l ? b[i + 2] : 0);
      buf[n++] = alto_tok_b64_[(w >> 18) & 63];
      buf[n++] = alto_tok_b64_[(w >> 12) & 63];
      buf[n++] = i + 1 < l ? alto_tok_b64_[(w >> 6) & 63] : '=';
      buf[n++] = i + 2 < l ? alto_tok_b64_[w & 63] : '=';
    }
    n += (size_t)snprintf(buf + n, cap - n, " %u\n", r);
  }
  ALTO_ASSERT(n < cap);
  alto_status st = alto_data_write_file(path, buf, n);
  free(buf);
  return st;
}
