// The same weights through both loaders: the default GGUF and its exported
// Hugging Face folder give identical logits; a random tiny Llama written in HF
// layout by this test loads and runs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "engine/loader/hf_export.h"
#include "engine/loader/loaded_model.h"
#include "engine/loader/safetensors.h"
#include "engine/model/generate.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

TEST(ExportRoundTripTest, GgufAndExportedFolderGiveIdenticalLogits) {
  const auto gguf = load_model(test::default_model());
  const std::string folder = test::make_temp_dir("export");
  export_hf_folder(*gguf, folder);
  const auto exported = load_model(folder);
  // Both computed in float32 from the same (dequantized) weights.
  ModelOptions options;
  options.dequantize_weights = true;
  LlamaModel from_gguf(gguf, options), from_folder(exported, options);
  const auto tokenizer_gguf = Tokenizer::create(gguf->tokenizer);
  const auto tokenizer_folder = Tokenizer::create(exported->tokenizer);
  const std::string text = "The quick brown fox jumps over the lazy dog. Ünïcödé, emoji 🦊 and code: x += 1;";
  const std::vector<int32_t> ids = tokenizer_gguf->encode(text, true, false);
  EXPECT_EQ(ids, tokenizer_folder->encode(text, true, false));
  EXPECT_EQ(gguf->chat_template, exported->chat_template);
  const std::vector<float> a = prompt_logits(from_gguf, ids, 16, kernels::KvDType::F32);
  const std::vector<float> b = prompt_logits(from_folder, ids, 16, kernels::KvDType::F32);
  ASSERT_EQ(a.size(), b.size());
  size_t different = 0;
  for (size_t i = 0; i < a.size(); ++i) different += a[i] != b[i];
  EXPECT_EQ(different, 0u) << "of " << a.size() << " logits";
  std::filesystem::remove_all(folder);
}

// Writes config.json + model.safetensors of a random-weight Llama.
void write_random_llama(const std::string& dir) {
  const int64_t vocab = 96, hidden = 64, ffn = 128, layers = 2, heads = 4, kv_heads = 2;
  std::ofstream(dir + "/config.json") << R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "vocab_size": 96, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
    "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "tie_word_embeddings": false,
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu"})";
  std::vector<SafetensorsWriter::Entry> entries = {{"model.embed_tokens.weight", "F32", {vocab, hidden}},
                                                   {"model.norm.weight", "F32", {hidden}},
                                                   {"lm_head.weight", "F32", {vocab, hidden}}};
  const int64_t head_dim = hidden / heads;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    entries.push_back({p + "input_layernorm.weight", "F32", {hidden}});
    entries.push_back({p + "post_attention_layernorm.weight", "F32", {hidden}});
    entries.push_back({p + "self_attn.q_proj.weight", "F32", {heads * head_dim, hidden}});
    entries.push_back({p + "self_attn.k_proj.weight", "F32", {kv_heads * head_dim, hidden}});
    entries.push_back({p + "self_attn.v_proj.weight", "F32", {kv_heads * head_dim, hidden}});
    entries.push_back({p + "self_attn.o_proj.weight", "F32", {hidden, heads * head_dim}});
    entries.push_back({p + "mlp.gate_proj.weight", "F32", {ffn, hidden}});
    entries.push_back({p + "mlp.up_proj.weight", "F32", {ffn, hidden}});
    entries.push_back({p + "mlp.down_proj.weight", "F32", {hidden, ffn}});
  }
  std::mt19937 rng(2026);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  SafetensorsWriter writer(dir + "/model.safetensors", entries);
  for (const auto& entry : entries) {
    int64_t n = 1;
    for (int64_t d : entry.shape) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    const bool norm = entry.shape.size() == 1;
    for (float& v : values) v = norm ? 1.0f + normal(rng) : normal(rng);
    writer.append(values.data(), values.size() * sizeof(float));
  }
  writer.finish();
}

TEST(RandomHfModelTest, TinyLlamaWrittenByTheTestLoadsAndGenerates) {
  const std::string dir = test::make_temp_dir("tiny-llama");
  write_random_llama(dir);
  const auto loaded = load_model(dir);
  EXPECT_EQ(loaded->config.num_layers, 2);
  EXPECT_EQ(loaded->config.head_dim, 16);
  LlamaModel model(loaded, ModelOptions{});
  const std::vector<float> logits = prompt_logits(model, {1, 5, 9, 33, 70});
  ASSERT_EQ(logits.size(), 5u * 96u);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  GenerateOptions options;
  options.max_tokens = 12;
  const GenerateResult first = generate(model, {1, 5, 9}, options);
  ASSERT_EQ(first.tokens.size(), 12u);
  for (int32_t t : first.tokens) EXPECT_TRUE(t >= 0 && t < 96);
  // Greedy is deterministic, and the continuation agrees with teacher-forced logits.
  EXPECT_EQ(generate(model, {1, 5, 9}, options).tokens, first.tokens);
  std::vector<int32_t> forced = {1, 5, 9};
  forced.insert(forced.end(), first.tokens.begin(), first.tokens.end() - 1);
  const std::vector<float> all = prompt_logits(model, forced);
  for (size_t step = 0; step < first.tokens.size(); ++step) {
    const float* row = all.data() + (2 + step) * 96;
    EXPECT_EQ(std::max_element(row, row + 96) - row, first.tokens[step]) << step;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kvs
