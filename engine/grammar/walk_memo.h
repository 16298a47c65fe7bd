#pragma once
// Internal to kvs_grammar: byte transitions between walk states (byte_walk.h),
// interned and memoized, for walks that revisit the same states many times
// (a whole-vocabulary walk inside a JSON string returns to the same stack set
// after nearly every character). Not thread-safe; one per walk.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/grammar/byte_walk.h"
#include "engine/grammar/grammar_ir.h"

namespace kvs::grammar {

class WalkMemo {
 public:
  static constexpr uint32_t kDead = 0xFFFFFFFFu;           // no stack left
  static constexpr uint32_t kDeadExhausted = 0xFFFFFFFEu;  // no stack left, WalkState::exhausted set

  WalkMemo(const Grammar& grammar, bool local) : grammar_(grammar), local_(local) {}
  // The id of `state` (equal states share one).
  uint32_t intern(const WalkState& state);
  // The state after `byte` from state `id` (an id, kDead or kDeadExhausted).
  uint32_t step(uint32_t id, uint8_t byte);
  size_t size() const { return states_.size(); }

 private:
  static uint64_t hash_of(const WalkState& s);
  static bool same(const WalkState& a, const WalkState& b);

  const Grammar& grammar_;
  bool local_;
  std::vector<WalkState> states_;
  std::unordered_multimap<uint64_t, uint32_t> index_;    // hash_of(state) -> id
  std::unordered_map<uint64_t, uint32_t> transitions_;   // id << 8 | byte -> next
  WalkState scratch_;
};

}  // namespace kvs::grammar
