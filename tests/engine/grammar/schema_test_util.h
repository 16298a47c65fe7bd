#pragma once
// Test helper: does a GBNF grammar accept a whole text? (the real parser and
// matcher over a vocabulary of the 256 single bytes).
#include <memory>
#include <string>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/token_vocabulary.h"

namespace kvs::grammar::test {

// A grammar bound to the byte vocabulary, ready for fresh matchers.
inline std::shared_ptr<const CompiledGrammar> compile_for_bytes(const std::string& gbnf,
                                                                const std::string& root = "root") {
  static const std::shared_ptr<const TokenVocabulary> bytes = [] {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    return build_token_vocabulary(tokens, {});
  }();
  return std::make_shared<CompiledGrammar>(parse_gbnf(gbnf, root), bytes);
}

// `text` is accepted in full and the grammar may end after it.
inline bool accepts(const std::shared_ptr<const CompiledGrammar>& grammar, const std::string& text) {
  GrammarMatcher matcher(grammar);
  return matcher.accept_bytes(text) && matcher.can_terminate();
}

}  // namespace kvs::grammar::test
