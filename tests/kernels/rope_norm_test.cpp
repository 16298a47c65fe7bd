// RoPE, RMSNorm and SwiGLU against direct formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"

namespace kvs::kernels {
namespace {

TEST(RopeTest, InverseFrequenciesFollowTheta) {
  const std::vector<float> f = rope_inverse_frequencies(8, 10000.0f, "none", 1, 1, 4, 0);
  ASSERT_EQ(f.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i], std::pow(10000.0, -2.0 * i / 8), 1e-7);
}

TEST(RopeTest, Llama3ScalingScalesLowFrequenciesOnly) {
  const int64_t dim = 16;
  const std::vector<float> plain = rope_inverse_frequencies(dim, 10000.0f, "none", 1, 1, 4, 0);
  const std::vector<float> scaled = rope_inverse_frequencies(dim, 10000.0f, "llama3", 8, 1, 4, 64);
  const double pi = 3.14159265358979;
  for (size_t i = 0; i < plain.size(); ++i) {
    const double wavelen = 2 * pi / plain[i];
    if (wavelen < 64.0 / 4) EXPECT_FLOAT_EQ(scaled[i], plain[i]);
    else if (wavelen > 64.0) EXPECT_FLOAT_EQ(scaled[i], plain[i] / 8);
    else EXPECT_TRUE(scaled[i] < plain[i] && scaled[i] > plain[i] / 8);
  }
}

TEST(RopeTest, RotatesHalvesByPositionTimesFrequency) {
  const int64_t dim = 8, heads = 2;
  const std::vector<float> inv_freq = rope_inverse_frequencies(dim, 100.0f, "none", 1, 1, 4, 0);
  std::vector<float> x(heads * dim), original;
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i) - 0.4f;
  original = x;
  const int32_t position = 7;
  rope_rotate_half(x.data(), heads * dim, &position, 1, heads, dim, inv_freq.data());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < dim / 2; ++i) {
      const double angle = position * static_cast<double>(inv_freq[i]);
      const float a = original[h * dim + i], b = original[h * dim + i + dim / 2];
      EXPECT_NEAR(x[h * dim + i], a * std::cos(angle) - b * std::sin(angle), 1e-6);
      EXPECT_NEAR(x[h * dim + i + dim / 2], b * std::cos(angle) + a * std::sin(angle), 1e-6);
    }
  }
}

TEST(RmsNormTest, NormalisesEachRow) {
  const std::vector<float> x = {1, 2, 3, 4, -1, 0, 0, 1}, w = {1, 0.5f, 2, 1};
  std::vector<float> out(8);
  rmsnorm(x.data(), w.data(), out.data(), 2, 4, 1e-6f);
  const double r0 = 1 / std::sqrt(30.0 / 4 + 1e-6), r1 = 1 / std::sqrt(2.0 / 4 + 1e-6);
  EXPECT_NEAR(out[1], 2 * r0 * 0.5, 1e-6);
  EXPECT_NEAR(out[2], 3 * r0 * 2, 1e-6);
  EXPECT_NEAR(out[4], -1 * r1, 1e-6);
}

TEST(ActivationTest, SiluTimesUp) {
  const std::vector<float> gate = {-2, 0, 3}, up = {1, 5, -2};
  std::vector<float> out(3);
  silu_mul(gate.data(), up.data(), out.data(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(out[i], gate[i] / (1 + std::exp(-gate[i])) * up[i], 1e-6);
}

}  // namespace
}  // namespace kvs::kernels
