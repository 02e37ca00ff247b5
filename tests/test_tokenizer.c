/* The byte-level BPE tokenizer: pre-splitting, a hand-checked merge order, training against a
 * naive full-recount reference, determinism, exact byte round trips, save/load, and the errors of
 * bad tiktoken rank files. */
#include <string.h>
#include <sys/stat.h>

#include "runtime/data.h"
#include "runtime/tokenizer.h"
#include "tests/harness.h"

static const char *synthetic_corpus_(void) {
  return "The quick brown fox jumps over the lazy dog. The dog's bark isn't loud; the fox "
         "doesn't care.\n"
         "In 1984, 12345 foxes ran 678 miles -- or was it 9 miles?!  Nobody knows...\n"
         "  Indented line with\ttabs\tand    spaces.\n"
         "Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
         "emoji \xf0\x9f\x98\x80 and bytes \xff\xfe.\n"
         "the the the then there these those them they theory thermal\n"
         "We'll see, you're right, I've done it, I'm here, he'd go, THEY'RE LOUD.\n";
}

/* A corpus of n copies of the synthetic text with small variations. */
static char *make_corpus_(int copies, size_t *len) {
  const char *base = synthetic_corpus_();
  size_t bl = strlen(base), cap = (bl + 32) * (size_t)copies + 1, n = 0;
  char *s = malloc(cap);
  for (int i = 0; i < copies; i++) {
    n += (size_t)snprintf(s + n, cap - n, "%d: ", i * 7919 % 1000);
    memcpy(s + n, base, bl);
    n += bl;
  }
  s[n] = '\0';
  *len = n;
  return s;
}

static void test_split_(void) {
  const char *text = "Hello world's  x 12345!?..\n\n  y\tz it'S end ";
  const char *want[] = {"Hello", " world", "'s", " ", " x",  " 123", "45",   "!?..",
                        "\n\n ", " y",     "\t", "z", " it", "'S",   " end", " "};
  size_t n = strlen(text), k = 0, i = 0;
  const uint8_t *s = (const uint8_t *)text;
  while (i < n && k < sizeof want / sizeof *want) {
    size_t l = alto_tok_split_piece(s + i, n - i);
    CHECKF(l == strlen(want[k]) && memcmp(s + i, want[k], l) == 0,
           "piece %zu: got '%.*s' want '%s'", k, (int)l, text + i, want[k]);
    i += l;
    k++;
  }
  CHECK(i == n && k == sizeof want / sizeof *want);
  /* long runs are cut at ALTO_TOK_MAX_PIECE bytes */
  size_t big = 1000;
  uint8_t *run = malloc(big);
  memset(run, ' ', big);
  CHECK(alto_tok_split_piece(run, big) == ALTO_TOK_MAX_PIECE);
  memset(run, 'q', big);
  CHECK(alto_tok_split_piece(run, big) == ALTO_TOK_MAX_PIECE);
  free(run);
}

static bool rank_is_(const alto_tok *tok, uint32_t id, const char *s) {
  size_t l;
  const uint8_t *b = alto_tok_bytes(tok, id, &l);
  return b && l == strlen(s) && memcmp(b, s, l) == 0;
}

/* "aaabdaaabac": aa (4) first; then ab and (aa, a) tie at 2 and the smaller pair (a=97, b=98)
 * wins; then (aa, ab) -> aaab; then every pair occurs once and training stops. */
static void test_known_merges_(void) {
  const char *doc = "aaabdaaabac";
  size_t len = strlen(doc);
  alto_tok *tok = NULL;
  CHECK(alto_tok_train(&doc, &len, 1, 300, &tok) == ALTO_OK);
  if (!tok)
    return;
  CHECK(alto_tok_n_ranks(tok) == 259);
  CHECK(alto_tok_vocab_size(tok) == 261);
  CHECK(rank_is_(tok, 'a', "a") && rank_is_(tok, 0, "\0") == false);
  CHECK(rank_is_(tok, 256, "aa"));
  CHECK(rank_is_(tok, 257, "ab"));
  CHECK(rank_is_(tok, 258, "aaab"));
  alto_tok_ids ids = {0};
  alto_tok_encode(tok, doc, len, &ids);
  uint32_t want[] = {258, 'd', 258, 'a', 'c'};
  CHECK(ids.n == 5 && memcmp(ids.ids, want, sizeof want) == 0);
  CHECK(alto_tok_special(tok, ALTO_TOK_BEGIN_OF_TEXT) == 259);
  CHECK(alto_tok_special(tok, ALTO_TOK_END_OF_TEXT) == 260);
  char *out;
  size_t ol;
  uint32_t eot = 260, bad = 261;
  CHECK(alto_tok_decode(tok, &eot, 1, &out, &ol) == ALTO_OK && strcmp(out, "<|end_of_text|>") == 0);
  free(out);
  CHECK(alto_tok_decode(tok, &bad, 1, &out, &ol) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "out of range") != NULL);
  alto_tok_ids_free(&ids);
  alto_tok_free(tok);
  CHECK(alto_tok_train(&doc, &len, 1, 100, &tok) == ALTO_ERR_INVALID_ARG);
}

/* --- the reference: full recount per merge, same tie rule --------------------------------------
 */

typedef struct {
  uint64_t key; /* (left << 32) | right */
  int64_t freq;
} ref_occ_;

static int occ_cmp_(const void *x, const void *y) {
  uint64_t a = ((const ref_occ_ *)x)->key, b = ((const ref_occ_ *)y)->key;
  return a < b ? -1 : a > b;
}

typedef struct {
  uint32_t *t;
  size_t n;
  int64_t freq;
} ref_word_;

static void ref_train_(const char *text, size_t len, int vocab, char ***bytes_out,
                       size_t **lens_out, int *n_out) {
  ref_word_ *w = NULL;
  size_t nw = 0;
  const uint8_t *s = (const uint8_t *)text;
  for (size_t i = 0; i < len;) {
    size_t l = alto_tok_split_piece(s + i, len - i);
    size_t k = 0;
    for (; k < nw; k++) {
      if (w[k].n != l)
        continue;
      size_t j = 0;
      while (j < l && w[k].t[j] == s[i + j])
        j++;
      if (j == l)
        break;
    }
    if (k == nw) {
      w = realloc(w, (nw + 1) * sizeof *w);
      w[nw].t = malloc(l * sizeof(uint32_t));
      for (size_t j = 0; j < l; j++)
        w[nw].t[j] = s[i + j];
      w[nw].n = l;
      w[nw].freq = 0;
      nw++;
    }
    w[k].freq++;
    i += l;
  }
  int cap = vocab, n = 256;
  char **by = calloc((size_t)cap, sizeof *by);
  size_t *bl = calloc((size_t)cap, sizeof *bl);
  for (int b = 0; b < 256; b++) {
    by[b] = malloc(1);
    by[b][0] = (char)b;
    bl[b] = 1;
  }
  ref_occ_ *occ = NULL;
  while (n < vocab - 2) {
    /* count every pair from scratch: list the occurrences, sort, sum runs */
    size_t no = 0;
    for (size_t k = 0; k < nw; k++)
      no += w[k].n ? w[k].n - 1 : 0;
    occ = realloc(occ, (no + 1) * sizeof *occ);
    size_t o = 0;
    for (size_t k = 0; k < nw; k++)
      for (size_t j = 0; j + 1 < w[k].n; j++)
        occ[o++] = (ref_occ_){(uint64_t)w[k].t[j] << 32 | w[k].t[j + 1], w[k].freq};
    qsort(occ, no, sizeof *occ, occ_cmp_);
    int64_t best = 0;
    uint32_t ba = 0, bb = 0;
    for (size_t i = 0; i < no;) {
      size_t e = i;
      int64_t c = 0;
      while (e < no && occ[e].key == occ[i].key)
        c += occ[e++].freq;
      uint32_t a = (uint32_t)(occ[i].key >> 32), b = (uint32_t)occ[i].key;
      if (c > best) { /* keys ascend, so the first of equal counts is the smallest pair */
        best = c;
        ba = a;
        bb = b;
      }
      i = e;
    }
    if (best < 2)
      break;
    size_t l = bl[ba] + bl[bb];
    char *nb = malloc(l);
    memcpy(nb, by[ba], bl[ba]);
    memcpy(nb + bl[ba], by[bb], bl[bb]);
    int id = -1;
    for (int r = 0; r < n; r++)
      if (bl[r] == l && memcmp(by[r], nb, l) == 0)
        id = r;
    if (id < 0) {
      id = n++;
      by[id] = nb;
      bl[id] = l;
    } else {
      free(nb);
    }
    for (size_t k = 0; k < nw; k++) {
      size_t m = 0;
      for (size_t j = 0; j < w[k].n; j++) {
        if (j + 1 < w[k].n && w[k].t[j] == ba && w[k].t[j + 1] == bb) {
          w[k].t[m++] = (uint32_t)id;
          j++;
        } else {
          w[k].t[m++] = w[k].t[j];
        }
      }
      w[k].n = m;
    }
  }
  free(occ);
  for (size_t k = 0; k < nw; k++)
    free(w[k].t);
  free(w);
  *bytes_out = by;
  *lens_out = bl;
  *n_out = n;
}

static void check_reference_(const char *text, size_t len, int vocab) {
  const char *doc = text;
  alto_tok *tok = NULL;
  CHECK(alto_tok_train(&doc, &len, 1, vocab, &tok) == ALTO_OK);
  char **by;
  size_t *bl;
  int n;
  ref_train_(text, len, vocab, &by, &bl, &n);
  CHECKF(tok && alto_tok_n_ranks(tok) == n, "ranks %d, reference %d",
         tok ? alto_tok_n_ranks(tok) : -1, n);
  int mismatches = 0;
  for (int r = 0; tok && r < n && r < alto_tok_n_ranks(tok); r++) {
    size_t l;
    const uint8_t *b = alto_tok_bytes(tok, (uint32_t)r, &l);
    if (l != bl[r] || memcmp(b, by[r], l) != 0)
      mismatches++;
  }
  CHECKF(mismatches == 0, "%d ranks differ from the reference", mismatches);
  for (int r = 0; r < n; r++)
    free(by[r]);
  free(by);
  free(bl);
  alto_tok_free(tok);
}

/* The incremental trainer equals a full recount per merge (synthetic text; a fortune file). */
static void test_train_matches_reference_(void) {
  size_t len;
  char *text = make_corpus_(3, &len);
  check_reference_(text, len, 400);
  free(text);
  if (alto_data_read_file(ALTO_DATA_DEFAULT_CORPUS "/fortunes", &text, &len) == ALTO_OK) {
    check_reference_(text, len, 700);
    free(text);
  }
}


/* Encode -> decode is the identity on random bytes (all 256 values, long runs, odd UTF-8). */
static void check_round_trips_(const alto_tok *tok, uint64_t seed, int count) {
  alto_test_rng rng = {seed};
  int bad = 0;
  for (int i = 0; i < count; i++) {
    size_t n = alto_test_u32(&rng) % 3000;
    char *s = malloc(n + 1);
    int mode = i % 4;
    for (size_t k = 0; k < n; k++) {
      uint32_t r = alto_test_u32(&rng);
      s[k] = mode == 0   ? (char)r                                          /* any byte */
             : mode == 1 ? " \n\tabcdeth'.0123"[r % 16]                     /* text-like */
             : mode == 2 ? (char)(r % 7 == 0 ? 0xe2 + r % 20 : 'a' + r % 5) /* odd UTF-8 */
                         : (k % 500 < 300 ? ' ' : (char)(r & 0x7f));        /* long runs */
    }
    alto_tok_ids ids = {0};
    alto_tok_encode(tok, s, n, &ids);
    char *out;
    size_t ol;
    bool ok = alto_tok_decode(tok, ids.ids, ids.n, &out, &ol) == ALTO_OK;
    bool specials = false;
    for (size_t k = 0; k < ids.n; k++)
      specials |= ids.ids[k] >= (uint32_t)alto_tok_n_ranks(tok);
    if (!ok || ol != n || memcmp(out, s, n) != 0 || specials)
      bad++;
    if (ok)
      free(out);
    alto_tok_ids_free(&ids);
    free(s);
  }
  CHECKF(bad == 0, "%d of %d random strings do not round trip", bad, count);
}

static void test_determinism_save_load_(void) {
  const char *dir = alto_test_tmpdir("tokenizer_files");
  size_t len;
  char *text = make_corpus_(20, &len);
  const char *doc = text;
  alto_tok *a = NULL, *b = NULL, *loaded = NULL;
  CHECK(alto_tok_train(&doc, &len, 1, 600, &a) == ALTO_OK);
  CHECK(alto_tok_train(&doc, &len, 1, 600, &b) == ALTO_OK);
  char pa[1100], pb[1100];
  snprintf(pa, sizeof pa, "%s/a.model", dir);
  snprintf(pb, sizeof pb, "%s/b.model", dir);
  CHECK(a && b && alto_tok_save(a, pa) == ALTO_OK && alto_tok_save(b, pb) == ALTO_OK);
  CHECK(alto_test_files_equal(pa, pb));
  CHECK(alto_tok_load(pa, &loaded) == ALTO_OK);
  if (a && loaded) {
    CHECK(alto_tok_vocab_size(loaded) == alto_tok_vocab_size(a));
    alto_tok_ids x = {0}, y = {0};
    alto_tok_encode(a, text, len, &x);
    alto_tok_encode(loaded, text, len, &y);
    CHECK(x.n == y.n && memcmp(x.ids, y.ids, x.n * sizeof *x.ids) == 0);
    CHECKF(x.n * 2 < len, "compression: %zu tokens for %zu bytes", x.n, len);
    alto_tok_ids_free(&x);
    alto_tok_ids_free(&y);
    check_round_trips_(loaded, alto_test_seed(), 200);
    /* the loaded file saves back to the same bytes */
    char pc[1100];
    snprintf(pc, sizeof pc, "%s/c.model", dir);
    CHECK(alto_tok_save(loaded, pc) == ALTO_OK && alto_test_files_equal(pa, pc));
  }
  alto_tok_free(a);
  alto_tok_free(b);
  alto_tok_free(loaded);
  free(text);
}

/* A file like Llama 3's: the single bytes at ranks in a permuted order, merges after. */
static void test_permuted_bytes_file_(void) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *text = malloc(300 * 16), *w = text;
  for (int r = 0; r < 256; r++) {
    int byte = (r * 37 + 11) & 255; /* a bijection */
    w += sprintf(w, "%c%c== %d\n", b64[byte >> 2], b64[(byte & 3) << 4], r);
  }
  w += sprintf(w, "aGU= 256\naGVs %d\n", 257); /* "he", "hel" */
  w += sprintf(w, "\nbGw= 258\r\n");           /* "ll" (blank line, CRLF) */
  w += sprintf(w, "aGVsbG8= 259\n");           /* "hello" */
  alto_tok *tok = NULL;
  CHECK(alto_tok_parse("perm.model", text, (size_t)(w - text), &tok) == ALTO_OK);
  if (tok) {
    alto_tok_ids ids = {0};
    alto_tok_encode(tok, "hello", 5, &ids);
    CHECK(ids.n == 1 && ids.ids[0] == 259);
    alto_tok_ids_free(&ids);
    alto_tok_encode(tok, "hellx", 5, &ids); /* "he" (256) then "hel" (257); "l" "x" bytes */
    CHECK(ids.n == 3 && ids.ids[0] == 257);
    alto_tok_ids_free(&ids);
    check_round_trips_(tok, 7, 50);
  }
  alto_tok_free(tok);
  free(text);
}

static void expect_parse_error_(const char *text, size_t len, const char *want1,
                                const char *want2) {
  alto_tok *tok = NULL;
  alto_status st = alto_tok_parse("bad.model", text, len, &tok);
  CHECKF(st == ALTO_ERR_PARSE && tok == NULL, "status %s for '%s'", alto_status_name(st), want1);
  CHECKF(strstr(alto_last_error(), want1) != NULL, "message '%s' lacks '%s'", alto_last_error(),
         want1);
  CHECKF(strstr(alto_last_error(), want2) != NULL, "message '%s' lacks '%s'", alto_last_error(),
         want2);
  alto_tok_free(tok);
}

static void test_file_errors_(void) {
  /* a valid prefix: the 256 bytes */
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char good[256 * 12], *w = good;
  for (int r = 0; r < 256; r++)
    w += sprintf(w, "%c%c== %d\n", b64[r >> 2], b64[(r & 3) << 4], r);
  size_t gl = (size_t)(w - good);
  char buf[sizeof good + 256];
  alto_tok *tok = NULL;
  CHECK(alto_tok_parse("ok.model", good, gl, &tok) == ALTO_OK);
  alto_tok_free(tok);

  expect_parse_error_("", 0, "bad.model", "empty file");
  expect_parse_error_("\x08\x01\x12\x00\x05", 5, "bad.model:1", "binary data");
  memcpy(buf, good, gl);
  snprintf(buf + gl, sizeof buf - gl, "YW*i 256\n");
  expect_parse_error_(buf, strlen(buf), "bad.model:257", "bad base64");
  snprintf(buf + gl, sizeof buf - gl, "YWJ 256\n");
  expect_parse_error_(buf, strlen(buf), "bad.model:257", "multiple of 4");
  snprintf(buf + gl, sizeof buf - gl, "YWJj\n");
  expect_parse_error_(buf, strlen(buf), "bad.model:257", "missing rank");
  snprintf(buf + gl, sizeof buf - gl, "YWJj 25x\n");
  expect_parse_error_(buf, strlen(buf), "bad.model:257", "bad rank");
  snprintf(buf + gl, sizeof buf - gl, "YWJj 255\n");
  expect_parse_error_(buf, strlen(buf), "bad.model:257", "duplicate rank 255");
  snprintf(buf + gl, sizeof buf - gl, "YWJj 300\n");
  expect_parse_error_(buf, strlen(buf), "rank 256 is missing", "line 257");
  snprintf(buf + gl, sizeof buf - gl, "QQ== 256\n"); /* "A" again */
  expect_parse_error_(buf, strlen(buf), "bad.model:257", "repeat those of rank 65");
  /* a byte with no token: drop rank 255's line and renumber nothing -> byte 0xff missing */
  expect_parse_error_(good, gl - strlen("/w== 255\n"), "byte 0xff has no token", "256");

  const char *dir = alto_test_tmpdir("tokenizer_errors");
  char path[1100];
  snprintf(path, sizeof path, "%s/missing.model", dir);
  CHECK(alto_tok_load(path, &tok) == ALTO_ERR_NOT_FOUND && tok == NULL);
  CHECK(strstr(alto_last_error(), "missing.model") != NULL);
}

/* Some fortune files, when the package is installed: train, round trip, compression. */
static void test_fortunes_(void) {
  const char *names[] = {"fortunes", "computers", "science", "literature"};
  char *texts[4] = {0};
  size_t lens[4] = {0};
  int n = 0;
  for (int i = 0; i < 4; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", ALTO_DATA_DEFAULT_CORPUS, names[i]);
    if (alto_data_read_file(path, &texts[n], &lens[n]) == ALTO_OK)
      n++;
  }
  if (n == 0) {
    fprintf(stderr, "     (no fortunes package: skipping the corpus round trip)\n");
    return;
  }
  alto_tok *tok = NULL;
  CHECK(alto_tok_train((const char *const *)texts, lens, (size_t)n, 1024, &tok) == ALTO_OK);
  CHECK(tok && alto_tok_vocab_size(tok) == 1024);
  size_t total = 0, ntok = 0;
  for (int i = 0; tok && i < n; i++) {
    alto_tok_ids ids = {0};
    alto_tok_encode(tok, texts[i], lens[i], &ids);
    char *out;
    size_t ol;
    CHECK(alto_tok_decode(tok, ids.ids, ids.n, &out, &ol) == ALTO_OK);
    CHECK(ol == lens[i] && memcmp(out, texts[i], ol) == 0);
    free(out);
    total += lens[i];
    ntok += ids.n;
    alto_tok_ids_free(&ids);
  }
  CHECKF(ntok * 11 < total * 5, "compression %.2f bytes/token, expected > 2.2",
         (double)total / (double)ntok);
  if (tok)
    check_round_trips_(tok, 99, 50);
  alto_tok_free(tok);
  for (int i = 0; i < n; i++)
    free(texts[i]);
}

int main(void) {
  RUN(test_split_);
  RUN(test_known_merges_);
  RUN(test_train_matches_reference_);
  RUN(test_determinism_save_load_);
  RUN(test_permuted_bytes_file_);
  RUN(test_file_errors_);
  RUN(test_fortunes_);
  return alto_test_finish();
}
