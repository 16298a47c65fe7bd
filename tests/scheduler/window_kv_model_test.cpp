// Sliding-window block freeing on the real Gemma 3 270M (window 512, 3 global
// layers of 18), F16 cache, chunked prefill: greedy output with window layers
// releasing their blocks is token-identical to output with one table for all
// layers, for a 768-token prompt (128-token chunks, the last one past the window) and for a request that takes it as a
// prefix-cache hit; the window groups hold about a window, not the context.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "scheduler/engine_core.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

struct Outcome {
  std::map<uint64_t, std::vector<int32_t>> tokens;
  int64_t max_window_blocks = 0;  // most blocks window groups held after a step
  int64_t max_full_blocks = 0;
  int64_t num_layers_per_block = 0;
  int64_t released = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t blocks_used_at_end = -1;
};

// Runs `requests` one after the other (each to its end) on one engine.
Outcome run(LlamaModel& model, const std::vector<Request>& requests, bool free_window_blocks) {
  EngineConfig config;
  config.cache.dtype = kernels::KvDType::F16;
  config.cache.memory_bytes = 256 * KvStorage::bytes_per_block(model.config(), 16, kernels::KvDType::F16);
  config.cache.free_window_blocks = free_window_blocks;
  config.scheduler.max_num_batched_tokens = 128;  // the chunk at 640 reads from 129: 8 blocks go before it
  Outcome outcome;
  EngineCore core(model, config, [&](uint64_t id, const TokenEvent& event) {
    if (event.token_id >= 0) outcome.tokens[id].push_back(event.token_id);
  });
  for (size_t i = 0; i < requests.size(); ++i) {
    core.add(i + 1, requests[i]);
    while (core.step()) {
      const EngineMetrics m = core.metrics();
      outcome.max_window_blocks = std::max(outcome.max_window_blocks, m.kv_blocks_used_window);
      outcome.max_full_blocks = std::max(outcome.max_full_blocks, m.kv_blocks_used_full);
    }
  }
  const EngineMetrics m = core.metrics();
  outcome.num_layers_per_block = m.kv_layers_per_block;
  outcome.released = m.kv_window_released_blocks;
  outcome.prefix_hit_tokens = m.prefix_hit_tokens;
  outcome.blocks_used_at_end = m.kv_blocks_used;
  return outcome;
}

TEST(WindowKvModel, Gemma3WindowFreeingIsTokenIdentical) {
  const std::string path = test::source_dir() + "/models/gemma-3-270m-q4_k_m.gguf";
  if (!std::ifstream(path)) GTEST_SKIP() << "no " << path << " (scripts/fetch-model.sh gemma3-270m)";
  ModelOptions options;
  LlamaModel model(load_model(path), options);
  ASSERT_EQ(model.config().sliding_window, 512);
  std::mt19937 rng(19);
  std::uniform_int_distribution<int32_t> token(1000, 200000);
  Request first;
  first.prompt_token_ids = {2};  // BOS, then 767 random tokens
  for (int i = 0; i < 767; ++i) first.prompt_token_ids.push_back(token(rng));
  first.max_tokens = 6;
  Request second = first;  // the same 768 tokens and 16 more: a prefix hit past the window
  for (int i = 0; i < 16; ++i) second.prompt_token_ids.push_back(token(rng));
  const std::vector<Request> requests{first, second};

  const Outcome one_table = run(model, requests, false);
  const Outcome windows = run(model, requests, true);
  ASSERT_EQ(one_table.tokens.size(), 2u);
  EXPECT_EQ(windows.tokens.at(1), one_table.tokens.at(1));
  EXPECT_EQ(windows.tokens.at(2), one_table.tokens.at(2));
  EXPECT_EQ(windows.tokens.at(1).size(), 6u);
  // Both took the same prefix hit (every group's blocks were still cached).
  EXPECT_EQ(windows.prefix_hit_tokens, one_table.prefix_hit_tokens);
  EXPECT_EQ(windows.prefix_hit_tokens, 768);
  // One table: 18 layers per block, nothing released. Window groups: 3 layers
  // per block; each of the 5 window groups holds at most a window plus a
  // chunk (ceil((511 + 128) / 16) + 1 = 41 blocks), not the 50 of 789 entries.
  EXPECT_EQ(one_table.num_layers_per_block, 18);
  EXPECT_EQ(one_table.released, 0);
  EXPECT_EQ(one_table.max_window_blocks, 0);
  EXPECT_EQ(windows.num_layers_per_block, 3);
  EXPECT_GT(windows.released, 0);
  EXPECT_LE(windows.max_window_blocks, 5 * 41);
  EXPECT_EQ(windows.max_full_blocks, 50);  // 789 entries of request 2 (790 tokens, the last one never cached)
  EXPECT_EQ(windows.blocks_used_at_end, 0);
  EXPECT_EQ(one_table.blocks_used_at_end, 0);
}

}  // namespace
}  // namespace kvs
