#pragma once
// Per-sequence block tables over a BlockPool, with prefix reuse: which block
// ids a sequence owns, which of its full blocks are shared, what is free.
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kvcache/block_pool.h"
#include "kvcache/prefix_cache_listener.h"

namespace kvs {

// A run of cached full blocks that prefixes a sequence's tokens, in every
// KV-cache group.
struct PrefixHit {
  std::vector<int32_t> blocks;       // group 0's block ids, in order
  std::vector<std::vector<int32_t>> other_group_blocks;  // [num_groups - 1]: groups 1..'s, as blocks
  std::vector<uint64_t> hashes;      // their chained hashes (one chain for all groups)
  int64_t num_tokens = 0;            // blocks.size() * block_size
  int64_t num_free_blocks_taken = 0; // of those, over all groups, blocks now in the free queue (ref count 0)
};

struct KvCacheManagerConfig {
  int64_t num_blocks = 0;
  int64_t block_size = 16;           // tokens per block
  bool enable_prefix_caching = true;
  // NOTE: with the F16 cache our attention rounds differently for one-token
  // steps than for longer ones (as llama.cpp does), so a block's K/V depend on
  // where the prompt ended inside it. When set, that boundary is part of the
  // block's hash and only blocks computed the same way are shared.
  bool tag_prompt_boundary = false;
  // KV-cache groups (engine/model/kv_layout.h): group g's window in tokens,
  // 0 = full attention. Empty: one full-attention group. Every group has its
  // own table per sequence over the one pool.
  std::vector<int64_t> group_windows;
};

// Ownership: owns the BlockPool; sequences are named by caller-chosen ids.
// Thread-safety: none (engine loop thread only), except the const accessors
// of construction-time values (block_size, num_blocks, num_groups,
// group_window, blocks_for_tokens, max_blocks_held). Units: tokens unless a
// name says blocks.
//
// KV-cache groups: a sequence has one table per group, all the same length
// (table index i covers tokens [i * block_size, (i + 1) * block_size)); a
// window group's entries below the window of the sequence's next step are
// released (-1) by release_out_of_window. Counts of blocks (needed, free,
// used) are over all groups. A prefix hit needs every group's blocks of the
// prefix to be cached (blocks a window released stay cached in the free
// queue until reused); compression (compact, drop_blocks) needs one group.
class KvCacheManager {
 public:
  explicit KvCacheManager(const KvCacheManagerConfig& config);

  int64_t block_size() const { return config_.block_size; }
  int64_t num_blocks() const { return pool_.num_blocks(); }
  int64_t num_free_blocks() const { return pool_.num_free_blocks(); }
  int64_t num_used_blocks() const { return num_blocks() - num_free_blocks(); }
  int64_t blocks_for_tokens(int64_t num_tokens) const { return (num_tokens + block_size() - 1) / block_size(); }
  const BlockPool& pool() const { return pool_; }
  int64_t num_groups() const { return static_cast<int64_t>(windows_.size()); }
  int64_t group_window(int64_t group) const { return windows_.at(static_cast<size_t>(group)); }
  // The most blocks (all groups) a sequence of num_tokens cache entries holds
  // at once when it computes at most max_chunk tokens per step.
  int64_t max_blocks_held(int64_t num_tokens, int64_t max_chunk) const;
  // The most tokens n with max_blocks_held(n, max_chunk) <= num_blocks(): the
  // longest sequence the whole pool holds.
  int64_t max_tokens_held(int64_t max_chunk) const;

  // Longest run of cached full blocks prefixing tokens[0, max_tokens). Changes nothing.
  PrefixHit find_prefix(const std::vector<int32_t>& tokens, int64_t num_prompt_tokens, int64_t max_tokens) const;
  // Tiers of the prefix cache (not owned; null: none). The listener hears of
  // every block entered into the prefix cache by a computing sequence and of
  // every cached block the pool reuses, and loads blocks for
  // load_prefix_from_tiers.
  void set_prefix_listener(PrefixCacheListener* listener);
  // Extends the pool's cached prefix of tokens[0, max_tokens) (as
  // find_prefix hashes it) with the following full blocks the listener can
  // load: each goes into a block taken from the free queue, is entered into
  // the prefix cache and is freed again (most recently used), so the next
  // find_prefix finds it. Stops at the first block some group's tier lacks,
  // and while fewer than num_groups() + 1 blocks are free. The prefix's
  // blocks are held meanwhile, so loading never evicts them. Returns the
  // tokens loaded.
  int64_t load_prefix_from_tiers(const std::vector<int32_t>& tokens, int64_t num_prompt_tokens, int64_t max_tokens);
  // New blocks `sequence` needs so its table covers `num_tokens` tokens
  // (a sequence not started yet counts from `hit`).
  int64_t num_new_blocks_needed(uint64_t sequence, int64_t num_tokens, const PrefixHit* hit = nullptr) const;
  // Starts a sequence on the hit's blocks (ref counts +1) and counts
  // `num_query_tokens` prefix-cache queries and the hit's tokens as hits.
  void start(uint64_t sequence, const PrefixHit& hit, int64_t num_query_tokens);
  bool contains(uint64_t sequence) const { return sequences_.count(sequence) != 0; }
  // Grows the tables to cover `num_tokens` tokens. The caller checked
  // num_new_blocks_needed() <= num_free_blocks(); throws kvs::Error otherwise.
  void allocate_slots(uint64_t sequence, int64_t num_tokens);
  // Before a step whose first query token is at position num_computed_tokens
  // (= its cache index; window groups need uncompressed sequences): releases,
  // in every window group of window w, the blocks wholly below
  // num_computed_tokens - w + 1, which no query of this or a later step
  // reads. Returns how many it released.
  int64_t release_out_of_window(uint64_t sequence, int64_t num_computed_tokens);
  // Enters the sequence's full blocks among tokens[0, num_computed_tokens)
  // into the prefix cache (tokens: the sequence's whole token list).
  void cache_full_blocks(uint64_t sequence, const std::vector<int32_t>& tokens, int64_t num_prompt_tokens,
                         int64_t num_computed_tokens);
  // Speculative decoding's rollback: releases the sequence's table entries
  // past blocks_for_tokens(num_tokens) in every group (blocks that held only
  // rejected draft tokens), last first. They were never entered into the
  // prefix cache (cache_full_blocks only covers computed, accepted tokens);
  // throws kvs::Error if one was. Returns how many blocks it released.
  int64_t trim_slots(uint64_t sequence, int64_t num_tokens);
  // Releases every block of the sequence, last block first (so a sequence's
  // tail is evicted before its more shareable head) and forgets it.
  void free(uint64_t sequence);
  // The sequence's blocks in group `group` by table index; -1 marks a block
  // released by drop_blocks (its K/V are recomputed each step: residual
  // policy) or by release_out_of_window.
  const std::vector<int32_t>& block_table(uint64_t sequence, int64_t group = 0) const;
  // Blocks held by some sequence in full-attention (window false) or
  // sliding-window (true) groups; shared blocks count once. O(window groups'
  // live entries).
  int64_t num_used_blocks_of_kind(bool window) const;
  // Blocks release_out_of_window released, since construction.
  int64_t num_window_released_blocks() const { return num_window_released_blocks_; }

  // ---- compression (kvcache/kv_policy.h decides; this applies) ----
  // One cache slot's K/V to copy (slot = block * block_size + offset), in order.
  struct SlotCopy {
    int64_t from_slot = 0, to_slot = 0;
  };
  struct Compaction {
    std::vector<SlotCopy> copies;     // apply in order (KvStorage::copy_slots)
    std::vector<int64_t> new_index;   // [num_cached]: entry i's new cache index, -1 if dropped
    int64_t num_kept = 0;
  };
  // Keeps the cache entries `keep` (ascending, < num_cached) of a sequence
  // holding num_cached entries, packing them into indices [0, keep.size()):
  // kept entries past the new end move into the dropped ones' places (fewest
  // copies; order is not preserved), blocks past the new end are released.
  // A destination block that other sequences share, or that the prefix
  // cache indexes, is never written: it is copied to a fresh block first
  // (copy-on-write) or, held only here, forgotten by the prefix cache.
  // Returns nullopt (and changes nothing) when copy-on-write needs more free
  // blocks than there are. Marks the sequence compressed.
  std::optional<Compaction> compact(uint64_t sequence, const std::vector<int64_t>& keep, int64_t num_cached);
  // Releases the table's blocks in [begin, end) still held (table entries
  // become -1) and marks the sequence compressed. Returns how many it released.
  int64_t drop_blocks(uint64_t sequence, int64_t begin, int64_t end);
  // A compressed sequence's blocks no longer hold its tokens in order, so
  // cache_full_blocks enters none of them into the prefix cache.
  bool is_compressed(uint64_t sequence) const { return sequences_.at(sequence).compressed; }

  // Tokens load_prefix_from_tiers loaded, since construction.
  int64_t num_tier_loaded_tokens() const { return num_tier_loaded_tokens_; }
  // Prefix-cache counters, in tokens, since construction.
  int64_t num_prefix_query_tokens() const { return num_prefix_query_tokens_; }
  int64_t num_prefix_hit_tokens() const { return num_prefix_hit_tokens_; }

 private:
  struct GroupBlocks {
    std::vector<int32_t> blocks;
    std::vector<uint64_t> content_ids;  // content id of the cached block with each hashed block's content
    int64_t num_released = 0;           // table entries [0, num_released) released by the window
  };
  struct SequenceBlocks {
    std::vector<GroupBlocks> groups;  // [num_groups]
    std::vector<uint64_t> hashes;     // chained hash of each hashed full block (all groups)
    bool compressed = false;
  };
  uint32_t block_tag(int64_t block_index, int64_t num_prompt_tokens) const;
  SequenceBlocks& one_group_sequence(uint64_t sequence, const char* what);

  KvCacheManagerConfig config_;
  std::vector<int64_t> windows_;  // [num_groups]
  BlockPool pool_;
  std::unordered_map<uint64_t, SequenceBlocks> sequences_;
  int64_t num_prefix_query_tokens_ = 0;
  int64_t num_prefix_hit_tokens_ = 0;
  int64_t num_window_released_blocks_ = 0;
  int64_t num_tier_loaded_tokens_ = 0;
  PrefixCacheListener* listener_ = nullptr;
};

}  // namespace kvs
