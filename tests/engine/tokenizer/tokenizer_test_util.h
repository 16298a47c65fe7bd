#pragma once
// Helpers for the tokenizer tests: reading the HF fixtures.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "tests/common/test_paths.h"

namespace kvs::test {

struct ExpectedLine {
  std::string text;
  std::vector<int32_t> ids;  // HF encode(text, add_special_tokens=False)
  std::string decoded;       // HF decode(ids)
};

inline std::string fixture_tokenizer_dir(const std::string& name) {
  return fixtures_dir() + "/tokenizers/" + name;
}

// Every line of a JSONL file with text / ids / decoded fields (ids and decoded optional).
inline std::vector<ExpectedLine> read_expected_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<ExpectedLine> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line);
    ExpectedLine e;
    e.text = row.at("text").get<std::string>();
    if (row.contains("ids")) e.ids = row["ids"].get<std::vector<int32_t>>();
    if (row.contains("decoded")) e.decoded = row["decoded"].get<std::string>();
    lines.push_back(std::move(e));
  }
  return lines;
}

inline TokenizerSpec load_fixture_spec(const std::string& name) {
  const std::string dir = fixture_tokenizer_dir(name);
  return tokenizer_spec_from_json(read_file(dir + "/tokenizer.json"), read_file(dir + "/tokenizer_config.json"));
}

inline std::unique_ptr<Tokenizer> load_fixture_tokenizer(const std::string& name) {
  return Tokenizer::create(load_fixture_spec(name));
}

// Shared across the tests of one binary: the fixtures take ~1 s to parse.
inline const Tokenizer& fixture_tokenizer(const std::string& name) {
  static std::unique_ptr<Tokenizer> llama2 = load_fixture_tokenizer("llama2");
  static std::unique_ptr<Tokenizer> qwen3 = load_fixture_tokenizer("qwen3");
  if (name == "llama2") return *llama2;
  if (name == "qwen3") return *qwen3;
  throw std::runtime_error("no fixture tokenizer " + name);
}

}  // namespace kvs::test

#include "engine/tokenizer/byte_level.h"

namespace kvs::test {

// A small byte-level vocabulary: the 256 byte characters, then the merge
// results of `merges` ("a b" in byte-level spelling), in order.
inline TokenizerSpec tiny_byte_level_spec(const std::vector<std::string>& merges,
                                          const std::string& pre_name = "gpt-2") {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::ByteLevelBpe;
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(byte_level::char_for_byte(static_cast<uint8_t>(b)));
  for (const std::string& merge : merges) {
    const size_t space = merge.find(' ', 1);
    spec.tokens.push_back(merge.substr(0, space) + merge.substr(space + 1));
  }
  spec.token_types.assign(spec.tokens.size(), TokenType::Normal);
  spec.merges = merges;
  spec.pre_name = pre_name;
  return spec;
}

// Appends a token and returns its id.
inline int32_t add_token(TokenizerSpec& spec, const std::string& text, TokenType type, float score = 0.0f) {
  spec.tokens.push_back(text);
  spec.token_types.push_back(type);
  if (!spec.scores.empty() || score != 0.0f) {
    spec.scores.resize(spec.tokens.size() - 1, 0.0f);
    spec.scores.push_back(score);
  }
  return static_cast<int32_t>(spec.tokens.size() - 1);
}

// A scored SentencePiece vocabulary (GGUF "llama" style, no merges):
// <unk> <s> </s>, the 256 <0xXX> byte tokens, then `pieces` with `scores`.
inline TokenizerSpec tiny_scored_spm_spec(const std::vector<std::pair<std::string, float>>& pieces) {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::SentencePieceBpe;
  spec.normalizer = "sentencepiece";
  spec.add_space_prefix = true;
  spec.byte_fallback = true;
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.token_types = {TokenType::Unknown, TokenType::Control, TokenType::Control};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    spec.tokens.push_back(name);
    spec.token_types.push_back(TokenType::Byte);
  }
  spec.scores.assign(spec.tokens.size(), 0.0f);
  for (const auto& [piece, score] : pieces) {
    spec.tokens.push_back(piece);
    spec.token_types.push_back(TokenType::Normal);
    spec.scores.push_back(score);
  }
  spec.unk_id = 0;
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.add_bos = true;
  spec.eog_ids = {2};
  return spec;
}

// Id of a token by its text (-1 if absent).
inline int32_t id_of(const TokenizerSpec& spec, const std::string& text) {
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    if (spec.tokens[id] == text) return static_cast<int32_t>(id);
  }
  return -1;
}

}  // namespace kvs::test
