#include "engine/loader/model_config.h"

#include <cmath>
#include <string>

#include "engine/errors.h"

namespace kvs {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw ModelLoadError("model config: " + message);
}

void require_positive(const char* field, int64_t value) {
  if (value <= 0) fail(std::string(field) + " must be positive, got " + std::to_string(value));
}

void require_positive_finite(const char* field, float value) {
  if (!(value > 0.0f) || !std::isfinite(value)) {
    fail(std::string(field) + " must be a positive finite number, got " + std::to_string(value));
  }
}

void validate_rope_scaling(const RopeScaling& scaling) {
  if (scaling.type == "none") return;
  if (scaling.type == "linear") {
    require_positive_finite("rope_scaling.factor", scaling.factor);
    return;
  }
  if (scaling.type == "llama3") {
    require_positive_finite("rope_scaling.factor", scaling.factor);
    require_positive_finite("rope_scaling.low_freq_factor", scaling.low_freq_factor);
    require_positive_finite("rope_scaling.high_freq_factor", scaling.high_freq_factor);
    if (!(scaling.high_freq_factor > scaling.low_freq_factor)) {
      fail("rope_scaling.high_freq_factor (" + std::to_string(scaling.high_freq_factor) +
           ") must be greater than low_freq_factor (" + std::to_string(scaling.low_freq_factor) +
           ")");
    }
    require_positive("rope_scaling.original_max_position_embeddings",
                     scaling.original_max_position_embeddings);
    return;
  }
  if (scaling.type == "yarn") {
    require_positive_finite("rope_scaling.factor", scaling.factor);
    require_positive("rope_scaling.original_max_position_embeddings",
                     scaling.original_max_position_embeddings);
    require_positive_finite("rope_scaling.beta_fast", scaling.beta_fast);
    require_positive_finite("rope_scaling.beta_slow", scaling.beta_slow);
    if (scaling.attention_factor != 0.0f) {
      require_positive_finite("rope_scaling.attention_factor", scaling.attention_factor);
    }
    return;
  }
  fail("rope_scaling type '" + scaling.type + "' is not supported (supported: none, linear, llama3, yarn)");
}

void validate_token_id(const char* field, int64_t id, int64_t vocab_size) {
  if (id < 0 || id >= vocab_size) {
    fail(std::string(field) + " " + std::to_string(id) + " is outside the vocabulary [0, " +
         std::to_string(vocab_size) + ")");
  }
}

}  // namespace

bool RopeScaling::operator==(const RopeScaling& other) const {
  return type == other.type && factor == other.factor &&
         low_freq_factor == other.low_freq_factor && high_freq_factor == other.high_freq_factor &&
         original_max_position_embeddings == other.original_max_position_embeddings &&
         beta_fast == other.beta_fast && beta_slow == other.beta_slow &&
         attention_factor == other.attention_factor;
}

void ModelConfig::validate() const {
  if (architecture != "llama" && architecture != "qwen2" && architecture != "qwen3" &&
      architecture != "phi3" && architecture != "gemma3") {
    fail("architecture '" + architecture + "' is not supported (supported: llama, qwen2, qwen3, phi3, gemma3)");
  }
  if (hidden_act != "silu" && hidden_act != "gelu_tanh") {
    fail("hidden_act '" + hidden_act + "' is not supported (supported: silu, gelu_tanh)");
  }
  if (sliding_window < 0 || sliding_window_pattern < 0) {
    fail("sliding_window (" + std::to_string(sliding_window) + ") and sliding_window_pattern (" +
         std::to_string(sliding_window_pattern) + ") must not be negative");
  }
  if (rope_local_theta != 0.0f) require_positive_finite("rope_local_theta", rope_local_theta);
  require_positive("vocab_size", vocab_size);
  require_positive("hidden_size", hidden_size);
  require_positive("intermediate_size", intermediate_size);
  require_positive("num_layers", num_layers);
  require_positive("num_heads", num_heads);
  require_positive("num_kv_heads", num_kv_heads);
  require_positive("head_dim", head_dim);
  require_positive("max_position_embeddings", max_position_embeddings);
  if (num_heads % num_kv_heads != 0) {
    fail("num_kv_heads (" + std::to_string(num_kv_heads) + ") does not divide num_heads (" +
         std::to_string(num_heads) + ")");
  }
  if (head_dim % 2 != 0) fail("head_dim must be even for RoPE, got " + std::to_string(head_dim));
  require_positive_finite("rms_norm_eps", rms_norm_eps);
  require_positive_finite("rope_theta", rope_theta);
  validate_rope_scaling(rope_scaling);
  if (architecture == "qwen2" && !attention_bias) {
    fail("qwen2 requires attention_bias (q/k/v projections carry a bias)");
  }
  if (architecture != "qwen2" && attention_bias) {
    fail(architecture + " with attention_bias is not supported (it needs an o_proj bias)");
  }
  if (bos_token_id != -1) validate_token_id("bos_token_id", bos_token_id, vocab_size);
  for (int64_t id : eos_token_ids) validate_token_id("eos_token_id", id, vocab_size);
}

bool ModelConfig::operator==(const ModelConfig& other) const {
  return architecture == other.architecture && vocab_size == other.vocab_size &&
         hidden_size == other.hidden_size && intermediate_size == other.intermediate_size &&
         num_layers == other.num_layers && num_heads == other.num_heads &&
         num_kv_heads == other.num_kv_heads && head_dim == other.head_dim &&
         max_position_embeddings == other.max_position_embeddings &&
         rms_norm_eps == other.rms_norm_eps && rope_theta == other.rope_theta &&
         rope_scaling == other.rope_scaling && tie_word_embeddings == other.tie_word_embeddings &&
         attention_bias == other.attention_bias && bos_token_id == other.bos_token_id &&
         eos_token_ids == other.eos_token_ids && hidden_act == other.hidden_act && qk_norm == other.qk_norm &&
         sandwich_norms == other.sandwich_norms && scale_embeddings == other.scale_embeddings &&
         sliding_window == other.sliding_window && sliding_window_pattern == other.sliding_window_pattern &&
         rope_local_theta == other.rope_local_theta;
}

}  // namespace kvs
