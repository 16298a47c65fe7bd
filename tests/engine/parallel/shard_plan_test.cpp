// Which slice each rank holds, and the errors for sizes that do not divide.
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "engine/model/kv_storage.h"
#include "engine/parallel/shard_plan.h"

namespace kvs {
namespace {

ModelConfig config(int64_t heads, int64_t kv_heads, int64_t intermediate, int64_t vocab) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = heads * 16;
  c.intermediate_size = intermediate;
  c.num_layers = 2;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = 16;
  return c;
}

TEST(ShardPlan, SplitsHeadsIntermediateAndVocabulary) {
  const ModelConfig c = config(8, 4, 96, 10);
  const ShardPlan p = plan_shard(c, 1, 2);
  EXPECT_EQ(p.heads.begin, 4);
  EXPECT_EQ(p.heads.end, 8);
  EXPECT_EQ(p.kv_heads.begin, 2);
  EXPECT_EQ(p.kv_heads.end, 4);
  EXPECT_EQ(p.intermediate.begin, 48);
  EXPECT_EQ(p.intermediate.end, 96);
  EXPECT_EQ(p.vocab_chunk, 5);
  EXPECT_EQ(p.vocab.begin, 5);
  EXPECT_EQ(p.vocab.end, 10);
}

TEST(ShardPlan, ReplicatesKvHeadsWhenThereAreFewerThanRanks) {
  const ModelConfig c = config(8, 2, 96, 10);
  // 4 ranks, 2 query heads each, groups of 4 query heads per KV head.
  const int64_t expected_kv[] = {0, 0, 1, 1};
  for (int r = 0; r < 4; ++r) {
    const ShardPlan p = plan_shard(c, r, 4);
    EXPECT_EQ(p.heads.size(), 2);
    EXPECT_EQ(p.kv_heads.begin, expected_kv[r]) << "rank " << r;
    EXPECT_EQ(p.kv_heads.size(), 1);
  }
  EXPECT_EQ(kv_heads_per_rank(c, 4), 1);
  // Each shard stores one head, so the 4-shard cache is twice the 1-shard one.
  EXPECT_EQ(KvStorage::bytes_per_block(c, 16, kernels::KvDType::F16, 4),
            2 * KvStorage::bytes_per_block(c, 16, kernels::KvDType::F16));
  EXPECT_EQ(KvStorage::bytes_per_block(c, 16, kernels::KvDType::F16, 2),
            KvStorage::bytes_per_block(c, 16, kernels::KvDType::F16));
}

TEST(ShardPlan, UnevenVocabularyGivesTheLastRankTheRemainder) {
  const ModelConfig c = config(4, 4, 64, 10);
  EXPECT_EQ(plan_shard(c, 3, 4).vocab_chunk, 3);
  EXPECT_EQ(plan_shard(c, 2, 4).vocab.begin, 6);
  EXPECT_EQ(plan_shard(c, 3, 4).vocab.begin, 9);
  EXPECT_EQ(plan_shard(c, 3, 4).vocab.end, 10);
}

TEST(ShardPlan, SizesThatDoNotDivideAreRejectedWithTheReason) {
  // The default model's shape: 9 query / 3 KV heads, intermediate 1536.
  const ModelConfig c = config(9, 3, 1536, 49152);
  EXPECT_NO_THROW(check_tensor_parallel(c, 3));
  try {
    check_tensor_parallel(c, 2);
    FAIL() << "size 2 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("9 attention heads"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_tensor_parallel(config(8, 4, 100, 10), 8), InvalidArgument);  // 4 KV heads, 8 ranks: fine; 100 % 8 != 0
  EXPECT_THROW(check_tensor_parallel(config(12, 4, 96, 10), 6), InvalidArgument);  // 4 KV heads vs 6 ranks
  EXPECT_THROW(check_tensor_parallel(c, 0), InvalidArgument);
  EXPECT_THROW(plan_shard(c, 3, 3), InvalidArgument);
}

}  // namespace
}  // namespace kvs
