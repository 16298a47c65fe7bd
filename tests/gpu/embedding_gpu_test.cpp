// CUDA embedding lookup against the CPU reference (exact). Skips without a GPU.
#include <gtest/gtest.h>

#include "kernels/cpu/embedding_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/embedding.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;

TEST(CudaEmbeddingTest, MatchesCpuReferenceExactly) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  struct Shape { int64_t vocab, dim, tokens; };
  for (const Shape& sh : {Shape{1, 1, 1}, Shape{7, 33, 7}, Shape{1000, 64, 33}, Shape{5003, 2048, 257},
                          Shape{301, 1001, 17}}) {
    const auto table = test::gpu::random_bf16(sh.vocab * sh.dim, 3);
    std::vector<int32_t> ids(sh.tokens);
    for (int64_t t = 0; t < sh.tokens; ++t) ids[t] = static_cast<int32_t>((t * 7919 + 11) % sh.vocab);
    if (sh.tokens > 2) ids[1] = -1, ids[2] = static_cast<int32_t>(sh.vocab);  // out of range: zero rows
    std::vector<uint16_t> want_bf16(sh.tokens * sh.dim);
    std::vector<float> want_f32(sh.tokens * sh.dim);
    embedding_lookup_reference(table.data(), sh.vocab, sh.dim, ids.data(), sh.tokens, want_bf16.data(),
                               want_f32.data());
    DeviceBuffer d_table(table), d_ids(ids), d_bf16(want_bf16.size() * 2), d_f32(want_f32.size() * 4);
    ASSERT_TRUE(cuda::embedding_lookup(d_table.as<uint16_t>(), sh.vocab, sh.dim, d_ids.as<int32_t>(), sh.tokens,
                                       d_bf16.as<void>(), cuda::EmbeddingOutType::BF16, nullptr).ok());
    ASSERT_TRUE(cuda::embedding_lookup(d_table.as<uint16_t>(), sh.vocab, sh.dim, d_ids.as<int32_t>(), sh.tokens,
                                       d_f32.as<void>(), cuda::EmbeddingOutType::F32, nullptr).ok());
    test::gpu::sync_ok();
    EXPECT_EQ(d_bf16.download<uint16_t>(want_bf16.size()), want_bf16) << sh.vocab << "x" << sh.dim;
    EXPECT_EQ(d_f32.download<float>(want_f32.size()), want_f32) << sh.vocab << "x" << sh.dim;
  }
}

}  // namespace
}  // namespace kvs::kernels
