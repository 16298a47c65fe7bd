// The CUDA engine's host-side weight packing (engine/model/bf16_weights.h):
// fused QKV / gate_up row order, biases, tensor-parallel slices, tied heads,
// GGUF dequantization and bf16 rounding, all checked on the CPU against the
// loaded tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/loader/loaded_model.h"
#include "engine/model/bf16_weights.h"
#include "engine/model/linear_weight.h"
#include "kernels/cpu/half.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::shared_ptr<const LoadedModel> fixture(const std::string& name) {
  return load_model(test::fixtures_dir() + "/models/" + name);
}

// Rows [begin, end) of a tensor as bf16 (dequantized first).
std::vector<uint16_t> bf16_rows(const LoadedModel& model, const std::string& name, int64_t begin, int64_t end) {
  const LinearWeight weight = LinearWeight::from_tensors({&model.tensor(name)}, /*dequantize=*/true);
  const float* data = weight.f32_data();
  std::vector<uint16_t> out;
  for (int64_t i = begin * weight.num_in; i < end * weight.num_in; ++i) out.push_back(kernels::fp32_to_bf16(data[i]));
  return out;
}

std::vector<uint16_t> slice(const std::vector<uint16_t>& v, int64_t begin, int64_t count) {
  return std::vector<uint16_t>(v.begin() + begin, v.begin() + begin + count);
}

TEST(Bf16WeightsTest, QkvIsQThenKThenVInHuggingFaceOrderWithBias) {
  const auto model = fixture("tiny-qwen2");
  const ModelConfig& c = model->config;
  const Bf16LayerWeights layer = pack_bf16_layer(*model, plan_shard(c, 0, 1), 1);
  const int64_t H = c.hidden_size, d = c.head_dim, q = c.num_heads * d, kv = c.num_kv_heads * d;
  ASSERT_EQ(static_cast<int64_t>(layer.qkv.size()), (q + 2 * kv) * H);
  EXPECT_EQ(slice(layer.qkv, 0, q * H), bf16_rows(*model, "model.layers.1.self_attn.q_proj.weight", 0, q));
  EXPECT_EQ(slice(layer.qkv, q * H, kv * H), bf16_rows(*model, "model.layers.1.self_attn.k_proj.weight", 0, kv));
  EXPECT_EQ(slice(layer.qkv, (q + kv) * H, kv * H), bf16_rows(*model, "model.layers.1.self_attn.v_proj.weight", 0, kv));
  ASSERT_EQ(static_cast<int64_t>(layer.qkv_bias.size()), q + 2 * kv);
  const std::vector<float> k_bias = tensor_to_floats(model->tensor("model.layers.1.self_attn.k_proj.bias"));
  for (int64_t i = 0; i < kv; ++i) EXPECT_EQ(layer.qkv_bias[q + i], kernels::fp32_to_bf16(k_bias[i]));
  const int64_t F = c.intermediate_size;
  EXPECT_EQ(slice(layer.gate_up, 0, F * H), bf16_rows(*model, "model.layers.1.mlp.gate_proj.weight", 0, F));
  EXPECT_EQ(slice(layer.gate_up, F * H, F * H), bf16_rows(*model, "model.layers.1.mlp.up_proj.weight", 0, F));
  EXPECT_EQ(layer.down, bf16_rows(*model, "model.layers.1.mlp.down_proj.weight", 0, H));
  EXPECT_EQ(layer.o, bf16_rows(*model, "model.layers.1.self_attn.o_proj.weight", 0, H));
}

TEST(Bf16WeightsTest, LlamaHasNoBiasAndAnUntiedHead) {
  const auto model = fixture("tiny-llama");
  const ShardPlan plan = plan_shard(model->config, 0, 1);
  EXPECT_TRUE(pack_bf16_layer(*model, plan, 0).qkv_bias.empty());
  EXPECT_EQ(pack_bf16_lm_head(*model, plan), bf16_rows(*model, "lm_head.weight", 0, model->config.vocab_size));
  EXPECT_NE(pack_bf16_lm_head(*model, plan), pack_bf16_embedding(*model, plan));
}

TEST(Bf16WeightsTest, TiedHeadIsTheEmbedding) {
  const auto model = fixture("tiny-qwen2");
  ASSERT_TRUE(model->config.tie_word_embeddings);
  const ShardPlan plan = plan_shard(model->config, 0, 1);
  EXPECT_EQ(pack_bf16_lm_head(*model, plan), pack_bf16_embedding(*model, plan));
}

TEST(Bf16WeightsTest, Bf16SafetensorsPassThroughBitForBit) {
  const auto model = fixture("tiny-llama-bf16");
  const WeightTensor& q = model->tensor("model.layers.0.self_attn.q_proj.weight");
  ASSERT_EQ(q.dtype, DType::BF16);
  const Bf16LayerWeights layer = pack_bf16_layer(*model, plan_shard(model->config, 0, 1), 0);
  const auto* raw = reinterpret_cast<const uint16_t*>(q.data);
  for (int64_t i = 0; i < q.num_elements(); ++i) ASSERT_EQ(layer.qkv[i], raw[i]) << i;
}

TEST(Bf16WeightsTest, TensorParallelSlicesMatchTheCpuModelsSplit) {
  const auto model = fixture("tiny-qwen2");  // 6 heads / 2 KV heads, bias
  const ModelConfig& c = model->config;
  const Bf16LayerWeights whole = pack_bf16_layer(*model, plan_shard(c, 0, 1), 0);
  const int64_t H = c.hidden_size, d = c.head_dim, q = c.num_heads * d, kv = c.num_kv_heads * d;
  for (int rank = 0; rank < 2; ++rank) {
    const ShardPlan plan = plan_shard(c, rank, 2);
    const Bf16LayerWeights mine = pack_bf16_layer(*model, plan, 0);
    const int64_t hq = plan.heads.size() * d, hkv = plan.kv_heads.size() * d;
    ASSERT_EQ(static_cast<int64_t>(mine.qkv.size()), (hq + 2 * hkv) * H);
    EXPECT_EQ(slice(mine.qkv, 0, hq * H), slice(whole.qkv, plan.heads.begin * d * H, hq * H));
    EXPECT_EQ(slice(mine.qkv, hq * H, hkv * H), slice(whole.qkv, (q + plan.kv_heads.begin * d) * H, hkv * H));
    EXPECT_EQ(slice(mine.qkv, (hq + hkv) * H, hkv * H), slice(whole.qkv, (q + kv + plan.kv_heads.begin * d) * H, hkv * H));
    EXPECT_EQ(slice(mine.qkv_bias, hq, hkv), slice(whole.qkv_bias, q + plan.kv_heads.begin * d, hkv));
    // o_proj: this rank's columns of every row.
    for (int64_t row = 0; row < H; ++row) {
      EXPECT_EQ(slice(mine.o, row * hq, hq), slice(whole.o, row * q + plan.heads.begin * d, hq));
    }
    const ShardPlan vocab = plan;
    EXPECT_EQ(static_cast<int64_t>(pack_bf16_embedding(*model, vocab).size()), vocab.vocab.size() * H);
  }
}

TEST(Bf16WeightsTest, GgufQuantizedWeightsAreDequantizedThenRounded) {
  const auto model = load_model(test::default_model());
  const ModelConfig& c = model->config;
  const WeightTensor& q = model->tensor("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q.dtype, DType::F32);  // quantized in the file
  const Bf16LayerWeights layer = pack_bf16_layer(*model, plan_shard(c, 0, 1), 0);
  const LinearWeight dequantized = LinearWeight::from_tensors({&q}, /*dequantize=*/true);
  const float* f = dequantized.f32_data();
  int64_t differ = 0;
  for (int64_t i = 0; i < q.num_elements(); ++i) {
    const float back = kernels::bf16_to_fp32(layer.qkv[i]);
    // Round to nearest: within half a bf16 step (8 bits of mantissa) of the float.
    ASSERT_LE(std::fabs(back - f[i]), std::ldexp(std::fabs(f[i]), -8) + 1e-30f) << i;
    differ += back != f[i];
  }
  EXPECT_GT(differ, 0);  // Q4_1 values need more than bf16's 8 bits
}

}  // namespace
}  // namespace kvs
