// KvCacheManager's side of the prefix cache's tiers, without a model or
// files: which blocks it reports as computed and as evicted (with their
// chained keys), and how load_prefix_from_tiers turns blocks a tier holds
// into pool hits. The tier here is a map of block contents standing for the
// real ones (tests/kvcache/*_tier_test.cpp test those); "contents" are the
// block's token ids, which the test writes and reads through the block id.
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <set>

#include "kvcache/block_hash.h"
#include "kvcache/kv_cache_manager.h"

namespace kvs {
namespace {

using Ids = std::vector<int32_t>;

Ids range(int32_t begin, int32_t end) {
  Ids ids(static_cast<size_t>(end - begin));
  std::iota(ids.begin(), ids.end(), begin);
  return ids;
}

// Records what the manager reports and serves loads from `stored`; the
// "memory" of block b is memory[b] (the tokens it holds).
struct RecordingTier final : PrefixCacheListener {
  std::vector<std::pair<int32_t, TierEntryInfo>> cached, evicted;
  std::map<std::pair<uint64_t, int32_t>, TierEntryInfo> stored;  // what a tier holds, by key
  std::map<int32_t, Ids> memory;
  std::set<uint64_t> refuse;  // hashes whose load fails
  int loads = 0;

  void on_block_cached(int32_t block, const TierEntryInfo& entry) override { cached.emplace_back(block, entry); }
  void on_block_evicted(int32_t block, const TierEntryInfo& entry) override {
    evicted.emplace_back(block, entry);
    EXPECT_EQ(memory[block], entry.tokens) << "an evicted block is reported before it is overwritten";
    stored[{entry.key.hash, entry.key.group}] = entry;
  }
  bool load_block(int32_t block, const TierEntryInfo& entry) override {
    ++loads;
    const auto it = stored.find({entry.key.hash, entry.key.group});
    if (it == stored.end() || refuse.count(entry.key.hash) != 0) return false;
    EXPECT_EQ(it->second.parent_hash, entry.parent_hash);
    EXPECT_EQ(it->second.tokens, entry.tokens);
    memory[block] = entry.tokens;
    return true;
  }
};

KvCacheManager make(int64_t num_blocks, std::vector<int64_t> windows = {}) {
  KvCacheManagerConfig config;
  config.num_blocks = num_blocks;
  config.block_size = 4;
  config.group_windows = std::move(windows);
  return KvCacheManager(config);
}

// Runs `tokens` as sequence `seq` to the end (a prefix hit first), writes
// each new block's "memory", frees it.
PrefixHit run_and_free(KvCacheManager& kv, RecordingTier& tier, uint64_t seq, const Ids& tokens) {
  const auto n = static_cast<int64_t>(tokens.size());
  const PrefixHit hit = kv.find_prefix(tokens, n, n - 1);
  kv.start(seq, hit, n);
  kv.allocate_slots(seq, n);
  for (int64_t g = 0; g < kv.num_groups(); ++g) {
    const Ids& table = kv.block_table(seq, g);
    for (size_t i = hit.blocks.size(); i < table.size(); ++i) {
      const auto begin = static_cast<std::ptrdiff_t>(i * 4);
      tier.memory[table[i]] = Ids(tokens.begin() + begin, tokens.begin() + std::min<std::ptrdiff_t>(begin + 4, n));
    }
  }
  kv.cache_full_blocks(seq, tokens, n, n);
  kv.free(seq);
  return hit;
}

TEST(PrefixTierBookkeeping, ComputedBlocksAreReportedWithTheirChainedKeys) {
  KvCacheManager kv = make(8);
  RecordingTier tier;
  kv.set_prefix_listener(&tier);
  const Ids a = range(100, 110);  // two full blocks and two tokens
  run_and_free(kv, tier, 1, a);
  ASSERT_EQ(tier.cached.size(), 2u);
  const uint64_t h0 = hash_block(kRootBlockHash, a.data(), 4, 0);
  const uint64_t h1 = hash_block(h0, a.data() + 4, 4, 0);
  EXPECT_EQ(tier.cached[0].second.key.hash, h0);
  EXPECT_EQ(tier.cached[0].second.parent_hash, kRootBlockHash);
  EXPECT_EQ(tier.cached[0].second.tokens, range(100, 104));
  EXPECT_EQ(tier.cached[1].second.key.hash, h1);
  EXPECT_EQ(tier.cached[1].second.parent_hash, h0);
  EXPECT_EQ(tier.cached[1].second.tokens, range(104, 108));
  // The same prefix again is a pool hit: nothing new is reported as computed.
  EXPECT_EQ(run_and_free(kv, tier, 2, a).num_tokens, 8);
  EXPECT_EQ(tier.cached.size(), 2u);
  EXPECT_TRUE(tier.evicted.empty());
}

TEST(PrefixTierBookkeeping, EvictedBlocksAreReportedBeforeReuseAndLoadBackAsHits) {
  KvCacheManager kv = make(4);
  RecordingTier tier;
  kv.set_prefix_listener(&tier);
  const Ids a = range(100, 109);  // 2 full blocks + 1 token: 3 blocks
  run_and_free(kv, tier, 1, a);
  const Ids b = range(200, 213);  // needs all 4 blocks: evicts both of a's cached blocks
  run_and_free(kv, tier, 2, b);
  ASSERT_EQ(tier.evicted.size(), 2u);
  EXPECT_EQ(tier.evicted[0].second.tokens, range(104, 108));  // a's tail was freed first, so it goes first
  EXPECT_EQ(tier.evicted[1].second.tokens, range(100, 104));
  EXPECT_EQ(kv.find_prefix(a, 9, 8).num_tokens, 0);           // the pool lost them
  // The tier has them: loading makes them pool hits, with the right contents.
  EXPECT_EQ(kv.load_prefix_from_tiers(a, 9, 8), 8);
  EXPECT_EQ(kv.num_tier_loaded_tokens(), 8);
  const PrefixHit hit = kv.find_prefix(a, 9, 8);
  ASSERT_EQ(hit.num_tokens, 8);
  EXPECT_EQ(tier.memory[hit.blocks[0]], range(100, 104));
  EXPECT_EQ(tier.memory[hit.blocks[1]], range(104, 108));
  EXPECT_EQ(hit.num_free_blocks_taken, 2);  // loaded blocks wait in the free queue like any cached block
  EXPECT_EQ(kv.num_used_blocks(), 0);
  // Loading again finds them in the pool: no tier load.
  const int loads = tier.loads;
  EXPECT_EQ(kv.load_prefix_from_tiers(a, 9, 8), 0);
  EXPECT_EQ(tier.loads, loads);
}

TEST(PrefixTierBookkeeping, LoadingNeverEvictsThePrefixItExtends) {
  KvCacheManager kv = make(4);
  RecordingTier tier;
  kv.set_prefix_listener(&tier);
  const Ids a = range(100, 113);  // 3 full blocks + 1 token: 4 blocks, the whole pool
  run_and_free(kv, tier, 1, a);
  // Evict all of a's cached blocks, then bring only a's first block back into the pool.
  run_and_free(kv, tier, 2, range(300, 316));
  ASSERT_EQ(tier.stored.size(), 3u);
  ASSERT_EQ(kv.load_prefix_from_tiers(a, 13, 4), 4);
  // Now load the rest: the first block is free and oldest-but-one in the
  // queue, yet it must survive the loads of blocks 2 and 3.
  EXPECT_EQ(kv.load_prefix_from_tiers(a, 13, 12), 8);
  const PrefixHit hit = kv.find_prefix(a, 13, 12);
  EXPECT_EQ(hit.num_tokens, 12);
  // One block always stays free: with 4 blocks, 3 hold the prefix.
  EXPECT_EQ(kv.num_free_blocks(), 4);
}

TEST(PrefixTierBookkeeping, AFailedLoadEndsTheChainAndLeavesNoCachedBlock) {
  KvCacheManager kv = make(4);
  RecordingTier tier;
  kv.set_prefix_listener(&tier);
  const Ids a = range(100, 109);
  run_and_free(kv, tier, 1, a);
  run_and_free(kv, tier, 2, range(200, 213));
  tier.refuse.insert(hash_block(hash_block(kRootBlockHash, a.data(), 4, 0), a.data() + 4, 4, 0));  // block 1 fails
  EXPECT_EQ(kv.load_prefix_from_tiers(a, 9, 8), 4);
  EXPECT_EQ(kv.find_prefix(a, 9, 8).num_tokens, 4);
  EXPECT_EQ(kv.pool().num_cached_blocks(), 3);  // b's two + a's first; the failed block is not cached
}

TEST(PrefixTierBookkeeping, EveryGroupsBlockIsNeededForAHit) {
  KvCacheManager kv = make(12, {0, 8});  // a full-attention group and a window group
  RecordingTier tier;
  kv.set_prefix_listener(&tier);
  const Ids a = range(100, 109);
  run_and_free(kv, tier, 1, a);
  ASSERT_EQ(tier.cached.size(), 4u);  // 2 blocks x 2 groups
  run_and_free(kv, tier, 2, range(200, 224));  // 6 blocks x 2 groups: the whole pool, evicts a's
  ASSERT_EQ(kv.find_prefix(a, 9, 8).num_tokens, 0);
  // Drop group 1's copy of a's second block from the tier: the load stops after block 0.
  const uint64_t h0 = hash_block(kRootBlockHash, a.data(), 4, 0);
  const uint64_t h1 = hash_block(h0, a.data() + 4, 4, 0);
  tier.stored.erase({h1, 1});
  EXPECT_EQ(kv.load_prefix_from_tiers(a, 9, 8), 4);
  const PrefixHit hit = kv.find_prefix(a, 9, 8);
  EXPECT_EQ(hit.num_tokens, 4);
  ASSERT_EQ(hit.other_group_blocks.size(), 1u);
  EXPECT_EQ(tier.memory[hit.other_group_blocks[0][0]], range(100, 104));
}

TEST(PrefixTierBookkeeping, WithoutAListenerNothingIsLoaded) {
  KvCacheManager kv = make(4);
  EXPECT_EQ(kv.load_prefix_from_tiers(range(0, 9), 9, 8), 0);
}

}  // namespace
}  // namespace kvs
