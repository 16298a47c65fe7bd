// The merge loop on tiny hand-made vocabularies: rank order, ties, ignore_merges,
// scores, byte fallback and unknown characters.
#include <gtest/gtest.h>

#include "engine/tokenizer/bpe_model.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

using test::id_of;
using Ids = std::vector<int32_t>;

TEST(BpeMerge, LowerRankMergesFirst) {
  TokenizerSpec spec = test::tiny_byte_level_spec({"b c", "a b"});
  const auto tokenizer = Tokenizer::create(spec);
  // "b c" (rank 0) wins over "a b" (rank 1); "a bc" is no merge.
  EXPECT_EQ(tokenizer->encode("abc", false, false), (Ids{'a', id_of(spec, "bc")}));

  TokenizerSpec swapped = test::tiny_byte_level_spec({"a b", "b c"});
  EXPECT_EQ(Tokenizer::create(swapped)->encode("abc", false, false), (Ids{id_of(swapped, "ab"), 'c'}));
}

TEST(BpeMerge, EqualRanksMergeLeftmostFirstAndMergesChain) {
  TokenizerSpec spec = test::tiny_byte_level_spec({"a a", "aa a"});
  const auto tokenizer = Tokenizer::create(spec);
  EXPECT_EQ(tokenizer->encode("aaaa", false, false), (Ids{id_of(spec, "aa"), id_of(spec, "aa")}));
  EXPECT_EQ(tokenizer->encode("aaa", false, false), (Ids{id_of(spec, "aaa")}));
  EXPECT_EQ(tokenizer->encode("aaaaa", false, false), (Ids{id_of(spec, "aa"), id_of(spec, "aaa")}));
}

TEST(BpeMerge, IgnoreMergesTakesAWholeVocabularyWord) {
  TokenizerSpec spec = test::tiny_byte_level_spec({"a b"});
  const int32_t abc = test::add_token(spec, "abc", TokenType::Normal);
  EXPECT_EQ(Tokenizer::create(spec)->encode("abc", false, false), (Ids{id_of(spec, "ab"), 'c'}));
  spec.ignore_merges = true;
  EXPECT_EQ(Tokenizer::create(spec)->encode("abc", false, false), (Ids{abc}));
}

TEST(BpeMerge, ByteLevelSpacesAreMergedWithTheWordAfter) {
  TokenizerSpec spec = test::tiny_byte_level_spec({"Ġ w", "Ġw o"});
  const auto tokenizer = Tokenizer::create(spec);
  EXPECT_EQ(tokenizer->encode("a wo", false, false), (Ids{'a', id_of(spec, "Ġwo")}));
  EXPECT_EQ(tokenizer->decode({'a', id_of(spec, "Ġwo")}, false), "a wo");
}

TEST(BpeMerge, ScoresPickTheBestScoredPieceFirst) {
  // "▁ab": candidates "▁a" (-3) and "ab" (-1): "ab" first, then "▁ab" (-2).
  TokenizerSpec spec = test::tiny_scored_spm_spec(
      {{"\xE2\x96\x81", -5}, {"a", -6}, {"b", -6}, {"\xE2\x96\x81" "a", -3}, {"ab", -1}, {"\xE2\x96\x81" "ab", -2}});
  const auto tokenizer = Tokenizer::create(spec);
  EXPECT_EQ(tokenizer->encode("ab", false, false), (Ids{id_of(spec, "\xE2\x96\x81" "ab")}));
  // Without "▁ab" the best pair "ab" still wins over "▁a".
  spec.tokens[id_of(spec, "\xE2\x96\x81" "ab")] = "unused-piece";
  EXPECT_EQ(Tokenizer::create(spec)->encode("ab", false, false),
            (Ids{id_of(spec, "\xE2\x96\x81"), id_of(spec, "ab")}));
}

TEST(BpeMerge, ScoredVocabularyFallsBackToBytesAndStripsThePrefixOnDecode) {
  TokenizerSpec spec = test::tiny_scored_spm_spec({{"\xE2\x96\x81", -5}, {"a", -6}});
  const auto tokenizer = Tokenizer::create(spec);
  // "é" is not a piece: its two UTF-8 bytes become <0xC3> <0xA9> (ids 3 + byte).
  const Ids ids = tokenizer->encode("a\xC3\xA9", true, false);
  EXPECT_EQ(ids, (Ids{1, id_of(spec, "\xE2\x96\x81"), id_of(spec, "a"), 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tokenizer->decode(ids, true), "a\xC3\xA9");
  EXPECT_EQ(tokenizer->decode(ids, false), "<s> a\xC3\xA9");
}

TEST(BpeMerge, ScoredMergesNeverProduceControlOrByteTokens) {
  // The text "<s>" must not merge into the control token <s> (SentencePiece rule).
  TokenizerSpec spec = test::tiny_scored_spm_spec({{"<", -1}, {"s", -1}, {">", -1}, {"<s", -1}});
  spec.add_space_prefix = false;
  const auto tokenizer = Tokenizer::create(spec);
  EXPECT_EQ(tokenizer->encode("<s>", false, false), (Ids{id_of(spec, "<s"), id_of(spec, ">")}));
  EXPECT_EQ(tokenizer->encode("<s>", false, true), (Ids{1}));
}

TEST(BpeMerge, UnknownCharacterBecomesUnkOrIsDropped) {
  // SentencePiece with merges (HF style), no byte fallback.
  TokenizerSpec spec;
  spec.kind = TokenizerKind::SentencePieceBpe;
  spec.tokens = {"<unk>", "\xE2\x96\x81", "a", "\xE2\x96\x81" "a"};
  spec.token_types = {TokenType::Unknown, TokenType::Normal, TokenType::Normal, TokenType::Normal};
  spec.merges = {"\xE2\x96\x81 a"};
  spec.add_space_prefix = true;
  spec.unk_id = 0;
  EXPECT_EQ(Tokenizer::create(spec)->encode("a\xC3\xA9", false, false), (Ids{3, 0}));
  spec.unk_id = -1;
  spec.token_types[0] = TokenType::Normal;
  EXPECT_EQ(Tokenizer::create(spec)->encode("a\xC3\xA9", false, false), (Ids{3}));
}

TEST(BpeMerge, ByteFallbackWithRankedMerges) {
  // Same as HF's llama2: unknown characters become <0xXX> tokens.
  const Tokenizer& llama2 = test::fixture_tokenizer("llama2");
  // HF tokenizers 0.23.3: "龘" -> ['▁', '<0xE9>', '<0xBE>', '<0x98>'].
  EXPECT_EQ(llama2.encode("\xE9\xBE\x98", false, false), (Ids{28705, 236, 193, 155}));
}

}  // namespace
}  // namespace kvs
