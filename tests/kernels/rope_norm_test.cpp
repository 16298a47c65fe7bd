// RoPE, RMSNorm and SwiGLU against direct formulas; llama.cpp's rounding
// where the kernels promise it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/exp_llamacpp_avx2.h"
#include "kernels/cpu/exp_llamacpp_avx512.h"
#include "kernels/cpu/llamacpp_arith.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"

namespace kvs::kernels {
namespace {

uint32_t float_bits(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

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

// HF row order (pairs i, i + dim/2) of one head from the interleaved order
// (pairs 2i, 2i + 1).
std::vector<float> to_half_split(const std::vector<float>& interleaved, int64_t dim) {
  std::vector<float> out(interleaved.size());
  for (size_t h = 0; h < interleaved.size() / dim; ++h) {
    for (int64_t i = 0; i < dim / 2; ++i) {
      out[h * dim + i] = interleaved[h * dim + 2 * i];
      out[h * dim + i + dim / 2] = interleaved[h * dim + 2 * i + 1];
    }
  }
  return out;
}

TEST(RopeTest, InterleavedLlamaCppMatchesRotateHalfOnReorderedRows) {
  const int64_t dim = 64, heads = 3;
  const float base = 100000.0f;
  const std::vector<float> inv_freq = rope_inverse_frequencies(dim, base, "none", 1, 1, 4, 0);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  const std::vector<int32_t> positions = {0, 1, 17, 250, 1000};
  std::vector<float> interleaved(positions.size() * heads * dim);
  for (float& v : interleaved) v = normal(rng);
  std::vector<float> half_split = to_half_split(interleaved, dim);
  RopeLlamaCppParams params;
  params.base = base;
  rope_interleaved_llamacpp(interleaved.data(), heads * dim, positions.data(), 5, heads, dim, params);
  rope_rotate_half(half_split.data(), heads * dim, positions.data(), 5, heads, dim, inv_freq.data());
  const std::vector<float> reordered = to_half_split(interleaved, dim);
  // The same rotation; llama.cpp's angles drift from the accurate ones by a
  // few float roundings per frequency step (about 4e-8 * position rad).
  for (size_t i = 0; i < reordered.size(); ++i) EXPECT_NEAR(reordered[i], half_split[i], 2e-4) << i;
  EXPECT_NE(reordered, half_split);  // and they do round differently
}

TEST(RopeTest, InterleavedLlamaCppFormsAnglesByRepeatedMultiplication) {
  // Rotating (1, 0) yields (cos, sin) of the angle exactly, so the angle
  // arithmetic can be checked bit for bit.
  const int64_t dim = 16;
  const float factors[8] = {1, 1, 2, 2, 4, 4, 8, 8};
  for (const float* freq_factors : {static_cast<const float*>(nullptr), factors}) {
    RopeLlamaCppParams params;
    params.base = 10000.0f;
    params.freq_scale = 0.5f;
    params.freq_factors = freq_factors;
    std::vector<float> x(dim, 0.0f);
    for (int64_t i = 0; i < dim; i += 2) x[i] = 1.0f;
    const int32_t position = 37;
    rope_interleaved_llamacpp(x.data(), dim, &position, 1, 1, dim, params);
    const float theta_scale = std::pow(10000.0f, -2.0f / dim);
    float theta = 37.0f;
    for (int64_t i = 0; i < dim / 2; ++i) {
      const float angle = 0.5f * (theta / (freq_factors ? freq_factors[i] : 1.0f));
      EXPECT_EQ(x[2 * i], std::cos(angle)) << i;
      EXPECT_EQ(x[2 * i + 1], std::sin(angle)) << i;
      theta *= theta_scale;
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

TEST(RmsNormTest, SumsFloatSquaresInDouble) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t dim = 576;
  std::vector<float> x(dim), w(dim), out(dim);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = normal(rng);
  rmsnorm(x.data(), w.data(), out.data(), 1, dim, 1e-5f);
  double sum = 0.0;
  for (float v : x) sum += static_cast<double>(v * v);
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / dim) + 1e-5f);
  for (int64_t i = 0; i < dim; ++i) ASSERT_EQ(out[i], (x[i] * scale) * w[i]) << i;
}

TEST(ActivationTest, SiluTimesUp) {
  // 37 elements: the 16-wide part (exp_llamacpp) and the tail (expf).
  std::vector<float> gate(37), up(37), out(37);
  for (int i = 0; i < 37; ++i) {
    gate[i] = 0.37f * static_cast<float>(i) - 6.0f;
    up[i] = 1.0f - 0.05f * static_cast<float>(i);
  }
  silu_mul(gate.data(), up.data(), out.data(), 37);
  for (int i = 0; i < 37; ++i) {
    const double g = gate[i];
    EXPECT_NEAR(out[i], g / (1 + std::exp(-g)) * up[i], 1e-6 * std::fabs(g * up[i]) + 1e-7) << i;
  }
  for (int i = 32; i < 37; ++i) EXPECT_EQ(out[i], gate[i] / (1.0f + std::exp(-gate[i])) * up[i]) << i;
}

// The eight-wide GELU path (AVX2 + F16C builds; n >= 8) gives what the
// one-element path (n = 1, the scalar loop) gives, bit for bit: random
// floats (not only halves), the +-10 clamps and their neighbours, infinities,
// NaN, and aliasing out with gate.
TEST(ActivationTest, GeluTanhMulVectorEqualsOneAtATime) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> gate(4099), up(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = dist(rng), up[i] = dist(rng);
  const float edges[] = {-10.0f, 10.0f, std::nextafter(-10.0f, 0.0f), std::nextafter(10.0f, 0.0f), -65504.0f,
                         70000.0f, -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(),
                         std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f, 1e-8f};
  for (size_t i = 0; i < std::size(edges); ++i) gate[7 * i + 3] = edges[i];
  std::vector<float> vector_out(gate.size()), one(gate.size());
  gelu_tanh_mul(gate.data(), up.data(), vector_out.data(), static_cast<int64_t>(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i) gelu_tanh_mul(&gate[i], &up[i], &one[i], 1);
  for (size_t i = 0; i < gate.size(); ++i) {
    if (std::isnan(one[i])) {
      EXPECT_TRUE(std::isnan(vector_out[i])) << i;
    } else {
      EXPECT_EQ(vector_out[i], one[i]) << "gate " << gate[i] << " at " << i;
    }
  }
  std::vector<float> aliased = gate;
  gelu_tanh_mul(aliased.data(), up.data(), aliased.data(), static_cast<int64_t>(aliased.size()));
  for (size_t i = 0; i < gate.size(); ++i) {
    if (!std::isnan(one[i])) EXPECT_EQ(aliased[i], one[i]) << i;
  }
}

TEST(LlamaCppArithTest, ExpIsWithinTwoUlpsOfExp) {
  // Relative error below 2^-22: two units in the last place of a float (the
  // routine's own bound is about 1.95).
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    const double exact = std::exp(static_cast<double>(x));
    ASSERT_LE(std::fabs(exp_llamacpp(x) - exact), std::ldexp(exact, -22)) << x;
  }
  EXPECT_EQ(exp_llamacpp(0.0f), 1.0f);
  EXPECT_EQ(exp_llamacpp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(exp_llamacpp(-200.0f), 0.0f);
  EXPECT_EQ(exp_llamacpp(200.0f), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(exp_llamacpp(std::numeric_limits<float>::quiet_NaN())));
  // Results below the normal range round once, like AVX-512 scalef.
  EXPECT_NEAR(exp_llamacpp(-100.0f), std::exp(-100.0), 2e-45);
}

// silu_mul's 16-wide part (exp16_llamacpp on AVX-512 builds, exp8_llamacpp
// on x86-64-v3 ones) equals the scalar formula
// g / (1 + exp_llamacpp(0 - g)) * up bit for bit: random gates over the
// whole range where exp over- and underflows, the |n| > 192 edges,
// infinities, NaN and signed zeros.
TEST(ActivationTest, SiluMulVectorEqualsTheScalarFormula) {
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 30.0f);
  std::vector<float> gate(4096), up(gate.size()), out(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = dist(rng), up[i] = dist(rng);
  const float edges[] = {-133.0f, 133.0f, -134.0f, 134.0f, 88.8f, -88.8f, -104.0f, 1e-30f, -0.0f, 0.0f,
                         -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(),
                         std::numeric_limits<float>::quiet_NaN(), 1e30f, -1e30f};
  for (size_t i = 0; i < std::size(edges); ++i) gate[13 * i + 5] = edges[i];
  silu_mul(gate.data(), up.data(), out.data(), static_cast<int64_t>(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i) {
    const float want = gate[i] / (1.0f + exp_llamacpp(0.0f - gate[i])) * up[i];
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(out[i])) << i;
    } else {
      ASSERT_EQ(float_bits(out[i]), float_bits(want)) << "gate " << gate[i] << " at " << i;
    }
  }
}

// Each of `n` vector lanes equals exp_llamacpp of its input bit for bit (NaN: any NaN).
void expect_lanes_equal_exp(const float* lanes, const float* x, size_t n) {
  for (size_t l = 0; l < n; ++l) {
    const float want = exp_llamacpp(x[l]);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(lanes[l])) << x[l];
    } else {
      ASSERT_EQ(float_bits(lanes[l]), float_bits(want)) << x[l];
    }
  }
}

// exp16_llamacpp, lane for lane, against exp_llamacpp over a sweep that
// crosses both saturation edges, with NaN and infinities in some lanes.
TEST(LlamaCppArithTest, Exp16EqualsExpLaneForLane) {
#ifdef KVS_HAVE_EXP16
  std::vector<float> x;
  for (float v = -140.0f; v < 140.0f; v += 0.00731f) x.push_back(v);
  for (float v : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), 0.0f, -0.0f, 1e30f, -1e30f}) {
    x.push_back(v);
  }
  while (x.size() % 16 != 0) x.push_back(1.0f);
  for (size_t i = 0; i < x.size(); i += 16) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, exp16_llamacpp(_mm512_loadu_ps(&x[i])));
    ASSERT_NO_FATAL_FAILURE(expect_lanes_equal_exp(lanes, &x[i], 16));
  }
#else
  GTEST_SKIP() << "exp16_llamacpp exists in AVX-512 builds only";
#endif
}

// exp8_llamacpp (x86-64-v3 builds: the softmax and SiLU of the AVX2 copy),
// lane for lane, against exp_llamacpp over the same sweep: both saturation
// edges, the scalar form's two-step scaling range (|n| > 126) and results
// that round to subnormals, with NaN and infinities in some lanes.
TEST(LlamaCppArithTest, Exp8EqualsExpLaneForLane) {
#ifdef KVS_HAVE_EXP8
  std::vector<float> x;
  for (float v = -140.0f; v < 140.0f; v += 0.00731f) x.push_back(v);
  for (float v = -104.0f; v < -87.0f; v += 0.0001f) x.push_back(v);  // subnormal results
  for (float v : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), 0.0f, -0.0f, 1e30f, -1e30f, 133.0f, -133.5f, 88.7f}) {
    x.push_back(v);
  }
  while (x.size() % 8 != 0) x.push_back(1.0f);
  for (size_t i = 0; i < x.size(); i += 8) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, exp8_llamacpp(_mm256_loadu_ps(&x[i])));
    ASSERT_NO_FATAL_FAILURE(expect_lanes_equal_exp(lanes, &x[i], 8));
  }
#else
  GTEST_SKIP() << "exp8_llamacpp exists in AVX2 + FMA builds only";
#endif
}

TEST(LlamaCppArithTest, Sum16FoldsHalvesLikeAvx512Reduce) {
  // 2^24 + 1 rounds back to 2^24: a left-to-right sum loses both ones, the
  // folded order adds them to each other first (lanes 1 and 9).
  std::vector<float> v(16, 0.0f);
  v[0] = 16777216.0f;
  v[1] = 1.0f;
  v[9] = 1.0f;
  EXPECT_EQ(sum16_llamacpp(v.data()), 16777218.0f);
  float sequential = 0.0f;
  for (float x : v) sequential += x;
  EXPECT_EQ(sequential, 16777216.0f);
}

}  // namespace
}  // namespace kvs::kernels
