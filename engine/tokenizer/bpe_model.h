#pragma once
// The BPE merge loop for one pre-token: start from characters, repeatedly merge
// the best adjacent pair, emit vocabulary ids. Two priorities:
//  - ranks: pair priority = its line in `merges` (HF BPE, GGUF "gpt2");
//  - scores: the merged piece's SentencePiece score, higher first (GGUF
//    "llama" vocabularies, which carry no merges; llama.cpp's SPM tokenizer).
// Ties go to the leftmost pair. Linked list + priority queue: O(n log n) per word.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

// Thread-safety: immutable after construction; encode_word may run concurrently.
class BpeModel {
 public:
  // Builds the vocabulary and merge tables. Throws ModelLoadError when a merge
  // is malformed or names / produces a piece that is not in the vocabulary,
  // when byte_fallback is set but a <0xXX> token is missing, or when the
  // score mode lacks scores.
  explicit BpeModel(const TokenizerSpec& spec);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // `word` is one pre-token spelled like the vocabulary (byte-level characters
  // for byte-level BPE, "▁"-escaped text for SentencePiece), valid UTF-8.
  // Appends its ids to `out`. A character with no token becomes its <0xXX>
  // byte tokens (byte_fallback), else unk_id, else it is dropped (as HF does).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  // Id of a vocabulary string, or -1.
  int32_t find(std::string_view token) const;
  bool uses_scores() const { return use_scores_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  void append_unknown(std::string_view piece, std::vector<int32_t>& out) const;
  void merge_by_rank(std::string_view word, std::vector<int32_t>& out) const;
  void merge_by_score(std::string_view word, std::vector<int32_t>& out) const;

  std::vector<std::string> tokens_;                       // owns the strings the map views
  std::unordered_map<std::string_view, int32_t> token_to_id_;
  std::unordered_map<uint64_t, Merge> merges_;            // (left id, right id) -> rank, result
  std::vector<float> merge_scores_;                       // score mode: per id; -inf = never a merge result
  int32_t byte_ids_[256];                                 // <0xXX> ids, -1 if absent
  bool use_scores_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int32_t unk_id_ = -1;
};

}  // namespace kvs
