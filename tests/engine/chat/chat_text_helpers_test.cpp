// The string helpers behind chat rendering: Python's strip() and Jinja literals.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/chat/jinja_literals.h"
#include "engine/chat/python_strings.h"

namespace kvs::chat {
namespace {

TEST(PythonStrings, StripRemovesUnicodeWhitespaceButNotZeroWidthSpace) {
  EXPECT_EQ(python_strip(" \t\n\v\f\r\x1c\x1f abc \xC2\xA0"), "abc");
  EXPECT_EQ(python_strip("\xE3\x80\x80wide\xC2\xA0space\xE2\x80\x83"), "wide\xC2\xA0space");
  EXPECT_EQ(python_strip("\xE2\x80\x8Bx\xE2\x80\x8B"), "\xE2\x80\x8Bx\xE2\x80\x8B");  // U+200B
  EXPECT_EQ(python_strip("\xC2\x85x\xE2\x80\xA8\xE2\x80\xA9"), "x");  // U+0085, U+2028/9
  EXPECT_EQ(python_strip("   "), "");
  EXPECT_EQ(python_strip(""), "");
  // Invalid UTF-8 (a lone continuation byte, an overlong space) is not whitespace.
  EXPECT_EQ(python_strip("\x80 x \xC0\xA0"), "\x80 x \xC0\xA0");
}

TEST(PythonStrings, SplitAndCharStrip) {
  EXPECT_EQ(before_first("a</think>b</think>c", "</think>"), "a");
  EXPECT_EQ(after_last("a</think>b</think>c", "</think>"), "c");
  EXPECT_EQ(after_last("abc", "<think>"), "abc");
  EXPECT_EQ(lstrip_char("\n\nx\n", '\n'), "x\n");
  EXPECT_EQ(rstrip_char("\nx\n\n", '\n'), "\nx");
  EXPECT_EQ(strip_char("\n\n", '\n'), "");
}

TEST(JinjaLiterals, DecodesEscapesInsideTagsOnly) {
  const std::string source =
      "text 'outside' {{ 'a\\nb' + \"c\\\"d\" }}{# 'comment' #}{%- set x = 'e\\'f\\u00e9\\x41' -%}"
      "{{ 'g\\q' }}";
  const std::vector<std::string> expected = {"a\nb", "c\"d",
                                             "e'f\xC3\xA9"
                                             "A",
                                             "g\\q"};
  EXPECT_EQ(jinja_string_literals(source), expected);
}

TEST(JinjaLiterals, ClosingBracesInsideALiteralDoNotEndTheTag) {
  EXPECT_EQ(jinja_string_literals("{{ '}}' + 'x' }}{{ 'y' }}"),
            (std::vector<std::string>{"}}", "x", "y"}));
  EXPECT_EQ(jinja_string_literals("{{ 'unterminated"), std::vector<std::string>{});
}

}  // namespace
}  // namespace kvs::chat
