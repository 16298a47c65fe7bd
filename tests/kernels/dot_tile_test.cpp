// The multi-token dot-product tile and the batched matmul must reproduce the
// per-(row, token) dot_quantized() results bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_gemv512.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/dot_tile.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/weight_format.h"

namespace kvs::kernels {
namespace {

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

size_t block_size(WeightFormat format) { return format_block_bytes(format); }

// Random raw blocks: random quant bytes, fp16 scales (and Q4_1 / Q5_1 mins) of either sign.
std::vector<uint8_t> random_rows(WeightFormat format, int64_t rows, int64_t blocks, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> scale(0.0f, 0.02f);
  const size_t size = block_size(format);
  std::vector<uint8_t> out(static_cast<size_t>(rows * blocks) * size);
  for (size_t at = 0; at < out.size(); at += size) {
    for (size_t i = 0; i < size; ++i) out[at + i] = static_cast<uint8_t>(byte(rng));
    const uint16_t d = fp32_to_fp16(scale(rng)), m = fp32_to_fp16(scale(rng) * 10.0f);
    std::memcpy(&out[at], &d, 2);
    if (format == WeightFormat::Q4_1 || format == WeightFormat::Q5_1) std::memcpy(&out[at + 2], &m, 2);
  }
  return out;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

const WeightFormat kFormats[] = {WeightFormat::Q8_0, WeightFormat::Q4_0, WeightFormat::Q4_1,
                                 WeightFormat::Q5_0, WeightFormat::Q5_1, WeightFormat::IQ4_NL};

// The one-token path with two rows per 512-bit register (decode GEMVs)
// equals vec_dot row by row, odd row counts included; formats it has no path
// for (and builds without AVX-512 VNNI) say so and write nothing.
TEST(DotTileTest, TwoRowGemvEqualsVecDot) {
  for (WeightFormat format : kFormats) {
    for (int64_t blocks : {1, 18}) {
      for (int64_t rows : {1, 2, 7, 64}) {
        const std::vector<uint8_t> w = random_rows(format, rows, blocks, 3 + rows);
        const size_t row_bytes = static_cast<size_t>(blocks) * block_size(format);
        const std::vector<float> x = random_floats(static_cast<size_t>(blocks * kQuantBlock), 5);
        std::vector<ActivationBlockQ8> xq(static_cast<size_t>(blocks));
        quantize_activations(x.data(), xq.data(), blocks * kQuantBlock);
        std::vector<float> out(static_cast<size_t>(rows) + 1, -1.0f);
        const bool done =
            dot_quantized_rows_512(format, w.data(), row_bytes, rows, rows, xq.data(), blocks, out.data());
        EXPECT_EQ(done, rows_512_supported(format)) << format_name(format);
        EXPECT_EQ(out[rows], -1.0f) << "wrote past the rows";
        if (!done) {
          EXPECT_EQ(out[0], -1.0f) << "wrote although it had no path";
          continue;
        }
        for (int64_t r = 0; r < rows; ++r) {
          ASSERT_EQ(bits(out[r]), bits(dot_quantized(format, w.data() + r * row_bytes, xq.data(), blocks)))
              << format_name(format) << " blocks " << blocks << " rows " << rows << " at " << r;
        }
      }
    }
  }
}

// The few-token form (1..7 tokens, each weight block read once for all of
// them) equals vec_dot per (row, token), odd row counts and a strided output
// included; more tokens, or formats without a path, write nothing.
TEST(DotTileTest, TwoRowGemvForFewTokensEqualsVecDot) {
  for (WeightFormat format : kFormats) {
    for (int64_t blocks : {1, 18}) {
      for (int64_t rows : {1, 2, 7, 64}) {
        const std::vector<uint8_t> w = random_rows(format, rows, blocks, 9 + rows);
        const size_t row_bytes = static_cast<size_t>(blocks) * block_size(format);
        for (int64_t tokens = 1; tokens <= kRows512MaxTokens + 1; ++tokens) {
          const std::vector<float> x = random_floats(static_cast<size_t>(tokens * blocks * kQuantBlock), 13 + tokens);
          std::vector<ActivationBlockQ8> xq(static_cast<size_t>(tokens * blocks));
          for (int64_t t = 0; t < tokens; ++t) {
            quantize_activations(x.data() + t * blocks * kQuantBlock, xq.data() + t * blocks, blocks * kQuantBlock);
          }
          const int64_t stride = rows + 3;
          std::vector<float> out(static_cast<size_t>(tokens * stride), -1.0f);
          const bool done = dot_quantized_rows_512_tokens(format, w.data(), row_bytes, rows, rows, xq.data(), tokens,
                                                          blocks, out.data(), stride);
          EXPECT_EQ(done, rows_512_supported(format) && tokens <= kRows512MaxTokens) << format_name(format);
          for (int64_t t = 0; t < tokens; ++t) {
            EXPECT_EQ(out[t * stride + rows], -1.0f) << "wrote past the rows";
            for (int64_t r = 0; r < rows; ++r) {
              if (!done) {
                ASSERT_EQ(out[t * stride + r], -1.0f) << "wrote although it had no path";
                continue;
              }
              ASSERT_EQ(bits(out[t * stride + r]),
                        bits(dot_quantized(format, w.data() + r * row_bytes, xq.data() + t * blocks, blocks)))
                  << format_name(format) << " blocks " << blocks << " rows " << rows << " tokens " << tokens
                  << " at (" << r << ", " << t << ")";
            }
          }
        }
      }
    }
  }
}

// Every format, 1..70 tokens (whole 8-token groups and every tail, one
// group and several), odd row counts and more rows than the matmul's chunk;
// one token's first block all zero (x.d = 0).
TEST(DotTileTest, BitIdenticalToPerPairDot) {
  for (WeightFormat format : kFormats) {
    for (int64_t blocks : {1, 3, 18}) {
      for (int64_t rows : {1, 2, 3, 5, 7, 17, 67}) {
        const std::vector<uint8_t> w = random_rows(format, rows, blocks, 7 + rows);
        const size_t row_bytes = static_cast<size_t>(blocks) * block_size(format);
        for (int64_t tokens = 1; tokens <= 70; ++tokens) {
          std::vector<float> x = random_floats(static_cast<size_t>(tokens * blocks * kQuantBlock), 11 + tokens);
          if (tokens > 3) std::fill_n(x.begin() + 3 * blocks * kQuantBlock, kQuantBlock, 0.0f);
          std::vector<ActivationBlockQ8> xq(static_cast<size_t>(tokens * blocks));
          for (int64_t t = 0; t < tokens; ++t) {
            quantize_activations(x.data() + t * blocks * kQuantBlock, xq.data() + t * blocks, blocks * kQuantBlock);
          }
          const int64_t stride = rows + 2;  // outputs need not be packed
          std::vector<float> out(static_cast<size_t>(tokens * stride), -1.0f);
          dot_quantized_tile(format, w.data(), row_bytes, rows, xq.data(), tokens, blocks, out.data(), stride);
          for (int64_t t = 0; t < tokens; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              const float expected = dot_quantized(format, w.data() + r * row_bytes, xq.data() + t * blocks, blocks);
              ASSERT_EQ(bits(out[t * stride + r]), bits(expected))
                  << "format " << static_cast<int>(format) << " blocks " << blocks << " rows " << rows << " tokens "
                  << tokens << " at (" << r << ", " << t << ")";
            }
            EXPECT_EQ(out[t * stride + rows], -1.0f) << "wrote past the tile";
          }
        }
      }
    }
  }
}

// Row counts within one chunk of rows and across several (with a short
// last one), token counts within one token tile and across two, on 1, 2 and
// 3 threads.
TEST(MatmulTest, QuantizedBatchBitIdenticalToPerPairDot) {
  const int64_t blocks = 18, cols = blocks * kQuantBlock;
  const std::pair<int64_t, int> shapes[] = {{37, 1}, {37, 2}, {150, 2}, {150, 3}};  // (rows, threads)
  for (const auto& [rows, threads] : shapes) {
    MatmulScratch scratch;
    scratch.num_threads = threads;
    for (WeightFormat format : kFormats) {
      const std::vector<uint8_t> w = random_rows(format, rows, blocks, 3);
      const size_t row_bytes = static_cast<size_t>(blocks) * block_size(format);
      for (int64_t tokens : {1, 2, 5, 9, 70, 300}) {  // 70 and 300 cross 64- and 256-token tiles
        const std::vector<float> x = random_floats(static_cast<size_t>(tokens * cols), 5 + tokens);
        std::vector<float> y(static_cast<size_t>(tokens * rows));
        ASSERT_TRUE(matmul(format, w.data(), rows, cols, x.data(), tokens, y.data(), scratch).ok());
        std::vector<ActivationBlockQ8> xq(static_cast<size_t>(blocks));
        for (int64_t t = 0; t < tokens; ++t) {
          quantize_activations(x.data() + t * cols, xq.data(), cols);
          for (int64_t r = 0; r < rows; ++r) {
            const float expected = dot_quantized(format, w.data() + r * row_bytes, xq.data(), blocks);
            ASSERT_EQ(bits(y[t * rows + r]), bits(expected)) << format_name(format) << " rows " << rows << " threads "
                                                             << threads << " tokens " << tokens << " at (" << r
                                                             << ", " << t << ")";
          }
        }
      }
    }
  }
}

// The signed-weight kernels rely on activations never quantizing to -128.
TEST(QuantizeTest, ActivationsStayWithinPlusMinus127) {
  std::vector<float> x = random_floats(4 * kQuantBlock, 9);
  x[0] = -3.0f;  // block 0: the extreme is negative
  x[kQuantBlock + 5] = 1e-30f;  // block 1: tiny values
  for (int j = 0; j < kQuantBlock; ++j) x[2 * kQuantBlock + j] = -1.0f;  // block 2: all at -amax
  std::vector<ActivationBlockQ8> xq(4);
  quantize_activations(x.data(), xq.data(), static_cast<int64_t>(x.size()));
  for (const ActivationBlockQ8& block : xq) {
    for (int8_t q : block.q) EXPECT_GE(q, -127);
  }
}

#ifdef KVS_DOT_AVX2
// The integer dot product (VNNI where the build targets it) must equal AVX2's
// maddubs + madd for every operand the kernels pass: unsigned <= 128, any signed.
TEST(DotTest, IntegerDotMatchesMaddubsForKernelOperands) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> u_dist(0, 128), s_dist(-128, 127);
  for (int trial = 0; trial < 2000; ++trial) {
    alignas(32) uint8_t u[32];
    alignas(32) int8_t s[32];
    for (int i = 0; i < 32; ++i) {
      u[i] = static_cast<uint8_t>(trial < 2 ? 128 : u_dist(rng));
      s[i] = static_cast<int8_t>(trial == 0 ? -128 : trial == 1 ? 127 : s_dist(rng));
    }
    const __m256i uv = _mm256_load_si256(reinterpret_cast<const __m256i*>(u));
    const __m256i sv = _mm256_load_si256(reinterpret_cast<const __m256i*>(s));
    const __m256 expected =
        _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(uv, sv), _mm256_set1_epi16(1)));
    const __m256 got = simd::dot_unsigned_signed(uv, sv);
    ASSERT_EQ(_mm256_movemask_ps(_mm256_cmp_ps(got, expected, _CMP_EQ_OQ)), 0xff) << trial;
  }
}
#endif

}  // namespace
}  // namespace kvs::kernels
