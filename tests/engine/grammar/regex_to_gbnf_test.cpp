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
