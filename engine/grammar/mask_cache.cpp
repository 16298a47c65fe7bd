// MaskCache (mask_cache.h).
#include "engine/grammar/mask_cache.h"

#include <string>
#include <vector>

#include "engine/grammar/byte_walk.h"
#include "engine/grammar/walk_memo.h"
#include "engine/grammar/parse_stacks.h"

namespace kvs::grammar {
namespace {
constexpr uint32_t kWholeStack = 0xFFFFFFFFu;
}

size_t MaskCache::KeyHash::operator()(const std::vector<uint32_t>& k) const { return StackSet::hash_of(k); }

std::shared_ptr<const MaskEntry> MaskCache::entry(StackView stack) {
  const bool whole = stack.size() <= kKeyDepth;
  const auto suffix = whole ? stack : stack.last(kKeyDepth);
  thread_local std::vector<uint32_t> key;
  key.assign(suffix.begin(), suffix.end());
  if (whole) key.push_back(kWholeStack);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
  }
  std::shared_ptr<const MaskEntry> built = build(suffix, whole);
  const size_t bytes = built->accepted.size() * sizeof(uint64_t) + built->uncertain.size() * sizeof(uint32_t) +
                       key.size() * sizeof(uint32_t) + 128;
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes_ + bytes > kMaxCacheBytes) {
    auto it = entries_.find(key);
    return it != entries_.end() ? it->second : built;
  }
  auto [it, inserted] = entries_.try_emplace(key, std::move(built));
  if (inserted) bytes_ += bytes;
  return it->second;
}

size_t MaskCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

std::shared_ptr<const MaskEntry> MaskCache::build(StackView suffix, bool whole) const {
  auto e = std::make_shared<MaskEntry>();
  e->accepted.assign(vocabulary_.mask_words(), 0);
  // The sorted vocabulary walked like a trie (mask_walk.h), each byte a
  // memoized transition between interned states.
  WalkMemo memo(grammar_, /*local=*/!whole);
  WalkState start;
  start.stacks.add(suffix);
  thread_local std::vector<uint32_t> levels;  // levels[d]: state after d bytes of the current token
  levels.assign(1, memo.intern(start));
  size_t valid = 0;  // levels[0..valid] hold prefixes of the previous token; levels[valid] may be dead
  for (size_t idx = 0; idx < vocabulary_.sorted.size(); ++idx) {
    const int32_t id = vocabulary_.sorted[idx];
    const std::string& tok = vocabulary_.bytes[id];
    if (valid > vocabulary_.shared[idx]) valid = vocabulary_.shared[idx];
    uint32_t state = levels[valid];
    for (size_t d = valid; d < tok.size() && state < WalkMemo::kDeadExhausted; ++d) {
      state = memo.step(state, static_cast<uint8_t>(tok[d]));
      if (levels.size() < d + 2) levels.resize(d + 2);
      levels[d + 1] = state;
      valid = d + 1;
    }
    if (state == WalkMemo::kDeadExhausted) {
      e->uncertain.push_back(static_cast<uint32_t>(idx));
    } else if (state != WalkMemo::kDead) {
      e->accepted[id >> 6] |= uint64_t{1} << (id & 63);
    }
  }
  return e;
}

}  // namespace kvs::grammar
