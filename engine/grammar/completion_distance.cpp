#include "engine/grammar/completion_distance.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <utility>

namespace kvs::grammar {
namespace {

constexpr uint64_t kUnknown = std::numeric_limits<uint64_t>::max();

// UTF-8 length of the shortest code point the class matches.
uint64_t shortest_char_bytes(const CharClass& chars) {
  if (chars.intersects(0, 0x7F)) return 1;
  if (chars.intersects(0x80, 0x7FF)) return 2;
  if (chars.intersects(0x800, 0xFFFF)) return 3;
  return 4;
}

}  // namespace

CompletionDistance::CompletionDistance(const Grammar& g) : suffix_(g.elements.size(), 0) {
  const size_t num_rules = g.rule_alternatives.size();
  // Per alternative: its rule, the fixed bytes of its classes, and how many
  // rule references are still unresolved; per rule: where it is referenced.
  struct Alternative {
    uint32_t rule = 0;
    uint64_t bytes = 0;
    uint32_t unresolved = 0;
  };
  std::vector<Alternative> alternatives;
  std::vector<std::vector<uint32_t>> used_by(num_rules);  // rule -> alternatives, once per reference
  std::vector<uint64_t> rule_min(num_rules, kUnknown);
  using Entry = std::pair<uint64_t, uint32_t>;  // (bytes, rule)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue;
  for (uint32_t r = 0; r < num_rules; ++r) {
    for (uint32_t start : g.rule_alternatives[r]) {
      Alternative alt;
      alt.rule = r;
      for (uint32_t p = start; g.elements[p].kind != Element::Kind::kEnd; ++p) {
        const Element& e = g.elements[p];
        if (e.kind == Element::Kind::kChars) {
          alt.bytes += shortest_char_bytes(g.char_classes[e.value]);
        } else {
          ++alt.unresolved;
          used_by[e.value].push_back(static_cast<uint32_t>(alternatives.size()));
        }
      }
      if (alt.unresolved == 0) queue.emplace(alt.bytes, r);
      alternatives.push_back(alt);
    }
  }
  while (!queue.empty()) {
    const auto [bytes, rule] = queue.top();
    queue.pop();
    if (rule_min[rule] != kUnknown) continue;
    rule_min[rule] = bytes;
    for (uint32_t a : used_by[rule]) {
      Alternative& alt = alternatives[a];
      alt.bytes += bytes;
      if (--alt.unresolved == 0 && rule_min[alt.rule] == kUnknown) queue.emplace(alt.bytes, alt.rule);
    }
  }
  // Suffixes, each alternative from its end (every rule is productive, so
  // every rule_min is known; kUnknown would only come from an unchecked grammar).
  for (uint32_t r = 0; r < num_rules; ++r) {
    for (uint32_t start : g.rule_alternatives[r]) {
      uint32_t end = start;
      while (g.elements[end].kind != Element::Kind::kEnd) ++end;
      uint64_t total = 0;
      suffix_[end] = 0;
      for (uint32_t p = end; p-- > start;) {
        const Element& e = g.elements[p];
        const uint64_t own = e.kind == Element::Kind::kChars ? shortest_char_bytes(g.char_classes[e.value])
                                                              : rule_min[e.value];
        total = (own == kUnknown || total == kUnknown) ? kUnknown : total + own;
        suffix_[p] = total;
      }
    }
  }
}

uint64_t CompletionDistance::of(const WalkState& state) const {
  uint64_t best = kUnknown;
  for (size_t i = 0; i < state.stacks.size(); ++i) {
    const StackView s = state.stacks.stack(i);
    uint64_t total = state.remaining;
    for (size_t k = 0; k < s.size(); ++k) {
      // The top of a stack inside a character is that character's class: what
      // follows it in the alternative is still to come.
      const uint32_t position = (state.remaining != 0 && k + 1 == s.size()) ? s[k] + 1 : s[k];
      total += suffix_[position];
    }
    best = std::min(best, total);
  }
  return best;
}

}  // namespace kvs::grammar
