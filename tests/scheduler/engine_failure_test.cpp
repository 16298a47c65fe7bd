// A failing engine step fails only the requests in it, on the real (tiny)
// model through the FaultInjectingModel hook `kvserve serve` uses for
// KVS_FAULT_INJECT: a throwing forward pass ends its requests with kError,
// frees their blocks, and the next steps run as before; a NaN logits row ends
// only its own request. Greedy references come from a fault-free engine.
#include <cblas.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "engine/errors.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "scheduler/engine_core.h"
#include "scheduler/fault_injection.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

LlamaModel& tiny_model() {
  openblas_set_num_threads(1);
  ModelOptions options;
  options.num_threads = 1;
  static std::unique_ptr<LlamaModel> model =
      std::make_unique<LlamaModel>(load_model(test::fixtures_dir() + "/models/tiny-llama"), options);
  return *model;
}

EngineConfig small_config(const ForwardModel& model, int64_t max_num_seqs) {
  EngineConfig config;
  config.cache.dtype = kernels::KvDType::F32;
  config.cache.memory_bytes = 64 * KvStorage::bytes_per_block(model.config(), 16, config.cache.dtype);
  config.scheduler.max_num_batched_tokens = 256;
  config.scheduler.max_num_seqs = max_num_seqs;
  return config;
}

struct Outcome {
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::kNone;
  std::string error;
};

// An EngineCore over `model` that records every request's events.
struct Harness {
  Harness(ForwardModel& model, int64_t max_num_seqs)
      : core(model, small_config(model, max_num_seqs), [this](uint64_t id, const TokenEvent& event) {
          Outcome& o = outcomes[id];
          if (event.token_id >= 0) o.tokens.push_back(event.token_id);
          o.reason = event.finish_reason;
          o.error = event.error;
        }) {}
  void run() {
    for (int i = 0; i < 1000 && core.has_unfinished(); ++i) core.step();
    ASSERT_FALSE(core.has_unfinished());
  }
  std::map<uint64_t, Outcome> outcomes;
  EngineCore core;
};

Request greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  Request r;
  r.prompt_token_ids = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

// The greedy tokens of `r` on a fault-free engine.
std::vector<int32_t> reference(const Request& r) {
  Harness h(tiny_model(), 8);
  h.core.add(1, r);
  h.run();
  return h.outcomes[1].tokens;
}

TEST(EngineFailure, ParseFaultPlan) {
  const FaultPlan plan = parse_fault_plan("throw_step:3,nan_logits:42");
  EXPECT_EQ(plan.throw_step, 3);
  EXPECT_EQ(plan.nan_token, 42);
  EXPECT_FALSE(parse_fault_plan("").enabled());
  EXPECT_THROW(parse_fault_plan("throw_step:0"), InvalidArgument);
  EXPECT_THROW(parse_fault_plan("nan_logits:x"), InvalidArgument);
  EXPECT_THROW(parse_fault_plan("explode:1"), InvalidArgument);
}

// max_num_seqs 1: A runs alone while B waits, so the throwing step (the 3rd
// forward pass: A's prefill, 1st decode, 2nd decode) holds only A.
TEST(EngineFailure, ThrowingStepFailsOnlyItsRequests) {
  const Request a = greedy({5, 6, 7, 8, 9}, 6), b = greedy({10, 11, 12}, 5), c = greedy({13, 14}, 4);
  const std::vector<int32_t> expected_b = reference(b), expected_c = reference(c);
  FaultInjectingModel faulty(tiny_model(), parse_fault_plan("throw_step:3"));
  Harness h(faulty, 1);
  h.core.add(1, a);
  h.core.add(2, b);
  h.run();
  EXPECT_EQ(h.outcomes[1].reason, FinishReason::kError);
  EXPECT_EQ(h.outcomes[1].tokens.size(), 2u) << "A's tokens before the failing step";
  EXPECT_NE(h.outcomes[1].error.find("injected fault"), std::string::npos) << h.outcomes[1].error;
  EXPECT_EQ(h.outcomes[2].reason, FinishReason::kLength);
  EXPECT_EQ(h.outcomes[2].tokens, expected_b) << "the waiting request is untouched";
  EXPECT_EQ(h.core.metrics().kv_blocks_used, 0);
  EXPECT_EQ(h.core.metrics().num_running, 0);
  h.core.add(3, c);  // a later request runs as usual
  h.run();
  EXPECT_EQ(h.outcomes[3].reason, FinishReason::kLength);
  EXPECT_EQ(h.outcomes[3].tokens, expected_c);
  EXPECT_EQ(h.core.metrics().kv_blocks_used, 0);
}

// A and B share every step; B's prompt ends with the marker, so its prefill
// row is NaN: B fails at once, A's greedy tokens are unchanged.
TEST(EngineFailure, NanLogitsFailOnlyTheirRequest) {
  const Request a = greedy({5, 6, 7, 8, 9}, 6);
  const std::vector<int32_t> expected_a = reference(a);
  int32_t marker = 20;
  while (std::count(expected_a.begin(), expected_a.end(), marker) > 0 ||
         std::count(a.prompt_token_ids.begin(), a.prompt_token_ids.end(), marker) > 0) {
    ++marker;
  }
  const Request b = greedy({10, 11, marker}, 6);
  FaultInjectingModel faulty(tiny_model(), parse_fault_plan("nan_logits:" + std::to_string(marker)));
  Harness h(faulty, 8);
  h.core.add(1, a);
  h.core.add(2, b);
  h.run();
  EXPECT_EQ(h.outcomes[2].reason, FinishReason::kError);
  EXPECT_TRUE(h.outcomes[2].tokens.empty());
  EXPECT_NE(h.outcomes[2].error.find("NaN"), std::string::npos) << h.outcomes[2].error;
  EXPECT_EQ(h.outcomes[1].reason, FinishReason::kLength);
  EXPECT_EQ(h.outcomes[1].tokens, expected_a);
  EXPECT_EQ(h.core.metrics().kv_blocks_used, 0);
  h.core.add(3, a);
  h.run();
  EXPECT_EQ(h.outcomes[3].tokens, expected_a) << "the engine keeps serving";
}

TEST(EngineFailure, AbortAllCancelsQueuedAndRunning) {
  Harness h(tiny_model(), 1);
  h.core.add(1, greedy({5, 6, 7}, 50));
  h.core.add(2, greedy({8, 9}, 50));
  h.core.step();
  h.core.abort_all();
  EXPECT_FALSE(h.core.has_unfinished());
  EXPECT_EQ(h.outcomes[1].reason, FinishReason::kCancelled);
  EXPECT_EQ(h.outcomes[2].reason, FinishReason::kCancelled);
  EXPECT_EQ(h.core.metrics().kv_blocks_used, 0);
}

}  // namespace
}  // namespace kvs
