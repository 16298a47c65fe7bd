// The CPU references of the CUDA kernels over an fp8 E4M3 KV cache
// (kernels/fp8_e4m3.h): RoPE + KV write stores the expected E4M3 bytes
// (nearest to the exact rotation, saturating), and every attention reference
// (decode, the LeanAttention emulation, prefill, naive with scores) over the
// fp8 bytes equals the same reference over a bf16 cache of the decoded values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/decode_attention_reference.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/lean_attention_emulation.h"
#include "kernels/cpu/naive_attention_reference.h"
#include "kernels/cpu/prefill_attention_reference.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/rope_kv_write_reference.h"
#include "kernels/fp8_e4m3.h"
#include "tests/common/decode_attention_batch.h"
#include "tests/common/fp8_kv_cache.h"
#include "tests/common/prefill_attention_batch.h"

namespace kvs::kernels {
namespace {

using test::bf16_from_fp8;
using test::fp8_from_16bit;

// |decoded - exact| within half an E4M3 step of exact's binade (round to
// nearest) plus float slack; beyond 448 it must be +-448 (saturation).
void expect_fp8_rounded(uint8_t got, double exact, const char* what) {
  const double value = fp8_e4m3_to_float(got);
  if (std::abs(exact) >= 448.0) {
    EXPECT_EQ(value, std::copysign(448.0, exact)) << what << " " << exact;
    return;
  }
  const double step = std::abs(exact) < std::ldexp(1.0, -6) ? std::ldexp(1.0, -9)
                                                            : std::ldexp(1.0, std::ilogb(exact) - 3);
  EXPECT_LE(std::abs(value - exact), 0.5 * step + 1e-6 * std::max(std::abs(exact), 1.0)) << what << " " << exact;
}

TEST(Fp8KvReferencesTest, RopeKvWriteStoresRoundedSaturatedBytes) {
  const int64_t tokens = 3, heads = 4, kv_heads = 2, d = 8, block_size = 3, num_blocks = 3;
  const int64_t row = (heads + 2 * kv_heads) * d, kv_row = kv_heads * d;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<uint16_t> qkv(tokens * row);
  for (uint16_t& x : qkv) x = fp32_to_bf16(normal(rng));
  // Token 0 sits at position 0 (no rotation): K and V values beyond 448 saturate.
  qkv[heads * d + 0] = fp32_to_bf16(1000.0f);
  qkv[heads * d + 1] = fp32_to_bf16(-1e30f);
  qkv[(heads + kv_heads) * d + 2] = fp32_to_bf16(-500.0f);
  qkv[(heads + kv_heads) * d + 3] = fp32_to_bf16(1e-5f);  // below 2^-10: zero
  const auto original = qkv;
  auto q_bf16 = qkv;  // the same call with a bf16 cache rotates Q identically
  std::vector<uint8_t> k_cache(num_blocks * block_size * kv_row, 0xAA), v_cache(k_cache.size(), 0xAA);
  std::vector<uint16_t> k16(k_cache.size()), v16(k_cache.size());
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
  a.kv_dtype = KvDType::FP8_E4M3;
  a.num_blocks = num_blocks;
  a.block_size = block_size;
  a.num_kv_heads = kv_heads;
  a.head_dim = d;
  a.positions = positions.data();
  a.slot_mapping = slots.data();
  a.inv_freq = inv_freq.data();
  ASSERT_TRUE(rope_kv_write_reference(a).ok());
  RopeKvWriteArgs b16 = a;
  b16.q = q_bf16.data();
  b16.k = q_bf16.data() + heads * d;
  b16.v = q_bf16.data() + (heads + kv_heads) * d;
  b16.k_cache = k16.data();
  b16.v_cache = v16.data();
  b16.kv_dtype = KvDType::BF16;
  ASSERT_TRUE(rope_kv_write_reference(b16).ok());
  EXPECT_EQ(qkv, q_bf16) << "Q is rotated the same whatever the cache dtype";
  auto rotated = [&](int64_t t, int64_t col0, int64_t i) {  // exact rotate-half of element i of the head at col0
    const int64_t half = d / 2, pair = i % half;
    const double angle = static_cast<double>(static_cast<float>(positions[t]) * inv_freq[pair]);
    const double x0 = bf16_to_fp32(original[t * row + col0 + pair]);
    const double x1 = bf16_to_fp32(original[t * row + col0 + pair + half]);
    return i < half ? x0 * std::cos(angle) - x1 * std::sin(angle) : x1 * std::cos(angle) + x0 * std::sin(angle);
  };
  for (int64_t t = 0; t < tokens; ++t) {
    if (slots[t] < 0) continue;
    for (int64_t g = 0; g < kv_heads; ++g) {
      for (int64_t i = 0; i < d; ++i) {
        const int64_t at = slots[t] * kv_row + g * d + i;
        expect_fp8_rounded(k_cache[at], rotated(t, (heads + g) * d, i), "k");
        const uint16_t v = original[t * row + (heads + kv_heads + g) * d + i];
        EXPECT_EQ(v_cache[at], fp8_e4m3_from_float(bf16_to_fp32(v))) << "v " << at;
      }
    }
  }
  EXPECT_EQ(k_cache[7 * kv_row + 0], 0x7E);  // 1000 -> 448
  EXPECT_EQ(k_cache[7 * kv_row + 1], 0xFE);  // -1e30 -> -448
  EXPECT_EQ(v_cache[7 * kv_row + 2], 0xFE);  // -500 -> -448
  EXPECT_EQ(v_cache[7 * kv_row + 3], 0x00);
  for (int64_t slot = 0; slot < num_blocks * block_size; ++slot) {  // only slots 7 and 2 written
    if (slot == 7 || slot == 2) continue;
    for (int64_t i = 0; i < kv_row; ++i) {
      EXPECT_EQ(k_cache[slot * kv_row + i], 0xAA);
      EXPECT_EQ(v_cache[slot * kv_row + i], 0xAA);
    }
  }
  a.kv_dtype = KvDType::Q8_0;
  EXPECT_FALSE(rope_kv_write_reference(a).ok());
}

TEST(Fp8KvReferencesTest, DecodeReferenceAndLeanEmulationReadFp8Bytes) {
  for (const int64_t block_size : {1, 16}) {
    const test::DecodeBatch b = test::make_decode_batch({1, 77, 300}, 8, 2, 64, block_size, DecodeKvType::BF16, 3);
    const std::vector<uint8_t> k8 = fp8_from_16bit(b.k), v8 = fp8_from_16bit(b.v);
    test::DecodeBatch decoded = b;
    decoded.k = bf16_from_fp8(k8);
    decoded.v = bf16_from_fp8(v8);
    const int64_t stride = b.max_len();
    const size_t out_size = static_cast<size_t>(b.num_seqs() * b.num_heads * b.head_dim);
    const size_t mass_size = static_cast<size_t>(b.num_seqs() * b.num_kv_heads * stride);
    std::vector<float> want(out_size), got(out_size, NAN), emulated(out_size, NAN);
    std::vector<float> want_mass(mass_size, 0.0f), got_mass(mass_size, 0.0f);
    ASSERT_TRUE(decode_attention_reference(decoded.args(want.data(), want_mass.data(), stride)).ok());
    DecodeAttentionArgs fp8 = b.args(got.data(), got_mass.data(), stride);
    fp8.k_cache = k8.data();
    fp8.v_cache = v8.data();
    fp8.kv_type = DecodeKvType::FP8_E4M3;
    ASSERT_TRUE(decode_attention_reference(fp8).ok());
    EXPECT_EQ(got, want);
    EXPECT_EQ(got_mass, want_mass);
    fp8.out = emulated.data();
    fp8.token_mass = nullptr;
    for (const uint32_t order : {0u, 5u}) {
      ASSERT_TRUE(lean_attention_emulate(fp8, {7, 64, order}).ok());
      for (size_t i = 0; i < out_size; ++i) ASSERT_NEAR(emulated[i], want[i], 2e-5f) << "output " << i;
    }
    EXPECT_EQ(decode_kv_element_bytes(DecodeKvType::FP8_E4M3), 1);
  }
}

TEST(Fp8KvReferencesTest, PrefillAndNaiveReferencesReadFp8Bytes) {
  const std::vector<std::pair<int32_t, int32_t>> seqs = {{5, 5}, {1, 40}, {17, 30}};
  for (const int64_t head_dim : {8, 64}) {
    const test::PrefillBatch b = test::make_prefill_batch(seqs, 6, 2, head_dim, 7, 21);
    const std::vector<uint8_t> k8 = fp8_from_16bit(b.k), v8 = fp8_from_16bit(b.v);
    test::PrefillBatch decoded = b;
    decoded.k = bf16_from_fp8(k8);
    decoded.v = bf16_from_fp8(v8);
    const size_t out_size = static_cast<size_t>(b.num_tokens * b.num_heads * head_dim);
    std::vector<float> want(out_size), got(out_size, NAN);
    PrefillAttentionArgs fp8 = b.args();
    fp8.k_cache = k8.data();
    fp8.v_cache = v8.data();
    fp8.kv_dtype = KvDType::FP8_E4M3;
    ASSERT_TRUE(prefill_attention_reference(decoded.args(), want.data()).ok());
    ASSERT_TRUE(prefill_attention_reference(fp8, got.data()).ok());
    EXPECT_EQ(got, want);

    // Naive attention with the score side output on every row of sequences 0 and 2.
    const std::vector<int32_t> row_begin = {0, -1, 0};
    const std::vector<int64_t> offsets = {0, 5, 45};
    std::vector<int64_t> want_scores(75, 0), got_scores(75, 0);
    NaiveAttentionArgs naive;
    naive.num_query_tokens = b.num_tokens;
    naive.score_row_begin = row_begin.data();
    naive.score_offsets = offsets.data();
    naive.attention = decoded.args();
    naive.scores = want_scores.data();
    std::fill(want.begin(), want.end(), NAN);
    std::fill(got.begin(), got.end(), NAN);
    ASSERT_TRUE(naive_attention_reference(naive, want.data()).ok());
    naive.attention = fp8;
    naive.scores = got_scores.data();
    ASSERT_TRUE(naive_attention_reference(naive, got.data()).ok());
    EXPECT_EQ(got, want);
    EXPECT_EQ(got_scores, want_scores);
    EXPECT_NE(want_scores[0], 0);
  }
  const test::PrefillBatch small = test::make_prefill_batch(seqs, 6, 2, 8, 7, 21);
  PrefillAttentionArgs bad = small.args();
  std::vector<float> out(static_cast<size_t>(23 * 6 * 8));
  bad.kv_dtype = KvDType::F16;
  EXPECT_FALSE(prefill_attention_reference(bad, out.data()).ok());
}

}  // namespace
}  // namespace kvs::kernels
