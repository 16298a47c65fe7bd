#pragma once
// What the prefix cache tells the tiers behind it (host memory, disk) and
// asks of them. kvcache/ decides which block ids hold what; the bytes are
// copied by whoever implements this (scheduler/prefix_tier_store.h), which
// owns the tiers and reaches the engine's KV memory.
#include <cstdint>

#include "kvcache/tiers/tier_entry.h"

namespace kvs {

// Thread-safety: called on the engine loop thread only, between steps (never
// while the model runs), so a block's K/V are final when they are read.
class PrefixCacheListener {
 public:
  virtual ~PrefixCacheListener() = default;
  // `block` was just entered into the prefix cache after a sequence computed
  // it (a write-through tier stores it).
  virtual void on_block_cached(int32_t block, const TierEntryInfo& entry) = 0;
  // `block`, cached, is about to be handed out for other content; its K/V
  // are still intact (an eviction tier copies them out now).
  virtual void on_block_evicted(int32_t block, const TierEntryInfo& entry) = 0;
  // Fills `block` (owned by the caller, about to be entered into the prefix
  // cache) with `entry`'s K/V from a tier: true when a tier held exactly
  // that entry; false leaves the block's contents unspecified.
  virtual bool load_block(int32_t block, const TierEntryInfo& entry) = 0;
};

}  // namespace kvs
