// ResidualCheckpoints' storage: float rows come back bit for bit; half rows
// come back rounded to the nearest half and take half the bytes.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/errors.h"
#include "engine/model/residual_checkpoints.h"
#include "kernels/cpu/half.h"

namespace kvs {
namespace {

std::vector<float> row_values(int64_t hidden, float scale) {
  std::vector<float> values(static_cast<size_t>(hidden));
  for (int64_t i = 0; i < hidden; ++i) values[static_cast<size_t>(i)] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return values;
}

TEST(ResidualCheckpointsTest, FloatRowsAreExactHalfRowsRoundToHalf) {
  const int64_t layers = 3, hidden = 40;
  ResidualCheckpoints exact(layers, hidden), half(layers, hidden, ResidualCheckpoints::DType::F16);
  exact.reserve(7, 10);
  half.reserve(7, 10);
  EXPECT_EQ(exact.bytes(7), 10 * layers * hidden * 4);
  EXPECT_EQ(half.bytes(7), exact.bytes(7) / 2);
  for (int64_t layer = 0; layer < layers; ++layer) {
    for (int64_t position = 0; position < 10; ++position) {
      const std::vector<float> values = row_values(hidden, 1.0f + static_cast<float>(layer * 10 + position));
      exact.write_row(7, layer, position, values.data());
      half.write_row(7, layer, position, values.data());
    }
  }
  std::vector<float> got(static_cast<size_t>(hidden));
  for (int64_t layer = 0; layer < layers; ++layer) {
    for (int64_t position = 0; position < 10; ++position) {
      const std::vector<float> values = row_values(hidden, 1.0f + static_cast<float>(layer * 10 + position));
      exact.read_row(7, layer, position, got.data());
      EXPECT_EQ(got, values);
      half.read_row(7, layer, position, got.data());
      for (int64_t i = 0; i < hidden; ++i) {
        EXPECT_EQ(got[static_cast<size_t>(i)], kernels::fp16_to_fp32(kernels::fp32_to_fp16(values[static_cast<size_t>(i)])));
      }
    }
  }
  EXPECT_THROW(half.read_row(7, 0, 10, got.data()), Error);  // past the reserved positions
  EXPECT_THROW(half.write_row(8, 0, 0, got.data()), Error);   // an unknown sequence
}

}  // namespace
}  // namespace kvs
