#include "kvcache/block_pool.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"

namespace kvs {

BlockPool::BlockPool(int64_t num_blocks) : blocks_(static_cast<size_t>(std::max<int64_t>(num_blocks, 0))) {
  for (int32_t id = 0; id < static_cast<int32_t>(blocks_.size()); ++id) {
    blocks_[static_cast<size_t>(id)].free_position = free_queue_.insert(free_queue_.end(), id);
    blocks_[static_cast<size_t>(id)].in_free_queue = true;
  }
}

int32_t BlockPool::allocate() {
  if (free_queue_.empty()) throw Error("KV block pool exhausted (" + std::to_string(num_blocks()) + " blocks)");
  const int32_t id = free_queue_.front();
  remove_from_free_queue(id);
  if (is_cached(id)) {
    if (eviction_listener_) eviction_listener_(id, cached_entry(id));
    drop_from_cache(id);
  }
  blocks_[static_cast<size_t>(id)].ref_count = 1;
  return id;
}

void BlockPool::add_ref(int32_t block) {
  Block& b = blocks_.at(static_cast<size_t>(block));
  if (b.ref_count == 0) remove_from_free_queue(block);
  ++b.ref_count;
}

void BlockPool::release(int32_t block) {
  Block& b = blocks_.at(static_cast<size_t>(block));
  if (b.ref_count <= 0) throw Error("KV block " + std::to_string(block) + " released without an owner");
  if (--b.ref_count > 0) return;
  b.free_position = free_queue_.insert(is_cached(block) ? free_queue_.end() : free_queue_.begin(), block);
  b.in_free_queue = true;
}

std::optional<int32_t> BlockPool::find_cached(uint64_t hash, uint64_t parent_content_id, const int32_t* tokens,
                                              int64_t num_tokens, int32_t group) const {
  const auto range = cache_.equal_range(hash);
  for (auto it = range.first; it != range.second; ++it) {
    const Block& b = blocks_[static_cast<size_t>(it->second)];
    if (b.group == group && b.parent_content_id == parent_content_id && static_cast<int64_t>(b.tokens.size()) == num_tokens &&
        std::equal(b.tokens.begin(), b.tokens.end(), tokens)) {
      return it->second;
    }
  }
  return std::nullopt;
}

uint64_t BlockPool::register_cached(int32_t block, uint64_t hash, uint64_t parent_content_id,
                                    std::vector<int32_t> tokens, int32_t group, uint64_t parent_hash) {
  Block& b = blocks_.at(static_cast<size_t>(block));
  if (b.content_id != 0) throw Error("KV block " + std::to_string(block) + " is already cached");
  b.hash = hash;
  b.parent_content_id = parent_content_id;
  b.parent_hash = parent_hash;
  b.group = group;
  b.tokens = std::move(tokens);
  b.content_id = next_content_id_++;
  cache_.emplace(hash, block);
  return b.content_id;
}

TierEntryInfo BlockPool::cached_entry(int32_t block) const {
  const Block& b = blocks_.at(static_cast<size_t>(block));
  if (b.content_id == 0) throw Error("KV block " + std::to_string(block) + " is not cached");
  TierEntryInfo entry;
  entry.key = TierKey{b.hash, b.group};
  entry.parent_hash = b.parent_hash;
  entry.tokens = b.tokens;
  return entry;
}

void BlockPool::drop_from_cache(int32_t block) {
  Block& b = blocks_[static_cast<size_t>(block)];
  const auto range = cache_.equal_range(b.hash);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == block) {
      cache_.erase(it);
      break;
    }
  }
  b.content_id = 0;
  b.parent_content_id = 0;
  b.parent_hash = 0;
  b.tokens.clear();
}

void BlockPool::remove_from_free_queue(int32_t block) {
  Block& b = blocks_[static_cast<size_t>(block)];
  free_queue_.erase(b.free_position);
  b.in_free_queue = false;
}

}  // namespace kvs
