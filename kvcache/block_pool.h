#pragma once
// The pool of KV block ids: ref counts, the free queue (LRU) and the prefix
// cache's index of full, content-hashed blocks.
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kvcache/tiers/tier_entry.h"

namespace kvs {

// Ownership: plain bookkeeping; the K/V memory itself is engine/model's
// KvStorage, indexed by the ids handed out here. Thread-safety: none; only
// the engine loop thread touches it.
//
// Every block with ref count 0 sits in the free queue. Blocks that hold a
// cached (hashed) prefix stay findable there until allocate() takes them,
// oldest-freed first (LRU); blocks without a hash are queued at the front so
// they are reused before any cached block. Initially the queue is 0, 1, ...
class BlockPool {
 public:
  explicit BlockPool(int64_t num_blocks);

  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  // Blocks with ref count 0 (cached or not): what allocate() can still hand out.
  int64_t num_free_blocks() const { return static_cast<int64_t>(free_queue_.size()); }

  // Takes the block at the front of the free queue with ref count 1, dropping
  // its cache entry if it had one (after telling the eviction listener).
  // Throws kvs::Error when none is free.
  int32_t allocate();
  // One more owner; a free (ref count 0) cached block leaves the free queue.
  void add_ref(int32_t block);
  // One owner fewer; at 0 the block joins the free queue (back if cached,
  // front if not). Throws kvs::Error on a block that has no owner.
  void release(int32_t block);
  int32_t ref_count(int32_t block) const { return blocks_.at(static_cast<size_t>(block)).ref_count; }

  // Prefix cache. A cached block is identified by its KV-cache group (the
  // layers it holds, see engine/model/kv_layout.h), its chained hash, its
  // parent's content id (0 for a first block) and its token ids; content ids
  // are never reused, so a match proves the whole prefix is equal.
  // find_cached returns the block holding exactly that content, if any.
  std::optional<int32_t> find_cached(uint64_t hash, uint64_t parent_content_id, const int32_t* tokens,
                                     int64_t num_tokens, int32_t group = 0) const;
  // Records that `block` (owned, full, computed) holds this content; returns
  // its new content id. The block must not be cached already. parent_hash:
  // the chained hash of the block before it (kRootBlockHash for a first
  // block), kept for the tiers (cached_entry).
  uint64_t register_cached(int32_t block, uint64_t hash, uint64_t parent_content_id, std::vector<int32_t> tokens,
                           int32_t group = 0, uint64_t parent_hash = 0);
  // What a cached block holds, as the tiers key it. The block must be cached.
  TierEntryInfo cached_entry(int32_t block) const;
  // Called by allocate() with each cached block it is about to reuse, before
  // its cache entry is dropped (the block's K/V are still intact). Empty: none.
  using EvictionListener = std::function<void(int32_t block, const TierEntryInfo& entry)>;
  void set_eviction_listener(EvictionListener listener) { eviction_listener_ = std::move(listener); }
  // Forgets the cached content of an owned block about to be overwritten
  // (no-op if it has none); blocks chained after it become unreachable.
  void uncache(int32_t block) {
    if (is_cached(block)) drop_from_cache(block);
  }
  bool is_cached(int32_t block) const { return blocks_.at(static_cast<size_t>(block)).content_id != 0; }
  uint64_t content_id(int32_t block) const { return blocks_.at(static_cast<size_t>(block)).content_id; }
  int64_t num_cached_blocks() const { return static_cast<int64_t>(cache_.size()); }

  // The free queue, next to be allocated first (for tests and debugging).
  std::vector<int32_t> free_queue() const { return {free_queue_.begin(), free_queue_.end()}; }

 private:
  struct Block {
    int32_t ref_count = 0;
    uint64_t hash = 0;
    uint64_t content_id = 0;  // 0 = not in the prefix cache
    uint64_t parent_content_id = 0;
    uint64_t parent_hash = 0;
    int32_t group = 0;
    std::vector<int32_t> tokens;
    std::list<int32_t>::iterator free_position;
    bool in_free_queue = false;
  };
  void drop_from_cache(int32_t block);
  void remove_from_free_queue(int32_t block);

  std::vector<Block> blocks_;
  std::list<int32_t> free_queue_;
  std::unordered_multimap<uint64_t, int32_t> cache_;  // hash -> block (several on a collision)
  uint64_t next_content_id_ = 1;
  EvictionListener eviction_listener_;
};

}  // namespace kvs
