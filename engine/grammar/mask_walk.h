#pragma once
// Internal to kvs_grammar: which tokens can follow a walk state, token by token
// in byte order so that neighbours share the work for their common prefix (the
// sorted vocabulary is walked like a trie, depth-first, with rollback).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/grammar/byte_walk.h"
#include "engine/grammar/grammar_ir.h"
#include "engine/grammar/token_vocabulary_impl.h"

namespace kvs::grammar {

enum class TokenOutcome : uint8_t {
  kRejected,   // the token's bytes cannot follow
  kAccepted,   // they can
  kUncertain,  // local walks only: decided by the context below the stack suffix
};

// Calls on_token(id, outcome) for the tokens vocabulary.sorted[i], i in
// `indices` (ascending; all of `sorted` when `all`), walked from `start`.
// `local`: see WalkState::exhausted. Uses thread-local scratch: not reentrant
// (on_token must not walk).
template <class OnToken>
void walk_tokens(const Grammar& grammar, const TokenVocabulary& vocabulary, const WalkState& start, bool local,
                 bool all, StackView indices, OnToken&& on_token) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  thread_local std::vector<WalkState> levels;
  if (levels.empty()) levels.resize(1);
  levels[0] = start;
  size_t valid = 0;    // levels[0..valid] hold the previous token's prefixes
  size_t dead = kNone; // levels[dead] has no stack (dead <= valid)
  std::string_view prev;
  const size_t count = all ? vocabulary.sorted.size() : indices.size();
  for (size_t k = 0; k < count; ++k) {
    const uint32_t idx = all ? static_cast<uint32_t>(k) : indices[k];
    const int32_t id = vocabulary.sorted[idx];
    const std::string_view tok = vocabulary.bytes[id];
    size_t common;
    if (all) {
      common = vocabulary.shared[idx];
    } else {
      const size_t m = std::min(prev.size(), tok.size());
      common = 0;
      while (common < m && prev[common] == tok[common]) ++common;
    }
    if (valid > common) valid = common;
    if (dead != kNone && dead <= valid) {
      on_token(id, levels[dead].exhausted ? TokenOutcome::kUncertain : TokenOutcome::kRejected);
      prev = tok;
      continue;
    }
    dead = kNone;
    for (size_t d = valid; d < tok.size(); ++d) {
      if (levels.size() < d + 2) levels.resize(d + 2);
      if (!step_byte(grammar, levels[d], static_cast<uint8_t>(tok[d]), local, levels[d + 1])) {
        dead = d + 1;
        break;
      }
    }
    if (dead != kNone) {
      valid = dead;
      on_token(id, levels[dead].exhausted ? TokenOutcome::kUncertain : TokenOutcome::kRejected);
    } else {
      valid = tok.size();
      on_token(id, TokenOutcome::kAccepted);
    }
    prev = tok;
  }
}

}  // namespace kvs::grammar
