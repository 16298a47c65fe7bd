#include "engine/tokenizer/special_token_matcher.h"

#include <algorithm>

namespace kvs {

SpecialTokenMatcher::SpecialTokenMatcher(const TokenizerSpec& spec) {
  nodes_.emplace_back();
  for (size_t id = 0; id < spec.tokens.size() && id < spec.token_types.size(); ++id) {
    const TokenType type = spec.token_types[id];
    const bool always = type == TokenType::UserDefined;
    const bool special = type == TokenType::Control || type == TokenType::Unknown;
    const std::string& text = spec.tokens[id];
    if ((!always && !special) || text.empty()) continue;
    int32_t node = 0;
    for (char c : text) {
      const auto byte = static_cast<uint8_t>(c);
      int32_t next = child(node, byte);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        auto& children = nodes_[node].children;
        children.insert(std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1})),
                        {byte, next});
        nodes_.emplace_back();  // may reallocate: `children` is not used after this
      }
      node = next;
    }
    int32_t& slot = always ? nodes_[node].always_token : nodes_[node].special_token;
    if (slot < 0) slot = static_cast<int32_t>(id);  // first id wins for duplicates
    ++num_candidates_;
  }
}

int32_t SpecialTokenMatcher::child(int32_t node, uint8_t byte) const {
  const auto& children = nodes_[node].children;
  const auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1}));
  return (it != children.end() && it->first == byte) ? it->second : -1;
}

size_t SpecialTokenMatcher::match_at(std::string_view text, size_t pos, bool parse_special,
                                     int32_t& token) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    const Node& n = nodes_[node];
    const int32_t here = n.always_token >= 0 ? n.always_token : (parse_special ? n.special_token : -1);
    if (here >= 0) {
      best = i + 1 - pos;
      token = here;
    }
  }
  return best;
}

std::vector<TextSegment> SpecialTokenMatcher::split(std::string_view text, bool parse_special) const {
  std::vector<TextSegment> segments;
  if (num_candidates_ == 0) {
    if (!text.empty()) segments.push_back({text, -1});
    return segments;
  }
  size_t text_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t token = -1;
    const size_t length = match_at(text, pos, parse_special, token);
    if (length == 0) {
      ++pos;
      continue;
    }
    if (pos > text_start) segments.push_back({text.substr(text_start, pos - text_start), -1});
    segments.push_back({std::string_view(), token});
    pos += length;
    text_start = pos;
  }
  if (text_start < text.size()) segments.push_back({text.substr(text_start), -1});
  return segments;
}

}  // namespace kvs
