// Bad specs fail at Tokenizer::create with ModelLoadError; bad ids at decode
// with InvalidArgument; bad UTF-8 input is repaired, not rejected.
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

TokenizerSpec valid_spec() { return test::tiny_byte_level_spec({"a b"}); }

TEST(TokenizerErrors, ValidSpecBuilds) { EXPECT_NO_THROW(Tokenizer::create(valid_spec())); }

TEST(TokenizerErrors, InconsistentSpecsAreModelLoadErrors) {
  auto expect_error = [](const char* what, const std::function<void(TokenizerSpec&)>& damage) {
    SCOPED_TRACE(what);
    TokenizerSpec spec = valid_spec();
    damage(spec);
    EXPECT_THROW(Tokenizer::create(spec), ModelLoadError);
  };
  expect_error("empty vocabulary", [](TokenizerSpec& s) { s.tokens.clear(), s.token_types.clear(), s.merges.clear(); });
  expect_error("types length", [](TokenizerSpec& s) { s.token_types.pop_back(); });
  expect_error("scores length", [](TokenizerSpec& s) { s.scores = {1.0f}; });
  expect_error("merge of unknown piece", [](TokenizerSpec& s) { s.merges.push_back("a zz"); });
  expect_error("merge result not in vocab", [](TokenizerSpec& s) { s.merges.push_back("c d"); });
  expect_error("malformed merge", [](TokenizerSpec& s) { s.merges.push_back("ab"); });
  expect_error("byte-level without merges", [](TokenizerSpec& s) { s.merges.clear(); });
  expect_error("unknown pre-tokenizer", [](TokenizerSpec& s) { s.pre_name = "no-such-pre"; });
  expect_error("bad regex", [](TokenizerSpec& s) { s.pre_regexes = {"([a-z"}; });
  expect_error("bos out of range", [](TokenizerSpec& s) { s.bos_id = 100000; });
  expect_error("eos below -1", [](TokenizerSpec& s) { s.eos_id = -2; });
  expect_error("eog out of range", [](TokenizerSpec& s) { s.eog_ids = {5, 100000}; });
  expect_error("add_bos without bos", [](TokenizerSpec& s) { s.add_bos = true; });
  expect_error("add_eos without eos", [](TokenizerSpec& s) { s.add_eos = true; });
  expect_error("unknown normalizer", [](TokenizerSpec& s) { s.normalizer = "lowercase"; });
  expect_error("sentencepiece normalizer on byte-level", [](TokenizerSpec& s) { s.normalizer = "sentencepiece"; });
  expect_error("byte_fallback without byte tokens", [](TokenizerSpec& s) { s.byte_fallback = true; });
}

TEST(TokenizerErrors, ScoredSentencePieceNeedsScores) {
  TokenizerSpec spec = test::tiny_scored_spm_spec({{"a", -1}});
  EXPECT_NO_THROW(Tokenizer::create(spec));
  spec.scores.clear();
  EXPECT_THROW(Tokenizer::create(spec), ModelLoadError);
}

TEST(TokenizerErrors, MissingTokenTypesMeanNormal) {
  TokenizerSpec spec = valid_spec();
  spec.token_types.clear();
  const auto tokenizer = Tokenizer::create(spec);
  EXPECT_EQ(tokenizer->spec().token_types.size(), spec.tokens.size());
  EXPECT_EQ(tokenizer->encode("ab", false, false), std::vector<int32_t>{256});
}

TEST(TokenizerErrors, OutOfRangeIdsAreInvalidArguments) {
  const auto tokenizer = Tokenizer::create(valid_spec());
  EXPECT_THROW(tokenizer->decode({0, 257}, false), InvalidArgument);
  EXPECT_THROW(tokenizer->decode({-1}, false), InvalidArgument);
  EXPECT_THROW(tokenizer->token_bytes(257), InvalidArgument);
  IncrementalDetokenizer detokenizer(*tokenizer, false);
  EXPECT_THROW(detokenizer.push(1000), InvalidArgument);
  EXPECT_FALSE(tokenizer->is_special(-5));
  EXPECT_FALSE(tokenizer->is_end_of_generation(-5));
}

TEST(TokenizerErrors, InvalidUtf8IsReplacedNotRejected) {
  const Tokenizer& qwen3 = test::fixture_tokenizer("qwen3");
  EXPECT_EQ(qwen3.encode("a\xFF" "b", false, false), qwen3.encode("a\xEF\xBF\xBD" "b", false, false));
  EXPECT_EQ(qwen3.encode("\xE4\xBD", false, false), qwen3.encode("\xEF\xBF\xBD\xEF\xBF\xBD", false, false));
}

}  // namespace
}  // namespace kvs
