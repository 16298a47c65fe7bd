// Penalties on hand-made logit rows, checked to exact values. Greedy sampling
// (temperature 0) leaves the penalised row in place, so the row is observable.
#include <gtest/gtest.h>

#include <vector>

#include "engine/errors.h"
#include "engine/sampling/sampler.h"

namespace kvs {
namespace {

std::vector<float> penalised(const SamplingParams& params, std::vector<float> logits,
                             const std::vector<int32_t>& prompt,
                             const std::vector<int32_t>& output) {
  Sampler sampler(params, 0);
  sampler.sample(logits.data(), static_cast<int64_t>(logits.size()), prompt, output);
  return logits;
}

TEST(Penalties, RepetitionDividesPositiveAndMultipliesNegativeOncePerToken) {
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  // token:                      0     1     2    3     4    5
  const std::vector<float> row = {3.0f, -1.5f, 0.0f, 2.0f, 5.0f, -4.0f};
  // 0 in prompt (twice), 1 in output, 2 in both, 3 and 5 unseen, 4 in output 3 times.
  const auto out = penalised(params, row, {0, 2, 0}, {1, 2, 4, 4, 4});
  EXPECT_EQ(out, (std::vector<float>{1.5f, -3.0f, 0.0f, 2.0f, 2.5f, -4.0f}));
}

TEST(Penalties, RepetitionBelowOneRaisesSeenTokens) {
  SamplingParams params;
  params.repetition_penalty = 0.5f;
  const auto out = penalised(params, {3.0f, -1.5f, 1.0f}, {0, 1}, {});
  EXPECT_EQ(out, (std::vector<float>{6.0f, -0.75f, 1.0f}));
}

TEST(Penalties, FrequencyScalesWithOutputCountAndIgnoresPrompt) {
  SamplingParams params;
  params.frequency_penalty = 0.5f;
  const auto out = penalised(params, {1.0f, 1.0f, 1.0f, 1.0f}, {0, 0, 0}, {1, 2, 2, 2});
  EXPECT_EQ(out, (std::vector<float>{1.0f, 0.5f, -0.5f, 1.0f}));
}

TEST(Penalties, PresenceIsFlatPerDistinctOutputToken) {
  SamplingParams params;
  params.presence_penalty = 1.25f;
  const auto out = penalised(params, {1.0f, 1.0f, 1.0f, 1.0f}, {3}, {1, 2, 2, 2});
  EXPECT_EQ(out, (std::vector<float>{1.0f, -0.25f, -0.25f, 1.0f}));
}

TEST(Penalties, NegativePenaltiesEncourageRepeats) {
  SamplingParams params;
  params.presence_penalty = -1.0f;
  params.frequency_penalty = -0.25f;
  const auto out = penalised(params, {0.0f, 0.0f}, {}, {1, 1});
  EXPECT_EQ(out, (std::vector<float>{0.0f, 1.5f}));
}

TEST(Penalties, AllThreeApplyInVllmOrder) {
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  params.frequency_penalty = 0.5f;
  params.presence_penalty = 1.0f;
  // token 1: 4 / 2 = 2, then - 0.5 * 2 = 1, then - 1 = 0.
  // token 2: -1 * 2 = -2 (prompt only: no output penalties).
  const auto out = penalised(params, {0.5f, 4.0f, -1.0f}, {2}, {1, 1});
  EXPECT_EQ(out, (std::vector<float>{0.5f, 0.0f, -2.0f}));
}

TEST(Penalties, PenaltiesApplyBeforeGreedyArgmax) {
  SamplingParams params;
  params.repetition_penalty = 1.5f;
  std::vector<float> logits = {3.0f, 2.5f, 1.0f};
  Sampler sampler(params, 0);
  EXPECT_EQ(sampler.sample(logits.data(), 3, {}, {}), 0);
  logits = {3.0f, 2.5f, 1.0f};
  EXPECT_EQ(sampler.sample(logits.data(), 3, {}, {0}), 1);  // 3 / 1.5 = 2 < 2.5
}

TEST(Penalties, OutOfVocabularyTokenIdIsRejected) {
  SamplingParams params;
  params.repetition_penalty = 1.1f;
  std::vector<float> logits = {1.0f, 2.0f};
  Sampler sampler(params, 0);
  EXPECT_THROW(sampler.sample(logits.data(), 2, {2}, {}), InvalidArgument);
  EXPECT_THROW(sampler.sample(logits.data(), 2, {}, {-1}), InvalidArgument);
}

}  // namespace
}  // namespace kvs

namespace kvs {
namespace {

// One sampler kept for a whole sequence (its penalty bookkeeping absorbs only
// the new output tokens) penalises every row exactly as a fresh sampler given
// the whole history does; a history that does not extend the last one (a
// different prompt, an output that changed or shrank) starts over.
TEST(Penalties, IncrementalBookkeepingEqualsFreshSamplerEveryStep) {
  SamplingParams params;
  params.repetition_penalty = 1.3f;
  params.frequency_penalty = 0.4f;
  params.presence_penalty = 0.25f;
  std::vector<float> row(64);
  for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<float>(static_cast<int>(i * 37 % 23) - 11) * 0.5f;
  const std::vector<int32_t> prompt = {3, 5, 5, 60, 7};
  std::vector<int32_t> output;
  Sampler kept(params, 0);
  for (int step = 0; step < 40; ++step) {
    std::vector<float> a = row;
    kept.sample(a.data(), static_cast<int64_t>(a.size()), prompt, output);
    EXPECT_EQ(a, penalised(params, row, prompt, output)) << "step " << step;
    output.push_back(static_cast<int32_t>((step * 13 + 5) % 64));
  }
  // Not an extension: the last output token changed, then the output shrank, then another prompt.
  for (const auto& [p, o] : std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>>{
           {prompt, [&] { auto changed = output; changed.back() = 1; return changed; }()},
           {prompt, std::vector<int32_t>(output.begin(), output.begin() + 10)},
           {{9, 9, 8}, std::vector<int32_t>(output.begin(), output.begin() + 10)}}) {
    std::vector<float> a = row;
    kept.sample(a.data(), static_cast<int64_t>(a.size()), p, o);
    EXPECT_EQ(a, penalised(params, row, p, o));
  }
  // A bad id still throws, and the sampler recovers on the next good history.
  std::vector<float> a = row;
  EXPECT_THROW(kept.sample(a.data(), static_cast<int64_t>(a.size()), prompt, {1, 99}), InvalidArgument);
  a = row;
  kept.sample(a.data(), static_cast<int64_t>(a.size()), prompt, output);
  EXPECT_EQ(a, penalised(params, row, prompt, output));
}

}  // namespace
}  // namespace kvs
