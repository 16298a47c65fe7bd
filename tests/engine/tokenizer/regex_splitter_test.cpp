// Pre-tokenizer splits. Expected pieces come from HF tokenizers 0.23.3
// (pre_tokenizers.Split(Regex(...), "isolated").pre_tokenize_str / ByteLevel).
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "engine/tokenizer/pre_tokenizer_presets.h"
#include "engine/tokenizer/regex_splitter.h"

namespace kvs {
namespace {

using Pieces = std::vector<std::string>;

const char* const kQwenRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

Pieces split(const RegexSplitter& splitter, const std::string& text) {
  Pieces out;
  for (std::string_view piece : splitter.split(text)) out.emplace_back(piece);
  return out;
}

TEST(RegexSplitter, QwenRegexMatchesHuggingFace) {
  const RegexSplitter splitter({kQwenRegex});
  EXPECT_EQ(split(splitter, "Hello   world\n\n  foo's 123"),
            (Pieces{"Hello", "  ", " world", "\n\n", " ", " foo", "'s", " ", "1", "2", "3"}));
  EXPECT_EQ(split(splitter, "  leading"), (Pieces{" ", " leading"}));
  EXPECT_EQ(split(splitter, "trailing   "), (Pieces{"trailing", "   "}));
  EXPECT_EQ(split(splitter, "I'M fine"), (Pieces{"I", "'M", " fine"}));
  // U+00A0 is whitespace, and [^\r\n\p{L}\p{N}]? takes one before a word.
  EXPECT_EQ(split(splitter, "a\u00a0\u00a0b"), (Pieces{"a", "\u00a0", "\u00a0b"}));
}

TEST(RegexSplitter, WhitespaceIsUnicodeWhiteSpaceNotPcreSpace) {
  // U+180E is not White_Space (Rust/Oniguruma/llama.cpp); PCRE2's \s has it.
  const RegexSplitter splitter({kQwenRegex});
  EXPECT_EQ(split(splitter, "x\u180e\u180ey"), (Pieces{"x", "\u180e\u180e", "y"}));
  const std::string rewritten = rewrite_whitespace_escapes(R"([^\s\p{L}]+|\s+(?!\S)|\\s)");
  EXPECT_EQ(rewritten.find("\\s"), rewritten.find("\\\\s") + 1);  // only the escaped backslash remains
  EXPECT_NE(rewritten.find("[^\\t\\n"), std::string::npos);
  EXPECT_NE(rewritten.find("(?![^\\t\\n"), std::string::npos);
}

TEST(RegexSplitter, Gpt2RegexMatchesHuggingFaceByteLevel) {
  const RegexSplitter splitter({kGpt2Regex});
  EXPECT_EQ(split(splitter, "Hello   world\n\n  foo's 123"),
            (Pieces{"Hello", "  ", " world", "\n\n ", " foo", "'s", " 123"}));
}

TEST(RegexSplitter, RegexesApplyInSequenceWithinPieces) {
  // smollm: digits isolated first, then GPT-2's regex inside each piece; the
  // whitespace before "1" sits at the end of its piece, so \s+(?!\S) keeps it.
  const RegexSplitter splitter(pre_tokenizer_preset("smollm").regexes);
  EXPECT_EQ(split(splitter, "ab  12c"), (Pieces{"ab", "  ", "1", "2", "c"}));
}

TEST(RegexSplitter, EmptyMatchesSplitWithoutPieces) {
  const RegexSplitter splitter({"(?=b)"});
  EXPECT_EQ(split(splitter, "abab"), (Pieces{"a", "ba", "b"}));
  EXPECT_TRUE(split(splitter, "").empty());
}

TEST(RegexSplitter, PiecesCoverTheText) {
  const RegexSplitter splitter({kQwenRegex});
  const std::string text = "Mixed: ünïcödé, 数字123, emoji 😀!\t\r\n end  ";
  std::string joined;
  for (const std::string& piece : split(splitter, text)) {
    EXPECT_FALSE(piece.empty());
    joined += piece;
  }
  EXPECT_EQ(joined, text);
}

TEST(RegexSplitter, BadRegexIsAModelLoadError) {
  EXPECT_THROW(RegexSplitter({"(unclosed"}), ModelLoadError);
  EXPECT_THROW(RegexSplitter({R"(\p{NoSuchProperty})"}), ModelLoadError);
}

TEST(PreTokenizerPresets, KnownNamesCompileAndUnknownNamesThrow) {
  for (const std::string& name : known_pre_tokenizer_names()) {
    SCOPED_TRACE(name);
    const PreTokenizerPreset preset = pre_tokenizer_preset(name);
    EXPECT_FALSE(preset.regexes.empty());
    EXPECT_NO_THROW(RegexSplitter{preset.regexes});
  }
  EXPECT_EQ(pre_tokenizer_preset("").regexes, pre_tokenizer_preset("default").regexes);
  EXPECT_TRUE(pre_tokenizer_preset("llama-bpe").ignore_merges);
  EXPECT_TRUE(pre_tokenizer_preset("llama3").add_bos);
  EXPECT_FALSE(pre_tokenizer_preset("qwen2").ignore_merges);
  EXPECT_THROW(pre_tokenizer_preset("no-such-pre"), ModelLoadError);
  EXPECT_THROW(pre_tokenizer_preset("kimi-k2"), ModelLoadError);  // custom splitter in llama.cpp
}

}  // namespace
}  // namespace kvs
