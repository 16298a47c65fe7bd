#include "scheduler/prefix_tier_store.h"

#include "engine/errors.h"
#include "engine/loader/model_fingerprint.h"

namespace kvs {

void PrefixTierConfig::validate() const {
  if (host_bytes < 0) throw InvalidArgument("--kv-offload-memory must be >= 0");
  if (disk_dir.empty()) return;
  if (disk_bytes <= 0) throw InvalidArgument("--kv-offload-disk-bytes must be > 0 with --kv-offload-dir");
  if (model_fingerprint.empty()) throw InvalidArgument("a disk tier needs the model's fingerprint");
}

PrefixTierStore::PrefixTierStore(const PrefixTierConfig& config, KvStorage& storage, const std::string& layout)
    : storage_(storage),
      fingerprint_(sha256_hex("kvserve prefix tier v1\n" + config.model_fingerprint + "\n" + layout).substr(0, 32)),
      warn_(config.warn),
      staging_(storage.allocate_host(static_cast<size_t>(storage.block_copy_bytes())),
               [&storage](uint8_t* bytes) { storage.release_host(bytes); }),
      block_bytes_(storage.block_copy_bytes()) {
  config.validate();
  if (config.host_bytes > 0) {
    HostTierMemory memory;
    memory.allocate = [&storage](size_t bytes) { return storage.allocate_host(bytes); };
    memory.release = [&storage](uint8_t* bytes) { storage.release_host(bytes); };
    host_ = std::make_unique<HostTier>(config.host_bytes, std::move(memory));
  }
  if (!config.disk_dir.empty()) {
    DiskTierOptions options;
    options.dir = config.disk_dir;
    options.capacity_bytes = config.disk_bytes;
    options.fingerprint = fingerprint_;
    options.warn = config.warn;
    disk_ = std::make_unique<DiskTier>(std::move(options));
  }
}

void PrefixTierStore::on_block_cached(int32_t block, const TierEntryInfo& entry) {
  if (!disk_ || !disk_->writable() || disk_->contains(entry.key)) return;
  storage_.read_block(block, staging_.get());
  disk_->write_async(entry, staging_.get(), block_bytes_);
}

void PrefixTierStore::on_block_evicted(int32_t block, const TierEntryInfo& entry) {
  if (!host_ || host_failed_ || host_->contains(entry.key)) return;
  storage_.read_block(block, staging_.get());
  try {
    host_->put(entry, staging_.get(), block_bytes_);
  } catch (const std::exception& e) {  // no memory for the copy: serve on without the tier
    host_failed_ = true;
    if (warn_) warn_(std::string("host tier off: ") + e.what());
  }
}

bool PrefixTierStore::load_block(int32_t block, const TierEntryInfo& entry) {
  const bool found = (host_ && host_->load(entry, staging_.get(), block_bytes_)) ||
                     (disk_ && disk_->load(entry, staging_.get(), block_bytes_));
  if (found) storage_.write_block(block, staging_.get());
  return found;
}

void PrefixTierStore::flush() {
  if (disk_) disk_->flush();
}

}  // namespace kvs
