// The quantized KV cache (q8_0, q4_0) on the CPU: write_kv stores ggml's
// block layouts byte for byte, the SIMD attention equals its portable
// reference bit for bit, and attention_varlen_paged over quantized blocks
// equals the float path over the same (dequantized) values, side output,
// overlay blocks and sliding window included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/attention_quantized.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/kv_quantized_rows.h"
#include "kernels/cpu/paged_attention.h"

namespace kvs::kernels {
namespace {

// ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref, spelled out from
// their definitions (not through kernels/cpu/quantize.h).
std::vector<uint8_t> ggml_blocks(KvDType dtype, const float* x, int64_t n) {
  std::vector<uint8_t> out;
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* v = x + b * 32;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    }
    const float d = dtype == KvDType::Q8_0 ? amax / 127.0f : max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t half = fp32_to_fp16(d);
    out.push_back(static_cast<uint8_t>(half & 0xff));
    out.push_back(static_cast<uint8_t>(half >> 8));
    if (dtype == KvDType::Q8_0) {
      for (int j = 0; j < 32; ++j) out.push_back(static_cast<uint8_t>(static_cast<int8_t>(roundf(v[j] * id))));
    } else {
      for (int j = 0; j < 16; ++j) {
        const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(v[j] * id + 8.5f)));
        const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(v[j + 16] * id + 8.5f)));
        out.push_back(static_cast<uint8_t>(lo | (hi << 4)));
      }
    }
  }
  return out;
}

class QuantizedKvTest : public ::testing::TestWithParam<KvDType> {};

TEST_P(QuantizedKvTest, WriteKvStoresGgmlBlocksInTheirSlots) {
  const KvDType dtype = GetParam();
  const int64_t kv_heads = 2, dim = 64, block_size = 4, num_blocks = 3, row = kv_heads * dim;
  const int64_t row_bytes = kv_row_bytes(dtype, row);
  ASSERT_EQ(row_bytes, dtype == KvDType::Q8_0 ? 4 * 34 : 4 * 18);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  const int64_t num_tokens = 5;
  std::vector<float> k(static_cast<size_t>(num_tokens * row)), v(k.size());
  for (float& x : k) x = dist(rng);
  for (float& x : v) x = dist(rng);
  std::fill(k.begin(), k.begin() + 32, 0.0f);                               // an all-zero block
  for (int j = 0; j < 32; ++j) k[32 + j] = static_cast<float>(j - 16) * 0.5f;  // exact ties of x / d
  std::vector<uint8_t> k_cache(static_cast<size_t>(num_blocks * block_size * row_bytes), 0xAB), v_cache(k_cache);
  const PagedKvLayer cache{k_cache.data(), v_cache.data(), dtype, num_blocks, block_size, kv_heads, dim};
  const std::vector<int32_t> slots = {9, 0, 4, 11, 6};
  ASSERT_TRUE(write_kv(cache, k.data(), row, v.data(), row, slots.data(), num_tokens).ok());
  for (int64_t t = 0; t < num_tokens; ++t) {
    const std::vector<uint8_t> expected_k = ggml_blocks(dtype, k.data() + t * row, row);
    const std::vector<uint8_t> expected_v = ggml_blocks(dtype, v.data() + t * row, row);
    ASSERT_EQ(static_cast<int64_t>(expected_k.size()), row_bytes);
    EXPECT_EQ(0, std::memcmp(expected_k.data(), k_cache.data() + slots[t] * row_bytes, row_bytes)) << "token " << t;
    EXPECT_EQ(0, std::memcmp(expected_v.data(), v_cache.data() + slots[t] * row_bytes, row_bytes)) << "token " << t;
  }
  // Untouched slots keep their bytes.
  for (int64_t slot : {1, 2, 3, 5, 7, 8, 10}) {
    for (int64_t i = 0; i < row_bytes; ++i) ASSERT_EQ(k_cache[slot * row_bytes + i], 0xAB);
  }
  // Round trip: within half a step of each block's scale.
  std::vector<float> back(static_cast<size_t>(row));
  dequantize_kv_row(dtype, k_cache.data() + slots[2] * row_bytes, back.data(), row);
  for (int64_t b = 0; b < row / 32; ++b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(k[2 * row + b * 32 + j]));
    const float step = dtype == KvDType::Q8_0 ? amax / 127.0f : amax / 8.0f;
    for (int j = 0; j < 32; ++j) EXPECT_NEAR(back[b * 32 + j], k[2 * row + b * 32 + j], 0.5f * step * 1.01f);
  }
}

// Random blocks for n slots of one head of `dim` values.
std::vector<uint8_t> random_rows(KvDType dtype, int64_t n, int64_t dim, std::mt19937& rng) {
  std::normal_distribution<float> dist;
  std::vector<float> x(static_cast<size_t>(n * dim));
  for (float& e : x) e = dist(rng);
  std::vector<uint8_t> out(static_cast<size_t>(n * kv_row_bytes(dtype, dim)));
  for (int64_t i = 0; i < n; ++i) quantize_kv_row(dtype, x.data() + i * dim, out.data() + i * kv_row_bytes(dtype, dim), dim);
  return out;
}

TEST_P(QuantizedKvTest, SimdEqualsThePortableReferenceBitForBit) {
  const KvDType dtype = GetParam();
  std::mt19937 rng(17);
  for (int64_t dim : {32, 64, 128}) {
    const int64_t block_size = 3, num_blocks = 9, row_bytes = kv_row_bytes(dtype, dim);
    const std::vector<uint8_t> k = random_rows(dtype, num_blocks * block_size, dim, rng);
    const std::vector<uint8_t> v = random_rows(dtype, num_blocks * block_size, dim, rng);
    const std::vector<int32_t> table = {4, 0, 8, 2, 7, 1, 5, 3, 6};
    const PagedRows<uint8_t> keys{k.data(), nullptr, table.data(), num_blocks, block_size, row_bytes, 0};
    const PagedRows<uint8_t> values{v.data(), nullptr, table.data(), num_blocks, block_size, row_bytes, 0};
    for (int64_t group : {1, 3, 4, 6}) {
      std::normal_distribution<float> dist;
      std::vector<float> q(static_cast<size_t>(group * dim));
      for (float& e : q) e = dist(rng);
      for (int64_t first : {0, 5}) {
        const int64_t window = 25;
        std::vector<float> simd(q.size()), reference(q.size());
        std::vector<float> simd_logits(static_cast<size_t>(group * window)), reference_logits(simd_logits.size());
        std::vector<float*> simd_ptrs, reference_ptrs;
        for (int64_t g = 0; g < group; ++g) {
          simd_ptrs.push_back(simd_logits.data() + g * window);
          reference_ptrs.push_back(reference_logits.data() + g * window);
        }
        QuantizedAttentionScratch scratch;
        const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
        attend_group_quantized(dtype, q.data(), dim, group, keys, values, dim, first, window, scale, scratch,
                               simd.data(), dim, simd_ptrs.data());
        attend_group_quantized_reference(dtype, q.data(), dim, group, keys, values, dim, first, window, scale,
                                         scratch, reference.data(), dim, reference_ptrs.data());
        EXPECT_EQ(simd, reference) << "dim " << dim << " group " << group << " first " << first;
        EXPECT_EQ(simd_logits, reference_logits) << "dim " << dim << " group " << group << " first " << first;
        EXPECT_TRUE(std::isinf(simd_logits[0]) == (first > 0));
      }
    }
  }
}

// Two sequences (a 6-token prompt chunk after 9 cached tokens; one decode
// token after 30), 6 query heads over 2 KV heads, head_dim 64, block size 5,
// scrambled blocks; the last block of the first sequence in an overlay.
struct VarlenCase {
  static constexpr int64_t kHeads = 6, kKvHeads = 2, kDim = 64, kBlock = 5, kRow = kKvHeads * kDim;
  std::vector<int32_t> cu = {0, 6, 7}, context = {15, 31};
  std::vector<int32_t> tables = {3, 9, 10, -1, -1, -1, -1, 0, 7, 1, 4, 2, 6, 5};  // 7 wide
  int64_t num_blocks = 10;
  std::vector<float> q;
  std::vector<uint8_t> k_quant, v_quant, overlay_k_quant, overlay_v_quant;
  std::vector<float> k_float, v_float, overlay_k_float, overlay_v_float;

  explicit VarlenCase(KvDType dtype) {
    std::mt19937 rng(23);
    std::normal_distribution<float> dist;
    const int64_t row_bytes = kv_row_bytes(dtype, kRow);
    const auto fill = [&](int64_t slots, std::vector<uint8_t>& quant, std::vector<float>& dequant) {
      std::vector<float> x(static_cast<size_t>(slots * kRow));
      for (float& e : x) e = dist(rng);
      quant.assign(static_cast<size_t>(slots * row_bytes), 0);
      std::vector<int32_t> all(static_cast<size_t>(slots));
      for (int64_t i = 0; i < slots; ++i) all[i] = static_cast<int32_t>(i);
      const PagedKvLayer layer{quant.data(), quant.data(), dtype, slots / kBlock, kBlock, kKvHeads, kDim};
      ASSERT_TRUE(write_kv(layer, x.data(), kRow, x.data(), kRow, all.data(), slots).ok());
      dequant.resize(x.size());
      for (int64_t i = 0; i < slots; ++i) dequantize_kv_row(dtype, quant.data() + i * row_bytes, dequant.data() + i * kRow, kRow);
    };
    fill(num_blocks * kBlock, k_quant, k_float);
    fill(num_blocks * kBlock, v_quant, v_float);
    fill(kBlock, overlay_k_quant, overlay_k_float);
    fill(kBlock, overlay_v_quant, overlay_v_float);
    q.resize(static_cast<size_t>(7 * kHeads * kDim));
    for (float& e : q) e = dist(rng);
  }
  PagedKvLayer quantized(KvDType dtype) {
    PagedKvLayer layer{k_quant.data(), v_quant.data(), dtype, num_blocks, kBlock, kKvHeads, kDim};
    layer.overlay_k = overlay_k_quant.data();
    layer.overlay_v = overlay_v_quant.data();
    layer.num_overlay_blocks = 1;
    return layer;
  }
  PagedKvLayer dequantized() {
    PagedKvLayer layer{k_float.data(), v_float.data(), KvDType::F32, num_blocks, kBlock, kKvHeads, kDim};
    layer.overlay_k = overlay_k_float.data();
    layer.overlay_v = overlay_v_float.data();
    layer.num_overlay_blocks = 1;
    return layer;
  }
  VarlenBatch batch(int64_t sliding_window) {
    return {2, cu.data(), context.data(), tables.data(), 7, sliding_window};
  }
};

TEST_P(QuantizedKvTest, VarlenEqualsTheFloatPathOnDequantizedValues) {
  const KvDType dtype = GetParam();
  VarlenCase c(dtype);
  const float scale = 0.125f;
  for (int64_t sliding_window : {0, 8}) {
    for (bool with_scores : {false, true}) {
      const std::vector<int32_t> row_begin = {2, 0};
      const std::vector<int64_t> offsets = {0, 15};
      const std::vector<uint64_t> seeds = {3, 4};
      const std::vector<float> tau = {0.0f, 1.5f};  // attention mass; Keyformer's Gumbel score
      std::vector<int64_t> quant_scores(46, 0), float_scores(46, 0);
      AttentionScores quant_side{row_begin.data(), offsets.data(), quant_scores.data(), seeds.data(), tau.data()};
      AttentionScores float_side{row_begin.data(), offsets.data(), float_scores.data(), seeds.data(), tau.data()};
      std::vector<float> got(c.q.size()), expected(c.q.size());
      ASSERT_TRUE(attention_varlen_paged(c.q.data(), VarlenCase::kHeads * VarlenCase::kDim, got.data(), c.quantized(dtype),
                                         c.batch(sliding_window), VarlenCase::kHeads, scale,
                                         with_scores ? &quant_side : nullptr)
                      .ok());
      ASSERT_TRUE(attention_varlen_paged(c.q.data(), VarlenCase::kHeads * VarlenCase::kDim, expected.data(),
                                         c.dequantized(), c.batch(sliding_window), VarlenCase::kHeads, scale,
                                         with_scores ? &float_side : nullptr)
                      .ok());
      // NOTE: the same values and the same math; only the orders of the float
      // sums differ (8 lanes and fused multiply-adds here, serial there).
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], expected[i], 2e-6f) << "element " << i << " window " << sliding_window;
      }
      for (size_t i = 0; i < quant_scores.size(); ++i) {
        ASSERT_NEAR(static_cast<double>(quant_scores[i]) / kScoreOne, static_cast<double>(float_scores[i]) / kScoreOne,
                    1e-5)
            << "score " << i;
      }
      if (with_scores) {
        double mass = 0.0;
        for (int64_t i = 0; i < 15; ++i) mass += static_cast<double>(quant_scores[i]) / kScoreOne;
        EXPECT_GT(mass, 0.0);
      }
    }
  }
}

TEST_P(QuantizedKvTest, ScoresWithMoreHeadsPerKvHeadThanOneChunk) {
  // 20 query heads over one KV head: the side output is taken in chunks.
  const KvDType dtype = GetParam();
  const int64_t heads = 20, dim = 32, block = 4, blocks = 3;
  std::mt19937 rng(29);
  std::normal_distribution<float> dist;
  std::vector<float> x(static_cast<size_t>(blocks * block * dim)), y(x.size()), q(static_cast<size_t>(2 * heads * dim));
  for (float& e : x) e = dist(rng);
  for (float& e : y) e = dist(rng);
  for (float& e : q) e = dist(rng);
  const int64_t row_bytes = kv_row_bytes(dtype, dim);
  std::vector<uint8_t> kq(static_cast<size_t>(blocks * block * row_bytes)), vq(kq.size());
  std::vector<int32_t> slots(static_cast<size_t>(blocks * block));
  for (size_t i = 0; i < slots.size(); ++i) slots[i] = static_cast<int32_t>(i);
  const PagedKvLayer quant{kq.data(), vq.data(), dtype, blocks, block, 1, dim};
  ASSERT_TRUE(write_kv(quant, x.data(), dim, y.data(), dim, slots.data(), blocks * block).ok());
  std::vector<float> kf(x.size()), vf(y.size());
  for (int64_t i = 0; i < blocks * block; ++i) {
    dequantize_kv_row(dtype, kq.data() + i * row_bytes, kf.data() + i * dim, dim);
    dequantize_kv_row(dtype, vq.data() + i * row_bytes, vf.data() + i * dim, dim);
  }
  const PagedKvLayer dequant{kf.data(), vf.data(), KvDType::F32, blocks, block, 1, dim};
  const std::vector<int32_t> cu = {0, 2}, context = {11}, table = {2, 0, 1}, row_begin = {0};
  const std::vector<int64_t> offsets = {0};
  const VarlenBatch batch{1, cu.data(), context.data(), table.data(), 3};
  std::vector<int64_t> got_scores(11, 0), expected_scores(11, 0);
  AttentionScores got_side{row_begin.data(), offsets.data(), got_scores.data(), nullptr, nullptr};
  AttentionScores expected_side{row_begin.data(), offsets.data(), expected_scores.data(), nullptr, nullptr};
  std::vector<float> got(q.size()), expected(q.size());
  ASSERT_TRUE(attention_varlen_paged(q.data(), heads * dim, got.data(), quant, batch, heads, 0.2f, &got_side).ok());
  ASSERT_TRUE(attention_varlen_paged(q.data(), heads * dim, expected.data(), dequant, batch, heads, 0.2f, &expected_side).ok());
  double mass = 0.0;
  for (size_t i = 0; i < got_scores.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(got_scores[i]) / kScoreOne, static_cast<double>(expected_scores[i]) / kScoreOne, 1e-5);
    mass += static_cast<double>(got_scores[i]) / kScoreOne;
  }
  EXPECT_NEAR(mass, 2.0 * heads, 1e-6);  // 2 rows x 20 heads, each a distribution
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 2e-6f);
}

TEST_P(QuantizedKvTest, RejectsAHeadDimThatIsNotWholeBlocks) {
  const KvDType dtype = GetParam();
  std::vector<uint8_t> k(4096), v(4096);
  const PagedKvLayer cache{k.data(), v.data(), dtype, 2, 4, 1, 48};
  const std::vector<float> x(48, 1.0f);
  const int32_t slot = 0;
  const Status status = write_kv(cache, x.data(), 48, x.data(), 48, &slot, 1);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message.find("multiple of 32"), std::string::npos) << status.message;
}

INSTANTIATE_TEST_SUITE_P(Dtypes, QuantizedKvTest, ::testing::Values(KvDType::Q8_0, KvDType::Q4_0),
                         [](const ::testing::TestParamInfo<KvDType>& info) { return std::string(kv_dtype_name(info.param)); });

TEST(QuantizedKvDtypesTest, Fp8AndBf16AreTheCudaEnginesOnly) {
  std::vector<uint8_t> k(1024), v(1024);
  const std::vector<float> x(32, 1.0f);
  const int32_t slot = 0;
  for (KvDType dtype : {KvDType::BF16, KvDType::FP8_E4M3}) {
    const PagedKvLayer cache{k.data(), v.data(), dtype, 2, 4, 1, 32};
    const Status status = write_kv(cache, x.data(), 32, x.data(), 32, &slot, 1);
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message.find("CUDA engine"), std::string::npos) << status.message;
  }
}

}  // namespace
}  // namespace kvs::kernels
