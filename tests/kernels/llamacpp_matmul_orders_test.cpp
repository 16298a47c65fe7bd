// The three orders of rounding llama.cpp's CPU matmul uses, and the choice
// between them: vec_dot (dot.h, dot_k.h), its tiled K-quant matmul for 8+
// tokens (dot_k_tiled.h) and its repacked 8x8 GEMV/GEMM (dot_repack.h).
//  - The exact integer block sums behind the last two: SIMD = portable
//    reference, and the decoded blocks agree with the dequantizer (which is
//    bit-identical to gguf-py, tests/llamacpp).
//  - matmul() takes, per tensor and token count, the arithmetic llama.cpp
//    takes, and the choice shows in the bits of the result.
//  - Every order stays close to the float product of the dequantized operands.
// Bit-exactness against llama.cpp itself: tests/llamacpp (llamacpp_greedy_<type>
// on re-quantized models, the decode-logits test included).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_k.h"
#include "kernels/cpu/dot_k_tiled.h"
#include "kernels/cpu/dot_repack.h"
#include "kernels/cpu/k_block_sums.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/weight_format.h"
#include "tests/kernels/random_blocks.h"

namespace kvs::kernels {
namespace {

using test::float_bits;
using test::random_activations;
using test::random_blocks;

const WeightFormat kKQuants[] = {WeightFormat::Q2_K, WeightFormat::Q3_K, WeightFormat::Q4_K, WeightFormat::Q5_K,
                                 WeightFormat::Q6_K};

TEST(KBlockSums, DecodedBlocksMatchTheDequantizer) {
  std::mt19937 rng(31);
  for (WeightFormat format : kKQuants) {
    const std::vector<uint8_t> w = random_blocks(format, 32, rng, /*zero_every=*/5);
    for (int64_t b = 0; b < 32; ++b) {
      const uint8_t* block = w.data() + b * format_block_bytes(format);
      std::vector<float> expected(kQuantBlockK);
      dequantize_row(format, block, expected.data(), kQuantBlockK);
      detail::DecodedKBlock decoded;
      detail::decode_k_block(format, block, &decoded);
      for (int e = 0; e < kQuantBlockK; ++e) {
        // value * scale * d (- min * dmin): the dequantizer's own products
        float value = decoded.d * static_cast<float>(decoded.scale_of(e)) * static_cast<float>(decoded.value(e));
        if (decoded.has_min) value -= decoded.dmin * static_cast<float>(decoded.min_of(e));
        EXPECT_NEAR(value, expected[e], 1e-6f * (1.0f + std::fabs(expected[e])))
            << format_name(format) << " block " << b << " element " << e;
      }
    }
  }
}

TEST(KBlockSums, SimdSumsEqualTheReferenceAndTheDefinition) {
  std::mt19937 rng(32);
  for (WeightFormat format : kKQuants) {
    const std::vector<uint8_t> w = random_blocks(format, 16, rng);
    for (int64_t b = 0; b < 16; ++b) {
      detail::DecodedKBlock decoded;
      detail::decode_k_block(format, w.data() + b * format_block_bytes(format), &decoded);
      const std::vector<float> x = random_activations(kQuantBlockK, rng);
      ActivationBlockQ8K xq;
      quantize_activations_q8_k(x.data(), &xq, kQuantBlockK);
      for (int group : {256, 128, 64, 32}) {
        for (int first = 0; first < kQuantBlockK; first += group) {
          int64_t s1 = 0, s2 = 0;  // straight from the definitions, element by element
          for (int e = first; e < first + group; ++e) {
            s1 += static_cast<int64_t>(decoded.scale_of(e)) * decoded.value(e) * xq.q[e];
            if (decoded.has_min) s2 += static_cast<int64_t>(decoded.min_of(e)) * xq.q[e];
          }
          EXPECT_EQ(detail::k_scaled_sum(decoded, xq, first, group), s1) << format_name(format);
          EXPECT_EQ(detail::k_scaled_sum_reference(decoded, xq, first, group), s1) << format_name(format);
          EXPECT_EQ(detail::k_min_sum(decoded, xq, first, group), s2) << format_name(format);
        }
      }
      int32_t s1[8], s2[8], r1[8], r2[8];  // per-chunk sums: SIMD = reference = k_scaled_sum / k_min_sum
      detail::k_chunk_sums(decoded, xq, s1, s2);
      detail::k_chunk_sums_reference(decoded, xq, r1, r2);
      for (int c = 0; c < 8; ++c) {
        EXPECT_EQ(s1[c], r1[c]) << format_name(format) << " chunk " << c;
        EXPECT_EQ(s2[c], r2[c]) << format_name(format) << " chunk " << c;
        EXPECT_EQ(s1[c], detail::k_scaled_sum_reference(decoded, xq, 32 * c, 32)) << format_name(format);
        EXPECT_EQ(s2[c], detail::k_min_sum(decoded, xq, 32 * c, 32)) << format_name(format);
      }
    }
  }
}

// Weights, activations and the matmul of one format and shape.
struct Case {
  WeightFormat format;
  int64_t num_out, num_in, tokens;
  std::vector<uint8_t> w;
  std::vector<float> x, y;
  size_t row_bytes;

  Case(WeightFormat f, int64_t out, int64_t in, int64_t t, std::mt19937& rng)
      : format(f), num_out(out), num_in(in), tokens(t), row_bytes(format_row_bytes(f, in)) {
    w = random_blocks(format, num_out * (num_in / format_block_elements(format)), rng);
    x = random_activations(tokens * num_in, rng);
    y.resize(static_cast<size_t>(tokens * num_out));
    MatmulScratch scratch;
    EXPECT_TRUE(matmul(format, w.data(), num_out, num_in, x.data(), tokens, y.data(), scratch).ok());
  }
  const uint8_t* row(int64_t r) const { return w.data() + r * row_bytes; }
  std::vector<ActivationBlockQ8> q8(int64_t t) const {
    std::vector<ActivationBlockQ8> q(static_cast<size_t>(num_in / kQuantBlock));
    quantize_activations(x.data() + t * num_in, q.data(), num_in);
    return q;
  }
  std::vector<ActivationBlockQ8K> q8k(int64_t t) const {
    std::vector<ActivationBlockQ8K> q(static_cast<size_t>(num_in / kQuantBlockK));
    quantize_activations_q8_k(x.data() + t * num_in, q.data(), num_in);
    return q;
  }
  // The float product of the dequantized weights with the raw activations,
  // and how far the kernels may be from it: activation rounding (at most half
  // a step of max|x| / 127 per element) plus the fp16 rounding of the scales.
  void float_product(int64_t r, int64_t t, double* product, double* tolerance) const {
    std::vector<float> wf(static_cast<size_t>(num_in));
    dequantize_row(format, row(r), wf.data(), num_in);
    double sum = 0.0, weight_mass = 0.0, magnitude = 0.0;
    float max_abs = 0.0f;
    for (int64_t i = 0; i < num_in; ++i) {
      const float xi = x[t * num_in + i];
      sum += static_cast<double>(wf[i]) * xi;
      weight_mass += std::fabs(wf[i]);
      magnitude += std::fabs(static_cast<double>(wf[i]) * xi);
      max_abs = std::max(max_abs, std::fabs(xi));
    }
    *product = sum;
    *tolerance = weight_mass * max_abs / 254.0 * 1.01 + 3e-3 * magnitude + 1e-6;
  }
};

// Expects y == `expected` for every output, that `other` (the arithmetic not
// chosen) differs somewhere, and that y is close to the float product.
template <class Expected, class Other>
void expect_arithmetic(const Case& c, Expected expected, Other other, const char* what) {
  int differ = 0;
  for (int64_t t = 0; t < c.tokens; ++t) {
    for (int64_t r = 0; r < c.num_out; ++r) {
      const float got = c.y[t * c.num_out + r];
      ASSERT_EQ(float_bits(got), float_bits(expected(r, t))) << what << " " << format_name(c.format) << " t=" << t << " r=" << r;
      differ += float_bits(got) != float_bits(other(r, t));
      double reference = 0.0, tolerance = 0.0;
      c.float_product(r, t, &reference, &tolerance);
      EXPECT_NEAR(got, reference, tolerance) << what << " " << format_name(c.format);
    }
  }
  EXPECT_GT(differ, 0) << what << " " << format_name(c.format) << ": the other arithmetic gave the same bits everywhere";
}

TEST(LlamaCppMatmulOrders, RepackedQ4_0AndIQ4_NLForRowCountsOfEight) {
  if (!llamacpp_repacks(WeightFormat::Q4_0, 8)) GTEST_SKIP() << "built without AVX2: llama.cpp repacks nothing";
  std::mt19937 rng(33);
  for (WeightFormat format : {WeightFormat::Q4_0, WeightFormat::IQ4_NL}) {
    for (int64_t tokens : {1, 5}) {
      const Case repacked(format, 16, 512, tokens, rng);
      const auto gemv = [&](int64_t r, int64_t t) {
        float y = 0.0f;
        dot_quantized_tile_repacked(format, repacked.row(r), repacked.row_bytes, 1, repacked.q8(t).data(), 1,
                                    repacked.num_in / kQuantBlock, &y, 1);
        return y;
      };
      const auto vec_dot = [&](int64_t r, int64_t t) {
        return dot_quantized(format, repacked.row(r), repacked.q8(t).data(), repacked.num_in / kQuantBlock);
      };
      expect_arithmetic(repacked, gemv, vec_dot, "repacked");
      const Case plain(format, 12, 512, tokens, rng);  // 12 rows: not repacked
      const auto plain_vec_dot = [&](int64_t r, int64_t t) {
        return dot_quantized(format, plain.row(r), plain.q8(t).data(), plain.num_in / kQuantBlock);
      };
      const auto plain_gemv = [&](int64_t r, int64_t t) {
        float y = 0.0f;
        dot_quantized_tile_repacked(format, plain.row(r), plain.row_bytes, 1, plain.q8(t).data(), 1,
                                    plain.num_in / kQuantBlock, &y, 1);
        return y;
      };
      expect_arithmetic(plain, plain_vec_dot, plain_gemv, "vec_dot");
    }
  }
}

TEST(LlamaCppMatmulOrders, RepackedQ4_KTakesTheGemmForWholeGroupsOfFourTokens) {
  if (!llamacpp_repacks(WeightFormat::Q4_K, 8)) GTEST_SKIP() << "built without AVX2: llama.cpp repacks nothing";
  std::mt19937 rng(34);
  for (WeightFormat format : {WeightFormat::Q4_K, WeightFormat::Q2_K}) {
    if (!llamacpp_repacks(format, 8)) continue;  // Q2_K: AVX-512 builds only, as llama.cpp
    // 6 tokens: 0..3 through the GEMM, 4..5 the GEMV; 70 tokens (past the
    // matmul's 64-token tile): 0..67 the GEMM, 68..69 the GEMV. 24 rows: chunks of
    // 16 (16 rows in 512-bit lanes on AVX-512 VNNI builds) and 8 (8 in 256-bit lanes)
    for (int64_t tokens : {6, 70}) {
      const Case c(format, 24, 1024, tokens, rng);
      const int64_t gemm_tokens = tokens - tokens % 4;
      const auto repacked = [&](int64_t r, int64_t t, bool gemm) {
        float y = 0.0f;
        dot_quantized_tile_repacked_k(c.format, c.row(r), c.row_bytes, 1, c.q8k(t).data(), 1, gemm ? 1 : 0,
                                      c.num_in / kQuantBlockK, &y, 1);
        return y;
      };
      expect_arithmetic(
          c, [&](int64_t r, int64_t t) { return repacked(r, t, t < gemm_tokens); },
          [&](int64_t r, int64_t t) { return repacked(r, t, t >= gemm_tokens); }, "gemm/gemv");
    }
  }
}

TEST(LlamaCppMatmulOrders, TiledKQuantsFromEightTokens) {
  std::mt19937 rng(35);
  for (WeightFormat format : kKQuants) {
    for (int64_t tokens : {7, 8, 19, 70}) {  // 70: past the 64-token tile
      // 28 rows: never repacked; chunks of 16 (in 512-bit lanes on AVX-512 VNNI builds)
      // and 12 (8 in 256-bit lanes, 4 alone)
      const Case c(format, 28, 512, tokens, rng);
      const auto tiled = [&](int64_t r, int64_t t) {
        float y = 0.0f;
        dot_quantized_tile_k_tiled(format, c.row(r), c.row_bytes, 1, c.q8k(t).data(), 1, c.num_in / kQuantBlockK,
                                   &y, 1);
        return y;
      };
      const auto vec_dot = [&](int64_t r, int64_t t) {
        return dot_quantized_k(format, c.row(r), c.q8k(t).data(), c.num_in / kQuantBlockK);
      };
      if (tokens >= kTiledMinTokens) {
        expect_arithmetic(c, tiled, vec_dot, "tiled");
      } else {
        expect_arithmetic(c, vec_dot, tiled, "vec_dot");
      }
    }
  }
}

// The multi-token K-quant kernels sum several maddubs results in int16 before
// their scale (k_tile8.h): the largest codes (all bits set) against the
// largest activations (all at the block's max magnitude, one sign or
// alternating) must still give the one-row, one-token paths' exact sums.
TEST(LlamaCppMatmulOrders, KQuantTilesAtTheLargestCodesAndActivations) {
  std::mt19937 rng(36);
  for (WeightFormat format : kKQuants) {
    const int64_t num_in = 512, tokens = 9, blocks = num_in / kQuantBlockK;
    // 16 rows: repacked where llama.cpp repacks; 12: the tiled path (8 in lanes, 4 alone)
    const int64_t num_out = llamacpp_repacks(format, 16) ? 16 : 12;
    std::vector<uint8_t> w = random_blocks(format, num_out * blocks, rng);
    const size_t block_bytes = format_block_bytes(format);
    for (int64_t b = 0; b < num_out * blocks; ++b) {
      uint8_t* block = w.data() + b * block_bytes;
      std::vector<uint8_t> scales(block_bytes);
      std::memcpy(scales.data(), block, block_bytes);
      std::memset(block, 0xff, block_bytes);
      if (format == WeightFormat::Q6_K) {  // int8 scales: the largest magnitudes
        auto& q6 = *reinterpret_cast<BlockQ6_K*>(block);
        for (int i = 0; i < 16; ++i) q6.scales[i] = static_cast<int8_t>(b % 2 == 0 ? -128 : 127);
      }
      for (const test::ScaleField& field : test::scale_fields(format)) {  // the random fp16 scales back
        std::memcpy(block + field.offset, scales.data() + field.offset, 2);
      }
    }
    std::vector<float> x(static_cast<size_t>(tokens * num_in));
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t i = 0; i < num_in; ++i) {
        const float sign = t % 3 == 0 ? 1.0f : t % 3 == 1 ? -1.0f : (i % 2 == 0 ? 1.0f : -1.0f);
        x[static_cast<size_t>(t * num_in + i)] = sign * (1.0f + static_cast<float>(t));
      }
    }
    std::vector<float> y(static_cast<size_t>(tokens * num_out));
    MatmulScratch scratch;
    ASSERT_TRUE(matmul(format, w.data(), num_out, num_in, x.data(), tokens, y.data(), scratch).ok());
    const size_t row_bytes = format_row_bytes(format, num_in);
    const int64_t gemm_tokens = tokens - tokens % 4;
    for (int64_t t = 0; t < tokens; ++t) {
      std::vector<ActivationBlockQ8K> q(static_cast<size_t>(blocks));
      quantize_activations_q8_k(x.data() + t * num_in, q.data(), num_in);
      for (int64_t r = 0; r < num_out; ++r) {
        float expected = 0.0f;
        if (llamacpp_repacks(format, num_out)) {
          dot_quantized_tile_repacked_k(format, w.data() + r * row_bytes, row_bytes, 1, q.data(), 1,
                                        t < gemm_tokens ? 1 : 0, blocks, &expected, 1);
        } else {
          dot_quantized_tile_k_tiled(format, w.data() + r * row_bytes, row_bytes, 1, q.data(), 1, blocks, &expected,
                                     1);
        }
        ASSERT_EQ(float_bits(y[t * num_out + r]), float_bits(expected))
            << format_name(format) << " t=" << t << " r=" << r;
      }
    }
  }
}

}  // namespace
}  // namespace kvs::kernels
