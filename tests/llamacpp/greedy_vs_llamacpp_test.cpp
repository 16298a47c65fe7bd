// Our engine against llama.cpp (llama-cpp-python) on one model: prompt ids
// (plain and chat-templated) and greedy continuations (as many tokens as the
// reference recorded). The reference file is written by
// scripts/reference/llamacpp_generate.py. By default the model is the default
// model and the reference build/reference/llamacpp_greedy.json (32 tokens,
// ctest fixture `llamacpp_greedy`); the environment variables
// KVS_GREEDY_MODEL and KVS_GREEDY_REFERENCE name another pair (ctest
// llamacpp_greedy_<type>: the default model re-quantized by llama.cpp to
// Q4_K_M, Q6_K, ..., 64-token continuations).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

// Largest |our logit - llama.cpp's logit| over llama.cpp's top-10 tokens at
// every step of a continuation, teacher-forced along llama.cpp's tokens (one
// prefill of prompt + continuation). The two engines round differently (8-bit
// activations, f16 KV cache in llama.cpp, summation order), and this measures
// by how much. Cases whose every-row logits would pass 512 MiB (long prompts
// with Gemma's 262k vocabulary) are left out (0): the measure comes from the others.
double logit_disagreement(LlamaModel& model, const nlohmann::json& c) {
  std::vector<int32_t> ids = c["prompt_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> tokens = c["tokens"].get<std::vector<int32_t>>();
  const size_t prompt_len = ids.size();
  if ((prompt_len + tokens.size()) * static_cast<size_t>(model.config().vocab_size) * sizeof(float) > (512u << 20)) {
    return 0.0;
  }
  ids.insert(ids.end(), tokens.begin(), tokens.end() - 1);
  const std::vector<float> logits = prompt_logits(model, ids);
  const size_t vocab = static_cast<size_t>(model.config().vocab_size);
  double worst = 0.0;
  for (size_t step = 0; step < tokens.size(); ++step) {
    for (const auto& pair : c["top_logits"][step]) {
      const float ours = logits[(prompt_len - 1 + step) * vocab + pair[0].get<size_t>()];
      worst = std::max(worst, std::fabs(ours - pair[1].get<double>()));
    }
  }
  return worst;
}

struct Fixture {
  std::shared_ptr<const LoadedModel> loaded;
  std::unique_ptr<Tokenizer> tokenizer;
  nlohmann::json reference;
};

// $name when set and non-empty, else `fallback`.
std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

Fixture& fixture() {
  static Fixture f = [] {
    Fixture out;
    const std::string model = env_or("KVS_GREEDY_MODEL", test::default_model());
    const std::string reference =
        env_or("KVS_GREEDY_REFERENCE", test::binary_dir() + "/reference/llamacpp_greedy.json");
    std::cout << "model: " << model << "\nreference: " << reference << "\n";
    out.loaded = load_model(model);
    out.tokenizer = Tokenizer::create(out.loaded->tokenizer);
    out.reference = nlohmann::json::parse(test::read_file(reference));
    return out;
  }();
  return f;
}

std::string token_text(const Tokenizer& tokenizer, int32_t id) {
  return id >= 0 ? tokenizer.spec().tokens[static_cast<size_t>(id)] : std::string();
}

TEST(LlamaCppPromptTest, PromptIdsMatch) {
  Fixture& f = fixture();
  const TokenizerSpec& spec = f.tokenizer->spec();
  // Built only for chat cases: a base model (Gemma 3 270M) has no template.
  auto chat = [&] {
    return ChatTemplate::from_jinja(f.loaded->chat_template, token_text(*f.tokenizer, spec.bos_id),
                                    token_text(*f.tokenizer, spec.eos_id));
  };
  for (const auto& c : f.reference["cases"]) {
    std::vector<int32_t> ids;
    if (c["kind"] == "plain") {
      ids = f.tokenizer->encode(c["prompt"].get<std::string>(), true, false);
    } else {
      std::vector<ChatMessage> messages;
      for (const auto& m : c["messages"]) messages.push_back({m["role"], m["content"]});
      const std::string rendered = chat().render(messages, true);
      EXPECT_EQ(rendered, c["rendered"].get<std::string>());
      ids = f.tokenizer->encode(rendered, false, true);
    }
    EXPECT_EQ(ids, c["prompt_ids"].get<std::vector<int32_t>>()) << c.dump().substr(0, 200);
  }
}

TEST(LlamaCppGreedyTest, ContinuationsMatchOrDivergeAtNearTies) {
  // NOTE: our CPU kernels reproduce the arithmetic of llama.cpp's AVX-512
  // build (kernels/cpu/llamacpp_arith.h). llama-cpp-python compiled natively
  // on a CPU without AVX-512 takes its AVX2 exp and summation routines, whose
  // roundings differ, so identical continuations are not expected there (on
  // such a machine 7 of 24 were identical, every divergence inside the two
  // engines' logit disagreement). So on every CPU each divergence, the first
  // token's included, must sit at a near-tie; on AVX-512 CPUs the first token
  // must also match and 90% of the continuations must be identical.
  const bool same_arithmetic = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  if (!same_arithmetic) {
    std::cout << "llama-cpp-python was built natively without AVX-512 (other exp and sum routines): "
                 "checking near-ties only, not the identity count\n";
  }
  Fixture& f = fixture();
  LlamaModel model(f.loaded, ModelOptions{});
  const auto& cases = f.reference["cases"];
  ASSERT_GE(cases.size(), 20u);
  int identical = 0;
  double disagreement = 0.0;
  for (const auto& c : cases) disagreement = std::max(disagreement, logit_disagreement(model, c));
  std::cout << "max |logit difference| to llama.cpp along its continuations: " << disagreement << "\n";
  std::cout << "case  kind   first  identical  diverges_at  llama.cpp_gap\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::vector<int32_t> expected = c["tokens"].get<std::vector<int32_t>>();
    GenerateOptions options;
    options.max_tokens = static_cast<int64_t>(expected.size());
    const std::vector<int32_t> ours = generate(model, c["prompt_ids"].get<std::vector<int32_t>>(), options).tokens;
    ASSERT_EQ(ours.size(), expected.size());
    if (same_arithmetic) EXPECT_EQ(ours[0], expected[0]) << "first token differs on case " << i;
    size_t step = 0;
    while (step < ours.size() && ours[step] == expected[step]) ++step;
    double gap = 0.0;
    if (step == ours.size()) {
      ++identical;
    } else {
      // llama.cpp's logit for its token minus its logit for ours (ours must be in its top 10).
      const auto& top = c["top_logits"][step];
      bool found = false;
      for (const auto& pair : top) {
        if (pair[0].get<int32_t>() == ours[step]) {
          gap = top[0][1].get<double>() - pair[1].get<double>();
          found = true;
        }
      }
      EXPECT_TRUE(found) << "case " << i << ": our token at step " << step << " is not in llama.cpp's top 10";
      // A near-tie: llama.cpp's own margin for its token over ours is smaller
      // than the engines' measured numerical disagreement.
      EXPECT_LT(gap, disagreement) << "case " << i << " diverges at step " << step << " without a near-tie";
    }
    std::cout << std::setw(4) << i << "  " << std::setw(5) << c["kind"].get<std::string>() << "  "
              << (ours[0] == expected[0] ? "same " : "DIFF ") << "  " << (step == ours.size() ? "yes" : "no ")
              << "        " << std::setw(3) << (step == ours.size() ? std::string("-") : std::to_string(step))
              << "          " << (step == ours.size() ? std::string("-") : std::to_string(gap)) << "\n";
  }
  std::cout << identical << "/" << cases.size() << " continuations identical to llama.cpp\n";
  if (same_arithmetic) EXPECT_GE(identical * 10, static_cast<int>(cases.size()) * 9);
}

}  // namespace
}  // namespace kvs
