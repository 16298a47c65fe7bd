// TokenizerSpec -> tokenizer.json / tokenizer_config.json. Contract in tokenizer_json.h.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "engine/errors.h"
#include "engine/tokenizer/pre_tokenizer_presets.h"
#include "engine/tokenizer/spec_validation.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "engine/tokenizer/utf8.h"

namespace kvs {
namespace {

// NOTE: plain (std::map) json: ordered_json looks keys up linearly, far too slow for
// a 150k-entry vocab. HF does not care about key order.
using ordered_json = nlohmann::json;

constexpr const char* kSpaceMark = "\xE2\x96\x81";  // "▁"

bool is_added(TokenType type) {
  return type == TokenType::Control || type == TokenType::Unknown || type == TokenType::UserDefined;
}

// Merges for a scored SentencePiece vocabulary: every split of a Normal piece
// into two vocabulary pieces, best-scored piece first.
std::vector<std::string> merges_from_scores(const TokenizerSpec& spec) {
  std::unordered_map<std::string, int32_t> ids;
  for (size_t id = spec.tokens.size(); id-- > 0;) ids[spec.tokens[id]] = static_cast<int32_t>(id);
  struct Candidate {
    float score;
    int32_t merged, left, right;
    std::string text;
  };
  std::vector<Candidate> candidates;
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    if (spec.token_types[id] != TokenType::Normal && spec.token_types[id] != TokenType::Undefined) continue;
    const std::string& piece = spec.tokens[id];
    size_t split = 0;  // byte offset of a character boundary inside the piece
    uint32_t cp = 0;
    utf8::decode(piece, split, cp);
    while (split < piece.size()) {
      const auto left = ids.find(piece.substr(0, split));
      const auto right = ids.find(piece.substr(split));
      if (left != ids.end() && right != ids.end() && left->first.find(' ') == std::string::npos &&
          right->first.find(' ') == std::string::npos) {
        candidates.push_back({spec.scores[id], static_cast<int32_t>(id), left->second, right->second,
                              left->first + " " + right->first});
      }
      utf8::decode(piece, split, cp);
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.merged != b.merged) return a.merged < b.merged;
    return a.left != b.left ? a.left < b.left : a.right < b.right;
  });
  std::vector<std::string> merges;
  merges.reserve(candidates.size());
  for (Candidate& c : candidates) merges.push_back(std::move(c.text));
  return merges;
}

bool has_all_byte_tokens(const TokenizerSpec& spec) {
  std::unordered_set<std::string_view> tokens(spec.tokens.begin(), spec.tokens.end());
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    if (tokens.count(name) == 0) return false;
  }
  return true;
}

std::string dump(const ordered_json& j) {
  try {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    throw ModelLoadError(std::string("tokenizer export: a token is not valid UTF-8: ") + e.what());
  }
}

ordered_json model_json(const TokenizerSpec& spec) {
  ordered_json vocab = ordered_json::object();
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    // NOTE: a duplicated spelling keeps its first id (JSON keys are unique).
    if (!vocab.contains(spec.tokens[id])) vocab[spec.tokens[id]] = id;
  }
  const bool scored = spec.kind == TokenizerKind::SentencePieceBpe && spec.merges.empty();
  ordered_json model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = spec.unk_id >= 0 ? ordered_json(spec.tokens[spec.unk_id]) : ordered_json(nullptr);
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = spec.kind == TokenizerKind::SentencePieceBpe;
  // llama.cpp's scored SentencePiece falls back to <0xXX> tokens whenever they exist.
  model["byte_fallback"] = spec.byte_fallback || (scored && has_all_byte_tokens(spec));
  model["ignore_merges"] = spec.ignore_merges;
  model["vocab"] = std::move(vocab);
  model["merges"] = scored ? merges_from_scores(spec) : spec.merges;
  return model;
}

ordered_json split_regex(const std::string& regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

ordered_json normalizer_json(const TokenizerSpec& spec) {
  ordered_json steps = ordered_json::array();
  if (spec.normalizer == "nfc") steps.push_back({{"type", "NFC"}});
  if (spec.kind == TokenizerKind::SentencePieceBpe) {
    if (spec.add_space_prefix) steps.push_back({{"type", "Prepend"}, {"prepend", kSpaceMark}});
    steps.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpaceMark}});
  }
  if (steps.empty()) return nullptr;
  if (steps.size() == 1) return steps[0];
  return {{"type", "Sequence"}, {"normalizers", steps}};
}

ordered_json pre_tokenizer_json(const TokenizerSpec& spec) {
  std::vector<std::string> regexes = spec.pre_regexes;
  if (regexes.empty() && spec.kind == TokenizerKind::ByteLevelBpe) {
    regexes = pre_tokenizer_preset(spec.pre_name).regexes;
  }
  ordered_json steps = ordered_json::array();
  for (const std::string& regex : regexes) steps.push_back(split_regex(regex));
  if (spec.kind == TokenizerKind::ByteLevelBpe) {
    steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                     {"use_regex", false}});
  }
  if (steps.empty()) return nullptr;
  return {{"type", "Sequence"}, {"pretokenizers", steps}};
}

ordered_json post_processor_json(const TokenizerSpec& spec) {
  if (!spec.add_bos && !spec.add_eos) return nullptr;
  ordered_json special_tokens = ordered_json::object();
  auto special = [&](int32_t id, int type_id) {
    const std::string& name = spec.tokens[id];
    special_tokens[name] = {{"id", name}, {"ids", {id}}, {"tokens", {name}}};
    return ordered_json{{"SpecialToken", {{"id", name}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* which, int type_id) {
    return ordered_json{{"Sequence", {{"id", which}, {"type_id", type_id}}}};
  };
  ordered_json single = ordered_json::array();
  ordered_json pair = ordered_json::array();
  for (int part = 0; part < 2; ++part) {
    if (spec.add_bos) pair.push_back(special(spec.bos_id, part));
    pair.push_back(sequence(part == 0 ? "A" : "B", part));
    if (spec.add_eos) pair.push_back(special(spec.eos_id, part));
  }
  if (spec.add_bos) single.push_back(special(spec.bos_id, 0));
  single.push_back(sequence("A", 0));
  if (spec.add_eos) single.push_back(special(spec.eos_id, 0));
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special_tokens}};
}

ordered_json decoder_json(const TokenizerSpec& spec) {
  if (spec.kind == TokenizerKind::ByteLevelBpe) {
    return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  }
  ordered_json steps = ordered_json::array();
  steps.push_back({{"type", "Replace"}, {"pattern", {{"String", kSpaceMark}}}, {"content", " "}});
  steps.push_back({{"type", "ByteFallback"}});
  steps.push_back({{"type", "Fuse"}});
  if (spec.add_space_prefix) steps.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  return {{"type", "Sequence"}, {"decoders", steps}};
}

}  // namespace

std::string tokenizer_json_from_spec(const TokenizerSpec& spec) {
  validate_tokenizer_spec(spec);
  ordered_json added = ordered_json::array();
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const TokenType type = spec.token_types[id];
    if (!is_added(type)) continue;
    added.push_back({{"id", id}, {"content", spec.tokens[id]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", type != TokenType::UserDefined}});
  }
  ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = std::move(added);
  j["normalizer"] = normalizer_json(spec);
  j["pre_tokenizer"] = pre_tokenizer_json(spec);
  j["post_processor"] = post_processor_json(spec);
  j["decoder"] = decoder_json(spec);
  j["model"] = model_json(spec);
  return dump(j);
}

std::string tokenizer_config_json_from_spec(const TokenizerSpec& spec) {
  validate_tokenizer_spec(spec);
  auto token = [&](int32_t id) { return id >= 0 ? ordered_json(spec.tokens[id]) : ordered_json(nullptr); };
  ordered_json config;
  config["add_bos_token"] = spec.add_bos;
  config["add_eos_token"] = spec.add_eos;
  config["bos_token"] = token(spec.bos_id);
  config["eos_token"] = token(spec.eos_id);
  config["unk_token"] = token(spec.unk_id);
  config["pad_token"] = token(spec.pad_id);
  config["clean_up_tokenization_spaces"] = false;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  return dump(config);
}

}  // namespace kvs
