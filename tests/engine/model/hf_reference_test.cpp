// The CPU forward pass against Hugging Face transformers' own outputs on the
// fixture models (float32 PyTorch logits and greedy continuations).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

std::string model_dir(const std::string& name) { return test::fixtures_dir() + "/models/" + name; }

using test::read_tensor;

class HfReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HfReferenceTest, LogitsMatchTransformersFloat32) {
  const auto loaded = load_model(model_dir(GetParam()));
  LlamaModel model(loaded, ModelOptions{});
  const auto reference = SafetensorsFile::open(model_dir(GetParam()) + "/reference.safetensors");
  for (int k = 0; k < 3; ++k) {
    const std::vector<int32_t> ids = read_tensor<int32_t>(*reference, "input_ids_" + std::to_string(k));
    const std::vector<float> expected = read_tensor<float>(*reference, "logits_" + std::to_string(k));
    const std::vector<float> logits = prompt_logits(model, ids, /*block_size=*/16, kernels::KvDType::F32);
    ASSERT_EQ(logits.size(), expected.size());
    double max_abs_error = 0.0, max_abs = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      max_abs_error = std::max(max_abs_error, static_cast<double>(std::fabs(logits[i] - expected[i])));
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(expected[i])));
    }
    // float32 vs float32 with different summation orders: ~1e-5 relative to the logit scale.
    EXPECT_LT(max_abs_error / max_abs, 2e-5) << GetParam() << " input " << k << " (" << ids.size()
                                             << " tokens): max abs error " << max_abs_error;
  }
}

TEST_P(HfReferenceTest, GreedyContinuationsMatchTransformers) {
  const auto loaded = load_model(model_dir(GetParam()));
  LlamaModel model(loaded, ModelOptions{});
  const nlohmann::json cases = nlohmann::json::parse(test::read_file(model_dir(GetParam()) + "/generate.json"));
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    GenerateOptions options;  // greedy, no stop tokens: 20 tokens as the reference
    options.max_tokens = static_cast<int64_t>(c["generated"].size());
    options.block_size = 7;   // an odd block size: generation crosses many block boundaries
    options.prefill_chunk = 5;  // chunked prefill must not change the result
    options.kv_dtype = kernels::KvDType::F32;
    const GenerateResult result = generate(model, c["input_ids"].get<std::vector<int32_t>>(), options);
    EXPECT_EQ(result.tokens, c["generated"].get<std::vector<int32_t>>()) << GetParam();
  }
}

TEST_P(HfReferenceTest, HalfPrecisionKvCacheStaysClose) {
  // The default half-precision cache rounds K, V, queries and softmax weights
  // to 11 significant bits: logits move by a small fraction of their scale.
  LlamaModel model(load_model(model_dir(GetParam())), ModelOptions{});
  const auto reference = SafetensorsFile::open(model_dir(GetParam()) + "/reference.safetensors");
  const std::vector<int32_t> ids = read_tensor<int32_t>(*reference, "input_ids_2");
  const std::vector<float> expected = read_tensor<float>(*reference, "logits_2");
  const std::vector<float> logits = prompt_logits(model, ids, 16, kernels::KvDType::F16);
  double max_abs_error = 0.0, max_abs = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    max_abs_error = std::max(max_abs_error, static_cast<double>(std::fabs(logits[i] - expected[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(expected[i])));
  }
  EXPECT_LT(max_abs_error / max_abs, 5e-3) << GetParam();
  EXPECT_GT(max_abs_error, 0.0) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(FixtureModels, HfReferenceTest,
                         ::testing::Values("tiny-llama", "tiny-llama3-scaled", "tiny-qwen2"));

TEST(HfReferenceBf16Test, Bf16CopyGivesNearlyTheSameLogits) {
  // The -bf16 folders hold the same weights rounded to bfloat16: logits stay
  // close (bf16 has 8 bits of mantissa) but not equal.
  for (const std::string name : {"tiny-llama", "tiny-qwen2"}) {
    LlamaModel f32(load_model(model_dir(name)), ModelOptions{});
    LlamaModel bf16(load_model(model_dir(name + "-bf16")), ModelOptions{});
    const std::vector<int32_t> ids = {5, 17, 42, 99, 3, 250, 11};
    const std::vector<float> a = prompt_logits(f32, ids, 16, kernels::KvDType::F32);
    const std::vector<float> b = prompt_logits(bf16, ids, 16, kernels::KvDType::F32);
    ASSERT_EQ(a.size(), b.size());
    double error = 0.0, norm = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
      error += (a[i] - b[i]) * (a[i] - b[i]);
      norm += a[i] * a[i];
    }
    EXPECT_LT(std::sqrt(error / norm), 0.05) << name;
    EXPECT_GT(error, 0.0) << name;
  }
}

}  // namespace
}  // namespace kvs
