// Quantized dot products and matmul against float references.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quantize.h"

namespace kvs::kernels {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Quantizes `rows` rows of `cols` floats into `format`, returning raw bytes.
std::vector<uint8_t> quantize_matrix(WeightFormat format, const std::vector<float>& w, int64_t rows, int64_t cols) {
  const int64_t blocks = cols / kQuantBlock;
  std::vector<uint8_t> out;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w.data() + r * cols;
    if (format == WeightFormat::Q8_0) {
      std::vector<BlockQ8_0> b(blocks);
      quantize_row_q8_0(row, b.data(), cols);
      out.insert(out.end(), reinterpret_cast<uint8_t*>(b.data()), reinterpret_cast<uint8_t*>(b.data() + blocks));
    } else if (format == WeightFormat::Q4_0) {
      std::vector<BlockQ4_0> b(blocks);
      quantize_row_q4_0(row, b.data(), cols);
      out.insert(out.end(), reinterpret_cast<uint8_t*>(b.data()), reinterpret_cast<uint8_t*>(b.data() + blocks));
    } else {
      std::vector<BlockQ4_1> b(blocks);
      quantize_row_q4_1(row, b.data(), cols);
      out.insert(out.end(), reinterpret_cast<uint8_t*>(b.data()), reinterpret_cast<uint8_t*>(b.data() + blocks));
    }
  }
  return out;
}

TEST(HalfTest, RoundTripsAndRoundsToNearestEven) {
  for (float v : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.33325195f}) {
    EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(v)), v) << v;
  }
  EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048.0f), 0x3c00);  // tie -> even
  EXPECT_EQ(fp32_to_fp16(1.0f + 3.0f / 2048.0f), 0x3c02);
  EXPECT_TRUE(std::isinf(fp16_to_fp32(fp32_to_fp16(1e6f))));
  EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(1.5f)), 1.5f);
}

TEST(QuantizeTest, DequantizedBlocksAreCloseToTheInput) {
  const std::vector<float> x = random_floats(96, 1);
  for (WeightFormat format : {WeightFormat::Q8_0, WeightFormat::Q4_0, WeightFormat::Q4_1}) {
    const std::vector<uint8_t> q = quantize_matrix(format, x, 1, 96);
    std::vector<float> back(96);
    dequantize_row(format, q.data(), back.data(), 96);
    const float tolerance = format == WeightFormat::Q8_0 ? 0.02f : 0.35f;
    for (int i = 0; i < 96; ++i) EXPECT_NEAR(back[i], x[i], tolerance) << i;
  }
}

TEST(DotTest, SimdMatchesScalarReference) {
  for (int64_t cols : {32, 64, 576, 1536}) {
    const std::vector<float> w = random_floats(cols, 2), x = random_floats(cols, 3);
    std::vector<ActivationBlockQ8> xq(cols / kQuantBlock);
    quantize_activations(x.data(), xq.data(), cols);
    for (WeightFormat format : {WeightFormat::Q8_0, WeightFormat::Q4_0, WeightFormat::Q4_1}) {
      const std::vector<uint8_t> q = quantize_matrix(format, w, 1, cols);
      const float fast = dot_quantized(format, q.data(), xq.data(), cols / kQuantBlock);
      const float reference = dot_quantized_reference(format, q.data(), xq.data(), cols / kQuantBlock);
      EXPECT_NEAR(fast, reference, 1e-4f * (1.0f + std::fabs(reference))) << cols;
    }
  }
}

TEST(MatmulTest, QuantizedMatchesFloatMatmulOfDequantizedWeights) {
  const int64_t num_out = 37, num_in = 160, num_tokens = 70;  // odd shapes, > one token tile
  const std::vector<float> w = random_floats(num_out * num_in, 4), x = random_floats(num_tokens * num_in, 5);
  MatmulScratch scratch;
  for (WeightFormat format : {WeightFormat::Q8_0, WeightFormat::Q4_0, WeightFormat::Q4_1}) {
    const std::vector<uint8_t> q = quantize_matrix(format, w, num_out, num_in);
    std::vector<float> dequantized(num_out * num_in);
    const size_t row_bytes = q.size() / num_out;
    for (int64_t r = 0; r < num_out; ++r) dequantize_row(format, q.data() + r * row_bytes, &dequantized[r * num_in], num_in);
    std::vector<float> y(num_tokens * num_out), reference(num_tokens * num_out);
    ASSERT_TRUE(matmul(format, q.data(), num_out, num_in, x.data(), num_tokens, y.data(), scratch).ok());
    ASSERT_TRUE(matmul(WeightFormat::F32, dequantized.data(), num_out, num_in, x.data(), num_tokens,
                       reference.data(), scratch).ok());
    double error = 0.0, norm = 0.0;
    for (size_t i = 0; i < y.size(); ++i) {
      error += (y[i] - reference[i]) * (y[i] - reference[i]);
      norm += reference[i] * reference[i];
    }
    // 8-bit activations: relative error of a dot product is ~1/127 per element, far less in norm.
    EXPECT_LT(std::sqrt(error / norm), 0.01) << static_cast<int>(format);
  }
}

TEST(MatmulTest, F32MatchesNaiveLoop) {
  const int64_t num_out = 5, num_in = 7, num_tokens = 3;
  const std::vector<float> w = random_floats(num_out * num_in, 6), x = random_floats(num_tokens * num_in, 7);
  std::vector<float> y(num_tokens * num_out);
  MatmulScratch scratch;
  ASSERT_TRUE(matmul(WeightFormat::F32, w.data(), num_out, num_in, x.data(), num_tokens, y.data(), scratch).ok());
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int64_t n = 0; n < num_out; ++n) {
      double sum = 0.0;
      for (int64_t k = 0; k < num_in; ++k) sum += static_cast<double>(w[n * num_in + k]) * x[t * num_in + k];
      EXPECT_NEAR(y[t * num_out + n], sum, 1e-5);
    }
  }
}

TEST(MatmulTest, RejectsBadShapes) {
  MatmulScratch scratch;
  std::vector<float> buffer(64);
  EXPECT_FALSE(matmul(WeightFormat::Q8_0, buffer.data(), 1, 33, buffer.data(), 1, buffer.data(), scratch).ok());
  EXPECT_FALSE(matmul(WeightFormat::F32, nullptr, 1, 32, buffer.data(), 1, buffer.data(), scratch).ok());
  EXPECT_FALSE(matmul(WeightFormat::F32, buffer.data(), 0, 32, buffer.data(), 1, buffer.data(), scratch).ok());
}

}  // namespace
}  // namespace kvs::kernels
