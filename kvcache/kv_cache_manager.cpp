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
  if (seq.compressed) return;
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
  for (auto block = it->second.blocks.rbegin(); block != it->second.blocks.rend(); ++block) {
    if (*block >= 0) pool_.release(*block);
  }
  sequences_.erase(it);
}

const std::vector<int32_t>& KvCacheManager::block_table(uint64_t sequence) const {
  return sequences_.at(sequence).blocks;
}

std::optional<KvCacheManager::Compaction> KvCacheManager::compact(uint64_t sequence, const std::vector<int64_t>& keep,
                                                                  int64_t num_cached) {
  SequenceBlocks& seq = sequences_.at(sequence);
  const int64_t bs = block_size();
  const int64_t num_kept = static_cast<int64_t>(keep.size());
  Compaction result;
  result.num_kept = num_kept;
  result.new_index.assign(static_cast<size_t>(num_cached), -1);
  // Holes below the new end, and kept entries at or past it, pair up in order.
  std::vector<int64_t> holes, movers;
  size_t k = 0;
  for (int64_t i = 0; i < num_cached; ++i) {
    const bool kept = k < keep.size() && keep[k] == i;
    if (kept) ++k;
    if (i < num_kept && !kept) holes.push_back(i);
    if (i >= num_kept && kept) movers.push_back(i);
    if (kept && i < num_kept) result.new_index[static_cast<size_t>(i)] = i;
  }
  if (k != keep.size() || holes.size() != movers.size()) throw Error("KV compaction: keep must be ascending entries below num_cached");
  // Destination blocks that must not be written in place: shared ones
  // (required) and cached ones (so the prefix cache keeps them for later
  // requests; the old block goes back to the free queue, still cached).
  std::vector<int64_t> shared, cached;
  for (int64_t hole : holes) {
    const int64_t index = hole / bs;
    const int32_t block = seq.blocks[static_cast<size_t>(index)];
    std::vector<int64_t>& list = pool_.ref_count(block) > 1 ? shared : cached;
    if ((pool_.ref_count(block) > 1 || pool_.is_cached(block)) && (list.empty() || list.back() != index)) list.push_back(index);
  }
  const int64_t free_blocks = num_free_blocks();
  if (static_cast<int64_t>(shared.size()) > free_blocks) return std::nullopt;
  std::vector<int64_t> copy_on_write = shared;
  if (static_cast<int64_t>(shared.size() + cached.size()) <= free_blocks) {
    copy_on_write.insert(copy_on_write.end(), cached.begin(), cached.end());
  }
  for (int64_t index : copy_on_write) {
    int32_t& block = seq.blocks[static_cast<size_t>(index)];
    const int32_t fresh = pool_.allocate();
    for (int64_t o = 0; o < bs; ++o) result.copies.push_back({block * bs + o, fresh * bs + o});
    pool_.release(block);
    block = fresh;
  }
  const auto slot = [&](int64_t i) { return seq.blocks[static_cast<size_t>(i / bs)] * bs + i % bs; };
  for (size_t i = 0; i < holes.size(); ++i) {
    pool_.uncache(seq.blocks[static_cast<size_t>(holes[i] / bs)]);
    result.copies.push_back({slot(movers[i]), slot(holes[i])});
    result.new_index[static_cast<size_t>(movers[i])] = holes[i];
  }
  // Release the blocks past the new end, last first.
  const int64_t keep_blocks = blocks_for_tokens(num_kept);
  while (static_cast<int64_t>(seq.blocks.size()) > keep_blocks) {
    if (seq.blocks.back() >= 0) pool_.release(seq.blocks.back());
    seq.blocks.pop_back();
  }
  seq.compressed = true;
  return result;
}

int64_t KvCacheManager::drop_blocks(uint64_t sequence, int64_t begin, int64_t end) {
  SequenceBlocks& seq = sequences_.at(sequence);
  int64_t released = 0;
  for (int64_t i = std::max<int64_t>(begin, 0); i < std::min<int64_t>(end, static_cast<int64_t>(seq.blocks.size())); ++i) {
    int32_t& block = seq.blocks[static_cast<size_t>(i)];
    if (block < 0) continue;
    pool_.release(block);
    block = -1;
    ++released;
  }
  if (released > 0) seq.compressed = true;
  return released;
}

}  // namespace kvs
