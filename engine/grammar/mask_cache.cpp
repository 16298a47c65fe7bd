// MaskCache (mask_cache.h).
#include "engine/grammar/mask_cache.h"

#include "engine/grammar/byte_walk.h"
#include "engine/grammar/mask_walk.h"
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
  WalkState start;
  start.stacks.add(suffix);
  walk_tokens(grammar_, vocabulary_, start, /*local=*/!whole, /*all=*/true, StackView(), [&](int32_t id, TokenOutcome o) {
    if (o == TokenOutcome::kAccepted) {
      e->accepted[id >> 6] |= uint64_t{1} << (id & 63);
    } else if (o == TokenOutcome::kUncertain) {
      e->uncertain.push_back(vocabulary_.rank[id]);
    }
  });
  return e;
}

}  // namespace kvs::grammar
