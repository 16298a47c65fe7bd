#pragma once
// The host-memory tier of the prefix cache: copies of full KV blocks the
// block pool evicted, kept in plain RAM (the CPU engine; the CUDA engine's
// copies pass through it too), least recently used first out.
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "kvcache/tiers/tier_entry.h"

namespace kvs {

// Ownership: owns its copies. Thread-safety: none (the engine loop thread).
// Units: bytes.
class HostTier {
 public:
  // capacity_bytes > 0: the most payload bytes it holds.
  explicit HostTier(int64_t capacity_bytes);

  // Stores a copy of bytes[0, num_bytes) for `info` (replacing an entry of the
  // same key), then drops least recently used entries until the total fits.
  // An entry larger than the capacity is not stored (store_skipped).
  void put(const TierEntryInfo& info, const uint8_t* bytes, int64_t num_bytes);
  // On an entry with this key whose parent hash, tokens and size match
  // `expected` / num_bytes: copies it into dst, marks it most recently used,
  // counts a hit and returns true. Otherwise counts a miss and returns false.
  bool load(const TierEntryInfo& expected, uint8_t* dst, int64_t num_bytes);
  bool contains(const TierKey& key) const { return entries_.count(key) != 0; }
  TierCounters counters() const { return counters_; }
  int64_t capacity_bytes() const { return capacity_bytes_; }

 private:
  struct Entry {
    TierEntryInfo info;
    std::vector<uint8_t> bytes;
    std::list<TierKey>::iterator lru_position;
  };
  void evict_to(int64_t bytes);

  int64_t capacity_bytes_;
  std::list<TierKey> lru_;  // front: least recently used
  std::unordered_map<TierKey, Entry, TierKeyHash> entries_;
  TierCounters counters_;
};

}  // namespace kvs
