// The attention kernel's side output for the KV compression policies
// (attention mass and Keyformer's Gumbel score, per cache position) against a
// dense double-precision reference, and the overlay blocks (K/V from a second
// buffer) against the same K/V in the cache.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/paged_attention.h"

namespace kvs::kernels {
namespace {

constexpr int64_t kHeads = 4, kKvHeads = 2, kDim = 8, kBlock = 4;

struct ScoreCase {
  // Two sequences: 7 cached + 3 new, and 0 cached + 5 new (a prompt chunk).
  std::vector<int32_t> cu = {0, 3, 8}, context = {10, 5};
  std::vector<int32_t> tables = {5, 2, 0, 4, 1, -1};  // 3 blocks wide
  int64_t num_blocks = 6;
  std::vector<float> k, v, q;
  ScoreCase() {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist;
    k.resize(static_cast<size_t>(num_blocks * kBlock * kKvHeads * kDim));
    v.resize(k.size());
    q.resize(static_cast<size_t>(8 * kHeads * kDim));
    for (float& x : k) x = dist(rng);
    for (float& x : v) x = dist(rng);
    for (float& x : q) x = dist(rng);
  }
  PagedKvLayer cache() { return {k.data(), v.data(), KvDType::F32, num_blocks, kBlock, kKvHeads, kDim}; }
  VarlenBatch batch() { return {2, cu.data(), context.data(), tables.data(), 3}; }
  const float* key(int64_t s, int64_t p, int64_t kh) const {
    const int64_t slot = tables[static_cast<size_t>(s * 3 + p / kBlock)] * kBlock + p % kBlock;
    return k.data() + (slot * kKvHeads + kh) * kDim;
  }
};

// Dense reference of the side output, in double.
std::vector<double> reference(const ScoreCase& c, const std::vector<int32_t>& row_begin, const std::vector<float>& tau,
                              const std::vector<uint64_t>& seeds) {
  std::vector<double> out(15, 0.0);
  const int64_t offsets[2] = {0, 10};
  for (int64_t s = 0; s < 2; ++s) {
    const int64_t query_len = c.cu[s + 1] - c.cu[s];
    for (int64_t j = row_begin[s]; row_begin[s] >= 0 && j < query_len; ++j) {
      const int64_t row = c.cu[s] + j, index = c.context[s] - query_len + j;
      for (int64_t h = 0; h < kHeads; ++h) {
        std::vector<double> x(static_cast<size_t>(index + 1));
        double max = -1e300, sum = 0.0;
        for (int64_t p = 0; p <= index; ++p) {
          double dot = 0.0;
          for (int64_t i = 0; i < kDim; ++i) dot += c.q[(row * kHeads + h) * kDim + i] * c.key(s, p, h / 2)[i];
          x[p] = static_cast<float>(dot) * static_cast<float>(1.0 / std::sqrt(8.0));
          if (tau[s] > 0) x[p] = (x[p] + gumbel_noise(seeds[s] ^ (static_cast<uint64_t>(index) * 0xD6E8FEB86659FD93ull), h, p)) / tau[s];
          max = std::max(max, x[p]);
        }
        for (double& e : x) sum += (e = std::exp(e - max));
        for (int64_t p = 0; p <= index; ++p) out[offsets[s] + p] += x[p] / sum;
      }
    }
  }
  return out;
}

void expect_scores(const std::vector<int32_t>& row_begin, const std::vector<float>& tau) {
  ScoreCase c;
  const std::vector<uint64_t> seeds = {11, 12};
  const std::vector<int64_t> offsets = {0, 10};
  std::vector<int64_t> out(15, 0);
  AttentionScores side{row_begin.data(), offsets.data(), out.data(), seeds.data(), tau.data()};
  std::vector<float> attention(static_cast<size_t>(8 * kHeads * kDim));
  ASSERT_TRUE(attention_varlen_paged(c.q.data(), kHeads * kDim, attention.data(), c.cache(), c.batch(), kHeads,
                                     static_cast<float>(1.0 / std::sqrt(8.0)), &side)
                  .ok());
  const std::vector<double> expected = reference(c, row_begin, tau, seeds);
  for (size_t i = 0; i < out.size(); ++i) {
    // Per term the fixed point rounds by 2^-33; the float logits differ from double by ~1e-7 relative.
    EXPECT_NEAR(static_cast<double>(out[i]) / kScoreOne, expected[i], 1e-5) << "entry " << i;
  }
}

TEST(AttentionScoresTest, AttentionMassMatchesTheDenseReference) { expect_scores({0, 0}, {0.0f, 0.0f}); }

TEST(AttentionScoresTest, OnlyRowsFromRowBeginCount) { expect_scores({2, -1}, {0.0f, 0.0f}); }

TEST(AttentionScoresTest, GumbelScoreMatchesTheDenseReference) { expect_scores({0, 1}, {1.0f, 1.7f}); }

TEST(AttentionScoresTest, EachRowsMassSumsToOnePerHead) {
  ScoreCase c;
  const std::vector<int32_t> row_begin = {0, 0};
  const std::vector<int64_t> offsets = {0, 10};
  std::vector<int64_t> out(15, 0);
  AttentionScores side{row_begin.data(), offsets.data(), out.data(), nullptr, nullptr};
  std::vector<float> attention(static_cast<size_t>(8 * kHeads * kDim));
  ASSERT_TRUE(attention_varlen_paged(c.q.data(), kHeads * kDim, attention.data(), c.cache(), c.batch(), kHeads, 0.3f, &side).ok());
  double first = 0.0, second = 0.0;
  for (int i = 0; i < 10; ++i) first += static_cast<double>(out[i]) / kScoreOne;
  for (int i = 10; i < 15; ++i) second += static_cast<double>(out[i]) / kScoreOne;
  EXPECT_NEAR(first, 3.0 * kHeads, 1e-6);   // 3 rows x 4 heads
  EXPECT_NEAR(second, 5.0 * kHeads, 1e-6);  // 5 rows x 4 heads
}

TEST(AttentionScoresTest, OverlayBlocksReadLikeCacheBlocks) {
  ScoreCase c;
  std::vector<float> expected(static_cast<size_t>(8 * kHeads * kDim)), got(expected.size());
  ASSERT_TRUE(attention_varlen_paged(c.q.data(), kHeads * kDim, expected.data(), c.cache(), c.batch(), kHeads, 0.3f).ok());
  // Move sequence 0's first block (id 5) and sequence 1's second (id 1) into an overlay of two blocks.
  const int64_t row = kBlock * kKvHeads * kDim;
  std::vector<float> overlay_k(static_cast<size_t>(2 * row)), overlay_v(overlay_k.size());
  std::copy(c.k.begin() + 5 * row, c.k.begin() + 6 * row, overlay_k.begin());
  std::copy(c.v.begin() + 5 * row, c.v.begin() + 6 * row, overlay_v.begin());
  std::copy(c.k.begin() + 1 * row, c.k.begin() + 2 * row, overlay_k.begin() + row);
  std::copy(c.v.begin() + 1 * row, c.v.begin() + 2 * row, overlay_v.begin() + row);
  std::fill(c.k.begin() + 5 * row, c.k.begin() + 6 * row, 1e3f);  // the cache copies are now garbage
  std::fill(c.k.begin() + 1 * row, c.k.begin() + 2 * row, 1e3f);
  c.tables = {6, 2, 0, 4, 7, -1};
  PagedKvLayer cache = c.cache();
  cache.overlay_k = overlay_k.data();
  cache.overlay_v = overlay_v.data();
  cache.num_overlay_blocks = 2;
  ASSERT_TRUE(attention_varlen_paged(c.q.data(), kHeads * kDim, got.data(), cache, c.batch(), kHeads, 0.3f).ok());
  EXPECT_EQ(got, expected);
  c.tables = {8, 2, 0, 4, 7, -1};  // past the overlay
  EXPECT_FALSE(attention_varlen_paged(c.q.data(), kHeads * kDim, got.data(), cache, c.batch(), kHeads, 0.3f).ok());
}

}  // namespace
}  // namespace kvs::kernels
