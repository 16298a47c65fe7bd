// Which tokens top-k / top-p / min-p / temperature let through, and how often:
// 10,000 seeded draws per case; every excluded token must never appear and every
// kept token's count must lie within 5 binomial standard deviations of
// n * p (p from an independent softmax over the tokens that should be kept).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "engine/sampling/sampler.h"

namespace kvs {
namespace {

constexpr int kDraws = 10000;
constexpr double kSigmas = 5.0;  // two-sided: ~6e-7 chance per token of a false alarm

// Probabilities 0.5, 0.3, 0.15, 0.05 as logits (shifted: only differences matter).
const std::vector<float> kRow = {std::log(0.5f) + 3, std::log(0.3f) + 3, std::log(0.15f) + 3,
                                 std::log(0.05f) + 3};

std::vector<int> draw_counts(const SamplingParams& params, const std::vector<float>& row) {
  Sampler sampler(params, 42);
  std::vector<int> counts(row.size(), 0);
  for (int i = 0; i < kDraws; ++i) {
    std::vector<float> logits = row;
    ++counts.at(static_cast<size_t>(
        sampler.sample(logits.data(), static_cast<int64_t>(row.size()), {}, {})));
  }
  return counts;
}

// softmax(row / temperature) restricted to `kept`, in double.
std::vector<double> expected_probabilities(const std::vector<float>& row, float temperature,
                                           const std::set<int>& kept) {
  std::vector<double> probabilities(row.size(), 0.0);
  double total = 0.0;
  for (int id : kept) total += probabilities[id] = std::exp(double(row[id]) / temperature);
  for (double& p : probabilities) p /= total;
  return probabilities;
}

void expect_distribution(const SamplingParams& params, const std::vector<float>& row,
                         const std::set<int>& kept) {
  const std::vector<int> counts = draw_counts(params, row);
  const std::vector<double> p = expected_probabilities(row, params.temperature, kept);
  for (size_t id = 0; id < row.size(); ++id) {
    if (p[id] == 0.0) {
      EXPECT_EQ(counts[id], 0) << "token " << id << " should be excluded";
      continue;
    }
    const double mean = kDraws * p[id];
    const double tolerance = kSigmas * std::sqrt(kDraws * p[id] * (1.0 - p[id]));
    EXPECT_NEAR(counts[id], mean, tolerance) << "token " << id << ", p = " << p[id];
  }
}

SamplingParams sampled(float temperature) {
  SamplingParams params;
  params.temperature = temperature;
  return params;
}

TEST(SamplerDistribution, NoFilterFollowsSoftmax) {
  expect_distribution(sampled(1.0f), kRow, {0, 1, 2, 3});
}

TEST(SamplerDistribution, TemperatureFlattensAndSharpens) {
  expect_distribution(sampled(2.0f), kRow, {0, 1, 2, 3});
  expect_distribution(sampled(0.5f), kRow, {0, 1, 2, 3});
}

TEST(SamplerDistribution, TopKKeepsTheKLargest) {
  SamplingParams params = sampled(2.0f);
  params.top_k = 2;
  expect_distribution(params, kRow, {0, 1});
  params.top_k = -1;  // off
  expect_distribution(params, kRow, {0, 1, 2, 3});
}

TEST(SamplerDistribution, TopPKeepsTheSmallestPrefixReachingP) {
  SamplingParams params = sampled(1.0f);
  params.top_p = 0.7f;  // 0.5, 0.8: the second token crosses 0.7
  expect_distribution(params, kRow, {0, 1});
  params.top_p = 0.9f;  // 0.5, 0.8, 0.95
  expect_distribution(params, kRow, {0, 1, 2});
  params.top_p = 0.3f;  // the first token alone reaches it: at least one is kept
  expect_distribution(params, kRow, {0});
}

TEST(SamplerDistribution, MinPIsRelativeToTheTopProbability) {
  SamplingParams params = sampled(1.0f);
  params.min_p = 0.25f;  // threshold 0.125: 0.05 goes
  expect_distribution(params, kRow, {0, 1, 2});
  params.min_p = 0.5f;  // threshold 0.25
  expect_distribution(params, kRow, {0, 1});
  params.min_p = 1.0f;  // only the top survives
  expect_distribution(params, kRow, {0});
}

TEST(SamplerDistribution, MinPSeesTemperatureScaledProbabilities) {
  // At temperature 2 the probabilities go as sqrt(p): relative to the top 1, 0.77,
  // 0.55, 0.32, so min-p 0.5 keeps three tokens (at temperature 1 it keeps two).
  SamplingParams params = sampled(2.0f);
  params.min_p = 0.5f;
  expect_distribution(params, kRow, {0, 1, 2});
}

// top-p is taken over the top-k, renormalised: with k = 3 the first two tokens
// hold 0.8 / 0.95 = 0.842 >= 0.83, without top-k only 0.8 < 0.83.
TEST(SamplerDistribution, TopPAppliesAfterTopK) {
  SamplingParams params = sampled(1.0f);
  params.top_p = 0.83f;
  expect_distribution(params, kRow, {0, 1, 2});
  params.top_k = 3;
  expect_distribution(params, kRow, {0, 1});
}

TEST(SamplerDistribution, AllFiltersTogether) {
  // 8 tokens; top-k 6 keeps 0..5, top-p 0.95 over those keeps 0..4, min-p 0.2 keeps 0..3.
  const std::vector<float> row = {std::log(0.30f),      std::log(0.20f),     std::log(0.15f),
                                  std::log(0.10f),      std::log(0.05f),     std::log(0.04f),
                                  std::log(0.08f) - 10, std::log(0.08f) - 11};
  SamplingParams params = sampled(1.0f);
  params.top_k = 6;
  params.top_p = 0.95f;
  params.min_p = 0.2f;  // threshold 0.06: 0.05 goes
  expect_distribution(params, row, {0, 1, 2, 3});
}

}  // namespace
}  // namespace kvs
