#pragma once
// A context-free grammar in llama.cpp's GBNF notation, parsed and checked,
// ready for GrammarMatcher (grammar_matcher.h). The output constraints of
// issue 23 (JSON Schema, regex, choice, tool calls) are all compiled to GBNF
// text first (constraint.h), so this is the one grammar engine.
#include <cstddef>
#include <memory>
#include <string_view>

namespace kvs::grammar {

class Grammar;  // immutable once built; defined in grammar_ir.h (internal to kvs_grammar)

// Caps on what one request may make the server build (a 400 beyond them).
struct GrammarLimits {
  size_t max_text_bytes = 1 << 20;  // GBNF source
  size_t max_rules = 20000;         // after expanding groups and repetitions
  size_t max_elements = 1 << 20;    // symbols over all rules
};

// Parses GBNF (llama.cpp grammars/README.md): `name ::= alternatives`,
// "literals" with \n \t \r \\ \" \xHH \uHHHH \UHHHHHHHH escapes, [classes] with
// ranges and ^ negation, `.` (any character), ( groups ), * + ? {m} {m,} {m,n}
// repetition, # comments. Characters are Unicode code points; input text is UTF-8.
// `root_rule` must be defined. Throws kvs::InvalidArgument whose message starts
// with "grammar: " and says what and where (line:column) for: syntax errors,
// undefined rules, left recursion, a rule that derives no finite string
// (recursion without a base case), limits exceeded.
// The result is immutable and safe to share between threads.
std::shared_ptr<const Grammar> parse_gbnf(std::string_view text, std::string_view root_rule = "root",
                                          const GrammarLimits& limits = {});

}  // namespace kvs::grammar
