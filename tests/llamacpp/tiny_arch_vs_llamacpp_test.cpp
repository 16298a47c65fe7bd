// Qwen 3, Mistral, Llama 3.1 (llama3 rope scaling), YaRN and Phi-3 GGUFs
// (tests/data/tiny_arch, converted by llama.cpp's converter) against
// llama.cpp itself: llama-cpp-python's logits for every position of the
// three reference sequences (scripts/reference/llamacpp_logits.py, ctest
// fixture llamacpp_tiny_arch, F32 KV cache), and ours from the same file in
// llama.cpp's RoPE arithmetic (ModelOptions::Numerics::kAuto on a GGUF).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

using test::read_tensor;

class TinyArchVsLlamaCpp : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyArchVsLlamaCpp, GgufGivesLlamaCppsLogits) {
  const std::string data = test::source_dir() + "/tests/data/tiny_arch/" + GetParam();
  LlamaModel model(load_model(data + ".gguf"), ModelOptions{});
  const auto inputs = SafetensorsFile::open(data + "/reference.safetensors");
  const auto llamacpp = SafetensorsFile::open(test::binary_dir() + "/reference/tiny_arch/" + GetParam() + ".safetensors");
  for (int k = 0; k < 3; ++k) {
    const std::vector<int32_t> ids = read_tensor<int32_t>(*inputs, "input_ids_" + std::to_string(k));
    const std::vector<float> expected = read_tensor<float>(*llamacpp, "logits_" + std::to_string(k));
    const std::vector<float> logits = prompt_logits(model, ids, /*block_size=*/16, kernels::KvDType::F32);
    ASSERT_EQ(logits.size(), expected.size());
    double max_abs_error = 0.0, max_abs = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      max_abs_error = std::max(max_abs_error, static_cast<double>(std::fabs(logits[i] - expected[i])));
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(expected[i])));
    }
    // float32 vs float32 with different summation orders: ~1e-5 relative to the logit scale.
    EXPECT_LT(max_abs_error / max_abs, 2e-5) << GetParam() << " input " << k << " (" << ids.size() << " tokens)";
    std::printf("%s input %d (%zu tokens): max |diff| / max |logit| = %.3g (max |diff| %.3g)\n", GetParam().c_str(),
                k, ids.size(), max_abs_error / max_abs, max_abs_error);
  }
}

INSTANTIATE_TEST_SUITE_P(TinyArch, TinyArchVsLlamaCpp,
                         ::testing::Values("tiny-qwen3", "tiny-mistral", "tiny-llama3", "tiny-llama-yarn", "tiny-phi3",
                                           "tiny-qwen3-yarn"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace kvs
