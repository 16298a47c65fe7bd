// Qwen 3, Mistral, Llama 3.1 (llama3 rope scaling), YaRN (on Llama's
// interleaved and Qwen 3's NeoX RoPE) and Phi-3 against
// Hugging Face transformers: the tiny random models of tests/data/tiny_arch
// (scripts/reference/tiny_arch_models.py wrote them, their float32 logits
// and llama.cpp's converter's GGUFs). Each model runs from its HF folder and
// from its GGUF; both must give transformers' logits for every position of
// three id sequences (7, 40 and 160 tokens; the scaled models' original
// context is 64 positions, Mistral's window 16).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/loader/safetensors.h"
#include "engine/model/generate.h"
#include "engine/model/llama_model.h"
#include "tests/common/reference_tensors.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::string data_dir() { return test::source_dir() + "/tests/data/tiny_arch"; }

using test::read_tensor;

// max |a - b| / max |b|: float32 against float32 with other summation orders.
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double max_abs_error = 0.0, max_abs = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_abs_error = std::max(max_abs_error, static_cast<double>(std::fabs(a[i] - b[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(b[i])));
  }
  return max_abs_error / max_abs;
}

struct Case {
  std::string name;
  std::string architecture;  // as loaded
  std::string rope_scaling;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class TinyArchTest : public ::testing::TestWithParam<Case> {
 protected:
  std::string folder() const { return data_dir() + "/" + GetParam().name; }
  std::string gguf() const { return folder() + ".gguf"; }

  // Checks `model`'s logits on every reference input within `max_tokens`
  // (all: -1) against transformers'.
  void expect_transformers_logits(LlamaModel& model, const std::string& what, int64_t max_tokens = -1) {
    const auto reference = SafetensorsFile::open(folder() + "/reference.safetensors");
    int checked = 0;
    for (int k = 0; k < 3; ++k) {
      const std::vector<int32_t> ids = read_tensor<int32_t>(*reference, "input_ids_" + std::to_string(k));
      if (max_tokens >= 0 && static_cast<int64_t>(ids.size()) > max_tokens) continue;
      const std::vector<float> expected = read_tensor<float>(*reference, "logits_" + std::to_string(k));
      const std::vector<float> logits = prompt_logits(model, ids, /*block_size=*/16, kernels::KvDType::F32);
      ASSERT_EQ(logits.size(), expected.size());
      const double error = relative_error(logits, expected);
      // float32 vs float32 with different summation orders: ~1e-5 relative to the logit scale.
      EXPECT_LT(error, 2e-5) << what << " input " << k << " (" << ids.size() << " tokens)";
      std::printf("%s %s input %d (%zu tokens): max |diff| / max |logit| = %.3g\n", GetParam().name.c_str(),
                  what.c_str(), k, ids.size(), error);
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
};

TEST_P(TinyArchTest, HfFolderGivesTransformersLogits) {
  const auto loaded = load_model(folder());
  EXPECT_EQ(loaded->config.architecture, GetParam().architecture);
  EXPECT_EQ(loaded->config.rope_scaling.type, GetParam().rope_scaling);
  LlamaModel model(loaded, ModelOptions{});
  expect_transformers_logits(model, "HF folder");
}

// The converter's GGUF, run in transformers' RoPE arithmetic (HF row order,
// accurately evaluated angles); llama.cpp's arithmetic is checked against
// llama.cpp itself (tests/llamacpp/tiny_arch_vs_llamacpp_test.cpp).
TEST_P(TinyArchTest, GgufGivesTransformersLogits) {
  const auto loaded = load_model(gguf());
  EXPECT_EQ(loaded->config.architecture, GetParam().architecture);
  EXPECT_EQ(loaded->config.rope_scaling.type, GetParam().rope_scaling);
  ModelOptions options;
  options.numerics = ModelOptions::Numerics::kHuggingFace;
  LlamaModel model(loaded, options);
  // NOTE: llama.cpp's converter drops Mistral's sliding window (and llama.cpp
  // has none for the llama architecture), so its GGUF agrees with
  // transformers only within the window.
  const int64_t window = load_model(folder())->config.sliding_window;
  expect_transformers_logits(model, "GGUF", loaded->config.sliding_window == 0 && window > 0 ? window : -1);
}

INSTANTIATE_TEST_SUITE_P(TinyArch, TinyArchTest,
                         ::testing::Values(Case{"tiny-qwen3", "qwen3", "none"}, Case{"tiny-mistral", "llama", "none"},
                                           Case{"tiny-llama3", "llama", "llama3"},
                                           Case{"tiny-llama-yarn", "llama", "yarn"}, Case{"tiny-phi3", "phi3", "none"},
                                           Case{"tiny-qwen3-yarn", "qwen3", "yarn"}),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(TinyArchConfig, GgufCarriesTheHfRopeScaling) {
  // llama3: recovered from rope_freqs.weight; yarn: from rope.scaling.* keys.
  for (const std::string name : {"tiny-llama3", "tiny-llama-yarn", "tiny-qwen3-yarn"}) {
    const auto hf = load_model(data_dir() + "/" + name);
    const auto gguf = load_model(data_dir() + "/" + name + ".gguf");
    EXPECT_EQ(gguf->config.rope_scaling, hf->config.rope_scaling) << name;
  }
}

TEST(TinyArchConfig, MistralWindowComesFromTheHfFolderOnly) {
  EXPECT_EQ(load_model(data_dir() + "/tiny-mistral")->config.sliding_window, 16);
  EXPECT_EQ(load_model(data_dir() + "/tiny-mistral.gguf")->config.sliding_window, 0);
}

TEST(TinyArchWindow, MistralGgufDiffersFromTransformersPastTheWindow) {
  // What the lost window costs: past 16 positions the GGUF's logits (full
  // causal attention, as llama.cpp computes) are not transformers'.
  LlamaModel model(load_model(data_dir() + "/tiny-mistral.gguf"), ModelOptions{});
  const auto reference = SafetensorsFile::open(data_dir() + "/tiny-mistral/reference.safetensors");
  const std::vector<int32_t> ids = read_tensor<int32_t>(*reference, "input_ids_1");
  ASSERT_GT(ids.size(), 16u);
  const std::vector<float> logits = prompt_logits(model, ids, 16, kernels::KvDType::F32);
  EXPECT_GT(relative_error(logits, read_tensor<float>(*reference, "logits_1")), 1e-2);
}

TEST(TinyArchWindow, MistralChunkedDecodeMatchesOnePrefill) {
  // The window holds across blocks, prefill chunks and one-token decode steps:
  // greedy tokens from a chunked run equal the argmax of one-pass logits.
  LlamaModel model(load_model(data_dir() + "/tiny-mistral"), ModelOptions{});
  const auto reference = SafetensorsFile::open(data_dir() + "/tiny-mistral/reference.safetensors");
  std::vector<int32_t> ids = read_tensor<int32_t>(*reference, "input_ids_1");
  GenerateOptions options;
  options.max_tokens = 12;
  options.block_size = 7;
  options.prefill_chunk = 5;
  options.kv_dtype = kernels::KvDType::F32;
  const GenerateResult result = generate(model, ids, options);
  ASSERT_EQ(result.tokens.size(), 12u);
  std::vector<int32_t> sequence = ids;
  sequence.insert(sequence.end(), result.tokens.begin(), result.tokens.end() - 1);
  const std::vector<float> logits = prompt_logits(model, sequence, 16, kernels::KvDType::F32);
  const int64_t vocab = model.config().vocab_size;
  for (size_t step = 0; step < result.tokens.size(); ++step) {
    const float* row = logits.data() + (ids.size() - 1 + step) * vocab;
    EXPECT_EQ(std::max_element(row, row + vocab) - row, result.tokens[step]) << "step " << step;
  }
}

}  // namespace
}  // namespace kvs
