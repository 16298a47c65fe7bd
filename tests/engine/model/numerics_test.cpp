// ModelOptions::numerics: llama.cpp's interleaved RoPE and Hugging Face's
// rotate-half compute the same model, and kAuto picks per source.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/llama_model.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

using Numerics = ModelOptions::Numerics;

std::vector<float> logits_with(const std::shared_ptr<const LoadedModel>& model, Numerics numerics, bool dequantize,
                               kernels::KvDType kv_dtype) {
  ModelOptions options;
  options.numerics = numerics;
  options.dequantize_weights = dequantize;
  LlamaModel llama(model, options);
  const std::vector<int32_t> ids = {1, 504, 3575, 282, 4649, 314, 253, 1345, 30, 198, 2831, 327, 260, 3421,
                                    28, 1076, 9187, 1346, 30, 2, 216, 4553, 14, 49, 1024, 1337, 42, 99};
  return prompt_logits(llama, ids, 16, kv_dtype);
}

TEST(NumericsTest, LlamaCppRopeComputesTheSameModelAsRotateHalf) {
  // Float32 weights and cache: the two differ only by how angles round.
  const auto gguf = load_model(test::default_model());
  const std::vector<float> hf = logits_with(gguf, Numerics::kHuggingFace, true, kernels::KvDType::F32);
  const std::vector<float> lcpp = logits_with(gguf, Numerics::kLlamaCpp, true, kernels::KvDType::F32);
  ASSERT_EQ(hf.size(), lcpp.size());
  double max_error = 0.0, max_abs = 0.0;
  for (size_t i = 0; i < hf.size(); ++i) {
    max_error = std::max(max_error, static_cast<double>(std::fabs(hf[i] - lcpp[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(hf[i])));
  }
  EXPECT_LT(max_error / max_abs, 2e-5);
  EXPECT_GT(max_error, 0.0);
}

TEST(NumericsTest, AutoFollowsLlamaCppForQuantizedGgufAndHuggingFaceOtherwise) {
  const auto gguf = load_model(test::default_model());
  EXPECT_TRUE(gguf->from_gguf);
  EXPECT_EQ(logits_with(gguf, Numerics::kAuto, false, kernels::KvDType::F16),
            logits_with(gguf, Numerics::kLlamaCpp, false, kernels::KvDType::F16));
  EXPECT_NE(logits_with(gguf, Numerics::kAuto, false, kernels::KvDType::F16),
            logits_with(gguf, Numerics::kHuggingFace, false, kernels::KvDType::F16));
  // dequantize_weights compares a GGUF with its F32 export: HF arithmetic.
  EXPECT_EQ(logits_with(gguf, Numerics::kAuto, true, kernels::KvDType::F32),
            logits_with(gguf, Numerics::kHuggingFace, true, kernels::KvDType::F32));
}

}  // namespace
}  // namespace kvs
