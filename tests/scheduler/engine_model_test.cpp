// The engine loop on real models on the CPU: batched output equals each
// request alone, prefix sharing computes only the suffix, and a stress run
// with preemption and cancellations matches unpressured output and frees
// every block. References come from engine/model/generate.h (one sequence,
// its own KV storage: no scheduler, no sharing).
#include <cblas.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

#include "engine/errors.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/kv_storage.h"
#include "scheduler/engine_client.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::unique_ptr<LlamaModel> load(const std::string& path, int num_threads = 0) {
  ModelOptions options;
  options.num_threads = num_threads;
  return std::make_unique<LlamaModel>(load_model(path), options);
}

LlamaModel& default_model() {
  static std::unique_ptr<LlamaModel> model = load(test::default_model());
  return *model;
}

LlamaModel& tiny_model() {
  // NOTE: one thread: its matrices are tiny (hidden 64), and OpenMP/OpenBLAS
  // thread hand-offs would dominate each step on a loaded 2-core machine.
  openblas_set_num_threads(1);
  static std::unique_ptr<LlamaModel> model = load(test::fixtures_dir() + "/models/tiny-llama", 1);
  return *model;
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t length, int32_t vocab) {
  std::uniform_int_distribution<int32_t> token(3, vocab - 1);
  std::vector<int32_t> prompt(static_cast<size_t>(length));
  for (int32_t& t : prompt) t = token(rng);
  return prompt;
}

// Greedy tokens of one request run alone.
std::vector<int32_t> alone(LlamaModel& model, const Request& request, kernels::KvDType dtype) {
  GenerateOptions options;
  options.max_tokens = request.max_tokens;
  options.stop_token_ids = request.stop_token_ids;
  options.kv_dtype = dtype;
  return generate(model, request.prompt_token_ids, options).tokens;
}

EngineConfig engine_config(LlamaModel& model, int64_t num_blocks, kernels::KvDType dtype, int64_t budget) {
  EngineConfig config;
  config.cache.dtype = dtype;
  config.cache.memory_bytes = num_blocks * KvStorage::bytes_per_block(model.config(), 16, dtype);
  config.scheduler.max_num_batched_tokens = budget;
  config.scheduler.max_num_seqs = 64;
  return config;
}

struct Collected {
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::kNone;
  RequestStats stats;
};

Collected collect(RequestHandle& handle) {
  Collected c;
  TokenEvent event;
  while (handle.next(event)) {
    if (event.token_id >= 0) c.tokens.push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone) {
      c.reason = event.finish_reason;
      c.stats = event.stats;
    }
  }
  return c;
}

// Acceptance 2: 32 concurrent greedy requests of mixed lengths, F16 (default) and F32 caches.
void check_concurrent_matches_alone(kernels::KvDType dtype) {
  LlamaModel& model = default_model();
  std::mt19937 rng(32);
  std::vector<Request> requests(32);
  for (Request& r : requests) {
    r.prompt_token_ids = random_prompt(rng, std::uniform_int_distribution<int64_t>(2, 90)(rng), 49152);
    r.max_tokens = std::uniform_int_distribution<int64_t>(1, 12)(rng);
  }
  // NOTE: references first: the engine thread owns the model while it runs.
  std::vector<std::vector<int32_t>> expected;
  for (const Request& r : requests) expected.push_back(alone(model, r, dtype));
  EngineClient engine(model, engine_config(model, 512, dtype, 128));
  std::vector<RequestHandle> handles;
  for (const Request& r : requests) handles.push_back(engine.submit(r));
  for (size_t i = 0; i < requests.size(); ++i) {
    const Collected got = collect(handles[i]);
    EXPECT_EQ(got.tokens, expected[i]) << "request " << i;
    EXPECT_EQ(got.reason, FinishReason::kLength);
  }
  engine.wait_until_idle();
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_GT(m.num_steps, 0);
  // Batching happened: fewer steps than tokens sampled.
  EXPECT_LT(m.num_steps, m.total_sampled_tokens);
}

TEST(EngineModel, ConcurrentGreedyMatchesAloneF16Cache) { check_concurrent_matches_alone(kernels::KvDType::F16); }
TEST(EngineModel, ConcurrentGreedyMatchesAloneF32Cache) { check_concurrent_matches_alone(kernels::KvDType::F32); }

// Acceptance 3: a 512-token shared prefix is computed once.
TEST(EngineModel, SharedPrefixComputesOnlyTheSuffix) {
  LlamaModel& model = default_model();
  std::mt19937 rng(3);
  const std::vector<int32_t> prefix = random_prompt(rng, 512, 49152);
  Request first, second;
  first.prompt_token_ids = prefix;
  first.prompt_token_ids.push_back(1000);
  first.prompt_token_ids.push_back(1001);
  second.prompt_token_ids = prefix;
  for (int32_t t : {2000, 2001, 2002, 2003, 2004}) second.prompt_token_ids.push_back(t);
  first.max_tokens = second.max_tokens = 6;
  const std::vector<int32_t> expected_first = alone(model, first, kernels::KvDType::F16);
  const std::vector<int32_t> expected_second = alone(model, second, kernels::KvDType::F16);
  EngineClient engine(model, engine_config(model, 128, kernels::KvDType::F16, 512));
  RequestHandle a = engine.submit(first);
  const Collected got_first = collect(a);
  RequestHandle b = engine.submit(second);
  const Collected got_second = collect(b);
  EXPECT_EQ(got_first.stats.num_cached_prompt_tokens, 0);
  EXPECT_EQ(got_second.stats.num_cached_prompt_tokens, 512);
  // Suffix (5) + the 5 generated tokens that were fed back (the 6th is never computed).
  EXPECT_EQ(got_second.stats.num_computed_tokens, 5 + 5);
  EXPECT_EQ(got_first.stats.num_computed_tokens, 514 + 5);
  EXPECT_EQ(got_second.tokens, expected_second);
  EXPECT_EQ(got_first.tokens, expected_first);
  engine.wait_until_idle();
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.prefix_hit_tokens, 512);
  EXPECT_EQ(m.prefix_query_tokens, 514 + 517);
  EXPECT_EQ(m.kv_blocks_used, 0);
}

TEST(EngineModel, OversizeRequestIsRejectedAtOnce) {
  LlamaModel& model = default_model();
  EngineClient engine(model, engine_config(model, 4, kernels::KvDType::F16, 64));
  Request r;
  r.prompt_token_ids.assign(60, 100);
  r.max_tokens = 10;  // 69 cached tokens > 64 slots
  try {
    engine.submit(r);
    FAIL() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("KV blocks"), std::string::npos) << e.what();
  }
  r.max_tokens = 9000;
  EXPECT_THROW(engine.submit(r), InvalidArgument);
}

// A model with sliding-window layers (Gemma 3) runs with KV policy none only:
// a request asking for another is refused at submit, in the caller's thread
// (HTTP 400, gRPC INVALID_ARGUMENT), and nothing is queued; policy none runs.
TEST(EngineModel, WindowModelRefusesAKvPolicyAtSubmit) {
  const std::string path = test::source_dir() + "/models/gemma-3-270m-q4_k_m.gguf";
  if (!std::ifstream(path)) GTEST_SKIP() << "no " << path << " (scripts/fetch-model.sh gemma3-270m)";
  auto model = load(path);
  ASSERT_GT(model->config().sliding_window, 0);
  EngineClient engine(*model, engine_config(*model, 8, kernels::KvDType::F16, 64));
  Request r;
  r.prompt_token_ids = {2, 818, 5279, 529, 7001, 563};
  r.max_tokens = 2;
  r.kv_policy = KvPolicySpec{KvPolicyKind::kStreaming, 64};
  try {
    engine.submit(r);
    FAIL() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("sliding-window"), std::string::npos) << e.what();
  }
  EXPECT_EQ(engine.metrics().num_waiting + engine.metrics().num_running, 0);
  r.kv_policy = KvPolicySpec{KvPolicyKind::kNone, 0};
  RequestHandle handle = engine.submit(r);
  const Collected got = collect(handle);
  EXPECT_EQ(got.reason, FinishReason::kLength);
  EXPECT_EQ(got.tokens, alone(*model, r, kernels::KvDType::F16));
}

// Acceptance 4: many requests, random lengths and cancellations, a pool that
// forces preemption. Every completed request equals its output alone, every
// cancelled one is a prefix of it, and no block stays in use.
void stress(LlamaModel& model, int num_requests, int64_t num_blocks, int64_t max_prompt, int64_t max_new,
            kernels::KvDType dtype, uint32_t seed) {
  std::mt19937 rng(seed);
  const int32_t vocab = static_cast<int32_t>(model.config().vocab_size);
  // A few shared prefixes so the prefix cache is exercised under eviction too.
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 4; ++i) prefixes.push_back(random_prompt(rng, 32, vocab));
  std::vector<Request> requests(static_cast<size_t>(num_requests));
  for (Request& r : requests) {
    r.prompt_token_ids = random_prompt(rng, std::uniform_int_distribution<int64_t>(1, max_prompt)(rng), vocab);
    if (rng() % 3 == 0) {
      const std::vector<int32_t>& prefix = prefixes[rng() % prefixes.size()];
      r.prompt_token_ids.insert(r.prompt_token_ids.begin(), prefix.begin(), prefix.end());
    }
    r.max_tokens = std::uniform_int_distribution<int64_t>(1, max_new)(rng);
    r.priority = static_cast<int32_t>(rng() % 3);
    r.stop_token_ids = {2};
  }
  std::vector<std::vector<int32_t>> expected;
  for (const Request& r : requests) expected.push_back(alone(model, r, dtype));
  EngineConfig config = engine_config(model, num_blocks, dtype, 64);
  config.scheduler.max_num_seqs = 32;
  config.scheduler.aging_steps = 50;
  EngineClient engine(model, config);
  std::vector<RequestHandle> handles;
  std::vector<bool> cancelled(requests.size(), false);
  for (size_t i = 0; i < requests.size(); ++i) {
    handles.push_back(engine.submit(requests[i]));
    if (rng() % 10 == 0) {  // cancel a random earlier request, wherever it is by now
      const size_t victim = rng() % (i + 1);
      handles[victim].cancel();
      cancelled[victim] = true;
    }
  }
  int num_completed = 0, num_cancelled = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const Collected got = collect(handles[i]);
    if (got.reason == FinishReason::kCancelled) {
      ASSERT_TRUE(cancelled[i]) << i;
      ASSERT_LE(got.tokens.size(), expected[i].size()) << i;
      EXPECT_TRUE(std::equal(got.tokens.begin(), got.tokens.end(), expected[i].begin())) << i;
      ++num_cancelled;
    } else {
      ASSERT_NE(got.reason, FinishReason::kError) << i;
      EXPECT_EQ(got.tokens, expected[i]) << "request " << i << " preempted " << got.stats.num_preemptions;
      ++num_completed;
    }
  }
  engine.wait_until_idle();
  const EngineMetrics m = engine.metrics();
  EXPECT_GT(m.num_preemptions, 0);
  EXPECT_GT(num_cancelled, 0);
  EXPECT_GT(m.prefix_hit_tokens, 0);
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.num_running + m.num_waiting, 0);
  std::printf("stress: %d completed, %d cancelled, %lld preemptions, %lld steps, prefix hits %lld / %lld tokens\n",
              num_completed, num_cancelled, static_cast<long long>(m.num_preemptions),
              static_cast<long long>(m.num_steps), static_cast<long long>(m.prefix_hit_tokens),
              static_cast<long long>(m.prefix_query_tokens));
}

// The bulk: 2,000 requests on the tiny fixture model (F32 weights, 3 layers).
TEST(EngineModel, StressTinyModel2000Requests) {
  stress(tiny_model(), 2000, 24, 40, 24, kernels::KvDType::F16, 4);
}

// A smaller portion on the real default model.
TEST(EngineModel, StressDefaultModel) { stress(default_model(), 120, 12, 30, 8, kernels::KvDType::F16, 5); }

}  // namespace
}  // namespace kvs
