/* Token shards (round trip, corrupt files), the corpus builder (documents, split, determinism,
 * errors), the training loader (determinism, seeds, exact resume, one visit per window per
 * epoch) and the validation iterator (covers the shard). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "runtime/data.h"
#include "tests/harness.h"

static char path_buf_[4][1200];
static const char *path_(int slot, const char *dir, const char *name) {
  int k = snprintf(path_buf_[slot], sizeof path_buf_[slot], "%s/%s", dir, name);
  ALTO_ASSERT(k > 0 && (size_t)k < sizeof path_buf_[slot]);
  return path_buf_[slot];
}

static void write_text_(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    fwrite(text, 1, len, f);
    fclose(f);
  }
}


static void expect_read_error_(const char *path, uint32_t vocab, alto_status want,
                               const char *msg) {
  alto_shard s;
  alto_status st = alto_shard_read(path, vocab, &s);
  CHECKF(st == want && s.tokens == NULL, "%s: status %s", msg, alto_status_name(st));
  CHECKF(strstr(alto_last_error(), msg) != NULL, "message '%s' lacks '%s'", alto_last_error(), msg);
}

static void test_shard_round_trip_(void) {
  const char *dir = alto_test_tmpdir("data_shards");
  alto_test_rng rng = {alto_test_seed()};
  uint32_t vocabs[2] = {2048, 70000};
  for (int v = 0; v < 2; v++) {
    int64_t n = 5000;
    uint32_t *t = malloc((size_t)n * sizeof *t);
    for (int64_t i = 0; i < n; i++)
      t[i] = alto_test_u32(&rng) % vocabs[v];
    t[0] = vocabs[v] - 1;
    const char *p = path_(0, dir, v ? "u32.bin" : "u16.bin");
    CHECK(alto_shard_write(p, t, n, vocabs[v]) == ALTO_OK);
    alto_shard s;
    CHECK(alto_shard_read(p, vocabs[v], &s) == ALTO_OK);
    CHECK(s.n_tokens == n && s.vocab_size == vocabs[v] && s.token_bytes == (v ? 4u : 2u));
    CHECK(s.tokens && memcmp(s.tokens, t, (size_t)n * sizeof *t) == 0);
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && sb.st_size == ALTO_SHARD_HEADER_BYTES + n * (v ? 4 : 2));
    alto_shard_free(&s);
    free(t);
  }
  uint32_t big = 5000;
  CHECK(alto_shard_write(path_(0, dir, "bad.bin"), &big, 1, 100) == ALTO_ERR_INVALID_ARG);
  struct stat sb;
  CHECK(stat(path_(0, dir, "bad.bin"), &sb) != 0); /* nothing written */
}

static void test_corrupt_shards_(void) {
  const char *dir = alto_test_tmpdir("data_corrupt");
  uint32_t t[100];
  for (int i = 0; i < 100; i++)
    t[i] = (uint32_t)(i * 13 % 1000);
  const char *good = path_(0, dir, "good.bin");
  CHECK(alto_shard_write(good, t, 100, 1000) == ALTO_OK);
  char *data;
  size_t len;
  CHECK(alto_data_read_file(good, &data, &len) == ALTO_OK);
  const char *p = path_(1, dir, "x.bin");

  write_text_(p, data, len - 3);
  expect_read_error_(p, 0, ALTO_ERR_PARSE, "truncated");
  write_text_(p, data, 20);
  expect_read_error_(p, 0, ALTO_ERR_PARSE, "less than the 64-byte shard header");
  write_text_(p, "", 0);
  expect_read_error_(p, 0, ALTO_ERR_PARSE, "truncated");
  data[0] ^= 1;
  write_text_(p, data, len);
  expect_read_error_(p, 0, ALTO_ERR_PARSE, "bad magic");
  data[0] ^= 1;
  data[8] = 9;
  write_text_(p, data, len);
  expect_read_error_(p, 0, ALTO_ERR_PARSE, "shard version 9");
  data[8] = 1;
  data[100] ^= 0x40;
  write_text_(p, data, len);
  expect_read_error_(p, 0, ALTO_ERR_PARSE, "checksum mismatch");
  data[100] ^= 0x40;
  data[16] = 99; /* token count */
  write_text_(p, data, len);
  expect_read_error_(p, 0, ALTO_ERR_PARSE, "header says 99 tokens");
  data[16] = 100;
  write_text_(p, data, len);
  alto_shard s;
  CHECK(alto_shard_read(p, 1000, &s) == ALTO_OK); /* restored: fine again */
  alto_shard_free(&s);
  expect_read_error_(p, 2048, ALTO_ERR_INVALID_ARG, "vocabulary of 1000 ids, expected 2048");
  expect_read_error_(path_(2, dir, "none.bin"), 0, ALTO_ERR_NOT_FOUND, "none.bin");
  free(data);
}

/* A small corpus: two fortune files (documents end at "%" lines), one plain file (blank-line
 * paragraphs), and files the builder must skip. */
static const char *make_corpus_(const char *dir, int scale) {
  static char corpus[1200];
  snprintf(corpus, sizeof corpus, "%s/corpus", dir);
  mkdir(corpus, 0755);
  size_t cap = 4096 + 2000 * (size_t)scale, n = 0;
  char *s = malloc(cap);
  for (int i = 0; i < 10 * scale; i++)
    n += (size_t)snprintf(s + n, cap - n, "Fortune %d: the %s is %s.\n\t-- Someone\n%%\n", i,
                          i % 3 ? "cat" : "dog", i % 2 ? "asleep" : "hungry");
  write_text_(path_(0, corpus, "a-fortunes"), s, n);
  n = 0;
  for (int i = 0; i < 10 * scale; i++)
    n += (size_t)snprintf(s + n, cap - n, "Q: What is %d + %d?\nA: %d, of course!\n%%\n", i, i,
                          2 * i);
  write_text_(path_(0, corpus, "b-math"), s, n);
  n = (size_t)snprintf(s, cap, "Plain paragraph one,\nstill one.\n\nParagraph two.\n  \nThree.\n");
  write_text_(path_(0, corpus, "c-plain"), s, n);
  write_text_(path_(0, corpus, "a-fortunes.dat"), "\x00\x01\x02", 3);
  write_text_(path_(0, corpus, ".hidden"), "SECRET\n%\nSECRET\n", 16);
  mkdir(path_(0, corpus, "subdir"), 0755);
  free(s);
  return corpus;
}

static void test_build_(void) {
  const char *dir = alto_test_tmpdir("data_build");
  const char *corpus = make_corpus_(dir, 3);
  char out1[1200], out2[1200];
  snprintf(out1, sizeof out1, "%s/out1", dir);
  snprintf(out2, sizeof out2, "%s/out2", dir);
  alto_shard_build_opts o = {
      .text_path = corpus, .out_dir = out1, .vocab_size = 400, .val_fraction = 0.1};
  alto_shard_build_stats st;
  CHECK(alto_shard_build(&o, &st) == ALTO_OK);
  CHECK(st.n_files == 3);
  CHECK(st.n_docs == 30 + 30 + 3);
  CHECK(st.n_val_docs == 6 && st.n_train_docs == 57);
  o.out_dir = out2;
  alto_shard_build_stats st2;
  CHECK(alto_shard_build(&o, &st2) == ALTO_OK);
  const char *names[] = {"tokenizer.model", "train.bin", "val.bin"};
  for (int i = 0; i < 3; i++)
    CHECKF(alto_test_files_equal(path_(0, out1, names[i]), path_(1, out2, names[i])), "%s differs",
           names[i]);

  alto_tok *tok = NULL;
  CHECK(alto_tok_load(path_(0, out1, "tokenizer.model"), &tok) == ALTO_OK);
  if (!tok)
    return;
  CHECK(alto_tok_vocab_size(tok) == st.vocab_size && st.vocab_size <= 400);
  alto_shard train, val;
  CHECK(alto_shard_read(path_(0, out1, "train.bin"), (uint32_t)st.vocab_size, &train) == ALTO_OK);
  CHECK(alto_shard_read(path_(0, out1, "val.bin"), (uint32_t)st.vocab_size, &val) == ALTO_OK);
  CHECK(train.n_tokens == st.n_train_tokens && val.n_tokens == st.n_val_tokens);
  /* the val split is the last documents: b-math's last 3 fortunes, then c-plain's 3 paragraphs */
  char *text;
  size_t len;
  CHECK(alto_tok_decode(tok, val.tokens, (size_t)val.n_tokens, &text, &len) == ALTO_OK);
  const char *want_val = "Q: What is 27 + 27?\nA: 54, of course!\n<|end_of_text|>"
                         "Q: What is 28 + 28?\nA: 56, of course!\n<|end_of_text|>"
                         "Q: What is 29 + 29?\nA: 58, of course!\n<|end_of_text|>"
                         "Plain paragraph one,\nstill one.\n<|end_of_text|>"
                         "Paragraph two.\n<|end_of_text|>"
                         "Three.\n<|end_of_text|>";
  CHECKF(strcmp(text, want_val) == 0, "val decodes to '%s'", text);
  free(text);
  CHECK(alto_tok_decode(tok, train.tokens, (size_t)train.n_tokens, &text, &len) == ALTO_OK);
  const char *want_head = "Fortune 0: the dog is hungry.\n\t-- Someone\n<|end_of_text|>Fortune 1:";
  CHECK(strncmp(text, want_head, strlen(want_head)) == 0);
  CHECK(strstr(text, "SECRET") == NULL && strstr(text, "%") == NULL);
  free(text);
  /* an existing tokenizer instead of training: same shards */
  char out3[1200];
  snprintf(out3, sizeof out3, "%s/out3", dir);
  o.out_dir = out3;
  o.tokenizer_path = path_(2, out1, "tokenizer.model");
  CHECK(alto_shard_build(&o, &st2) == ALTO_OK);
  CHECK(alto_test_files_equal(path_(0, out1, "train.bin"), path_(1, out3, "train.bin")));
  alto_shard_free(&train);
  alto_shard_free(&val);
  alto_tok_free(tok);
}

static void test_build_errors_(void) {
  const char *dir = alto_test_tmpdir("data_build_errors");
  char corpus[1200], out[1200];
  snprintf(corpus, sizeof corpus, "%s/empty", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  write_text_(corpus, "", 0);
  alto_shard_build_opts o = {.text_path = corpus, .out_dir = out, .vocab_size = 512};
  alto_shard_build_stats st;
  CHECK(alto_shard_build(&o, &st) == ALTO_ERR_INVALID_ARG);
  CHECKF(strstr(alto_last_error(), "has 0 documents") != NULL, "%s", alto_last_error());
  write_text_(corpus, "only one document\n", 18);
  CHECK(alto_shard_build(&o, &st) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "at least 2 are needed") != NULL);
  o.text_path = path_(0, dir, "nothing-here");
  CHECK(alto_shard_build(&o, &st) == ALTO_ERR_NOT_FOUND);
  CHECK(strstr(alto_last_error(), "nothing-here") != NULL);
  mkdir(path_(0, dir, "emptydir"), 0755);
  o.text_path = path_(0, dir, "emptydir");
  CHECK(alto_shard_build(&o, &st) == ALTO_ERR_NOT_FOUND);
  CHECK(strstr(alto_last_error(), "no text files") != NULL);
}

/* A shard of tokens 0, 1, 2, ... (mod vocab) so windows are recognizable. */
static alto_shard counting_shard_(int64_t n) {
  alto_shard s = {.n_tokens = n, .vocab_size = 1u << 20, .token_bytes = 4};
  s.tokens = malloc((size_t)n * sizeof *s.tokens);
  for (int64_t i = 0; i < n; i++)
    s.tokens[i] = (uint32_t)i;
  return s;
}

static void test_loader_(void) {
  const int B = 4, T = 8;
  alto_shard s = counting_shard_(40 * (T + 1) + 5); /* 40 windows, 5 tokens left over */
  alto_loader a, b, c;
  CHECK(alto_loader_init(&a, &s, B, T, 42) == ALTO_OK);
  CHECK(alto_loader_init(&b, &s, B, T, 42) == ALTO_OK);
  CHECK(alto_loader_init(&c, &s, B, T, 43) == ALTO_OK);
  CHECK(a.n_windows == 40);
  int same_seed_diff = 0, other_seed_same = 0, bad_rows = 0;
  int seen[40] = {0};
  uint64_t first_epoch[40], second_epoch[40];
  for (int k = 0; k < 20; k++) { /* two epochs */
    alto_loader_next(&a);
    alto_loader_next(&b);
    alto_loader_next(&c);
    same_seed_diff += memcmp(a.inputs, b.inputs, sizeof(int32_t) * B * T) != 0;
    other_seed_same += memcmp(a.inputs, c.inputs, sizeof(int32_t) * B * T) == 0;
    for (int r = 0; r < B; r++) {
      uint64_t w = a.windows[r];
      int idx = k * B + r;
      (idx < 40 ? first_epoch : second_epoch)[idx % 40] = w;
      if (idx < 40)
        seen[w]++;
      for (int t = 0; t < T; t++)
        bad_rows += a.inputs[r * T + t] != (int32_t)(w * (T + 1) + t) ||
                    a.targets[r * T + t] != (int32_t)(w * (T + 1) + t + 1);
    }
  }
  CHECK(same_seed_diff == 0);
  CHECK(other_seed_same < 2);
  CHECK(bad_rows == 0);
  int once = 0, second_once = 0;
  int seen2[40] = {0};
  for (int i = 0; i < 40; i++)
    seen2[second_epoch[i]]++;
  for (int i = 0; i < 40; i++) {
    once += seen[i] == 1;
    second_once += seen2[i] == 1;
  }
  CHECK(once == 40 && second_once == 40);
  CHECK(memcmp(first_epoch, second_epoch, sizeof first_epoch) != 0); /* reshuffled */
  int in_order = 0;
  for (int i = 0; i < 40; i++)
    in_order += first_epoch[i] == (uint64_t)i;
  CHECK(in_order < 10);
  CHECK(a.state.epoch == 1 && a.state.position == 40);
  alto_loader_free(&a);
  alto_loader_free(&b);
  alto_loader_free(&c);

  /* B = 3 does not divide 40: batches run across epochs; each epoch still visits each window */
  CHECK(alto_loader_init(&a, &s, 3, T, 7) == ALTO_OK);
  int counts[3][40] = {{0}};
  for (int k = 0; k < 40; k++) {
    alto_loader_next(&a);
    for (int r = 0; r < 3; r++)
      counts[(k * 3 + r) / 40][a.windows[r]]++;
  }
  int ok = 0;
  for (int e = 0; e < 3; e++)
    for (int i = 0; i < 40; i++)
      ok += counts[e][i] == 1;
  CHECK(ok == 120);
  alto_loader_free(&a);
  alto_shard_free(&s);
}

static void test_loader_resume_(void) {
  const int B = 5, T = 16;
  alto_shard s = counting_shard_(33 * (T + 1));
  alto_test_rng rng = {alto_test_seed()};
  for (int trial = 0; trial < 5; trial++) {
    int k = (int)(alto_test_u32(&rng) % 30);
    alto_loader a, b;
    CHECK(alto_loader_init(&a, &s, B, T, 1234 + (uint64_t)trial) == ALTO_OK);
    for (int i = 0; i < k; i++)
      alto_loader_next(&a);
    alto_loader_state st = alto_loader_get_state(&a);
    /* a fresh loader with another seed, restored to the saved state */
    CHECK(alto_loader_init(&b, &s, B, T, 999) == ALTO_OK);
    alto_loader_next(&b);
    CHECK(alto_loader_set_state(&b, st) == ALTO_OK);
    int diff = 0;
    for (int i = 0; i < 20; i++) {
      alto_loader_next(&a);
      alto_loader_next(&b);
      diff += memcmp(a.inputs, b.inputs, sizeof(int32_t) * B * T) != 0 ||
              memcmp(a.targets, b.targets, sizeof(int32_t) * B * T) != 0;
    }
    CHECKF(diff == 0, "resume after %d batches: %d of 20 batches differ", k, diff);
    alto_loader_state bad = st;
    bad.n_windows++;
    CHECK(alto_loader_set_state(&b, bad) == ALTO_ERR_INVALID_ARG);
    bad = st;
    bad.position = st.n_windows + 1;
    CHECK(alto_loader_set_state(&b, bad) == ALTO_ERR_INVALID_ARG);
    alto_loader_free(&a);
    alto_loader_free(&b);
  }
  alto_shard_free(&s);
}

static void test_loader_too_small_(void) {
  alto_shard s = counting_shard_(100);
  alto_loader L;
  CHECK(alto_loader_init(&L, &s, 4, 32, 1) == ALTO_ERR_INVALID_ARG);
  CHECKF(strstr(alto_last_error(), "has 100 tokens") && strstr(alto_last_error(), "at least 132"),
         "%s", alto_last_error());
  CHECK(L.perm == NULL && L.inputs == NULL);
  alto_shard empty = {.vocab_size = 10};
  CHECK(alto_loader_init(&L, &empty, 1, 1, 1) == ALTO_ERR_INVALID_ARG);
  CHECK(strstr(alto_last_error(), "at least 2 tokens") != NULL);
  CHECK(alto_loader_init(&L, &s, 0, 8, 1) == ALTO_ERR_INVALID_ARG);
  alto_loader_val V;
  CHECK(alto_loader_val_init(&V, &empty, 2, 4) == ALTO_ERR_INVALID_ARG);
  alto_shard_free(&s);
}

static void test_val_iterator_(void) {
  int64_t sizes[] = {2, 9, 17, 100, 101};
  for (int z = 0; z < 5; z++) {
    alto_shard s = counting_shard_(sizes[z]);
    alto_loader_val V;
    CHECK(alto_loader_val_init(&V, &s, 3, 8) == ALTO_OK);
    for (int pass = 0; pass < 2; pass++) { /* reset restarts */
      int64_t next = 1, batches = 0, bad = 0;
      while (alto_loader_val_next(&V)) {
        batches++;
        int64_t counted = 0;
        for (int i = 0; i < 3 * 8; i++) {
          if (V.targets[i] < 0)
            continue;
          counted++;
          bad += V.targets[i] != next || V.inputs[i] != next - 1;
          next++;
        }
        bad += counted != V.n_targets || V.rows < 1;
      }
      CHECKF(next == sizes[z] && bad == 0, "n=%lld: covered up to %lld, %lld bad",
             (long long)sizes[z], (long long)next, (long long)bad);
      CHECK(batches == (sizes[z] - 1 + 23) / 24);
      alto_loader_val_reset(&V);
    }
    alto_loader_val_free(&V);
    alto_shard_free(&s);
  }
}

/* The real corpus, when installed: a few fortune files through builder, loader and val. */
static void test_fortunes_(void) {
  struct stat sb;
  if (stat(ALTO_DATA_DEFAULT_CORPUS "/fortunes", &sb) != 0) {
    fprintf(stderr, "     (no fortunes package: skipping)\n");
    return;
  }
  const char *dir = alto_test_tmpdir("data_fortunes");
  const char *files[] = {"fortunes", "science", "computers"};
  char corpus[1200];
  snprintf(corpus, sizeof corpus, "%s/corpus", dir);
  mkdir(corpus, 0755);
  for (int i = 0; i < 3; i++) {
    char src[256], *text;
    size_t len;
    snprintf(src, sizeof src, "%s/%s", ALTO_DATA_DEFAULT_CORPUS, files[i]);
    CHECK(alto_data_read_file(src, &text, &len) == ALTO_OK);
    write_text_(path_(0, corpus, files[i]), text, len);
    free(text);
  }
  char out[1200];
  snprintf(out, sizeof out, "%s/out", dir);
  alto_shard_build_opts o = {.text_path = corpus, .out_dir = out, .vocab_size = 1024};
  alto_shard_build_stats st;
  CHECK(alto_shard_build(&o, &st) == ALTO_OK);
  CHECK(st.vocab_size == 1024 && st.n_docs > 1000);
  alto_shard train, val;
  CHECK(alto_shard_read(path_(0, out, "train.bin"), 1024, &train) == ALTO_OK);
  CHECK(alto_shard_read(path_(0, out, "val.bin"), 1024, &val) == ALTO_OK);
  CHECK(train.token_bytes == 2);
  alto_loader L;
  CHECK(alto_loader_init(&L, &train, 4, 64, 1) == ALTO_OK);
  alto_loader_next(&L);
  CHECK(L.inputs[1] == L.targets[0]);
  alto_loader_free(&L);
  alto_loader_val V;
  CHECK(alto_loader_val_init(&V, &val, 4, 64) == ALTO_OK);
  int64_t targets = 0;
  while (alto_loader_val_next(&V))
    targets += V.n_targets;
  CHECK(targets == val.n_tokens - 1);
  alto_loader_val_free(&V);
  alto_shard_free(&train);
  alto_shard_free(&val);
}

static int run_(const char *cmd) {
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* alto-data: exit codes 0 / 1 / 2, build, encode | decode round trip. */
static void test_tool_(void) {
  const char *bin = ALTO_BIN_DIR "/alto-data";
  struct stat sb;
  if (stat(bin, &sb) != 0) {
    fprintf(stderr, "     (%s not built: skipping)\n", bin);
    return;
  }
  const char *dir = alto_test_tmpdir("data_tool");
  const char *corpus = make_corpus_(dir, 2);
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s --help > /dev/null", bin);
  CHECK(run_(cmd) == 0);
  snprintf(cmd, sizeof cmd, "%s --bogus 2> /dev/null", bin);
  CHECK(run_(cmd) == 2);
  snprintf(cmd, sizeof cmd, "%s --build --vocab 12 --out %s/o 2> /dev/null", bin, dir);
  CHECK(run_(cmd) == 2);
  snprintf(cmd, sizeof cmd, "%s --info %s/missing.bin 2> /dev/null", bin, dir);
  CHECK(run_(cmd) == 1);
  snprintf(cmd, sizeof cmd, "%s --build --text %s --vocab 300 --out %s/o > %s/stats.txt", bin,
           corpus, dir, dir);
  CHECK(run_(cmd) == 0);
  snprintf(cmd, sizeof cmd, "grep -q 'bytes per token' %s/stats.txt", dir);
  CHECK(run_(cmd) == 0);
  snprintf(cmd, sizeof cmd, "%s --info %s/o/train.bin > /dev/null", bin, dir);
  CHECK(run_(cmd) == 0);
  snprintf(cmd, sizeof cmd,
           "%s --encode --tokenizer %s/o/tokenizer.model --text %s/b-math | "
           "%s --decode --tokenizer %s/o/tokenizer.model > %s/rt && cmp -s %s/rt %s/b-math",
           bin, dir, corpus, bin, dir, dir, dir, corpus);
  CHECK(run_(cmd) == 0);
  snprintf(cmd, sizeof cmd, "%s --decode --tokenizer %s/o/tokenizer.model 5 x 2> /dev/null", bin,
           dir);
  CHECK(run_(cmd) == 1);
}

int main(void) {
  RUN(test_shard_round_trip_);
  RUN(test_corrupt_shards_);
  RUN(test_build_);
  RUN(test_build_errors_);
  RUN(test_loader_);
  RUN(test_loader_resume_);
  RUN(test_loader_too_small_);
  RUN(test_val_iterator_);
  RUN(test_fortunes_);
  RUN(test_tool_);
  return alto_test_finish();
}
