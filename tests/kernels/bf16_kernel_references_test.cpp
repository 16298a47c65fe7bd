// CPU references of the bf16 GPU kernels (embedding, fused residual add +
// RMSNorm, SiLU·mul, RoPE + paged KV write) against direct formulas in double.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/embedding_reference.h"
#include "kernels/cpu/fused_add_rmsnorm_reference.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/rope_kv_write_reference.h"
#include "kernels/cpu/silu_mul_reference.h"

namespace kvs::kernels {
namespace {

std::vector<uint16_t> random_bf16(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<uint16_t> out(n);
  for (uint16_t& v : out) v = fp32_to_bf16(dist(rng));
  return out;
}

// Within half a bf16 step (round to nearest) of the exact value, plus slack.
void expect_rounded(uint16_t got, double exact, const char* what) {
  const double step = std::ldexp(1.0, -7) * std::max(std::abs(exact), 1e-30);
  EXPECT_LE(std::abs(bf16_to_fp32(got) - exact), 0.5 * step + 1e-6 * std::max(std::abs(exact), 1.0)) << what << " " << exact;
}

TEST(EmbeddingReferenceTest, CopiesRowsAndZeroesBadIds) {
  const int64_t vocab = 5, dim = 3;
  const auto table = random_bf16(vocab * dim, 1);
  const std::vector<int32_t> ids = {4, -1, 0, 5, 4};
  std::vector<uint16_t> out_bf16(ids.size() * dim);
  std::vector<float> out_f32(ids.size() * dim);
  embedding_lookup_reference(table.data(), vocab, dim, ids.data(), 5, out_bf16.data(), out_f32.data());
  for (size_t t = 0; t < ids.size(); ++t) {
    for (int64_t i = 0; i < dim; ++i) {
      const bool valid = ids[t] >= 0 && ids[t] < vocab;
      const uint16_t want = valid ? table[ids[t] * dim + i] : 0;
      EXPECT_EQ(out_bf16[t * dim + i], want);
      EXPECT_EQ(out_f32[t * dim + i], bf16_to_fp32(want));
    }
  }
}

TEST(FusedAddRmsNormReferenceTest, MatchesFormula) {
  const int64_t rows = 3, dim = 37;
  auto residual = random_bf16(rows * dim, 2);
  const auto original = residual;
  const auto x = random_bf16(rows * dim, 3);
  const auto w = random_bf16(dim, 4);
  std::vector<uint16_t> out(rows * dim);
  fused_add_rmsnorm_reference(residual.data(), x.data(), w.data(), out.data(), rows, dim, 1e-5f);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) {
      const size_t at = r * dim + i;
      EXPECT_EQ(residual[at], fp32_to_bf16(bf16_to_fp32(original[at]) + bf16_to_fp32(x[at])));
      sum += std::pow(bf16_to_fp32(residual[at]), 2);
    }
    const double scale = 1.0 / std::sqrt(sum / dim + 1e-5);
    for (int64_t i = 0; i < dim; ++i) {
      expect_rounded(out[r * dim + i], bf16_to_fp32(residual[r * dim + i]) * scale * bf16_to_fp32(w[i]), "rmsnorm");
    }
  }
  // Without x: the residual is only normalised, not changed.
  auto again = residual;
  std::vector<uint16_t> out2(rows * dim);
  fused_add_rmsnorm_reference(again.data(), nullptr, w.data(), out2.data(), rows, dim, 1e-5f);
  EXPECT_EQ(again, residual);
  EXPECT_EQ(out2, out);
}

TEST(SiluMulReferenceTest, MatchesFormulaWithStrides) {
  const int64_t rows = 4, dim = 9;
  const auto gate_up = random_bf16(rows * 2 * dim, 5, 4.0f);
  std::vector<uint16_t> out(rows * dim);
  silu_mul_reference(gate_up.data(), 2 * dim, gate_up.data() + dim, 2 * dim, out.data(), dim, rows, dim);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) {
      const double g = bf16_to_fp32(gate_up[r * 2 * dim + i]), u = bf16_to_fp32(gate_up[r * 2 * dim + dim + i]);
      expect_rounded(out[r * dim + i], g / (1.0 + std::exp(-g)) * u, "silu");
    }
  }
}

TEST(RopeKvWriteReferenceTest, RotatesQAndKIntoSlotsAndCopiesV) {
  const int64_t tokens = 3, heads = 4, kv_heads = 2, d = 8, block_size = 3, num_blocks = 3;
  const int64_t row = (heads + 2 * kv_heads) * d;
  auto qkv = random_bf16(tokens * row, 6);
  const auto original = qkv;
  const int64_t kv_row = kv_heads * d;
  std::vector<uint16_t> k_cache(num_blocks * block_size * kv_row, 0), v_cache(k_cache.size(), 0);
  const std::vector<int32_t> positions = {0, 5, 1000};
  const std::vector<int32_t> slots = {7, -1, 2};
  const std::vector<float> inv_freq = rope_inverse_frequencies(d, 500000.0f, "llama3", 32.0f, 1.0f, 4.0f, 8192);
  RopeKvWriteArgs a;
  a.num_tokens = tokens;
  a.q = qkv.data();
  a.q_row_stride = a.k_row_stride = a.v_row_stride = row;
  a.num_heads = heads;
  a.k = qkv.data() + heads * d;
  a.v = qkv.data() + (heads + kv_heads) * d;
  a.k_cache = k_cache.data();
  a.v_cache = v_cache.data();
  a.num_blocks = num_blocks;
  a.block_size = block_size;
  a.num_kv_heads = kv_heads;
  a.head_dim = d;
  a.positions = positions.data();
  a.slot_mapping = slots.data();
  a.inv_freq = inv_freq.data();
  ASSERT_TRUE(rope_kv_write_reference(a).ok());
  auto rotated = [&](int64_t t, int64_t col0, int64_t i) {  // exact rotate-half of element i of the head at col0
    const int64_t half = d / 2, pair = i % half;
    const double angle = static_cast<double>(static_cast<float>(positions[t]) * inv_freq[pair]);
    const double x0 = bf16_to_fp32(original[t * row + col0 + pair]);
    const double x1 = bf16_to_fp32(original[t * row + col0 + pair + half]);
    return i < half ? x0 * std::cos(angle) - x1 * std::sin(angle) : x1 * std::cos(angle) + x0 * std::sin(angle);
  };
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < d; ++i) expect_rounded(qkv[t * row + h * d + i], rotated(t, h * d, i), "q");
    }
    for (int64_t i = heads * d; i < row; ++i) EXPECT_EQ(qkv[t * row + i], original[t * row + i]) << "k/v input";
    if (slots[t] < 0) continue;
    for (int64_t g = 0; g < kv_heads; ++g) {
      for (int64_t i = 0; i < d; ++i) {
        expect_rounded(k_cache[slots[t] * kv_row + g * d + i], rotated(t, (heads + g) * d, i), "k");
        EXPECT_EQ(v_cache[slots[t] * kv_row + g * d + i], original[t * row + (heads + kv_heads + g) * d + i]);
      }
    }
  }
  // Only slots 7 and 2 were written.
  for (int64_t slot = 0; slot < num_blocks * block_size; ++slot) {
    if (slot == 7 || slot == 2) continue;
    for (int64_t i = 0; i < kv_row; ++i) EXPECT_EQ(k_cache[slot * kv_row + i] | v_cache[slot * kv_row + i], 0);
  }
  const std::vector<int32_t> bad = {9, 0, 0};
  a.slot_mapping = bad.data();
  EXPECT_FALSE(rope_kv_write_reference(a).ok());
}

}  // namespace
}  // namespace kvs::kernels
