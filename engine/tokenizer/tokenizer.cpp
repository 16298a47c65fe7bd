#include "engine/tokenizer/tokenizer.h"

#include <algorithm>

#include "engine/errors.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/nfc.h"
#include "engine/tokenizer/pre_tokenizer_presets.h"
#include "engine/tokenizer/regex_splitter.h"
#include "engine/tokenizer/spec_validation.h"
#include "engine/tokenizer/special_token_matcher.h"
#include "engine/tokenizer/utf8.h"

namespace kvs {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // "▁" U+2581

// Parses "<0xXX>"; -1 if `token` is not spelled that way.
int parse_byte_token(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = token[i];
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value |= c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      value |= c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

bool renders_as_text(TokenType type) {
  return type == TokenType::Control || type == TokenType::Unknown || type == TokenType::UserDefined;
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(TokenizerSpec spec)
      : spec_(std::move(spec)), model_(spec_), matcher_(spec_) {
    if (!spec_.pre_regexes.empty()) {
      splitter_ = std::make_unique<RegexSplitter>(spec_.pre_regexes);
    } else if (spec_.kind == TokenizerKind::ByteLevelBpe) {
      splitter_ = std::make_unique<RegexSplitter>(pre_tokenizer_preset(spec_.pre_name).regexes);
    }
    token_bytes_.reserve(spec_.tokens.size());
    for (size_t id = 0; id < spec_.tokens.size(); ++id) token_bytes_.push_back(render(id));
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
    std::string repaired;
    if (!utf8::is_valid(text)) {
      repaired = utf8::repair(text);
      text = repaired;
    }
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    if (add_special && spec_.add_bos) ids.push_back(spec_.bos_id);
    for (const TextSegment& segment : matcher_.split(text, parse_special)) {
      if (segment.token >= 0) {
        ids.push_back(segment.token);
      } else {
        encode_text(segment.text, ids);
      }
    }
    if (add_special && spec_.add_eos) ids.push_back(spec_.eos_id);
    return ids;
  }

  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override {
    std::string text;
    bool first = true;
    bool strip_leading_space = false;
    for (int32_t id : ids) {
      check_id(id);
      if (skip_special && is_special(id)) continue;
      if (first) {
        // SentencePiece: drop the space the "▁" prefix added (HF's Strip decoder).
        strip_leading_space = spec_.kind == TokenizerKind::SentencePieceBpe && spec_.add_space_prefix &&
                              !renders_as_text(spec_.token_types[id]);
        first = false;
      }
      text += token_bytes_[id];
    }
    if (strip_leading_space && !text.empty() && text[0] == ' ') text.erase(0, 1);
    return text;
  }

  std::string token_bytes(int32_t id) const override {
    check_id(id);
    return token_bytes_[id];
  }

  const TokenizerSpec& spec() const override { return spec_; }

 private:
  void check_id(int32_t id) const {
    if (id < 0 || id >= static_cast<int64_t>(token_bytes_.size())) {
      throw InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary of " +
                            std::to_string(token_bytes_.size()) + " tokens");
    }
  }

  std::string render(size_t id) const {
    const std::string& token = spec_.tokens[id];
    const TokenType type = spec_.token_types[id];
    if (renders_as_text(type)) return token;
    if (type == TokenType::Byte) {
      const int byte = parse_byte_token(token);
      if (byte >= 0) return std::string(1, static_cast<char>(byte));
    }
    if (spec_.kind == TokenizerKind::ByteLevelBpe) {
      std::string bytes;
      byte_level::decode(token, bytes);
      return bytes;
    }
    std::string text;
    for (size_t pos = 0; pos < token.size();) {
      if (token.compare(pos, kSpaceMark.size(), kSpaceMark) == 0) {
        text += ' ';
        pos += kSpaceMark.size();
      } else {
        text += token[pos++];
      }
    }
    return text;
  }

  // Normal (non special-token) text: normalize, pre-tokenize, merge.
  void encode_text(std::string_view text, std::vector<int32_t>& ids) const {
    std::string normalized;
    if (spec_.normalizer == "nfc") {
      normalized = normalize_nfc(text);
      text = normalized;
    }
    std::string escaped;
    if (spec_.kind == TokenizerKind::SentencePieceBpe) {
      escaped.reserve(text.size() + 8);
      if (spec_.add_space_prefix) escaped += kSpaceMark;
      for (char c : text) {
        if (c == ' ') {
          escaped += kSpaceMark;
        } else {
          escaped += c;
        }
      }
      text = escaped;
    }
    if (splitter_ == nullptr) {
      model_.encode_word(text, ids);
      return;
    }
    for (std::string_view piece : splitter_->split(text)) {
      if (spec_.kind == TokenizerKind::ByteLevelBpe) {
        model_.encode_word(byte_level::encode(piece), ids);
      } else {
        model_.encode_word(piece, ids);
      }
    }
  }

  TokenizerSpec spec_;
  BpeModel model_;
  SpecialTokenMatcher matcher_;
  std::unique_ptr<RegexSplitter> splitter_;  // null: a text segment is one word
  std::vector<std::string> token_bytes_;     // id -> decoded bytes
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::create(const TokenizerSpec& spec) {
  TokenizerSpec filled = spec;
  if (filled.token_types.empty()) filled.token_types.assign(filled.tokens.size(), TokenType::Normal);
  validate_tokenizer_spec(filled);
  return std::make_unique<BpeTokenizer>(std::move(filled));
}

bool Tokenizer::is_special(int32_t id) const {
  const TokenizerSpec& s = spec();
  if (id < 0 || id >= static_cast<int64_t>(s.token_types.size())) return false;
  return s.token_types[id] == TokenType::Control || s.token_types[id] == TokenType::Unknown;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  const auto& eog = spec().eog_ids;
  return std::find(eog.begin(), eog.end(), id) != eog.end();
}

}  // namespace kvs
