/* alto-data: build the training data (a BPE tokenizer and token shards) from a text corpus, and
 * inspect it (encode, decode, shard info). Exit codes: 0 ok, 1 error, 2 usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data.h"

static const char *const usage_ =
    "usage: alto-data --build [--text PATH] [--vocab N] --out DIR [--val-fraction F]\n"
    "                 [--tokenizer FILE]\n"
    "       alto-data --encode --tokenizer FILE [--text FILE]   (else stdin)\n"
    "       alto-data --decode --tokenizer FILE [ID ...]        (else ids from stdin)\n"
    "       alto-data --info SHARD.bin\n"
    "\n"
    "  --build           train a byte-level BPE tokenizer on the corpus and write\n"
    "                    DIR/tokenizer.model (tiktoken format), DIR/train.bin, DIR/val.bin\n"
    "  --text PATH       a text file or a directory of text files "
    "(default: " ALTO_DATA_DEFAULT_CORPUS ",\n"
    "                    the 'fortunes' package); fortune files split into documents at '%'\n"
    "                    lines, other files at blank lines\n"
    "  --vocab N         vocabulary size: 256 bytes + merges + 2 special tokens (default 2048)\n"
    "  --out DIR         output directory (created if missing)\n"
    "  --val-fraction F  share of the documents (the last ones) for validation (default 0.05)\n"
    "  --tokenizer FILE  a tiktoken rank file (e.g. DIR/tokenizer.model, Llama 3's\n"
    "                    tokenizer.model); with --build: use it instead of training one\n"
    "  --encode          print the token ids of the text, space-separated\n"
    "  --decode          write the bytes of the ids to stdout\n"
    "  --info SHARD      print a shard's header (after validating it)\n"
    "  --help            this text\n"
    "\n"
    "exit codes: 0 ok, 1 error (bad input file or value), 2 usage\n";

static void die_usage_(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("alto-data: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry 'alto-data --help'.\n", stderr);
  exit(2);
}

static int fail_(alto_status st) {
  fprintf(stderr, "alto-data: %s: %s\n", alto_status_name(st), alto_last_error());
  return 1;
}

static alto_status read_stdin_(char **out, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = alto_xmalloc(cap + 1);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
    n += got;
    if (n == cap) {
      cap *= 2;
      buf = alto_xrealloc(buf, cap + 1);
    }
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return ALTO_OK;
}

static int do_build_(const alto_shard_build_opts *o) {
  alto_shard_build_stats s;
  alto_status st = alto_shard_build(o, &s);
  if (st != ALTO_OK)
    return fail_(st);
  int64_t toks = s.n_train_tokens + s.n_val_tokens - s.n_docs; /* less the separators */
  printf("corpus     %s: %lld files, %lld documents (%lld train, %lld val), %lld bytes\n",
         o->text_path ? o->text_path : ALTO_DATA_DEFAULT_CORPUS, (long long)s.n_files,
         (long long)s.n_docs, (long long)s.n_train_docs, (long long)s.n_val_docs,
         (long long)s.n_bytes);
  printf("tokenizer  %s/tokenizer.model: %d ids; %s in %.2f s\n", o->out_dir, s.vocab_size,
         o->tokenizer_path ? "loaded" : "trained", s.train_seconds);
  printf("tokens     train %lld, val %lld (end-of-text separators included); encoded in %.2f s\n",
         (long long)s.n_train_tokens, (long long)s.n_val_tokens, s.encode_seconds);
  printf("ratio      %.3f bytes per token\n", toks > 0 ? (double)s.n_bytes / (double)toks : 0.0);
  printf("shards     %s/train.bin, %s/val.bin\n", o->out_dir, o->out_dir);
  return 0;
}

static int do_encode_(const char *tok_path, const char *text_path) {
  alto_tok *tok;
  alto_status st = alto_tok_load(tok_path, &tok);
  if (st != ALTO_OK)
    return fail_(st);
  char *text;
  size_t len;
  st = text_path ? alto_data_read_file(text_path, &text, &len) : read_stdin_(&text, &len);
  if (st != ALTO_OK) {
    alto_tok_free(tok);
    return fail_(st);
  }
  alto_tok_ids ids = {0};
  alto_tok_encode(tok, text, len, &ids);
  for (size_t i = 0; i < ids.n; i++)
    printf(i ? " %u" : "%u", ids.ids[i]);
  printf("\n");
  alto_tok_ids_free(&ids);
  free(text);
  alto_tok_free(tok);
  return 0;
}

static bool parse_id_(const char *s, uint32_t *id) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
    return false;
  *id = (uint32_t)v;
  return true;
}

static int do_decode_(const char *tok_path, char **args, int n_args) {
  alto_tok *tok;
  alto_status st = alto_tok_load(tok_path, &tok);
  if (st != ALTO_OK)
    return fail_(st);
  alto_tok_ids ids = {0};
  char *text = NULL;
  int rc = 0;
  if (n_args > 0) {
    for (int i = 0; i < n_args && rc == 0; i++) {
      uint32_t id;
      if (!parse_id_(args[i], &id)) {
        fprintf(stderr, "alto-data: '%s' is not a token id (a non-negative integer)\n", args[i]);
        rc = 1;
      } else {
        alto_tok_ids_push(&ids, id);
      }
    }
  } else {
    size_t len;
    read_stdin_(&text, &len);
    for (char *s = strtok(text, " \t\r\n,"); s && rc == 0; s = strtok(NULL, " \t\r\n,")) {
      uint32_t id;
      if (!parse_id_(s, &id)) {
        fprintf(stderr, "alto-data: '%s' is not a token id (a non-negative integer)\n", s);
        rc = 1;
      } else {
        alto_tok_ids_push(&ids, id);
      }
    }
  }
  if (rc == 0) {
    char *out;
    size_t len;
    st = alto_tok_decode(tok, ids.ids, ids.n, &out, &len);
    if (st != ALTO_OK) {
      rc = fail_(st);
    } else {
      fwrite(out, 1, len, stdout);
      free(out);
    }
  }
  free(text);
  alto_tok_ids_free(&ids);
  alto_tok_free(tok);
  return rc;
}

static int do_info_(const char *path) {
  alto_shard s;
  alto_status st = alto_shard_read(path, 0, &s);
  if (st != ALTO_OK)
    return fail_(st);
  printf("%s: version %d, %lld tokens of %u bytes, vocabulary %u, checksum ok\n", path,
         ALTO_SHARD_VERSION, (long long)s.n_tokens, s.token_bytes, s.vocab_size);
  alto_shard_free(&s);
  return 0;
}

int main(int argc, char **argv) {
  enum { NONE, BUILD, ENCODE, DECODE, INFO } mode = NONE;
  alto_shard_build_opts o = {.vocab_size = 2048, .val_fraction = 0.05};
  const char *info_path = NULL;
  int first_arg = argc;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_val = i + 1 < argc;
#define SET_MODE(m)                                                                                \
  do {                                                                                             \
    if (mode != NONE)                                                                              \
      die_usage_("give one of --build, --encode, --decode, --info");                               \
    mode = (m);                                                                                    \
  } while (0)
#define NEED_VAL()                                                                                 \
  do {                                                                                             \
    if (!has_val)                                                                                  \
      die_usage_("%s needs a value", a);                                                           \
  } while (0)
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage_, stdout);
      return 0;
    } else if (strcmp(a, "--build") == 0) {
      SET_MODE(BUILD);
    } else if (strcmp(a, "--encode") == 0) {
      SET_MODE(ENCODE);
    } else if (strcmp(a, "--decode") == 0) {
      SET_MODE(DECODE);
    } else if (strcmp(a, "--info") == 0) {
      SET_MODE(INFO);
      NEED_VAL();
      info_path = argv[++i];
    } else if (strcmp(a, "--text") == 0) {
      NEED_VAL();
      o.text_path = argv[++i];
    } else if (strcmp(a, "--out") == 0) {
      NEED_VAL();
      o.out_dir = argv[++i];
    } else if (strcmp(a, "--tokenizer") == 0) {
      NEED_VAL();
      o.tokenizer_path = argv[++i];
    } else if (strcmp(a, "--vocab") == 0) {
      NEED_VAL();
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || v < 258 || v > (1 << 24))
        die_usage_("--vocab '%s': expected an integer in [258, %d]", argv[i], 1 << 24);
      o.vocab_size = (int)v;
    } else if (strcmp(a, "--val-fraction") == 0) {
      NEED_VAL();
      char *end;
      double v = strtod(argv[++i], &end);
      if (*end || end == argv[i] || !(v > 0 && v < 1))
        die_usage_("--val-fraction '%s': expected a number in (0, 1)", argv[i]);
      o.val_fraction = v;
    } else if (a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9')) {
      die_usage_("unknown option '%s'", a);
    } else {
      if (mode != DECODE)
        die_usage_("unexpected argument '%s'", a);
      first_arg = i;
      break;
    }
#undef SET_MODE
#undef NEED_VAL
  }
  switch (mode) {
  case BUILD:
    if (!o.out_dir)
      die_usage_("--build needs --out DIR");
    return do_build_(&o);
  case ENCODE:
    if (!o.tokenizer_path)
      die_usage_("--encode needs --tokenizer FILE");
    return do_encode_(o.tokenizer_path, o.text_path);
  case DECODE:
    if (!o.tokenizer_path)
      die_usage_("--decode needs --tokenizer FILE");
    return do_decode_(o.tokenizer_path, argv + first_arg, argc - first_arg);
  case INFO:
    return do_info_(info_path);
  case NONE:
    break;
  }
  die_usage_("give one of --build, --encode, --decode, --info");
}
