#pragma once
// Internal to kvs_grammar: the definition of TokenVocabulary (token_vocabulary.h).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/grammar/token_vocabulary.h"

namespace kvs::grammar {

// Tokens' bytes, plus the grammar-eligible tokens sorted by bytes so that a
// walk over them in order can reuse the work done for the shared prefix of
// neighbours (mask_walk.h). Immutable after build_token_vocabulary; thread-safe.
class TokenVocabulary {
 public:
  std::vector<std::string> bytes;   // by token id
  std::vector<uint8_t> eligible;    // by token id: not never-allowed and not empty
  std::vector<int32_t> sorted;      // eligible ids, ascending by bytes
  std::vector<uint32_t> shared;     // shared[i]: common prefix length of sorted[i] and sorted[i - 1] (0 for i = 0)
  std::vector<uint32_t> rank;       // by token id: index in `sorted` (only for eligible ids)
  std::vector<uint32_t> continuation;  // indices into `sorted` of tokens starting with a UTF-8 continuation byte
  std::array<int32_t, 256> byte_token{};  // an eligible token of exactly that one byte, -1 if none (lowest id)
  std::unordered_map<std::string_view, int32_t> by_bytes;  // eligible tokens by their bytes (lowest id); views into `bytes`
  size_t max_token_bytes = 0;                              // longest eligible token

  int64_t size() const { return static_cast<int64_t>(bytes.size()); }
  // The fewest eligible tokens that spell `text` exactly (-1 if none can), and
  // in `first` (when given) the ids that start such a spelling.
  int64_t fewest_tokens(std::string_view text, std::vector<int32_t>* first) const;
  size_t mask_words() const { return (bytes.size() + 63) / 64; }
};

}  // namespace kvs::grammar
