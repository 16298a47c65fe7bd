// Every line of the HF reference fixtures: our ids and decode must equal
// Hugging Face tokenizers' (shared/fixtures/tokenizers/*/expected.jsonl).
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? "," : "") << ids[i];
  return out.str();
}

class HfFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HfFixtureTest, EveryLineEncodesAndDecodesLikeHuggingFace) {
  const Tokenizer& tokenizer = test::fixture_tokenizer(GetParam());
  const auto lines = test::read_expected_lines(test::fixture_tokenizer_dir(GetParam()) + "/expected.jsonl");
  ASSERT_GE(lines.size(), 3000u);

  size_t ids_equal = 0, decode_equal = 0, plain_equal = 0;
  std::ostringstream failures;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    // HF always splits out added tokens: that is parse_special = true.
    const std::vector<int32_t> ids = tokenizer.encode(line.text, /*add_special=*/false, /*parse_special=*/true);
    if (ids == line.ids) {
      ++ids_equal;
    } else if (ids_equal + 10 > i) {
      failures << "line " << i << " " << nlohmann::json(line.text).dump() << "\n  want "
               << ids_to_string(line.ids) << "\n  got  " << ids_to_string(ids) << "\n";
    }
    // No fixture line spells a special token, so plain-text mode must agree.
    if (tokenizer.encode(line.text, false, /*parse_special=*/false) == line.ids) ++plain_equal;
    if (tokenizer.decode(line.ids, /*skip_special=*/false) == line.decoded) ++decode_equal;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ fixture  ] " << GetParam() << ": ids " << ids_equal << "/" << lines.size() << ", decode "
            << decode_equal << "/" << lines.size() << ", parse_special=false ids " << plain_equal << "/"
            << lines.size() << " (" << seconds << " s for both encodes + decode)\n";
  EXPECT_EQ(ids_equal, lines.size()) << failures.str();
  EXPECT_EQ(plain_equal, lines.size());
  EXPECT_EQ(decode_equal, lines.size());
  // NOTE: a bound, not a benchmark: two encodes + a decode of ~3k lines.
  EXPECT_LT(seconds, 5.0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfFixtureTest, ::testing::Values("llama2", "qwen3"),
                         [](const auto& info) { return info.param; });

TEST(HfFixtureSpec, Llama2IsSentencePieceWithByteFallback) {
  const TokenizerSpec& spec = test::fixture_tokenizer("llama2").spec();
  EXPECT_EQ(spec.kind, TokenizerKind::SentencePieceBpe);
  EXPECT_EQ(spec.tokens.size(), 32000u);
  EXPECT_EQ(spec.merges.size(), 58980u);
  EXPECT_TRUE(spec.byte_fallback);
  EXPECT_TRUE(spec.add_space_prefix);
  EXPECT_TRUE(spec.add_bos);
  EXPECT_FALSE(spec.add_eos);
  EXPECT_EQ(spec.bos_id, 1);
  EXPECT_EQ(spec.eos_id, 2);
  EXPECT_EQ(spec.unk_id, 0);
  EXPECT_EQ(spec.token_types[0], TokenType::Unknown);
  EXPECT_EQ(spec.token_types[1], TokenType::Control);
  EXPECT_EQ(spec.token_types[3], TokenType::Byte);  // <0x00>
  EXPECT_EQ(spec.eog_ids, std::vector<int32_t>{2});
}

TEST(HfFixtureSpec, Qwen3IsByteLevelWithNfcAndAddedTokens) {
  const TokenizerSpec& spec = test::fixture_tokenizer("qwen3").spec();
  EXPECT_EQ(spec.kind, TokenizerKind::ByteLevelBpe);
  EXPECT_EQ(spec.normalizer, "nfc");
  EXPECT_EQ(spec.tokens.size(), 151669u);
  EXPECT_EQ(spec.pre_regexes.size(), 1u);
  EXPECT_FALSE(spec.add_bos);
  EXPECT_EQ(spec.eos_id, 151645);  // <|im_end|>
  EXPECT_EQ(spec.pad_id, 151643);  // <|endoftext|>
  size_t control = 0, user_defined = 0;
  for (TokenType type : spec.token_types) {
    control += type == TokenType::Control;
    user_defined += type == TokenType::UserDefined;
  }
  EXPECT_EQ(control, 14u);
  EXPECT_EQ(user_defined, 12u);
  // <|endoftext|>, <|im_end|>, and llama.cpp's FIM pad / repo / file-sep markers.
  EXPECT_EQ(spec.eog_ids, (std::vector<int32_t>{151643, 151645, 151662, 151663, 151664}));
}

// Ids from HF tokenizers 0.23.3 (Tokenizer.from_file(...).encode(text)).
TEST(HfFixtureSpec, AddSpecialPrependsBosOnlyWhereConfigured) {
  EXPECT_EQ(test::fixture_tokenizer("llama2").encode("Hello world", true, false),
            (std::vector<int32_t>{1, 22557, 1526}));
  EXPECT_EQ(test::fixture_tokenizer("llama2").encode("", true, false), std::vector<int32_t>{1});
  EXPECT_EQ(test::fixture_tokenizer("qwen3").encode("Hello world", true, false),
            (std::vector<int32_t>{9707, 1879}));
}

TEST(HfFixtureSpec, NfcComposesBeforeMerging) {
  // "cafe" + U+0301 (combining acute) normalizes to "café".
  const Tokenizer& qwen3 = test::fixture_tokenizer("qwen3");
  EXPECT_EQ(qwen3.encode("cafe\xCC\x81", false, false), (std::vector<int32_t>{924, 58858}));
  EXPECT_EQ(qwen3.encode("caf\xC3\xA9", false, false), (std::vector<int32_t>{924, 58858}));
}

}  // namespace
}  // namespace kvs
