// KvCacheManager without a model (block size 4): block tables, prefix reuse
// with ref counts, reuse of freed cached blocks, LRU eviction, counters,
// memory-budget sizing.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/errors.h"
#include "engine/model/kv_storage.h"
#include "kvcache/cache_config.h"
#include "kvcache/kv_cache_manager.h"

namespace kvs {
namespace {

using Ids = std::vector<int32_t>;

Ids range(int32_t begin, int32_t end) {
  Ids ids(static_cast<size_t>(end - begin));
  std::iota(ids.begin(), ids.end(), begin);
  return ids;
}

KvCacheManager make(int64_t num_blocks, bool tag = false) {
  KvCacheManagerConfig config;
  config.num_blocks = num_blocks;
  config.block_size = 4;
  config.tag_prompt_boundary = tag;
  return KvCacheManager(config);
}

// Starts `seq` on its cached prefix, allocates all its tokens and marks them computed.
PrefixHit run_all(KvCacheManager& kv, uint64_t seq, const Ids& tokens) {
  const PrefixHit hit = kv.find_prefix(tokens, static_cast<int64_t>(tokens.size()), static_cast<int64_t>(tokens.size()) - 1);
  kv.start(seq, hit, static_cast<int64_t>(tokens.size()));
  kv.allocate_slots(seq, static_cast<int64_t>(tokens.size()));
  kv.cache_full_blocks(seq, tokens, static_cast<int64_t>(tokens.size()), static_cast<int64_t>(tokens.size()));
  return hit;
}

TEST(KvCacheManager, SharesFullPrefixBlocksWithRefCounts) {
  KvCacheManager kv = make(8);
  const Ids a = range(100, 110);  // 10 tokens: 2 full blocks + 2 tokens
  EXPECT_EQ(run_all(kv, 1, a).num_tokens, 0);
  EXPECT_EQ(kv.block_table(1), (Ids{0, 1, 2}));
  Ids b = range(100, 108);
  b.push_back(7);  // same 8-token prefix, then different
  const PrefixHit hit = run_all(kv, 2, b);
  EXPECT_EQ(hit.blocks, (Ids{0, 1}));
  EXPECT_EQ(hit.num_tokens, 8);
  EXPECT_EQ(hit.num_free_blocks_taken, 0);
  EXPECT_EQ(kv.block_table(2), (Ids{0, 1, 3}));
  EXPECT_EQ(kv.pool().ref_count(0), 2);
  EXPECT_EQ(kv.pool().ref_count(1), 2);
  EXPECT_EQ(kv.pool().ref_count(2), 1);
  EXPECT_EQ(kv.num_used_blocks(), 4);
  EXPECT_EQ(kv.num_prefix_query_tokens(), 19);
  EXPECT_EQ(kv.num_prefix_hit_tokens(), 8);
  kv.free(1);
  EXPECT_EQ(kv.pool().ref_count(0), 1);
  EXPECT_EQ(kv.num_used_blocks(), 3);
  kv.free(2);
  EXPECT_EQ(kv.num_used_blocks(), 0);
}

TEST(KvCacheManager, FreedCachedBlocksAreReusedThenEvictedInLruOrder) {
  KvCacheManager kv = make(6);
  const Ids a = range(0, 8), b = range(50, 58);  // two blocks each
  run_all(kv, 1, a);  // blocks 0, 1
  run_all(kv, 2, b);  // blocks 2, 3
  kv.free(1);         // tail first: queue 4 5 1 0
  kv.free(2);         // queue 4 5 1 0 3 2
  EXPECT_EQ(kv.pool().free_queue(), (Ids{4, 5, 1, 0, 3, 2}));
  // `a` again (with one more token): both blocks come back from the free queue.
  Ids a2 = a;
  a2.push_back(9);
  const PrefixHit hit = run_all(kv, 3, a2);
  EXPECT_EQ(hit.blocks, (Ids{0, 1}));
  EXPECT_EQ(hit.num_free_blocks_taken, 2);
  EXPECT_EQ(kv.block_table(3), (Ids{0, 1, 4}));
  // A 12-token sequence needs 3 new blocks: 5, then LRU-evicts 3 and 2 (b's tail first).
  run_all(kv, 4, range(200, 212));
  EXPECT_EQ(kv.block_table(4), (Ids{5, 3, 2}));
  EXPECT_EQ(kv.find_prefix(b, 8, 8).num_tokens, 0);  // b is gone
  EXPECT_EQ(kv.find_prefix(a2, 9, 8).num_tokens, 8);  // a stays
}

TEST(KvCacheManager, PartialChainReusesOnlyTheSurvivingHead) {
  KvCacheManager kv = make(4);
  const Ids a = range(0, 12);  // 3 blocks
  run_all(kv, 1, a);
  kv.free(1);  // queue: 3 2 1 0
  run_all(kv, 2, range(300, 306));  // takes 3, then evicts 2 (a's last block)
  EXPECT_EQ(kv.block_table(2), (Ids{3, 2}));
  EXPECT_EQ(kv.find_prefix(a, 12, 12).blocks, (Ids{0, 1}));
}

TEST(KvCacheManager, PromptBoundaryTagSeparatesDifferentlyComputedBlocks) {
  KvCacheManager kv = make(8, /*tag=*/true);
  const Ids tokens = range(0, 8);
  // Sequence 1: prompt of 6 tokens, outputs 6 and 7 computed one per step.
  kv.start(1, {}, 6);
  kv.allocate_slots(1, 8);
  kv.cache_full_blocks(1, tokens, 6, 8);
  // The same 8 tokens as a prompt: block 0 (all prompt in both) is shared, block 1 is not.
  EXPECT_EQ(kv.find_prefix(tokens, 8, 8).blocks, (Ids{0}));
  // Sequence 1 itself (resuming after preemption) finds both.
  EXPECT_EQ(kv.find_prefix(tokens, 6, 8).blocks, (Ids{0, 1}));
}

TEST(KvCacheManager, DisabledPrefixCachingNeverHits) {
  KvCacheManagerConfig config;
  config.num_blocks = 4;
  config.block_size = 4;
  config.enable_prefix_caching = false;
  KvCacheManager kv(config);
  run_all(kv, 1, range(0, 8));
  EXPECT_EQ(kv.find_prefix(range(0, 9), 9, 8).num_tokens, 0);
}

TEST(KvCacheManager, CompactionFillsHolesCopiesSharedBlocksAndFreesTheTail) {
  KvCacheManager kv = make(8);
  const Ids a = range(100, 110);  // blocks 0, 1 (cached, full), 2 (partial)
  run_all(kv, 1, a);
  Ids b = range(100, 108);
  b.push_back(7);
  run_all(kv, 2, b);  // shares blocks 0 and 1, owns 3
  // Keep entries 0, 5 and 9 of sequence 1: holes 1 and 2 take entries 5 and 9.
  const auto compaction = kv.compact(1, {0, 5, 9}, 10);
  ASSERT_TRUE(compaction.has_value());
  EXPECT_EQ(compaction->num_kept, 3);
  EXPECT_EQ(compaction->new_index, (std::vector<int64_t>{0, -1, -1, -1, -1, 1, -1, -1, -1, 2}));
  // Block 0 is shared: copied whole to the fresh block 4 first, then the moves land there.
  std::vector<std::pair<int64_t, int64_t>> copies;
  for (const auto& c : compaction->copies) copies.emplace_back(c.from_slot, c.to_slot);
  EXPECT_EQ(copies, (std::vector<std::pair<int64_t, int64_t>>{{0, 16}, {1, 17}, {2, 18}, {3, 19}, {5, 17}, {9, 18}}));
  EXPECT_EQ(kv.block_table(1), (Ids{4}));
  EXPECT_EQ(kv.block_table(2), (Ids{0, 1, 3}));  // untouched
  EXPECT_EQ(kv.pool().ref_count(0), 1);
  EXPECT_EQ(kv.pool().ref_count(1), 1);
  EXPECT_EQ(kv.pool().ref_count(2), 0);
  EXPECT_TRUE(kv.pool().is_cached(0));  // the prefix stays findable for later requests
  EXPECT_TRUE(kv.is_compressed(1));
  EXPECT_FALSE(kv.is_compressed(2));
  EXPECT_EQ(kv.num_used_blocks(), 4);  // 0, 1, 3 for sequence 2; 4 for sequence 1
  kv.free(1);
  kv.free(2);
  EXPECT_EQ(kv.num_used_blocks(), 0);
}

TEST(KvCacheManager, CompactionCopiesCachedBlocksHeldOnlyHereWhenBlocksAreFree) {
  KvCacheManager kv = make(4);
  run_all(kv, 1, range(0, 8));  // blocks 0, 1, both cached; 2 free blocks left
  const auto compaction = kv.compact(1, {4, 5, 6, 7}, 8);  // holes 0..3 in block 0 take 4..7
  ASSERT_TRUE(compaction.has_value());
  EXPECT_EQ(kv.block_table(1), (Ids{2}));  // block 0 was copied to block 2 (fresh), block 1 released
  EXPECT_TRUE(kv.pool().is_cached(0));
  EXPECT_TRUE(kv.pool().is_cached(1));
  const PrefixHit hit = kv.find_prefix(range(0, 9), 9, 8);
  EXPECT_EQ(hit.num_tokens, 8);  // the original prefix is still whole in the cache
}

TEST(KvCacheManager, CompactionWithoutBlocksForCopyOnWriteChangesNothing) {
  KvCacheManager kv = make(3);
  run_all(kv, 1, range(0, 8));      // blocks 0, 1
  Ids b = range(0, 4);
  b.push_back(99);
  run_all(kv, 2, b);                // shares block 0, takes block 2: nothing free
  EXPECT_FALSE(kv.compact(1, {0, 6, 7}, 8).has_value());
  EXPECT_EQ(kv.block_table(1), (Ids{0, 1}));
  EXPECT_FALSE(kv.is_compressed(1));
}

TEST(KvCacheManager, DroppedBlocksLeaveHolesInTheTable) {
  KvCacheManager kv = make(4);
  run_all(kv, 1, range(0, 12));
  EXPECT_EQ(kv.drop_blocks(1, 0, 2), 2);
  EXPECT_EQ(kv.block_table(1), (Ids{-1, -1, 2}));
  EXPECT_EQ(kv.drop_blocks(1, 0, 2), 0);  // already gone
  EXPECT_EQ(kv.num_used_blocks(), 1);
  EXPECT_EQ(kv.num_new_blocks_needed(1, 13), 1);  // the table still covers 12 tokens
  kv.allocate_slots(1, 13);
  EXPECT_EQ(kv.block_table(1).size(), 4u);
  kv.free(1);
  EXPECT_EQ(kv.num_used_blocks(), 0);
}

// Speculative decoding's rollback: a step allocated slots for 6 computed
// tokens + 1 sure token + 8 drafts; 1 draft was accepted, so 8 tokens are
// computed: blocks past the second go back uncached, the full ones stay.
TEST(KvCacheManager, TrimSlotsReleasesBlocksOfRejectedDraftsOnly) {
  KvCacheManager kv = make(8);
  const Ids tokens = range(100, 108);
  kv.start(1, {}, 7);
  kv.allocate_slots(1, 15);
  EXPECT_EQ(kv.block_table(1), (Ids{0, 1, 2, 3}));
  kv.cache_full_blocks(1, tokens, 6, 8);
  EXPECT_EQ(kv.trim_slots(1, 8), 2);
  EXPECT_EQ(kv.block_table(1), (Ids{0, 1}));
  EXPECT_EQ(kv.num_used_blocks(), 2);
  EXPECT_FALSE(kv.pool().is_cached(2));
  EXPECT_FALSE(kv.pool().is_cached(3));
  EXPECT_TRUE(kv.pool().is_cached(1));
  EXPECT_EQ(kv.trim_slots(1, 5), 0);  // 5 tokens still need both blocks
  EXPECT_THROW(kv.trim_slots(1, 4), Error);  // would drop the cached second block
  kv.free(1);
  EXPECT_EQ(kv.num_used_blocks(), 0);
}

TEST(CacheConfig, SizesThePoolFromBytesOrAFraction) {
  ModelConfig model;
  model.num_layers = 2;
  model.num_kv_heads = 2;
  model.head_dim = 8;
  model.hidden_size = 16;
  model.num_heads = 2;
  CacheConfig config;
  config.block_size = 4;
  const int64_t per_block = KvStorage::bytes_per_block(model, 4, kernels::KvDType::F16);
  EXPECT_EQ(per_block, 2 * 2 * 4 * 2 * 8 * 2);
  config.memory_bytes = per_block * 10 + 5;
  EXPECT_EQ(cache_num_blocks(config, model), 10);
  config.memory_bytes = 0;
  config.memory_fraction = 0.5;
  config.device_memory_bytes = per_block * 20;
  EXPECT_EQ(cache_num_blocks(config, model), 10);
  config.memory_fraction = 1.5;
  EXPECT_THROW(cache_num_blocks(config, model), InvalidArgument);
  config.memory_fraction = 0.0;
  config.memory_bytes = 3;
  EXPECT_THROW(cache_num_blocks(config, model), InvalidArgument);
}

}  // namespace
}  // namespace kvs
