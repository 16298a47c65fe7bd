#pragma once
// Constrained decoding: which tokens may come next under a grammar.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/grammar/token_vocabulary.h"

namespace kvs::grammar {

class MaskCache;           // internal: per-grammar-position token masks, filled lazily
class CompletionDistance;  // internal: shortest completions (completion_distance.h)

// A grammar bound to one vocabulary, plus the token-mask caches that every
// sequence using it shares (precomputed per grammar position, as xgrammar and
// llguidance do, so a decode step costs little). Thread-safe: several engine
// threads / requests may use one CompiledGrammar at once.
class CompiledGrammar {
 public:
  CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary);
  ~CompiledGrammar();
  const Grammar& grammar() const { return *grammar_; }
  const TokenVocabulary& vocabulary() const { return *vocabulary_; }
  MaskCache& cache() const { return *cache_; }
  const CompletionDistance& distance() const { return *distance_; }

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  std::unique_ptr<MaskCache> cache_;
  std::unique_ptr<const CompletionDistance> distance_;
};

// One sequence's position in the grammar (the set of parse stacks after the
// bytes accepted so far, plus an incomplete UTF-8 character if a token ended
// inside one). Copyable and movable (tests and speculative decoding copy it);
// a copy shares the immutable state until one of them advances.
// Not thread-safe; one per sequence.
// A grammar so ambiguous that one character would need more than
// kMaxStacks parse stacks or kMaxExpandWork rule expansions (parse_stacks.h)
// makes the constructor, accept_token / accept_bytes or fill_next_token_mask
// throw kvs::InvalidArgument ("grammar: ... too ambiguous"); the matcher is
// left as it was, and the request should fail (a 400).
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> compiled);
  // Bit i of `mask` (word i / 64, bit i % 64) is set iff token i can continue
  // the output (its bytes are a valid continuation). Resized to
  // (vocab_size + 63) / 64 words. Never-allowed ids (TokenVocabulary) are 0;
  // ending is not a token here: see can_terminate().
  void fill_next_token_mask(std::vector<uint64_t>& mask) const;
  // Advances by token `id`'s bytes. Returns false, state unchanged, if they
  // cannot continue the output (or the id is never allowed / out of range).
  bool accept_token(int32_t id);
  // Advances by raw bytes (tests, fuzzers); false and unchanged if invalid.
  bool accept_bytes(std::string_view bytes);
  // The output so far is a complete sentence of the grammar (an end-of-
  // generation token may come now).
  bool can_terminate() const;
  // can_terminate() and no byte can follow: only ending is possible.
  bool is_complete() const;
  // The fewest bytes that complete a sentence from here (0 iff can_terminate()).
  // The engine compares it with a request's remaining max_tokens so that a
  // constrained answer is steered to finish within them (scheduler/grammar_guide.h).
  uint64_t min_completion_bytes() const;
  // Bit i (as in fill_next_token_mask) is set iff token i is a single byte that
  // starts a shortest completion: after it min_completion_bytes() is one less.
  // All zero when can_terminate(), or when the vocabulary has no such token.
  void fill_shortest_completion_mask(std::vector<uint64_t>& mask) const;
  // The canonical shortest completion: at each byte the lowest one that keeps
  // it shortest. "" when can_terminate(); nullopt when it is longer than
  // max_bytes.
  std::optional<std::string> shortest_completion(size_t max_bytes) const;
  // The fewest tokens that spell shortest_completion(max_bytes) (0 when
  // can_terminate(); -1 when it is longer than max_bytes or cannot be
  // spelled), and with `mask` the tokens that start such a spelling (bits as
  // in fill_next_token_mask). After one of them, the same holds with one token
  // less: following them ends the sentence in exactly that many tokens.
  int64_t completion_tokens(size_t max_bytes, std::vector<uint64_t>* mask = nullptr) const;

 private:
  struct State;
  std::shared_ptr<const CompiledGrammar> compiled_;
  std::shared_ptr<const State> state_;  // copy-on-write between copies
};

}  // namespace kvs::grammar
