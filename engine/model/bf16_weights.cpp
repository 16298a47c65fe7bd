#include "engine/model/bf16_weights.h"

#include <string>
#include <utility>

#include "engine/model/linear_weight.h"
#include "kernels/cpu/half.h"

namespace kvs {
namespace {

std::string layer_name(int64_t index, const std::string& suffix) {
  return "model.layers." + std::to_string(index) + "." + suffix;
}

std::vector<uint16_t> to_bf16(const float* data, size_t count) {
  std::vector<uint16_t> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = kernels::fp32_to_bf16(data[i]);
  return out;
}

std::vector<uint16_t> to_bf16(const LinearWeight& weight) {
  return to_bf16(weight.f32_data(), static_cast<size_t>(weight.num_out * weight.num_in));
}

// The named tensors' rows concatenated, as float (dequantized).
LinearWeight float_rows(const LoadedModel& model, std::initializer_list<std::string> names) {
  std::vector<const WeightTensor*> parts;
  for (const std::string& name : names) parts.push_back(&model.tensor(name));
  return LinearWeight::from_tensors(parts, /*dequantize=*/true);
}

}  // namespace

std::vector<uint16_t> pack_bf16_vector(const WeightTensor& tensor) {
  const std::vector<float> values = tensor_to_floats(tensor);
  return to_bf16(values.data(), values.size());
}

Bf16LayerWeights pack_bf16_layer(const LoadedModel& model, const ShardPlan& plan, int64_t index) {
  const ModelConfig& c = model.config;
  const int64_t d = c.head_dim, F = c.intermediate_size;
  const bool sharded = plan.num_ranks > 1;
  Bf16LayerWeights out;
  out.input_norm = pack_bf16_vector(model.tensor(layer_name(index, "input_layernorm.weight")));
  out.post_attention_norm = pack_bf16_vector(model.tensor(layer_name(index, "post_attention_layernorm.weight")));

  // This rank's q heads, then its KV heads of k and of v (the CPU model's qkv_rows).
  const int64_t k_offset = c.num_heads * d, v_offset = k_offset + c.num_kv_heads * d;
  const std::vector<std::pair<int64_t, int64_t>> qkv_rows = {
      {plan.heads.begin * d, plan.heads.end * d},
      {k_offset + plan.kv_heads.begin * d, k_offset + plan.kv_heads.end * d},
      {v_offset + plan.kv_heads.begin * d, v_offset + plan.kv_heads.end * d}};
  LinearWeight qkv = float_rows(model, {layer_name(index, "self_attn.q_proj.weight"),
                                        layer_name(index, "self_attn.k_proj.weight"),
                                        layer_name(index, "self_attn.v_proj.weight")});
  if (sharded) qkv = qkv.select_rows(qkv_rows);
  out.qkv = to_bf16(qkv);
  if (c.attention_bias) {
    std::vector<float> bias;
    for (const char* name : {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"}) {
      const std::vector<float> part = tensor_to_floats(model.tensor(layer_name(index, name)));
      bias.insert(bias.end(), part.begin(), part.end());
    }
    std::vector<float> mine;
    for (const auto& [begin, end] : qkv_rows) mine.insert(mine.end(), bias.begin() + begin, bias.begin() + end);
    out.qkv_bias = to_bf16(mine.data(), mine.size());
  }

  LinearWeight o = float_rows(model, {layer_name(index, "self_attn.o_proj.weight")});
  if (sharded) o = o.select_columns(plan.heads.begin * d, plan.heads.end * d);
  out.o = to_bf16(o);

  LinearWeight gate_up = float_rows(model, {layer_name(index, "mlp.gate_proj.weight"), layer_name(index, "mlp.up_proj.weight")});
  if (sharded) {
    gate_up = gate_up.select_rows({{plan.intermediate.begin, plan.intermediate.end},
                                   {F + plan.intermediate.begin, F + plan.intermediate.end}});
  }
  out.gate_up = to_bf16(gate_up);

  LinearWeight down = float_rows(model, {layer_name(index, "mlp.down_proj.weight")});
  if (sharded) down = down.select_columns(plan.intermediate.begin, plan.intermediate.end);
  out.down = to_bf16(down);
  return out;
}

namespace {

std::vector<uint16_t> vocab_rows(const LoadedModel& model, const std::string& name, const ShardPlan& plan) {
  LinearWeight weight = float_rows(model, {name});
  if (plan.num_ranks > 1) weight = weight.select_rows({{plan.vocab.begin, plan.vocab.end}});
  return to_bf16(weight);
}

}  // namespace

std::vector<uint16_t> pack_bf16_embedding(const LoadedModel& model, const ShardPlan& plan) {
  return vocab_rows(model, "model.embed_tokens.weight", plan);
}

std::vector<uint16_t> pack_bf16_lm_head(const LoadedModel& model, const ShardPlan& plan) {
  return vocab_rows(model, model.config.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight", plan);
}

}  // namespace kvs
