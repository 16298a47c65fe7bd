#include <gtest/gtest.h>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/utf8.h"

namespace kvs {
namespace {

TEST(Utf8, DecodeIsStrict) {
  auto decodes = [](std::string_view text) {
    size_t pos = 0;
    uint32_t cp = 0;
    return utf8::decode(text, pos, cp) && pos == text.size();
  };
  EXPECT_TRUE(decodes("\xF0\x9F\x98\x80"));
  EXPECT_TRUE(decodes("\xE4\xBD\xA0"));
  EXPECT_FALSE(decodes("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(decodes("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(decodes("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(decodes("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(decodes("\xE4\xBD"));          // truncated
  EXPECT_FALSE(decodes("\x80"));
}

TEST(Utf8, RepairReplacesEachBadByte) {
  EXPECT_EQ(utf8::repair("ok"), "ok");
  EXPECT_EQ(utf8::repair("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8::repair("\xE4\xBD"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(utf8::is_valid(utf8::repair("\xC0\xAF\xED\xA0\x80z")));
}

TEST(Utf8, CompletePrefixHoldsBackOnlyUnfinishedSequences) {
  EXPECT_EQ(utf8::complete_prefix_length(""), 0u);
  EXPECT_EQ(utf8::complete_prefix_length("abc"), 3u);
  EXPECT_EQ(utf8::complete_prefix_length("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(utf8::complete_prefix_length("a\xF0\x9F\x98\x80"), 5u);
  EXPECT_EQ(utf8::complete_prefix_length("a\xE4"), 1u);
  EXPECT_EQ(utf8::complete_prefix_length("a\xFF"), 2u);      // never valid
  EXPECT_EQ(utf8::complete_prefix_length("a\x80\x80"), 3u);  // stray continuations
  EXPECT_EQ(utf8::complete_prefix_length("\xE4\xBD" "A"), 3u);
}

TEST(ByteLevel, MappingRoundTripsEveryByte) {
  EXPECT_EQ(byte_level::char_for_byte(' '), "\xC4\xA0");   // 'Ġ'
  EXPECT_EQ(byte_level::char_for_byte('\n'), "\xC4\x8A");  // 'Ċ'
  EXPECT_EQ(byte_level::char_for_byte('a'), "a");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string back;
  EXPECT_TRUE(byte_level::decode(byte_level::encode(all), back));
  EXPECT_EQ(back, all);
  std::string kept;
  EXPECT_FALSE(byte_level::decode("a\xE4\xBD\xA0", kept));  // '你' is not a byte character
  EXPECT_EQ(kept, "a\xE4\xBD\xA0");
}

}  // namespace
}  // namespace kvs
