// Our decode path against llama.cpp's, bit for bit: prefill each reference
// prompt, then feed llama.cpp's own greedy tokens one at a time (a one-token
// step each, as llama.cpp decoded them) and compare our logits for its ten
// best tokens at every step with the values it recorded. The kernels mirror
// ggml-cpu's arithmetic as built for AVX-512 (llamacpp_arith.h), so the
// comparison is exact where llama-cpp-python was built on such a CPU.
// KVS_GREEDY_MODEL / KVS_GREEDY_REFERENCE name another model and reference
// than the default ones, as for greedy_vs_llamacpp_test.cpp (by hand: ctest
// runs it on the default model only).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/model/llama_model.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

TEST(LlamaCppDecodeLogitsTest, DecodeStepsGiveLlamaCppsExactLogits) {
#if !(defined(__AVX2__) && defined(__FMA__))
  GTEST_SKIP() << "the quantized dot products follow llama.cpp's order only in the AVX2 build";
#else
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq")) {
    GTEST_SKIP() << "llama-cpp-python built natively without AVX-512 uses other exp and sum routines";
  }
  const char* model_env = std::getenv("KVS_GREEDY_MODEL");
  const char* reference_env = std::getenv("KVS_GREEDY_REFERENCE");
  const auto loaded = load_model(model_env != nullptr && *model_env != '\0' ? model_env : test::default_model());
  LlamaModel model(loaded, ModelOptions{});
  const nlohmann::json reference = nlohmann::json::parse(test::read_file(
      reference_env != nullptr && *reference_env != '\0' ? std::string(reference_env)
                                                         : test::binary_dir() + "/reference/llamacpp_greedy.json"));
  const int64_t block_size = 16;
  for (const auto& c : reference["cases"]) {
    const std::vector<int32_t> prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> tokens = c["tokens"].get<std::vector<int32_t>>();
    const int64_t num_blocks = (static_cast<int64_t>(prompt.size() + tokens.size()) + block_size - 1) / block_size;
    KvStorage kv(model.config(), num_blocks, block_size);
    std::vector<int32_t> table(static_cast<size_t>(num_blocks));
    std::iota(table.begin(), table.end(), 0);
    ForwardBatch prefill;
    prefill.add_sequence(prompt, 0, table, /*want_logits=*/true);
    std::vector<float> logits = model.forward(prefill, kv);
    for (size_t step = 0; step < tokens.size(); ++step) {
      for (const auto& pair : c["top_logits"][step]) {
        ASSERT_EQ(logits[pair[0].get<size_t>()], pair[1].get<float>())
            << "prompt " << c["prompt_ids"].dump().substr(0, 80) << " step " << step << " token " << pair[0];
      }
      // ... and no token outside llama.cpp's ten best scores higher here
      const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
      ASSERT_EQ(logits[static_cast<size_t>(best)], logits[static_cast<size_t>(tokens[step])])
          << "prompt " << c["prompt_ids"].dump().substr(0, 80) << " step " << step << ": token " << best
          << " scores " << logits[static_cast<size_t>(best)] << " here";
      if (step + 1 == tokens.size()) break;
      ForwardBatch decode;
      decode.add_sequence({tokens[step]}, static_cast<int32_t>(prompt.size() + step), table, true);
      logits = model.forward(decode, kv);
    }
  }
#endif
}

}  // namespace
}  // namespace kvs
