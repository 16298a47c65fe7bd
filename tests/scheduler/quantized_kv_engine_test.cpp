// The quantized KV cache (q8_0, q4_0) in the engine loop on the default model
// (CPU): every KV policy runs with it, residual recompute writes the same
// quantized bytes (token-identical to the full quantized cache), a prefix-
// cache hit equals a cold run, compaction moves whole quantized rows, and
// dtypes the CPU engine cannot run are refused at start.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "engine/errors.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "scheduler/engine_core.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

using kernels::KvDType;

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

EngineConfig engine_config(KvDType dtype, int64_t num_blocks = 128) {
  EngineConfig config;
  config.cache.dtype = dtype;
  config.cache.memory_bytes = num_blocks * KvStorage::bytes_per_block(model().config(), 16, dtype);
  config.scheduler.max_num_batched_tokens = 64;
  return config;
}

struct EngineRun {
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, RequestStats> stats;
  EngineMetrics metrics;
};

// Runs the requests one after another in one engine (ids 1, 2, ...), each to
// completion before the next is added.
EngineRun run_in_turn(KvDType dtype, const std::vector<Request>& requests) {
  EngineRun result;
  EngineCore core(model(), engine_config(dtype), [&](uint64_t id, const TokenEvent& event) {
    ASSERT_NE(event.finish_reason, FinishReason::kError) << event.error;
    if (event.token_id >= 0) result.tokens[id].push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone) result.stats[id] = event.stats;
  });
  for (size_t i = 0; i < requests.size(); ++i) {
    core.add(i + 1, requests[i]);
    while (core.step()) {
    }
  }
  result.metrics = core.metrics();
  return result;
}

class QuantizedKvEngineTest : public ::testing::TestWithParam<KvDType> {};

TEST_P(QuantizedKvEngineTest, EveryPolicyRunsAndResidualEqualsTheFullQuantizedCache) {
  const KvDType dtype = GetParam();
  const std::vector<int32_t> prompt = random_prompt(31, 100);
  const EngineRun full = run_in_turn(dtype, {request(prompt, 24, KvPolicyKind::kNone, 0)});
  ASSERT_EQ(full.tokens.at(1).size(), 24u);
  EXPECT_EQ(full.metrics.kv_cache_dtype, kernels::kv_dtype_name(dtype));
  EXPECT_EQ(full.metrics.kv_cache_bytes_per_token,
            2 * model().config().num_layers * kernels::kv_row_bytes(dtype, model().config().num_kv_heads * model().config().head_dim));
  for (KvPolicyKind kind : {KvPolicyKind::kStreaming, KvPolicyKind::kH2O, KvPolicyKind::kSnapKV,
                            KvPolicyKind::kKeyformer, KvPolicyKind::kResidual}) {
    const EngineRun r = run_in_turn(dtype, {request(prompt, 24, kind, 32)});
    ASSERT_EQ(r.tokens.at(1).size(), 24u) << kv_policy_name(kind);
    EXPECT_GE(r.stats.at(1).num_evicted_tokens, 100 - 32) << kv_policy_name(kind);
    EXPECT_EQ(r.metrics.kv_blocks_used, 0) << kv_policy_name(kind);
    if (kind == KvPolicyKind::kResidual) {
      // Recompute writes the bytes write_kv stored: the same tokens as the full cache.
      EXPECT_GT(r.stats.at(1).num_recomputed_tokens, 0);
      EXPECT_EQ(r.tokens.at(1), full.tokens.at(1));
    }
  }
}

TEST_P(QuantizedKvEngineTest, PrefixCacheHitEqualsAColdRun) {
  const KvDType dtype = GetParam();
  const std::vector<int32_t> prompt = random_prompt(41, 70);
  const EngineRun cold = run_in_turn(dtype, {request(prompt, 16, KvPolicyKind::kNone, 0)});
  const EngineRun warm = run_in_turn(dtype, {request(prompt, 16, KvPolicyKind::kNone, 0),
                                             request(prompt, 16, KvPolicyKind::kNone, 0)});
  EXPECT_GE(warm.metrics.prefix_hit_tokens, 64);  // the second request reused the first's full blocks
  EXPECT_EQ(warm.tokens.at(1), cold.tokens.at(1));
  EXPECT_EQ(warm.tokens.at(2), cold.tokens.at(1));
}

TEST_P(QuantizedKvEngineTest, CompactionMovesWholeQuantizedRows) {
  const KvDType dtype = GetParam();
  const ModelConfig& c = model().config();
  KvStorage storage(c, 4, 16, dtype);
  const int64_t width = c.num_kv_heads * c.head_dim;
  ASSERT_EQ(storage.row_bytes(), kernels::kv_row_bytes(dtype, width));
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  std::vector<float> rows(static_cast<size_t>(64 * width));
  for (float& x : rows) x = dist(rng);
  std::vector<int32_t> slots(64);
  for (int32_t i = 0; i < 64; ++i) slots[static_cast<size_t>(i)] = i;
  for (int64_t layer = 0; layer < storage.num_layers(); ++layer) {
    ASSERT_TRUE(kernels::write_kv(storage.layer(layer), rows.data(), width, rows.data() + width, width, slots.data(), 63).ok());
  }
  const auto row_at = [&](int64_t layer, bool key, int64_t slot) {
    const kernels::PagedKvLayer l = storage.layer(layer);
    return static_cast<const uint8_t*>(key ? l.k : l.v) + slot * storage.row_bytes();
  };
  std::vector<uint8_t> expected_k(static_cast<size_t>(storage.row_bytes())), expected_v(expected_k.size());
  std::memcpy(expected_k.data(), row_at(7, true, 50), expected_k.size());
  std::memcpy(expected_v.data(), row_at(7, false, 50), expected_v.size());
  storage.copy_slots({{50, 3}, {3, 60}});  // in order: 50 -> 3, then the new 3 -> 60
  for (int64_t slot : {3, 60}) {
    EXPECT_EQ(0, std::memcmp(row_at(7, true, slot), expected_k.data(), expected_k.size())) << slot;
    EXPECT_EQ(0, std::memcmp(row_at(7, false, slot), expected_v.data(), expected_v.size())) << slot;
  }
  EXPECT_NE(0, std::memcmp(row_at(7, true, 4), expected_k.data(), expected_k.size()));
}

// f32 too, so every CPU dtype x policy is run here (f16: kv_compression_test.cpp).
INSTANTIATE_TEST_SUITE_P(Dtypes, QuantizedKvEngineTest, ::testing::Values(KvDType::Q8_0, KvDType::Q4_0, KvDType::F32),
                         [](const ::testing::TestParamInfo<KvDType>& info) { return std::string(kernels::kv_dtype_name(info.param)); });

TEST(QuantizedKvEngineStartTest, CudaOnlyDtypesAreRefusedWithAClearError) {
  for (KvDType dtype : {KvDType::BF16, KvDType::FP8_E4M3}) {
    try {
      EngineConfig config = engine_config(KvDType::F16);
      config.cache.dtype = dtype;
      EngineCore refused(model(), config, [](uint64_t, const TokenEvent&) {});
      ADD_FAILURE() << kernels::kv_dtype_name(dtype) << " was accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("needs the CUDA engine"), std::string::npos) << e.what();
    }
  }
}

// A model whose head_dim is not whole 32-value blocks (the check only reads
// the config; forward is never reached).
class OddHeadModel : public ForwardModel {
 public:
  OddHeadModel() { config_.head_dim = 48; }
  const ModelConfig& config() const override { return config_; }
  std::vector<float> forward(const ForwardBatch&, KvStorage&, ForwardSideOutputs*) override {
    throw Error("not run");
  }

 private:
  ModelConfig config_;
};

TEST(QuantizedKvEngineStartTest, QuantizedDtypesNeedWholeBlocksPerHead) {
  const OddHeadModel odd;
  EXPECT_EQ(odd.kv_dtype_error(KvDType::F16), "");
  EXPECT_EQ(odd.kv_dtype_error(KvDType::F32), "");
  for (KvDType dtype : {KvDType::Q8_0, KvDType::Q4_0}) {
    const std::string error = odd.kv_dtype_error(dtype);
    EXPECT_NE(error.find("head_dim is 48"), std::string::npos) << error;
  }
  EXPECT_EQ(model().kv_dtype_error(KvDType::Q8_0), "");  // head_dim 64
  EXPECT_EQ(model().kv_dtype_error(KvDType::Q4_0), "");
}

}  // namespace
}  // namespace kvs
