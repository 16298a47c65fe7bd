// VarlenBatch::single_order (speculative verification, F16 cache): the rows
// of a multi-token step of a sequence so marked equal, bit for bit, the same
// rows computed one per step (query_len 1), while the default multi-token
// order is llama.cpp's batched one and (on these inputs) differs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/paged_attention.h"

namespace kvs::kernels {
namespace {

TEST(SingleOrderAttention, MultiTokenRowsEqualOneTokenSteps) {
  const int64_t num_heads = 6, num_kv_heads = 2, head_dim = 64, block_size = 16, context = 77, fresh = 5;
  const int64_t kv_row = num_kv_heads * head_dim, q_row = num_heads * head_dim;
  const int64_t num_blocks = (context + block_size - 1) / block_size;
  std::mt19937 rng(22);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<uint16_t> k_cache(num_blocks * block_size * kv_row), v_cache(k_cache.size());
  PagedKvLayer cache{k_cache.data(), v_cache.data(), KvDType::F16, num_blocks, block_size, num_kv_heads, head_dim};
  std::vector<int32_t> table(num_blocks);
  for (int64_t b = 0; b < num_blocks; ++b) table[b] = static_cast<int32_t>((b * 3 + 1) % num_blocks);
  std::vector<float> k(context * kv_row), v(context * kv_row), q(fresh * q_row);
  for (auto* x : {&k, &v, &q}) {
    for (float& e : *x) e = dist(rng);
  }
  std::vector<int32_t> slots;
  for (int64_t p = 0; p < context; ++p) slots.push_back(table[p / block_size] * block_size + p % block_size);
  ASSERT_TRUE(write_kv(cache, k.data(), kv_row, v.data(), kv_row, slots.data(), context).ok());
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  const auto run = [&](int64_t first_row, int64_t rows, const uint8_t* single_order) {
    std::vector<int32_t> cu{0, static_cast<int32_t>(rows)};
    std::vector<int32_t> lens{static_cast<int32_t>(context - fresh + first_row + rows)};
    VarlenBatch batch{1, cu.data(), lens.data(), table.data(), num_blocks};
    batch.single_order = single_order;
    std::vector<float> out(rows * q_row);
    EXPECT_TRUE(attention_varlen_paged(q.data() + first_row * q_row, q_row, out.data(), cache, batch, num_heads, scale).ok());
    return out;
  };
  std::vector<float> one_by_one;
  for (int64_t t = 0; t < fresh; ++t) {
    const std::vector<float> row = run(t, 1, nullptr);
    one_by_one.insert(one_by_one.end(), row.begin(), row.end());
  }
  const uint8_t single = 1, batched = 0;
  const std::vector<float> marked = run(0, fresh, &single);
  const std::vector<float> plain = run(0, fresh, &batched);
  ASSERT_EQ(marked.size(), one_by_one.size());
  EXPECT_EQ(std::memcmp(marked.data(), one_by_one.data(), marked.size() * sizeof(float)), 0);
  EXPECT_EQ(run(0, fresh, nullptr), plain);  // null = every entry 0
  // The batched order really is another summation order (else this test proves nothing).
  EXPECT_NE(std::memcmp(plain.data(), one_by_one.data(), plain.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace kvs::kernels
