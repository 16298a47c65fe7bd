// Paged varlen attention against a dense, per-sequence reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/paged_attention.h"

namespace kvs::kernels {
namespace {

struct Case {
  int64_t num_heads, num_kv_heads, head_dim, block_size;
  std::vector<int32_t> cached, fresh;  // per sequence: tokens already cached, new tokens
};

// Dense reference: for one sequence with all K/V [len, kv_heads, dim].
void reference_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                         int64_t num_new, int64_t len, const Case& c, std::vector<float>& out) {
  const int64_t group = c.num_heads / c.num_kv_heads;
  out.assign(num_new * c.num_heads * c.head_dim, 0.0f);
  for (int64_t j = 0; j < num_new; ++j) {
    const int64_t position = len - num_new + j;
    for (int64_t h = 0; h < c.num_heads; ++h) {
      const int64_t kh = h / group;
      std::vector<double> scores(position + 1);
      double max = -1e300, sum = 0.0;
      for (int64_t p = 0; p <= position; ++p) {
        double dot = 0.0;
        for (int64_t i = 0; i < c.head_dim; ++i) {
          dot += q[(j * c.num_heads + h) * c.head_dim + i] * k[(p * c.num_kv_heads + kh) * c.head_dim + i];
        }
        scores[p] = dot / std::sqrt(static_cast<double>(c.head_dim));
        max = std::max(max, scores[p]);
      }
      for (double& s : scores) sum += (s = std::exp(s - max));
      for (int64_t p = 0; p <= position; ++p) {
        for (int64_t i = 0; i < c.head_dim; ++i) {
          out[(j * c.num_heads + h) * c.head_dim + i] +=
              static_cast<float>(scores[p] / sum * v[(p * c.num_kv_heads + kh) * c.head_dim + i]);
        }
      }
    }
  }
}

void run_case(const Case& c, KvDType dtype = KvDType::F32) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist;
  const int64_t num_seqs = static_cast<int64_t>(c.cached.size());
  const int64_t kv_row = c.num_kv_heads * c.head_dim, q_row = c.num_heads * c.head_dim;
  // Blocks handed out in a scrambled order so the block tables matter.
  int64_t max_blocks = 0, total_blocks = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t blocks = (c.cached[s] + c.fresh[s] + c.block_size - 1) / c.block_size;
    max_blocks = std::max(max_blocks, blocks);
    total_blocks += blocks;
  }
  std::vector<int32_t> order(total_blocks);
  for (int64_t i = 0; i < total_blocks; ++i) order[i] = static_cast<int32_t>((i * 7 + 3) % total_blocks);
  const size_t element = dtype == KvDType::F16 ? 2 : 4;
  std::vector<uint8_t> k_cache(total_blocks * c.block_size * kv_row * element), v_cache(k_cache.size());
  PagedKvLayer cache{k_cache.data(), v_cache.data(), dtype, total_blocks, c.block_size, c.num_kv_heads, c.head_dim};
  std::vector<int32_t> cu{0}, context, tables(num_seqs * max_blocks, -1);
  std::vector<float> q, keys_all, values_all;
  std::vector<std::vector<float>> seq_k(num_seqs), seq_v(num_seqs), seq_q(num_seqs);
  int64_t next = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t len = c.cached[s] + c.fresh[s];
    const int64_t blocks = (len + c.block_size - 1) / c.block_size;
    for (int64_t b = 0; b < blocks; ++b) tables[s * max_blocks + b] = order[next++];
    seq_k[s].resize(len * kv_row);
    seq_v[s].resize(len * kv_row);
    for (float& x : seq_k[s]) x = dist(rng);
    for (float& x : seq_v[s]) x = dist(rng);
    std::vector<int32_t> slots;
    for (int64_t p = 0; p < len; ++p) {
      slots.push_back(tables[s * max_blocks + p / c.block_size] * static_cast<int32_t>(c.block_size) +
                      static_cast<int32_t>(p % c.block_size));
    }
    ASSERT_TRUE(write_kv(cache, seq_k[s].data(), kv_row, seq_v[s].data(), kv_row, slots.data(), len).ok());
    seq_q[s].resize(c.fresh[s] * q_row);
    for (float& x : seq_q[s]) x = dist(rng);
    q.insert(q.end(), seq_q[s].begin(), seq_q[s].end());
    cu.push_back(cu.back() + c.fresh[s]);
    context.push_back(static_cast<int32_t>(len));
  }
  VarlenBatch batch{num_seqs, cu.data(), context.data(), tables.data(), max_blocks};
  std::vector<float> out(cu.back() * q_row);
  ASSERT_TRUE(attention_varlen_paged(q.data(), q_row, out.data(), cache, batch, c.num_heads,
                                     1.0f / std::sqrt(static_cast<float>(c.head_dim))).ok());
  for (int64_t s = 0; s < num_seqs; ++s) {
    std::vector<float> expected;
    if (dtype == KvDType::F16) {  // the reference sees the inputs the half cache keeps
      for (auto* v : {&seq_q[s], &seq_k[s], &seq_v[s]}) {
        for (float& x : *v) x = fp16_to_fp32(fp32_to_fp16(x));
      }
    }
    reference_attention(seq_q[s], seq_k[s], seq_v[s], c.fresh[s], context[s], c, expected);
    // Half precision also rounds the softmax weights (relative 2^-11 each).
    const float tolerance = dtype == KvDType::F16 ? 2e-3f : 2e-5f;
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(out[cu[s] * q_row + i], expected[i], tolerance) << "seq " << s << " index " << i;
    }
  }
}

TEST(PagedAttentionTest, SingleSequencePrefill) { run_case({4, 2, 16, 16, {0}, {37}}); }
TEST(PagedAttentionTest, DecodeAfterLongContextOddBlockSize) { run_case({6, 2, 8, 5, {123}, {1}}); }
TEST(PagedAttentionTest, MixedBatchOfPrefillChunksAndDecodes) {
  run_case({9, 3, 64, 16, {0, 40, 17, 0}, {1, 1, 9, 33}});
}
TEST(PagedAttentionTest, MultiHeadWithoutGqa) { run_case({3, 3, 32, 1, {2}, {3}}); }
TEST(PagedAttentionTest, HalfPrecisionCacheMixedBatch) {
  run_case({9, 3, 64, 16, {0, 40, 17, 0}, {1, 1, 9, 33}}, KvDType::F16);
  run_case({6, 2, 8, 5, {123}, {1}}, KvDType::F16);
}

TEST(PagedAttentionTest, RejectsBadArguments) {
  std::vector<float> k(64), v(64), q(64), out(64);
  PagedKvLayer cache{k.data(), v.data(), KvDType::F32, 1, 4, 2, 8};
  std::vector<int32_t> cu{0, 1}, context{9}, table{0};
  VarlenBatch batch{1, cu.data(), context.data(), table.data(), 1};  // 9 tokens need 3 blocks
  EXPECT_FALSE(attention_varlen_paged(q.data(), 24, out.data(), cache, batch, 3, 1.0f).ok());  // 3 % 2 != 0
  EXPECT_FALSE(attention_varlen_paged(q.data(), 16, out.data(), cache, batch, 2, 1.0f).ok());  // table too short
  const int32_t bad_slot = 4;
  EXPECT_FALSE(write_kv(cache, k.data(), 16, v.data(), 16, &bad_slot, 1).ok());
}

}  // namespace
}  // namespace kvs::kernels
