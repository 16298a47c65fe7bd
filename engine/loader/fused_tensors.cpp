#include "engine/loader/fused_tensors.h"

#include <string>
#include <utility>
#include <vector>

#include "engine/errors.h"
#include "engine/loader/model_tensors.h"

namespace kvs {
namespace {

// Moves `fused` out of the model and puts back one view per (name, rows) part.
void split_rows(LoadedModel& model, const std::string& fused_name,
                const std::vector<std::pair<std::string, int64_t>>& parts, int64_t cols) {
  auto it = model.tensors.find(fused_name);
  if (it == model.tensors.end()) throw ModelLoadError(model.source_path + ": missing tensor " + fused_name);
  const WeightTensor fused = it->second;
  int64_t total_rows = 0;
  for (const auto& part : parts) total_rows += part.second;
  if (fused.shape != std::vector<int64_t>{total_rows, cols}) {
    throw ModelLoadError(model.source_path + ": tensor " + fused_name + " has shape " + shape_to_string(fused.shape) +
                         ", expected " + shape_to_string({total_rows, cols}));
  }
  const size_t row_bytes = fused.num_bytes / static_cast<size_t>(total_rows);
  if (row_bytes * static_cast<size_t>(total_rows) != fused.num_bytes) {
    throw ModelLoadError(model.source_path + ": tensor " + fused_name + " has " + std::to_string(fused.num_bytes) +
                         " bytes, not a whole number of rows");
  }
  model.tensors.erase(it);
  int64_t row = 0;
  for (const auto& [name, rows] : parts) {
    WeightTensor view = fused;
    view.name = name;
    view.shape = {rows, cols};
    view.data = fused.data + static_cast<size_t>(row) * row_bytes;
    view.num_bytes = static_cast<size_t>(rows) * row_bytes;
    row += rows;
    if (!model.tensors.emplace(name, std::move(view)).second) {
      throw ModelLoadError(model.source_path + ": both " + fused_name + " and " + name + " are present");
    }
  }
}

}  // namespace

void split_fused_tensors(LoadedModel& model) {
  const ModelConfig& c = model.config;
  if (c.architecture != "phi3") return;
  const int64_t q_rows = c.num_heads * c.head_dim, kv_rows = c.num_kv_heads * c.head_dim;
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    split_rows(model, layer + "self_attn.qkv_proj.weight",
               {{layer + "self_attn.q_proj.weight", q_rows},
                {layer + "self_attn.k_proj.weight", kv_rows},
                {layer + "self_attn.v_proj.weight", kv_rows}},
               c.hidden_size);
    split_rows(model, layer + "mlp.gate_up_proj.weight",
               {{layer + "mlp.gate_proj.weight", c.intermediate_size}, {layer + "mlp.up_proj.weight", c.intermediate_size}},
               c.hidden_size);
  }
}

}  // namespace kvs
