#pragma once
// The host-memory tier of the prefix cache: copies of full KV blocks the
// block pool evicted, kept in plain RAM (the CPU engine; the CUDA engine's
// copies pass through it too), least recently used first out.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>
#include <vector>

#include "kvcache/tiers/tier_entry.h"

namespace kvs {

// Where a HostTier's copies live. Empty functions: plain heap memory. The
// CUDA engine passes page-locked (pinned) host memory, so copies between the
// GPU and the tier run at full speed (engine/model/kv_memory.h).
struct HostTierMemory {
  std::function<uint8_t*(size_t bytes)> allocate;  // throws when there is none
  std::function<void(uint8_t*)> release;
};

// Ownership: owns its copies. Thread-safety: none (the engine loop thread).
// Units: bytes. Buffers of evicted entries are reused for new entries of the
// same size, so at most capacity_bytes are ever allocated and a steady
// stream of evictions allocates nothing.
class HostTier {
 public:
  // capacity_bytes > 0: the most payload bytes it holds.
  explicit HostTier(int64_t capacity_bytes, HostTierMemory memory = {});
  ~HostTier();
  HostTier(const HostTier&) = delete;
  HostTier& operator=(const HostTier&) = delete;

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
  struct Buffer {
    uint8_t* data = nullptr;
    int64_t size = 0;
  };
  struct Entry {
    TierEntryInfo info;
    Buffer bytes;
    std::list<TierKey>::iterator lru_position;
  };
  void evict_to(int64_t bytes);
  void erase(std::unordered_map<TierKey, Entry, TierKeyHash>::iterator entry);  // its buffer becomes spare
  Buffer take_buffer(int64_t size);

  int64_t capacity_bytes_;
  HostTierMemory memory_;
  std::vector<Buffer> spare_;  // buffers of evicted entries, not holding anything
  std::list<TierKey> lru_;  // front: least recently used
  std::unordered_map<TierKey, Entry, TierKeyHash> entries_;
  TierCounters counters_;
};

}  // namespace kvs
