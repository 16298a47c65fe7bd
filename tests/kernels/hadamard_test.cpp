// The per-head Hadamard rotation of quantized KV caches: orthonormal (it
// keeps dot products and is its own inverse, up to rounding), equal to the
// Sylvester matrix, and it spreads an outlier channel over the whole head,
// which is what makes 32-value quantization blocks lose less.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/hadamard.h"

namespace kvs::kernels {
namespace {

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  return x;
}

TEST(Hadamard, OnlyPowersOfTwoRotate) {
  EXPECT_TRUE(hadamard_rotates(64));
  EXPECT_TRUE(hadamard_rotates(256));
  EXPECT_FALSE(hadamard_rotates(96));
  EXPECT_FALSE(hadamard_rotates(1));
}

TEST(Hadamard, EqualsTheScaledSylvesterMatrix) {
  const int64_t n = 16;
  for (int64_t column = 0; column < n; ++column) {
    std::vector<float> e(static_cast<size_t>(n), 0.0f);
    e[static_cast<size_t>(column)] = 1.0f;
    hadamard_rotate_heads(e.data(), n, 1, 1, n);
    for (int64_t r = 0; r < n; ++r) {
      // Sylvester: H[r][c] = (-1)^popcount(r & c)
      const float sign = (__builtin_popcountll(static_cast<uint64_t>(r & column)) % 2) ? -1.0f : 1.0f;
      EXPECT_FLOAT_EQ(e[static_cast<size_t>(r)], sign / 4.0f) << r << "," << column;
    }
  }
}

TEST(Hadamard, KeepsDotProductsAndUndoesItself) {
  const int64_t dim = 64, heads = 3, rows = 5, stride = heads * dim + 7;
  std::vector<float> a = random_values(rows * stride, 1), b = random_values(rows * stride, 2);
  const std::vector<float> a0 = a;
  std::vector<double> dots;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      double d = 0;
      for (int64_t i = 0; i < dim; ++i) d += double(a[r * stride + h * dim + i]) * b[r * stride + h * dim + i];
      dots.push_back(d);
    }
  }
  hadamard_rotate_heads(a.data(), stride, rows, heads, dim);
  hadamard_rotate_heads(b.data(), stride, rows, heads, dim);
  size_t k = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h, ++k) {
      double d = 0;
      for (int64_t i = 0; i < dim; ++i) d += double(a[r * stride + h * dim + i]) * b[r * stride + h * dim + i];
      EXPECT_NEAR(d, dots[k], 1e-4 * (1 + std::fabs(dots[k])));
    }
    for (int64_t i = heads * dim; i < stride; ++i) EXPECT_EQ(a[r * stride + i], a0[r * stride + i]);  // untouched
  }
  hadamard_rotate_heads(a.data(), stride, rows, heads, dim);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], a0[i], 1e-5f);
}

TEST(Hadamard, SpreadsAnOutlierChannel) {
  std::vector<float> x(64, 0.01f);
  x[5] = 40.0f;  // one outlier channel
  hadamard_rotate_heads(x.data(), 64, 1, 1, 64);
  float max = 0.0f;
  for (float v : x) max = std::max(max, std::fabs(v));
  EXPECT_LT(max, 40.0f / 7.0f);  // 40 / sqrt(64) = 5, plus the small rest
}

}  // namespace
}  // namespace kvs::kernels
