// Special / added tokens in text. Expected ids from HF tokenizers 0.23.3
// (parse_special=false against `encode_special_tokens = True`).
#include <gtest/gtest.h>

#include "engine/tokenizer/special_token_matcher.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

using Ids = std::vector<int32_t>;
const char* const kChat = "<|im_start|>user\nHello!<|im_end|>\n";

TEST(SpecialTokens, ChatPromptParsesControlTokens) {
  const Tokenizer& qwen3 = test::fixture_tokenizer("qwen3");
  EXPECT_EQ(qwen3.encode(kChat, false, true), (Ids{151644, 872, 198, 9707, 0, 151645, 198}));
  EXPECT_EQ(qwen3.encode("a<|im_end|>b", false, true), (Ids{64, 151645, 65}));
}

TEST(SpecialTokens, WithoutParseSpecialControlTokensAreText) {
  const Tokenizer& qwen3 = test::fixture_tokenizer("qwen3");
  EXPECT_EQ(qwen3.encode(kChat, false, false),
            (Ids{27, 91, 318, 4906, 91, 29, 872, 198, 9707, 86932, 91, 318, 6213, 91, 397}));
  EXPECT_EQ(qwen3.decode(qwen3.encode(kChat, false, false), false), kChat);
  const Tokenizer& llama2 = test::fixture_tokenizer("llama2");
  EXPECT_EQ(llama2.encode("<s>Hello</s>", false, false), (Ids{523, 28713, 28767, 16230, 700, 28713, 28767}));
  // Parsed, the text after a special token gets its own "▁" prefix.
  EXPECT_EQ(llama2.encode("<s>Hello</s>", false, true), (Ids{1, 22557, 2}));
}

TEST(SpecialTokens, UserDefinedTokensAreAlwaysMatched) {
  const Tokenizer& qwen3 = test::fixture_tokenizer("qwen3");
  for (bool parse_special : {false, true}) {
    EXPECT_EQ(qwen3.encode("<think>\nok</think>", false, parse_special), (Ids{151667, 198, 562, 151668}));
  }
  EXPECT_FALSE(qwen3.is_special(151667));
  EXPECT_TRUE(qwen3.is_special(151644));
  EXPECT_EQ(qwen3.decode({151667, 198, 562, 151668}, /*skip_special=*/true), "<think>\nok</think>");
}

TEST(SpecialTokens, DecodeSkipsControlTokensOnRequest) {
  const Tokenizer& qwen3 = test::fixture_tokenizer("qwen3");
  const Ids ids = qwen3.encode(kChat, false, true);
  EXPECT_EQ(qwen3.decode(ids, false), kChat);
  EXPECT_EQ(qwen3.decode(ids, true), "user\nHello!\n");
  EXPECT_TRUE(qwen3.is_end_of_generation(151645));
  EXPECT_TRUE(qwen3.is_end_of_generation(151643));
  EXPECT_FALSE(qwen3.is_end_of_generation(151644));
  EXPECT_FALSE(qwen3.is_end_of_generation(128247));  // an ordinary "</s>" piece in Qwen's vocab
}

TEST(SpecialTokens, MatchingIsLeftmostLongest) {
  TokenizerSpec spec = test::tiny_byte_level_spec({"a b"});
  const int32_t ab = test::add_token(spec, "<ab>", TokenType::Control);
  const int32_t abc = test::add_token(spec, "<ab>c", TokenType::Control);
  const int32_t bc = test::add_token(spec, "b>c", TokenType::UserDefined);
  const auto tokenizer = Tokenizer::create(spec);
  // Longest at the same start.
  EXPECT_EQ(tokenizer->encode("<ab>c<ab>", false, true), (Ids{abc, ab}));
  // Leftmost wins over a later, longer one; UserDefined matches without parse_special.
  EXPECT_EQ(tokenizer->encode("<ab>c", false, false), (Ids{'<', 'a', bc}));
}

TEST(SpecialTokens, MatcherSegmentsText) {
  TokenizerSpec spec = test::tiny_byte_level_spec({"a b"});
  const int32_t x = test::add_token(spec, "<x>", TokenType::Control);
  const SpecialTokenMatcher matcher(spec);
  const auto segments = matcher.split("1<x><x>2", true);
  ASSERT_EQ(segments.size(), 4u);
  EXPECT_EQ(segments[0].text, "1");
  EXPECT_EQ(segments[1].token, x);
  EXPECT_EQ(segments[2].token, x);
  EXPECT_EQ(segments[3].text, "2");
  EXPECT_EQ(matcher.split("1<x><x>2", false).size(), 1u);
  EXPECT_TRUE(matcher.split("", true).empty());
}

}  // namespace
}  // namespace kvs
