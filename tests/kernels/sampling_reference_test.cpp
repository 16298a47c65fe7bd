// The sampler's shared arithmetic (kernels/sampling.h) and its CPU reference
// (kernels/cpu/sampling_reference.h): Philox known answers, the deterministic
// exp, greedy, the top-k / top-p sets, tie order, and that draws follow the
// softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "kernels/cpu/sampling_reference.h"

namespace kvs::kernels {
namespace {

TEST(SamplingMathTest, PhiloxKnownAnswers) {
  // Random123's kat_vectors for philox4x32_10.
  Philox4x32 r = philox4x32_10(Philox4x32{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
  r = philox4x32_10(Philox4x32{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.v[0], 0x408f276du);
  EXPECT_EQ(r.v[1], 0x41c83b0eu);
  EXPECT_EQ(r.v[2], 0xa20bc7c6u);
  EXPECT_EQ(r.v[3], 0x6d5451fdu);
  r = philox4x32_10(Philox4x32{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(r.v[0], 0xd16cfe09u);
  EXPECT_EQ(r.v[1], 0x94fdccebu);
  EXPECT_EQ(r.v[2], 0x5001e420u);
  EXPECT_EQ(r.v[3], 0x24126ea1u);
}

TEST(SamplingMathTest, UniformsAreInRangeAndDependOnSeedAndOffset) {
  std::set<double> seen;
  for (uint64_t seed : {0ull, 1ull, 0xffffffffffffffffull}) {
    for (uint64_t offset = 0; offset < 100; ++offset) {
      const double u = sampling_uniform(seed, offset);
      EXPECT_GE(u, 0.0);
      EXPECT_LT(u, 1.0);
      seen.insert(u);
    }
  }
  EXPECT_EQ(seen.size(), 300u);
  EXPECT_EQ(sampling_uniform(42, 7), sampling_uniform(42, 7));
}

TEST(SamplingMathTest, ExpIsAccurateAndMonotone) {
  float previous = 0.0f;
  for (float x = -28.0f; x <= 0.0f; x += 0.001f) {
    const float e = sampling_exp(x);
    EXPECT_NEAR(e, std::exp(static_cast<double>(x)), 3e-7 * std::exp(static_cast<double>(x))) << x;
    EXPECT_GE(e, previous) << x;
    previous = e;
  }
  EXPECT_EQ(sampling_exp(0.0f), 1.0f);
  EXPECT_EQ(sampling_exp(-29.0f), 0.0f);
  EXPECT_EQ(sampling_exp(-INFINITY), 0.0f);
  EXPECT_EQ(sampling_weight(0.0f), uint64_t{1} << 40);
}

TEST(SamplingMathTest, OrderKeyFollowsFloatOrder) {
  const std::vector<float> values = {-INFINITY, -1e30f, -2.5f, -1e-30f, -0.0f, 0.0f, 1e-30f, 3.0f, INFINITY};
  for (size_t i = 1; i < values.size(); ++i) EXPECT_LT(sampling_order_key(values[i - 1]), sampling_order_key(values[i]));
}

struct Row {
  std::vector<float> logits;
  float temperature = 1.0f, top_p = 1.0f;
  int32_t top_k = 0;
  double u = 0.5;
};

int32_t sample_one(const Row& r) {
  SamplingArgs a;
  a.logits = r.logits.data();
  a.logits_row_stride = a.vocab_size = static_cast<int64_t>(r.logits.size());
  a.num_rows = 1;
  a.temperatures = &r.temperature;
  a.top_k = &r.top_k;
  a.top_p = &r.top_p;
  a.uniforms = &r.u;
  int32_t token = -1;
  a.out_tokens = &token;
  EXPECT_TRUE(sample_reference(a).ok());
  return token;
}

TEST(SamplingReferenceTest, GreedyIsArgmaxWithLowestIndexOnTies) {
  Row r;
  r.logits = {1.0f, 5.0f, -2.0f, 5.0f, 0.0f};
  r.temperature = 0.0f;
  EXPECT_EQ(sample_one(r), 1);
  r.temperature = 1e-6f;  // below kSamplingMinTemperature: greedy too
  EXPECT_EQ(sample_one(r), 1);
  r.logits = {-INFINITY, -INFINITY};
  EXPECT_EQ(sample_one(r), 0);
}

TEST(SamplingReferenceTest, TopKOneIsArgmaxForAnyUniform) {
  Row r;
  r.logits = {0.5f, 2.0f, 1.9f, -1.0f};
  r.top_k = 1;
  for (double u : {0.0, 0.3, 0.999999}) {
    r.u = u;
    EXPECT_EQ(sample_one(r), 1);
  }
}

TEST(SamplingReferenceTest, TopKKeepsTheKHighestWithIndexOrderOnTies) {
  Row r;
  r.logits = {3.0f, 1.0f, 3.0f, 3.0f, 0.0f};  // three tied at the top
  r.top_k = 2;                                // keeps tokens 0 and 2 (lowest indices of the tie)
  std::set<int32_t> drawn;
  for (int i = 0; i < 100; ++i) {
    r.u = (i + 0.5) / 100;
    drawn.insert(sample_one(r));
  }
  EXPECT_EQ(drawn, (std::set<int32_t>{0, 2}));
  r.u = 0.49;
  EXPECT_EQ(sample_one(r), 0);
  r.u = 0.51;
  EXPECT_EQ(sample_one(r), 2);
}

TEST(SamplingReferenceTest, TopPKeepsTheSmallestPrefixReachingP) {
  Row r;
  // Probabilities about 0.6, 0.3, 0.1 (index order 2, 0, 1).
  r.logits = {std::log(0.3f), std::log(0.1f), std::log(0.6f)};
  r.top_p = 0.5f;  // token 2 alone reaches 0.5
  std::set<int32_t> drawn;
  for (int i = 0; i < 50; ++i) {
    r.u = (i + 0.5) / 50;
    drawn.insert(sample_one(r));
  }
  EXPECT_EQ(drawn, (std::set<int32_t>{2}));
  r.top_p = 0.8f;  // 0.6 < 0.8 <= 0.9: tokens 2 and 0
  drawn.clear();
  for (int i = 0; i < 50; ++i) {
    r.u = (i + 0.5) / 50;
    drawn.insert(sample_one(r));
  }
  EXPECT_EQ(drawn, (std::set<int32_t>{0, 2}));
}

TEST(SamplingReferenceTest, DrawsFollowTheTemperedSoftmax) {
  const std::vector<float> logits = {0.0f, 1.0f, -0.5f, 2.0f, 0.25f};
  const float temperature = 0.8f;
  std::vector<double> expected(logits.size());
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) total += expected[i] = std::exp(logits[i] / temperature);
  std::vector<float> temperatures(1, temperature);
  std::vector<uint64_t> seeds(1, 1234), offsets(1);
  SamplingArgs a;
  a.logits = logits.data();
  a.logits_row_stride = a.vocab_size = static_cast<int64_t>(logits.size());
  a.num_rows = 1;
  a.temperatures = temperatures.data();
  a.seeds = seeds.data();
  a.offsets = offsets.data();
  std::vector<int> counts(logits.size());
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) {
    offsets[0] = static_cast<uint64_t>(i);
    int32_t token = -1;
    a.out_tokens = &token;
    ASSERT_TRUE(sample_reference(a).ok());
    ASSERT_GE(token, 0);
    ++counts[token];
  }
  for (size_t i = 0; i < logits.size(); ++i) {
    const double p = expected[i] / total;
    EXPECT_NEAR(counts[i] / static_cast<double>(draws), p, 5 * std::sqrt(p * (1 - p) / draws)) << i;
  }
}

TEST(SamplingReferenceTest, RejectsBadArguments) {
  SamplingArgs a;
  a.num_rows = 1;
  a.vocab_size = 0;
  EXPECT_FALSE(sample_reference(a).ok());
  a.vocab_size = kSamplingMaxVocab;
  a.logits_row_stride = kSamplingMaxVocab;
  EXPECT_FALSE(sample_reference(a).ok());
  std::vector<float> logits(4), t(1, 1.0f);
  int32_t token;
  a.vocab_size = a.logits_row_stride = 4;
  a.logits = logits.data();
  a.temperatures = t.data();
  a.out_tokens = &token;
  EXPECT_FALSE(sample_reference(a).ok());  // neither seeds nor uniforms
}

}  // namespace
}  // namespace kvs::kernels
