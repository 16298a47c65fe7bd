#pragma once
// Hugging Face config.json / generation_config.json <-> ModelConfig.
#include <string>

#include "engine/loader/model_config.h"

namespace kvs {

// Parses config.json text (LlamaForCausalLM, MistralForCausalLM -> "llama"
// with its sliding_window on every layer, Qwen2ForCausalLM, Qwen3ForCausalLM,
// Phi3ForCausalLM) and, when not empty, generation_config.json text. Returns a
// validated config.
// RoPE settings are read from transformers-5 `rope_parameters` or the older
// top-level `rope_theta` / `rope_scaling`. head_dim defaults to
// hidden_size / num_attention_heads (which must divide). eos ids: the union of
// config.json's and generation_config.json's `eos_token_id` (int or list).
// Throws ModelLoadError("config.json: ...") on malformed JSON, a missing
// required field, an unsupported architecture or feature (Qwen's
// use_sliding_window, mlp_bias, a rope type other than
// default/linear/llama3/yarn (longrope and su included), a
// partial_rotary_factor other than 1, yarn with truncate false, a non-silu
// activation) or an inconsistent config. yarn: transformers' defaults
// (original context from the rope dict, else max_position_embeddings; betas
// 32 / 1; attention factor given, from mscale / mscale_all_dim, else derived).
ModelConfig model_config_from_hf_json(const std::string& config_json,
                                      const std::string& generation_config_json);

// config.json text for `config` (LlamaForCausalLM / Qwen2ForCausalLM, float32
// weights, rope_theta / rope_scaling at top level) that
// model_config_from_hf_json reads back as an equal config. Throws
// InvalidArgument for other architectures, a sliding window or yarn scaling.
std::string hf_config_json(const ModelConfig& config);
// generation_config.json text carrying bos/eos ids.
std::string hf_generation_config_json(const ModelConfig& config);

// The shortest decimal that reads back as exactly `value` (1e-05f -> 1e-05),
// as a double for JSON writers.
double float_to_short_double(float value);

}  // namespace kvs
