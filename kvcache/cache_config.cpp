#include "kvcache/cache_config.h"

#include <cmath>
#include <string>

#include "engine/errors.h"
#include "engine/model/kv_storage.h"

namespace kvs {

void CacheConfig::validate() const {
  if (block_size <= 0 || block_size > 1024) throw InvalidArgument("block_size must be in [1, 1024]");
  if (memory_bytes < 0) throw InvalidArgument("kv_cache_memory must be >= 0 bytes");
  if (memory_bytes == 0) {
    if (!(memory_fraction > 0.0 && memory_fraction <= 1.0)) {
      throw InvalidArgument("set kv_cache_memory (bytes) or a kv_cache_memory_fraction in (0, 1]");
    }
    if (device_memory_bytes <= 0) throw InvalidArgument("kv_cache_memory_fraction needs a device memory budget");
  }
}

int64_t cache_memory_bytes(const CacheConfig& config) {
  config.validate();
  if (config.memory_bytes > 0) return config.memory_bytes;
  return static_cast<int64_t>(std::floor(config.memory_fraction * static_cast<double>(config.device_memory_bytes)));
}

int64_t cache_num_blocks(const CacheConfig& config, const ModelConfig& model, int num_shards,
                         int64_t layers_per_block) {
  const int64_t bytes = cache_memory_bytes(config);
  const int64_t num_blocks =
      KvStorage::blocks_for_memory(model, config.block_size, config.dtype, bytes, num_shards, layers_per_block);
  if (num_blocks < 1) {
    throw InvalidArgument("kv_cache_memory of " + std::to_string(bytes) + " bytes holds no block (one block takes " +
                          std::to_string(KvStorage::bytes_per_block(model, config.block_size, config.dtype, num_shards, layers_per_block)) +
                          " bytes)");
  }
  return num_blocks;
}

}  // namespace kvs
