// BlockPool without a model: exact block ids, ref counts, LRU order of the
// free queue, cache entries and hash collisions.
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "kvcache/block_hash.h"
#include "kvcache/block_pool.h"

namespace kvs {
namespace {

using Ids = std::vector<int32_t>;

TEST(BlockPool, AllocatesInOrderAndCountsRefs) {
  BlockPool pool(4);
  EXPECT_EQ(pool.allocate(), 0);
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.num_free_blocks(), 2);
  pool.add_ref(1);
  EXPECT_EQ(pool.ref_count(1), 2);
  pool.release(1);
  EXPECT_EQ(pool.ref_count(1), 1);
  EXPECT_EQ(pool.num_free_blocks(), 2);
  pool.release(1);
  EXPECT_EQ(pool.ref_count(1), 0);
  // An uncached block goes to the front: it is reused first.
  EXPECT_EQ(pool.free_queue(), (Ids{1, 2, 3}));
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_THROW(pool.release(3), Error);  // never allocated
}

TEST(BlockPool, ExhaustionThrows) {
  BlockPool pool(2);
  pool.allocate();
  pool.allocate();
  EXPECT_EQ(pool.num_free_blocks(), 0);
  EXPECT_THROW(pool.allocate(), Error);
}

TEST(BlockPool, CachedBlocksAreEvictedLeastRecentlyFreedFirst) {
  BlockPool pool(4);
  const Ids a{1, 2}, b{3, 4}, c{5, 6};
  const int32_t x = pool.allocate(), y = pool.allocate(), z = pool.allocate();  // 0, 1, 2
  const uint64_t hx = hash_block(kRootBlockHash, a.data(), 2, 0);
  const uint64_t hy = hash_block(kRootBlockHash, b.data(), 2, 0);
  const uint64_t hz = hash_block(kRootBlockHash, c.data(), 2, 0);
  pool.register_cached(x, hx, 0, a);
  pool.register_cached(y, hy, 0, b);
  pool.register_cached(z, hz, 0, c);
  pool.release(y);
  pool.release(x);
  pool.release(z);
  // Block 3 (never cached) first, then cached ones in the order they were freed.
  EXPECT_EQ(pool.free_queue(), (Ids{3, 1, 0, 2}));
  EXPECT_EQ(pool.find_cached(hx, 0, a.data(), 2), std::optional<int32_t>(0));
  // Touching block 0 again (a prefix hit) moves it out; freeing puts it last.
  pool.add_ref(0);
  pool.release(0);
  EXPECT_EQ(pool.free_queue(), (Ids{3, 1, 2, 0}));
  EXPECT_EQ(pool.allocate(), 3);
  EXPECT_EQ(pool.allocate(), 1);  // evicts b
  EXPECT_FALSE(pool.find_cached(hy, 0, b.data(), 2).has_value());
  EXPECT_FALSE(pool.is_cached(1));
  EXPECT_TRUE(pool.find_cached(hz, 0, c.data(), 2).has_value());
  EXPECT_EQ(pool.num_cached_blocks(), 2);
}

TEST(BlockPool, HashCollisionsNeverReturnTheWrongBlock) {
  BlockPool pool(3);
  const Ids a{7, 8}, b{9, 10};
  const uint64_t same_hash = 42;  // forced collision
  const int32_t x = pool.allocate(), y = pool.allocate();
  const uint64_t content_x = pool.register_cached(x, same_hash, 0, a);
  pool.register_cached(y, same_hash, 0, b);
  EXPECT_EQ(pool.find_cached(same_hash, 0, a.data(), 2), std::optional<int32_t>(x));
  EXPECT_EQ(pool.find_cached(same_hash, 0, b.data(), 2), std::optional<int32_t>(y));
  const Ids other{7, 9};
  EXPECT_FALSE(pool.find_cached(same_hash, 0, other.data(), 2).has_value());
  // Same tokens under a different parent: not the same content.
  EXPECT_FALSE(pool.find_cached(same_hash, content_x, a.data(), 2).has_value());
}

TEST(BlockHash, ChainsAndSeparatesTags) {
  const Ids t{1, 2, 3, 4};
  const uint64_t h = hash_block(kRootBlockHash, t.data(), 4, 0);
  EXPECT_EQ(h, hash_block(kRootBlockHash, t.data(), 4, 0));
  EXPECT_NE(h, hash_block(h, t.data(), 4, 0));
  EXPECT_NE(h, hash_block(kRootBlockHash, t.data(), 4, 2));
  const Ids u{1, 2, 3, 5};
  EXPECT_NE(h, hash_block(kRootBlockHash, u.data(), 4, 0));
}

}  // namespace
}  // namespace kvs
