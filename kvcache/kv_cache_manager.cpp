#include "kvcache/kv_cache_manager.h"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "engine/errors.h"
#include "kvcache/block_hash.h"

namespace kvs {

KvCacheManager::KvCacheManager(const KvCacheManagerConfig& config)
    : config_(config),
      windows_(config.group_windows.empty() ? std::vector<int64_t>{0} : config.group_windows),
      pool_(config.num_blocks) {
  if (config.block_size <= 0) throw InvalidArgument("block_size must be positive");
  if (config.num_blocks <= 0) throw InvalidArgument("the KV cache needs at least one block");
  for (int64_t window : windows_) {
    if (window < 0) throw InvalidArgument("a KV-cache group's window must be >= 0 tokens");
  }
}

uint32_t KvCacheManager::block_tag(int64_t block_index, int64_t num_prompt_tokens) const {
  if (!config_.tag_prompt_boundary) return 0;
  const int64_t in_block = num_prompt_tokens - block_index * block_size();
  return static_cast<uint32_t>(std::clamp<int64_t>(in_block, 0, block_size()));
}

int64_t KvCacheManager::max_blocks_held(int64_t num_tokens, int64_t max_chunk) const {
  const int64_t all = blocks_for_tokens(num_tokens);
  int64_t total = 0;
  for (int64_t window : windows_) {
    // A window group holds table entries from floor((c - w + 1) / bs) to
    // ceil((c + n) / bs) - 1 for a step computing [c, c + n).
    total += window == 0 ? all : std::min(all, blocks_for_tokens(window - 1 + max_chunk) + 1);
  }
  return total;
}

int64_t KvCacheManager::max_tokens_held(int64_t max_chunk) const {
  int64_t lo = 0, hi = num_blocks() * block_size();  // the full group alone bounds it (one group: exact)
  while (lo < hi) {  // max_blocks_held grows with the tokens
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (max_blocks_held(mid, max_chunk) <= num_blocks()) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

PrefixHit KvCacheManager::find_prefix(const std::vector<int32_t>& tokens, int64_t num_prompt_tokens,
                                      int64_t max_tokens) const {
  PrefixHit hit;
  hit.other_group_blocks.resize(windows_.size() - 1);
  if (!config_.enable_prefix_caching) return hit;
  const int64_t num_full = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size())) / block_size();
  uint64_t parent_hash = kRootBlockHash;
  std::vector<uint64_t> parent_content(windows_.size(), 0);
  std::vector<int32_t> found(windows_.size());
  for (int64_t i = 0; i < num_full; ++i) {
    const int32_t* block_tokens = tokens.data() + i * block_size();
    const uint64_t hash = hash_block(parent_hash, block_tokens, block_size(), block_tag(i, num_prompt_tokens));
    bool all = true;
    for (size_t g = 0; g < windows_.size() && all; ++g) {
      const std::optional<int32_t> block =
          pool_.find_cached(hash, parent_content[g], block_tokens, block_size(), static_cast<int32_t>(g));
      all = block.has_value();
      if (all) found[g] = *block;
    }
    if (!all) break;
    for (size_t g = 0; g < windows_.size(); ++g) {
      (g == 0 ? hit.blocks : hit.other_group_blocks[g - 1]).push_back(found[g]);
      if (pool_.ref_count(found[g]) == 0) ++hit.num_free_blocks_taken;
      parent_content[g] = pool_.content_id(found[g]);
    }
    hit.hashes.push_back(hash);
    parent_hash = hash;
  }
  hit.num_tokens = static_cast<int64_t>(hit.blocks.size()) * block_size();
  return hit;
}

void KvCacheManager::set_prefix_listener(PrefixCacheListener* listener) {
  listener_ = listener;
  if (listener == nullptr) {
    pool_.set_eviction_listener(nullptr);
    return;
  }
  pool_.set_eviction_listener(
      [listener](int32_t block, const TierEntryInfo& entry) { listener->on_block_evicted(block, entry); });
}

int64_t KvCacheManager::load_prefix_from_tiers(const std::vector<int32_t>& tokens, int64_t num_prompt_tokens,
                                               int64_t max_tokens) {
  if (!config_.enable_prefix_caching || listener_ == nullptr) return 0;
  const int64_t num_full = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size())) / block_size();
  const size_t num_groups = windows_.size();
  uint64_t parent_hash = kRootBlockHash;
  std::vector<uint64_t> parent_content(num_groups, 0);
  std::vector<int32_t> held;  // blocks this call holds a reference to, in chain order
  int64_t loaded = 0;
  for (int64_t i = 0; i < num_full; ++i) {
    const int32_t* block_tokens = tokens.data() + i * block_size();
    const uint64_t hash = hash_block(parent_hash, block_tokens, block_size(), block_tag(i, num_prompt_tokens));
    bool all_cached = true, any_loaded = false;
    for (size_t g = 0; g < num_groups && all_cached; ++g) {
      const auto group = static_cast<int32_t>(g);
      std::optional<int32_t> block = pool_.find_cached(hash, parent_content[g], block_tokens, block_size(), group);
      if (block) {
        pool_.add_ref(*block);
        held.push_back(*block);
      } else if (pool_.num_free_blocks() >= static_cast<int64_t>(num_groups) + 1) {
        const int32_t fresh = pool_.allocate();
        held.push_back(fresh);  // on a failed load: released below uncached, so reused first
        TierEntryInfo entry{TierKey{hash, group}, parent_hash,
                            std::vector<int32_t>(block_tokens, block_tokens + block_size())};
        if (listener_->load_block(fresh, entry)) {
          pool_.register_cached(fresh, hash, parent_content[g], std::move(entry.tokens), group, parent_hash);
          block = fresh;
          any_loaded = true;
        }
      }
      all_cached = block.has_value();
      if (all_cached) parent_content[g] = pool_.content_id(*block);
    }
    if (!all_cached) break;  // the chain continues only when every group's block is cached
    if (any_loaded) loaded += block_size();
    parent_hash = hash;
  }
  // Last first, so the chain's head is the last of it to be evicted (as free() does).
  for (auto it = held.rbegin(); it != held.rend(); ++it) pool_.release(*it);
  num_tier_loaded_tokens_ += loaded;
  return loaded;
}

int64_t KvCacheManager::num_new_blocks_needed(uint64_t sequence, int64_t num_tokens, const PrefixHit* hit) const {
  const auto it = sequences_.find(sequence);
  const int64_t have = it != sequences_.end() ? static_cast<int64_t>(it->second.groups[0].blocks.size())
                                              : (hit ? static_cast<int64_t>(hit->blocks.size()) : 0);
  return num_groups() * std::max<int64_t>(0, blocks_for_tokens(num_tokens) - have);
}

void KvCacheManager::start(uint64_t sequence, const PrefixHit& hit, int64_t num_query_tokens) {
  if (contains(sequence)) throw Error("KV cache: sequence " + std::to_string(sequence) + " already started");
  SequenceBlocks& seq = sequences_[sequence];
  seq.groups.resize(windows_.size());
  for (size_t g = 0; g < windows_.size(); ++g) {
    const std::vector<int32_t>& blocks = g == 0 ? hit.blocks : hit.other_group_blocks.at(g - 1);
    for (int32_t block : blocks) {
      pool_.add_ref(block);
      seq.groups[g].blocks.push_back(block);
      seq.groups[g].content_ids.push_back(pool_.content_id(block));
    }
  }
  seq.hashes = hit.hashes;  // the chain continues from the cached blocks' hashes
  num_prefix_query_tokens_ += num_query_tokens;
  num_prefix_hit_tokens_ += hit.num_tokens;
}

void KvCacheManager::allocate_slots(uint64_t sequence, int64_t num_tokens) {
  SequenceBlocks& seq = sequences_.at(sequence);
  const int64_t needed = num_new_blocks_needed(sequence, num_tokens);
  if (needed > num_free_blocks()) {
    throw Error("KV cache: " + std::to_string(needed) + " blocks needed, " + std::to_string(num_free_blocks()) +
                " free");
  }
  const auto target = static_cast<size_t>(blocks_for_tokens(num_tokens));
  for (GroupBlocks& group : seq.groups) {
    while (group.blocks.size() < target) group.blocks.push_back(pool_.allocate());
  }
}

int64_t KvCacheManager::release_out_of_window(uint64_t sequence, int64_t num_computed_tokens) {
  SequenceBlocks& seq = sequences_.at(sequence);
  int64_t released = 0;
  for (size_t g = 0; g < windows_.size(); ++g) {
    if (windows_[g] == 0) continue;
    GroupBlocks& group = seq.groups[g];
    const int64_t first_needed = num_computed_tokens - windows_[g] + 1;  // earliest position a query reads
    const int64_t end = std::min<int64_t>(std::max<int64_t>(first_needed, 0) / block_size(),
                                          static_cast<int64_t>(group.blocks.size()));
    for (; group.num_released < end; ++group.num_released) {
      int32_t& block = group.blocks[static_cast<size_t>(group.num_released)];
      if (block < 0) continue;
      pool_.release(block);
      block = -1;
      ++released;
    }
  }
  num_window_released_blocks_ += released;
  return released;
}

void KvCacheManager::cache_full_blocks(uint64_t sequence, const std::vector<int32_t>& tokens,
                                       int64_t num_prompt_tokens, int64_t num_computed_tokens) {
  if (!config_.enable_prefix_caching) return;
  SequenceBlocks& seq = sequences_.at(sequence);
  if (seq.compressed) return;
  const int64_t num_full =
      std::min<int64_t>(num_computed_tokens / block_size(), static_cast<int64_t>(seq.groups[0].blocks.size()));
  for (int64_t i = static_cast<int64_t>(seq.hashes.size()); i < num_full; ++i) {
    const uint64_t parent_hash = i == 0 ? kRootBlockHash : seq.hashes[static_cast<size_t>(i - 1)];
    const int32_t* block_tokens = tokens.data() + i * block_size();
    const uint64_t hash = hash_block(parent_hash, block_tokens, block_size(), block_tag(i, num_prompt_tokens));
    // NOTE: a window releases only blocks cached before (they were full and
    // computed a step earlier); a block already gone ends the chain here.
    for (const GroupBlocks& group : seq.groups) {
      if (group.blocks[static_cast<size_t>(i)] < 0) return;
    }
    for (size_t g = 0; g < seq.groups.size(); ++g) {
      GroupBlocks& group = seq.groups[g];
      const auto group_id = static_cast<int32_t>(g);
      const uint64_t parent_content = i == 0 ? 0 : group.content_ids[static_cast<size_t>(i - 1)];
      const int32_t block = group.blocks[static_cast<size_t>(i)];
      uint64_t content = 0;
      if (pool_.is_cached(block)) {
        content = pool_.content_id(block);  // a shared block from a prefix hit
      } else if (const std::optional<int32_t> same =
                     pool_.find_cached(hash, parent_content, block_tokens, block_size(), group_id)) {
        content = pool_.content_id(*same);  // computed twice; keep the first copy as the cached one
      } else {
        content = pool_.register_cached(block, hash, parent_content,
                                        std::vector<int32_t>(block_tokens, block_tokens + block_size()), group_id,
                                        parent_hash);
        if (listener_ != nullptr) listener_->on_block_cached(block, pool_.cached_entry(block));
      }
      group.content_ids.push_back(content);
    }
    seq.hashes.push_back(hash);
  }
}

int64_t KvCacheManager::trim_slots(uint64_t sequence, int64_t num_tokens) {
  SequenceBlocks& seq = sequences_.at(sequence);
  const auto keep = static_cast<size_t>(blocks_for_tokens(num_tokens));
  if (keep < seq.hashes.size()) throw Error("KV cache: trim_slots would release a block of the prefix cache");
  int64_t released = 0;
  for (GroupBlocks& group : seq.groups) {
    while (group.blocks.size() > keep) {
      if (group.blocks.back() >= 0) {
        pool_.release(group.blocks.back());
        ++released;
      }
      group.blocks.pop_back();
    }
  }
  return released;
}

void KvCacheManager::free(uint64_t sequence) {
  const auto it = sequences_.find(sequence);
  if (it == sequences_.end()) return;
  for (const GroupBlocks& group : it->second.groups) {
    for (auto block = group.blocks.rbegin(); block != group.blocks.rend(); ++block) {
      if (*block >= 0) pool_.release(*block);
    }
  }
  sequences_.erase(it);
}

const std::vector<int32_t>& KvCacheManager::block_table(uint64_t sequence, int64_t group) const {
  return sequences_.at(sequence).groups.at(static_cast<size_t>(group)).blocks;
}

int64_t KvCacheManager::num_used_blocks_of_kind(bool window) const {
  // Every block with an owner is in some table; count the (few) live window
  // entries and take full-attention blocks as the rest.
  if (!window) return num_used_blocks() - num_used_blocks_of_kind(true);
  std::unordered_set<int32_t> used;
  for (const auto& [id, seq] : sequences_) {
    for (size_t g = 0; g < seq.groups.size(); ++g) {
      if (windows_[g] == 0) continue;
      const std::vector<int32_t>& blocks = seq.groups[g].blocks;
      for (size_t i = static_cast<size_t>(seq.groups[g].num_released); i < blocks.size(); ++i) {
        if (blocks[i] >= 0) used.insert(blocks[i]);
      }
    }
  }
  return static_cast<int64_t>(used.size());
}

KvCacheManager::SequenceBlocks& KvCacheManager::one_group_sequence(uint64_t sequence, const char* what) {
  if (num_groups() != 1) {
    throw Error(std::string("KV cache: ") + what + " needs one KV-cache group (sliding-window layers have their own)");
  }
  return sequences_.at(sequence);
}

std::optional<KvCacheManager::Compaction> KvCacheManager::compact(uint64_t sequence, const std::vector<int64_t>& keep,
                                                                  int64_t num_cached) {
  SequenceBlocks& sequence_blocks = one_group_sequence(sequence, "compaction");
  GroupBlocks& seq = sequence_blocks.groups[0];
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
  sequence_blocks.compressed = true;
  return result;
}

int64_t KvCacheManager::drop_blocks(uint64_t sequence, int64_t begin, int64_t end) {
  SequenceBlocks& sequence_blocks = one_group_sequence(sequence, "drop_blocks");
  GroupBlocks& seq = sequence_blocks.groups[0];
  int64_t released = 0;
  for (int64_t i = std::max<int64_t>(begin, 0); i < std::min<int64_t>(end, static_cast<int64_t>(seq.blocks.size())); ++i) {
    int32_t& block = seq.blocks[static_cast<size_t>(i)];
    if (block < 0) continue;
    pool_.release(block);
    block = -1;
    ++released;
  }
  if (released > 0) sequence_blocks.compressed = true;
  return released;
}

}  // namespace kvs
