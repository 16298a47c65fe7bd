#pragma once
// What identifies one full KV block's K/V outside the block pool (the host
// and disk tiers of the prefix cache), and the counters every tier reports.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kvs {

// A cached block in a tier: its chained content hash (kvcache/block_hash.h,
// the same value BlockPool indexes) and its KV-cache group (layers it holds,
// engine/model/kv_layout.h). Which model and cache layout produced the bytes
// is the tier's fingerprint, fixed per tier (DiskTierOptions::fingerprint),
// not part of the key.
struct TierKey {
  uint64_t hash = 0;
  int32_t group = 0;
  bool operator==(const TierKey& other) const { return hash == other.hash && group == other.group; }
};

struct TierKeyHash {
  size_t operator()(const TierKey& key) const {
    return static_cast<size_t>(key.hash ^ (static_cast<uint64_t>(key.group) * 0x9E3779B97F4A7C15ull));
  }
};

// A block as the pool knows it: the key plus what a stored copy must match to
// be used (the 64-bit hash may collide): the previous block's chained hash
// (kRootBlockHash for a first block) and the block's token ids.
struct TierEntryInfo {
  TierKey key;
  uint64_t parent_hash = 0;
  std::vector<int32_t> tokens;  // [block_size]
};

// Since construction, per tier. bytes / entries: what it holds now.
struct TierCounters {
  int64_t hits = 0, misses = 0;         // load() results
  int64_t bytes = 0, entries = 0;       // held now (payload + header bytes on disk)
  int64_t stores = 0;                   // entries written (put / completed disk writes)
  int64_t store_skipped = 0;            // disk: already there or queued; host: larger than the tier
  int64_t store_errors = 0;             // disk: failed writes (full disk, read-only, ...)
  int64_t evictions = 0;                // entries removed to stay within the byte bound
  int64_t rejected = 0;                 // disk: files found but torn, corrupt or foreign (a miss)
  double load_seconds = 0.0;            // time spent in load() (hits and misses)
};

// Receives a tier's warnings (unusable directory, full disk, ...). May be
// called from the tier's writer thread; must be thread-safe.
using TierWarning = std::function<void(const std::string& message)>;

}  // namespace kvs
