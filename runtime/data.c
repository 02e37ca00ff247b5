/* Token shards (write atomically, read with validation) and the corpus -> shards builder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/parallel.h"
#include "runtime/data.h"

#include "base/file.h"

static const char alto_shard_magic_[8] = {'A', 'L', 'T', 'O', 'T', 'O', 'K', '\0'};

/* --- files ------------------------------------------------------------------------------------ */

alto_status alto_data_read_file(const char *path, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return alto_error(errno == ENOENT ? ALTO_ERR_NOT_FOUND : ALTO_ERR_IO, "%s: cannot open: %s",
                      path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = alto_xmalloc(cap + 1);
  for (;;) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap) {
      if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        return alto_error(ALTO_ERR_IO, "%s: read failed: %s", path, strerror(e));
      }
      break;
    }
    cap *= 2;
    buf = alto_xrealloc(buf, cap + 1);
  }
  fclose(f);
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return ALTO_OK;
}

alto_status alto_data_write_file(const char *path, const void *data, size_t len) {
  return alto_file_write_atomic(path, data, len);
}

/* --- shards ----------------------------------------------------------------------------------- */

static uint64_t alto_shard_fnv_(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void alto_shard_put_(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t alto_shard_get_(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

alto_status alto_shard_write(const char *path, const uint32_t *tokens, int64_t n_tokens,
                             uint32_t vocab_size) {
  if (n_tokens < 0 || vocab_size == 0)
    return alto_error(ALTO_ERR_INVALID_ARG, "%s: bad shard: %lld tokens, vocabulary %u", path,
                      (long long)n_tokens, vocab_size);
  int tb = vocab_size <= 65536 ? 2 : 4;
  size_t n = (size_t)n_tokens, total = ALTO_SHARD_HEADER_BYTES + n * (size_t)tb;
  uint8_t *buf = alto_xcalloc(total, 1), *body = buf + ALTO_SHARD_HEADER_BYTES;
  for (size_t i = 0; i < n; i++) {
    if (tokens[i] >= vocab_size) {
      free(buf);
      return alto_error(ALTO_ERR_INVALID_ARG,
                        "%s: token %zu is %u, not below the vocabulary "
                        "size %u",
                        path, i, tokens[i], vocab_size);
    }
    alto_shard_put_(body + i * (size_t)tb, tokens[i], tb);
  }
  memcpy(buf, alto_shard_magic_, 8);
  alto_shard_put_(buf + 8, ALTO_SHARD_VERSION, 4);
  alto_shard_put_(buf + 12, (uint64_t)tb, 4);
  alto_shard_put_(buf + 16, n, 8);
  alto_shard_put_(buf + 24, vocab_size, 4);
  alto_shard_put_(buf + 32, alto_shard_fnv_(body, n * (size_t)tb), 8);
  alto_status st = alto_data_write_file(path, buf, total);
  free(buf);
  return st;
}

alto_status alto_shard_read(const char *path, uint32_t expect_vocab, alto_shard *out) {
  memset(out, 0, sizeof *out);
  char *data = NULL;
  size_t len = 0;
  ALTO_TRY(alto_data_read_file(path, &data, &len));
  const uint8_t *p = (const uint8_t *)data;
  alto_status st = ALTO_OK;
  uint64_t n = 0, tb = 0, vocab = 0;
  if (len < ALTO_SHARD_HEADER_BYTES) {
    st = alto_error(ALTO_ERR_PARSE, "%s: truncated: %zu bytes, less than the %d-byte shard header",
                    path, len, ALTO_SHARD_HEADER_BYTES);
    goto done;
  }
  if (memcmp(p, alto_shard_magic_, 8) != 0) {
    st = alto_error(ALTO_ERR_PARSE,
                    "%s: not an alto token shard (bad magic); build shards with "
                    "'alto-data --build'",
                    path);
    goto done;
  }
  uint64_t version = alto_shard_get_(p + 8, 4);
  if (version != ALTO_SHARD_VERSION) {
    st = alto_error(ALTO_ERR_PARSE,
                    "%s: shard version %llu, this build reads version %d; rebuild "
                    "it with 'alto-data --build'",
                    path, (unsigned long long)version, ALTO_SHARD_VERSION);
    goto done;
  }
  tb = alto_shard_get_(p + 12, 4);
  n = alto_shard_get_(p + 16, 8);
  vocab = alto_shard_get_(p + 24, 4);
  if ((tb != 2 && tb != 4) || vocab == 0 || (tb == 2 && vocab > 65536)) {
    st = alto_error(ALTO_ERR_PARSE,
                    "%s: corrupt header: %llu bytes per token with a vocabulary "
                    "of %llu ids",
                    path, (unsigned long long)tb, (unsigned long long)vocab);
    goto done;
  }
  size_t body = len - ALTO_SHARD_HEADER_BYTES;
  if (n > body / tb || body != n * tb) {
    st = alto_error(ALTO_ERR_PARSE,
                    "%s: the header says %llu tokens (%llu bytes) but the file "
                    "holds %zu token bytes: truncated or corrupt; rebuild it",
                    path, (unsigned long long)n, (unsigned long long)(n * tb), body);
    goto done;
  }
  uint64_t want = alto_shard_get_(p + 32, 8), got = alto_shard_fnv_(p + 64, body);
  if (want != got) {
    st = alto_error(ALTO_ERR_PARSE,
                    "%s: checksum mismatch (header %016llx, tokens %016llx): the "
                    "file is corrupt; rebuild it",
                    path, (unsigned long long)want, (unsigned long long)got);
    goto done;
  }
  if (expect_vocab && vocab != expect_vocab) {
    st = alto_error(ALTO_ERR_INVALID_ARG,
                    "%s: built with a vocabulary of %llu ids, expected %u "
                    "(the tokenizer's / the model's); rebuild the shards with this tokenizer",
                    path, (unsigned long long)vocab, expect_vocab);
    goto done;
  }
  out->tokens = alto_xmalloc((n ? n : 1) * sizeof *out->tokens);
  for (uint64_t i = 0; i < n; i++) {
    uint32_t t = (uint32_t)alto_shard_get_(p + 64 + i * tb, (int)tb);
    if (t >= vocab) {
      st = alto_error(ALTO_ERR_PARSE, "%s: token %llu is %u, not below the vocabulary size %llu",
                      path, (unsigned long long)i, t, (unsigned long long)vocab);
      alto_shard_free(out);
      goto done;
    }
    out->tokens[i] = t;
  }
  out->n_tokens = (int64_t)n;
  out->vocab_size = (uint32_t)vocab;
  out->token_bytes = (uint32_t)tb;
done:
  free(data);
  return st;
}

void alto_shard_free(alto_shard *s) {
  free(s->tokens);
  memset(s, 0, sizeof *s);
}

/* --- the builder ------------------------------------------------------------------------------ */

typedef struct {
  char **bufs; /* file contents (documents point into them) */
  size_t n_bufs;
  const char **doc;
  size_t *len;
  size_t n_docs, cap_docs;
} alto_shard_corpus_;

static void alto_shard_corpus_free_(alto_shard_corpus_ *c) {
  for (size_t i = 0; i < c->n_bufs; i++)
    free(c->bufs[i]);
  free(c->bufs);
  free(c->doc);
  free(c->len);
}

static void alto_shard_add_doc_(alto_shard_corpus_ *c, const char *s, size_t n) {
  bool blank = true;
  for (size_t i = 0; i < n && blank; i++)
    blank = s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
  if (blank)
    return;
  if (c->n_docs == c->cap_docs) {
    c->cap_docs = c->cap_docs ? 2 * c->cap_docs : 1024;
    c->doc = alto_xrealloc(c->doc, c->cap_docs * sizeof *c->doc);
    c->len = alto_xrealloc(c->len, c->cap_docs * sizeof *c->len);
  }
  c->doc[c->n_docs] = s;
  c->len[c->n_docs++] = n;
}

/* Length of the line at s (without its '\n' and a trailing '\r'); *next: the next line. */
static size_t alto_shard_line_(const char *s, const char *end, const char **next) {
  const char *e = memchr(s, '\n', (size_t)(end - s));
  *next = e ? e + 1 : end;
  size_t n = (size_t)((e ? e : end) - s);
  if (n > 0 && s[n - 1] == '\r')
    n--;
  return n;
}

/* Splits a file into documents: at "%" lines when it has any (fortune files), else at blank
 * lines. A document keeps its lines' newlines. */
static void alto_shard_split_docs_(alto_shard_corpus_ *c, const char *text, size_t len) {
  const char *end = text + len, *next;
  bool fortune = false;
  for (const char *s = text; s < end && !fortune; s = next)
    fortune = alto_shard_line_(s, end, &next) == 1 && s[0] == '%';
  const char *doc = text;
  for (const char *s = text; s < end; s = next) {
    size_t n = alto_shard_line_(s, end, &next);
    bool sep = fortune ? (n == 1 && s[0] == '%') : n == 0;
    if (!fortune && !sep) {
      sep = true;
      for (size_t i = 0; i < n && sep; i++)
        sep = s[i] == ' ' || s[i] == '\t';
    }
    if (sep) {
      alto_shard_add_doc_(c, doc, (size_t)(s - doc));
      doc = next;
    }
  }
  alto_shard_add_doc_(c, doc, (size_t)(end - doc));
}

static int alto_shard_strcmp_(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool alto_shard_skip_name_(const char *name) {
  size_t n = strlen(name);
  return name[0] == '.' || (n > 4 && strcmp(name + n - 4, ".dat") == 0) ||
         (n > 3 && strcmp(name + n - 3, ".u8") == 0);
}

static alto_status alto_shard_load_corpus_(const char *path, alto_shard_corpus_ *c,
                                           int64_t *n_files, int64_t *n_bytes) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (strcmp(path, ALTO_DATA_DEFAULT_CORPUS) == 0)
      return alto_error(ALTO_ERR_NOT_FOUND,
                        "%s: the default corpus is missing: install the "
                        "'fortunes' package (apt-get install fortunes, or run scripts/setup) or "
                        "give a text file or directory",
                        path);
    return alto_error(ALTO_ERR_NOT_FOUND, "%s: cannot open the corpus: %s", path, strerror(errno));
  }
  char **names = NULL;
  size_t n_names = 0;
  if (S_ISDIR(sb.st_mode)) {
    DIR *d = opendir(path);
    if (!d)
      return alto_error(ALTO_ERR_IO, "%s: cannot list the directory: %s", path, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (alto_shard_skip_name_(e->d_name))
        continue;
      size_t pl = strlen(path) + strlen(e->d_name) + 2;
      char *full = alto_xmalloc(pl);
      snprintf(full, pl, "%s/%s", path, e->d_name);
      struct stat fs;
      if (stat(full, &fs) != 0 || !S_ISREG(fs.st_mode)) {
        free(full);
        continue;
      }
      names = alto_xrealloc(names, (n_names + 1) * sizeof *names);
      names[n_names++] = full;
    }
    closedir(d);
    if (n_names == 0)
      return alto_error(ALTO_ERR_NOT_FOUND, "%s: no text files in the corpus directory", path);
    qsort(names, n_names, sizeof *names, alto_shard_strcmp_);
  } else {
    names = alto_xmalloc(sizeof *names);
    names[n_names++] = alto_xstrdup(path);
  }
  alto_status st = ALTO_OK;
  c->bufs = alto_xcalloc(n_names, sizeof *c->bufs);
  for (size_t i = 0; i < n_names && st == ALTO_OK; i++) {
    size_t len;
    st = alto_data_read_file(names[i], &c->bufs[i], &len);
    if (st != ALTO_OK)
      break;
    c->n_bufs++;
    *n_bytes += (int64_t)len;
    alto_shard_split_docs_(c, c->bufs[i], len);
  }
  *n_files = (int64_t)n_names;
  for (size_t i = 0; i < n_names; i++)
    free(names[i]);
  free(names);
  return st;
}

typedef struct {
  const alto_tok *tok;
  const alto_shard_corpus_ *c;
  alto_tok_ids *ids; /* (n_docs) */
} alto_shard_encode_ctx_;

static void alto_shard_encode_range_(void *ctx, int64_t begin, int64_t end) {
  alto_shard_encode_ctx_ *e = ctx;
  for (int64_t d = begin; d < end; d++)
    alto_tok_encode(e->tok, e->c->doc[d], e->c->len[d], &e->ids[d]);
}

static double alto_shard_now_(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Concatenates docs [d0, d1), each followed by end-of-text, and writes the shard. */
static alto_status alto_shard_write_split_(const char *dir, const char *name, const alto_tok *tok,
                                           const alto_tok_ids *ids, size_t d0, size_t d1,
                                           int64_t *n_tokens) {
  size_t n = 0;
  for (size_t d = d0; d < d1; d++)
    n += ids[d].n + 1;
  uint32_t *all = alto_xmalloc((n ? n : 1) * sizeof *all),
           eot = alto_tok_special(tok, ALTO_TOK_END_OF_TEXT);
  size_t k = 0;
  for (size_t d = d0; d < d1; d++) {
    memcpy(all + k, ids[d].ids, ids[d].n * sizeof *all);
    k += ids[d].n;
    all[k++] = eot;
  }
  size_t pl = strlen(dir) + strlen(name) + 2;
  char *path = alto_xmalloc(pl);
  snprintf(path, pl, "%s/%s", dir, name);
  alto_status st = alto_shard_write(path, all, (int64_t)n, (uint32_t)alto_tok_vocab_size(tok));
  free(path);
  free(all);
  *n_tokens = (int64_t)n;
  return st;
}

alto_status alto_shard_build(const alto_shard_build_opts *opts, alto_shard_build_stats *stats) {
  memset(stats, 0, sizeof *stats);
  double frac = opts->val_fraction > 0 ? opts->val_fraction : 0.05;
  if (frac >= 1.0)
    return alto_error(ALTO_ERR_INVALID_ARG, "validation fraction %g must be in (0, 1)", frac);
  const char *text = opts->text_path ? opts->text_path : ALTO_DATA_DEFAULT_CORPUS;
  if (mkdir(opts->out_dir, 0755) != 0 && errno != EEXIST)
    return alto_error(ALTO_ERR_IO, "%s: cannot create the output directory: %s", opts->out_dir,
                      strerror(errno));
  alto_shard_corpus_ c = {0};
  alto_status st = alto_shard_load_corpus_(text, &c, &stats->n_files, &stats->n_bytes);
  if (st == ALTO_OK && c.n_docs < 2)
    st = alto_error(ALTO_ERR_INVALID_ARG,
                    "%s: the corpus has %zu document%s; at least 2 are needed (one for "
                    "validation): separate documents with a line holding only '%%' or a blank line",
                    text, c.n_docs, c.n_docs == 1 ? "" : "s");
  if (st != ALTO_OK) {
    alto_shard_corpus_free_(&c);
    return st;
  }
  size_t n_val = (size_t)llround((double)c.n_docs * frac);
  n_val = n_val < 1 ? 1 : n_val >= c.n_docs ? c.n_docs - 1 : n_val;
  size_t n_train = c.n_docs - n_val;
  stats->n_docs = (int64_t)c.n_docs;
  stats->n_train_docs = (int64_t)n_train;
  stats->n_val_docs = (int64_t)n_val;

  double t0 = alto_shard_now_();
  alto_tok *tok = NULL;
  if (opts->tokenizer_path)
    st = alto_tok_load(opts->tokenizer_path, &tok);
  else
    st = alto_tok_train(c.doc, c.len, n_train, opts->vocab_size, &tok);
  double t1 = alto_shard_now_();
  stats->train_seconds = t1 - t0;
  size_t pl = strlen(opts->out_dir) + 32;
  char *path = alto_xmalloc(pl);
  snprintf(path, pl, "%s/tokenizer.model", opts->out_dir);
  if (st == ALTO_OK)
    st = alto_tok_save(tok, path);
  free(path);
  if (st == ALTO_OK) {
    stats->vocab_size = alto_tok_vocab_size(tok);
    alto_tok_ids *ids = alto_xcalloc(c.n_docs, sizeof *ids);
    alto_shard_encode_ctx_ ctx = {tok, &c, ids};
    alto_parallel_for((int64_t)c.n_docs, 64, alto_shard_encode_range_, &ctx);
    stats->encode_seconds = alto_shard_now_() - t1;
    st = alto_shard_write_split_(opts->out_dir, "train.bin", tok, ids, 0, n_train,
                                 &stats->n_train_tokens);
    if (st == ALTO_OK)
      st = alto_shard_write_split_(opts->out_dir, "val.bin", tok, ids, n_train, c.n_docs,
                                   &stats->n_val_tokens);
    for (size_t d = 0; d < c.n_docs; d++)
      alto_tok_ids_free(&ids[d]);
    free(ids);
  }
  alto_tok_free(tok);
  alto_shard_corpus_free_(&c);
  return st;
}
