// Sampler::verify, speculative decoding's accept/reject step for a point-mass
// draft: the emitted tokens must be distributed exactly as plain sampling's.
// Synthetic targets over 8 tokens, fixed drafts, 100,000 seeded trials; a
// chi-square test against the target probabilities (computed independently
// here, in double) at significance 0.001, for the first emitted token and for
// the pair of the first two (the second row depends on the first token, and a
// presence penalty sees the first token, as in the engine).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/sampling/sampler.h"

namespace kvs {
namespace {

constexpr int kTrials = 100000;
constexpr int64_t kVocab = 8;
// Chi-square critical values at p = 0.001.
constexpr double kChiSquare7 = 24.322;    // 7 degrees of freedom (8 cells)
constexpr double kChiSquare63 = 103.442;  // 63 degrees of freedom (64 cells)

const std::vector<float> kFirst = {1.0f, 2.2f, 0.3f, -1.0f, 1.7f, 0.0f, 2.0f, -0.5f};

// The second row's logits given the first token: it shifts mass to (first + 1) % 8.
std::vector<float> second_row(int32_t first) {
  std::vector<float> row = {0.5f, -0.2f, 1.1f, 0.9f, 0.0f, 1.4f, -1.0f, 0.7f};
  row[static_cast<size_t>((first + 1) % kVocab)] += 1.5f;
  return row;
}

// softmax(logits / temperature) after a presence penalty on `seen` (-1: none), in double.
std::vector<double> target(std::vector<float> logits, float temperature, float presence, int32_t seen) {
  if (seen >= 0) logits[static_cast<size_t>(seen)] -= presence;
  std::vector<double> p(logits.size());
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) total += p[i] = std::exp(static_cast<double>(logits[i]) / temperature);
  for (double& x : p) x /= total;
  return p;
}

double chi_square(const std::vector<int>& counts, const std::vector<double>& p) {
  double statistic = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double expected = kTrials * p[i];
    statistic += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return statistic;
}

int32_t verify(Sampler& sampler, std::vector<float> logits, const std::vector<int32_t>& outputs, int32_t draft,
               bool& accepted) {
  return sampler.verify(logits.data(), kVocab, {}, outputs, draft, accepted);
}

SamplingParams params(float temperature, float presence) {
  SamplingParams p;
  p.temperature = temperature;
  p.presence_penalty = presence;
  return p;
}

class SpeculativeVerify : public ::testing::TestWithParam<int32_t> {};  // the first draft token

TEST_P(SpeculativeVerify, FirstTokenFollowsTheTarget) {
  const int32_t draft = GetParam();
  Sampler sampler(params(0.9f, 0.0f), 1234);
  std::vector<int> counts(kVocab, 0);
  int accepted_count = 0;
  for (int t = 0; t < kTrials; ++t) {
    bool accepted = false;
    const int32_t token = verify(sampler, kFirst, {}, draft, accepted);
    EXPECT_EQ(accepted, token == draft);
    accepted_count += accepted;
    ++counts[static_cast<size_t>(token)];
  }
  const std::vector<double> p = target(kFirst, 0.9f, 0.0f, -1);
  EXPECT_LT(chi_square(counts, p), kChiSquare7);
  // Acceptance rate is p(draft) (5 binomial sigmas).
  const double sigma = std::sqrt(kTrials * p[draft] * (1 - p[draft]));
  EXPECT_NEAR(accepted_count, kTrials * p[draft], 5 * sigma);
}

// Two drafts: verify row 1; if accepted verify the second draft on row 2 (which
// depends on the first token and sees it through the presence penalty), else
// the second token is a plain sample of row 2 (the next step in the engine).
TEST_P(SpeculativeVerify, FirstTwoTokensFollowTheTarget) {
  const int32_t draft1 = GetParam(), draft2 = (draft1 + 1) % kVocab;
  const float temperature = 1.0f, presence = 0.8f;
  Sampler sampler(params(temperature, presence), 99);
  std::vector<int> counts(kVocab * kVocab, 0);
  for (int t = 0; t < kTrials; ++t) {
    bool accepted = false;
    const int32_t first = verify(sampler, kFirst, {}, draft1, accepted);
    std::vector<float> row = second_row(first);
    int32_t second = 0;
    if (accepted) {
      bool accepted2 = false;
      second = verify(sampler, row, {first}, draft2, accepted2);
    } else {
      second = sampler.sample(row.data(), kVocab, {}, {first});
    }
    ++counts[static_cast<size_t>(first * kVocab + second)];
  }
  const std::vector<double> p1 = target(kFirst, temperature, presence, -1);
  std::vector<double> joint(kVocab * kVocab);
  for (int32_t a = 0; a < kVocab; ++a) {
    const std::vector<double> p2 = target(second_row(a), temperature, presence, a);
    for (int32_t b = 0; b < kVocab; ++b) joint[static_cast<size_t>(a * kVocab + b)] = p1[a] * p2[b];
  }
  EXPECT_LT(chi_square(counts, joint), kChiSquare63);
}

INSTANTIATE_TEST_SUITE_P(Drafts, SpeculativeVerify, ::testing::Values(1, 3, 6));

// Top-k: a draft outside the kept tokens is never accepted, and the kept tokens keep their distribution.
TEST(SpeculativeVerifyTopK, DraftOutsideTheCandidatesIsAlwaysRejected) {
  SamplingParams p = params(1.0f, 0.0f);
  p.top_k = 3;  // keeps 1 (2.2), 6 (2.0), 4 (1.7)
  Sampler sampler(p, 5);
  std::vector<int> counts(kVocab, 0);
  for (int t = 0; t < kTrials; ++t) {
    bool accepted = true;
    ++counts[static_cast<size_t>(verify(sampler, kFirst, {}, 3, accepted))];
    ASSERT_FALSE(accepted);
  }
  std::vector<float> kept(kVocab, -1e30f);
  for (int id : {1, 6, 4}) kept[static_cast<size_t>(id)] = kFirst[static_cast<size_t>(id)];
  const std::vector<double> expected = target(kept, 1.0f, 0.0f, -1);
  for (int id : {0, 2, 3, 5, 7}) EXPECT_EQ(counts[id], 0) << "token " << id;
  double statistic = 0.0;
  for (int id : {1, 6, 4}) {
    const double e = kTrials * expected[id];
    statistic += (counts[id] - e) * (counts[id] - e) / e;
  }
  EXPECT_LT(statistic, 13.816);  // 2 degrees of freedom at p = 0.001
}

TEST(SpeculativeVerifyGreedy, AcceptsOnlyTheArgmax) {
  Sampler sampler(SamplingParams{}, 0);
  bool accepted = false;
  EXPECT_EQ(verify(sampler, kFirst, {}, 1, accepted), 1);
  EXPECT_TRUE(accepted);
  EXPECT_EQ(verify(sampler, kFirst, {}, 6, accepted), 1);
  EXPECT_FALSE(accepted);
}

}  // namespace
}  // namespace kvs
