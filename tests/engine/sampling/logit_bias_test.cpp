// logit_bias and min_tokens in Sampler: a bias moves a token's logit before
// anything else, min_tokens bans the stop ids until enough tokens are out.
#include <gtest/gtest.h>

#include <vector>

#include "engine/errors.h"
#include "engine/sampling/sampler.h"

namespace kvs {
namespace {

TEST(LogitBias, PositiveBiasWinsGreedyAndNegativeBiasBans) {
  SamplingParams params;
  params.logit_bias = {{3, 100.0f}};
  Sampler forced(params, 1);
  std::vector<float> row = {5.0f, 1.0f, 0.0f, -2.0f};
  EXPECT_EQ(forced.sample(row.data(), 4, {}, {}), 3);

  params.logit_bias = {{0, -100.0f}};
  Sampler banned(params, 1);
  row = {5.0f, 1.0f, 0.0f, -2.0f};
  EXPECT_EQ(banned.sample(row.data(), 4, {}, {}), 1);
}

TEST(LogitBias, IdsAndRangeAreChecked) {
  SamplingParams params;
  params.logit_bias = {{0, 100.5f}};
  EXPECT_THROW(params.validate(), InvalidArgument);
  params.logit_bias = {{-1, 1.0f}};
  EXPECT_THROW(params.validate(), InvalidArgument);
  params.logit_bias = {{9, 1.0f}};
  Sampler sampler(params, 1);
  std::vector<float> row = {1.0f, 2.0f};
  EXPECT_THROW(sampler.sample(row.data(), 2, {}, {}), InvalidArgument);  // id beyond the vocabulary
}

TEST(MinTokens, StopIdsAreBannedUntilEnoughTokensAreOut) {
  SamplingParams params;
  params.min_tokens = 2;
  params.min_tokens_suppressed = {0};
  Sampler sampler(params, 1);
  const std::vector<float> logits = {9.0f, 1.0f, 0.0f};
  std::vector<float> row = logits;
  EXPECT_EQ(sampler.sample(row.data(), 3, {}, {}), 1);  // 0 outputs so far: id 0 is banned
  row = logits;
  EXPECT_EQ(sampler.sample(row.data(), 3, {}, {7}), 1);  // 1 output
  row = logits;
  EXPECT_EQ(sampler.sample(row.data(), 3, {}, {7, 7}), 0);  // 2 outputs: free again
  params.min_tokens = -1;
  EXPECT_THROW(params.validate(), InvalidArgument);
}

}  // namespace
}  // namespace kvs
