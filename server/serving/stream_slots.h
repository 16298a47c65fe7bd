#pragma once
// Concurrent streams per API key: the count behind --max-streams-per-key.
//
// A bucket is the index of the API key that authenticated the request
// (ApiKeys::find); without keys every client is bucket 0. StreamCounts is
// thread-safe (one mutex, held only to bump a count); a StreamSlot holds one
// stream of a bucket for as long as it lives and must not outlive its counts.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace kvs {

class StreamCounts {
 public:
  // Opens one stream of `bucket` unless it already has `limit` open
  // (limit 0 = unlimited); false when it is full.
  bool try_open(size_t bucket, int64_t limit);
  void close(size_t bucket);
  int64_t open(size_t bucket) const;  // streams of `bucket` open now

 private:
  mutable std::mutex mutex_;
  std::unordered_map<size_t, int64_t> open_;  // buckets with a stream open
};

class StreamSlot {
 public:
  // Throws ApiError 429 (code "too_many_streams") when `bucket` already has
  // `limit` streams open (limit 0 = unlimited).
  StreamSlot(StreamCounts& counts, size_t bucket, int64_t limit);
  ~StreamSlot() { counts_.close(bucket_); }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  StreamCounts& counts_;
  size_t bucket_;
};

}  // namespace kvs
