// HostTier: byte-exact copies, LRU order within the byte bound, and misses
// for anything that does not match what is asked.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/errors.h"
#include "kvcache/tiers/host_tier.h"
#include "tests/kvcache/tier_test_util.h"

namespace kvs {
namespace {

using test::tier_bytes;
using test::tier_info;

constexpr int64_t kBlockBytes = 100;

void put_block(HostTier& tier, uint64_t hash) {
  const auto bytes = tier_bytes(hash, kBlockBytes);
  tier.put(tier_info(hash), bytes.data(), kBlockBytes);
}

bool loads_exactly(HostTier& tier, uint64_t hash) {
  std::vector<uint8_t> dst(kBlockBytes, 0xEE);
  const bool hit = tier.load(tier_info(hash), dst.data(), kBlockBytes);
  if (hit) {
    EXPECT_EQ(dst, tier_bytes(hash, kBlockBytes));
  } else {
    EXPECT_EQ(dst, std::vector<uint8_t>(kBlockBytes, 0xEE)) << "a miss wrote into dst";
  }
  return hit;
}

TEST(HostTier, RoundTripsBytesAndCounts) {
  HostTier tier(1000);
  put_block(tier, 1);
  put_block(tier, 2);
  EXPECT_TRUE(tier.contains({1, 0}));
  EXPECT_FALSE(tier.contains({1, 1}));  // another group is another key
  EXPECT_TRUE(loads_exactly(tier, 1));
  EXPECT_TRUE(loads_exactly(tier, 2));
  EXPECT_FALSE(loads_exactly(tier, 3));
  const TierCounters counters = tier.counters();
  EXPECT_EQ(counters.hits, 2);
  EXPECT_EQ(counters.misses, 1);
  EXPECT_EQ(counters.stores, 2);
  EXPECT_EQ(counters.entries, 2);
  EXPECT_EQ(counters.bytes, 2 * kBlockBytes);
  EXPECT_GT(counters.load_seconds, 0.0);
}

TEST(HostTier, EvictsLeastRecentlyUsedWithinTheByteBound) {
  HostTier tier(3 * kBlockBytes);
  put_block(tier, 1);
  put_block(tier, 2);
  put_block(tier, 3);
  EXPECT_TRUE(loads_exactly(tier, 1));  // 2 is now the least recently used
  put_block(tier, 4);
  EXPECT_FALSE(tier.contains({2, 0}));
  EXPECT_TRUE(tier.contains({1, 0}));
  EXPECT_TRUE(tier.contains({3, 0}));
  EXPECT_TRUE(tier.contains({4, 0}));
  put_block(tier, 5);  // then 3
  EXPECT_FALSE(tier.contains({3, 0}));
  const TierCounters counters = tier.counters();
  EXPECT_EQ(counters.evictions, 2);
  EXPECT_EQ(counters.entries, 3);
  EXPECT_EQ(counters.bytes, 3 * kBlockBytes);
  EXPECT_LE(counters.bytes, tier.capacity_bytes());
}

TEST(HostTier, ReplacesAnEntryOfTheSameKey) {
  HostTier tier(3 * kBlockBytes);
  put_block(tier, 1);
  const auto other = tier_bytes(99, 2 * kBlockBytes);
  tier.put(tier_info(1), other.data(), static_cast<int64_t>(other.size()));
  EXPECT_EQ(tier.counters().entries, 1);
  EXPECT_EQ(tier.counters().bytes, 2 * kBlockBytes);
  std::vector<uint8_t> dst(other.size());
  EXPECT_TRUE(tier.load(tier_info(1), dst.data(), static_cast<int64_t>(dst.size())));
  EXPECT_EQ(dst, other);
}

TEST(HostTier, MismatchedTokensParentOrSizeAreMisses) {
  HostTier tier(1000);
  put_block(tier, 1);
  std::vector<uint8_t> dst(kBlockBytes + 1, 0xEE);
  TierEntryInfo tokens = tier_info(1);
  tokens.tokens[2] += 1;
  EXPECT_FALSE(tier.load(tokens, dst.data(), kBlockBytes));
  TierEntryInfo parent = tier_info(1);
  parent.parent_hash += 1;
  EXPECT_FALSE(tier.load(parent, dst.data(), kBlockBytes));
  EXPECT_FALSE(tier.load(tier_info(1), dst.data(), kBlockBytes + 1));
  EXPECT_FALSE(tier.load(tier_info(1), dst.data(), kBlockBytes - 1));
  EXPECT_EQ(dst, std::vector<uint8_t>(kBlockBytes + 1, 0xEE));
  EXPECT_EQ(tier.counters().misses, 4);
  EXPECT_TRUE(loads_exactly(tier, 1));
}

TEST(HostTier, SkipsAnEntryLargerThanTheTier) {
  HostTier tier(kBlockBytes - 1);
  put_block(tier, 1);
  EXPECT_FALSE(tier.contains({1, 0}));
  EXPECT_EQ(tier.counters().store_skipped, 1);
  EXPECT_EQ(tier.counters().bytes, 0);
  EXPECT_FALSE(loads_exactly(tier, 1));
}

TEST(HostTier, RejectsBadArguments) {
  EXPECT_THROW(HostTier(0), InvalidArgument);
  HostTier tier(10);
  EXPECT_THROW(tier.put(tier_info(1), nullptr, 4), InvalidArgument);
}

// The tier's memory comes from the given functions (pinned memory on the
// CUDA engine): an evicted entry's buffer holds the next entry, so after the
// tier fills up nothing more is allocated, and never more than its capacity.
TEST(HostTier, ReusesEvictedBuffersOfItsMemory) {
  int64_t allocated = 0, live = 0, max_live = 0, calls = 0;
  {
    HostTierMemory memory;
    memory.allocate = [&](size_t bytes) {
      ++calls;
      allocated += static_cast<int64_t>(bytes);
      live += static_cast<int64_t>(bytes);
      max_live = std::max(max_live, live);
      return new uint8_t[bytes];
    };
    memory.release = [&](uint8_t* data) {
      live -= kBlockBytes;
      delete[] data;
    };
    HostTier tier(3 * kBlockBytes, memory);
    for (uint64_t hash = 1; hash <= 20; ++hash) put_block(tier, hash);
    EXPECT_EQ(calls, 3);  // three buffers, then reuse
    EXPECT_LE(max_live, 3 * kBlockBytes);
    for (uint64_t hash = 18; hash <= 20; ++hash) EXPECT_TRUE(loads_exactly(tier, hash));
    EXPECT_FALSE(loads_exactly(tier, 17));
    EXPECT_EQ(tier.counters().evictions, 17);
  }
  EXPECT_EQ(live, 0);  // everything released with the tier
}

}  // namespace
}  // namespace kvs
