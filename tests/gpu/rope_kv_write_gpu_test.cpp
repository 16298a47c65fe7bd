// CUDA RoPE + paged KV write against the CPU reference: Q rotated in place,
// K rotated into the cache, V copied, on odd token counts, head dims 64/128,
// GQA 1/4/8, llama3-scaled frequencies, a fused QKV row layout, odd block
// sizes and skipped (negative) slots. Rotated values within one bf16 step of
// the reference plus 2^-20 of the pair's input magnitudes (sincosf vs double
// cos/sin, fp32 products that can cancel), V and untouched slots exact. Skips
// without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numeric>

#include "kernels/cpu/rope.h"
#include "kernels/cpu/rope_kv_write_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/rope_kv_write.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;

// A rotated element: within one bf16 step of the expected value plus
// 2^-20 (|x0| + |x1|) of its pair's inputs. NOTE: x0 c - x1 s (and x1 c + x0 s)
// can cancel to near 0, where the fp32 rounding of the products and sincosf's
// error, both relative to the inputs and not to the result, exceed any step of
// the result; 2^-20 is 16x the fp32 rounding of those terms.
bool rope_close(uint16_t got, uint16_t want, float pair_input_magnitude) {
  if (got == want) return true;
  const float g = bf16_to_fp32(got), w = bf16_to_fp32(want);
  return std::abs(g - w) <= std::ldexp(std::abs(w), -7) + std::ldexp(pair_input_magnitude, -20);
}

// |x0| + |x1| of the rotation pair (i, i + d/2) holding element e of `head`.
float pair_input_magnitude(const uint16_t* head, int64_t e, int64_t head_dim) {
  const int64_t half = head_dim / 2, other = e < half ? e + half : e - half;
  return std::abs(bf16_to_fp32(head[e])) + std::abs(bf16_to_fp32(head[other]));
}

TEST(CudaRopeKvWriteTest, MatchesCpuReference) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  struct Case { int64_t tokens, kv_heads, group, head_dim, block_size; };
  for (const Case& c : {Case{1, 8, 4, 64, 16}, Case{7, 1, 1, 128, 7}, Case{33, 8, 4, 64, 16}, Case{257, 4, 8, 128, 32},
                        Case{257, 2, 1, 64, 1}}) {
    const int64_t heads = c.kv_heads * c.group, d = c.head_dim;
    const int64_t row = (heads + 2 * c.kv_heads) * d;  // fused QKV row
    auto qkv = test::gpu::random_bf16(c.tokens * row, 11);
    const int64_t num_blocks = (c.tokens + c.block_size - 1) / c.block_size + 3;
    const int64_t cache_elems = num_blocks * c.block_size * c.kv_heads * d;
    std::vector<uint16_t> k_cache(cache_elems, 0x7fc1), v_cache(cache_elems, 0x7fc1);  // NaN sentinels
    std::vector<int32_t> positions(c.tokens), slots(c.tokens);
    std::vector<int32_t> slot_order(num_blocks * c.block_size);
    std::iota(slot_order.begin(), slot_order.end(), 0);
    std::shuffle(slot_order.begin(), slot_order.end(), std::mt19937(4));
    for (int64_t t = 0; t < c.tokens; ++t) {
      positions[t] = static_cast<int32_t>(t * 37 % 9000 + (t == 0 ? 131000 : 0));
      slots[t] = t % 5 == 3 ? -1 : slot_order[t];
    }
    const std::vector<float> inv_freq = rope_inverse_frequencies(d, 500000.0f, "llama3", 32.0f, 1.0f, 4.0f, 8192);
    const std::vector<uint16_t> input = qkv;  // the reference rotates qkv's Q columns in place
    std::vector<int64_t> token_of_slot(static_cast<size_t>(num_blocks * c.block_size), -1);
    for (int64_t t = 0; t < c.tokens; ++t) {
      if (slots[t] >= 0) token_of_slot[slots[t]] = t;
    }

    DeviceBuffer d_qkv(qkv), d_k(k_cache), d_v(v_cache), d_pos(positions), d_slots(slots), d_freq(inv_freq);
    RopeKvWriteArgs a;
    a.num_tokens = c.tokens;
    a.num_heads = heads;
    a.q_row_stride = a.k_row_stride = a.v_row_stride = row;
    a.num_blocks = num_blocks;
    a.block_size = c.block_size;
    a.num_kv_heads = c.kv_heads;
    a.head_dim = d;
    RopeKvWriteArgs host = a;
    host.q = qkv.data();
    host.k = qkv.data() + heads * d;
    host.v = qkv.data() + (heads + c.kv_heads) * d;
    host.k_cache = k_cache.data();
    host.v_cache = v_cache.data();
    host.positions = positions.data();
    host.slot_mapping = slots.data();
    host.inv_freq = inv_freq.data();
    a.q = d_qkv.as<uint16_t>();
    a.k = a.q + heads * d;
    a.v = a.q + (heads + c.kv_heads) * d;
    a.k_cache = d_k.as<uint16_t>();
    a.v_cache = d_v.as<uint16_t>();
    a.positions = d_pos.as<int32_t>();
    a.slot_mapping = d_slots.as<int32_t>();
    a.inv_freq = d_freq.as<float>();
    ASSERT_TRUE(rope_kv_write_reference(host).ok());
    ASSERT_TRUE(cuda::rope_kv_write(a, nullptr).ok());
    test::gpu::sync_ok();
    const auto got_qkv = d_qkv.download<uint16_t>(qkv.size());
    // Q columns rotated (compare with tolerance); K/V columns of the input untouched.
    for (int64_t t = 0; t < c.tokens; ++t) {
      for (int64_t i = 0; i < row; ++i) {
        const size_t at = t * row + i;
        if (i < heads * d) {
          const float magnitude = pair_input_magnitude(input.data() + t * row + i / d * d, i % d, d);
          ASSERT_TRUE(rope_close(got_qkv[at], qkv[at], magnitude))
              << "q t=" << t << " i=" << i << " got " << bf16_to_fp32(got_qkv[at]) << " want " << bf16_to_fp32(qkv[at]);
        } else {
          ASSERT_EQ(got_qkv[at], qkv[at]) << "k/v input modified t=" << t;
        }
      }
    }
    // K cache: rotated where a token was written (inputs: that token's K
    // columns, which the reference leaves as they were), untouched elsewhere.
    const auto got_k = d_k.download<uint16_t>(cache_elems);
    const int64_t kv_row = c.kv_heads * d;
    for (int64_t e = 0; e < cache_elems; ++e) {
      const int64_t t = token_of_slot[e / kv_row], g = e % kv_row / d;
      if (t < 0) {
        ASSERT_EQ(got_k[e], k_cache[e]) << "k cache slot " << e / kv_row << " written";
        continue;
      }
      const float magnitude = pair_input_magnitude(input.data() + t * row + (heads + g) * d, e % d, d);
      ASSERT_TRUE(rope_close(got_k[e], k_cache[e], magnitude))
          << "k cache t=" << t << " element " << e % kv_row << " got " << bf16_to_fp32(got_k[e]) << " want "
          << bf16_to_fp32(k_cache[e]);
    }
    EXPECT_EQ(d_v.download<uint16_t>(cache_elems), v_cache) << "v cache";
  }
}

}  // namespace
}  // namespace kvs::kernels
