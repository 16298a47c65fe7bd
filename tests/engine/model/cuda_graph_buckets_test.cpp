// Batch sizes the CUDA engine captures decode graphs for
// (engine/model/cuda_graph_buckets.h).
#include <gtest/gtest.h>

#include "engine/model/cuda_graph_buckets.h"

namespace kvs {
namespace {

TEST(CudaGraphBucketsTest, OneTwoFourThenMultiplesOfEight) {
  EXPECT_EQ(cuda_graph_batch_sizes(64), (std::vector<int64_t>{1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64}));
  EXPECT_EQ(cuda_graph_batch_sizes(1), (std::vector<int64_t>{1}));
  EXPECT_EQ(cuda_graph_batch_sizes(3), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(cuda_graph_batch_sizes(20), (std::vector<int64_t>{1, 2, 4, 8, 16, 20}));
  EXPECT_TRUE(cuda_graph_batch_sizes(0).empty());
}

TEST(CudaGraphBucketsTest, CappedLikeVllm) {
  const std::vector<int64_t> sizes = cuda_graph_batch_sizes(4096);
  EXPECT_EQ(sizes.back(), 512);
  EXPECT_EQ(sizes.size(), 3u + 64u);
  EXPECT_EQ(cuda_graph_batch_sizes(100, 16).back(), 16);
}

TEST(CudaGraphBucketsTest, SmallestBucketThatHoldsTheBatch) {
  const std::vector<int64_t> sizes = cuda_graph_batch_sizes(64);
  EXPECT_EQ(cuda_graph_bucket(sizes, 1), 1);
  EXPECT_EQ(cuda_graph_bucket(sizes, 3), 4);
  EXPECT_EQ(cuda_graph_bucket(sizes, 5), 8);
  EXPECT_EQ(cuda_graph_bucket(sizes, 9), 16);
  EXPECT_EQ(cuda_graph_bucket(sizes, 64), 64);
  EXPECT_EQ(cuda_graph_bucket(sizes, 65), -1);
  for (int64_t n = 1; n <= 64; ++n) {
    const int64_t bucket = cuda_graph_bucket(sizes, n);
    EXPECT_GE(bucket, n);
    EXPECT_LT(bucket - n, 8) << n;  // padding wastes under 8 rows
  }
}

}  // namespace
}  // namespace kvs
