#include "engine/loader/gguf_model.h"

#include <cctype>
#include <map>

#include "engine/errors.h"
#include "engine/loader/gguf_config.h"
#include "engine/loader/fused_tensors.h"
#include "engine/loader/gguf_file.h"
#include "engine/loader/gguf_tokenizer.h"
#include "engine/loader/model_storage.h"
#include "engine/loader/model_tensors.h"
#include "engine/loader/rope_permutation.h"

namespace kvs {
namespace {

const std::map<std::string, std::string>& layer_tensor_names() {
  static const std::map<std::string, std::string> kNames = {
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"attn_norm.weight", "input_layernorm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
  };
  return kNames;
}

// Gemma 3 has four norms per layer; its GGUF "ffn_norm" is the pre-MLP norm
// (HF pre_feedforward_layernorm), not Llama's post_attention_layernorm.
const std::map<std::string, std::string>& gemma3_layer_tensor_names() {
  static const std::map<std::string, std::string> kNames = {
      {"post_attention_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
      {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
  };
  return kNames;
}

// Qwen 3's per-head q/k norms (Gemma 3's have the same GGUF names).
const std::map<std::string, std::string>& qwen3_layer_tensor_names() {
  static const std::map<std::string, std::string> kNames = {
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
  };
  return kNames;
}

// Phi-3's fused projections (split by split_fused_tensors): attn_qkv is
// [q; k; v], ffn_up holds [gate; up] (there is no ffn_gate).
const std::map<std::string, std::string>& phi3_layer_tensor_names() {
  static const std::map<std::string, std::string> kNames = {
      {"attn_qkv.weight", "self_attn.qkv_proj.weight"},
      {"ffn_up.weight", "mlp.gate_up_proj.weight"},
  };
  return kNames;
}

// Un-permutes every llama Q/K projection (weights; biases never occur: llama
// with attention_bias is rejected by the config).
void unpermute_llama_qk(LoadedModel& model, ModelStorage& storage) {
  const ModelConfig& c = model.config;
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".self_attn.";
    for (const auto& [proj, num_heads] :
         {std::pair<const char*, int64_t>{"q_proj.weight", c.num_heads},
          std::pair<const char*, int64_t>{"k_proj.weight", c.num_kv_heads}}) {
      WeightTensor& tensor = model.tensors.at(prefix + proj);
      std::vector<uint8_t> rows(tensor.num_bytes);
      unpermute_rope_rows(tensor.data, rows.data(), tensor.rows(),
                          dtype_row_bytes(tensor.dtype, tensor.cols()), num_heads);
      tensor.data = storage.keep(std::move(rows));
    }
  }
}

WeightTensor to_weight_tensor(const GgufFile& file, const GgufTensorInfo& info, const std::string& architecture) {
  WeightTensor tensor;
  tensor.name = hf_tensor_name_from_gguf(info.name, architecture);
  if (tensor.name.empty()) {
    throw ModelLoadError(file.path() + ": unexpected tensor " + info.name + " (not part of a " + architecture +
                         " model)");
  }
  try {
    tensor.dtype = GgufFile::to_dtype(info.ggml_type, info.name);
  } catch (const ModelLoadError& error) {
    throw ModelLoadError(file.path() + ": " + error.what());
  }
  tensor.shape.assign(info.ne.rbegin(), info.ne.rend());
  tensor.data = file.tensor_data(info);
  tensor.num_bytes = info.num_bytes;
  return tensor;
}

}  // namespace

std::string hf_tensor_name_from_gguf(const std::string& gguf_name, const std::string& architecture) {
  if (gguf_name == "token_embd.weight") return "model.embed_tokens.weight";
  if (gguf_name == "output_norm.weight") return "model.norm.weight";
  if (gguf_name == "output.weight") return "lm_head.weight";
  const std::string prefix = "blk.";
  if (gguf_name.compare(0, prefix.size(), prefix) != 0) return "";
  size_t end = prefix.size();
  while (end < gguf_name.size() && std::isdigit(static_cast<unsigned char>(gguf_name[end]))) ++end;
  if (end == prefix.size() || end > prefix.size() + 6 || end >= gguf_name.size() ||
      gguf_name[end] != '.') {
    return "";
  }
  const std::string layer = gguf_name.substr(prefix.size(), end - prefix.size());
  if (layer.size() > 1 && layer[0] == '0') return "";
  const std::string suffix = gguf_name.substr(end + 1);
  const std::map<std::string, std::string>* specific = architecture == "gemma3" ? &gemma3_layer_tensor_names()
                                                       : architecture == "qwen3"  ? &qwen3_layer_tensor_names()
                                                       : architecture == "phi3"   ? &phi3_layer_tensor_names()
                                                                                  : nullptr;
  if (specific != nullptr) {
    auto found = specific->find(suffix);
    if (found != specific->end()) return "model.layers." + layer + "." + found->second;
  }
  auto it = layer_tensor_names().find(suffix);
  if (it == layer_tensor_names().end()) return "";
  return "model.layers." + layer + "." + it->second;
}

std::shared_ptr<const LoadedModel> load_gguf_model(const std::string& path) {
  auto file = GgufFile::open(path);
  auto storage = std::make_shared<ModelStorage>();
  storage->files.push_back(file);
  auto model = std::make_shared<LoadedModel>();
  model->source_path = path;
  model->from_gguf = true;
  model->config = model_config_from_gguf(*file);
  for (const GgufTensorInfo& info : file->tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // folded into config.rope_scaling
    WeightTensor tensor = to_weight_tensor(*file, info, model->config.architecture);
    std::string name = tensor.name;
    model->tensors.emplace(std::move(name), std::move(tensor));
  }
  split_fused_tensors(*model);
  check_model_tensors(*model);
  if (model->config.architecture == "llama") unpermute_llama_qk(*model, *storage);
  if (file->has("tokenizer.ggml.tokens")) model->tokenizer = tokenizer_spec_from_gguf(*file);
  model->chat_template = file->get_string_or("tokenizer.chat_template", "");
  model->storage = storage;
  return model;
}

}  // namespace kvs
