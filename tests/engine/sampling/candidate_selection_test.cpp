// select_candidates on a Qwen-sized vocabulary against a brute-force reference
// (full sort, then the filters applied literally in order).
#include "engine/sampling/candidate_selection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "engine/errors.h"

namespace kvs::sampling {
namespace {

constexpr int64_t kVocab = 151936;

std::vector<float> random_row(uint32_t seed, float spread) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> row(kVocab);
  for (float& logit : row) logit = normal(rng);
  return row;
}

std::vector<int32_t> reference(const std::vector<float>& row, int32_t top_k, float top_p,
                               float min_p) {
  std::vector<int32_t> ids(row.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(),
            [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  const float max = row[ids[0]];
  if (top_k > 0 && top_k < static_cast<int32_t>(ids.size())) ids.resize(top_k);
  if (top_p < 1.0f) {
    double total = 0.0;
    for (int32_t id : ids) total += std::exp(row[id] - max);
    double cumulative = 0.0;
    size_t n = 0;
    while (n < ids.size() && cumulative < top_p * total)
      cumulative += std::exp(row[ids[n++]] - max);
    ids.resize(n);
  }
  if (min_p > 0.0f) {
    std::vector<int32_t> kept;
    for (int32_t id : ids) {
      if (std::exp(double(row[id]) - max) >= min_p) kept.push_back(id);
    }
    ids = kept;
  }
  return ids;
}

struct Case {
  int32_t top_k;
  float top_p;
  float min_p;
  float spread;
};

TEST(CandidateSelection, MatchesFullSortReferenceOnLargeVocabulary) {
  const std::vector<Case> cases = {
      {0, 0.9f, 0.0f, 3.0f},     // peaked: nucleus inside the first partial sort
      {0, 0.9f, 0.0f, 0.5f},     // flat: the nucleus grows past 256 tokens
      {0, 0.999f, 0.0f, 0.1f},   // nearly uniform: almost the whole vocabulary
      {50, 1.0f, 0.0f, 1.0f},    // top-k only
      {50, 0.5f, 0.0f, 1.0f},    // top-k then top-p
      {0, 1.0f, 0.05f, 2.0f},    // min-p only
      {0, 0.95f, 0.01f, 1.0f},   // top-p then min-p
      {1000, 0.8f, 0.1f, 2.0f},  // all three
      {0, 0.99f, 0.0f, 40.0f},   // gaps wider than the histogram: the cut is in its last bin
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "top_k " << c.top_k << " top_p " << c.top_p << " min_p "
                                    << c.min_p << " spread " << c.spread);
    const std::vector<float> row = random_row(seed++, c.spread);
    std::vector<int32_t> ids;
    std::vector<float> weights;
    select_candidates(row.data(), kVocab, c.top_k, c.top_p, c.min_p, ids, weights);
    std::vector<int32_t> expected = reference(row, c.top_k, c.top_p, c.min_p);
    ASSERT_FALSE(expected.empty());
    if (c.top_k <= 0 && c.top_p >= 1.0f) {  // min-p only: ascending id order
      std::sort(expected.begin(), expected.end());
    }
    EXPECT_EQ(ids, expected);
    ASSERT_EQ(weights.size(), ids.size());
    const float max = *std::max_element(row.begin(), row.end());
    for (size_t i = 0; i < ids.size(); i += 97) {
      EXPECT_FLOAT_EQ(weights[i], std::exp(row[ids[i]] - max));
    }
  }
}

TEST(CandidateSelection, TopKBreaksTiesTowardLowerIds) {
  const std::vector<float> row = {1.0f, 5.0f, 5.0f, 2.0f, 5.0f, 5.0f};
  std::vector<int32_t> ids;
  std::vector<float> weights;
  select_candidates(row.data(), 6, 3, 1.0f, 0.0f, ids, weights);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 2, 4}));
}

TEST(CandidateSelection, NegativeInfinityIsNeverACandidate) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> row = {-inf, 0.0f, -inf, -1.0f};
  std::vector<int32_t> ids;
  std::vector<float> weights;
  select_candidates(row.data(), 4, 0, 1.0f, 0.0f, ids, weights);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 3}));
  select_candidates(row.data(), 4, 4, 0.9999f, 0.0f, ids, weights);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 3}));
  const std::vector<float> masked = {-inf, -inf};
  EXPECT_THROW(select_candidates(masked.data(), 2, 0, 1.0f, 0.0f, ids, weights), Error);
}

}  // namespace
}  // namespace kvs::sampling
