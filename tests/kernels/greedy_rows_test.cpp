// kernels::greedy_rows against a plain scan (std::max_element, which keeps the
// first of equal maxima): random rows, ties placed in different chunks, and
// the rows that have no greedy token; one thread and several.
#include "kernels/cpu/greedy_rows.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace kvs::kernels {
namespace {

int32_t reference(const std::vector<float>& row) {
  for (float v : row) {
    if (std::isnan(v) || v == HUGE_VALF) return kGreedyUnusable;
  }
  const auto it = std::max_element(row.begin(), row.end());
  if (*it == -HUGE_VALF) return kGreedyAllMasked;
  return static_cast<int32_t>(it - row.begin());
}

std::vector<int32_t> run(const std::vector<std::vector<float>>& rows, int threads) {
  std::vector<const float*> pointers;
  for (const auto& row : rows) pointers.push_back(row.data());
  std::vector<int32_t> best(rows.size(), 12345);
  greedy_rows(pointers.data(), static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size()), best.data(),
              threads);
  return best;
}

TEST(GreedyRows, MatchesThePlainScanOnRandomRowsWithTiesAndSpecialValues) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (const int64_t vocab : {1, 7, 511, 512, 513, 4096, 49152, 262144}) {
    std::vector<std::vector<float>> rows;
    for (int r = 0; r < 24; ++r) {
      std::vector<float> row(static_cast<size_t>(vocab));
      for (float& v : row) v = normal(rng);
      std::uniform_int_distribution<int64_t> at(0, vocab - 1);
      switch (r % 8) {
        case 1: {  // the same maximum twice, possibly in different chunks: the lower id wins
          const int64_t a = at(rng), b = at(rng);
          row[static_cast<size_t>(a)] = row[static_cast<size_t>(b)] = 100.0f;
          break;
        }
        case 2: row[static_cast<size_t>(at(rng))] = std::numeric_limits<float>::quiet_NaN(); break;
        case 3: row[static_cast<size_t>(at(rng))] = HUGE_VALF; break;
        case 4: std::fill(row.begin(), row.end(), -HUGE_VALF); break;
        case 5:  // masked tokens around one finite logit
          std::fill(row.begin(), row.end(), -HUGE_VALF);
          row[static_cast<size_t>(at(rng))] = -1e30f;
          break;
        case 6: row[static_cast<size_t>(vocab - 1)] = 1000.0f; break;  // the last id
        default: break;
      }
      rows.push_back(std::move(row));
    }
    for (const int threads : {1, 2, 5}) {
      const std::vector<int32_t> best = run(rows, threads);
      for (size_t r = 0; r < rows.size(); ++r) {
        EXPECT_EQ(best[r], reference(rows[r])) << "vocab " << vocab << " row " << r << " threads " << threads;
      }
    }
  }
}

TEST(GreedyRows, ANegativeZeroTiesWithZero) {
  // -0 == +0: the first of the two is the greedy token, as in the plain scan.
  std::vector<std::vector<float>> rows = {std::vector<float>(1000, -1.0f)};
  rows[0][700] = -0.0f;
  rows[0][800] = 0.0f;
  EXPECT_EQ(run(rows, 1)[0], 700);
  EXPECT_EQ(reference(rows[0]), 700);
}

}  // namespace
}  // namespace kvs::kernels
