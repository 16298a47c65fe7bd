#pragma once
// Internal to kvs_grammar: the checked form of a GBNF grammar (grammar.h), the
// flat element array that parse stacks (parse_stacks.h) point into.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kvs::grammar {

// A set of Unicode code points: sorted, disjoint, closed ranges, or their
// complement (negated), plus the ASCII answers as a bitmap (negation applied).
struct CharClass {
  bool negated = false;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // normalized: sorted, disjoint, non-adjacent
  uint64_t ascii[2] = {0, 0};                         // bit c set iff code point c (< 128) matches

  // Sorts and merges `ranges` and fills `ascii`; call once after filling ranges.
  void finish();
  bool matches(uint32_t cp) const {
    if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
    return contains(cp) != negated;
  }
  // Some code point in [lo, hi] matches.
  bool intersects(uint32_t lo, uint32_t hi) const;
  // Matches at least one code point (0 .. 0x10FFFF).
  bool nonempty() const { return intersects(0, 0x10FFFF); }

 private:
  bool contains(uint32_t cp) const;  // in `ranges`, ignoring negation
};

// One symbol of an alternative. Each rule's alternatives are laid out one after
// another in Grammar::elements, each closed by a kEnd element; a parse position
// is an index into that array.
struct Element {
  enum class Kind : uint8_t { kEnd, kChars, kRule };
  Kind kind = Kind::kEnd;
  uint32_t value = 0;  // kChars: index into Grammar::char_classes; kRule: rule id
};

// Immutable once parse_gbnf returns it; safe to share between threads.
// Invariants (checked by the parser): every referenced rule is defined, no rule
// is left-recursive, every rule derives some finite string.
class Grammar {
 public:
  std::vector<Element> elements;
  std::vector<std::vector<uint32_t>> rule_alternatives;  // rule id -> start index of each alternative
  std::vector<std::string> rule_names;                   // generated rules (groups, repetitions): parent(N)
  std::vector<CharClass> char_classes;
  uint32_t root = 0;

  const Element& at(uint32_t position) const { return elements[position]; }
};

}  // namespace kvs::grammar
