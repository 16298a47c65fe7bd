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

// The code points of each UTF-8 length.
constexpr uint32_t kBandLo[5] = {0, 0, 0x80, 0x800, 0x10000};
constexpr uint32_t kBandHi[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};

// The smallest code point in [lo, hi] the class matches, or kNoCodePoint.
constexpr uint32_t kNoCodePoint = 0xFFFFFFFF;
uint32_t first_match(const CharClass& chars, uint32_t lo, uint32_t hi) {
  // First range that ends at or after lo (ranges are sorted, disjoint, non-adjacent).
  const auto it = std::lower_bound(chars.ranges.begin(), chars.ranges.end(), lo,
                                   [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
  uint32_t cp;
  if (!chars.negated) {
    if (it == chars.ranges.end()) return kNoCodePoint;
    cp = std::max(it->first, lo);
  } else {
    cp = (it != chars.ranges.end() && it->first <= lo) ? it->second + 1 : lo;
  }
  return cp <= hi ? cp : kNoCodePoint;
}

uint8_t lead_byte(uint32_t cp) {
  if (cp < 0x80) return static_cast<uint8_t>(cp);
  if (cp < 0x800) return static_cast<uint8_t>(0xC0 | (cp >> 6));
  if (cp < 0x10000) return static_cast<uint8_t>(0xE0 | (cp >> 12));
  return static_cast<uint8_t>(0xF0 | (cp >> 18));
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

int CompletionDistance::next_shortest_byte(const Grammar& g, const WalkState& state) const {
  if (state.remaining != 0) return -1;
  const uint64_t best = of(state);
  if (best == 0 || best == kUnknown) return -1;
  int lowest = -1;
  for (size_t i = 0; i < state.stacks.size(); ++i) {
    const StackView s = state.stacks.stack(i);
    if (s.empty()) continue;
    uint64_t total = 0;
    for (size_t k = 0; k < s.size(); ++k) total += suffix_[s[k]];
    if (total != best) continue;
    const CharClass& chars = g.char_classes[g.elements[s.back()].value];
    const uint64_t length = shortest_char_bytes(chars);
    const uint32_t cp = first_match(chars, kBandLo[length], kBandHi[length]);
    if (cp == kNoCodePoint) continue;
    const int lead = lead_byte(cp);
    if (lowest < 0 || lead < lowest) lowest = lead;
  }
  return lowest;
}

}  // namespace kvs::grammar
