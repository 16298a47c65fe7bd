// CUDA varlen prefill attention against the CPU reference
// (kernels/cpu/prefill_attention_reference.h, float math) on odd shapes:
// sequences of 1, 7, 33, 257 tokens alone and packed together with earlier
// context in the paged cache (chunked prefill / prefix hits, decode-like
// single tokens, an empty query), head dims 64 and 128, GQA 1/4/8, block
// sizes 16 and 7. Tolerance for bf16 inputs, bf16 P in P·V and a bf16 output:
// |got - want| <= 1e-2 + 1e-2 |want|. Skips without a GPU (the argument checks
// run everywhere).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cpu/prefill_attention_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/prefill_attention.h"
#include "tests/common/prefill_attention_batch.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;
using Seqs = std::vector<std::pair<int32_t, int32_t>>;

void check(const Seqs& seqs, int64_t kv_heads, int64_t group, int64_t head_dim, int64_t block_size) {
  const test::PrefillBatch b = test::make_prefill_batch(seqs, kv_heads * group, kv_heads, head_dim, block_size, 17);
  const int64_t width = b.num_heads * head_dim;
  std::vector<float> want(std::max<int64_t>(b.num_tokens, 1) * width);
  ASSERT_TRUE(prefill_attention_reference(b.args(), want.data()).ok());

  DeviceBuffer d_q(b.q), d_k(b.k), d_v(b.v), d_cu(b.cu_query_lens), d_ctx(b.context_lens), d_tables(b.block_tables),
      d_out(want.size() * sizeof(uint16_t));
  PrefillAttentionArgs a = b.args();
  a.q = d_q.as<uint16_t>();
  a.k_cache = d_k.as<uint16_t>();
  a.v_cache = d_v.as<uint16_t>();
  a.cu_query_lens = d_cu.as<int32_t>();
  a.context_lens = d_ctx.as<int32_t>();
  a.block_tables = d_tables.as<int32_t>();
  a.out = d_out.as<uint16_t>();
  const Status status = cuda::prefill_attention(a, nullptr);
  ASSERT_TRUE(status.ok()) << status.message;
  test::gpu::sync_ok();
  const auto got = d_out.download<uint16_t>(static_cast<size_t>(b.num_tokens * width));
  double max_error = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float g = bf16_to_fp32(got[i]), w = want[i];
    max_error = std::max(max_error, static_cast<double>(std::abs(g - w)));
    ASSERT_LE(std::abs(g - w), 1e-2f + 1e-2f * std::abs(w))
        << "token " << i / width << " head " << (i % width) / head_dim << " dim " << i % head_dim << " got " << g
        << " want " << w << " (D=" << head_dim << " group " << group << " block " << block_size << ")";
  }
  ::testing::Test::RecordProperty("max_abs_error_D" + std::to_string(head_dim) + "_g" + std::to_string(group), std::to_string(max_error));
}

TEST(CudaPrefillAttentionTest, SingleSequencesOfOddLengths) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t head_dim : {64, 128}) {
    for (const int64_t group : {1, 4, 8}) {
      for (const int32_t len : {1, 7, 33, 257}) check({{len, len}}, 2, group, head_dim, 16);
    }
  }
}

TEST(CudaPrefillAttentionTest, PackedBatchWithPagedContext) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  // (query_len, context_len): decode-like, pure prefill, chunks after earlier
  // context (not multiples of 64 or of the block size), an empty query.
  const Seqs seqs = {{1, 100}, {7, 7}, {33, 233}, {257, 321}, {64, 64}, {0, 5}, {65, 1000}, {128, 128}};
  for (const int64_t head_dim : {64, 128}) {
    for (const int64_t group : {1, 4, 8}) {
      for (const int64_t block_size : {16, 7}) check(seqs, 2, group, head_dim, block_size);
    }
  }
}

TEST(CudaPrefillAttentionTest, Llama1BShapes) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  check({{300, 300}, {1, 513}, {77, 1077}}, 8, 4, 64, 16);  // 32 query / 8 KV heads, head dim 64
}

// Launcher argument checks: no device needed (rejected before any CUDA call).
TEST(CudaPrefillAttentionTest, RejectsUnsupportedArguments) {
  const test::PrefillBatch b = test::make_prefill_batch({{4, 4}}, 4, 2, 64, 16, 1);
  PrefillAttentionArgs a = b.args();
  std::vector<uint16_t> out(4 * 4 * 64);
  a.out = out.data();
  PrefillAttentionArgs bad = a;
  bad.head_dim = 96;
  bad.q_row_stride = 8 * 96;
  bad.out_row_stride = 4 * 96;
  EXPECT_EQ(cuda::prefill_attention(bad, nullptr).code, StatusCode::Unsupported);
  bad = a;
  bad.num_heads = 3;
  EXPECT_EQ(cuda::prefill_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  bad = a;
  bad.q_row_stride = 4 * 64 + 4;
  EXPECT_EQ(cuda::prefill_attention(bad, nullptr).code, StatusCode::Unsupported);
  bad = a;
  bad.k_cache = nullptr;
  EXPECT_EQ(cuda::prefill_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  bad = a;
  bad.num_seqs = 0;
  EXPECT_TRUE(cuda::prefill_attention(bad, nullptr).ok());
}

}  // namespace
}  // namespace kvs::kernels
