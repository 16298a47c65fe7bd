// The engine loop (scheduler, KV manager: single) over a tensor-parallel
// model: concurrent requests, prefix sharing and a pool that forces
// preemption give the same greedy tokens as the whole model, and every block
// is free afterwards. Block ids are shared by all ranks' KV shards.
#include <cblas.h>
#include <gtest/gtest.h>

#include <random>

#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/tensor_parallel_model.h"
#include "scheduler/engine_client.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::vector<int32_t> collect(RequestHandle& handle) {
  std::vector<int32_t> tokens;
  TokenEvent event;
  while (handle.next(event)) {
    if (event.token_id >= 0) tokens.push_back(event.token_id);
  }
  return tokens;
}

TEST(TensorParallelEngine, ConcurrentRequestsWithSharedPrefixesAndPreemptionMatchTheWholeModel) {
  openblas_set_num_threads(1);
  ModelOptions options;
  options.num_threads = 1;
  const auto loaded = load_model(test::fixtures_dir() + "/models/tiny-llama");
  LlamaModel whole(loaded, options);
  TensorParallelModel sharded(loaded, options, 4);  // 2 KV heads over 4 ranks: replicated KV shards

  std::mt19937 rng(4);
  std::uniform_int_distribution<int32_t> token(3, 511);
  std::vector<int32_t> prefix(40);
  for (int32_t& t : prefix) t = token(rng);
  std::vector<Request> requests(24);
  for (size_t i = 0; i < requests.size(); ++i) {
    Request& r = requests[i];
    if (i % 2 == 0) r.prompt_token_ids = prefix;
    const int extra = std::uniform_int_distribution<int>(1, 30)(rng);
    for (int k = 0; k < extra; ++k) r.prompt_token_ids.push_back(token(rng));
    r.max_tokens = std::uniform_int_distribution<int64_t>(1, 20)(rng);
  }
  std::vector<std::vector<int32_t>> expected;
  GenerateOptions alone;
  alone.kv_dtype = kernels::KvDType::F16;
  for (const Request& r : requests) {
    alone.max_tokens = r.max_tokens;
    expected.push_back(generate(whole, r.prompt_token_ids, alone).tokens);
  }

  EngineConfig config;
  config.cache.block_size = 16;
  // 20 blocks of 16 tokens across all ranks: fewer than the requests need at
  // once, so the scheduler preempts.
  config.cache.memory_bytes = 20 * KvStorage::bytes_per_block(loaded->config, 16, kernels::KvDType::F16, 4);
  config.scheduler.max_num_batched_tokens = 64;
  config.scheduler.max_num_seqs = 16;
  EngineClient engine(sharded, config);
  EXPECT_EQ(engine.num_kv_blocks(), 20);
  std::vector<RequestHandle> handles;
  for (const Request& r : requests) handles.push_back(engine.submit(r));
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(collect(handles[i]), expected[i]) << "request " << i;
  engine.wait_until_idle();
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_GT(m.prefix_hit_tokens, 0);
  EXPECT_GT(m.num_preemptions, 0);
}

}  // namespace
}  // namespace kvs
