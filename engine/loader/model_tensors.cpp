#include "engine/loader/model_tensors.h"

#include <set>

#include "engine/errors.h"

namespace kvs {

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  const int64_t q_rows = c.num_heads * c.head_dim;
  const int64_t kv_rows = c.num_kv_heads * c.head_dim;
  std::vector<ExpectedTensor> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    out.push_back({layer + "input_layernorm.weight", {c.hidden_size}});
    out.push_back({layer + "self_attn.q_proj.weight", {q_rows, c.hidden_size}});
    out.push_back({layer + "self_attn.k_proj.weight", {kv_rows, c.hidden_size}});
    out.push_back({layer + "self_attn.v_proj.weight", {kv_rows, c.hidden_size}});
    if (c.attention_bias) {
      out.push_back({layer + "self_attn.q_proj.bias", {q_rows}});
      out.push_back({layer + "self_attn.k_proj.bias", {kv_rows}});
      out.push_back({layer + "self_attn.v_proj.bias", {kv_rows}});
    }
    out.push_back({layer + "self_attn.o_proj.weight", {c.hidden_size, q_rows}});
    out.push_back({layer + "post_attention_layernorm.weight", {c.hidden_size}});
    if (c.qk_norm) {
      out.push_back({layer + "self_attn.q_norm.weight", {c.head_dim}});
      out.push_back({layer + "self_attn.k_norm.weight", {c.head_dim}});
    }
    if (c.sandwich_norms) {  // Gemma: post_attention_layernorm is the attention output's norm
      out.push_back({layer + "pre_feedforward_layernorm.weight", {c.hidden_size}});
      out.push_back({layer + "post_feedforward_layernorm.weight", {c.hidden_size}});
    }
    out.push_back({layer + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({layer + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({layer + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}});
  }
  out.push_back({"model.norm.weight", {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return out;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

void check_model_tensors(const LoadedModel& model) {
  const std::string& source = model.source_path;
  std::set<std::string> expected_names;
  for (const ExpectedTensor& expected : expected_tensors(model.config)) {
    expected_names.insert(expected.name);
    const WeightTensor* tensor = model.find(expected.name);
    if (tensor == nullptr) throw ModelLoadError(source + ": missing tensor " + expected.name);
    if (tensor->shape != expected.shape) {
      throw ModelLoadError(source + ": tensor " + expected.name + " has shape " +
                           shape_to_string(tensor->shape) + ", expected " +
                           shape_to_string(expected.shape));
    }
    if (tensor->cols() % dtype_block_elements(tensor->dtype) != 0 ||
        dtype_row_bytes(tensor->dtype, tensor->cols()) * static_cast<size_t>(tensor->rows()) !=
            tensor->num_bytes) {
      throw ModelLoadError(source + ": tensor " + expected.name + " has " +
                           std::to_string(tensor->num_bytes) + " bytes, which does not match " +
                           "its shape " + shape_to_string(tensor->shape) + " and type " +
                           dtype_name(tensor->dtype));
    }
  }
  for (const auto& [name, tensor] : model.tensors) {
    if (expected_names.count(name) == 0) {
      throw ModelLoadError(source + ": unexpected tensor " + name + " (not part of a " +
                           model.config.architecture + " model with this config)");
    }
  }
}

}  // namespace kvs
