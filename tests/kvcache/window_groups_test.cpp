// KV-cache groups without a model: Gemma 3's layer layout, window groups
// releasing the blocks that slid out of their window (relative to a step's
// first query token), prefix hits that need every group's blocks, the pool
// sizing by a group's real per-block bytes, and the most blocks a sequence
// holds at once.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/errors.h"
#include "engine/model/kv_layout.h"
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

// Gemma 3 270M's attention layout (engine/loader: 18 layers, every 6th
// global, window 512) with small other sizes.
ModelConfig gemma3_layout() {
  ModelConfig c;
  c.architecture = "gemma3";
  c.num_layers = 18;
  c.num_heads = 4;
  c.num_kv_heads = 1;
  c.head_dim = 256;
  c.hidden_size = 640;
  c.sliding_window = 512;
  c.sliding_window_pattern = 6;
  return c;
}

TEST(KvLayout, Gemma3GroupsThreeGlobalAndFifteenWindowLayersByThree) {
  const KvLayout layout = make_kv_layout(gemma3_layout(), true);
  EXPECT_EQ(layout.layers_per_group, 3);
  EXPECT_EQ(layout.group_windows, (std::vector<int64_t>{0, 512, 512, 512, 512, 512}));
  // Global layers 5, 11, 17 fill group 0; window layers fill groups 1..5 in order.
  for (int64_t layer : {5, 11, 17}) EXPECT_EQ(layout.layer_group[layer], 0) << layer;
  EXPECT_EQ(layout.layer_slot[5], 0);
  EXPECT_EQ(layout.layer_slot[17], 2);
  EXPECT_EQ(layout.layer_group[0], 1);
  EXPECT_EQ(layout.layer_group[6], 2);  // window layers 0 1 2 | 3 4 6 | ...
  EXPECT_EQ(layout.layer_slot[6], 2);
  EXPECT_EQ(layout.layer_group[16], 5);
  EXPECT_TRUE(layout.has_window_groups());
  // Off, or a model without window layers: one group of all layers.
  const KvLayout single = make_kv_layout(gemma3_layout(), false);
  EXPECT_EQ(single.layers_per_group, 18);
  EXPECT_EQ(single.group_windows, (std::vector<int64_t>{0}));
  ModelConfig llama = gemma3_layout();
  llama.sliding_window = 0;
  EXPECT_EQ(make_kv_layout(llama, true).num_groups(), 1);
  // All layers windowed: one window group.
  ModelConfig all_window = gemma3_layout();
  all_window.sliding_window_pattern = 0;
  EXPECT_EQ(make_kv_layout(all_window, true).group_windows, (std::vector<int64_t>{512}));
}

TEST(KvLayout, PoolHoldsBlocksOfOneGroupsLayers) {
  const ModelConfig model = gemma3_layout();
  CacheConfig config;
  config.block_size = 16;
  const int64_t full_block = KvStorage::bytes_per_block(model, 16, kernels::KvDType::F16);
  config.memory_bytes = 100 * full_block;
  EXPECT_EQ(cache_num_blocks(config, model), 100);
  EXPECT_EQ(cache_num_blocks(config, model, 1, 3), 600);  // a block holds 3 of the 18 layers
  const KvLayout layout = make_kv_layout(model, true);
  KvStorage storage(model, 6, 16, kernels::KvDType::F16, 1, nullptr, &layout);
  // Layers of different groups in the same slot share an array (disjoint block ids).
  EXPECT_EQ(storage.layer(5).k, storage.layer(0).k);   // both slot 0
  EXPECT_NE(storage.layer(5).k, storage.layer(11).k);  // slots 0 and 1
  EXPECT_EQ(storage.layer_group(11), 0);
  EXPECT_EQ(storage.layer_group(12), 4);
}

KvCacheManager make_windowed(int64_t num_blocks, int64_t window) {
  KvCacheManagerConfig config;
  config.num_blocks = num_blocks;
  config.block_size = 4;
  config.group_windows = {0, window};
  return KvCacheManager(config);
}

// Block size 4, window 8: a 12-token prompt chunk, then an 8-token chunk,
// then a decode step; exact tables and pool counts.
TEST(KvCacheGroups, WindowGroupReleasesBlocksBelowTheFirstQuerysWindow) {
  KvCacheManager kv = make_windowed(16, 8);
  const Ids tokens = range(100, 121);
  kv.start(1, kv.find_prefix(tokens, 21, 20), 21);
  kv.allocate_slots(1, 12);
  EXPECT_EQ(kv.block_table(1, 0), (Ids{0, 1, 2}));
  EXPECT_EQ(kv.block_table(1, 1), (Ids{3, 4, 5}));
  kv.cache_full_blocks(1, tokens, 21, 12);
  // Next step computes [12, 20): its first query (position 12) reads from 5,
  // so only table entry 0 (tokens 0..3) is wholly below.
  EXPECT_EQ(kv.num_new_blocks_needed(1, 20), 4);
  EXPECT_EQ(kv.release_out_of_window(1, 12), 1);
  EXPECT_EQ(kv.block_table(1, 1), (Ids{-1, 4, 5}));
  kv.allocate_slots(1, 20);
  EXPECT_EQ(kv.block_table(1, 0), (Ids{0, 1, 2, 6, 7}));
  EXPECT_EQ(kv.block_table(1, 1), (Ids{-1, 4, 5, 8, 9}));
  kv.cache_full_blocks(1, tokens, 21, 20);
  // Decode at position 20 reads from 13: entries 1 and 2 go, entry 3 (12..15) stays.
  EXPECT_EQ(kv.release_out_of_window(1, 20), 2);
  EXPECT_EQ(kv.release_out_of_window(1, 20), 0);
  EXPECT_EQ(kv.block_table(1, 1), (Ids{-1, -1, -1, 8, 9}));
  EXPECT_EQ(kv.num_used_blocks(), 7);
  EXPECT_EQ(kv.num_used_blocks_of_kind(false), 5);
  EXPECT_EQ(kv.num_used_blocks_of_kind(true), 2);
  EXPECT_EQ(kv.num_window_released_blocks(), 3);
  // Released full blocks stay in the prefix cache (free queue, back).
  EXPECT_TRUE(kv.pool().is_cached(3));
  EXPECT_EQ(kv.pool().ref_count(3), 0);
  kv.free(1);
  EXPECT_EQ(kv.num_used_blocks(), 0);
}

// A later request with the same prefix takes every group's cached blocks
// (those the window released included), then releases the window's again.
TEST(KvCacheGroups, PrefixHitTakesEveryGroupsCachedBlocks) {
  KvCacheManager kv = make_windowed(16, 8);
  const Ids tokens = range(100, 121);
  kv.start(1, kv.find_prefix(tokens, 21, 20), 21);
  kv.allocate_slots(1, 20);
  kv.cache_full_blocks(1, tokens, 21, 20);
  EXPECT_EQ(kv.release_out_of_window(1, 20), 3);
  kv.free(1);
  const PrefixHit hit = kv.find_prefix(tokens, 21, 20);
  EXPECT_EQ(hit.num_tokens, 20);
  EXPECT_EQ(hit.blocks, (Ids{0, 1, 2, 3, 4}));
  ASSERT_EQ(hit.other_group_blocks.size(), 1u);
  EXPECT_EQ(hit.other_group_blocks[0], (Ids{5, 6, 7, 8, 9}));
  EXPECT_EQ(hit.num_free_blocks_taken, 10);
  kv.start(2, hit, 21);
  EXPECT_EQ(kv.release_out_of_window(2, hit.num_tokens), 3);
  EXPECT_EQ(kv.block_table(2, 1), (Ids{-1, -1, -1, 8, 9}));
  EXPECT_EQ(kv.num_used_blocks(), 7);
  kv.free(2);
}

// When a window block was reused for other content, the hit stops there in
// every group (group 0's blocks alone never serve a hit), and a group's
// cached block never serves another group although its content matches.
TEST(KvCacheGroups, EvictedWindowBlockEndsTheHitForAllGroups) {
  KvCacheManager kv = make_windowed(12, 8);
  const Ids tokens = range(100, 121);
  kv.start(1, kv.find_prefix(tokens, 21, 20), 21);
  kv.allocate_slots(1, 12);
  kv.cache_full_blocks(1, tokens, 21, 12);
  EXPECT_EQ(kv.release_out_of_window(1, 12), 1);  // group 1's entry 0: block 3, first cached in the queue
  kv.allocate_slots(1, 20);
  kv.cache_full_blocks(1, tokens, 21, 20);
  kv.free(1);
  EXPECT_EQ(kv.find_prefix(tokens, 21, 20).num_tokens, 20);
  // Another sequence takes the 2 uncached blocks, then the oldest cached
  // ones: 3 (group 1's entry 0) and 7.
  const Ids other = range(500, 509);
  kv.start(2, kv.find_prefix(other, 9, 8), 9);
  kv.allocate_slots(2, 8);
  EXPECT_FALSE(kv.pool().is_cached(3));
  const PrefixHit hit = kv.find_prefix(tokens, 21, 20);
  EXPECT_EQ(hit.num_tokens, 0);
  EXPECT_TRUE(hit.blocks.empty());
  EXPECT_EQ(hit.num_free_blocks_taken, 0);
}

TEST(KvCacheGroups, MaxBlocksHeldCountsAWindowPlusAChunkPerWindowGroup) {
  KvCacheManagerConfig config;
  config.num_blocks = 10;
  config.block_size = 16;
  config.group_windows = {0, 512, 512, 512, 512, 512};
  const KvCacheManager kv(config);
  EXPECT_EQ(kv.max_blocks_held(8192, 512), 512 + 5 * (64 + 1));
  EXPECT_EQ(kv.max_blocks_held(100, 512), 6 * 7);  // short: every group holds it all
  config.group_windows = {};
  EXPECT_EQ(KvCacheManager(config).max_blocks_held(8192, 512), 512);
}

// The longest sequence a pool holds: with windows, 840 blocks of 3 layers hold
// 8k tokens (512 + 5 x 65 = 837 blocks) and more; one group holds blocks x size.
TEST(KvCacheGroups, MaxTokensHeldInvertsMaxBlocksHeld) {
  KvCacheManagerConfig config;
  config.num_blocks = 840;
  config.block_size = 16;
  config.group_windows = {0, 512, 512, 512, 512, 512};
  const KvCacheManager windows(config);
  const int64_t tokens = windows.max_tokens_held(512);
  EXPECT_EQ(tokens, (840 - 5 * 65) * 16);  // 515 full-group blocks
  EXPECT_LE(windows.max_blocks_held(tokens, 512), 840);
  EXPECT_GT(windows.max_blocks_held(tokens + 1, 512), 840);
  config.group_windows = {};
  EXPECT_EQ(KvCacheManager(config).max_tokens_held(512), 840 * 16);
}

TEST(KvCacheGroups, CompressionNeedsOneGroup) {
  KvCacheManager kv = make_windowed(16, 8);
  const Ids tokens = range(100, 109);
  kv.start(1, kv.find_prefix(tokens, 9, 8), 9);
  kv.allocate_slots(1, 9);
  EXPECT_THROW(kv.drop_blocks(1, 0, 1), Error);
  EXPECT_THROW(kv.compact(1, {0, 1}, 9), Error);
}

}  // namespace
}  // namespace kvs
