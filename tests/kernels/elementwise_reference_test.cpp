// CPU references of the CUDA bf16 element-wise kernels
// (kernels/cpu/elementwise_reference.h) against direct formulas: exact sums
// rounded once to the nearest bf16 (ties to even, decided on the bits), exact
// widening, bit copies; strides leave the gaps between rows untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/elementwise_reference.h"
#include "kernels/cpu/half.h"

namespace kvs::kernels {
namespace {

std::vector<uint16_t> random_bf16(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<uint16_t> out(n);
  for (uint16_t& v : out) v = fp32_to_bf16(dist(rng));
  return out;
}

// The bf16 nearest to `exact` (ties to the even mantissa), by looking at the
// two bf16 values around it: a direct formula, independent of half.h's bit trick.
uint16_t nearest_bf16(double exact) {
  if (std::isinf(exact)) return exact > 0 ? 0x7f80 : 0xff80;
  const float f = static_cast<float>(exact);  // exact for the inputs used here
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  const uint16_t below = static_cast<uint16_t>(bits >> 16);  // truncated toward zero
  const uint16_t above = static_cast<uint16_t>(below + 1);   // next magnitude up
  const double d_below = std::abs(exact - bf16_to_fp32(below));
  const double d_above = std::abs(static_cast<double>(bf16_to_fp32(above)) - exact);
  if (d_below < d_above) return below;
  if (d_above < d_below) return above;
  return (below & 1u) == 0 ? below : above;
}

TEST(ElementwiseReferenceTest, AddBiasRoundsTheExactSumOnceAndKeepsTheGaps) {
  const int64_t rows = 5, dim = 37, stride = 41;
  auto x = random_bf16(rows * stride, 1, 3.0f);
  const auto original = x;
  const auto bias = random_bf16(dim, 2, 0.5f);
  add_bias_bf16_reference(x.data(), stride, bias.data(), rows, dim);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < stride; ++i) {
      const size_t at = static_cast<size_t>(r * stride + i);
      if (i >= dim) {
        EXPECT_EQ(x[at], original[at]);
        continue;
      }
      // The fp32 sum of two bf16 values of similar size is exact.
      const double exact = static_cast<double>(bf16_to_fp32(original[at])) + bf16_to_fp32(bias[i]);
      EXPECT_EQ(x[at], nearest_bf16(exact)) << r << "," << i;
    }
  }
}

TEST(ElementwiseReferenceTest, AddRoundsTheExactSumOnce) {
  const int64_t n = 1001;
  const auto a = random_bf16(n, 3), b = random_bf16(n, 4, 2.0f);
  std::vector<uint16_t> out(n);
  add_bf16_reference(a.data(), b.data(), out.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(out[i], nearest_bf16(static_cast<double>(bf16_to_fp32(a[i])) + bf16_to_fp32(b[i]))) << i;
  }
}

TEST(ElementwiseReferenceTest, GatherCopiesRowsAndZeroesNegativeIds) {
  const int64_t src_rows = 6, dim = 7, src_stride = 9, dst_stride = 8;
  const auto src = random_bf16(src_rows * src_stride, 5);
  const std::vector<int32_t> rows = {5, 0, -1, 5, 2};
  std::vector<uint16_t> dst(rows.size() * dst_stride, 0xabcd);
  gather_rows_bf16_reference(src.data(), src_stride, rows.data(), static_cast<int64_t>(rows.size()), dim, dst.data(),
                             dst_stride);
  for (size_t j = 0; j < rows.size(); ++j) {
    for (int64_t i = 0; i < dst_stride; ++i) {
      const uint16_t want = i >= dim ? uint16_t{0xabcd} : rows[j] < 0 ? uint16_t{0} : src[rows[j] * src_stride + i];
      EXPECT_EQ(dst[j * dst_stride + i], want) << j << "," << i;
    }
  }
}

TEST(ElementwiseReferenceTest, ConversionsWidenExactlyAndRoundToNearestEven) {
  // Random values, exact ties (low 16 bits 0x8000) with odd and even
  // mantissas, values just above and below a tie, subnormals, zeros, the
  // largest finite floats (rounding up to infinity) and infinities.
  std::vector<float> values;
  std::mt19937 rng(6);
  std::normal_distribution<float> dist(0.0f, 10.0f);
  for (int i = 0; i < 500; ++i) values.push_back(dist(rng));
  for (const uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0xbf818000u, 0x00000001u, 0x00018000u,
                              0x80000000u, 0x00000000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u}) {
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    values.push_back(f);
  }
  const int64_t rows = 3, dim = static_cast<int64_t>(values.size()) / 3, stride = dim + 2;
  std::vector<float> src(rows * stride, 0.0f);
  for (int64_t r = 0; r < rows; ++r) std::copy(values.begin() + r * dim, values.begin() + (r + 1) * dim, src.begin() + r * stride);
  std::vector<uint16_t> narrowed(rows * stride, 0x1234);
  f32_to_bf16_reference(src.data(), stride, rows, dim, narrowed.data(), stride);
  std::vector<float> widened(rows * stride, -7.0f);
  bf16_to_f32_reference(narrowed.data(), stride, rows, dim, widened.data(), stride);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < stride; ++i) {
      const size_t at = static_cast<size_t>(r * stride + i);
      if (i >= dim) {
        EXPECT_EQ(narrowed[at], 0x1234);
        EXPECT_EQ(widened[at], -7.0f);
        continue;
      }
      const double x = src[at];
      const double largest = std::ldexp(255.0 / 128.0, 127);  // largest finite bf16
      const double halfway = std::ldexp(511.0 / 256.0, 127);  // rounds to infinity from here (tie to even)
      const uint16_t want = std::abs(x) >= halfway && !std::isinf(x) ? (x > 0 ? 0x7f80 : 0xff80) : nearest_bf16(x);
      EXPECT_EQ(narrowed[at], want) << "value " << x;
      uint32_t bits = static_cast<uint32_t>(narrowed[at]) << 16;  // widening: the bits above 16 zeros
      float expect_widened;
      std::memcpy(&expect_widened, &bits, sizeof(bits));
      EXPECT_EQ(widened[at], expect_widened);
      if (std::abs(x) <= largest) {
        EXPECT_LE(std::abs(widened[at] - x), std::ldexp(std::abs(x), -8) + std::ldexp(1.0, -133));
      }
    }
  }
}

}  // namespace
}  // namespace kvs::kernels
