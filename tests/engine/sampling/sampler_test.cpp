// Greedy decoding, determinism and error handling of Sampler.
#include "engine/sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/errors.h"

namespace kvs {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

int32_t sample_once(Sampler& sampler, std::vector<float> logits) {
  return sampler.sample(logits.data(), static_cast<int64_t>(logits.size()), {}, {});
}

std::vector<float> random_row(std::mt19937& rng, size_t vocab_size) {
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> row(vocab_size);
  for (float& logit : row) logit = normal(rng);
  return row;
}

TEST(Sampler, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler sampler(SamplingParams{}, 7);
  EXPECT_EQ(sample_once(sampler, {0.1f, 2.0f, -1.0f, 1.9f}), 1);
  EXPECT_EQ(sample_once(sampler, {1.0f, 3.0f, 3.0f, 3.0f}), 1);
  EXPECT_EQ(sample_once(sampler, {-kInf, -kInf, -5.0f}), 2);
  EXPECT_EQ(sample_once(sampler, {std::nanf(""), 1.0f, 0.5f}), 1);
}

TEST(Sampler, TinyTemperatureIsGreedy) {
  SamplingParams params;
  params.temperature = 1e-6f;
  Sampler sampler(params, 7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sample_once(sampler, {1.0f, 1.0f + 1e-4f, 0.0f}), 1);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  std::mt19937 rng(3);
  SamplingParams params;
  params.temperature = 1.5f;
  params.top_k = 1;
  Sampler top1(params, 11);
  Sampler greedy(SamplingParams{}, 11);
  for (int i = 0; i < 200; ++i) {
    std::vector<float> row = random_row(rng, 1000);
    if (i % 10 == 0) row[i] = row[i + 1] = 50.0f;  // a tie at the top: lower id wins
    EXPECT_EQ(sample_once(top1, row), sample_once(greedy, row));
  }
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_p = 0.95f;
  params.has_seed = true;
  params.seed = 1234;
  std::mt19937 rng(5);
  const std::vector<float> row = random_row(rng, 5000);  // flat enough that draws vary
  auto run = [&](const SamplingParams& p, uint64_t fallback) {
    Sampler sampler(p, fallback);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 64; ++i) tokens.push_back(sample_once(sampler, row));
    return tokens;
  };
  const auto first = run(params, 1);
  EXPECT_EQ(first, run(params, 2));  // the fallback seed is unused when has_seed
  SamplingParams other = params;
  other.seed = 1235;
  EXPECT_NE(first, run(other, 1));
  // Without a seed, the fallback seeds the RNG.
  SamplingParams unseeded = params;
  unseeded.has_seed = false;
  EXPECT_EQ(run(unseeded, 1234), first);
  EXPECT_NE(run(unseeded, 99), first);
}

TEST(Sampler, TemperatureScalesLogitsInPlace) {
  SamplingParams params;
  params.temperature = 2.0f;
  Sampler sampler(params, 0);
  std::vector<float> logits = {4.0f, -2.0f, 1.0f};
  sampler.sample(logits.data(), 3, {}, {});
  EXPECT_EQ(logits, (std::vector<float>{2.0f, -1.0f, 0.5f}));
}

TEST(Sampler, MaskedAndNaNTokensAreNeverSampled) {
  SamplingParams params;
  params.temperature = 1.0f;
  Sampler sampler(params, 9);
  for (int i = 0; i < 2000; ++i) {
    const int32_t token = sample_once(sampler, {-kInf, 0.0f, std::nanf(""), 0.0f, -kInf});
    EXPECT_TRUE(token == 1 || token == 3) << token;
  }
}

TEST(Sampler, RowWithNothingToSampleThrows) {
  SamplingParams sampled;
  sampled.temperature = 1.0f;
  for (const SamplingParams& params : {SamplingParams{}, sampled}) {
    Sampler sampler(params, 0);
    EXPECT_THROW(sample_once(sampler, {-kInf, -kInf}), Error);
    EXPECT_THROW(sample_once(sampler, {std::nanf(""), -kInf}), Error);
  }
  Sampler sampler(SamplingParams{}, 0);
  float logit = 0.0f;
  EXPECT_THROW(sampler.sample(&logit, 0, {}, {}), InvalidArgument);
}

}  // namespace
}  // namespace kvs
