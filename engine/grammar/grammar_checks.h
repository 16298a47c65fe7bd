#pragma once
// Internal to kvs_grammar: the semantic checks parse_gbnf runs on a laid-out
// Grammar (grammar_ir.h) once every referenced rule is known to be defined.
#include <string>
#include <vector>

#include "engine/grammar/grammar_ir.h"

namespace kvs::grammar {

// Where a rule comes from, for messages: the user rule it was written in
// (generated rules name their parent) and "line L, column C" of its definition
// (or of the group / repetition that generated it).
struct RuleOrigin {
  std::string user_name;
  std::string location;
};

// Throws kvs::InvalidArgument ("grammar: ...") if some rule is left-recursive
// (directly or through other rules, behind nullable prefixes) or derives no
// finite string (recursion without a base case). origins[i] describes rule i.
void check_grammar(const Grammar& grammar, const std::vector<RuleOrigin>& origins);

// nullable[i]: rule i derives the empty string.
std::vector<bool> nullable_rules(const Grammar& grammar);

}  // namespace kvs::grammar
