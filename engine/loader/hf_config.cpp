#include "engine/loader/hf_config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "engine/errors.h"

namespace kvs {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& message) { throw ModelLoadError("config.json: " + message); }

json parse_object(const std::string& text, const char* file_name) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    throw ModelLoadError(std::string(file_name) + ": not a valid JSON object");
  }
  return value;
}

bool present(const json& object, const char* key) {
  return object.contains(key) && !object[key].is_null();
}

int64_t get_int(const json& object, const char* key) {
  if (!present(object, key)) fail(std::string("missing required field '") + key + "'");
  if (!object[key].is_number_integer()) fail(std::string("'") + key + "' must be an integer");
  return object[key].get<int64_t>();
}

int64_t get_int_or(const json& object, const char* key, int64_t fallback) {
  return present(object, key) ? get_int(object, key) : fallback;
}

double get_number_or(const json& object, const char* key, double fallback) {
  if (!present(object, key)) return fallback;
  if (!object[key].is_number()) fail(std::string("'") + key + "' must be a number");
  return object[key].get<double>();
}

bool get_bool_or(const json& object, const char* key, bool fallback) {
  if (!present(object, key)) return fallback;
  if (!object[key].is_boolean()) fail(std::string("'") + key + "' must be true or false");
  return object[key].get<bool>();
}

std::string architecture_of(const json& config) {
  std::string name;
  if (present(config, "architectures") && config["architectures"].is_array() &&
      !config["architectures"].empty() && config["architectures"][0].is_string()) {
    name = config["architectures"][0].get<std::string>();
  } else if (present(config, "model_type") && config["model_type"].is_string()) {
    name = config["model_type"].get<std::string>();
  }
  if (name == "LlamaForCausalLM" || name == "llama") return "llama";
  if (name == "MistralForCausalLM" || name == "mistral") return "mistral";
  if (name == "Qwen2ForCausalLM" || name == "qwen2") return "qwen2";
  if (name == "Qwen3ForCausalLM" || name == "qwen3") return "qwen3";
  if (name == "Phi3ForCausalLM" || name == "phi3") return "phi3";
  if (name.empty()) fail("no 'architectures' or 'model_type'");
  fail("architecture '" + name + "' is not supported (supported: LlamaForCausalLM, MistralForCausalLM, "
       "Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM)");
}

// YaRN as transformers' _compute_yarn_parameters reads it: factor as given;
// the original context from the rope dict, else the config's top level, else
// max_position_embeddings; betas 32 and 1 unless set; attention_factor as
// given, else from mscale / mscale_all_dim when both are set, else 0
// (derived: 0.1 * ln(factor) + 1).
void read_yarn(const json& config, const json& rope, RopeScaling& scaling) {
  const int64_t max_positions = get_int_or(config, "max_position_embeddings", 2048);
  scaling.original_max_position_embeddings = get_int_or(
      rope, "original_max_position_embeddings", get_int_or(config, "original_max_position_embeddings", max_positions));
  if (present(rope, "truncate") && !get_bool_or(rope, "truncate", true)) fail("yarn 'truncate': false is not supported");
  scaling.beta_fast = static_cast<float>(get_number_or(rope, "beta_fast", 32.0));
  scaling.beta_slow = static_cast<float>(get_number_or(rope, "beta_slow", 1.0));
  const double mscale = get_number_or(rope, "mscale", 0.0), mscale_all_dim = get_number_or(rope, "mscale_all_dim", 0.0);
  if (present(rope, "attention_factor")) {
    scaling.attention_factor = static_cast<float>(get_number_or(rope, "attention_factor", 1.0));
  } else if (mscale != 0.0 && mscale_all_dim != 0.0) {
    const auto get_mscale = [](double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
    const double factor = get_number_or(rope, "factor", 1.0);
    scaling.attention_factor = static_cast<float>(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim));
  }
}

// `rope` is rope_parameters (transformers 5) or rope_scaling (older).
RopeScaling parse_rope_scaling(const json& config, const json& rope) {
  RopeScaling scaling;
  if (rope.is_null()) return scaling;
  if (!rope.is_object()) fail("rope_scaling / rope_parameters must be an object");
  std::string type = "default";
  for (const char* key : {"rope_type", "type"}) {
    if (present(rope, key) && rope[key].is_string()) {
      type = rope[key].get<std::string>();
      break;
    }
  }
  if (present(rope, "partial_rotary_factor") && get_number_or(rope, "partial_rotary_factor", 1.0) != 1.0) {
    fail("partial_rotary_factor " + rope["partial_rotary_factor"].dump() + " is not supported (only 1)");
  }
  if (type == "default") return scaling;
  if (type != "linear" && type != "llama3" && type != "yarn") {
    fail("rope type '" + type + "' is not supported (supported: default, linear, llama3, yarn)");
  }
  scaling.type = type;
  if (!present(rope, "factor")) fail("rope scaling '" + type + "' needs a 'factor'");
  scaling.factor = static_cast<float>(get_number_or(rope, "factor", 1.0));
  if (type == "llama3") {
    scaling.low_freq_factor = static_cast<float>(get_number_or(rope, "low_freq_factor", 1.0));
    scaling.high_freq_factor = static_cast<float>(get_number_or(rope, "high_freq_factor", 4.0));
    scaling.original_max_position_embeddings =
        get_int(rope, "original_max_position_embeddings");
  }
  if (type == "yarn") read_yarn(config, rope, scaling);
  return scaling;
}

void read_rope(const json& config, ModelConfig& out) {
  double theta = get_number_or(config, "rope_theta", 10000.0);
  json scaling = present(config, "rope_scaling") ? config["rope_scaling"] : json();
  if (present(config, "rope_parameters")) {
    const json& parameters = config["rope_parameters"];
    if (!parameters.is_object()) fail("rope_parameters must be an object");
    for (const auto& [key, value] : parameters.items()) {
      if (value.is_object()) fail("per-layer-type rope_parameters ('" + key + "') are not supported");
    }
    theta = get_number_or(parameters, "rope_theta", theta);
    scaling = parameters;
  }
  out.rope_theta = static_cast<float>(theta);
  if (present(config, "partial_rotary_factor") && get_number_or(config, "partial_rotary_factor", 1.0) != 1.0) {
    fail("partial_rotary_factor " + config["partial_rotary_factor"].dump() + " is not supported (only 1)");
  }
  out.rope_scaling = parse_rope_scaling(config, scaling);
}

void add_eos_ids(const json& object, std::vector<int64_t>& ids) {
  if (!present(object, "eos_token_id")) return;
  const json& value = object["eos_token_id"];
  std::vector<int64_t> found;
  if (value.is_number_integer()) {
    found.push_back(value.get<int64_t>());
  } else if (value.is_array()) {
    for (const json& id : value) {
      if (!id.is_number_integer()) fail("eos_token_id list must hold integers");
      found.push_back(id.get<int64_t>());
    }
  } else {
    fail("eos_token_id must be an integer or a list of integers");
  }
  for (int64_t id : found) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
}

void reject_unsupported_features(const json& config, const std::string& architecture) {
  if (present(config, "hidden_act") && config["hidden_act"] != "silu") {
    fail("hidden_act '" + config["hidden_act"].dump() + "' is not supported (only silu)");
  }
  if (get_bool_or(config, "mlp_bias", false)) fail("mlp_bias is not supported");
  if ((architecture == "qwen2" || architecture == "qwen3") && get_bool_or(config, "use_sliding_window", false)) {
    fail("use_sliding_window is not supported");
  }
}

// Mistral and Phi-3: `sliding_window` (null or absent: none) windows every
// layer, as transformers' sliding-window causal mask does.
int64_t read_sliding_window(const json& config, const std::string& hf_name) {
  if (hf_name != "mistral" && hf_name != "phi3") return 0;
  const int64_t window = get_int_or(config, "sliding_window", 0);
  if (window < 0) fail("sliding_window must not be negative");
  return window;
}

}  // namespace

ModelConfig model_config_from_hf_json(const std::string& config_json,
                                      const std::string& generation_config_json) {
  const json config = parse_object(config_json, "config.json");
  ModelConfig out;
  const std::string hf_name = architecture_of(config);
  out.architecture = hf_name == "mistral" ? "llama" : hf_name;
  reject_unsupported_features(config, out.architecture);
  out.sliding_window = read_sliding_window(config, hf_name);
  out.qk_norm = out.architecture == "qwen3";
  out.vocab_size = get_int(config, "vocab_size");
  out.hidden_size = get_int(config, "hidden_size");
  out.intermediate_size = get_int(config, "intermediate_size");
  out.num_layers = get_int(config, "num_hidden_layers");
  out.num_heads = get_int(config, "num_attention_heads");
  out.num_kv_heads = get_int_or(config, "num_key_value_heads", out.num_heads);
  if (present(config, "head_dim")) {
    out.head_dim = get_int(config, "head_dim");
  } else {
    if (out.num_heads <= 0 || out.hidden_size % out.num_heads != 0) {
      fail("num_attention_heads (" + std::to_string(out.num_heads) +
           ") does not divide hidden_size (" + std::to_string(out.hidden_size) + ")");
    }
    out.head_dim = out.hidden_size / out.num_heads;
  }
  out.max_position_embeddings = get_int_or(config, "max_position_embeddings", 2048);
  out.rms_norm_eps = static_cast<float>(get_number_or(config, "rms_norm_eps", 1e-6));
  read_rope(config, out);
  out.tie_word_embeddings = get_bool_or(config, "tie_word_embeddings", false);
  out.attention_bias = out.architecture == "qwen2" || get_bool_or(config, "attention_bias", false);
  out.bos_token_id = get_int_or(config, "bos_token_id", -1);
  add_eos_ids(config, out.eos_token_ids);
  if (!generation_config_json.empty()) {
    const json generation = parse_object(generation_config_json, "generation_config.json");
    add_eos_ids(generation, out.eos_token_ids);
  }
  try {
    out.validate();
  } catch (const ModelLoadError& error) {
    fail(error.what());
  }
  return out;
}

double float_to_short_double(float value) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits, static_cast<double>(value));
    if (std::strtof(text, nullptr) == value) break;
  }
  return std::strtod(text, nullptr);
}

std::string hf_config_json(const ModelConfig& config) {
  if (config.architecture != "llama" && config.architecture != "qwen2") {
    throw InvalidArgument("exporting a " + config.architecture +
                          " model as a Hugging Face folder is not supported (llama and qwen2 only)");
  }
  if (config.sliding_window > 0 || config.rope_scaling.type == "yarn") {
    throw InvalidArgument("exporting a model with a sliding window or yarn rope scaling as a Hugging Face "
                          "folder is not supported");
  }
  const bool is_qwen2 = config.architecture == "qwen2";
  json out;
  out["architectures"] = {is_qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  out["model_type"] = is_qwen2 ? "qwen2" : "llama";
  out["vocab_size"] = config.vocab_size;
  out["hidden_size"] = config.hidden_size;
  out["intermediate_size"] = config.intermediate_size;
  out["num_hidden_layers"] = config.num_layers;
  out["num_attention_heads"] = config.num_heads;
  out["num_key_value_heads"] = config.num_kv_heads;
  out["head_dim"] = config.head_dim;
  out["max_position_embeddings"] = config.max_position_embeddings;
  out["rms_norm_eps"] = float_to_short_double(config.rms_norm_eps);
  out["rope_theta"] = float_to_short_double(config.rope_theta);
  const RopeScaling& scaling = config.rope_scaling;
  if (scaling.type == "none") {
    out["rope_scaling"] = nullptr;
  } else {
    json rope = {{"rope_type", scaling.type}, {"factor", float_to_short_double(scaling.factor)}};
    if (scaling.type == "llama3") {
      rope["low_freq_factor"] = float_to_short_double(scaling.low_freq_factor);
      rope["high_freq_factor"] = float_to_short_double(scaling.high_freq_factor);
      rope["original_max_position_embeddings"] = scaling.original_max_position_embeddings;
    }
    out["rope_scaling"] = rope;
  }
  out["tie_word_embeddings"] = config.tie_word_embeddings;
  out["hidden_act"] = "silu";
  if (is_qwen2) {
    out["use_sliding_window"] = false;
  } else {
    out["attention_bias"] = config.attention_bias;
    out["mlp_bias"] = false;
  }
  if (config.bos_token_id >= 0) out["bos_token_id"] = config.bos_token_id;
  if (config.eos_token_ids.size() == 1) {
    out["eos_token_id"] = config.eos_token_ids[0];
  } else if (!config.eos_token_ids.empty()) {
    out["eos_token_id"] = config.eos_token_ids;
  }
  out["torch_dtype"] = "float32";
  out["use_cache"] = true;
  return out.dump(2) + "\n";
}

std::string hf_generation_config_json(const ModelConfig& config) {
  // NOTE: an object even without ids: a null `json` dumps as "null", which no
  // reader accepts (found by fuzz/hf_config_fuzzer's round trip).
  json out = json::object();
  if (config.bos_token_id >= 0) out["bos_token_id"] = config.bos_token_id;
  if (config.eos_token_ids.size() == 1) {
    out["eos_token_id"] = config.eos_token_ids[0];
  } else if (!config.eos_token_ids.empty()) {
    out["eos_token_id"] = config.eos_token_ids;
  }
  return out.dump(2) + "\n";
}

}  // namespace kvs
