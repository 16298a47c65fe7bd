// Fused weights whose parts are quantized differently (a Q4_K_M file's Q4_K
// q/k with a Q6_K v; Q5_0 with Q8_0) stay quantized as row segments: applying
// the fused weight gives, bit for bit, what applying each part gives, and row
// reads and tensor-parallel slices work across the segments.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/errors.h"
#include "engine/model/linear_weight.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/weight_format.h"
#include "tests/kernels/random_blocks.h"

namespace kvs {
namespace {

using kernels::WeightFormat;

// A [rows, cols] tensor of random blocks, owning its bytes.
struct OwnedTensor {
  std::vector<uint8_t> bytes;
  WeightTensor tensor;
};

OwnedTensor random_tensor(const std::string& name, DType dtype, WeightFormat format, int64_t rows, int64_t cols,
                          std::mt19937& rng) {
  OwnedTensor t;
  t.bytes = kernels::test::random_blocks(format, rows * cols / kernels::format_block_elements(format), rng);
  t.tensor.name = name;
  t.tensor.dtype = dtype;
  t.tensor.shape = {rows, cols};
  t.tensor.data = t.bytes.data();
  t.tensor.num_bytes = t.bytes.size();
  return t;
}

std::vector<float> random_floats(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<float> apply(const LinearWeight& w, const std::vector<float>& x, int64_t tokens) {
  kernels::MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(tokens * w.num_out));
  w.apply(x.data(), tokens, y.data(), scratch);
  return y;
}

void expect_bits_equal(float a, float b, const std::string& where) {
  uint32_t ab, bb;
  std::memcpy(&ab, &a, 4);
  std::memcpy(&bb, &b, 4);
  ASSERT_EQ(ab, bb) << where << ": " << a << " vs " << b;
}

constexpr int64_t kIn = 512;

struct QkvFixture {
  std::mt19937 rng{21};
  OwnedTensor q = random_tensor("q", DType::Q4_K, WeightFormat::Q4_K, 16, kIn, rng);
  OwnedTensor k = random_tensor("k", DType::Q4_K, WeightFormat::Q4_K, 8, kIn, rng);
  OwnedTensor v = random_tensor("v", DType::Q6_K, WeightFormat::Q6_K, 8, kIn, rng);
  LinearWeight fused = LinearWeight::from_tensors({&q.tensor, &k.tensor, &v.tensor}, /*dequantize=*/false);
};

TEST(LinearWeightSegments, MixedQuantizedPartsStayQuantizedOneSegmentPerFormatRun) {
  QkvFixture f;
  ASSERT_EQ(f.fused.num_out, 32);
  ASSERT_EQ(f.fused.segments.size(), 2u);
  EXPECT_EQ(f.fused.segments[0].format, WeightFormat::Q4_K);
  EXPECT_EQ(f.fused.segments[0].num_out, 24);
  EXPECT_EQ(f.fused.segments[1].format, WeightFormat::Q6_K);
  EXPECT_EQ(f.fused.segments[1].num_out, 8);
  EXPECT_EQ(f.fused.row_bytes(23), 2u * 144u);
  EXPECT_EQ(f.fused.row_bytes(24), 2u * 210u);
  const LinearWeight dequantized = LinearWeight::from_tensors({&f.q.tensor, &f.v.tensor}, /*dequantize=*/true);
  ASSERT_EQ(dequantized.segments.size(), 1u);
  EXPECT_EQ(dequantized.segments[0].format, WeightFormat::F32);
}

TEST(LinearWeightSegments, FusedQ4KQ6KWeightGivesThePartsResultsBitForBit) {
  QkvFixture f;
  const LinearWeight parts[] = {LinearWeight::from_tensors({&f.q.tensor}, false),
                                LinearWeight::from_tensors({&f.k.tensor}, false),
                                LinearWeight::from_tensors({&f.v.tensor}, false)};
  for (int64_t tokens : {1, 4, 9}) {
    const std::vector<float> x = random_floats(tokens * kIn, f.rng);
    const std::vector<float> y = apply(f.fused, x, tokens);
    int64_t column = 0;
    for (const LinearWeight& part : parts) {
      const std::vector<float> alone = apply(part, x, tokens);
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t r = 0; r < part.num_out; ++r) {
          expect_bits_equal(y[t * f.fused.num_out + column + r], alone[t * part.num_out + r],
                            "tokens " + std::to_string(tokens) + " t " + std::to_string(t) + " column " +
                                std::to_string(column + r));
        }
      }
      column += part.num_out;
    }
  }
}

TEST(LinearWeightSegments, Q5_0AndQ8_0PartsStayQuantized) {
  std::mt19937 rng(22);
  OwnedTensor gate = random_tensor("gate", DType::Q5_0, WeightFormat::Q5_0, 6, 96, rng);
  OwnedTensor up = random_tensor("up", DType::Q8_0, WeightFormat::Q8_0, 6, 96, rng);
  const LinearWeight fused = LinearWeight::from_tensors({&gate.tensor, &up.tensor}, false);
  ASSERT_EQ(fused.segments.size(), 2u);
  const std::vector<float> x = random_floats(2 * 96, rng);
  const std::vector<float> y = apply(fused, x, 2);
  const std::vector<float> g = apply(LinearWeight::from_tensors({&gate.tensor}, false), x, 2);
  const std::vector<float> u = apply(LinearWeight::from_tensors({&up.tensor}, false), x, 2);
  for (int64_t t = 0; t < 2; ++t) {
    for (int64_t r = 0; r < 6; ++r) {
      expect_bits_equal(y[t * 12 + r], g[t * 6 + r], "gate");
      expect_bits_equal(y[t * 12 + 6 + r], u[t * 6 + r], "up");
    }
  }
}

TEST(LinearWeightSegments, RowsAndSlicesWorkAcrossSegments) {
  QkvFixture f;
  auto row = [&](const LinearWeight& w, int64_t r) {
    std::vector<float> out(static_cast<size_t>(w.num_in));
    w.row_to_float(r, out.data());
    return out;
  };
  // Rows read back as the source tensors' rows.
  std::vector<float> expected(kIn);
  kernels::dequantize_row(WeightFormat::Q6_K, f.v.bytes.data() + 3 * 420, expected.data(), kIn);
  EXPECT_EQ(row(f.fused, 27), expected);
  // Rows 20..27 span both segments; the slice keeps both formats.
  const LinearWeight picked = f.fused.select_rows({{20, 28}, {2, 3}});
  ASSERT_EQ(picked.num_out, 9);
  ASSERT_EQ(picked.segments.size(), 3u);
  EXPECT_EQ(picked.segments[0].format, WeightFormat::Q4_K);
  EXPECT_EQ(picked.segments[1].format, WeightFormat::Q6_K);
  EXPECT_EQ(picked.segments[2].format, WeightFormat::Q4_K);
  for (int64_t r = 0; r < 8; ++r) EXPECT_EQ(row(picked, r), row(f.fused, 20 + r)) << r;
  EXPECT_EQ(row(picked, 8), row(f.fused, 2));
  // Columns on 256-element boundaries: exact parts of every row.
  const LinearWeight columns = f.fused.select_columns(256, 512);
  ASSERT_EQ(columns.num_in, 256);
  ASSERT_EQ(columns.segments.size(), 2u);
  for (int64_t r : {0, 23, 24, 31}) {
    const std::vector<float> whole = row(f.fused, r), part = row(columns, r);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + 256)) << r;
  }
  try {
    f.fused.select_columns(0, 128);
    FAIL() << "accepted a slice inside a K-quant block";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K weight must fall on 256-element block boundaries"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kvs
