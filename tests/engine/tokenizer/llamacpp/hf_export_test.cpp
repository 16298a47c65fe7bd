// Writes tokenizer.json exports of four vocabularies (llama2 / qwen3 fixtures,
// the default GGUF model, the scored SentencePiece GGUF) for
// scripts/reference/hf_tokenizers_check.py, after checking that our own reader
// reads each back to a tokenizer that encodes every text identically.
// Output: $KVS_REFERENCE_DIR/hf_export/<name>/{tokenizer.json,
// tokenizer_config.json, ours.jsonl} (ours.jsonl: text, our ids, our decode).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/loader/gguf_file.h"
#include "engine/loader/gguf_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::vector<std::string> all_texts() {
  const std::string fixtures = test::fixtures_dir() + "/tokenizers/";
  std::vector<std::string> texts;
  for (const std::string& path : {fixtures + "llama2/expected.jsonl", fixtures + "qwen3/expected.jsonl",
                                  std::string(KVS_TOKENIZER_STRESS_TEXTS)}) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    }
  }
  return texts;
}

void export_and_check(const std::string& name, const TokenizerSpec& spec) {
  const std::string folder = std::string(KVS_REFERENCE_DIR) + "/hf_export/" + name;
  std::filesystem::create_directories(folder);
  const std::string tokenizer_json = tokenizer_json_from_spec(spec);
  const std::string config_json = tokenizer_config_json_from_spec(spec);
  std::ofstream(folder + "/tokenizer.json") << tokenizer_json;
  std::ofstream(folder + "/tokenizer_config.json") << config_json;

  const auto original = Tokenizer::create(spec);
  const auto reread = Tokenizer::create(tokenizer_spec_from_json(tokenizer_json, config_json));
  std::ofstream out(folder + "/ours.jsonl");
  size_t equal = 0;
  const auto texts = all_texts();
  for (const std::string& text : texts) {
    const std::vector<int32_t> ids = original->encode(text, false, false);
    equal += reread->encode(text, false, false) == ids;
    out << nlohmann::json{{"text", text}, {"ids", ids}, {"decoded", original->decode(ids, false)}}.dump() << "\n";
  }
  EXPECT_EQ(equal, texts.size()) << name;
}

TokenizerSpec fixture_spec(const std::string& name) {
  const std::string dir = test::fixtures_dir() + "/tokenizers/" + name;
  return tokenizer_spec_from_json(test::read_file(dir + "/tokenizer.json"),
                                  test::read_file(dir + "/tokenizer_config.json"));
}

TEST(HfExport, WritesExportsThatReadBackAlike) {
  export_and_check("llama2", fixture_spec("llama2"));
  export_and_check("qwen3", fixture_spec("qwen3"));
  export_and_check("smollm2_gguf", tokenizer_spec_from_gguf(*GgufFile::open(test::default_model())));
  export_and_check("llama2_spm_gguf", tokenizer_spec_from_gguf(*GgufFile::open(KVS_LLAMACPP_SPM_GGUF)));
}

}  // namespace
}  // namespace kvs
