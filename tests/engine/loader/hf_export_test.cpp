#include "engine/loader/hf_export.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/loader/dequantize.h"
#include "engine/loader/loaded_model.h"
#include "tests/common/test_paths.h"
#include "tests/engine/loader/loader_test_util.h"
#include "tests/engine/loader/tiny_models.h"

namespace kvs {
namespace {

using namespace test;
namespace fs = std::filesystem;

// Exports `original`, loads the folder back and checks: equal config, the
// same tensor names and shapes, every tensor F32 with exactly the bytes of
// the original's dequantized values.
std::shared_ptr<const LoadedModel> export_and_check(const LoadedModel& original, const TempDir& dir) {
  export_hf_folder(original, dir.path());
  auto exported = load_model(dir.path());
  EXPECT_EQ(exported->config, original.config);
  EXPECT_EQ(exported->tensors.size(), original.tensors.size());
  for (const auto& [name, tensor] : original.tensors) {
    const WeightTensor* copy = exported->find(name);
    if (copy == nullptr) {
      ADD_FAILURE() << "exported model lacks " << name;
      continue;
    }
    EXPECT_EQ(copy->dtype, DType::F32) << name;
    EXPECT_EQ(copy->shape, tensor.shape) << name;
    const std::vector<float> expected = dequantize_tensor(tensor);
    if (copy->num_bytes != expected.size() * sizeof(float)) {
      ADD_FAILURE() << name << ": " << copy->num_bytes << " bytes exported";
      continue;
    }
    EXPECT_EQ(std::memcmp(copy->data, expected.data(), copy->num_bytes), 0) << name;
  }
  EXPECT_EQ(exported->chat_template, original.chat_template);
  return exported;
}

TEST(HfExport, RealModelRoundTripsBitExactly) {
  auto original = load_model(default_model());
  TempDir dir("export-real");
  auto exported = export_and_check(*original, dir);
  EXPECT_TRUE(fs::exists(dir.file("tokenizer.json")));
  EXPECT_EQ(exported->tokenizer.tokens, original->tokenizer.tokens);
  EXPECT_EQ(exported->tokenizer.merges, original->tokenizer.merges);
  EXPECT_EQ(exported->tokenizer.bos_id, original->tokenizer.bos_id);
  EXPECT_EQ(exported->tokenizer.eos_id, original->tokenizer.eos_id);
  EXPECT_EQ(exported->tokenizer.add_bos, original->tokenizer.add_bos);

  const auto config = nlohmann::json::parse(read_file(dir.file("config.json")));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["rope_theta"], 100000.0);
  EXPECT_EQ(config["rms_norm_eps"], 1e-5);
  EXPECT_EQ(config["num_key_value_heads"], 3);
  const auto tokenizer_config = nlohmann::json::parse(read_file(dir.file("tokenizer_config.json")));
  EXPECT_EQ(tokenizer_config["chat_template"], original->chat_template);
  EXPECT_EQ(tokenizer_config["eos_token"], "<|im_end|>");
  EXPECT_EQ(tokenizer_config["bos_token"], "<|im_start|>");
  EXPECT_EQ(tokenizer_config["add_bos_token"], false);
  const auto generation = nlohmann::json::parse(read_file(dir.file("generation_config.json")));
  EXPECT_EQ(generation["eos_token_id"], 2);
}

TEST(HfExport, TinyGgufWithEveryTypeRoundTrips) {
  TempDir source("export-tiny-src");
  tiny_gguf_model("llama", TinyDims{}, 21, /*tied=*/false).write(source.file("tiny.gguf"));
  auto original = load_model(source.file("tiny.gguf"));
  TempDir dir("export-tiny");
  export_and_check(*original, dir);
  EXPECT_FALSE(fs::exists(dir.file("tokenizer.json")));  // the tiny model has no tokenizer
}

TEST(HfExport, FixturesRoundTrip) {
  for (const std::string name : {"tiny-qwen2", "tiny-llama3-scaled-bf16", "tiny-llama"}) {
    auto original = load_model(fixtures_dir() + "/models/" + name);
    TempDir dir("export-fixture");
    export_and_check(*original, dir);
    const auto config = nlohmann::json::parse(read_file(dir.file("config.json")));
    if (name == "tiny-qwen2") {
      EXPECT_EQ(config["architectures"][0], "Qwen2ForCausalLM");
    }
    if (name == "tiny-llama3-scaled-bf16") {
      EXPECT_EQ(config["rope_scaling"]["rope_type"], "llama3");
      EXPECT_EQ(config["rope_scaling"]["original_max_position_embeddings"], 64);
    }
  }
}

}  // namespace
}  // namespace kvs
