// The CPU reference of varlen prefill attention
// (kernels/cpu/prefill_attention_reference.h) against a direct dense
// computation in double over each sequence's positions, on a packed batch
// with paged earlier context, GQA and head dims 64 and 128.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cpu/half.h"
#include "kernels/cpu/prefill_attention_reference.h"
#include "tests/common/prefill_attention_batch.h"

namespace kvs::kernels {
namespace {

// out[t, h] by the definition: softmax over positions [0, pos] of q·k * scale.
std::vector<double> dense(const test::PrefillBatch& b) {
  const int64_t d = b.head_dim, width = b.num_heads * d, group = b.num_heads / b.num_kv_heads;
  std::vector<double> out(b.num_tokens * width);
  auto cache_row = [&](const std::vector<uint16_t>& cache, int64_t s, int64_t p, int64_t g) {
    const int64_t block = b.block_tables[s * b.max_blocks_per_seq + p / b.block_size];
    return cache.data() + ((block * b.block_size + p % b.block_size) * b.num_kv_heads + g) * d;
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (size_t s = 0; s < b.context_lens.size(); ++s) {
    const int64_t begin = b.cu_query_lens[s], len = b.cu_query_lens[s + 1] - begin, ctx = b.context_lens[s];
    for (int64_t j = 0; j < len; ++j) {
      const int64_t pos = ctx - len + j;
      for (int64_t h = 0; h < b.num_heads; ++h) {
        const uint16_t* q = b.q.data() + (begin + j) * b.q_row_stride + h * d;
        std::vector<double> scores(pos + 1);
        double max_score = -INFINITY, sum = 0;
        for (int64_t p = 0; p <= pos; ++p) {
          const uint16_t* k = cache_row(b.k, s, p, h / group);
          double dot = 0;
          for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(bf16_to_fp32(q[i])) * bf16_to_fp32(k[i]);
          scores[p] = dot * scale;
          max_score = std::max(max_score, scores[p]);
        }
        for (double& x : scores) sum += x = std::exp(x - max_score);
        for (int64_t p = 0; p <= pos; ++p) {
          const uint16_t* v = cache_row(b.v, s, p, h / group);
          for (int64_t i = 0; i < d; ++i) out[(begin + j) * width + h * d + i] += scores[p] / sum * bf16_to_fp32(v[i]);
        }
      }
    }
  }
  return out;
}

TEST(PrefillAttentionReferenceTest, MatchesDenseCausalAttentionOverPagedContext) {
  for (const int64_t head_dim : {64, 128}) {
    for (const int64_t group : {1, 4}) {
      const test::PrefillBatch b =
          test::make_prefill_batch({{1, 20}, {7, 7}, {33, 50}, {0, 3}, {9, 9}}, 2 * group, 2, head_dim, 7, 5);
      std::vector<float> got(b.num_tokens * b.num_heads * head_dim);
      ASSERT_TRUE(prefill_attention_reference(b.args(), got.data()).ok());
      const std::vector<double> want = dense(b);
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 2e-5 * (1 + std::abs(want[i]))) << i;
    }
  }
}

TEST(PrefillAttentionReferenceTest, RejectsContextShorterThanQuery) {
  test::PrefillBatch b = test::make_prefill_batch({{4, 4}}, 2, 2, 64, 16, 1);
  b.context_lens[0] = 3;
  std::vector<float> out(4 * 2 * 64);
  EXPECT_FALSE(prefill_attention_reference(b.args(), out.data()).ok());
}

}  // namespace
}  // namespace kvs::kernels
