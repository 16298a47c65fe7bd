#pragma once
// The disk tier of the prefix cache: one file per full KV block under
// <dir>/<fingerprint>/, written through as blocks are computed (from a
// background thread), read back when a prompt's prefix is found there: across
// requests and across restarts of the server.
//
// A file is trusted only when all of it checks out: magic and format version,
// the fingerprint, the key, parent hash, tokens and payload size asked for,
// and a checksum over the whole file. Anything else (torn, truncated,
// corrupted, foreign, deleted meanwhile) is a miss, never wrong bytes. Writes
// go to a temporary name in the same directory and are renamed into place,
// so a reader (this process, or another server sharing the directory) never
// sees half a file. The directory holds at most capacity_bytes: least
// recently used files are deleted first (the recency of files found at
// start-up is their modification time).
//
// Failures never stop serving: a directory that cannot be created or written
// (read-only, full disk) gives one warning through `warn` and the tier goes
// on without writing (loads still work where files can be read).
#include <cstdint>
#include <memory>
#include <string>

#include "kvcache/tiers/tier_entry.h"

namespace kvs {

struct DiskTierOptions {
  std::string dir;               // created if missing (with the fingerprint subfolder)
  int64_t capacity_bytes = 0;    // > 0: the most bytes of files it keeps
  // Identifies the model and cache layout the bytes belong to (weights,
  // tokenizer, KV dtype, block size, layers per block, shards); entries of
  // another fingerprint are never read. Non-empty, [0-9a-f] only.
  std::string fingerprint;
  // Bytes of writes waiting for the writer thread at most; a write past it is
  // dropped (store_skipped), so a slow disk never holds the engine back.
  int64_t max_pending_bytes = 256ll << 20;
  TierWarning warn;              // may be empty (warnings dropped)
};

// Ownership: owns its writer thread and the queued copies. Thread-safety:
// every public member may be called from any thread (the engine loop calls
// write_async and load; metrics read counters).
class DiskTier {
 public:
  // Never throws for an unusable directory (see above); throws
  // InvalidArgument for bad options (empty dir or fingerprint, capacity <= 0).
  explicit DiskTier(DiskTierOptions options);
  // Finishes the queued writes, then stops the writer thread.
  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  // Queues a copy of bytes[0, num_bytes) to be written as `info`'s file,
  // unless that file exists or is queued already (store_skipped), writes are
  // off, or the queue is full. Returns at once; never blocks on the disk.
  void write_async(const TierEntryInfo& info, const uint8_t* bytes, int64_t num_bytes);
  // Reads `expected`'s file into dst when it holds exactly what is asked for
  // (see above): a hit, the file becomes most recently used. Otherwise a
  // miss (and a bad file is deleted and counted in rejected).
  bool load(const TierEntryInfo& expected, uint8_t* dst, int64_t num_bytes);
  // Whether a file for the key is known (written or found by this process).
  // Cheap; load() may still miss.
  bool contains(const TierKey& key) const;
  // Blocks until every write queued so far has finished (tests, shutdown).
  void flush();
  // False once writes have been turned off by an error.
  bool writable() const;
  TierCounters counters() const;
  const std::string& directory() const;  // <dir>/<fingerprint>

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kvs
