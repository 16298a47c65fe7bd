#pragma once
// Internal to kvs_grammar: a regex (the subset regex_to_gbnf.h documents)
// compiled to one GBNF expression (no rules of its own), either over plain
// text or over the inside of a JSON string literal.
#include <string>
#include <string_view>

namespace kvs::grammar {

enum class RegexTarget {
  // The expression matches exactly the strings the regex matches in full
  // (anchors ^ $ at the ends are accepted and change nothing).
  kFullMatch,
  // The expression matches the JSON-encoded body (between the quotes) of the
  // strings in which the regex finds a match, as JSON Schema "pattern" means
  // it: an end not anchored by ^ / $ is padded with `any_char_rule`*.
  // Characters that JSON must escape are written in their short escaped
  // form (\" \\ \n \t \r \b \f, else \u00XX).
  kJsonStringSearch,
};

// Throws kvs::InvalidArgument ("regex: ... at offset N") on syntax errors and
// unsupported features. `any_char_rule` (a rule matching one JSON string
// character) is used only for kJsonStringSearch. Returns "" for a regex that
// matches only the empty string.
std::string regex_expression(std::string_view pattern, RegexTarget target, std::string_view any_char_rule = "");

}  // namespace kvs::grammar
