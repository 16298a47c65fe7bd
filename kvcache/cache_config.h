#pragma once
// How big the paged KV cache is: a memory budget turned into a block count.
#include <cstdint>

#include "engine/loader/model_config.h"
#include "kernels/cpu/paged_attention.h"

namespace kvs {

// Exactly one of memory_bytes / memory_fraction sizes the pool:
// memory_bytes > 0 wins; otherwise memory_fraction (0, 1] of
// device_memory_bytes (on the CPU backend a configured budget, e.g. what the
// operator grants the server; there is no device to query).
struct CacheConfig {
  int64_t block_size = 16;            // tokens per block
  int64_t memory_bytes = 0;           // --kv-cache-memory
  double memory_fraction = 0.0;       // of device_memory_bytes
  int64_t device_memory_bytes = 0;
  kernels::KvDType dtype = kernels::KvDType::F16;
  bool enable_prefix_caching = true;
  // Sliding-window models: window layers get their own block tables and
  // release blocks that slid out of their window (engine/model/kv_layout.h),
  // where the engine supports it. false: one table for all layers.
  bool free_window_blocks = true;

  // Throws InvalidArgument naming the bad field.
  void validate() const;
};

// The budget in bytes this config grants.
int64_t cache_memory_bytes(const CacheConfig& config);
// Blocks the budget holds for `model` (K and V, all layers; with
// tensor parallelism the budget covers all num_shards ranks' shards), a
// block holding layers_per_block layers (0: all; see KvLayout). Throws
// InvalidArgument when that is not even one block.
int64_t cache_num_blocks(const CacheConfig& config, const ModelConfig& model, int num_shards = 1,
                         int64_t layers_per_block = 0);

}  // namespace kvs
