// KV compression in the engine loop on the default model (CPU): residual
// recompute is token-identical to the full cache, every policy gives the same
// tokens in a mixed batch as alone, compaction returns blocks to the pool,
// and prefix-shared blocks stay intact for the other sequences.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>

#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "scheduler/engine_core.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

LlamaModel& model() {
  static std::unique_ptr<LlamaModel> m = std::make_unique<LlamaModel>(load_model(test::default_model()), ModelOptions{});
  return *m;
}

std::vector<int32_t> random_prompt(uint32_t seed, int64_t length) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(100, 20000);
  std::vector<int32_t> prompt(static_cast<size_t>(length));
  for (int32_t& t : prompt) t = token(rng);
  return prompt;
}

Request request(const std::vector<int32_t>& prompt, int64_t max_tokens, KvPolicyKind kind, double budget) {
  Request r;
  r.prompt_token_ids = prompt;
  r.max_tokens = max_tokens;
  if (kind != KvPolicyKind::kNone) r.kv_policy = KvPolicySpec{kind, budget};
  return r;
}

struct EngineRun {
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, RequestStats> stats;
  int64_t max_blocks_used = 0;
  int64_t blocks_used_at_end = -1;
  EngineMetrics metrics;
};

// Runs the requests together in one engine (ids 1, 2, ...).
EngineRun run(const std::vector<Request>& requests, int64_t num_blocks = 256, int64_t step_tokens = 64,
              ResidualCheckpoints::DType checkpoint_dtype = ResidualCheckpoints::DType::F32) {
  EngineConfig config;
  config.residual_checkpoint_dtype = checkpoint_dtype;
  config.cache.memory_bytes = num_blocks * KvStorage::bytes_per_block(model().config(), 16, kernels::KvDType::F16);
  config.scheduler.max_num_batched_tokens = step_tokens;
  EngineRun result;
  EngineCore core(model(), config, [&](uint64_t id, const TokenEvent& event) {
    ASSERT_NE(event.finish_reason, FinishReason::kError) << event.error;
    if (event.token_id >= 0) result.tokens[id].push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone) result.stats[id] = event.stats;
  });
  for (size_t i = 0; i < requests.size(); ++i) core.add(i + 1, requests[i]);
  while (core.step()) {
    result.max_blocks_used = std::max(result.max_blocks_used, core.kv_cache().num_used_blocks());
  }
  result.blocks_used_at_end = core.kv_cache().num_used_blocks();
  result.metrics = core.metrics();
  return result;
}

std::vector<int32_t> alone(const Request& r) { return run({r}).tokens.at(1); }

TEST(KvCompressionTest, ResidualIsTokenIdenticalToTheFullCache) {
  const std::vector<int32_t> prompt = random_prompt(7, 90);
  const std::vector<int32_t> full = alone(request(prompt, 40, KvPolicyKind::kNone, 0));
  for (double budget : {0.1, 0.25, 0.5, 16.0}) {
    const EngineRun r = run({request(prompt, 40, KvPolicyKind::kResidual, budget)});
    EXPECT_EQ(r.tokens.at(1), full) << "budget " << budget;
    EXPECT_GT(r.stats.at(1).num_evicted_tokens, 0) << "budget " << budget;
    EXPECT_GT(r.stats.at(1).num_recomputed_tokens, 0) << "budget " << budget;
    EXPECT_EQ(r.blocks_used_at_end, 0);
  }
}

// Half-precision checkpoints: recompute runs from rounded rows, so output may
// drift from the full cache; the token match is measured (and printed) here
// and in docs/kv-compression.md, not assumed.
TEST(KvCompressionTest, ResidualWithHalfCheckpointsRecomputesFromHalfRows) {
  const std::vector<int32_t> prompt = random_prompt(7, 90);
  const std::vector<int32_t> full = alone(request(prompt, 40, KvPolicyKind::kNone, 0));
  const EngineRun r = run({request(prompt, 40, KvPolicyKind::kResidual, 0.25)}, 256, 64, ResidualCheckpoints::DType::F16);
  ASSERT_EQ(r.tokens.at(1).size(), full.size());
  EXPECT_GT(r.stats.at(1).num_recomputed_tokens, 0);
  EXPECT_EQ(r.blocks_used_at_end, 0);
  size_t same = 0;
  while (same < full.size() && r.tokens.at(1)[same] == full[same]) ++same;
  std::printf("f16 checkpoints: first %zu of %zu greedy tokens equal the full cache's\n", same, full.size());
}

TEST(KvCompressionTest, EvictionPoliciesBoundTheCacheAndFreeBlocks) {
  const std::vector<int32_t> prompt = random_prompt(11, 120);
  const EngineRun full = run({request(prompt, 60, KvPolicyKind::kNone, 0)});
  for (KvPolicyKind kind : {KvPolicyKind::kStreaming, KvPolicyKind::kH2O, KvPolicyKind::kKeyformer, KvPolicyKind::kSnapKV}) {
    const EngineRun r = run({request(prompt, 60, kind, 32)});
    EXPECT_EQ(r.tokens.at(1).size(), 60u) << kv_policy_name(kind);
    EXPECT_GE(r.stats.at(1).num_evicted_tokens, 120 - 32) << kv_policy_name(kind);
    EXPECT_LT(r.max_blocks_used, full.max_blocks_used) << kv_policy_name(kind);
    EXPECT_EQ(r.blocks_used_at_end, 0) << kv_policy_name(kind);
    EXPECT_EQ(r.metrics.kv_policies[static_cast<size_t>(kind)].evicted_tokens, r.stats.at(1).num_evicted_tokens);
  }
}

TEST(KvCompressionTest, MixedBatchOfPoliciesEqualsEachAlone) {
  std::vector<Request> requests;
  const std::vector<std::pair<KvPolicyKind, double>> policies = {
      {KvPolicyKind::kNone, 0},       {KvPolicyKind::kStreaming, 24}, {KvPolicyKind::kH2O, 0.25},
      {KvPolicyKind::kSnapKV, 0.5},   {KvPolicyKind::kKeyformer, 24}, {KvPolicyKind::kResidual, 0.1},
      {KvPolicyKind::kH2O, 40},       {KvPolicyKind::kResidual, 20}};
  for (size_t i = 0; i < policies.size(); ++i) {
    requests.push_back(request(random_prompt(100 + static_cast<uint32_t>(i), 40 + 13 * static_cast<int64_t>(i)), 32,
                               policies[i].first, policies[i].second));
  }
  const EngineRun together = run(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(together.tokens.at(i + 1), alone(requests[i])) << "request " << i << " ("
                                                             << kv_policy_name(policies[i].first) << ")";
  }
  EXPECT_EQ(together.blocks_used_at_end, 0);
}

TEST(KvCompressionTest, CompactionNeverCorruptsSharedPrefixBlocks) {
  // Two requests share a 64-token prefix; the first compresses hard, the
  // second runs with the full cache and must equal its output alone.
  std::vector<int32_t> shared = random_prompt(21, 64);
  std::vector<int32_t> a = shared, b = shared;
  const std::vector<int32_t> tail_a = random_prompt(22, 10), tail_b = random_prompt(23, 12);
  a.insert(a.end(), tail_a.begin(), tail_a.end());
  b.insert(b.end(), tail_b.begin(), tail_b.end());
  const Request first = request(a, 40, KvPolicyKind::kH2O, 16);
  const Request second = request(b, 40, KvPolicyKind::kNone, 0);
  const std::vector<int32_t> second_alone = alone(second);
  // The first runs alone a while (its prompt blocks enter the prefix cache),
  // then the second arrives and shares them.
  EngineConfig config;
  config.cache.memory_bytes = 64 * KvStorage::bytes_per_block(model().config(), 16, kernels::KvDType::F16);
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, RequestStats> stats;
  EngineCore core(model(), config, [&](uint64_t id, const TokenEvent& event) {
    if (event.token_id >= 0) tokens[id].push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone) stats[id] = event.stats;
  });
  core.add(1, first);
  for (int i = 0; i < 3; ++i) core.step();
  core.add(2, second);
  while (core.step()) {
  }
  EXPECT_EQ(tokens.at(2), second_alone);
  EXPECT_GT(stats.at(1).num_evicted_tokens, 0);
  EXPECT_GT(stats.at(2).num_cached_prompt_tokens, 0);
  EXPECT_EQ(core.kv_cache().num_used_blocks(), 0);
}

}  // namespace
}  // namespace kvs
