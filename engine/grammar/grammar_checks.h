#pragma once
// Internal to kvs_grammar: the semantic checks parse_gbnf runs on a laid-out
// Grammar (grammar_ir.h) once every referenced rule is known to be defined.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "engine/grammar/grammar_ir.h"

namespace kvs::grammar {

// Where a rule comes from, for messages: the user rule it was written in
// (generated rules name their parent) and the byte offset of its definition
// (or of the group / repetition that generated it) in the text.
struct RuleOrigin {
  std::string user_name;
  size_t offset = 0;
};

// Byte offset -> "line L, column C" (only called to build an error message).
using Locator = std::function<std::string(size_t)>;

// Throws kvs::InvalidArgument ("grammar: ...") if some rule is left-recursive
// (directly or through other rules, behind nullable prefixes) or derives no
// finite string (recursion without a base case). origins[i] describes rule i.
void check_grammar(const Grammar& grammar, const std::vector<RuleOrigin>& origins, const Locator& locate);

// nullable[i]: rule i derives the empty string.
std::vector<bool> nullable_rules(const Grammar& grammar);

}  // namespace kvs::grammar
