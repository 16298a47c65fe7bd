#pragma once
// The prefix cache's tiers behind the block pool, wired to the engine's KV
// memory: cached blocks the pool evicts are copied to the host tier; blocks
// sequences compute are written through to the disk tier; a prompt whose
// next blocks a tier holds gets them loaded into fresh pool blocks before its
// first step (KvCacheManager::load_prefix_from_tiers), which the scheduler
// then counts as computed, as any prefix-cache hit.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/kv_storage.h"
#include "kvcache/prefix_cache_listener.h"
#include "kvcache/tiers/disk_tier.h"
#include "kvcache/tiers/host_tier.h"

namespace kvs {

struct PrefixTierConfig {
  int64_t host_bytes = 0;         // --kv-offload-memory; 0: no host tier
  std::string disk_dir;           // --kv-offload-dir; empty: no disk tier
  int64_t disk_bytes = 0;         // --kv-offload-disk-bytes (> 0 with a disk tier)
  // model_fingerprint() of the model's files; with the cache layout it keys
  // the disk tier's entries (PrefixTierStore::fingerprint). Required with a disk tier.
  std::string model_fingerprint;
  TierWarning warn;               // the tiers' warnings (may be empty)
  bool enabled() const { return host_bytes > 0 || !disk_dir.empty(); }
  // Throws InvalidArgument naming the bad field.
  void validate() const;
};

// Ownership: owns the tiers and a staging buffer of one block (both in
// KvStorage::allocate_host memory: pinned on the CUDA engine); reads and
// writes blocks of `storage` (not owned; must outlive it). Thread-safety: the
// engine loop thread only (the disk tier writes on its own thread from copies).
class PrefixTierStore final : public PrefixCacheListener {
 public:
  // `layout`: what else the bytes depend on (KV dtype, block size, layers per
  // block, shards...), as text; hashed with the model fingerprint.
  PrefixTierStore(const PrefixTierConfig& config, KvStorage& storage, const std::string& layout);

  void on_block_cached(int32_t block, const TierEntryInfo& entry) override;
  void on_block_evicted(int32_t block, const TierEntryInfo& entry) override;
  bool load_block(int32_t block, const TierEntryInfo& entry) override;

  const HostTier* host() const { return host_.get(); }
  const DiskTier* disk() const { return disk_.get(); }
  // The disk tier's key prefix: SHA-256 of the model fingerprint and layout (hex, 32 digits).
  const std::string& fingerprint() const { return fingerprint_; }
  // Blocks until queued disk writes are done (tests, shutdown).
  void flush();

 private:
  KvStorage& storage_;
  std::string fingerprint_;
  std::unique_ptr<HostTier> host_;
  std::unique_ptr<DiskTier> disk_;
  TierWarning warn_;
  bool host_failed_ = false;  // the host tier could not get memory: off from then on
  std::unique_ptr<uint8_t, std::function<void(uint8_t*)>> staging_;  // [block_bytes_], from storage.allocate_host
  int64_t block_bytes_;
};

}  // namespace kvs
