// parse_gbnf: valid grammars parse; each class of error is reported with its
// message and place.
#include <gtest/gtest.h>

#include <string>

#include "engine/errors.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_ir.h"
#include "tests/engine/grammar/example_grammars.h"

namespace kvs::grammar {
namespace {

// The message parse_gbnf throws for `text` ("" if it parses).
std::string error_of(const std::string& text, const GrammarLimits& limits = {}, const std::string& root = "root") {
  try {
    parse_gbnf(text, root, limits);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(GbnfParser, ExampleGrammarsParse) {
  for (const char* text : {test::kJsonGrammar, test::kArithmeticGrammar, test::kListGrammar}) {
    EXPECT_EQ(error_of(text), "") << text;
  }
}

TEST(GbnfParser, RulesAndLayout) {
  const auto g = parse_gbnf("root ::= \"ab\" | x\nx ::= [a-c]\n");
  ASSERT_EQ(g->rule_names[g->root], "root");
  ASSERT_EQ(g->rule_alternatives[g->root].size(), 2u);
  // "ab" is two one-character classes then the end marker.
  const uint32_t a0 = g->rule_alternatives[g->root][0];
  EXPECT_EQ(g->elements[a0].kind, Element::Kind::kChars);
  EXPECT_TRUE(g->char_classes[g->elements[a0].value].matches('a'));
  EXPECT_FALSE(g->char_classes[g->elements[a0].value].matches('b'));
  EXPECT_EQ(g->elements[a0 + 1].kind, Element::Kind::kChars);
  EXPECT_EQ(g->elements[a0 + 2].kind, Element::Kind::kEnd);
  const uint32_t a1 = g->rule_alternatives[g->root][1];
  EXPECT_EQ(g->elements[a1].kind, Element::Kind::kRule);
  EXPECT_EQ(g->rule_names[g->elements[a1].value], "x");
}

TEST(GbnfParser, EscapesClassesAndCodePoints) {
  const auto g = parse_gbnf(R"(root ::= "\x41\u00e9\U0001F600\n\t\r\\\"" [^a-z\]] . "é")");
  const auto& alt = g->rule_alternatives[g->root];
  ASSERT_EQ(alt.size(), 1u);
  const uint32_t want[] = {0x41, 0xE9, 0x1F600, '\n', '\t', '\r', '\\', '"'};
  uint32_t p = alt[0];
  for (uint32_t cp : want) {
    const CharClass& c = g->char_classes[g->elements[p++].value];
    EXPECT_TRUE(c.matches(cp)) << cp;
    EXPECT_FALSE(c.matches(cp + 1)) << cp;
  }
  const CharClass& neg = g->char_classes[g->elements[p++].value];
  EXPECT_FALSE(neg.matches('q'));
  EXPECT_FALSE(neg.matches(']'));
  EXPECT_TRUE(neg.matches('A'));
  EXPECT_TRUE(neg.matches(0x4E2D));
  const CharClass& any = g->char_classes[g->elements[p++].value];
  EXPECT_TRUE(any.matches(0) && any.matches(0x10FFFF));
  EXPECT_TRUE(g->char_classes[g->elements[p++].value].matches(0xE9));  // UTF-8 in the source
  EXPECT_EQ(g->elements[p].kind, Element::Kind::kEnd);
}

TEST(GbnfParser, CommentsNewlinesAndEmptyAlternatives) {
  EXPECT_EQ(error_of("# top comment\nroot ::= a | # trailing\n  b\na ::= \"a\" # c\nb ::=\n"), "");
  EXPECT_EQ(error_of("root ::= (\n  \"a\"\n  | \"b\"\n)*\n"), "");
  EXPECT_EQ(error_of("root ::= \"a\"{2} \"b\"{1,} \"c\"{0,3} \"d\"{2,4} \"\"*"), "");
  EXPECT_EQ(error_of("start ::= \"x\"", {}, "start"), "");
}

TEST(GbnfParser, SyntaxErrorsSayWhereAndWhat) {
  EXPECT_EQ(error_of("root ::= \"abc"), "grammar: line 1, column 10: unterminated string literal");
  EXPECT_EQ(error_of("root = \"a\""), "grammar: line 1, column 6: expected '::=' after rule name 'root', found '='");
  EXPECT_EQ(error_of("root ::= \"a\"\n  ::= \"b\""), "grammar: line 2, column 3: expected a rule name, found ':'");
  EXPECT_EQ(error_of("root ::= [a-"), "grammar: line 1, column 10: unterminated character class");
  EXPECT_EQ(error_of("root ::= [z-a]"), "grammar: line 1, column 13: character range end before its start");
  EXPECT_EQ(error_of("root ::= * \"a\""), "grammar: line 1, column 10: '*' must follow an item to repeat");
  EXPECT_EQ(error_of("root ::= (\"a\" \"b\""), "grammar: line 1, column 18: expected ')' before the end of text");
  EXPECT_EQ(error_of("root ::= \"a\" )"), "grammar: line 1, column 14: unexpected ')' in rule 'root'");
  EXPECT_EQ(error_of("root ::= \"\\q\""), "grammar: line 1, column 11: unknown escape '\\q'");
  EXPECT_EQ(error_of("root ::= \"\\x4\""), "grammar: line 1, column 11: expected 2 hex digits in escape");
  EXPECT_EQ(error_of("root ::= \"a\"{3,1}"), "grammar: line 1, column 13: repetition maximum below its minimum");
  EXPECT_EQ(error_of("root ::= \"a\"{x}"), "grammar: line 1, column 14: expected a number in '{...}', found 'x'");
  EXPECT_EQ(error_of("root ::= \"a\"\nroot ::= \"b\""), "grammar: line 2, column 1: rule 'root' is defined twice");
  EXPECT_EQ(error_of("root ::= <[123]>"), "grammar: line 1, column 10: token references (<...>) are not supported");
  EXPECT_EQ(error_of("root ::= \"\xff\""), "grammar: line 1, column 11: invalid UTF-8");
}

TEST(GbnfParser, UndefinedRulesAndRoot) {
  EXPECT_EQ(error_of("root ::= \"a\" value\n"), "grammar: line 1, column 14: undefined rule 'value'");
  EXPECT_EQ(error_of("x ::= \"a\""), "grammar: the root rule 'root' is not defined");
  EXPECT_EQ(error_of(""), "grammar: the root rule 'root' is not defined");
}

TEST(GbnfParser, LeftRecursionIsRejected) {
  EXPECT_EQ(error_of("root ::= root \"a\" | \"b\""),
            "grammar: left recursion in rule 'root' at line 1, column 1 (root -> root); rewrite it with right "
            "recursion or repetition");
  // Indirect, behind a nullable prefix (ws may be empty).
  EXPECT_EQ(error_of("root ::= a\na ::= b \"x\" | \"y\"\nb ::= ws a\nws ::= \" \"*\n"),
            "grammar: left recursion in rule 'a' at line 2, column 1 (a -> b -> a); rewrite it with right "
            "recursion or repetition");
  // Inside a group: the group's generated rule belongs to `expr`.
  EXPECT_NE(error_of("root ::= expr\nexpr ::= (expr \"+\")? \"1\""), "");
  // Right recursion is fine.
  EXPECT_EQ(error_of("root ::= \"a\" root | \"b\""), "");
}

TEST(GbnfParser, RecursionWithoutBaseCaseIsRejected) {
  EXPECT_EQ(error_of("root ::= \"a\" root"),
            "grammar: rule 'root' at line 1, column 1 derives no finite string (recursion without a base case, or a "
            "character class that matches nothing)");
  EXPECT_EQ(error_of("root ::= \"x\" | a\na ::= \"(\" b \")\"\nb ::= \"[\" a \"]\""),
            "grammar: rule 'a' at line 2, column 1 derives no finite string (recursion without a base case, or a "
            "character class that matches nothing)");
}

TEST(GbnfParser, LimitsAreClearErrors) {
  EXPECT_EQ(error_of("root ::= \"a\"{0,100000}"),
            "grammar: line 1, column 13: repetition {0,100000} expands beyond the grammar limits (20000 rules, "
            "1048576 symbols)");
  EXPECT_EQ(error_of("root ::= \"a\"{1000000000}"),
            "grammar: line 1, column 13: repetition {1000000000,1000000000} expands beyond the grammar limits "
            "(20000 rules, 1048576 symbols)");
  GrammarLimits small;
  small.max_text_bytes = 8;
  EXPECT_EQ(error_of("root ::= \"abc\"", small), "grammar: text of 14 bytes exceeds the limit of 8");
  small = GrammarLimits{};
  small.max_rules = 3;
  EXPECT_EQ(error_of("root ::= (\"a\") (\"b\") (\"c\")", small),
            "grammar: line 1, column 22: more than 3 rules (after expanding groups and repetitions)");
  small = GrammarLimits{};
  small.max_elements = 4;
  EXPECT_EQ(error_of("root ::= \"abcde\"", small),
            "grammar: line 1, column 10: more than 4 grammar symbols (after expanding groups and repetitions)");
  EXPECT_EQ(error_of("root ::= " + std::string(300, '(') + "\"a\"" + std::string(300, ')')),
            "grammar: line 1, column 266: groups nested deeper than 256");
  EXPECT_EQ(error_of("root ::= " + std::string(200, '(') + "\"a\"" + std::string(200, ')')), "");
  // Within limits, a bounded repetition expands.
  EXPECT_EQ(error_of("root ::= [0-9]{1,500}"), "");
}

TEST(GbnfParser, LargeGrammarOnOneLineParses) {
  // 19000 groups on one line: each generated rule must not rescan the text
  // for its line and column (that would be quadratic).
  std::string text = "root ::=";
  for (int i = 0; i < 19000; ++i) text += " (\"a\")";
  const auto g = parse_gbnf(text);
  EXPECT_EQ(g->rule_alternatives.size(), 19001u);
  // A chain of rules listed against their dependency order (the checks'
  // fixpoints must not take one pass per rule).
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 19000; ++i) chain += "r" + std::to_string(i) + " ::= \"x\" r" + std::to_string(i + 1) + " | r" + std::to_string(i + 1) + "\n";
  chain += "r19000 ::= \"end\"\n";
  EXPECT_EQ(parse_gbnf(chain)->rule_alternatives.size(), 19002u);
}

}  // namespace
}  // namespace kvs::grammar
