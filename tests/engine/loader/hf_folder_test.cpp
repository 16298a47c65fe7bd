#include "engine/loader/hf_folder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/loader/dequantize.h"
#include "engine/loader/loaded_model.h"
#include "tests/common/test_paths.h"
#include "tests/engine/loader/loader_test_util.h"
#include "tests/engine/loader/safetensors_test_writer.h"

namespace kvs {
namespace {

using namespace test;
namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return fixtures_dir() + "/models/" + name; }

TEST(HfFolder, FixtureTinyLlama) {
  auto model = load_model(fixture("tiny-llama"));
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 176);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rope_scaling.type, "none");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(model->tensors.size(), 1u + 3u * 9u + 1u + 1u);
  const WeightTensor& lm_head = model->tensor("lm_head.weight");
  EXPECT_EQ(lm_head.dtype, DType::F32);
  EXPECT_EQ(lm_head.shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(model->tensor("model.layers.2.self_attn.k_proj.weight").shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(model->tensor("model.layers.2.mlp.down_proj.weight").shape, (std::vector<int64_t>{64, 176}));
  EXPECT_TRUE(model->tokenizer.tokens.empty());  // the fixture ships no tokenizer.json
  EXPECT_TRUE(model->chat_template.empty());
}

TEST(HfFolder, FixtureLlama3ScaledReadsRopeParameters) {
  auto model = load_model(fixture("tiny-llama3-scaled"));
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.hidden_size, 128);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.vocab_size, 640);
  EXPECT_EQ(c.max_position_embeddings, 1024);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_EQ(c.rope_scaling.low_freq_factor, 1.0f);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(model->find("lm_head.weight"), nullptr);
  EXPECT_EQ(model->tensors.size(), 1u + 2u * 9u + 1u);
  EXPECT_EQ(model->tensor("model.layers.1.self_attn.q_proj.weight").shape, (std::vector<int64_t>{128, 128}));
}

TEST(HfFolder, FixtureQwen2HasBiases) {
  auto model = load_model(fixture("tiny-qwen2"));
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.architecture, "qwen2");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.head_dim, 16);  // 96 / 6, no head_dim key
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.rope_theta, 1e6f);
  EXPECT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_EQ(model->tensors.size(), 1u + 2u * 12u + 1u);
  EXPECT_EQ(model->tensor("model.layers.0.self_attn.q_proj.bias").shape, (std::vector<int64_t>{96}));
  EXPECT_EQ(model->tensor("model.layers.1.self_attn.v_proj.bias").shape, (std::vector<int64_t>{32}));
}

// The -bf16 copies hold the float32 weights rounded to bfloat16.
TEST(HfFolder, Bf16FixturesMatchFloat32) {
  for (const std::string name : {"tiny-llama", "tiny-llama3-scaled", "tiny-qwen2"}) {
    auto f32 = load_model(fixture(name));
    auto bf16 = load_model(fixture(name + "-bf16"));
    EXPECT_EQ(bf16->config, f32->config) << name;
    ASSERT_EQ(bf16->tensors.size(), f32->tensors.size()) << name;
    for (const auto& [tensor_name, tensor] : bf16->tensors) {
      EXPECT_EQ(tensor.dtype, DType::BF16) << tensor_name;
      const WeightTensor& reference = f32->tensor(tensor_name);
      ASSERT_EQ(tensor.shape, reference.shape) << tensor_name;
      const std::vector<float> a = dequantize_tensor(tensor);
      const std::vector<float> b = dequantize_tensor(reference);
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_LE(std::fabs(a[i] - b[i]), std::ldexp(std::fabs(b[i]), -8)) << tensor_name << "[" << i << "]";
      }
    }
  }
}

// ---- a random-weight tiny Llama written by the test -------------------------

struct TinyHf {
  std::map<std::string, std::vector<float>> values;  // expected float values per tensor
  std::vector<StTensor> tensors;
};

uint16_t to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return static_cast<uint16_t>(bits >> 16);  // truncation: exactly representable back
}

// hidden 32, 2 heads of 16 / 1 KV head, ffn 48, 2 layers, vocab 40, untied.
// Norms F32, projections BF16, MLP F16 (values chosen exactly representable).
TinyHf make_tiny_hf_llama(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(-64, 64);
  TinyHf out;
  auto add = [&](const std::string& name, const std::string& dtype, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    std::string bytes;
    for (float& v : values) {
      v = static_cast<float>(small(rng)) / 32.0f;  // exact in F16 and BF16
      if (dtype == "F32") {
        bytes.append(reinterpret_cast<const char*>(&v), 4);
      } else if (dtype == "BF16") {
        const uint16_t h = to_bf16(v);
        bytes.append(reinterpret_cast<const char*>(&h), 2);
      } else {  // F16 of k/32, |k| <= 64: exponent/mantissa by hand via the float bits
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        uint16_t h = static_cast<uint16_t>((bits >> 16) & 0x8000);
        if (v != 0.0f) {
          const int exponent = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
          h = static_cast<uint16_t>(h | (exponent << 10) | ((bits >> 13) & 0x3FF));
        }
        bytes.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    out.values[name] = values;
    out.tensors.push_back({name, dtype, shape, bytes});
  };
  add("model.embed_tokens.weight", "F32", {40, 32});
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", "F32", {32});
    add(p + "self_attn.q_proj.weight", "BF16", {32, 32});
    add(p + "self_attn.k_proj.weight", "BF16", {16, 32});
    add(p + "self_attn.v_proj.weight", "BF16", {16, 32});
    add(p + "self_attn.o_proj.weight", "BF16", {32, 32});
    add(p + "post_attention_layernorm.weight", "F32", {32});
    add(p + "mlp.gate_proj.weight", "F16", {48, 32});
    add(p + "mlp.up_proj.weight", "F16", {48, 32});
    add(p + "mlp.down_proj.weight", "F16", {32, 48});
  }
  add("model.norm.weight", "F32", {32});
  add("lm_head.weight", "F32", {40, 32});
  return out;
}

const char* kTinyConfig = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 40,
  "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
  "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 128,
  "rms_norm_eps": 1e-06, "rope_theta": 250000.0,
  "rope_scaling": {"type": "linear", "factor": 2.0},
  "bos_token_id": 0, "eos_token_id": [1, 2], "tie_word_embeddings": false,
  "hidden_act": "silu", "torch_dtype": "bfloat16"})";

void expect_values(const LoadedModel& model, const TinyHf& tiny) {
  ASSERT_EQ(model.tensors.size(), tiny.values.size());
  for (const auto& [name, values] : tiny.values) {
    const WeightTensor& tensor = model.tensor(name);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor.data) % dtype_block_bytes(tensor.dtype), 0u) << name;
    EXPECT_EQ(dequantize_tensor(tensor), values) << name;
  }
}

TEST(HfFolder, RandomTinyLlamaWrittenByTest) {
  TempDir dir("hf-tiny");
  const TinyHf tiny = make_tiny_hf_llama(11);
  write_file(dir.file("config.json"), kTinyConfig);
  write_file(dir.file("generation_config.json"), R"({"eos_token_id": [2, 3]})");
  write_file(dir.file("model.safetensors"), safetensors_bytes(tiny.tensors, /*header_pad=*/1));  // misaligned data
  auto model = load_model(dir.path());
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.num_heads, 2);
  EXPECT_EQ(c.num_kv_heads, 1);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_theta, 250000.0f);
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_EQ(c.rope_scaling.factor, 2.0f);
  EXPECT_EQ(c.bos_token_id, 0);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(model->tensor("model.layers.0.self_attn.q_proj.weight").dtype, DType::BF16);
  EXPECT_EQ(model->tensor("model.layers.0.mlp.up_proj.weight").dtype, DType::F16);
  expect_values(*model, tiny);
}

TEST(HfFolder, ShardedWithIndexAndWithout) {
  const TinyHf tiny = make_tiny_hf_llama(12);
  const size_t half = tiny.tensors.size() / 2;
  const std::vector<StTensor> first(tiny.tensors.begin(), tiny.tensors.begin() + half);
  const std::vector<StTensor> second(tiny.tensors.begin() + half, tiny.tensors.end());
  {
    TempDir dir("hf-index");
    write_file(dir.file("config.json"), kTinyConfig);
    write_file(dir.file("model-00001-of-00002.safetensors"), safetensors_bytes(first));
    write_file(dir.file("model-00002-of-00002.safetensors"), safetensors_bytes(second));
    nlohmann::json index;
    for (const auto& t : first) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
    for (const auto& t : second) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
    write_file(dir.file("model.safetensors.index.json"), index.dump());
    expect_values(*load_model(dir.path()), tiny);

    // An index naming a tensor its shard lacks.
    index["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors";
    write_file(dir.file("model.safetensors.index.json"), index.dump());
    EXPECT_TRUE(contains(load_error(dir.path()),
                         "model-00001-of-00002.safetensors: missing tensor model.layers.9.mlp.up_proj.weight "
                         "(listed in model.safetensors.index.json)"));
    // An index naming a shard that does not exist.
    index["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00003-of-00002.safetensors";
    write_file(dir.file("model.safetensors.index.json"), index.dump());
    EXPECT_TRUE(contains(load_error(dir.path()), "model-00003-of-00002.safetensors: cannot open"));
    write_file(dir.file("model.safetensors.index.json"), "{\"weight_map\": 3}");
    EXPECT_TRUE(contains(load_error(dir.path()), "model.safetensors.index.json: not a JSON object with a weight_map"));
  }
  {
    TempDir dir("hf-glob");
    write_file(dir.file("config.json"), kTinyConfig);
    write_file(dir.file("a.safetensors"), safetensors_bytes(first));
    write_file(dir.file("b.safetensors"), safetensors_bytes(second));
    expect_values(*load_model(dir.path()), tiny);
    write_file(dir.file("c.safetensors"), safetensors_bytes({tiny.tensors[0]}));
    EXPECT_TRUE(contains(load_error(dir.path()), "appears in more than one weight file"));
  }
}

// ---- errors -------------------------------------------------------------------

// A folder with the tiny model, `tensors` (default: all) and `config`.
class BadFolder {
 public:
  BadFolder() : dir_("hf-bad") {}
  std::string load(const std::string& config, const std::vector<StTensor>& tensors) {
    write_file(dir_.file("config.json"), config);
    write_file(dir_.file("model.safetensors"), safetensors_bytes(tensors));
    return load_error(dir_.path());
  }
  std::string load_raw(const std::string& safetensors) {
    write_file(dir_.file("config.json"), kTinyConfig);
    write_file(dir_.file("model.safetensors"), safetensors);
    return load_error(dir_.path());
  }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
};

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(HfFolder, ConfigErrors) {
  const TinyHf tiny = make_tiny_hf_llama(13);
  BadFolder folder;
  EXPECT_EQ(folder.load(kTinyConfig, tiny.tensors), "<no error>");
  const std::string config_path = folder.dir().file("config.json");
  std::string error = folder.load("{\"vocab_size\": 40,", tiny.tensors);
  EXPECT_TRUE(contains(error, config_path + ": not a valid JSON object")) << error;
  EXPECT_TRUE(contains(folder.load(replaced(kTinyConfig, "\"hidden_size\": 32,", ""), tiny.tensors),
                       config_path + ": missing required field 'hidden_size'"));
  EXPECT_TRUE(contains(folder.load(replaced(kTinyConfig, "\"num_attention_heads\": 2", "\"num_attention_heads\": 3"), tiny.tensors),
                       "num_attention_heads (3) does not divide hidden_size (32)"));
  EXPECT_TRUE(contains(folder.load(replaced(replaced(kTinyConfig, "\"num_attention_heads\": 2", "\"num_attention_heads\": 4"),
                                            "\"num_key_value_heads\": 1", "\"num_key_value_heads\": 3"),
                                   tiny.tensors),
                       "num_kv_heads (3) does not divide num_heads (4)"));
  EXPECT_TRUE(contains(folder.load(replaced(kTinyConfig, "LlamaForCausalLM", "MixtralForCausalLM"), tiny.tensors),
                       "architecture 'MixtralForCausalLM' is not supported"));
  EXPECT_TRUE(contains(folder.load(replaced(kTinyConfig, "\"linear\"", "\"longrope\""), tiny.tensors),
                       "rope type 'longrope' is not supported"));
  EXPECT_EQ(folder.load(kTinyConfig, tiny.tensors), "<no error>");
  write_file(folder.dir().file("generation_config.json"), "nope");
  EXPECT_TRUE(contains(load_error(folder.dir().path()), "generation_config.json: not a valid JSON object"));
  fs::remove(folder.dir().file("generation_config.json"));
  fs::remove(config_path);
  EXPECT_TRUE(contains(load_error(folder.dir().path()), "no config.json (not a Hugging Face model folder)"));
}

TEST(HfFolder, TensorErrors) {
  const TinyHf tiny = make_tiny_hf_llama(14);
  BadFolder folder;
  const std::string weights = folder.dir().file("model.safetensors");
  {
    std::vector<StTensor> tensors = tiny.tensors;
    tensors.erase(tensors.begin() + 3);  // model.layers.0.self_attn.k_proj.weight
    EXPECT_TRUE(contains(folder.load(kTinyConfig, tensors), "missing tensor model.layers.0.self_attn.k_proj.weight"));
  }
  {
    std::vector<StTensor> tensors = tiny.tensors;
    tensors[3].shape = {32, 16};
    EXPECT_TRUE(contains(folder.load(kTinyConfig, tensors),
                         "tensor model.layers.0.self_attn.k_proj.weight has shape [32, 16], expected [16, 32]"));
  }
  {
    std::vector<StTensor> tensors = tiny.tensors;
    tensors[1] = {"model.layers.0.input_layernorm.weight", "I64", {32}, std::string(32 * 8, '\0')};
    EXPECT_TRUE(contains(folder.load(kTinyConfig, tensors),
                         weights + ": tensor model.layers.0.input_layernorm.weight has dtype I64, which "
                                   "kvserve does not support"));
  }
  {
    std::vector<StTensor> tensors = tiny.tensors;
    tensors.push_back({"model.layers.0.self_attn.o_proj.bias", "F32", {32}, std::string(128, '\0')});
    EXPECT_TRUE(contains(folder.load(kTinyConfig, tensors), "unexpected tensor model.layers.0.self_attn.o_proj.bias"));
  }
  {
    std::vector<StTensor> tensors = tiny.tensors;
    tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {8}, std::string(32, '\0')});
    EXPECT_EQ(folder.load(kTinyConfig, tensors), "<no error>");  // a known buffer, skipped
  }
  EXPECT_TRUE(contains(folder.load_raw("xy"), weights + ": truncated safetensors file"));
  EXPECT_TRUE(contains(folder.load_raw(safetensors_bytes("{\"a\": tru", "")), weights + ": safetensors header is not a valid JSON"));
  {
    std::string bytes = safetensors_bytes(tiny.tensors);
    EXPECT_TRUE(contains(folder.load_raw(bytes.substr(0, bytes.size() - 10)), "are out of range"));
    const uint64_t length = bytes.size();
    std::memcpy(bytes.data(), &length, 8);
    EXPECT_TRUE(contains(folder.load_raw(bytes), "exceeds the file size"));
  }
  fs::remove(weights);
  EXPECT_TRUE(contains(load_error(folder.dir().path()), "no *.safetensors weight files"));
}

// ---- tokenizer and chat template -----------------------------------------------

TEST(HfFolder, TokenizerAndChatTemplate) {
  const std::string tokenizers = fixtures_dir() + "/tokenizers/qwen3";
  TempDir dir("hf-tokenizer");
  const TinyHf tiny = make_tiny_hf_llama(15);
  write_file(dir.file("config.json"), kTinyConfig);
  write_file(dir.file("model.safetensors"), safetensors_bytes(tiny.tensors));
  fs::copy_file(tokenizers + "/tokenizer.json", dir.file("tokenizer.json"));
  fs::copy_file(tokenizers + "/tokenizer_config.json", dir.file("tokenizer_config.json"));
  const auto config = nlohmann::json::parse(read_file(tokenizers + "/tokenizer_config.json"));
  auto model = load_model(dir.path());
  EXPECT_EQ(model->chat_template, config["chat_template"].get<std::string>());
  EXPECT_GT(model->tokenizer.tokens.size(), 151000u);
  write_file(dir.file("chat_template.jinja"), "{{ messages }}");
  EXPECT_EQ(load_model(dir.path())->chat_template, "{{ messages }}");
}

}  // namespace
}  // namespace kvs
