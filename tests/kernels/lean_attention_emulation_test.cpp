// The decode attention reference against a dense recomputation, and the CPU
// emulation of LeanAttention (stream-K partition -> per-CTA partial online
// softmax -> last-arriver fix-up) against the reference on odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/decode_attention_reference.h"
#include "kernels/cpu/lean_attention_emulation.h"
#include "tests/common/decode_attention_batch.h"

namespace kvs::kernels {
namespace {

using test::DecodeBatch;
using test::make_decode_batch;

// Output tolerance for float accumulation against the double reference;
// outputs are averages of unit-variance V rows.
constexpr float kOutTol = 2e-5f;
constexpr float kMassRelTol = 1e-4f;

TEST(DecodeAttentionReferenceTest, MatchesDenseSoftmax) {
  const DecodeBatch b = make_decode_batch({1, 7, 40}, 4, 2, 8, 4, DecodeKvType::F16);
  std::vector<float> out(b.num_seqs() * b.num_heads * b.head_dim), mass(b.num_seqs() * b.num_kv_heads * 40, -1.0f);
  ASSERT_TRUE(decode_attention_reference(b.args(out.data(), mass.data(), 40)).ok());
  for (int64_t s = 0; s < b.num_seqs(); ++s) {
    for (int64_t h = 0; h < b.num_heads; ++h) {
      const int64_t g = h / 2, len = b.lens[s];
      std::vector<double> w(len), o(b.head_dim, 0.0);
      double sum = 0.0;
      for (int64_t p = 0; p < len; ++p) {
        const int64_t slot = b.tables[s * b.max_blocks + p / 4] * 4 + p % 4;
        double dot = 0.0;
        for (int64_t d = 0; d < b.head_dim; ++d) {
          dot += b.q[(s * b.num_heads + h) * b.head_dim + d] * fp16_to_fp32(b.k[(slot * 2 + g) * b.head_dim + d]);
        }
        sum += (w[p] = std::exp(dot / std::sqrt(8.0)));
      }
      for (int64_t p = 0; p < len; ++p) {
        const int64_t slot = b.tables[s * b.max_blocks + p / 4] * 4 + p % 4;
        for (int64_t d = 0; d < b.head_dim; ++d) o[d] += w[p] / sum * fp16_to_fp32(b.v[(slot * 2 + g) * b.head_dim + d]);
      }
      for (int64_t d = 0; d < b.head_dim; ++d) {
        EXPECT_NEAR(out[(s * b.num_heads + h) * b.head_dim + d], o[d], 1e-6);
      }
    }
    // The mass of a KV head sums to its group size; entries past L untouched.
    for (int64_t g = 0; g < b.num_kv_heads; ++g) {
      double total = 0.0;
      for (int64_t p = 0; p < 40; ++p) {
        const float m = mass[(s * b.num_kv_heads + g) * 40 + p];
        if (p < b.lens[s]) total += m; else EXPECT_EQ(m, -1.0f);
      }
      EXPECT_NEAR(total, 2.0, 1e-5);
    }
  }
}

TEST(DecodeAttentionReferenceTest, RejectsBadInput) {
  DecodeBatch b = make_decode_batch({5, 9}, 4, 2, 8, 4, DecodeKvType::BF16);
  std::vector<float> out(2 * 4 * 8);
  DecodeAttentionArgs a = b.args(out.data());
  a.num_heads = 3;
  EXPECT_FALSE(decode_attention_reference(a).ok());
  b.lens[1] = 0;
  EXPECT_FALSE(decode_attention_reference(b.args(out.data())).ok());
  b.lens[1] = 9;
  b.tables[b.max_blocks] = static_cast<int32_t>(b.num_blocks);
  EXPECT_FALSE(decode_attention_reference(b.args(out.data())).ok());
  EXPECT_FALSE(lean_attention_emulate(b.args(out.data()), {}).ok());
}

struct EmuCase {
  std::vector<int32_t> lens;
  int64_t num_heads, num_kv_heads, head_dim, block_size;
  DecodeKvType type;
  int64_t grid;
};

void check_emulation(const EmuCase& c, uint32_t order_seed) {
  SCOPED_TRACE(::testing::Message() << "heads " << c.num_heads << "/" << c.num_kv_heads << " dim " << c.head_dim
                                    << " block " << c.block_size << " grid " << c.grid << " seed " << order_seed);
  const DecodeBatch b = make_decode_batch(c.lens, c.num_heads, c.num_kv_heads, c.head_dim, c.block_size, c.type);
  const int64_t stride = b.max_len() + 3;
  const size_t out_size = static_cast<size_t>(b.num_seqs() * b.num_heads * b.head_dim);
  const size_t mass_size = static_cast<size_t>(b.num_seqs() * b.num_kv_heads * stride);
  std::vector<float> ref(out_size), got(out_size, NAN), ref_mass(mass_size, 0.5f), got_mass(mass_size, 0.5f);
  DecodeAttentionArgs ref_args = b.args(ref.data(), ref_mass.data(), stride);
  DecodeAttentionArgs got_args = b.args(got.data(), got_mass.data(), stride);
  ref_args.accumulate_mass = got_args.accumulate_mass = (order_seed % 2) == 1;
  ASSERT_TRUE(decode_attention_reference(ref_args).ok());
  const Status st = lean_attention_emulate(got_args, {c.grid, 64, order_seed});
  ASSERT_TRUE(st.ok()) << st.message;
  for (size_t i = 0; i < out_size; ++i) ASSERT_NEAR(got[i], ref[i], kOutTol) << "output " << i;
  for (size_t i = 0; i < mass_size; ++i) {
    ASSERT_NEAR(got_mass[i], ref_mass[i], kMassRelTol * std::abs(ref_mass[i]) + 1e-9f) << "mass " << i;
  }
}

TEST(LeanAttentionEmulationTest, OddShapes) {
  const std::vector<EmuCase> cases = {
      {{1}, 8, 8, 64, 16, DecodeKvType::BF16, 132},                   // L = 1, GQA 1
      {{1, 1, 1}, 4, 1, 128, 16, DecodeKvType::F16, 7},               // GQA 4
      {{65}, 8, 1, 64, 16, DecodeKvType::BF16, 3},                    // GQA 8, L % 64 != 0
      {{1000}, 16, 2, 128, 7, DecodeKvType::BF16, 5},                 // odd block size
      {{4095, 17, 1}, 12, 4, 64, 32, DecodeKvType::F16, 11},          // GQA 3 (runs as 4 in the kernel)
      {{20000}, 8, 2, 128, 256, DecodeKvType::BF16, 132},             // long, split many ways
      {{1, 30000, 1, 30000}, 8, 1, 64, 16, DecodeKvType::BF16, 64},   // mixed 1 and long
      {{129, 64, 63, 2048, 1, 5}, 2, 2, 128, 1, DecodeKvType::F16, 9},  // block size 1
  };
  uint32_t seed = 1;
  for (const EmuCase& c : cases) {
    check_emulation(c, 0);
    check_emulation(c, seed++);
    check_emulation(c, seed++);
  }
}

TEST(LeanAttentionEmulationTest, MixedOneAndHundredThousand) {
  check_emulation({{1, 100000, 1}, 4, 1, 64, 16, DecodeKvType::BF16, 132}, 5);
}

}  // namespace
}  // namespace kvs::kernels
