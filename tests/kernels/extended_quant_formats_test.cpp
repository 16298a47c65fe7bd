// Q5_0, Q5_1, IQ4_NL and the K-quants (Q2_K ... Q6_K): SIMD dot products
// bit-identical to their scalar references, both close to the float dot of
// the dequantized operands; the Q8_K activation quantizer; matmul (single and
// segmented) against dequantize + float products, taking llama.cpp's tiled
// K-quant arithmetic from kTiledMinTokens tokens on (bit-exactness against
// llama.cpp itself: tests/llamacpp, on re-quantized models).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <limits>
#include <vector>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_k.h"
#include "kernels/cpu/dot_k_tiled.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/weight_format.h"
#include "tests/kernels/random_blocks.h"

namespace kvs::kernels {
namespace {

using test::kExtendedFormats;
using test::float_bits;
using test::random_activations;
using test::random_blocks;

bool is_k_quant(WeightFormat format) { return format_activation_kind(format) == ActivationKind::kQ8K; }

// The activations `x` as the kernels see them (quantized, then dequantized).
std::vector<float> quantized_activations(WeightFormat format, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<float> out(x.size());
  if (is_k_quant(format)) {
    std::vector<ActivationBlockQ8K> q(static_cast<size_t>(n / kQuantBlockK));
    quantize_activations_q8_k(x.data(), q.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = q[i / kQuantBlockK].d * q[i / kQuantBlockK].q[i % kQuantBlockK];
  } else {
    std::vector<ActivationBlockQ8> q(static_cast<size_t>(n / kQuantBlock));
    quantize_activations(x.data(), q.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = q[i / kQuantBlock].d * q[i / kQuantBlock].q[i % kQuantBlock];
  }
  return out;
}

// dot_quantized(_k) and its reference for one row against activations `x`.
std::pair<float, float> dots(WeightFormat format, const uint8_t* row, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  if (is_k_quant(format)) {
    std::vector<ActivationBlockQ8K> q(static_cast<size_t>(n / kQuantBlockK));
    quantize_activations_q8_k(x.data(), q.data(), n);
    return {dot_quantized_k(format, row, q.data(), n / kQuantBlockK),
            dot_quantized_k_reference(format, row, q.data(), n / kQuantBlockK)};
  }
  std::vector<ActivationBlockQ8> q(static_cast<size_t>(n / kQuantBlock));
  quantize_activations(x.data(), q.data(), n);
  return {dot_quantized(format, row, q.data(), n / kQuantBlock),
          dot_quantized_reference(format, row, q.data(), n / kQuantBlock)};
}

TEST(ExtendedQuantFormats, BlockSizes) {
  const struct {
    WeightFormat format;
    int64_t elements;
    size_t bytes;
  } cases[] = {{WeightFormat::Q5_0, 32, 22},  {WeightFormat::Q5_1, 32, 24},  {WeightFormat::IQ4_NL, 32, 18},
               {WeightFormat::Q2_K, 256, 84}, {WeightFormat::Q3_K, 256, 110}, {WeightFormat::Q4_K, 256, 144},
               {WeightFormat::Q5_K, 256, 176}, {WeightFormat::Q6_K, 256, 210}};
  for (const auto& c : cases) {
    EXPECT_EQ(format_block_elements(c.format), c.elements) << format_name(c.format);
    EXPECT_EQ(format_block_bytes(c.format), c.bytes) << format_name(c.format);
  }
}

TEST(ExtendedQuantFormats, SimdDotIsBitIdenticalToReference) {
  std::mt19937 rng(11);
  for (WeightFormat format : kExtendedFormats) {
    const int64_t block = format_block_elements(format);
    for (int64_t num_blocks : {1, 2, 3, 5, 18}) {
      const int64_t n = num_blocks * block;
      for (int trial = 0; trial < 6; ++trial) {
        const std::vector<uint8_t> w = random_blocks(format, num_blocks, rng, /*zero_every=*/trial == 1 ? 2 : 0);
        std::vector<float> x = random_activations(n, rng, trial == 2 ? 30.0f : 1.0f);
        if (trial == 3) std::fill(x.begin(), x.begin() + block, 0.0f);  // an all-zero activation block
        const auto [fast, reference] = dots(format, w.data(), x);
        ASSERT_EQ(float_bits(fast), float_bits(reference))
            << format_name(format) << " blocks=" << num_blocks << " trial=" << trial << ": " << fast << " vs "
            << reference;
      }
    }
  }
}

TEST(ExtendedQuantFormats, DotIsCloseToTheFloatDotOfTheDequantizedOperands) {
  std::mt19937 rng(12);
  for (WeightFormat format : kExtendedFormats) {
    const int64_t block = format_block_elements(format);
    for (int64_t num_blocks : {1, 4, 9}) {
      const int64_t n = num_blocks * block;
      const std::vector<uint8_t> w = random_blocks(format, num_blocks, rng);
      const std::vector<float> x = random_activations(n, rng);
      std::vector<float> wf(static_cast<size_t>(n));
      dequantize_row(format, w.data(), wf.data(), n);
      const std::vector<float> xq = quantized_activations(format, x);
      double expected = 0.0, magnitude = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        expected += static_cast<double>(wf[i]) * xq[i];
        magnitude += std::fabs(static_cast<double>(wf[i]) * xq[i]);
      }
      // Float rounding of the block sums; Q5_1's offset uses d * sum(q)
      // rounded through fp16 (as ggml's q8_1 stores it).
      const double tolerance = (format == WeightFormat::Q5_1 ? 2e-3 : 1e-5) * magnitude + 1e-6;
      EXPECT_NEAR(dots(format, w.data(), x).first, expected, tolerance) << format_name(format) << " " << num_blocks;
    }
  }
}

// The SIMD quantizer (AVX2 builds) equals the one-element-at-a-time
// reference bit for bit: random blocks of several scales, an all-zero block,
// the largest magnitude twice with both signs (the first one wins), halfway
// products, a NaN (skipped by the maximum, quantized to 0) and a block too
// small for its scale.
TEST(QuantizeQ8K, SimdEqualsTheReference) {
  std::mt19937 rng(21);
  const int64_t blocks = 9;
  std::vector<float> x = random_activations(blocks * kQuantBlockK, rng);
  for (int64_t i = 0; i < kQuantBlockK; ++i) x[i] *= 1e3f, x[kQuantBlockK + i] *= 1e-3f;
  std::fill(x.begin() + 2 * kQuantBlockK, x.begin() + 3 * kQuantBlockK, 0.0f);
  x[3 * kQuantBlockK + 10] = 6.0f, x[3 * kQuantBlockK + 200] = -6.0f;   // ties: +6 first
  x[4 * kQuantBlockK + 7] = -6.0f, x[4 * kQuantBlockK + 9] = 6.0f;      // ties: -6 first
  for (int j = 0; j < 40; ++j) x[5 * kQuantBlockK + 20 + j] = 6.0f * (j + 0.5f) / 127.0f;  // halfway
  x[5 * kQuantBlockK + 3] = -6.0f;
  x[6 * kQuantBlockK + 5] = std::numeric_limits<float>::quiet_NaN();
  // so small that iscale overflows: every product is +-inf or NaN, which ggml quantizes to 0
  for (int64_t i = 0; i < kQuantBlockK; ++i) x[7 * kQuantBlockK + i] = static_cast<float>(i) * 1e-40f;
  std::vector<ActivationBlockQ8K> got(blocks), want(blocks);
  quantize_activations_q8_k(x.data(), got.data(), static_cast<int64_t>(x.size()));
  quantize_activations_q8_k_reference(x.data(), want.data(), static_cast<int64_t>(x.size()));
  for (int64_t b = 0; b < blocks; ++b) {
    EXPECT_EQ(float_bits(got[b].d), float_bits(want[b].d)) << "block " << b;
    for (int j = 0; j < kQuantBlockK; ++j) ASSERT_EQ(got[b].q[j], want[b].q[j]) << "block " << b << " at " << j;
    for (int k = 0; k < kQuantBlockK / 16; ++k) ASSERT_EQ(got[b].bsums[k], want[b].bsums[k]) << b << " " << k;
  }
  for (int j = 0; j < kQuantBlockK; ++j) EXPECT_EQ(want[7].q[j], 0) << j;
  EXPECT_EQ(want[6].q[5], 0);  // the NaN, as ggml's nearest_int gives
}

// The 32-element activation quantizer (Q8_0 / Q4_1 / ... weights): the SIMD
// form (AVX2 and AVX-512 builds) equals the portable reference bit for bit on random
// blocks of several scales, an all-zero block, products near halfway, the
// extreme on either sign and tiny inputs.
TEST(QuantizeQ8, SimdEqualsTheReference) {
  std::mt19937 rng(22);
  const int64_t blocks = 64;
  std::vector<float> x = random_activations(blocks * kQuantBlock, rng);
  for (int64_t i = 0; i < kQuantBlock; ++i) x[i] *= 1e4f, x[kQuantBlock + i] *= 1e-4f;
  std::fill(x.begin() + 2 * kQuantBlock, x.begin() + 3 * kQuantBlock, 0.0f);
  for (int j = 0; j < 31; ++j) x[3 * kQuantBlock + j] = 6.0f * (j + 0.5f) / 127.0f;  // halfway
  x[3 * kQuantBlock + 31] = -6.0f;
  // Tiny values, still with a finite 127 / max (a subnormal block makes it
  // +inf, and the scalar reference's int conversion and sum then overflow).
  for (int64_t i = 0; i < kQuantBlock; ++i) x[4 * kQuantBlock + i] = static_cast<float>(i - 16) * 1e-30f;
  std::vector<ActivationBlockQ8> got(blocks), want(blocks);
  quantize_activations(x.data(), got.data(), static_cast<int64_t>(x.size()));
  quantize_activations_reference(x.data(), want.data(), static_cast<int64_t>(x.size()));
  for (int64_t b = 0; b < blocks; ++b) {
    EXPECT_EQ(float_bits(got[b].d), float_bits(want[b].d)) << "block " << b;
    EXPECT_EQ(float_bits(got[b].d_times_sum), float_bits(want[b].d_times_sum)) << "block " << b;
    EXPECT_EQ(got[b].sum_q, want[b].sum_q) << "block " << b;
    for (int j = 0; j < kQuantBlock; ++j) ASSERT_EQ(got[b].q[j], want[b].q[j]) << "block " << b << " at " << j;
  }
}

TEST(QuantizeQ8K, ScalesRoundsAndSumsAsGgml) {
  std::mt19937 rng(13);
  std::vector<float> x = random_activations(3 * kQuantBlockK, rng);
  x[100] = -7.5f;                                                             // block 0's extreme, negative
  std::fill(x.begin() + kQuantBlockK, x.begin() + 2 * kQuantBlockK, 0.0f);  // block 1 all zero
  x[2 * kQuantBlockK + 3] = 4.0f;                                            // block 2's extreme, positive
  x[2 * kQuantBlockK + 4] = 4.0f * 0.5f / 127.0f;                            // q = -0.5 * ... ties
  std::vector<ActivationBlockQ8K> q(3);
  quantize_activations_q8_k(x.data(), q.data(), static_cast<int64_t>(x.size()));
  // The extreme element maps to -127 (iscale = -127 / extreme), d = 1 / iscale.
  EXPECT_EQ(q[0].q[100], -127);
  EXPECT_EQ(q[0].d, 1.0f / (-127.0f / -7.5f));
  EXPECT_EQ(q[2].q[3], -127);
  EXPECT_EQ(q[2].d, 1.0f / (-127.0f / 4.0f));
  EXPECT_EQ(q[2].q[4], static_cast<int8_t>(std::nearbyint((-127.0f / 4.0f) * x[2 * kQuantBlockK + 4])));
  EXPECT_EQ(q[1].d, 0.0f);
  for (int b = 0; b < 3; ++b) {
    for (int k = 0; k < kQuantBlockK / 16; ++k) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += q[b].q[16 * k + j];
      EXPECT_EQ(q[b].bsums[k], sum) << b << " " << k;
    }
    for (int j = 0; j < kQuantBlockK; ++j) {
      const float v = x[b * kQuantBlockK + j];
      EXPECT_LE(q[b].q[j], 127);
      EXPECT_GE(q[b].q[j], -127);
      // Round to nearest: within half a step of the input.
      EXPECT_LE(std::fabs(q[b].d * q[b].q[j] - v), std::fabs(q[b].d) * 0.5001f + 1e-30f) << b << " " << j;
    }
  }
}

TEST(ExtendedQuantFormats, MatmulMatchesDotsAndDequantizedProducts) {
  std::mt19937 rng(14);
  MatmulScratch scratch;
  for (WeightFormat format : kExtendedFormats) {
    const int64_t num_in = 2 * kQuantBlockK, num_out = 19;
    const int64_t blocks = num_in / format_block_elements(format);
    const size_t row_bytes = format_row_bytes(format, num_in);
    const std::vector<uint8_t> w = random_blocks(format, num_out * blocks, rng, /*zero_every=*/7);
    std::vector<float> wf(static_cast<size_t>(num_out * num_in));
    for (int64_t r = 0; r < num_out; ++r) dequantize_row(format, w.data() + r * row_bytes, wf.data() + r * num_in, num_in);
    for (int64_t tokens : {1, 3, 10}) {
      const std::vector<float> x = random_activations(tokens * num_in, rng);
      std::vector<float> y(static_cast<size_t>(tokens * num_out));
      ASSERT_TRUE(matmul(format, w.data(), num_out, num_in, x.data(), tokens, y.data(), scratch).ok());
      for (int64_t t = 0; t < tokens; ++t) {
        const std::vector<float> xt(x.begin() + t * num_in, x.begin() + (t + 1) * num_in);
        float max_abs = 0.0f;
        for (float v : xt) max_abs = std::max(max_abs, std::fabs(v));
        for (int64_t r = 0; r < num_out; ++r) {
          const float got = y[t * num_out + r];
          // llama.cpp's arithmetic for this many tokens: vec_dot, or for K-quants
          // in batches of kTiledMinTokens+ its tiled matmul (one row, one token).
          float single = dots(format, w.data() + r * row_bytes, xt).first;
          if (is_k_quant(format) && tokens >= kTiledMinTokens) {
            std::vector<ActivationBlockQ8K> q(static_cast<size_t>(num_in / kQuantBlockK));
            quantize_activations_q8_k(xt.data(), q.data(), num_in);
            dot_quantized_tile_k_tiled(format, w.data() + r * row_bytes, row_bytes, 1, q.data(), 1,
                                       num_in / kQuantBlockK, &single, 1);
            // The two orders of rounding differ in the last bits only.
            EXPECT_NEAR(single, dots(format, w.data() + r * row_bytes, xt).first, 1e-5f * (1.0f + std::fabs(single)));
          }
          ASSERT_EQ(float_bits(got), float_bits(single)) << format_name(format) << " tokens=" << tokens << " t=" << t << " r=" << r;
          double expected = 0.0, weight_mass = 0.0, magnitude = 0.0;
          for (int64_t i = 0; i < num_in; ++i) {
            expected += static_cast<double>(wf[r * num_in + i]) * xt[i];
            weight_mass += std::fabs(wf[r * num_in + i]);
            magnitude += std::fabs(static_cast<double>(wf[r * num_in + i]) * xt[i]);
          }
          // Activation rounding (at most half a step of max|x| / 127 per element) plus
          // fp16 rounding of the activation scales.
          const double tolerance = weight_mass * max_abs / 254.0 * 1.01 + 3e-3 * magnitude + 1e-6;
          EXPECT_NEAR(got, expected, tolerance) << format_name(format) << " t=" << t << " r=" << r;
        }
      }
    }
  }
}

TEST(ExtendedQuantFormats, MatmulRejectsRowsThatAreNotWholeBlocks) {
  std::mt19937 rng(15);
  const std::vector<uint8_t> w = random_blocks(WeightFormat::Q4_K, 4, rng);
  const std::vector<float> x(288, 1.0f);
  std::vector<float> y(4);
  MatmulScratch scratch;
  const Status status = matmul(WeightFormat::Q4_K, w.data(), 4, 288, x.data(), 1, y.data(), scratch);
  EXPECT_EQ(status.code, StatusCode::InvalidArgument);
  EXPECT_NE(status.message.find("Q4_K rows need a multiple of 256 inputs, got 288"), std::string::npos)
      << status.message;
}

// Segments of different formats (K-quants and 32-element formats mixed, so
// both activation kinds) give the same values, bit for bit, as one matmul per
// segment, each in its columns of y.
TEST(MatmulSegments, MixedFormatsEqualSeparateMatmuls) {
  std::mt19937 rng(16);
  const int64_t num_in = 512;
  const WeightFormat formats[] = {WeightFormat::Q4_K, WeightFormat::Q6_K, WeightFormat::Q8_0, WeightFormat::Q5_0,
                                  WeightFormat::F32};
  const int64_t rows[] = {16, 8, 5, 3, 4};
  std::vector<std::vector<uint8_t>> data;
  std::vector<MatmulSegment> segments;
  int64_t total = 0;
  for (size_t i = 0; i < std::size(formats); ++i) {
    if (formats[i] == WeightFormat::F32) {
      const std::vector<float> f = random_activations(rows[i] * num_in, rng, 0.05f);
      data.emplace_back(reinterpret_cast<const uint8_t*>(f.data()), reinterpret_cast<const uint8_t*>(f.data() + f.size()));
    } else {
      data.push_back(random_blocks(formats[i], rows[i] * num_in / format_block_elements(formats[i]), rng));
    }
    total += rows[i];
  }
  for (size_t i = 0; i < std::size(formats); ++i) segments.push_back({formats[i], data[i].data(), rows[i]});
  MatmulScratch scratch;
  for (int64_t tokens : {1, 5}) {
    const std::vector<float> x = random_activations(tokens * num_in, rng);
    std::vector<float> y(static_cast<size_t>(tokens * total));
    ASSERT_TRUE(matmul_segments(segments.data(), segments.size(), num_in, x.data(), tokens, y.data(), scratch).ok());
    int64_t column = 0;
    for (const MatmulSegment& s : segments) {
      std::vector<float> alone(static_cast<size_t>(tokens * s.num_out));
      ASSERT_TRUE(matmul(s.format, s.w, s.num_out, num_in, x.data(), tokens, alone.data(), scratch).ok());
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t r = 0; r < s.num_out; ++r) {
          ASSERT_EQ(float_bits(y[t * total + column + r]), float_bits(alone[t * s.num_out + r]))
              << format_name(s.format) << " tokens=" << tokens << " t=" << t << " r=" << r;
        }
      }
      column += s.num_out;
    }
  }
}

}  // namespace
}  // namespace kvs::kernels
