#pragma once
// Per-sequence block tables over a BlockPool, with prefix reuse: which block
// ids a sequence owns, which of its full blocks are shared, what is free.
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kvcache/block_pool.h"

namespace kvs {

// A run of cached full blocks that prefixes a sequence's tokens.
struct PrefixHit {
  std::vector<int32_t> blocks;       // block ids, in order
  std::vector<uint64_t> hashes;      // their chained hashes
  int64_t num_tokens = 0;            // blocks.size() * block_size
  int64_t num_free_blocks_taken = 0; // of those, blocks now in the free queue (ref count 0)
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
};

// Ownership: owns the BlockPool; sequences are named by caller-chosen ids.
// Thread-safety: none (engine loop thread only). Units: tokens unless a name
// says blocks.
class KvCacheManager {
 public:
  explicit KvCacheManager(const KvCacheManagerConfig& config);

  int64_t block_size() const { return config_.block_size; }
  int64_t num_blocks() const { return pool_.num_blocks(); }
  int64_t num_free_blocks() const { return pool_.num_free_blocks(); }
  int64_t num_used_blocks() const { return num_blocks() - num_free_blocks(); }
  int64_t blocks_for_tokens(int64_t num_tokens) const { return (num_tokens + block_size() - 1) / block_size(); }
  const BlockPool& pool() const { return pool_; }

  // Longest run of cached full blocks prefixing tokens[0, max_tokens). Changes nothing.
  PrefixHit find_prefix(const std::vector<int32_t>& tokens, int64_t num_prompt_tokens, int64_t max_tokens) const;
  // New blocks `sequence` needs so its table covers `num_tokens` tokens
  // (a sequence not started yet counts from `hit`).
  int64_t num_new_blocks_needed(uint64_t sequence, int64_t num_tokens, const PrefixHit* hit = nullptr) const;
  // Starts a sequence on the hit's blocks (ref counts +1) and counts
  // `num_query_tokens` prefix-cache queries and the hit's tokens as hits.
  void start(uint64_t sequence, const PrefixHit& hit, int64_t num_query_tokens);
  bool contains(uint64_t sequence) const { return sequences_.count(sequence) != 0; }
  // Grows the table to cover `num_tokens` tokens. The caller checked
  // num_new_blocks_needed() <= num_free_blocks(); throws kvs::Error otherwise.
  void allocate_slots(uint64_t sequence, int64_t num_tokens);
  // Enters the sequence's full blocks among tokens[0, num_computed_tokens)
  // into the prefix cache (tokens: the sequence's whole token list).
  void cache_full_blocks(uint64_t sequence, const std::vector<int32_t>& tokens, int64_t num_prompt_tokens,
                         int64_t num_computed_tokens);
  // Releases every block of the sequence, last block first (so a sequence's
  // tail is evicted before its more shareable head) and forgets it.
  void free(uint64_t sequence);
  // The sequence's blocks by table index; -1 marks a block released by
  // drop_blocks (its K/V are recomputed each step: residual policy).
  const std::vector<int32_t>& block_table(uint64_t sequence) const;

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

  // Prefix-cache counters, in tokens, since construction.
  int64_t num_prefix_query_tokens() const { return num_prefix_query_tokens_; }
  int64_t num_prefix_hit_tokens() const { return num_prefix_hit_tokens_; }

 private:
  struct SequenceBlocks {
    std::vector<int32_t> blocks;
    std::vector<uint64_t> hashes;       // chained hash of each hashed full block
    std::vector<uint64_t> content_ids;  // content id of the cached block with that content
    bool compressed = false;
  };
  uint32_t block_tag(int64_t block_index, int64_t num_prompt_tokens) const;

  KvCacheManagerConfig config_;
  BlockPool pool_;
  std::unordered_map<uint64_t, SequenceBlocks> sequences_;
  int64_t num_prefix_query_tokens_ = 0;
  int64_t num_prefix_hit_tokens_ = 0;
};

}  // namespace kvs
