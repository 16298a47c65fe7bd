#pragma once
// Internal to kvs_grammar: advancing parse stacks (parse_stacks.h) byte by
// byte, through UTF-8 characters that may be split anywhere.
#include <cstdint>

#include "engine/grammar/grammar_ir.h"
#include "engine/grammar/parse_stacks.h"

namespace kvs::grammar {

// Stacks after some bytes, plus the character in progress. While `remaining`
// > 0 the stacks are those before that character, kept only where the top
// class admits some completion of it.
struct WalkState {
  StackSet stacks;
  uint32_t partial = 0;    // bits of the character in progress
  uint8_t remaining = 0;   // continuation bytes it still needs
  uint8_t length = 0;      // its length in bytes (overlong forms are refused)
  // Local walks (mask_cache.h) start from a suffix of a real stack: an empty
  // stack then means "the suffix ran out" and the real stack would go on below
  // it. Set once a byte was consumed in that situation: the outcome depends on
  // the context below the suffix.
  bool exhausted = false;
};

// in + one byte -> out (out is overwritten). `local`: see WalkState::exhausted;
// otherwise an empty stack is the end of the sentence and takes no byte.
// Returns whether `out` has any stack left. Invalid UTF-8 (and code points past
// U+10FFFF) kills every stack.
bool step_byte(const Grammar& grammar, const WalkState& in, uint8_t byte, bool local, WalkState& out);

}  // namespace kvs::grammar
