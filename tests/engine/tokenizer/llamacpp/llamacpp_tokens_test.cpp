// Our GGUF tokenizer against llama.cpp on real and adversarial text: the
// fixtures' 6,062 texts plus 4,000 generated stress texts
// (scripts/reference/tokenizer_stress_texts.py), tokenized by llama.cpp
// (scripts/reference/llamacpp_tokens.py, run by the ctest fixtures
// reference_llamacpp_tokens / reference_llamacpp_spm_tokens). For every line:
//  - encode(x, add_special=false, parse_special=false) == llama.cpp
//    tokenize(x, add_bos=False, special=False);
//  - encode(x, add_special=true, parse_special=true) == llama.cpp
//    tokenize(x, add_bos=True, special=True);
//  - decode(encode(x)) == x.
// Two vocabularies: the default model (byte-level "smollm") and a scored
// SentencePiece one built from the llama2 fixture (make_spm_gguf.py).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/loader/gguf_file.h"
#include "engine/loader/gguf_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

struct ReferenceLine {
  std::string text;
  std::vector<int32_t> ids;          // add_bos=False, special=False
  std::vector<int32_t> ids_special;  // add_bos=True, special=True
};

std::vector<ReferenceLine> read_reference(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<ReferenceLine> lines;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json row = nlohmann::json::parse(line);
    lines.push_back({row.at("text").get<std::string>(), row.at("ids").get<std::vector<int32_t>>(),
                     row.at("ids_special").get<std::vector<int32_t>>()});
  }
  return lines;
}

size_t num_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

void expect_llamacpp_ids(const std::string& gguf_path, const std::string& reference, const char* label) {
  const auto tokenizer = Tokenizer::create(tokenizer_spec_from_gguf(*GgufFile::open(gguf_path)));
  const auto lines = read_reference(reference);
  const std::string fixtures = test::fixtures_dir() + "/tokenizers/";
  const size_t num_fixture_lines =
      num_lines(fixtures + "llama2/expected.jsonl") + num_lines(fixtures + "qwen3/expected.jsonl");
  ASSERT_GE(num_fixture_lines, 6000u);
  ASSERT_GT(lines.size(), num_fixture_lines) << "reference file " << reference;

  size_t plain_equal[2] = {0, 0}, special_equal[2] = {0, 0}, round_trips[2] = {0, 0}, count[2] = {0, 0};
  std::ostringstream failures;
  size_t num_failures = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const ReferenceLine& line = lines[i];
    const int part = i < num_fixture_lines ? 0 : 1;  // 0: fixture texts, 1: stress texts
    ++count[part];
    const std::vector<int32_t> plain = tokenizer->encode(line.text, false, false);
    const std::vector<int32_t> special = tokenizer->encode(line.text, true, true);
    plain_equal[part] += plain == line.ids;
    special_equal[part] += special == line.ids_special;
    round_trips[part] += tokenizer->decode(plain, false) == line.text;
    if ((plain != line.ids || special != line.ids_special) && num_failures++ < 10) {
      failures << "line " << i << ": " << nlohmann::json(line.text).dump() << "\n  llama.cpp "
               << nlohmann::json(line.ids).dump() << " / " << nlohmann::json(line.ids_special).dump()
               << "\n  ours      " << nlohmann::json(plain).dump() << " / " << nlohmann::json(special).dump() << "\n";
    }
  }
  for (int part = 0; part < 2; ++part) {
    std::cout << "[ llama.cpp ] " << label << (part == 0 ? " fixture texts" : " stress texts") << ": ids "
              << plain_equal[part] << "/" << count[part] << ", with BOS + special parsing " << special_equal[part]
              << "/" << count[part] << ", decode(encode(x)) == x " << round_trips[part] << "/" << count[part]
              << "\n";
    EXPECT_EQ(plain_equal[part], count[part]) << failures.str();
    EXPECT_EQ(special_equal[part], count[part]);
    EXPECT_EQ(round_trips[part], count[part]);
  }
}

TEST(TokenizerVsLlamaCpp, DefaultModelByteLevelIdsEqualLlamaCppOnEveryLine) {
  expect_llamacpp_ids(test::default_model(), KVS_LLAMACPP_TOKENS, "SmolLM2 gguf (gpt2/smollm)");
}

TEST(TokenizerVsLlamaCpp, SentencePieceGgufIdsEqualLlamaCppOnEveryLine) {
  expect_llamacpp_ids(KVS_LLAMACPP_SPM_GGUF, KVS_LLAMACPP_SPM_TOKENS, "llama2 spm gguf (llama, scores)");
}

TEST(TokenizerVsLlamaCpp, Gemma3SentencePieceIdsEqualLlamaCppOnEveryLine) {
  // The second real model (issue 19): 262k-entry SentencePiece vocabulary.
  // Fetched by scripts/test.sh (scripts/fetch-model.sh gemma3-270m).
  if (!std::ifstream(KVS_GEMMA3_GGUF)) GTEST_SKIP() << "no " << KVS_GEMMA3_GGUF << " (scripts/fetch-model.sh gemma3-270m)";
  expect_llamacpp_ids(KVS_GEMMA3_GGUF, KVS_LLAMACPP_GEMMA3_TOKENS, "Gemma 3 gguf (llama/gemma, scores)");
}

}  // namespace
}  // namespace kvs
