// WalkMemo (walk_memo.h).
#include "engine/grammar/walk_memo.h"

namespace kvs::grammar {

uint64_t WalkMemo::hash_of(const WalkState& s) {
  uint64_t h = s.stacks.hash();
  h ^= (uint64_t{s.partial} << 11) ^ (uint64_t{s.remaining} << 3) ^ (uint64_t{s.length} << 7) ^
       (s.exhausted ? 0x5bd1e995ull : 0);
  return h * 0x9E3779B97F4A7C15ull;
}

bool WalkMemo::same(const WalkState& a, const WalkState& b) {
  return a.partial == b.partial && a.remaining == b.remaining && a.length == b.length &&
         a.exhausted == b.exhausted && a.stacks == b.stacks;
}

uint32_t WalkMemo::intern(const WalkState& state) {
  const uint64_t h = hash_of(state);
  auto [lo, hi] = index_.equal_range(h);
  for (auto it = lo; it != hi; ++it) {
    if (same(states_[it->second], state)) return it->second;
  }
  const auto id = static_cast<uint32_t>(states_.size());
  states_.push_back(state);
  index_.emplace(h, id);
  return id;
}

uint32_t WalkMemo::step(uint32_t id, uint8_t byte) {
  const uint64_t key = (uint64_t{id} << 8) | byte;
  auto it = transitions_.find(key);
  if (it != transitions_.end()) return it->second;
  uint32_t next;
  if (step_byte(grammar_, states_[id], byte, local_, scratch_)) {
    next = intern(scratch_);
  } else {
    next = scratch_.exhausted ? kDeadExhausted : kDead;
  }
  transitions_.emplace(key, next);
  return next;
}

}  // namespace kvs::grammar
