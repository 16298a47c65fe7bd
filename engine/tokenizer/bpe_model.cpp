#include "engine/tokenizer/bpe_model.h"

#include <cstdio>
#include <limits>
#include <queue>

#include "engine/errors.h"
#include "engine/tokenizer/utf8.h"

namespace kvs {
namespace {

size_t char_length(std::string_view text, size_t pos) {
  const size_t length = utf8::sequence_length(static_cast<uint8_t>(text[pos]));
  return (length == 0 || pos + length > text.size()) ? 1 : length;
}

}  // namespace

BpeModel::BpeModel(const TokenizerSpec& spec)
    : tokens_(spec.tokens),
      byte_fallback_(spec.byte_fallback),
      ignore_merges_(spec.ignore_merges),
      unk_id_(spec.unk_id) {
  token_to_id_.reserve(tokens_.size() * 2);
  for (size_t id = 0; id < tokens_.size(); ++id) {
    // NOTE: a duplicated string keeps its first id.
    token_to_id_.emplace(std::string_view(tokens_[id]), static_cast<int32_t>(id));
  }

  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = find(name);
    if (byte_fallback_ && byte_ids_[b] < 0) {
      throw ModelLoadError(std::string("tokenizer: byte_fallback is set but token ") + name +
                           " is missing from the vocabulary");
    }
  }

  use_scores_ = spec.kind == TokenizerKind::SentencePieceBpe && spec.merges.empty();
  if (use_scores_) {
    if (spec.scores.size() != tokens_.size()) {
      throw ModelLoadError("tokenizer: SentencePiece vocabulary without merges needs one score per token (" +
                           std::to_string(spec.scores.size()) + " scores for " +
                           std::to_string(tokens_.size()) + " tokens)");
    }
    // Only ordinary pieces are merge results (as in SentencePiece): never a
    // control, unknown, unused or byte token spelled out in the text.
    merge_scores_.assign(tokens_.size(), -std::numeric_limits<float>::infinity());
    for (size_t id = 0; id < tokens_.size(); ++id) {
      const TokenType type = id < spec.token_types.size() ? spec.token_types[id] : TokenType::Normal;
      if (type == TokenType::Normal || type == TokenType::Undefined) merge_scores_[id] = spec.scores[id];
    }
    return;
  }

  merges_.reserve(spec.merges.size() * 2);
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const std::string& merge = spec.merges[rank];
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size()) {
      throw ModelLoadError("tokenizer: merge #" + std::to_string(rank) + " '" + merge +
                           "' is not 'left right'");
    }
    const std::string_view left(merge.data(), space);
    const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
    const int32_t left_id = find(left);
    const int32_t right_id = find(right);
    const int32_t merged_id = find(std::string(left) + std::string(right));
    if (left_id < 0 || right_id < 0 || merged_id < 0) {
      throw ModelLoadError("tokenizer: merge #" + std::to_string(rank) + " '" + merge +
                           "' uses or produces a piece that is not in the vocabulary");
    }
    merges_.emplace(pair_key(left_id, right_id), Merge{static_cast<int32_t>(rank), merged_id});
  }
}

int32_t BpeModel::find(std::string_view token) const {
  const auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

void BpeModel::append_unknown(std::string_view piece, std::vector<int32_t>& out) const {
  if (byte_fallback_ || use_scores_) {  // llama.cpp SPM always falls back to bytes
    bool all_bytes = true;
    for (char c : piece) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(c)] >= 0;
    if (all_bytes) {
      for (char c : piece) out.push_back(byte_ids_[static_cast<uint8_t>(c)]);
      return;
    }
  }
  if (unk_id_ >= 0) out.push_back(unk_id_);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const int32_t id = find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (use_scores_) {
    merge_by_score(word, out);
  } else {
    merge_by_rank(word, out);
  }
}

void BpeModel::merge_by_rank(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;    // -1 once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  std::vector<int32_t> scratch;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = char_length(word, pos);
    const std::string_view piece = word.substr(pos, length);
    pos += length;
    const int32_t id = find(piece);
    scratch.clear();
    if (id >= 0) {
      scratch.push_back(id);
    } else {
      append_unknown(piece, scratch);
    }
    for (int32_t symbol_id : scratch) {
      const auto index = static_cast<int32_t>(symbols.size());
      symbols.push_back({symbol_id, index - 1, index + 1});
    }
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank;
    int32_t left;
    int32_t right;
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
  };
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> queue(worse);
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it == merges_.end()) return;
    queue.push({it->second.rank, left, right, symbols[left].id, symbols[right].id, it->second.merged_id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    // Stale: either side changed (ids only grow into longer pieces) or was absorbed.
    if (left.id != c.left_id || right.id != c.right_id || left.next != c.right) continue;
    left.id = c.merged_id;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    right.id = -1;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

void BpeModel::merge_by_score(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    uint32_t offset;
    uint32_t length;  // 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = char_length(word, pos);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(length), index - 1, index + 1});
    pos += length;
  }
  symbols.back().next = -1;

  struct Candidate {
    float score;
    int32_t left;
    int32_t right;
    uint32_t length;
  };
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> queue(worse);
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t length = symbols[left].length + symbols[right].length;
    const int32_t id = find(word.substr(symbols[left].offset, length));
    if (id < 0 || merge_scores_[id] == -std::numeric_limits<float>::infinity()) return;
    queue.push({merge_scores_[id], left, right, length});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.length == 0 || right.length == 0 || left.next != c.right ||
        left.length + right.length != c.length) {
      continue;
    }
    left.length = c.length;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    right.length = 0;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = word.substr(symbols[i].offset, symbols[i].length);
    const int32_t id = find(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_unknown(piece, out);
    }
  }
}

}  // namespace kvs
