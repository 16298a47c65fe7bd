#pragma once
// Internal to kvs_grammar: how many bytes, at the fewest, complete a sentence
// from a parse state. GrammarMatcher::min_completion_bytes and the engine's
// budget steering (a constrained answer that still fits max_tokens) use it.
#include <cstdint>
#include <vector>

#include "engine/grammar/byte_walk.h"
#include "engine/grammar/grammar_ir.h"

namespace kvs::grammar {

// Immutable after construction; thread-safe to read. Costs O(E log R) to build
// (E elements, R rules): Knuth's generalisation of Dijkstra's algorithm to
// grammars, since a rule's shortest sentence is a sum over its symbols.
class CompletionDistance {
 public:
  explicit CompletionDistance(const Grammar& grammar);
  // Fewest bytes from `position` to the end of its alternative (UTF-8 bytes
  // of the shortest code point of each class, shortest sentences of rules).
  uint64_t suffix(uint32_t position) const { return suffix_[position]; }
  // Fewest bytes that complete a sentence from `state`: the minimum over its
  // stacks of the sum of each entry's suffix (inside a character: the bytes it
  // still needs, then the rest after its class). 0 when some stack is empty.
  uint64_t of(const WalkState& state) const;
  // The lowest byte that starts a shortest completion from `state` (a
  // character state: remaining == 0), read off the stacks at the minimum: the
  // lead byte of the smallest code point of shortest length their top class
  // matches. -1 inside a character or when the sentence can end (distance 0).
  int next_shortest_byte(const Grammar& grammar, const WalkState& state) const;

 private:
  std::vector<uint64_t> suffix_;  // by position in Grammar::elements
};

}  // namespace kvs::grammar
