// Tensor-parallel weight slices: rows and columns of quantized and F32
// weights are exactly the corresponding parts of the whole weight, and the
// row-parallel partial products add up to the whole product.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/errors.h"
#include "engine/model/linear_weight.h"
#include "kernels/cpu/quantize.h"

namespace kvs {
namespace {

constexpr int64_t kOut = 24, kIn = 192;

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

LinearWeight q4_1_weight(const std::vector<float>& values) {
  auto owned = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(kOut * (kIn / 32)) * sizeof(kernels::BlockQ4_1));
  auto* blocks = reinterpret_cast<kernels::BlockQ4_1*>(owned->data());
  for (int64_t r = 0; r < kOut; ++r) kernels::quantize_row_q4_1(values.data() + r * kIn, blocks + r * (kIn / 32), kIn);
  return LinearWeight::from_rows(kernels::WeightFormat::Q4_1, owned->data(), kOut, kIn, owned);
}

std::vector<float> dequantized(const LinearWeight& w) {
  std::vector<float> out(static_cast<size_t>(w.num_out * w.num_in));
  for (int64_t r = 0; r < w.num_out; ++r) w.row_to_float(r, out.data() + r * w.num_in);
  return out;
}

TEST(WeightSlice, QuantizedColumnsAndRowsAreExactPartsOfTheWhole) {
  const LinearWeight whole = q4_1_weight(random_floats(kOut * kIn, 1));
  const std::vector<float> full = dequantized(whole);
  const LinearWeight columns = whole.select_columns(64, 160);
  ASSERT_EQ(columns.segments.size(), 1u);
  EXPECT_EQ(columns.segments[0].format, kernels::WeightFormat::Q4_1);
  ASSERT_EQ(columns.num_in, 96);
  const std::vector<float> part = dequantized(columns);
  for (int64_t r = 0; r < kOut; ++r) {
    for (int64_t c = 0; c < 96; ++c) ASSERT_EQ(part[r * 96 + c], full[r * kIn + 64 + c]) << r << "," << c;
  }
  const LinearWeight rows = whole.select_rows({{2, 5}, {20, 24}});
  ASSERT_EQ(rows.num_out, 7);
  const std::vector<float> picked = dequantized(rows);
  const int64_t source_rows[] = {2, 3, 4, 20, 21, 22, 23};
  for (int64_t r = 0; r < 7; ++r) {
    for (int64_t c = 0; c < kIn; ++c) ASSERT_EQ(picked[r * kIn + c], full[source_rows[r] * kIn + c]);
  }
}

TEST(WeightSlice, RowParallelPartialProductsAddUpToTheWholeProduct) {
  const LinearWeight whole = q4_1_weight(random_floats(kOut * kIn, 2));
  const std::vector<float> x = random_floats(3 * kIn, 3);
  kernels::MatmulScratch scratch;
  std::vector<float> expected(3 * kOut);
  whole.apply(x.data(), 3, expected.data(), scratch);
  // Three ranks, 64 columns each (two 32-element blocks): each rank's input
  // slice, its partial product, summed in rank order.
  std::vector<float> sum(3 * kOut, 0.0f);
  for (int rank = 0; rank < 3; ++rank) {
    const LinearWeight slice = whole.select_columns(rank * 64, (rank + 1) * 64);
    std::vector<float> x_slice;
    for (int64_t t = 0; t < 3; ++t) x_slice.insert(x_slice.end(), x.begin() + t * kIn + rank * 64, x.begin() + t * kIn + (rank + 1) * 64);
    std::vector<float> partial(3 * kOut);
    slice.apply(x_slice.data(), 3, partial.data(), scratch);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += partial[i];
  }
  // Same quantized blocks, same integer dot products: only the order of the
  // float additions of block results differs (a few ulps of the sums).
  for (size_t i = 0; i < sum.size(); ++i) EXPECT_NEAR(sum[i], expected[i], 1e-5 * (1.0 + std::fabs(expected[i]))) << i;
}

TEST(WeightSlice, QuantizedColumnSlicesOffBlockBoundariesAreRejected) {
  const LinearWeight whole = q4_1_weight(random_floats(kOut * kIn, 4));
  try {
    whole.select_columns(0, 48);
    FAIL() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("block boundaries"), std::string::npos) << e.what();
  }
  EXPECT_THROW(whole.select_columns(0, kIn + 32), InvalidArgument);
  EXPECT_THROW(whole.select_rows({{0, kOut + 1}}), InvalidArgument);
}

}  // namespace
}  // namespace kvs
