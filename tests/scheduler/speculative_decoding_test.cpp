// Speculative decoding by prompt lookup (--speculative-ngram) in the engine
// loop on the default model (CPU): greedy output is token-identical to plain
// decoding (alone, batched, with prefix caching, under preemption), drafts are
// really accepted (counters), stop conditions hold token by token, rejected
// tokens' blocks go back to the pool and never become prefix-cache content.
//
// With the F16 cache (the default) a verification step (1 + K tokens of one
// sequence) sums attention in the one-token order (ForwardBatch::
// single_token_order), so every row, and the K/V it writes, has the bits of
// plain decoding; F32 attention has one order anyway. Both are checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "engine/errors.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "scheduler/engine_core.h"
#include "scheduler/ngram_proposer.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

using kernels::KvDType;

TEST(NgramProposer, ProposesWhatFollowedTheLatestMatch) {
  // ... 5 6 7 | 8 9 ... 5 6 7 | 1 2 ... 5 6 7: the latest earlier "5 6 7" is followed by 1 2.
  const std::vector<int32_t> tokens{5, 6, 7, 8, 9, 4, 5, 6, 7, 1, 2, 3, 5, 6, 7};
  EXPECT_EQ(propose_ngram_draft(tokens, 3, 1, 2), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(propose_ngram_draft(tokens, 3, 1, 10), (std::vector<int32_t>{1, 2, 3, 5, 6, 7}));
  EXPECT_TRUE(propose_ngram_draft(tokens, 3, 1, 0).empty());
  // "2 3 9" occurs earlier, followed by 4 2; with n >= 2 only, "1 3" has no earlier match.
  EXPECT_EQ(propose_ngram_draft({1, 2, 3, 9, 4, 2, 3, 9}, 3, 1, 2), (std::vector<int32_t>{4, 2}));
  EXPECT_EQ(propose_ngram_draft({7, 8, 9, 4, 1, 3}, 3, 2, 2), (std::vector<int32_t>{}));
  EXPECT_EQ(propose_ngram_draft({3}, 3, 1, 4), (std::vector<int32_t>{}));
}

LlamaModel& model() {
  static std::unique_ptr<LlamaModel> m = std::make_unique<LlamaModel>(load_model(test::default_model()), ModelOptions{});
  return *m;
}

std::vector<int32_t> random_tokens(uint32_t seed, int64_t length) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(100, 20000);
  std::vector<int32_t> tokens(static_cast<size_t>(length));
  for (int32_t& t : tokens) t = token(rng);
  return tokens;
}

// A passage said three times: the model goes on repeating it, so lookup drafts are accepted.
std::vector<int32_t> repetitive_prompt(uint32_t seed, int64_t passage) {
  const std::vector<int32_t> text = random_tokens(seed, passage);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 3; ++i) prompt.insert(prompt.end(), text.begin(), text.end());
  return prompt;
}

EngineConfig engine_config(int64_t speculative, int64_t num_blocks = 256, bool prefix_caching = true,
                           KvDType dtype = KvDType::F16) {
  EngineConfig config;
  config.cache.dtype = dtype;
  config.cache.memory_bytes = num_blocks * KvStorage::bytes_per_block(model().config(), 16, dtype);
  config.cache.enable_prefix_caching = prefix_caching;
  config.scheduler.max_num_batched_tokens = 64;
  config.scheduler.speculative_ngram = speculative;
  return config;
}

struct EngineRun {
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, FinishReason> reasons;
  EngineMetrics metrics;
  int64_t max_used_blocks = 0;
};

// Runs `requests` (ids 1, 2, ...): all at once when `together`, else each to
// completion before the next. Every event is checked: one token each, no error.
EngineRun run(const EngineConfig& config, const std::vector<Request>& requests, bool together) {
  EngineRun result;
  EngineCore core(model(), config, [&](uint64_t id, const TokenEvent& event) {
    ASSERT_NE(event.finish_reason, FinishReason::kError) << event.error;
    if (event.token_id >= 0) result.tokens[id].push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone) result.reasons[id] = event.finish_reason;
  });
  const auto drain = [&] {
    while (core.step()) result.max_used_blocks = std::max(result.max_used_blocks, core.metrics().kv_blocks_used);
  };
  for (size_t i = 0; i < requests.size(); ++i) {
    core.add(i + 1, requests[i]);
    if (!together) drain();
  }
  drain();
  result.metrics = core.metrics();
  EXPECT_EQ(result.metrics.kv_blocks_used, 0);
  return result;
}

Request request(std::vector<int32_t> prompt, int64_t max_tokens) {
  Request r;
  r.prompt_token_ids = std::move(prompt);
  r.max_tokens = max_tokens;
  return r;
}

std::vector<Request> mixed_requests() {
  return {request(repetitive_prompt(1, 40), 60), request(random_tokens(2, 30), 20),
          request(repetitive_prompt(3, 23), 45), request(random_tokens(4, 70), 33),
          request(repetitive_prompt(5, 9), 50)};
}

class SpeculativeGreedy : public ::testing::TestWithParam<KvDType> {};

TEST_P(SpeculativeGreedy, EqualsPlainDecodingOneAtATime) {
  const std::vector<Request> requests = mixed_requests();
  const EngineRun plain = run(engine_config(0, 256, true, GetParam()), requests, false);
  const EngineRun spec = run(engine_config(4, 256, true, GetParam()), requests, false);
  EXPECT_EQ(spec.tokens, plain.tokens);
  EXPECT_EQ(spec.reasons, plain.reasons);
  EXPECT_EQ(plain.metrics.spec_num_drafts, 0);
  EXPECT_GT(spec.metrics.spec_num_drafts, 0);
  EXPECT_GT(spec.metrics.spec_num_draft_tokens, spec.metrics.spec_num_drafts);
  EXPECT_GT(spec.metrics.spec_num_accepted_tokens, 0);
  EXPECT_LE(spec.metrics.spec_num_accepted_tokens, spec.metrics.spec_num_draft_tokens);
  int64_t per_position = 0;
  for (int64_t n : spec.metrics.spec_accepted_per_position) per_position += n;
  EXPECT_EQ(per_position, spec.metrics.spec_num_accepted_tokens);
  // Accepted drafts save steps: fewer steps than emitted tokens would take one by one.
  EXPECT_LT(spec.metrics.num_steps, plain.metrics.num_steps);
  EXPECT_EQ(spec.metrics.total_sampled_tokens, plain.metrics.total_sampled_tokens);
  // And the batched, preempting runs below: same tokens.
  const EngineRun batched = run(engine_config(4, 256, true, GetParam()), requests, true);
  EXPECT_EQ(batched.tokens, plain.tokens);
  EXPECT_GT(batched.metrics.spec_num_accepted_tokens, 0);
  // 14 blocks of 16 tokens for five sequences of up to 180 tokens: preemption
  // and recompute (one token per step with F16, as the outputs were verified),
  // and drafts that cannot get blocks are dropped.
  for (bool prefix_caching : {false, true}) {
    const EngineRun pressed = run(engine_config(4, 14, prefix_caching, GetParam()), requests, true);
    EXPECT_EQ(pressed.tokens, plain.tokens) << "prefix caching " << prefix_caching;
    EXPECT_GT(pressed.metrics.num_preemptions, 0);
    EXPECT_GT(pressed.metrics.spec_num_accepted_tokens, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(KvDtypes, SpeculativeGreedy, ::testing::Values(KvDType::F16, KvDType::F32),
                         [](const auto& info) { return std::string(kernels::kv_dtype_name(info.param)); });

// Prefix caching: a second request with the same prompt hits the blocks the
// first (speculative) one cached, and every run gives the same tokens whether
// blocks are cached or not: no block holding rejected drafts is shared.
TEST(SpeculativeDecoding, PrefixCacheHoldsOnlyAcceptedTokens) {
  const std::vector<int32_t> prompt = repetitive_prompt(7, 37);
  std::vector<Request> requests{request(prompt, 70), request(prompt, 70)};
  // The second also shares the first's prompt plus its first outputs as its own prompt.
  const EngineRun plain = run(engine_config(0, 256, false), requests, false);
  std::vector<int32_t> longer = prompt;
  longer.insert(longer.end(), plain.tokens.at(1).begin(), plain.tokens.at(1).begin() + 40);
  requests.push_back(request(longer, 30));
  const EngineRun reference = run(engine_config(0, 256, false), requests, false);
  const EngineRun cached = run(engine_config(4, 256, true), requests, false);
  EXPECT_EQ(cached.tokens, reference.tokens);
  EXPECT_EQ(cached.tokens.at(1), cached.tokens.at(2));
  EXPECT_GE(cached.metrics.prefix_hit_tokens, static_cast<int64_t>(prompt.size() / 16 * 16));
  EXPECT_GT(cached.metrics.spec_num_draft_tokens, cached.metrics.spec_num_accepted_tokens);  // some were rejected
}

// max_tokens and stop tokens apply to each accepted token: nothing past them.
TEST(SpeculativeDecoding, StopsTokenByToken) {
  const std::vector<int32_t> prompt = repetitive_prompt(11, 20);
  const EngineRun plain = run(engine_config(0), {request(prompt, 40)}, false);
  const std::vector<int32_t>& full = plain.tokens.at(1);
  ASSERT_EQ(full.size(), 40u);
  for (int64_t max_tokens : {1, 2, 3, 7, 13}) {
    const EngineRun spec = run(engine_config(4), {request(prompt, max_tokens)}, false);
    EXPECT_EQ(spec.tokens.at(1), std::vector<int32_t>(full.begin(), full.begin() + max_tokens));
    EXPECT_EQ(spec.reasons.at(1), FinishReason::kLength);
  }
  Request stop = request(prompt, 40);
  stop.stop_token_ids = {full[17]};
  const auto first = std::find(full.begin(), full.end(), full[17]);
  const EngineRun spec = run(engine_config(4), {stop}, false);
  EXPECT_EQ(spec.tokens.at(1), std::vector<int32_t>(full.begin(), first + 1));
  EXPECT_EQ(spec.reasons.at(1), FinishReason::kStop);
  EXPECT_GT(spec.metrics.spec_num_accepted_tokens, 0);
}

// Log-probabilities come with every accepted token, as without drafts.
TEST(SpeculativeDecoding, LogprobsMatchPlainDecoding) {
  Request r = request(repetitive_prompt(13, 25), 30);
  r.num_logprobs = 2;
  std::vector<TokenEvent> events[2];
  for (int i = 0; i < 2; ++i) {
    EngineCore core(model(), engine_config(i == 0 ? 0 : 4), [&](uint64_t, const TokenEvent& event) {
      if (event.token_id >= 0) events[i].push_back(event);
    });
    core.add(1, r);
    while (core.step()) {
    }
    if (i == 1) {
      EXPECT_GT(core.metrics().spec_num_accepted_tokens, 0);
    }
  }
  ASSERT_EQ(events[0].size(), events[1].size());
  for (size_t t = 0; t < events[0].size(); ++t) {
    EXPECT_EQ(events[1][t].token_id, events[0][t].token_id);
    EXPECT_NEAR(events[1][t].logprob, events[0][t].logprob, 1e-4);
    ASSERT_EQ(events[1][t].top_logprobs.size(), 2u);
  }
}

// Sampling with drafts: every transform on, seeded; runs to max_tokens,
// accepts drafts, and the same seed gives the same tokens again.
TEST(SpeculativeDecoding, SeededSamplingIsReproducibleAndAcceptsDrafts) {
  Request r = request(repetitive_prompt(19, 30), 40);
  r.sampling.temperature = 0.7f;
  r.sampling.top_p = 0.95f;
  r.sampling.top_k = 50;
  r.sampling.presence_penalty = 0.1f;
  r.sampling.has_seed = true;
  r.sampling.seed = 5;
  const EngineRun first = run(engine_config(4), {r}, false);
  const EngineRun second = run(engine_config(4), {r}, false);
  EXPECT_EQ(first.tokens.at(1).size(), 40u);
  EXPECT_EQ(first.tokens, second.tokens);
  EXPECT_GT(first.metrics.spec_num_accepted_tokens, 0);
}

// Forced outputs and KV policies other than none run without drafts.
TEST(SpeculativeDecoding, OffForForcedOutputsAndKvPolicies) {
  const std::vector<int32_t> prompt = repetitive_prompt(17, 20);
  Request forced = request(prompt, 10);
  forced.forced_output_ids = std::vector<int32_t>(prompt.begin(), prompt.begin() + 10);
  Request streaming = request(prompt, 10);
  streaming.kv_policy = KvPolicySpec{KvPolicyKind::kStreaming, 48};
  const EngineRun spec = run(engine_config(4), {forced, streaming}, false);
  EXPECT_EQ(spec.tokens.at(1), forced.forced_output_ids);
  EXPECT_EQ(spec.metrics.spec_num_drafts, 0);
}

TEST(SpeculativeDecoding, ConfigIsValidated) {
  EngineConfig config = engine_config(65);
  EXPECT_THROW(EngineCore(model(), config, [](uint64_t, const TokenEvent&) {}), InvalidArgument);
}

}  // namespace
}  // namespace kvs
