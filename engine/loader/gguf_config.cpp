#include "engine/loader/gguf_config.h"

#include <algorithm>
#include <cstring>

#include "engine/errors.h"
#include "engine/loader/gguf_rope_freqs.h"

namespace kvs {
namespace {

// YaRN as llama.cpp runs it for the architectures kvserve loads: factor and
// original context from the file, betas 32 and 1, attention scale
// 0.1 * ln(factor) + 1 (llama.cpp reads the converter's yarn_* keys only for
// other architectures, so a file that sets them is refused rather than run
// two ways).
RopeScaling read_yarn(const GgufFile& file, const std::string& prefix) {
  for (const char* key : {"rope.scaling.yarn_beta_fast", "rope.scaling.yarn_beta_slow", "rope.scaling.yarn_attn_factor",
                          "rope.scaling.yarn_ext_factor", "rope.scaling.yarn_log_multiplier",
                          "rope.scaling.attn_factor"}) {
    if (file.has(prefix + key)) {
      throw ModelLoadError(file.path() + ": " + prefix + key + " is not supported (yarn runs with llama.cpp's "
                           "defaults for " + prefix.substr(0, prefix.size() - 1) + ")");
    }
  }
  RopeScaling scaling;
  scaling.type = "yarn";
  scaling.factor = static_cast<float>(file.get_float(prefix + "rope.scaling.factor"));
  scaling.original_max_position_embeddings =
      file.get_int_or(prefix + "rope.scaling.original_context_length", file.get_int(prefix + "context_length"));
  return scaling;
}

RopeScaling read_rope_scaling(const GgufFile& file, const std::string& prefix) {
  RopeScaling scaling;
  const std::string type = file.get_string_or(prefix + "rope.scaling.type", "none");
  if (type == "none") {
    // Older converters wrote only the linear factor.
    const double linear = file.get_float_or(prefix + "rope.scale_linear", 1.0);
    if (linear != 1.0) {
      scaling.type = "linear";
      scaling.factor = static_cast<float>(linear);
    }
    return scaling;
  }
  if (type == "yarn") return read_yarn(file, prefix);
  if (type != "linear") {
    throw ModelLoadError(file.path() + ": " + prefix + "rope.scaling.type '" + type +
                         "' is not supported (supported: none, linear, yarn)");
  }
  scaling.type = "linear";
  scaling.factor = static_cast<float>(file.get_float(prefix + "rope.scaling.factor"));
  return scaling;
}

int64_t read_vocab_size(const GgufFile& file, const std::string& prefix) {
  if (file.has("tokenizer.ggml.tokens")) {
    return static_cast<int64_t>(file.get_string_array("tokenizer.ggml.tokens").size());
  }
  if (file.has(prefix + "vocab_size")) return file.get_int(prefix + "vocab_size");
  throw ModelLoadError(file.path() + ": no tokenizer.ggml.tokens or " + prefix +
                       "vocab_size to size the vocabulary");
}

int64_t read_head_dim(const GgufFile& file, const std::string& prefix, const ModelConfig& c) {
  int64_t head_dim = 0;
  if (file.has(prefix + "attention.key_length")) {
    head_dim = file.get_int(prefix + "attention.key_length");
    const int64_t value_length = file.get_int_or(prefix + "attention.value_length", head_dim);
    if (value_length != head_dim) {
      throw ModelLoadError(file.path() + ": attention.value_length (" +
                           std::to_string(value_length) + ") differs from key_length (" +
                           std::to_string(head_dim) + "), which kvserve does not support");
    }
  } else {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0) {
      throw ModelLoadError(file.path() + ": " + prefix + "attention.head_count (" +
                           std::to_string(c.num_heads) + ") does not divide embedding_length (" +
                           std::to_string(c.hidden_size) + ")");
    }
    head_dim = c.hidden_size / c.num_heads;
  }
  const int64_t rope_dims = file.get_int_or(prefix + "rope.dimension_count", head_dim);
  if (rope_dims != head_dim) {
    throw ModelLoadError(file.path() + ": rope.dimension_count (" + std::to_string(rope_dims) +
                         ") differs from the head dimension (" + std::to_string(head_dim) +
                         "); partial rotary embeddings are not supported");
  }
  return head_dim;
}

// Llama 3.1-style scaling stored as rope_freqs.weight (see gguf_rope_freqs.h).
void read_rope_freqs(const GgufFile& file, ModelConfig& c) {
  const GgufTensorInfo* info = file.find_tensor("rope_freqs.weight");
  if (info == nullptr) return;
  const std::string what = file.path() + ": rope_freqs.weight";
  if (info->ggml_type != 0 || info->ne != std::vector<int64_t>{c.head_dim / 2}) {
    throw ModelLoadError(what + " must be F32 with head_dim / 2 = " +
                         std::to_string(c.head_dim / 2) + " elements");
  }
  if (c.rope_scaling.type != "none") {
    throw ModelLoadError(what + " conflicts with rope scaling type '" + c.rope_scaling.type +
                         "' in the metadata");
  }
  std::vector<float> divisors(static_cast<size_t>(c.head_dim / 2));
  std::memcpy(divisors.data(), file.tensor_data(*info), divisors.size() * sizeof(float));
  const auto scaling = llama3_scaling_from_divisors(divisors, c.rope_theta, c.head_dim);
  if (!scaling) {
    throw ModelLoadError(what + " (per-dimension RoPE frequency factors) matches no Llama-3 "
                         "rope scaling kvserve can express");
  }
  c.rope_scaling = *scaling;
}

// Phi-3: LongRoPE ("su") factors come as rope_factors_long/short tensors
// and rope.scaling.type "longrope"; neither is supported. Its
// attention.sliding_window is not applied: llama.cpp disables Phi-3's
// sliding window, and a GGUF computes what llama.cpp computes.
void read_phi3(const GgufFile& file, const ModelConfig& c) {
  for (const char* tensor : {"rope_factors_long.weight", "rope_factors_short.weight"}) {
    if (file.find_tensor(tensor) != nullptr) {
      throw ModelLoadError(file.path() + ": " + tensor + " (Phi-3 longrope / su rope scaling) is not supported");
    }
  }
  if (c.rope_scaling.type != "none") {
    throw ModelLoadError(file.path() + ": phi3 with rope scaling '" + c.rope_scaling.type + "' is not supported");
  }
}

void read_special_ids(const GgufFile& file, ModelConfig& c) {
  c.bos_token_id = file.get_int_or("tokenizer.ggml.bos_token_id", -1);
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                          "tokenizer.ggml.eom_token_id"}) {
    if (!file.has(key)) continue;
    const int64_t id = file.get_int(key);
    if (id >= 0 && std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) ==
                       c.eos_token_ids.end()) {
      c.eos_token_ids.push_back(id);
    }
  }
}

// Gemma 3's fixed features, and its sliding window as llama.cpp reads it:
// every 6th layer global, window layers with RoPE base 10000 (the GGUF
// stores only the global base). Norm weights in a GGUF already hold
// Gemma's (1 + w): llama.cpp's converter adds the one.
void read_gemma3(const GgufFile& file, const std::string& prefix, ModelConfig& c) {
  c.hidden_act = "gelu_tanh";
  c.qk_norm = true;
  c.sandwich_norms = true;
  c.scale_embeddings = true;
  c.sliding_window = file.get_int_or(prefix + "attention.sliding_window", 0);
  c.sliding_window_pattern = 6;
  c.rope_local_theta = static_cast<float>(file.get_float_or(prefix + "rope.freq_base_swa", 10000.0));
  if (c.rope_scaling.type != "none") {
    throw ModelLoadError(file.path() + ": gemma3 with rope scaling '" + c.rope_scaling.type +
                         "' is not supported (the 270M and 1B models use none)");
  }
}

}  // namespace

ModelConfig model_config_from_gguf(const GgufFile& file) {
  ModelConfig c;
  c.architecture = file.get_string("general.architecture");
  if (c.architecture != "llama" && c.architecture != "qwen2" && c.architecture != "qwen3" &&
      c.architecture != "phi3" && c.architecture != "gemma3") {
    throw ModelLoadError(file.path() + ": architecture '" + c.architecture +
                         "' is not supported (supported: llama, qwen2, qwen3, phi3, gemma3)");
  }
  const std::string prefix = c.architecture + ".";
  c.max_position_embeddings = file.get_int(prefix + "context_length");
  c.hidden_size = file.get_int(prefix + "embedding_length");
  c.intermediate_size = file.get_int(prefix + "feed_forward_length");
  c.num_layers = file.get_int(prefix + "block_count");
  c.num_heads = file.get_int(prefix + "attention.head_count");
  c.num_kv_heads = file.get_int_or(prefix + "attention.head_count_kv", c.num_heads);
  c.head_dim = read_head_dim(file, prefix, c);
  c.rms_norm_eps = static_cast<float>(file.get_float(prefix + "attention.layer_norm_rms_epsilon"));
  c.rope_theta = static_cast<float>(file.get_float_or(prefix + "rope.freq_base", 10000.0));
  c.rope_scaling = read_rope_scaling(file, prefix);
  if (c.head_dim > 0) read_rope_freqs(file, c);
  c.vocab_size = read_vocab_size(file, prefix);
  c.tie_word_embeddings = file.find_tensor("output.weight") == nullptr;
  c.attention_bias = c.architecture == "qwen2";
  if (c.architecture == "gemma3") read_gemma3(file, prefix, c);
  if (c.architecture == "qwen3") c.qk_norm = true;
  if (c.architecture == "phi3") read_phi3(file, c);
  read_special_ids(file, c);
  try {
    c.validate();
  } catch (const ModelLoadError& error) {
    throw ModelLoadError(file.path() + ": " + error.what());
  }
  return c;
}

}  // namespace kvs
