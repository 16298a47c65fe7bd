// regex_to_gbnf / choice_to_gbnf: GBNF text and errors.
#include "engine/grammar/regex_to_gbnf.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/errors.h"

namespace kvs::grammar {
namespace {

std::string error_of(const std::string& pattern) {
  try {
    regex_to_gbnf(pattern);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(RegexToGbnfText, LiteralsClassesAndRepeats) {
  EXPECT_EQ(regex_to_gbnf("abc"), "root ::= \"abc\"\n");
  EXPECT_EQ(regex_to_gbnf("^a[0-9]+$", "r"), "r ::= \"a\" [0-9]+\n");
  EXPECT_EQ(regex_to_gbnf("(?:ab|c){2,3}"), "root ::= (\"ab\" | \"c\"){2,3}\n");
  EXPECT_EQ(regex_to_gbnf("\\d{3}-x?"), "root ::= [0-9]{3} \"-\" \"x\"?\n");
}

TEST(RegexToGbnfErrors, NamesFeatureAndOffset) {
  EXPECT_EQ(error_of("(a)\\1"), "regex: backreferences are not supported at offset 3");
  EXPECT_EQ(error_of("a(?=b)"), "regex: lookaround assertions are not supported at offset 1");
  EXPECT_EQ(error_of("a(?<!b)"), "regex: lookaround assertions are not supported at offset 1");
  EXPECT_EQ(error_of("(a"), "regex: missing ')' at offset 0");
  EXPECT_EQ(error_of("a)"), "regex: unbalanced ')' at offset 1");
  EXPECT_EQ(error_of("*a"), "regex: nothing to repeat at offset 0");
  EXPECT_EQ(error_of("[a"), "regex: missing ']' at offset 0");
  EXPECT_EQ(error_of("a\\bc"), "regex: word boundaries (\\b) are not supported at offset 1");
  EXPECT_EQ(error_of("a{3,1}"), "regex: repetition {m,n} with n < m at offset 1");
  EXPECT_EQ(error_of("a$b"), "regex: '$' anchor is only supported at the end at offset 1");
  EXPECT_EQ(error_of("a\\012"), "regex: octal escapes are not supported at offset 1");
  EXPECT_EQ(error_of("[\\d-z]"), "regex: bad character range at offset 1");
  EXPECT_EQ(error_of("a{,3}"), "regex: '{,n}' (Python reads {0,n}, JavaScript a literal): write {0,n} at offset 1");
  EXPECT_EQ(error_of("[]a]"), "regex: ']' first in a class (dialects differ): escape it as \\] at offset 1");
  EXPECT_EQ(error_of("(?i)a"), "regex: unsupported group syntax (inline flags, conditionals...) at offset 0");
  EXPECT_EQ(error_of("\\p{L}"), "regex: Unicode property escapes are not supported at offset 0");
}

TEST(ChoiceToGbnf, LiteralsAndErrors) {
  EXPECT_EQ(choice_to_gbnf({"yes", "no", "yes", "a\"b"}), "root ::= \"yes\" | \"no\" | \"a\\\"b\"\n");
  EXPECT_THROW(choice_to_gbnf({}), InvalidArgument);
  EXPECT_THROW(choice_to_gbnf(std::vector<std::string>(4097, "x")), InvalidArgument);
}

}  // namespace
}  // namespace kvs::grammar

// ---- grammars checked with the real parser and matcher ----------------------
#include <nlohmann/json.hpp>

#include "engine/grammar/json_schema.h"
#include "tests/engine/grammar/schema_test_util.h"

namespace kvs::grammar {
namespace {

using test::accepts;
using test::compile_for_bytes;

struct RegexCase {
  const char* pattern;
  std::vector<std::string> full;   // matched in full
  std::vector<std::string> other;  // not matched in full
};

const std::vector<RegexCase>& regex_cases() {
  static const std::vector<RegexCase> cases = {
      {R"(^[A-Z]{2}-\d{3}$)", {"AB-123"}, {"AB-12", "ab-123", "AB-1234"}},
      {R"((?:ab|c)+x?)", {"ab", "cabx", "abcc"}, {"", "x", "abxx"}},
      {R"([^a-c\s]{2,})", {"dd", "xyz!", "\xc3\xa9\xc3\xa9"}, {"d", "da", "d d"}},
      {R"(a.c)", {"abc", "a-c", "a\xc3\xa9" "c", "a\"c"}, {"a\nc", "ac"}},
      {R"(\w+@\w+\.com)", {"a_1@b.com"}, {"a@b.org", "@b.com"}},
      {R"((a|)b)", {"ab", "b"}, {"aab"}},
      {R"(x{0}y)", {"y"}, {"xy"}},
      {R"([\d.-]+)", {"1.5", "-2", ".."}, {"a", ""}},
      {R"(\\\"[\]])", {"\\\"]"}, {"\\\"["}},
      {R"([a-])", {"a", "-"}, {"b"}},
      {R"(colou?r)", {"color", "colour"}, {"colouur"}},
      {R"(\u00e9|\x41)", {"\xc3\xa9", "A"}, {"e"}},
      {R"(\S\D\W)", {"ab!", "!x "}, {"a11", " xx"}},
      {R"((?P<n>ab){2})", {"abab"}, {"ab"}},
      {R"(a{2,3}?)", {"aa", "aaa"}, {"a", "aaaa"}},
      {R"([a{]{)", {"a{", "{{"}, {"a"}},
      {R"(\t[\b]\0)", {std::string("\t\b\0", 3)}, {"\t\b0"}},
      {R"(\d{1,3}(\.\d{1,3}){3})", {"10.0.0.1", "255.255.255.255"}, {"1.2.3", "1234.1.1.1"}},
  };
  return cases;
}

TEST(RegexToGbnfMatch, FullMatch) {
  for (const RegexCase& c : regex_cases()) {
    SCOPED_TRACE(c.pattern);
    const std::string gbnf = regex_to_gbnf(c.pattern);
    const auto g = compile_for_bytes(gbnf);
    for (const std::string& s : c.full) EXPECT_TRUE(accepts(g, s)) << s << "\n" << gbnf;
    for (const std::string& s : c.other) EXPECT_FALSE(accepts(g, s)) << s << "\n" << gbnf;
  }
}

// The same regexes as a JSON Schema "pattern" (anchored): the JSON-encoded strings.
TEST(RegexToGbnfMatch, JsonStringPattern) {
  for (const RegexCase& c : regex_cases()) {
    SCOPED_TRACE(c.pattern);
    const std::string pattern = c.pattern[0] == '^' ? c.pattern : "^(?:" + std::string(c.pattern) + ")$";
    const std::string gbnf = json_schema_to_gbnf(nlohmann::json{{"type", "string"}, {"pattern", pattern}}.dump());
    const auto g = compile_for_bytes(gbnf);
    for (const std::string& s : c.full) EXPECT_TRUE(accepts(g, nlohmann::json(s).dump())) << s << "\n" << gbnf;
    for (const std::string& s : c.other) EXPECT_FALSE(accepts(g, nlohmann::json(s).dump())) << s << "\n" << gbnf;
  }
}

// JSON Schema patterns are searched: an unanchored end may have any text.
TEST(RegexToGbnfMatch, JsonPatternSearchSemantics) {
  const auto g = compile_for_bytes(json_schema_to_gbnf(R"({"type":"string","pattern":"ab+c|^x$"})"));
  for (const char* ok : {R"("abc")", R"("--abbc--")", R"("\"abc\\")", R"("x")"}) EXPECT_TRUE(accepts(g, ok)) << ok;
  for (const char* bad : {R"("ac")", R"("xx")", R"("")", R"("ab\nc")"}) EXPECT_FALSE(accepts(g, bad)) << bad;
  const auto start = compile_for_bytes(json_schema_to_gbnf(R"({"type":"string","pattern":"^id-"})"));
  EXPECT_TRUE(accepts(start, R"("id-7 and more")"));
  EXPECT_FALSE(accepts(start, R"("my id-7")"));
}

TEST(ChoiceToGbnfMatch, ExactlyOneChoice) {
  const auto g = compile_for_bytes(choice_to_gbnf({"yes", "no", "yes, please", "\xc3\xa9t\xc3\xa9\n"}));
  for (const char* ok : {"yes", "no", "yes, please", "\xc3\xa9t\xc3\xa9\n"}) EXPECT_TRUE(accepts(g, ok)) << ok;
  for (const char* bad : {"", "ye", "yesno", "No", "yes, "}) EXPECT_FALSE(accepts(g, bad)) << bad;
}

}  // namespace
}  // namespace kvs::grammar
