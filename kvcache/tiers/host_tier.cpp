#include "kvcache/tiers/host_tier.h"

#include <chrono>
#include <cstring>

#include "engine/errors.h"

namespace kvs {

HostTier::HostTier(int64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {
  if (capacity_bytes <= 0) throw InvalidArgument("host tier: capacity must be > 0 bytes");
}

void HostTier::put(const TierEntryInfo& info, const uint8_t* bytes, int64_t num_bytes) {
  if (num_bytes < 0 || (num_bytes > 0 && bytes == nullptr)) throw InvalidArgument("host tier: bad entry bytes");
  if (num_bytes > capacity_bytes_) {
    ++counters_.store_skipped;
    return;
  }
  auto found = entries_.find(info.key);
  if (found == entries_.end()) {
    lru_.push_back(info.key);
    found = entries_.emplace(info.key, Entry{info, {}, std::prev(lru_.end())}).first;
    ++counters_.entries;
  } else {
    counters_.bytes -= static_cast<int64_t>(found->second.bytes.size());
    found->second.info = info;
    lru_.splice(lru_.end(), lru_, found->second.lru_position);
  }
  found->second.bytes.assign(bytes, bytes + num_bytes);
  counters_.bytes += num_bytes;
  ++counters_.stores;
  // NOTE: the new entry is the most recently used and fits alone, so it stays.
  evict_to(capacity_bytes_);
}

bool HostTier::load(const TierEntryInfo& expected, uint8_t* dst, int64_t num_bytes) {
  const auto start = std::chrono::steady_clock::now();
  const auto found = entries_.find(expected.key);
  const bool hit = found != entries_.end() && found->second.info.parent_hash == expected.parent_hash &&
                   found->second.info.tokens == expected.tokens &&
                   static_cast<int64_t>(found->second.bytes.size()) == num_bytes;
  if (hit) {
    if (num_bytes > 0) std::memcpy(dst, found->second.bytes.data(), static_cast<size_t>(num_bytes));
    lru_.splice(lru_.end(), lru_, found->second.lru_position);
    ++counters_.hits;
  } else {
    ++counters_.misses;
  }
  counters_.load_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return hit;
}

void HostTier::evict_to(int64_t bytes) {
  while (counters_.bytes > bytes && !lru_.empty()) {
    const auto found = entries_.find(lru_.front());
    counters_.bytes -= static_cast<int64_t>(found->second.bytes.size());
    entries_.erase(found);
    lru_.pop_front();
    --counters_.entries;
    ++counters_.evictions;
  }
}

}  // namespace kvs
