#pragma once
// Hyper-parameters of a Llama-family decoder, from config.json or GGUF metadata.
#include <cstdint>
#include <string>
#include <vector>

namespace kvs {

// RoPE frequency scaling:
//   "none";
//   "linear": positions divided by `factor`;
//   "llama3" (Llama 3.1): factor, low/high frequency factors, original context;
//   "yarn": factor, original context, beta_fast / beta_slow (the correction
//     range in rotations) and attention_factor, the scale of cos and sin
//     (0: derived, 0.1 * ln(factor) + 1 as transformers and llama.cpp do).
struct RopeScaling {
  std::string type = "none";  // "none" | "linear" | "llama3" | "yarn"
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_max_position_embeddings = 0;
  float beta_fast = 32.0f;        // yarn only
  float beta_slow = 1.0f;         // yarn only
  float attention_factor = 0.0f;  // yarn only; 0 = derived from factor

  bool operator==(const RopeScaling& other) const;
  bool operator!=(const RopeScaling& other) const { return !(*this == other); }
};

// Everything the forward pass needs to know about the architecture.
// validate() throws ModelLoadError naming the first inconsistent field.
struct ModelConfig {
  // "llama" (also Mistral: llama + sliding_window) | "qwen2" (llama + QKV bias) |
  // "qwen3" (llama + per-head q/k RMSNorm, head_dim set apart) | "phi3" (llama
  // with fused qkv_proj / gate_up_proj in the files, split at load) | "gemma3"
  std::string architecture = "llama";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_heads unless the config says otherwise
  int64_t max_position_embeddings = 2048;
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2)
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;  // generation stops on any of these

  // Gemma 3 features (the defaults are Llama's; gemma3 sets all of them,
  // qwen3 sets qk_norm).
  std::string hidden_act = "silu";  // MLP gate activation: "silu" | "gelu_tanh"
  bool qk_norm = false;             // RMSNorm over each q and k head before RoPE (weights as stored)
  bool sandwich_norms = false;      // RMSNorm on the attention and MLP outputs before each residual add
  bool scale_embeddings = false;    // embeddings multiplied by sqrt(hidden_size)
  // Sliding-window attention: layer i attends to the last `sliding_window`
  // positions (itself included) when is_window_layer(i); 0 = every layer
  // global. sliding_window_pattern p > 0: every p-th layer (i % p == p - 1)
  // is global, the others windowed (Gemma 3: p = 6); p = 0: all windowed
  // (Mistral and Phi-3 folders).
  int64_t sliding_window = 0;
  int64_t sliding_window_pattern = 0;
  float rope_local_theta = 0.0f;  // RoPE base of window layers (0: rope_theta)

  bool is_window_layer(int64_t layer) const {
    if (sliding_window <= 0) return false;
    return sliding_window_pattern <= 0 || layer % sliding_window_pattern != sliding_window_pattern - 1;
  }
  // rope_theta, or rope_local_theta for window layers when it is set.
  float layer_rope_theta(int64_t layer) const {
    return is_window_layer(layer) && rope_local_theta > 0.0f ? rope_local_theta : rope_theta;
  }

  // Throws ModelLoadError("model config: <field> ...") on: an architecture
  // other than llama/qwen2/qwen3/phi3/gemma3, an unknown hidden_act, a negative window, a non-positive size or count, num_kv_heads not
  // dividing num_heads, an odd head_dim, eps/theta not positive and finite,
  // inconsistent rope scaling, token ids outside [0, vocab_size), qwen2
  // without attention_bias, llama with attention_bias (needs an o_proj bias,
  // which kvserve does not implement). hidden_size == num_heads * head_dim is
  // not required (configs may set head_dim explicitly); the parsers check
  // divisibility when they derive head_dim.
  void validate() const;

  // Field-by-field equality (floats compared exactly).
  bool operator==(const ModelConfig& other) const;
  bool operator!=(const ModelConfig& other) const { return !(*this == other); }
};

}  // namespace kvs
