#include "kvcache/tiers/host_tier.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "engine/errors.h"

namespace kvs {

HostTier::HostTier(int64_t capacity_bytes, HostTierMemory memory)
    : capacity_bytes_(capacity_bytes), memory_(std::move(memory)) {
  if (capacity_bytes <= 0) throw InvalidArgument("host tier: capacity must be > 0 bytes");
  if (!memory_.allocate || !memory_.release) {
    memory_.allocate = [](size_t bytes) { return new uint8_t[bytes]; };
    memory_.release = [](uint8_t* data) { delete[] data; };
  }
}

HostTier::~HostTier() {
  for (auto& [key, entry] : entries_) memory_.release(entry.bytes.data);
  for (const Buffer& buffer : spare_) memory_.release(buffer.data);
}

HostTier::Buffer HostTier::take_buffer(int64_t size) {
  for (size_t i = 0; i < spare_.size(); ++i) {
    if (spare_[i].size != size) continue;
    const Buffer buffer = spare_[i];
    spare_.erase(spare_.begin() + static_cast<std::ptrdiff_t>(i));
    return buffer;
  }
  // NOTE: spare buffers of other sizes would keep the total above the bound.
  for (const Buffer& buffer : spare_) memory_.release(buffer.data);
  spare_.clear();
  return Buffer{memory_.allocate(static_cast<size_t>(std::max<int64_t>(size, 1))), size};
}

void HostTier::erase(std::unordered_map<TierKey, Entry, TierKeyHash>::iterator entry) {
  counters_.bytes -= entry->second.bytes.size;
  spare_.push_back(entry->second.bytes);
  lru_.erase(entry->second.lru_position);
  entries_.erase(entry);
  --counters_.entries;
}

void HostTier::put(const TierEntryInfo& info, const uint8_t* bytes, int64_t num_bytes) {
  if (num_bytes < 0 || (num_bytes > 0 && bytes == nullptr)) throw InvalidArgument("host tier: bad entry bytes");
  if (num_bytes > capacity_bytes_) {
    ++counters_.store_skipped;
    return;
  }
  if (const auto found = entries_.find(info.key); found != entries_.end()) erase(found);  // replaced
  evict_to(capacity_bytes_ - num_bytes);  // first, so the new copy can reuse an evicted buffer
  const Buffer buffer = take_buffer(num_bytes);
  if (num_bytes > 0) std::memcpy(buffer.data, bytes, static_cast<size_t>(num_bytes));
  lru_.push_back(info.key);
  entries_.emplace(info.key, Entry{info, buffer, std::prev(lru_.end())});
  ++counters_.entries;
  counters_.bytes += num_bytes;
  ++counters_.stores;
}

bool HostTier::load(const TierEntryInfo& expected, uint8_t* dst, int64_t num_bytes) {
  const auto start = std::chrono::steady_clock::now();
  const auto found = entries_.find(expected.key);
  const bool hit = found != entries_.end() && found->second.info.parent_hash == expected.parent_hash &&
                   found->second.info.tokens == expected.tokens &&
                   found->second.bytes.size == num_bytes;
  if (hit) {
    if (num_bytes > 0) std::memcpy(dst, found->second.bytes.data, static_cast<size_t>(num_bytes));
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
    erase(entries_.find(lru_.front()));
    ++counters_.evictions;
  }
}

}  // namespace kvs
