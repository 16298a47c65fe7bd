// Speculative decoding keeps the sampling distribution end to end (engine
// loop, tiny random model, CPU): the three tokens of 6,000 seeded requests
// at temperature 1 with drafts (--speculative-ngram 4) and 6,000 without are
// compared with a two-sample chi-square test at significance 0.001.
// logit_bias puts nearly all mass on three tokens that the prompt repeats, so
// the second token's step verifies a draft that is often accepted (then the
// third is the bonus token) and often not (the third comes from the next step).
#include <cblas.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "engine/loader/loaded_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/llama_model.h"
#include "scheduler/engine_core.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

constexpr int kRequests = 6000;
constexpr double kChiSquare26 = 54.052;  // 26 degrees of freedom (27 cells), p = 0.001

struct Counts {
  std::map<std::vector<int32_t>, int> triples;
  EngineMetrics metrics;
};

Counts run(LlamaModel& model, int64_t speculative) {
  const std::vector<int32_t> tokens{101, 202, 303};
  Request r;
  for (int i = 0; i < 8; ++i) r.prompt_token_ids.insert(r.prompt_token_ids.end(), tokens.begin(), tokens.end());
  r.max_tokens = 3;
  r.sampling.temperature = 1.0f;
  r.sampling.has_seed = true;
  r.sampling.logit_bias = {{101, 30.0f}, {202, 30.0f}, {303, 29.0f}};
  EngineConfig config;
  config.cache.dtype = kernels::KvDType::F32;
  config.cache.memory_bytes = 2048 * KvStorage::bytes_per_block(model.config(), 16, config.cache.dtype);
  config.scheduler.max_num_batched_tokens = 512;
  config.scheduler.max_num_seqs = 64;
  config.scheduler.speculative_ngram = speculative;
  std::map<uint64_t, std::vector<int32_t>> outputs;
  EngineCore core(model, config, [&](uint64_t id, const TokenEvent& event) {
    ASSERT_NE(event.finish_reason, FinishReason::kError) << event.error;
    if (event.token_id >= 0) outputs[id].push_back(event.token_id);
  });
  for (int i = 0; i < kRequests; ++i) {
    r.sampling.seed = static_cast<uint64_t>(i) * 7919 + static_cast<uint64_t>(speculative);
    core.add(static_cast<uint64_t>(i), r);
  }
  while (core.step()) {
  }
  Counts counts;
  for (const auto& [id, out] : outputs) {
    EXPECT_EQ(out.size(), 3u);
    ++counts.triples[out];
  }
  counts.metrics = core.metrics();
  return counts;
}

TEST(SpeculativeSampling, TokensKeepTheirDistribution) {
  const std::string path = test::fixtures_dir() + "/models/tiny-llama";
  if (!std::ifstream(path + "/config.json")) GTEST_SKIP() << "no " << path;
  openblas_set_num_threads(1);
  ModelOptions options;
  options.num_threads = 1;
  LlamaModel model(load_model(path), options);
  const Counts plain = run(model, 0);
  const Counts spec = run(model, 4);
  EXPECT_EQ(plain.metrics.spec_num_drafts, 0);
  ASSERT_GT(spec.metrics.spec_num_drafts, kRequests / 2);
  // Drafts were accepted and rejected in good numbers: both branches are exercised.
  EXPECT_GT(spec.metrics.spec_num_accepted_tokens, kRequests / 10);
  EXPECT_LT(spec.metrics.spec_num_accepted_tokens, spec.metrics.spec_num_drafts * 9 / 10);
  // Two-sample chi-square over the cells either run saw (equal sample sizes).
  std::map<std::vector<int32_t>, std::pair<int, int>> cells;
  for (const auto& [cell, n] : plain.triples) cells[cell].first = n;
  for (const auto& [cell, n] : spec.triples) cells[cell].second = n;
  double statistic = 0.0;
  int64_t sparse = 0;
  for (const auto& [cell, n] : cells) {
    const double a = n.first, b = n.second;
    if (a + b < 10) {
      sparse += static_cast<int64_t>(a + b);
      continue;
    }
    statistic += (a - b) * (a - b) / (a + b);
  }
  EXPECT_LE(cells.size(), 40u);  // the bias keeps the mass on 3 x 3 x 3 triples
  EXPECT_LT(sparse, kRequests / 100);
  EXPECT_LT(statistic, kChiSquare26) << "cells " << cells.size();
}

}  // namespace
}  // namespace kvs
