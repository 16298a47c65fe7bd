#pragma once
// Regular expressions and choice lists to GBNF (guided_regex, guided_choice,
// JSON Schema "pattern").
#include <string>
#include <string_view>
#include <vector>

namespace kvs::grammar {

// An ECMAScript / Python-style regex (the common subset: literals, escapes,
// ., [classes] incl. \d \w \s and negation, groups (?:...), alternation,
// * + ? {m} {m,} {m,n}, ^ $ anchors at the ends) matched in full, as vLLM's
// guided_regex does. Returns GBNF rules named "<rule_name>..." whose start rule
// is `rule_name`. Throws kvs::InvalidArgument ("regex: ... at offset N") for
// syntax errors and unsupported features (backreferences, lookaround).
std::string regex_to_gbnf(std::string_view pattern, std::string_view rule_name = "root");
// Exactly one of `choices` (each a literal string, non-empty list). Throws
// kvs::InvalidArgument on an empty list or too many choices (> 4096).
std::string choice_to_gbnf(const std::vector<std::string>& choices, std::string_view rule_name = "root");

}  // namespace kvs::grammar
