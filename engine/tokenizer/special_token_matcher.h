#pragma once
// Finds spelled-out special / added tokens in text before normal tokenization.
//
// Which tokens are looked for (the llama.cpp / HF rule):
//  - UserDefined tokens (HF added tokens with special=false, e.g. "<think>"):
//    always;
//  - Control and Unknown tokens ("<|im_start|>", "<s>", "<unk>"): only when
//    parse_special is true.
// Matching is leftmost-longest over the raw bytes (HF's added-vocabulary rule).
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

struct TextSegment {
  std::string_view text;  // the text to tokenize normally (empty when token >= 0)
  int32_t token = -1;     // a matched special token, or -1 for text
};

// Thread-safety: immutable after construction; split may run concurrently.
class SpecialTokenMatcher {
 public:
  explicit SpecialTokenMatcher(const TokenizerSpec& spec);

  // Cuts `text` into text runs and matched tokens, in order. Text runs are
  // non-empty views into `text`.
  std::vector<TextSegment> split(std::string_view text, bool parse_special) const;

  size_t num_candidates() const { return num_candidates_; }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t always_token = -1;   // UserDefined token ending here
    int32_t special_token = -1;  // Control / Unknown token ending here
  };
  int32_t child(int32_t node, uint8_t byte) const;
  // Length of the longest acceptable token starting at text[pos] (0 if none).
  size_t match_at(std::string_view text, size_t pos, bool parse_special, int32_t& token) const;

  std::vector<Node> nodes_;  // nodes_[0] is the root
  size_t num_candidates_ = 0;
};

}  // namespace kvs
