// Streaming detokenization: pieces are always whole UTF-8 characters.
// Token ids from HF tokenizers 0.23.3.
#include <gtest/gtest.h>

#include "engine/tokenizer/utf8.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

std::vector<std::string> stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip_special) {
  IncrementalDetokenizer detokenizer(tokenizer, skip_special);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(detokenizer.push(id));
  pieces.push_back(detokenizer.flush());
  return pieces;
}

TEST(IncrementalDetokenizer, EmojiSplitAcrossByteTokensIsHeldBack) {
  // llama2: "🫠" -> ['▁', '<0xF0>', '<0x9F>', '<0xAB>', '<0xA0>'].
  const auto pieces = stream(test::fixture_tokenizer("llama2"), {28705, 243, 162, 174, 163}, false);
  EXPECT_EQ(pieces, (std::vector<std::string>{" ", "", "", "", "\xF0\x9F\xAB\xA0", ""}));
}

TEST(IncrementalDetokenizer, ByteLevelPartialCharactersAreHeldBack) {
  // qwen3: "😀🫠 你好" -> ['ðŁĺĢ', 'ðŁ', '«', 'ł', 'Ġ', 'ä½łå¥½'].
  const auto pieces = stream(test::fixture_tokenizer("qwen3"), {141334, 9284, 104, 254, 220, 108386}, false);
  EXPECT_EQ(pieces, (std::vector<std::string>{"😀", "", "", "🫠", " ", "你好", ""}));
}

TEST(IncrementalDetokenizer, CjkCharacterAcrossTokens) {
  // qwen3: "龘龘" -> ['é¾', 'ĺ', 'é¾', 'ĺ']; llama2 falls back to 3 bytes each.
  EXPECT_EQ(stream(test::fixture_tokenizer("qwen3"), {82912, 246, 82912, 246}, false),
            (std::vector<std::string>{"", "龘", "", "龘", ""}));
  EXPECT_EQ(stream(test::fixture_tokenizer("llama2"), {28705, 236, 193, 155, 236, 193, 155}, false),
            (std::vector<std::string>{" ", "", "", "龘", "", "", "龘", ""}));
}

TEST(IncrementalDetokenizer, PiecesConcatenateToTheDecodedTextOnEveryFixtureLine) {
  for (const std::string name : {"llama2", "qwen3"}) {
    const Tokenizer& tokenizer = test::fixture_tokenizer(name);
    size_t equal = 0, lines = 0;
    for (const auto& line : test::read_expected_lines(test::fixture_tokenizer_dir(name) + "/expected.jsonl")) {
      std::string text;
      bool whole = true;
      for (const std::string& piece : stream(tokenizer, line.ids, false)) {
        whole = whole && utf8::is_valid(piece);
        text += piece;
      }
      // A stream keeps the space of llama2's "▁" prefix, which decode() strips.
      const std::string expected = name == "llama2" && !line.ids.empty() ? " " + line.decoded : line.decoded;
      equal += whole && text == expected;
      ++lines;
    }
    EXPECT_EQ(equal, lines) << name;
  }
}

TEST(IncrementalDetokenizer, SpecialTokensAreSkippedOnRequest) {
  const Tokenizer& qwen3 = test::fixture_tokenizer("qwen3");
  const std::vector<int32_t> ids = {151644, 872, 198, 9707, 0, 151645};  // <|im_start|>user\nHello!<|im_end|>
  std::string skipped, kept;
  for (const auto& p : stream(qwen3, ids, true)) skipped += p;
  for (const auto& p : stream(qwen3, ids, false)) kept += p;
  EXPECT_EQ(skipped, "user\nHello!");
  EXPECT_EQ(kept, "<|im_start|>user\nHello!<|im_end|>");
}

TEST(IncrementalDetokenizer, FlushReturnsAnIncompleteTailAndInvalidBytesPassThrough) {
  const Tokenizer& llama2 = test::fixture_tokenizer("llama2");
  IncrementalDetokenizer detokenizer(llama2, false);
  EXPECT_EQ(detokenizer.push(3 + 0xF0), "");  // <0xF0>: start of a 4-byte sequence
  EXPECT_EQ(detokenizer.push(3 + 0x9F), "");
  EXPECT_EQ(detokenizer.flush(), "\xF0\x9F");
  EXPECT_EQ(detokenizer.flush(), "");
  EXPECT_EQ(detokenizer.push(3 + 0xFF), "\xFF");  // never valid: not held
  EXPECT_EQ(detokenizer.push(3 + 0xE9), "");
  EXPECT_EQ(detokenizer.push(3 + 'A'), "\xE9" "A");  // broken sequence released as is
}

}  // namespace
}  // namespace kvs
