#pragma once
// Internal to kvs_grammar: the token-mask cache a CompiledGrammar shares
// between its sequences (grammar_matcher.h).
//
// Design (after xgrammar's adaptive token mask cache): a stack's fate under a
// token is decided, for most tokens, by its top few positions alone. For the
// suffix of at most kKeyDepth positions of a stack we walk the whole sorted
// vocabulary once (a "local" walk, byte_walk.h) and keep
//   accepted  - tokens some path consumes without running out of the suffix
//               (accepted whatever lies below),
//   uncertain - tokens that run out of the suffix before their last byte and
//               so depend on the rest of the stack (checked per call),
// every other token being rejected. When the suffix is the whole stack,
// running out means the sentence ended, so nothing is uncertain. The walk
// memoizes byte transitions between interned states (walk_memo.h). At run
// time a mask is the OR of its stacks' accepted sets plus their uncertain
// tokens walked from the whole stacks (mask_walk.h); a state inside a
// character walks only the tokens that start with a continuation byte.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/grammar/grammar_ir.h"
#include "engine/grammar/parse_stacks.h"
#include "engine/grammar/token_vocabulary_impl.h"

namespace kvs::grammar {

constexpr size_t kKeyDepth = 4;  // stack positions in a cache key
// Past this many bytes of entries a miss is computed and used but not stored
// (a huge grammar degrades to slower masks, not unbounded memory). A JSON
// document on the 49k-token SmolLM2 vocabulary fills ~200 entries of ~6 KB;
// the server keeps up to 64 compiled grammars (GrammarCompiler), so this
// bounds their caches together at 2 GiB.
constexpr size_t kMaxCacheBytes = size_t{32} << 20;

struct MaskEntry {
  std::vector<uint64_t> accepted;    // bit per token id, TokenVocabulary::mask_words() words
  std::vector<uint32_t> uncertain;   // indices into TokenVocabulary::sorted, ascending
};

// Thread-safe: entries are built outside the lock on a miss (two threads may
// build the same one; the first stored wins) and immutable once stored; at
// most kMaxCacheBytes of them are kept.
class MaskCache {
 public:
  MaskCache(const Grammar& grammar, const TokenVocabulary& vocabulary) : grammar_(grammar), vocabulary_(vocabulary) {}
  // The entry for the top kKeyDepth positions of `stack` (non-empty).
  std::shared_ptr<const MaskEntry> entry(StackView stack);
  size_t size() const;

 private:
  struct KeyHash {
    size_t operator()(const std::vector<uint32_t>& k) const;
  };
  std::shared_ptr<const MaskEntry> build(StackView suffix, bool whole) const;

  const Grammar& grammar_;
  const TokenVocabulary& vocabulary_;
  mutable std::mutex mutex_;
  // Key: the suffix, then kWholeStack when it is the whole stack.
  std::unordered_map<std::vector<uint32_t>, std::shared_ptr<const MaskEntry>, KeyHash> entries_;
  size_t bytes_ = 0;  // held by entries_
};

}  // namespace kvs::grammar
