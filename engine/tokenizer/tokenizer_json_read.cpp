// tokenizer.json (+ tokenizer_config.json) -> TokenizerSpec. Contract in tokenizer_json.h.
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "engine/errors.h"
#include "engine/tokenizer/end_of_generation.h"
#include "engine/tokenizer/spec_validation.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace kvs {
namespace {

using nlohmann::json;

constexpr const char* kSpaceMark = "\xE2\x96\x81";  // "▁"
// HF ByteLevel(use_regex=true): GPT-2's split regex.
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

[[noreturn]] void fail(const std::string& what) { throw ModelLoadError("tokenizer.json: " + what); }

// What the normalizer / pre-tokenizer / decoder chain amounts to.
struct Pipeline {
  bool byte_level = false;      // a ByteLevel pre-tokenizer or decoder
  bool spm_hint = false;        // "▁" handling somewhere (decoder included)
  bool escape_spaces = false;   // ' ' -> '▁' (Replace normalizer or Metaspace)
  bool prepend = false;         // '▁' prefix (Prepend normalizer or Metaspace)
  bool nfc = false;
  std::vector<std::string> regexes;
};

// A token id as written in the file: a JSON integer no larger than 2^31 - 1
// (negative ones are left to the caller to reject). NOTE: get<int64_t>() alone
// converts a float (UB when out of range) or wraps a huge unsigned value;
// found by fuzz/tokenizer_json_fuzzer.
int64_t id_value(const json& node, const std::string& what) {
  if (!node.is_number_integer()) fail(what + " is not an integer: " + node.dump());
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (node.is_number_unsigned() ? node.get<uint64_t>() > uint64_t{kMax} : node.get<int64_t>() > kMax) {
    fail(what + " " + node.dump() + " is too large");
  }
  return node.get<int64_t>();
}

std::string type_of(const json& node) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) fail("component without a type");
  return node["type"].get<std::string>();
}

std::string escape_regex(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

void read_normalizer(const json& node, Pipeline& p) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("normalizers")) read_normalizer(child, p);
  } else if (type == "NFC") {
    p.nfc = true;
  } else if (type == "Prepend" && node.value("prepend", "") == kSpaceMark) {
    p.prepend = p.spm_hint = true;
  } else if (type == "Replace" && node.at("pattern").value("String", "") == " " &&
             node.value("content", "") == kSpaceMark) {
    p.escape_spaces = p.spm_hint = true;
  } else {
    fail("normalizer " + node.dump());
  }
}

void read_pre_tokenizer(const json& node, Pipeline& p) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("pretokenizers")) read_pre_tokenizer(child, p);
  } else if (type == "ByteLevel") {
    if (node.value("add_prefix_space", false)) fail("ByteLevel pre-tokenizer with add_prefix_space");
    p.byte_level = true;
    if (node.value("use_regex", true)) p.regexes.push_back(kGpt2Regex);
  } else if (type == "Split") {
    if (node.value("behavior", "") != "Isolated" || node.value("invert", false)) {
      fail("Split pre-tokenizer other than behavior Isolated, invert false");
    }
    const json& pattern = node.at("pattern");
    if (pattern.contains("Regex")) {
      p.regexes.push_back(pattern["Regex"].get<std::string>());
    } else if (pattern.contains("String")) {
      p.regexes.push_back(escape_regex(pattern["String"].get<std::string>()));
    } else {
      fail("Split pattern " + pattern.dump());
    }
  } else if (type == "Digits") {
    p.regexes.push_back(node.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
  } else if (type == "Metaspace") {
    if (node.value("replacement", kSpaceMark) != kSpaceMark) fail("Metaspace replacement other than U+2581");
    p.escape_spaces = p.spm_hint = true;
    const std::string scheme = node.contains("prepend_scheme")
                                   ? node["prepend_scheme"].get<std::string>()
                                   : (node.value("add_prefix_space", true) ? "always" : "never");
    // NOTE: "first" (prefix only before the first segment) is read as "always".
    p.prepend = p.prepend || scheme != "never";
    // split=true cuts before every "▁" (MergedWithNext) == Isolated "▁[^▁]*".
    if (node.value("split", true)) p.regexes.push_back(std::string(kSpaceMark) + "[^" + kSpaceMark + "]*");
  } else {
    fail("pre-tokenizer " + type);
  }
}

void read_decoder(const json& node, Pipeline& p) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("decoders")) read_decoder(child, p);
  } else if (type == "ByteLevel") {
    p.byte_level = true;
  } else if (type == "Metaspace" || type == "ByteFallback" ||
             (type == "Replace" && node.value("content", "") == " ")) {
    p.spm_hint = true;
  }
  // Other decoders (Fuse, Strip, ...) only shape decode output we derive ourselves.
}

// "<x>" or {"content": "<x>"} or null.
std::string token_text(const json& node) {
  if (node.is_string()) return node.get<std::string>();
  if (node.is_object() && node.contains("content")) return node["content"].get<std::string>();
  return "";
}

struct SpecialIds {
  int32_t bos = -1, eos = -1;
  bool add_bos = false, add_eos = false;
};

SpecialIds read_post_processor(const json& node, const std::unordered_map<std::string, int32_t>& ids) {
  SpecialIds out;
  if (node.is_null()) return out;
  const std::string type = type_of(node);
  auto id_of = [&](const std::string& text) {
    const auto it = ids.find(text);
    if (it == ids.end()) fail("post-processor token '" + text + "' is not in the vocabulary");
    return it->second;
  };
  if (type == "Sequence") {
    for (const json& child : node.at("processors")) {
      const SpecialIds inner = read_post_processor(child, ids);
      if (inner.add_bos || inner.add_eos) out = inner;
    }
  } else if (type == "TemplateProcessing") {
    const json& single = node.at("single");
    const json& special = node.value("special_tokens", json::object());
    auto special_id = [&](const json& piece) {
      const std::string name = piece.at("SpecialToken").at("id").get<std::string>();
      if (special.contains(name) && !special[name].at("ids").empty()) {
        return static_cast<int32_t>(id_value(special[name]["ids"][0], "post-processor id of '" + name + "'"));
      }
      return id_of(name);
    };
    if (!single.empty() && single.front().contains("SpecialToken")) {
      out.add_bos = true;
      out.bos = special_id(single.front());
    }
    if (single.size() > 1 && single.back().contains("SpecialToken")) {
      out.add_eos = true;
      out.eos = special_id(single.back());
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    out.add_bos = out.add_eos = true;
    out.bos = static_cast<int32_t>(id_value(node.at("cls").at(1), "post-processor cls id"));
    out.eos = static_cast<int32_t>(id_value(node.at("sep").at(1), "post-processor sep id"));
  }
  return out;
}

void read_vocab(const json& model, TokenizerSpec& spec, std::map<int64_t, std::string>& by_id) {
  for (const auto& item : model.at("vocab").items()) {
    const int64_t id = id_value(item.value(), "vocab id of '" + item.key() + "'");
    if (id < 0) fail("negative vocab id for '" + item.key() + "'");
    if (!by_id.emplace(id, item.key()).second) fail("vocab id " + std::to_string(id) + " used twice");
  }
  for (const json& merge : model.at("merges")) {
    if (merge.is_string()) {
      spec.merges.push_back(merge.get<std::string>());
    } else if (merge.is_array() && merge.size() == 2) {
      spec.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
    } else {
      fail("merge " + merge.dump());
    }
  }
}

void read_model(const json& j, TokenizerSpec& spec) {
  const json& model = j.at("model");
  if (model.contains("type") && model["type"] != "BPE") fail("model type " + model["type"].dump());
  if (!model.contains("merges") || !model.contains("vocab")) fail("model is not a BPE model");
  if (!model.value("continuing_subword_prefix", json()).is_null() &&
      !model["continuing_subword_prefix"].get<std::string>().empty()) {
    fail("BPE continuing_subword_prefix");
  }
  if (!model.value("end_of_word_suffix", json()).is_null() && !model["end_of_word_suffix"].get<std::string>().empty()) {
    fail("BPE end_of_word_suffix");
  }
  std::map<int64_t, std::string> by_id;
  read_vocab(model, spec, by_id);
  std::map<int64_t, std::pair<std::string, bool>> added;  // id -> content, special
  for (const json& token : j.value("added_tokens", json::array())) {
    const int64_t id = id_value(token.at("id"), "added token id");
    const std::string content = token.at("content").get<std::string>();
    // NOTE: a negative id indexed spec.tokens out of bounds below (found by
    // fuzz/tokenizer_json_fuzzer).
    if (id < 0) fail("negative added token id for '" + content + "'");
    const auto in_vocab = by_id.find(id);
    if (in_vocab != by_id.end() && in_vocab->second != content) {
      fail("added token " + std::to_string(id) + " '" + content + "' differs from the vocab's '" +
           in_vocab->second + "'");
    }
    added[id] = {content, token.value("special", false)};
  }
  int64_t size = 0;
  if (!by_id.empty()) size = by_id.rbegin()->first + 1;
  if (!added.empty()) size = std::max(size, added.rbegin()->first + 1);
  if (size == 0) fail("empty vocabulary");
  const int64_t named = static_cast<int64_t>(by_id.size() + added.size());
  if (size > std::numeric_limits<int32_t>::max() || size > 2 * named + 1024) {
    fail("token ids up to " + std::to_string(size - 1) + " for " + std::to_string(named) + " tokens");
  }

  spec.byte_fallback = model.value("byte_fallback", false);
  spec.ignore_merges = model.value("ignore_merges", false);
  spec.tokens.assign(size, "");
  spec.token_types.assign(size, TokenType::Unused);
  for (int64_t id = 0; id < size; ++id) spec.tokens[id] = "[PAD" + std::to_string(id) + "]";
  for (const auto& [id, text] : by_id) {
    spec.tokens[id] = text;
    const bool byte = spec.byte_fallback && text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>';
    spec.token_types[id] = byte ? TokenType::Byte : TokenType::Normal;
  }
  for (const auto& [id, token] : added) {
    spec.tokens[id] = token.first;
    spec.token_types[id] = token.second ? TokenType::Control : TokenType::UserDefined;
  }
}

// Kind, normalizer and pre-tokenizer regexes from the pipeline components.
void read_pipeline(const json& j, TokenizerSpec& spec) {
  Pipeline p;
  read_normalizer(j.value("normalizer", json()), p);
  read_pre_tokenizer(j.value("pre_tokenizer", json()), p);
  read_decoder(j.value("decoder", json()), p);
  if (p.byte_level) {
    spec.kind = TokenizerKind::ByteLevelBpe;
    if (p.escape_spaces || p.prepend) fail("byte-level tokenizer that also escapes spaces as U+2581");
    // No split regex: the whole text segment is one pre-token.
    spec.pre_regexes = p.regexes.empty() ? std::vector<std::string>{"(?s:.+)"} : p.regexes;
    spec.normalizer = p.nfc ? "nfc" : "";
  } else if (p.spm_hint) {
    if (!p.escape_spaces) fail("SentencePiece-style tokenizer that does not replace ' ' with U+2581");
    spec.kind = TokenizerKind::SentencePieceBpe;
    spec.pre_regexes = p.regexes;
    spec.normalizer = p.nfc ? "nfc" : "sentencepiece";
    spec.add_space_prefix = p.prepend;
  } else {
    fail("neither byte-level nor SentencePiece-style (no ByteLevel / U+2581 handling found)");
  }
}

// unk / bos / eos / pad ids and add_bos / add_eos (tokenizer_config first).
void read_special_ids(const json& j, const json& config, TokenizerSpec& spec) {
  std::unordered_map<std::string, int32_t> ids;
  for (size_t id = spec.tokens.size(); id-- > 0;) ids[spec.tokens[id]] = static_cast<int32_t>(id);
  auto id_of = [&](const json& node, const char* what) {
    const std::string text = token_text(node);
    if (text.empty()) return int32_t{-1};
    const auto it = ids.find(text);
    if (it == ids.end()) fail(std::string(what) + " '" + text + "' is not in the vocabulary");
    return it->second;
  };
  spec.unk_id = id_of(j.at("model").value("unk_token", json()), "unk_token");
  if (spec.unk_id < 0) spec.unk_id = id_of(config.value("unk_token", json()), "unk_token");
  if (spec.unk_id >= 0) spec.token_types[spec.unk_id] = TokenType::Unknown;

  const SpecialIds template_ids = read_post_processor(j.value("post_processor", json()), ids);
  spec.bos_id = id_of(config.value("bos_token", json()), "bos_token");
  spec.eos_id = id_of(config.value("eos_token", json()), "eos_token");
  spec.pad_id = id_of(config.value("pad_token", json()), "pad_token");
  if (spec.bos_id < 0) spec.bos_id = template_ids.bos;
  if (spec.eos_id < 0) spec.eos_id = template_ids.eos;
  auto flag = [&](const char* key, bool fallback) {
    return config.contains(key) && config[key].is_boolean() ? config[key].get<bool>() : fallback;
  };
  spec.add_bos = flag("add_bos_token", template_ids.add_bos);
  spec.add_eos = flag("add_eos_token", template_ids.add_eos);
}

}  // namespace

TokenizerSpec tokenizer_spec_from_json(const std::string& tokenizer_json,
                                       const std::string& tokenizer_config_json) {
  json j;
  json config = json::object();
  try {
    j = json::parse(tokenizer_json);
    if (!tokenizer_config_json.empty()) config = json::parse(tokenizer_config_json);
  } catch (const json::exception& e) {
    throw ModelLoadError(std::string("tokenizer.json / tokenizer_config.json: invalid JSON: ") + e.what());
  }
  TokenizerSpec spec;
  try {
    read_model(j, spec);
    read_pipeline(j, spec);
    read_special_ids(j, config, spec);
  } catch (const json::exception& e) {
    throw ModelLoadError(std::string("tokenizer.json: unexpected structure: ") + e.what());
  }
  assign_end_of_generation_ids(spec, EndOfGenerationHints{}, EndOfGenerationRule::AddedTokensOnly);
  validate_tokenizer_spec(spec);
  return spec;
}

}  // namespace kvs
