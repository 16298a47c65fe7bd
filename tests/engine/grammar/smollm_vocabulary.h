#pragma once
// The default model's tokenizer (SmolLM2, from its GGUF) and its grammar
// vocabulary, loaded once per test binary.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/grammar/token_vocabulary.h"
#include "engine/loader/gguf_file.h"
#include "engine/loader/gguf_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/common/test_paths.h"

namespace kvs::test {

inline const Tokenizer& smollm_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer =
      Tokenizer::create(tokenizer_spec_from_gguf(*GgufFile::open(default_model())));
  return *tokenizer;
}

// Token bytes from the tokenizer; special and end-of-generation ids never allowed.
inline std::shared_ptr<const grammar::TokenVocabulary> smollm_vocabulary() {
  static const std::shared_ptr<const grammar::TokenVocabulary> vocabulary = [] {
    const Tokenizer& t = smollm_tokenizer();
    std::vector<std::string> bytes;
    std::vector<int32_t> never;
    for (int32_t id = 0; id < t.vocab_size(); ++id) {
      bytes.push_back(t.token_bytes(id));
      if (t.is_special(id) || t.is_end_of_generation(id)) never.push_back(id);
    }
    return grammar::build_token_vocabulary(std::move(bytes), never);
  }();
  return vocabulary;
}

}  // namespace kvs::test
