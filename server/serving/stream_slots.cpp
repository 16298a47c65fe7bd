#include "server/serving/stream_slots.h"

#include <string>

#include "server/api/api_error.h"

namespace kvs {

bool StreamCounts::try_open(size_t bucket, int64_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t& open = open_[bucket];  // limit >= 1 when it refuses, so no empty entry is left
  if (limit > 0 && open >= limit) return false;
  ++open;
  return true;
}

void StreamCounts::close(size_t bucket) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = open_.find(bucket);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

int64_t StreamCounts::open(size_t bucket) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = open_.find(bucket);
  return it == open_.end() ? 0 : it->second;
}

StreamSlot::StreamSlot(StreamCounts& counts, size_t bucket, int64_t limit) : counts_(counts), bucket_(bucket) {
  if (!counts_.try_open(bucket, limit)) {
    throw ApiError(429,
                   "too many concurrent streams for this API key (at most " + std::to_string(limit) +
                       "); retry when one ends",
                   "", "too_many_streams");
  }
}

}  // namespace kvs
