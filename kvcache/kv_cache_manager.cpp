#include "kvcache/kv_cache_manager.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"
#include "kvcache/block_hash.h"

namespace kvs {

KvCacheManager::KvCacheManager(const KvCacheManagerConfig& config) : config_(config), pool_(config.num_blocks) {
  if (config.block_size <= 0) throw InvalidArgument("block_size must be positive");
  if (config.num_blocks <= 0) throw InvalidArgument("the KV cache needs at least one block");
}

uint32_t KvCacheManager::block_tag(int64_t block_index, int64_t num_prompt_tokens) const {
  if (!config_.tag_prompt_boundary) return 0;
  const int64_t in_block = num_prompt_tokens - block_index * block_size();
  return static_cast<uint32_t>(std::clamp<int64_t>(in_block, 0, block_size()));
}

PrefixHit KvCacheManager::find_prefix(const std::vector<int32_t>& tokens, int64_t num_prompt_tokens,
                                      int64_t max_tokens) const {
  PrefixHit hit;
  if (!config_.enable_prefix_caching) return hit;
  const int64_t num_full = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size())) / block_size();
  uint64_t parent_hash = kRootBlockHash, parent_content = 0;
  for (int64_t i = 0; i < num_full; ++i) {
    const int32_t* block_tokens = tokens.data() + i * block_size();
    const uint64_t hash = hash_block(parent_hash, block_tokens, block_size(), block_tag(i, num_prompt_tokens));
    const std::optional<int32_t> block = pool_.find_cached(hash, parent_content, block_tokens, block_size());
    if (!block) break;
    hit.blocks.push_back(*block);
    hit.hashes.push_back(hash);
    if (pool_.ref_count(*block) == 0) ++hit.num_free_blocks_taken;
    parent_hash = hash;
    parent_content = pool_.content_id(*block);
  }
  hit.num_tokens = static_cast<int64_t>(hit.blocks.size()) * block_size();
  return hit;
}

int64_t KvCacheManager::num_new_blocks_needed(uint64_t sequence, int64_t num_tokens, const PrefixHit* hit) const {
  const auto it = sequences_.find(sequence);
  const int64_t have = it != sequences_.end() ? static_cast<int64_t>(it->second.blocks.size())
                                              : (hit ? static_cast<int64_t>(hit->blocks.size()) : 0);
  return std::max<int64_t>(0, blocks_for_tokens(num_tokens) - have);
}

void KvCacheManager::start(uint64_t sequence, const PrefixHit& hit, int64_t num_query_tokens) {
  if (contains(sequence)) throw Error("KV cache: sequence " + std::to_string(sequence) + " already started");
  SequenceBlocks& seq = sequences_[sequence];
  for (int32_t block : hit.blocks) {
    pool_.add_ref(block);
    seq.blocks.push_back(block);
    seq.content_ids.push_back(pool_.content_id(block));
  }
  seq.hashes = hit.hashes;  // the chain continues from the cached blocks' hashes
  num_prefix_query_tokens_ += num_query_tokens;
  num_prefix_hit_tokens_ += hit.num_tokens;
}

void KvCacheManager::allocate_slots(uint64_t sequence, int64_t num_tokens) {
  SequenceBlocks& seq = sequences_.at(sequence);
  const int64_t needed = blocks_for_tokens(num_tokens) - static_cast<int64_t>(seq.blocks.size());
  if (needed > num_free_blocks()) {
    throw Error("KV cache: " + std::to_string(needed) + " blocks needed, " + std::to_string(num_free_blocks()) +
                " free");
  }
  for (int64_t i = 0; i < needed; ++i) seq.blocks.push_back(pool_.allocate());
}

void KvCacheManager::cache_full_blocks(uint64_t sequence, const std::vector<int32_t>& tokens,
                                       int64_t num_prompt_tokens, int64_t num_computed_tokens) {
  if (!config_.enable_prefix_caching) return;
  SequenceBlocks& seq = sequences_.at(sequence);
  const int64_t num_full = std::min<int64_t>(num_computed_tokens / block_size(), static_cast<int64_t>(seq.blocks.size()));
  for (int64_t i = static_cast<int64_t>(seq.hashes.size()); i < num_full; ++i) {
    const uint64_t parent_hash = i == 0 ? kRootBlockHash : seq.hashes[static_cast<size_t>(i - 1)];
    const uint64_t parent_content = i == 0 ? 0 : seq.content_ids[static_cast<size_t>(i - 1)];
    const int32_t* block_tokens = tokens.data() + i * block_size();
    const uint64_t hash = hash_block(parent_hash, block_tokens, block_size(), block_tag(i, num_prompt_tokens));
    const int32_t block = seq.blocks[static_cast<size_t>(i)];
    uint64_t content = 0;
    if (pool_.is_cached(block)) {
      content = pool_.content_id(block);  // a shared block from a prefix hit
    } else if (const std::optional<int32_t> same = pool_.find_cached(hash, parent_content, block_tokens, block_size())) {
      content = pool_.content_id(*same);  // computed twice; keep the first copy as the cached one
    } else {
      content = pool_.register_cached(block, hash, parent_content,
                                      std::vector<int32_t>(block_tokens, block_tokens + block_size()));
    }
    seq.hashes.push_back(hash);
    seq.content_ids.push_back(content);
  }
}

void KvCacheManager::free(uint64_t sequence) {
  const auto it = sequences_.find(sequence);
  if (it == sequences_.end()) return;
  for (auto block = it->second.blocks.rbegin(); block != it->second.blocks.rend(); ++block) pool_.release(*block);
  sequences_.erase(it);
}

const std::vector<int32_t>& KvCacheManager::block_table(uint64_t sequence) const {
  return sequences_.at(sequence).blocks;
}

}  // namespace kvs
