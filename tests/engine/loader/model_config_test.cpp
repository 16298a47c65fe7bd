#include "engine/loader/model_config.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/errors.h"
#include "engine/loader/hf_config.h"
#include "tests/engine/loader/loader_test_util.h"

namespace kvs {
namespace {

using test::contains;

ModelConfig valid_config() {
  ModelConfig c;
  c.architecture = "llama";
  c.vocab_size = 100;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

// validate() on a config changed by `edit`: the error message, "" if it passed.
template <typename Edit>
std::string validation_error(Edit edit) {
  ModelConfig c = valid_config();
  edit(c);
  try {
    c.validate();
  } catch (const ModelLoadError& error) {
    return error.what();
  }
  return "";
}

// model_config_from_hf_json's error message, "" if it parsed.
std::string hf_error(const std::string& config, const std::string& generation = "") {
  try {
    model_config_from_hf_json(config, generation);
  } catch (const ModelLoadError& error) {
    return error.what();
  }
  return "";
}

TEST(ModelConfig, ValidConfigPasses) {
  EXPECT_NO_THROW(valid_config().validate());
  // An explicit head_dim may differ from hidden / heads.
  EXPECT_EQ(validation_error([](ModelConfig& c) { c.head_dim = 32; }), "");
}

TEST(ModelConfig, RejectsInconsistentFields) {
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.num_kv_heads = 3; }), "num_kv_heads (3) does not divide num_heads (4)"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.hidden_size = 0; }), "hidden_size must be positive"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.vocab_size = -5; }), "vocab_size must be positive"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.num_layers = 0; }), "num_layers must be positive"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.intermediate_size = 0; }), "intermediate_size"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.num_heads = 0; }), "num_heads"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.head_dim = 15; }), "head_dim must be even"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.rms_norm_eps = 0.0f; }), "rms_norm_eps"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.rope_theta = -1.0f; }), "rope_theta"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.max_position_embeddings = 0; }), "max_position_embeddings"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.architecture = "gpt2"; }), "architecture 'gpt2' is not supported"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.eos_token_ids = {100}; }), "eos_token_id 100 is outside the vocabulary"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.bos_token_id = -2; }), "bos_token_id"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.attention_bias = true; }), "llama with attention_bias is not supported"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.architecture = "qwen2"; }), "qwen2 requires attention_bias"));
}

TEST(ModelConfig, RejectsBadRopeScaling) {
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) { c.rope_scaling.type = "dynamic"; }), "rope_scaling type 'dynamic' is not supported"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) {
                c.rope_scaling.type = "yarn";
                c.rope_scaling.factor = 4.0f;
              }), "original_max_position_embeddings"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) {
                c.rope_scaling.type = "linear";
                c.rope_scaling.factor = 0.0f;
              }), "rope_scaling.factor"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) {
                c.rope_scaling.type = "llama3";
                c.rope_scaling.factor = 8.0f;
                c.rope_scaling.original_max_position_embeddings = 0;
              }), "original_max_position_embeddings"));
  EXPECT_TRUE(contains(validation_error([](ModelConfig& c) {
                c.rope_scaling = {"llama3", 8.0f, 4.0f, 1.0f, 8192};
              }), "high_freq_factor"));
  EXPECT_EQ(validation_error([](ModelConfig& c) { c.rope_scaling = {"llama3", 8.0f, 1.0f, 4.0f, 8192}; }),
            "");
}

TEST(ModelConfig, Equality) {
  ModelConfig a = valid_config();
  ModelConfig b = valid_config();
  EXPECT_EQ(a, b);
  b.rope_scaling.factor = 2.0f;
  EXPECT_NE(a, b);
  b = a;
  b.eos_token_ids.push_back(3);
  EXPECT_NE(a, b);
}

const char* kLlamaConfig = R"({
  "architectures": ["LlamaForCausalLM"], "vocab_size": 100, "hidden_size": 64,
  "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "max_position_embeddings": 512, "rms_norm_eps": 1e-05,
  "rope_theta": 500000.0, "bos_token_id": 1, "eos_token_id": [2, 3],
  "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
  "tie_word_embeddings": true, "hidden_act": "silu"})";

TEST(HfConfig, ParsesTopLevelRopeSettings) {
  const ModelConfig c = model_config_from_hf_json(kLlamaConfig, R"({"eos_token_id": [3, 4]})");
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 3, 4}));  // union, config first
}

TEST(HfConfig, ParsesRopeParametersAndDefaults) {
  const ModelConfig c = model_config_from_hf_json(R"({
    "architectures": ["Qwen2ForCausalLM"], "vocab_size": 100, "hidden_size": 96,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 6,
    "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
    "eos_token_id": 7, "head_dim": null})",
                                                  "");
  EXPECT_EQ(c.architecture, "qwen2");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_EQ(c.num_kv_heads, 6);  // defaults to num_attention_heads
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_theta, 1e6f);
  EXPECT_EQ(c.rope_scaling.type, "none");
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{7}));
  // linear scaling through rope_parameters, and an explicit head_dim
  const ModelConfig linear = model_config_from_hf_json(R"({
    "model_type": "llama", "vocab_size": 100, "hidden_size": 64, "head_dim": 32,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "rope_parameters": {"rope_theta": 10000.0, "rope_type": "linear", "factor": 2.0}})",
                                                       "");
  EXPECT_EQ(linear.head_dim, 32);
  EXPECT_EQ(linear.rope_scaling.type, "linear");
  EXPECT_EQ(linear.rope_scaling.factor, 2.0f);
}

TEST(HfConfig, ReportsErrors) {
  EXPECT_TRUE(contains(hf_error("{not json"), "config.json: not a valid JSON object"));
  EXPECT_TRUE(contains(hf_error("[1, 2]"), "not a valid JSON object"));
  EXPECT_TRUE(contains(hf_error(R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 10})"), "missing required field 'hidden_size'"));
  EXPECT_TRUE(contains(hf_error(R"({"architectures": ["GPT2LMHeadModel"]})"), "architecture 'GPT2LMHeadModel' is not supported"));
  std::string text = kLlamaConfig;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string copy = text;
    copy.replace(copy.find(from), from.size(), to);
    return copy;
  };
  EXPECT_TRUE(contains(hf_error(replaced("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3")), "num_kv_heads (3) does not divide num_heads (4)"));
  EXPECT_TRUE(contains(hf_error(replaced("\"num_attention_heads\": 4", "\"num_attention_heads\": 5")), "num_attention_heads (5) does not divide hidden_size (64)"));
  EXPECT_TRUE(contains(hf_error(replaced("\"hidden_size\": 64", "\"hidden_size\": \"64\"")), "'hidden_size' must be an integer"));
  EXPECT_TRUE(contains(hf_error(replaced("\"llama3\"", "\"longrope\"")), "rope type 'longrope' is not supported"));
  EXPECT_TRUE(contains(hf_error(replaced("\"silu\"", "\"gelu\"")), "hidden_act"));
  EXPECT_TRUE(contains(hf_error(replaced("[2, 3]", "\"2\"")), "eos_token_id must be"));
  EXPECT_TRUE(contains(hf_error(replaced("[2, 3]", "[2, 300]")), "outside the vocabulary"));
  EXPECT_TRUE(contains(hf_error(kLlamaConfig, "{oops"), "generation_config.json"));
  EXPECT_TRUE(contains(hf_error(replaced("\"rope_theta\": 500000.0,",
                                         "\"rope_parameters\": {\"full_attention\": {\"rope_theta\": 1.0}},")),
                       "per-layer-type rope_parameters ('full_attention') are not supported"));
}

TEST(HfConfig, WritesConfigThatReadsBackEqual) {
  ModelConfig c = model_config_from_hf_json(kLlamaConfig, "");
  c.rms_norm_eps = 1e-5f;
  const std::string text = hf_config_json(c);
  EXPECT_NE(text.find("\"rms_norm_eps\": 1e-05"), std::string::npos) << text;
  EXPECT_NE(text.find("\"LlamaForCausalLM\""), std::string::npos);
  EXPECT_EQ(model_config_from_hf_json(text, hf_generation_config_json(c)), c);

  ModelConfig qwen = valid_config();
  qwen.architecture = "qwen2";
  qwen.attention_bias = true;
  qwen.tie_word_embeddings = true;
  qwen.rope_theta = 1e6f;
  qwen.rope_scaling = {"linear", 4.0f, 1.0f, 4.0f, 0};
  qwen.eos_token_ids = {2, 5};
  EXPECT_EQ(model_config_from_hf_json(hf_config_json(qwen), ""), qwen);
}

// Found by fuzz/hf_config_fuzzer (issue 11): a config without bos and eos ids
// was written as the generation_config.json "null", which does not read back.
TEST(HfConfig, FuzzRegressionGenerationConfigWithoutIdsReadsBack) {
  ModelConfig c = valid_config();
  c.bos_token_id = -1;
  c.eos_token_ids.clear();
  const std::string generation = hf_generation_config_json(c);
  EXPECT_EQ(generation, "{}\n");
  EXPECT_EQ(model_config_from_hf_json(hf_config_json(c), generation), c);
}

TEST(HfConfig, ShortestFloatDecimal) {
  EXPECT_EQ(float_to_short_double(1e-5f), 1e-5);
  EXPECT_EQ(float_to_short_double(1e-6f), 1e-6);
  EXPECT_EQ(float_to_short_double(100000.0f), 100000.0);
  EXPECT_EQ(static_cast<float>(float_to_short_double(0.1f)), 0.1f);
  EXPECT_EQ(static_cast<float>(float_to_short_double(3.14159274f)), 3.14159274f);
}

}  // namespace
}  // namespace kvs
