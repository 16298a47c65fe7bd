#pragma once
// The tokenizer's tokens as byte strings, indexed for grammar masks. Built
// once per loaded model and shared by every constrained request.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kvs::grammar {

class TokenVocabulary;  // immutable, thread-safe; defined in token_vocabulary_impl.h

// token_bytes[i]: the raw bytes token i stands for (Tokenizer::token_bytes(i)).
// never_allowed: ids a grammar never allows (control / special tokens, and the
// end-of-generation ids, which EngineCore allows itself when
// GrammarMatcher::can_terminate()). Empty byte strings are never allowed either.
std::shared_ptr<const TokenVocabulary> build_token_vocabulary(std::vector<std::string> token_bytes,
                                                              const std::vector<int32_t>& never_allowed);
int64_t vocabulary_size(const TokenVocabulary& vocabulary);

}  // namespace kvs::grammar
