/* alto_model: which network (ARCHITECTURE.md stage 2).
 *
 * Loaded from models/<family>/<flavor>.yaml (libyaml), validated with file:line errors for
 * unknown keys, wrong types, missing fields and inconsistent dimensions. The struct is plain
 * and printable; every dimension is in elements. Module names follow TorchTitan
 * ("layers.3.attention.wq"), with Hugging Face names as aliases
 * ("model.layers.3.self_attn.q_proj").
 */
#ifndef ALTO_COMPILER_MODEL_H
#define ALTO_COMPILER_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/status.h"

typedef enum { ALTO_NORM_RMSNORM, ALTO_NORM_KIND_COUNT } alto_norm_kind;
typedef enum {
  ALTO_ROPE_SCALING_NONE,
  ALTO_ROPE_SCALING_LLAMA3, /* Llama 3.1: factor, low/high_freq_factor, original_max_position */
  ALTO_ROPE_SCALING_YARN,   /* DeepSeek V3 / GPT-OSS: factor, beta_fast, beta_slow, mscale */
  ALTO_ROPE_SCALING_COUNT
} alto_rope_scaling;
typedef enum { ALTO_ATTN_GQA, ALTO_ATTN_MLA, ALTO_ATTN_KIND_COUNT } alto_attn_kind;
/* Which layers use the sliding window (GPT-OSS: even layers, counting from 0). */
typedef enum {
  ALTO_SLIDING_NONE,
  ALTO_SLIDING_ALL,
  ALTO_SLIDING_EVEN,
  ALTO_SLIDING_ODD,
  ALTO_SLIDING_COUNT
} alto_sliding_layers;
typedef enum { ALTO_MLP_SWIGLU, ALTO_MLP_MOE, ALTO_MLP_KIND_COUNT } alto_mlp_kind;
typedef enum { ALTO_ROUTER_SOFTMAX, ALTO_ROUTER_SIGMOID, ALTO_ROUTER_COUNT } alto_router_score;
/* GroupedExperts (DeepSeek V3) or GptOssGroupedExperts (biases, clamped SwiGLU). */
typedef enum { ALTO_EXPERTS_GROUPED, ALTO_EXPERTS_GPT_OSS, ALTO_EXPERTS_COUNT } alto_experts_kind;

typedef struct {
  double theta;                             /* base frequency (500000 for Llama 3) */
  alto_rope_scaling scaling;                /* none | llama3 | yarn */
  double factor;                            /* llama3 / yarn scaling factor */
  double low_freq_factor, high_freq_factor; /* llama3 */
  int64_t original_max_position;            /* llama3 / yarn: the pretraining context */
  double beta_fast, beta_slow, mscale;      /* yarn */
} alto_rope;

typedef struct {
  alto_attn_kind kind;
  int64_t n_heads;    /* query heads */
  int64_t n_kv_heads; /* GQA: key/value heads (divides n_heads); MLA: = n_heads */
  int64_t head_dim;   /* GQA: per-head dim (default dim / n_heads) */
  bool qkv_bias;      /* biases on wq/wk/wv/wo (GPT-OSS) */
  /* MLA (DeepSeek V3) */
  int64_t q_lora_rank; /* 0: wq is one Linear; else wq_a (dim -> q_lora) + q_norm + wq_b */
  int64_t kv_lora_rank;
  int64_t qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
  /* sliding window attention (GPT-OSS) */
  int64_t sliding_window; /* tokens; 0 = full causal attention everywhere */
  alto_sliding_layers sliding_layers;
  bool sinks; /* one learned sink logit per head (GPT-OSS) */
} alto_attention_desc;

typedef struct {
  alto_mlp_kind kind;
  int64_t ffn_dim; /* SwiGLU hidden; for MoE the hidden of the first n_dense_layers dense layers */
  /* MoE */
  int64_t n_routed_experts, n_shared_experts, top_k;
  int64_t expert_ffn_dim; /* hidden of one expert (and of each shared expert) */
  int64_t n_dense_layers; /* the first layers are dense SwiGLU with ffn_dim */
  alto_router_score score_func;
  bool route_norm;    /* renormalize the top-k weights */
  double route_scale; /* multiply the top-k weights (1.0 = none) */
  alto_experts_kind experts;
  bool expert_bias;    /* GptOssGroupedExperts: biases on the expert projections */
  double swiglu_limit; /* GptOssGroupedExperts: clamp of the SwiGLU inputs; 0 = none */
} alto_mlp_desc;

typedef struct {
  char family[32];  /* "llama3", "deepseek_v3", "gpt_oss" */
  char flavor[32];  /* "8b", "debugmodel", ... */
  char path[512];   /* the file it was loaded from */
  int64_t dim;      /* model width C */
  int64_t n_layers; /* transformer blocks L */
  int64_t vocab_size;
  int64_t max_seq_len;
  alto_norm_kind norm;
  double norm_eps;
  bool tied_embeddings; /* output shares tok_embeddings.weight */
  alto_rope rope;
  alto_attention_desc attn;
  alto_mlp_desc mlp;
} alto_model;

/* Loads "llama3/8b" (models/llama3/8b.yaml under ALTO_SOURCE_DIR) or a path to a .yaml file.
 * Errors: ALTO_ERR_NOT_FOUND (no such model; the message lists where it looked), ALTO_ERR_PARSE
 * ("file:line: ..." for unknown keys, wrong types, missing fields, bad dimensions). */
alto_status alto_model_load(const char *name_or_path, alto_model *out);
alto_status alto_model_load_string(const char *name, const char *text, size_t len, alto_model *out);
void alto_model_print(const alto_model *m, FILE *f);

/* Derived per-layer facts. */
bool alto_model_layer_is_moe(const alto_model *m, int layer);
bool alto_model_layer_is_sliding(const alto_model *m, int layer);
/* Total number of parameters (embeddings counted once when tied). */
int64_t alto_model_param_count(const alto_model *m);

/* ---- modules ------------------------------------------------------------------------------ */
typedef enum {
  ALTO_MOD_EMBEDDING,
  ALTO_MOD_LINEAR,
  ALTO_MOD_EXPERTS, /* a grouped-GEMM bank of experts (w1, w2, w3 inside) */
  ALTO_MOD_NORM,
  ALTO_MOD_ATTENTION,
  ALTO_MOD_KIND_COUNT
} alto_module_kind;

#define ALTO_MODULE_MAX_NAMES 3
#define ALTO_MODULE_MAX_CLASSES 2

typedef struct {
  alto_module_kind kind;
  char names[ALTO_MODULE_MAX_NAMES][96]; /* TorchTitan name first, then HF aliases */
  int n_names;
  const char *classes[ALTO_MODULE_MAX_CLASSES]; /* most specific first ("Linear") */
  int n_classes;
  int layer;        /* block index, -1 outside the blocks */
  int64_t shape[3]; /* weight shape: Linear (out, in); experts (E, ffn, dim) of w1; norm (C,) */
  int rank;
  bool has_bias;
} alto_module;

/* Every module of the model in execution order; *out is owned by the caller (free()). */
alto_status alto_model_modules(const alto_model *m, alto_module **out, int *n_out);
/* Index of the module whose name (or alias) is `name`, or -1. */
int alto_model_module_find(const alto_module *mods, int n, const char *name);

#endif
