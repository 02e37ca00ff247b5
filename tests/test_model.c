/* Model descriptions: every shipped model loads, the dimensions users know, parameter counts,
 * and clear file:line errors for bad files. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "tests/harness.h"

static void test_all_shipped_load(void) {
  const char *families[] = {"llama3", "deepseek_v3", "gpt_oss"};
  int total = 0;
  for (int f = 0; f < 3; f++) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/models/%s", ALTO_SOURCE_DIR, families[f]);
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "%s", dir);
    if (!d)
      continue;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      size_t n = strlen(e->d_name);
      if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
        continue;
      char name[256];
      snprintf(name, sizeof name, "%s/%.*s", families[f], (int)(n - 5), e->d_name);
      alto_model m;
      alto_status s = alto_model_load(name, &m);
      CHECKF(s == ALTO_OK, "%s: %s", name, alto_last_error());
      CHECKF(strcmp(m.family, families[f]) == 0, "%s: family %s", name, m.family);
      CHECKF(alto_model_param_count(&m) > 0, "%s", name);
      total++;
    }
    closedir(d);
  }
  CHECK(total >= 11);
}

static void test_llama3_dims(void) {
  alto_model m;
  CHECK(alto_model_load("llama3/debugmodel", &m) == ALTO_OK);
  CHECK(m.n_layers == 6 && m.dim == 256 && m.attn.n_heads == 16 && m.attn.n_kv_heads == 16);
  CHECK(m.attn.head_dim == 16 && m.mlp.ffn_dim == 768 && m.vocab_size == 2048);
  CHECK(m.rope.theta == 500000.0 && !m.tied_embeddings);
  CHECK(alto_model_load("llama3/1b", &m) == ALTO_OK);
  CHECK(m.n_layers == 16 && m.dim == 2048 && m.attn.n_heads == 32 && m.attn.n_kv_heads == 8);
  CHECK(m.attn.head_dim == 64 && m.mlp.ffn_dim == 8192 && m.vocab_size == 128256);
  CHECK(m.tied_embeddings && m.rope.scaling == ALTO_ROPE_SCALING_LLAMA3 && m.rope.factor == 32);
  int64_t p1 = alto_model_param_count(&m);
  CHECKF(fabs((double)p1 / 1.24e9 - 1) < 0.01, "llama3 1b: %lld parameters", (long long)p1);
  CHECK(alto_model_load("llama3/8b", &m) == ALTO_OK);
  CHECK(m.n_layers == 32 && m.dim == 4096 && m.attn.n_heads == 32 && m.attn.n_kv_heads == 8);
  CHECK(m.attn.head_dim == 128 && m.mlp.ffn_dim == 14336 && m.vocab_size == 128256);
  CHECK(!m.tied_embeddings && m.rope.factor == 8 && m.rope.low_freq_factor == 1);
  CHECK(m.rope.high_freq_factor == 4 && m.rope.original_max_position == 8192);
  int64_t p8 = alto_model_param_count(&m);
  CHECKF(fabs((double)p8 / 8.03e9 - 1) < 0.01, "llama3 8b: %lld parameters", (long long)p8);
  CHECK(alto_model_load("llama3/405b", &m) == ALTO_OK);
  CHECK(m.n_layers == 126 && m.dim == 16384 && m.attn.n_heads == 128 && m.mlp.ffn_dim == 53248);
}

static void test_deepseek_gptoss_dims(void) {
  alto_model m;
  CHECK(alto_model_load("deepseek_v3/16b", &m) == ALTO_OK);
  CHECK(m.n_layers == 27 && m.dim == 2048 && m.attn.n_heads == 16);
  CHECK(m.attn.kind == ALTO_ATTN_MLA && m.attn.kv_lora_rank == 512 && m.attn.q_lora_rank == 0);
  CHECK(m.attn.qk_nope_head_dim == 128 && m.attn.qk_rope_head_dim == 64);
  CHECK(m.attn.v_head_dim == 128 && m.vocab_size == 102400);
  CHECK(m.mlp.kind == ALTO_MLP_MOE && m.mlp.n_routed_experts == 64);
  CHECK(m.mlp.n_shared_experts == 2 && m.mlp.top_k == 6 && m.mlp.expert_ffn_dim == 1408);
  CHECK(m.mlp.n_dense_layers == 1 && m.mlp.ffn_dim == 10944);
  CHECK(!alto_model_layer_is_moe(&m, 0) && alto_model_layer_is_moe(&m, 1));
  int64_t p16 = alto_model_param_count(&m);
  /* 15.7e9: TorchTitan's 16B flavor uses MLA (kv_lora 512) where deepseek-moe-16b has MHA */
  CHECKF(p16 > 15.0e9 && p16 < 16.5e9, "deepseek 16b: %lld", (long long)p16);
  CHECK(alto_model_load("deepseek_v3/671b", &m) == ALTO_OK);
  int64_t p671 = alto_model_param_count(&m);
  CHECKF(fabs((double)p671 / 671e9 - 1) < 0.02, "deepseek 671b: %lld", (long long)p671);
  CHECK(alto_model_load("gpt_oss/20b", &m) == ALTO_OK);
  CHECK(m.n_layers == 24 && m.dim == 2880 && m.attn.n_heads == 64 && m.attn.n_kv_heads == 8);
  CHECK(m.attn.head_dim == 64 && m.mlp.n_routed_experts == 32 && m.mlp.top_k == 4);
  CHECK(m.mlp.expert_ffn_dim == 2880 && m.attn.sliding_window == 128 && m.attn.sinks);
  CHECK(m.vocab_size == 201088 && m.mlp.experts == ALTO_EXPERTS_GPT_OSS);
  CHECK(alto_model_layer_is_sliding(&m, 0) && !alto_model_layer_is_sliding(&m, 1));
  int64_t p20 = alto_model_param_count(&m);
  CHECKF(fabs((double)p20 / 20.9e9 - 1) < 0.03, "gpt-oss 20b: %lld", (long long)p20);
}

static void test_modules(void) {
  alto_model m;
  CHECK(alto_model_load("gpt_oss/debugmodel", &m) == ALTO_OK);
  alto_module *mods;
  int n;
  CHECK(alto_model_modules(&m, &mods, &n) == ALTO_OK);
  int i = alto_model_module_find(mods, n, "model.layers.3.self_attn.q_proj");
  CHECK(i >= 0 && strcmp(mods[i].names[0], "layers.3.attention.wq") == 0);
  CHECK(i >= 0 && mods[i].layer == 3 && mods[i].shape[0] == 64 * 64 && mods[i].shape[1] == 256);
  i = alto_model_module_find(mods, n, "layers.1.moe.experts");
  CHECK(i >= 0 && mods[i].n_classes == 2);
  CHECK(i >= 0 && strcmp(mods[i].classes[0], "GptOssGroupedExperts") == 0);
  CHECK(i >= 0 && strcmp(mods[i].classes[1], "GroupedExperts") == 0);
  CHECK(alto_model_module_find(mods, n, "lm_head") >= 0);
  CHECK(alto_model_module_find(mods, n, "model.embed_tokens") == 0);
  free(mods);
  CHECK(alto_model_load("deepseek_v3/671b", &m) == ALTO_OK);
  CHECK(alto_model_modules(&m, &mods, &n) == ALTO_OK);
  CHECK(alto_model_module_find(mods, n, "layers.5.attention.wq_b") >= 0);
  CHECK(alto_model_module_find(mods, n, "model.layers.5.self_attn.kv_b_proj") >= 0);
  CHECK(alto_model_module_find(mods, n, "layers.2.feed_forward.w1") >= 0);
  CHECK(alto_model_module_find(mods, n, "layers.3.moe.shared_experts.w2") >= 0);
  CHECK(alto_model_module_find(mods, n, "layers.3.feed_forward.w1") < 0);
  free(mods);
}

/* One bad description: the status, and the message contains `want` (file:line and the key). */
static void bad_(const char *text, alto_status want_s, const char *want) {
  alto_model m;
  alto_status s = alto_model_load_string("bad.yaml", text, strlen(text), &m);
  CHECKF(s == want_s, "got %s (%s), want %s", alto_status_name(s), alto_last_error(),
         alto_status_name(want_s));
  CHECKF(strstr(alto_last_error(), want) != NULL, "'%s' lacks '%s'", alto_last_error(), want);
}

#define GOOD_HEAD_ "family: llama3\nflavor: t\ndim: 256\nn_layers: 2\nvocab_size: 64\n"
#define GOOD_TAIL_                                                                                 \
  "max_seq_len: 128\nnorm_eps: 1.0e-5\nrope:\n  theta: 10000\n"                                    \
  "attention:\n  kind: gqa\n  n_heads: 4\nmlp:\n  kind: swiglu\n  ffn_dim: 512\n"

static void test_bad_files(void) {
  alto_model m;
  const char *good = GOOD_HEAD_ GOOD_TAIL_;
  CHECKF(alto_model_load_string("good.yaml", good, strlen(good), &m) == ALTO_OK, "%s",
         alto_last_error());
  CHECK(m.attn.head_dim == 64 && m.attn.n_kv_heads == 4);
  bad_(GOOD_HEAD_ "dimm: 3\n" GOOD_TAIL_, ALTO_ERR_PARSE, "bad.yaml:6: unknown key 'dimm'");
  bad_("family: llama3\nflavor: t\ndim: wide\n", ALTO_ERR_PARSE,
       "bad.yaml:3: 'dim' must be an integer");
  bad_("family: llama3\nflavor: t\ndim: -256\n", ALTO_ERR_PARSE, "bad.yaml:3: 'dim' must be >= 0");
  bad_("family: [llama3]\n", ALTO_ERR_PARSE, "bad.yaml:1: 'family' must be a scalar");
  bad_(GOOD_HEAD_ "max_seq_len: 128\nnorm_eps: 1.0e-5\nrope:\n  theta: 10000\n"
                  "attention:\n  kind: gqa\n  n_heads: 3\nmlp:\n  kind: swiglu\n  ffn_dim: 8\n",
       ALTO_ERR_PARSE, "bad.yaml:12: attention.n_heads (3) does not divide dim (256)");
  bad_(GOOD_HEAD_ "max_seq_len: 128\nnorm_eps: 1.0e-5\nrope:\n  theta: 10000\n"
                  "attention:\n  kind: gqa\n  n_heads: 4\n",
       ALTO_ERR_PARSE, "missing field 'mlp'");
  bad_(GOOD_HEAD_ "max_seq_len: 128\nnorm_eps: 1.0e-5\nrope:\n  theta: 10000\n"
                  "attention:\n  kind: mqa\n  n_heads: 4\nmlp:\n  kind: swiglu\n  ffn_dim: 8\n",
       ALTO_ERR_PARSE, "bad.yaml:11: 'attention.kind' is 'mqa' (valid: gqa, mla)");
  bad_(GOOD_HEAD_ "max_seq_len: 128\nnorm_eps: 1.0e-5\nrope:\n  theta: 10000\n"
                  "attention:\n  kind: gqa\n  n_heads: 4\n  bogus: 1\nmlp:\n  kind: swiglu\n",
       ALTO_ERR_PARSE, "bad.yaml:13: unknown key 'attention.bogus'");
  bad_("family: llama3\n  flavor: [\n", ALTO_ERR_PARSE, "bad.yaml:");
  alto_status s = alto_model_load("llama3/does_not_exist", &m);
  CHECK(s == ALTO_ERR_NOT_FOUND);
  CHECK(strstr(alto_last_error(), "models/llama3/does_not_exist.yaml") != NULL);
}

int main(void) {
  RUN(test_all_shipped_load);
  RUN(test_llama3_dims);
  RUN(test_deepseek_gptoss_dims);
  RUN(test_modules);
  RUN(test_bad_files);
  return alto_test_finish();
}
