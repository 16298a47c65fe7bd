#include "engine/model/kv_storage.h"

#include <cstring>

#include <string>

#include "engine/errors.h"
#include "engine/parallel/shard_plan.h"

namespace kvs {

namespace {

// Bytes of a row of `values` values; throws when the dtype cannot hold it.
int64_t row_bytes_of(kernels::KvDType dtype, int64_t values) {
  const int64_t bytes = kernels::kv_row_bytes(dtype, values);
  if (bytes < 0) {
    throw InvalidArgument(std::string("KV cache dtype ") + kernels::kv_dtype_name(dtype) + " needs rows of a multiple of " +
                          std::to_string(kernels::kv_block_values(dtype)) + " values (got " + std::to_string(values) + ")");
  }
  return bytes;
}

}  // namespace

KvStorage::KvStorage(const ModelConfig& config, int64_t num_blocks, int64_t block_size, kernels::KvDType dtype,
                     int num_shards, std::unique_ptr<KvMemory> memory, const KvLayout* layout)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      num_kv_heads_(num_shards <= 1 ? config.num_kv_heads : kv_heads_per_rank(config, num_shards)),
      head_dim_(config.head_dim),
      num_layers_(config.num_layers),
      num_shards_(num_shards),
      dtype_(dtype),
      layout_(layout != nullptr ? *layout : single_group_layout(config)),
      memory_(memory != nullptr ? std::move(memory) : make_host_kv_memory()) {
  if (num_shards != 1) check_tensor_parallel(config, num_shards);
  if (layout_.num_layers() != config.num_layers || layout_.layers_per_group <= 0) {
    throw InvalidArgument("KV storage: the KV layout does not match the model's layers");
  }
  if (num_blocks <= 0 || block_size <= 0) {
    throw InvalidArgument("KV cache needs at least one block of at least one token (got " +
                          std::to_string(num_blocks) + " blocks of " + std::to_string(block_size) + ")");
  }
  const size_t bytes = static_cast<size_t>(num_blocks * block_size * row_bytes_of(dtype, num_kv_heads_ * head_dim_));
  for (int shard = 0; shard < num_shards; ++shard) {
    for (int64_t slot = 0; slot < layout_.layers_per_group; ++slot) {
      keys_.push_back(memory_->allocate(bytes));
      values_.push_back(memory_->allocate(bytes));
    }
  }
}

int64_t KvStorage::bytes_per_block(const ModelConfig& config, int64_t block_size, kernels::KvDType dtype,
                                   int num_shards, int64_t layers_per_block) {
  const int64_t heads = num_shards <= 1 ? config.num_kv_heads : num_shards * kv_heads_per_rank(config, num_shards);
  const int64_t layers = layers_per_block > 0 ? layers_per_block : config.num_layers;
  // NOTE: per shard, as the rows are stored (a quantized row is blocks of one shard's heads).
  const int64_t shards = num_shards <= 1 ? 1 : num_shards;
  return 2 * layers * block_size * shards * row_bytes_of(dtype, heads / shards * config.head_dim);
}

int64_t KvStorage::blocks_for_memory(const ModelConfig& config, int64_t block_size, kernels::KvDType dtype,
                                     int64_t memory_bytes, int num_shards, int64_t layers_per_block) {
  const int64_t per_block = bytes_per_block(config, block_size, dtype, num_shards, layers_per_block);
  return per_block > 0 ? memory_bytes / per_block : 0;
}

kernels::PagedKvLayer KvStorage::layer(int64_t index, int shard) {
  if (index < 0 || index >= num_layers_ || shard < 0 || shard >= num_shards_) {
    throw InvalidArgument("KV storage: layer or shard outside the cache");
  }
  const size_t at = static_cast<size_t>(shard * layout_.layers_per_group + layout_.layer_slot[static_cast<size_t>(index)]);
  kernels::PagedKvLayer view;
  view.k = keys_[at];
  view.v = values_[at];
  view.dtype = dtype_;
  view.num_blocks = num_blocks_;
  view.block_size = block_size_;
  view.num_kv_heads = num_kv_heads_;
  view.head_dim = head_dim_;
  return view;
}

void KvStorage::copy_slots(const std::vector<std::pair<int64_t, int64_t>>& copies) {
  const int64_t num_slots = num_blocks_ * block_size_;
  const size_t row = static_cast<size_t>(row_bytes());
  for (const auto& [from, to] : copies) {
    if (from < 0 || from >= num_slots || to < 0 || to >= num_slots) throw InvalidArgument("KV storage: slot outside the cache");
  }
  if (copies.empty()) return;
  std::vector<void*> tensors(keys_);
  tensors.insert(tensors.end(), values_.begin(), values_.end());
  memory_->copy_slots(tensors, row, copies);
}

int64_t KvStorage::row_bytes() const { return row_bytes_of(dtype_, num_kv_heads_ * head_dim_); }

int64_t KvStorage::bytes_per_token() const { return 2 * num_layers_ * num_shards_ * row_bytes(); }

int64_t KvStorage::block_copy_bytes() const {
  return static_cast<int64_t>(keys_.size() + values_.size()) * block_size_ * row_bytes();
}

void KvStorage::read_block(int64_t block, uint8_t* dst) const {
  if (block < 0 || block >= num_blocks_) throw InvalidArgument("KV storage: block outside the cache");
  const size_t bytes = static_cast<size_t>(block_size_ * row_bytes());
  const size_t offset = static_cast<size_t>(block) * bytes;
  for (size_t i = 0; i < keys_.size(); ++i) {
    memory_->read(keys_[i], offset, bytes, dst);
    memory_->read(values_[i], offset, bytes, dst + bytes);
    dst += 2 * bytes;
  }
}

void KvStorage::write_block(int64_t block, const uint8_t* src) {
  if (block < 0 || block >= num_blocks_) throw InvalidArgument("KV storage: block outside the cache");
  const size_t bytes = static_cast<size_t>(block_size_ * row_bytes());
  const size_t offset = static_cast<size_t>(block) * bytes;
  for (size_t i = 0; i < keys_.size(); ++i) {
    memory_->write(keys_[i], offset, bytes, src);
    memory_->write(values_[i], offset, bytes, src + bytes);
    src += 2 * bytes;
  }
}

}  // namespace kvs
