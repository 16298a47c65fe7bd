#pragma once
// The memory behind the paged KV cache: for every layer, K and V arrays of
// [num_blocks, block_size, num_kv_heads, head_dim] elements (half by default,
// as llama.cpp; float on request; bf16 on the CUDA engine). The bytes live in
// a KvMemory: host memory, or device memory for the CUDA model (then layer()
// hands out device pointers). Which sequence owns
// which block is decided elsewhere (kvcache/ allocates block ids); the model
// only reads and writes through the block tables of a ForwardBatch.
// Tensor parallelism: with num_shards = N ranks, every block exists once per
// rank and holds that rank's KV heads (engine/parallel/shard_plan.h: N
// divides the KV heads, or each rank holds one replicated head); the block
// ids are the same for all ranks.
// KV-cache groups (engine/model/kv_layout.h): a block id belongs to one group
// at a time, so layers of different groups share arrays: layer i lives in
// array layer_slot(i), and there are layers_per_group arrays per shard (all
// layers when the layout is one group).
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engine/loader/model_config.h"
#include "engine/model/kv_layout.h"
#include "engine/model/kv_memory.h"
#include "kernels/cpu/paged_attention.h"

namespace kvs {

// Ownership: owns its buffers. Thread-safety: none; the engine thread that
// runs the model is the only writer.
class KvStorage {
 public:
  // `memory` null: host memory (make_host_kv_memory). `layout` null:
  // single_group_layout(config).
  KvStorage(const ModelConfig& config, int64_t num_blocks, int64_t block_size,
            kernels::KvDType dtype = kernels::KvDType::F16, int num_shards = 1,
            std::unique_ptr<KvMemory> memory = nullptr, const KvLayout* layout = nullptr);

  // Bytes one block takes over the layers it holds (K and V) and all
  // shards: layers_per_block layers (0: all of the model's layers).
  static int64_t bytes_per_block(const ModelConfig& config, int64_t block_size, kernels::KvDType dtype,
                                 int num_shards = 1, int64_t layers_per_block = 0);
  // How many blocks fit in `memory_bytes` (at least 0).
  static int64_t blocks_for_memory(const ModelConfig& config, int64_t block_size, kernels::KvDType dtype,
                                   int64_t memory_bytes, int num_shards = 1, int64_t layers_per_block = 0);

  // Layer `index` of shard `shard` (its num_kv_heads are the shard's heads).
  kernels::PagedKvLayer layer(int64_t index, int shard = 0);
  const KvLayout& layout() const { return layout_; }
  // The KV-cache group (block table) layer `index` reads and writes.
  int64_t layer_group(int64_t index) const { return layout_.layer_group.at(static_cast<size_t>(index)); }
  // Copies slot from -> to (slot = block * block_size + offset), in order,
  // in every array and shard (KV compaction; meant for one-group layouts).
  // Throws InvalidArgument for a slot outside the cache.
  void copy_slots(const std::vector<std::pair<int64_t, int64_t>>& copies);
  // One block's bytes in every array and shard: the K/V of the layers its
  // group holds (tiers of the prefix cache copy blocks out and back in).
  // Layout of the copy: for each shard, each layer slot: K rows, then V
  // rows (block_size rows of row_bytes each). Same value for every block.
  int64_t block_copy_bytes() const;
  // Copies block `block` into dst[0, block_copy_bytes()) / from src into it.
  // Throws InvalidArgument for a block outside the cache. Completes before
  // returning (device memory included).
  void read_block(int64_t block, uint8_t* dst) const;
  void write_block(int64_t block, const uint8_t* src);
  // Host memory suited to block copies (KvMemory::allocate_host: pinned on
  // the CUDA engine). Thread-safe as the KvMemory's is (the engine thread).
  uint8_t* allocate_host(size_t bytes) { return memory_->allocate_host(bytes); }
  void release_host(uint8_t* bytes) { memory_->release_host(bytes); }
  // Bytes of one cache row (one slot's K or V over a shard's KV heads).
  int64_t row_bytes() const;
  // Bytes of one token's K/V over all layers and shards.
  int64_t bytes_per_token() const;
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_layers() const { return num_layers_; }
  int num_shards() const { return num_shards_; }
  kernels::KvDType dtype() const { return dtype_; }
  bool on_device() const { return memory_->on_device(); }

 private:
  int64_t num_blocks_, block_size_, num_kv_heads_, head_dim_, num_layers_;
  int num_shards_;
  kernels::KvDType dtype_;
  KvLayout layout_;
  // [shard * layers_per_group + layer slot], allocated by memory_ (never zero-filled: a
  // slot is always written before it is read).
  std::unique_ptr<KvMemory> memory_;
  std::vector<void*> keys_, values_;
};

}  // namespace kvs
