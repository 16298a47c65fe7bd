#include "engine/loader/gguf_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "engine/loader/dequantize.h"
#include "engine/loader/gguf_file.h"
#include "engine/loader/loaded_model.h"
#include "tests/common/test_paths.h"
#include "tests/engine/loader/loader_test_util.h"
#include "tests/engine/loader/tiny_models.h"

namespace kvs {
namespace {

using namespace test;

TEST(GgufModel, RealModelConfig) {
  auto model = load_model(default_model());
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 100000.0f);
  EXPECT_EQ(c.rope_scaling.type, "none");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(model->source_path, default_model());
  EXPECT_TRUE(contains(model->chat_template, "<|im_start|>"));
  EXPECT_EQ(model->tokenizer.tokens.size(), 49152u);
}

TEST(GgufModel, RealModelTensors) {
  auto model = load_model(default_model());
  EXPECT_EQ(model->tensors.size(), 1u + 30u * 9u + 1u);  // embed, 9 per layer, final norm
  EXPECT_EQ(model->find("lm_head.weight"), nullptr);
  const WeightTensor& embed = model->tensor("model.embed_tokens.weight");
  EXPECT_EQ(embed.dtype, DType::Q8_0);
  EXPECT_EQ(embed.shape, (std::vector<int64_t>{49152, 576}));
  EXPECT_EQ(embed.num_bytes, 49152u * 18u * 34u);
  const WeightTensor& q = model->tensor("model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(q.dtype, DType::Q4_1);
  EXPECT_EQ(q.shape, (std::vector<int64_t>{576, 576}));
  EXPECT_EQ(model->tensor("model.layers.7.self_attn.k_proj.weight").shape,
            (std::vector<int64_t>{192, 576}));
  EXPECT_EQ(model->tensor("model.layers.7.self_attn.v_proj.weight").shape,
            (std::vector<int64_t>{192, 576}));
  EXPECT_EQ(model->tensor("model.layers.29.self_attn.o_proj.weight").shape,
            (std::vector<int64_t>{576, 576}));
  EXPECT_EQ(model->tensor("model.layers.3.mlp.gate_proj.weight").shape,
            (std::vector<int64_t>{1536, 576}));
  EXPECT_EQ(model->tensor("model.layers.3.mlp.up_proj.weight").shape,
            (std::vector<int64_t>{1536, 576}));
  const WeightTensor& down = model->tensor("model.layers.3.mlp.down_proj.weight");
  EXPECT_EQ(down.shape, (std::vector<int64_t>{576, 1536}));
  EXPECT_EQ(down.dtype, DType::Q4_1);
  const WeightTensor& norm = model->tensor("model.layers.3.input_layernorm.weight");
  EXPECT_EQ(norm.dtype, DType::F32);
  EXPECT_EQ(norm.shape, (std::vector<int64_t>{576}));
  EXPECT_EQ(model->tensor("model.layers.3.post_attention_layernorm.weight").dtype, DType::F32);
  EXPECT_EQ(model->tensor("model.norm.weight").shape, (std::vector<int64_t>{576}));
  EXPECT_TRUE(contains(model_load_error([&] { model->tensor("lm_head.weight"); }),
                       "missing tensor lm_head.weight"));
}

// Q/K rows are un-permuted into HF order; every other tensor is the file's bytes.
TEST(GgufModel, RealModelQkRowsAreInHfOrder) {
  auto model = load_model(default_model());
  auto file = GgufFile::open(default_model());
  for (const auto& [gguf_name, hf_name, heads] :
       {std::tuple<std::string, std::string, int64_t>{"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", 9},
        {"blk.12.attn_k.weight", "model.layers.12.self_attn.k_proj.weight", 3}}) {
    const GgufTensorInfo* info = file->find_tensor(gguf_name);
    ASSERT_NE(info, nullptr);
    const WeightTensor& tensor = model->tensor(hf_name);
    const uint8_t* raw = file->tensor_data(*info);
    const size_t row_bytes = 18 * 20;  // 576 Q4_1 elements
    const int64_t head_dim = 64;
    ASSERT_EQ(tensor.num_bytes, info->num_bytes);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < head_dim / 2; ++i) {
        for (int64_t j = 0; j < 2; ++j) {
          const int64_t hf_row = h * head_dim + j * head_dim / 2 + i;
          const int64_t gguf_row = h * head_dim + 2 * i + j;
          ASSERT_EQ(std::memcmp(tensor.data + hf_row * row_bytes, raw + gguf_row * row_bytes, row_bytes), 0)
              << hf_name << " row " << hf_row;
        }
      }
    }
  }
  // v_proj stays in the map: same distance from the embeddings as in the file.
  const WeightTensor& v = model->tensor("model.layers.0.self_attn.v_proj.weight");
  const WeightTensor& embed = model->tensor("model.embed_tokens.weight");
  EXPECT_EQ(v.data - embed.data, file->tensor_data(*file->find_tensor("blk.0.attn_v.weight")) -
                                     file->tensor_data(*file->find_tensor("token_embd.weight")));
}

TEST(GgufModel, TinyLlamaWithEveryType) {
  TempDir dir("gguf-tiny");
  const std::string path = dir.file("tiny.gguf");
  tiny_gguf_model("llama", TinyDims{}, 1, /*tied=*/false).write(path);
  auto model = load_model(path);
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.vocab_size, 64);  // from llama.vocab_size
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_TRUE(model->tokenizer.tokens.empty());
  EXPECT_EQ(model->tensors.size(), 1u + 2u * 9u + 2u);
  EXPECT_EQ(model->tensor("lm_head.weight").dtype, DType::F16);
  EXPECT_EQ(model->tensor("model.layers.1.self_attn.v_proj.weight").dtype, DType::BF16);
  EXPECT_EQ(model->tensor("model.layers.1.self_attn.k_proj.weight").dtype, DType::Q4_0);
  EXPECT_EQ(model->tensor("model.layers.1.self_attn.k_proj.weight").shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(model->tensor("model.layers.1.mlp.up_proj.weight").dtype, DType::Q8_0);
  EXPECT_EQ(model->tensor("model.layers.1.mlp.down_proj.weight").shape, (std::vector<int64_t>{64, 96}));
  for (const auto& [name, tensor] : model->tensors) {
    EXPECT_EQ(dequantize_tensor(tensor).size(), static_cast<size_t>(tensor.num_elements())) << name;
  }
}

TEST(GgufModel, TinyQwen2HasBiasesAndNoPermutation) {
  TempDir dir("gguf-qwen2");
  const std::string path = dir.file("qwen2.gguf");
  tiny_gguf_model("qwen2", TinyDims{}, 2, /*tied=*/true).write(path);
  auto model = load_model(path);
  auto file = GgufFile::open(path);
  EXPECT_EQ(model->config.architecture, "qwen2");
  EXPECT_TRUE(model->config.attention_bias);
  EXPECT_TRUE(model->config.tie_word_embeddings);
  EXPECT_EQ(model->tensor("model.layers.0.self_attn.q_proj.bias").shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(model->tensor("model.layers.0.self_attn.k_proj.bias").shape, (std::vector<int64_t>{32}));
  const WeightTensor& q = model->tensor("model.layers.1.self_attn.q_proj.weight");
  const GgufTensorInfo* info = file->find_tensor("blk.1.attn_q.weight");
  EXPECT_EQ(std::memcmp(q.data, file->tensor_data(*info), q.num_bytes), 0);
}

TEST(GgufModel, TensorNameMapping) {
  EXPECT_EQ(hf_tensor_name_from_gguf("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(hf_tensor_name_from_gguf("output.weight"), "lm_head.weight");
  EXPECT_EQ(hf_tensor_name_from_gguf("output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(hf_tensor_name_from_gguf("blk.12.attn_output.weight"), "model.layers.12.self_attn.o_proj.weight");
  EXPECT_EQ(hf_tensor_name_from_gguf("blk.0.ffn_norm.weight"), "model.layers.0.post_attention_layernorm.weight");
  EXPECT_EQ(hf_tensor_name_from_gguf("blk.3.attn_k.bias"), "model.layers.3.self_attn.k_proj.bias");
  EXPECT_EQ(hf_tensor_name_from_gguf("blk.x.attn_q.weight"), "");
  EXPECT_EQ(hf_tensor_name_from_gguf("blk.01.attn_q.weight"), "");
  EXPECT_EQ(hf_tensor_name_from_gguf("blk.1.attn_qkv.weight"), "");
  EXPECT_EQ(hf_tensor_name_from_gguf("rope_freqs.weight"), "");
}

// Writes a tiny llama changed by `edit` and returns load_model's error.
template <typename Edit>
std::string tiny_error(Edit edit) {
  TempDir dir("gguf-bad-model");
  GgufWriter w = tiny_gguf_model("llama", TinyDims{}, 3, false);
  edit(w);
  w.write(dir.file("bad.gguf"));
  return load_error(dir.file("bad.gguf"));
}

TEST(GgufModel, TensorErrors) {
  EXPECT_TRUE(contains(tiny_error([](GgufWriter& w) { w.remove_tensor("blk.1.ffn_up.weight"); }),
                       "missing tensor model.layers.1.mlp.up_proj.weight"));
  EXPECT_TRUE(contains(tiny_error([](GgufWriter& w) {
                         w.remove_tensor("blk.0.attn_norm.weight");
                         w.add_tensor("blk.0.attn_norm.weight", kF32, {32}, std::string(128, '\0'));
                       }),
                       "tensor model.layers.0.input_layernorm.weight has shape [32], expected [64]"));
  EXPECT_TRUE(contains(tiny_error([](GgufWriter& w) {
                         w.add_tensor("blk.0.ffn_extra.weight", kF32, {4}, std::string(16, '\0'));
                       }),
                       "unexpected tensor blk.0.ffn_extra.weight"));
  EXPECT_TRUE(contains(tiny_error([](GgufWriter& w) {
                         w.add_tensor("blk.0.attn_q.bias", kF32, {64}, std::string(256, '\0'));
                       }),
                       "unexpected tensor model.layers.0.self_attn.q_proj.bias"));
}

TEST(GgufModel, UnsupportedTensorType) {
  std::mt19937 rng(5);
  const std::string error = tiny_error([&](GgufWriter& w) {
    w.remove_tensor("blk.0.ffn_down.weight");
    w.add_tensor("blk.0.ffn_down.weight", kIQ4_XS, {256, 64}, random_tensor_bytes(rng, kIQ4_XS, 256 * 64));
  });
  EXPECT_TRUE(contains(error, "bad.gguf: tensor blk.0.ffn_down.weight has type IQ4_XS, which kvserve "
                              "does not support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, "
                              "Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)"));
}

// A tiny llama whose metadata is built by `add` (tensors from the default
// tiny model) -- for config errors.
std::string config_error(const std::vector<std::pair<std::string, int64_t>>& u32_keys,
                         const std::string& arch = "llama") {
  TempDir dir("gguf-config");
  GgufWriter w;
  w.add_string("general.architecture", arch);
  for (const auto& [key, value] : u32_keys) w.add_u32(key, static_cast<uint32_t>(value));
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.write(dir.file("config.gguf"));
  return load_error(dir.file("config.gguf"));
}

TEST(GgufModel, ConfigErrors) {
  const std::vector<std::pair<std::string, int64_t>> base = {
      {"llama.context_length", 128},   {"llama.embedding_length", 64},
      {"llama.feed_forward_length", 96}, {"llama.block_count", 1},
      {"llama.attention.head_count", 4}, {"llama.attention.head_count_kv", 2},
      {"llama.vocab_size", 32}};
  auto with = [&](const std::string& key, int64_t value) {
    auto keys = base;
    for (auto& kv : keys) if (kv.first == key) kv.second = value;
    return keys;
  };
  auto without = [&](const std::string& key) {
    auto keys = base;
    keys.erase(std::remove_if(keys.begin(), keys.end(), [&](const auto& kv) { return kv.first == key; }),
               keys.end());
    return keys;
  };
  // The base config itself is fine: the first problem is the missing tensors.
  EXPECT_TRUE(contains(config_error(base), "missing tensor model.embed_tokens.weight"));
  EXPECT_TRUE(contains(config_error(with("llama.attention.head_count", 5)),
                       "llama.attention.head_count (5) does not divide embedding_length (64)"));
  EXPECT_TRUE(contains(config_error(with("llama.attention.head_count_kv", 3)),
                       "num_kv_heads (3) does not divide num_heads (4)"));
  EXPECT_TRUE(contains(config_error(without("llama.embedding_length")),
                       "missing metadata 'llama.embedding_length'"));
  EXPECT_TRUE(contains(config_error(without("llama.vocab_size")), "vocabulary"));
  EXPECT_TRUE(contains(config_error(with("llama.block_count", 0)), "num_layers must be positive"));
  EXPECT_TRUE(contains(config_error(base, "gpt2"), "architecture 'gpt2' is not supported"));
  auto partial_rotary = base;
  partial_rotary.push_back({"llama.rope.dimension_count", 8});
  EXPECT_TRUE(contains(config_error(partial_rotary), "partial rotary"));
}

TEST(GgufModel, LoadModelRejectsOtherPaths) {
  TempDir dir("load-model");
  EXPECT_TRUE(contains(load_error(dir.file("nothing-here")), "cannot access model path"));
  write_bytes(dir.file("notes.txt"), "hello");
  EXPECT_TRUE(contains(load_error(dir.file("notes.txt")), "not a model: expected a .gguf file or a Hugging Face folder"));
  EXPECT_TRUE(contains(load_error(dir.path()), "no config.json"));
  write_bytes(dir.file("empty.gguf"), "");
  EXPECT_TRUE(contains(load_error(dir.file("empty.gguf")), "truncated file: magic"));
}

}  // namespace
}  // namespace kvs
