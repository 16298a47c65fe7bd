#include "engine/grammar/tokenizer_vocabulary.h"

#include <string>
#include <vector>

namespace kvs::grammar {

std::shared_ptr<const TokenVocabulary> token_vocabulary_of(const Tokenizer& tokenizer) {
  std::vector<std::string> bytes;
  std::vector<int32_t> never_allowed;
  bytes.reserve(static_cast<size_t>(tokenizer.vocab_size()));
  for (int64_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const auto token = static_cast<int32_t>(id);
    bytes.push_back(tokenizer.token_bytes(token));
    if (tokenizer.is_special(token) || tokenizer.is_end_of_generation(token)) never_allowed.push_back(token);
  }
  return build_token_vocabulary(std::move(bytes), never_allowed);
}

}  // namespace kvs::grammar
