// tokenizer.json reading (beyond the fixtures) and writing: round trips keep
// every encoding; unsupported components are ModelLoadErrors.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "engine/errors.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace kvs {
namespace {

using nlohmann::json;

void expect_same_spec(const TokenizerSpec& a, const TokenizerSpec& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.token_types, b.token_types);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.normalizer, b.normalizer);
  EXPECT_EQ(a.pre_regexes, b.pre_regexes);
  EXPECT_EQ(a.add_bos, b.add_bos);
  EXPECT_EQ(a.add_eos, b.add_eos);
  EXPECT_EQ(a.add_space_prefix, b.add_space_prefix);
  EXPECT_EQ(a.byte_fallback, b.byte_fallback);
  EXPECT_EQ(a.ignore_merges, b.ignore_merges);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
  EXPECT_EQ(a.unk_id, b.unk_id);
  EXPECT_EQ(a.pad_id, b.pad_id);
  EXPECT_EQ(a.eog_ids, b.eog_ids);
}

class JsonRoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(JsonRoundTripTest, WrittenJsonReadsBackToTheSameSpecAndIds) {
  const TokenizerSpec& original = test::fixture_tokenizer(GetParam()).spec();
  const std::string written = tokenizer_json_from_spec(original);
  const TokenizerSpec reread = tokenizer_spec_from_json(written, tokenizer_config_json_from_spec(original));
  expect_same_spec(original, reread);

  const auto tokenizer = Tokenizer::create(reread);
  size_t equal = 0;
  const auto lines = test::read_expected_lines(test::fixture_tokenizer_dir(GetParam()) + "/expected.jsonl");
  for (const auto& line : lines) equal += tokenizer->encode(line.text, false, true) == line.ids;
  EXPECT_EQ(equal, lines.size());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, JsonRoundTripTest, ::testing::Values("llama2", "qwen3"),
                         [](const auto& info) { return info.param; });

TEST(TokenizerJsonWrite, ScoredSentencePieceGetsMergesThatEncodeAlike) {
  const std::string s = "\xE2\x96\x81";  // ▁
  TokenizerSpec scored = test::tiny_scored_spm_spec({{s, -1},      {"a", -2},     {"b", -3},
                                                     {"c", -4},    {s + "a", -5}, {"ab", -6},
                                                     {"bc", -7},   {s + "ab", -8}, {"abc", -9},
                                                     {s + "abc", -10}, {"ca", -11}});
  const std::string written = tokenizer_json_from_spec(scored);
  const json j = json::parse(written);
  EXPECT_TRUE(j["model"]["byte_fallback"].get<bool>());
  EXPECT_EQ(j["model"]["merges"][0], s + " a");  // best-scored piece first
  const auto from_scores = Tokenizer::create(scored);
  const auto from_merges = Tokenizer::create(tokenizer_spec_from_json(written, tokenizer_config_json_from_spec(scored)));
  for (const std::string text : {"abc", "a b c", "cab abca", "bcabc", "xyz ab", "c\xC3\xA9" "a"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(from_merges->encode(text, true, false), from_scores->encode(text, true, false));
  }
}

TEST(TokenizerJsonWrite, ByteLevelSpecFromPreNameWritesItsRegexes) {
  TokenizerSpec spec = test::tiny_byte_level_spec({"a b"}, "smollm");
  const json j = json::parse(tokenizer_json_from_spec(spec));
  const json& steps = j["pre_tokenizer"]["pretokenizers"];
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0]["pattern"]["Regex"], "\\p{N}");
  EXPECT_EQ(steps[2]["type"], "ByteLevel");
  const TokenizerSpec reread = tokenizer_spec_from_json(j.dump(), "");
  EXPECT_EQ(Tokenizer::create(reread)->encode("ab 12", false, false),
            Tokenizer::create(spec)->encode("ab 12", false, false));
}

// \C matches one byte even in UTF mode, so a match could end inside a
// character; the regexes come from the model's files, so PCRE2 is told to
// refuse it (PCRE2_NEVER_BACKSLASH_C) and loading fails with a clear error.
TEST(TokenizerJsonRead, PreTokenizerRegexWithBackslashCIsRejected) {
  json j = json::parse(tokenizer_json_from_spec(test::tiny_byte_level_spec({"a b"}, "smollm")));
  const auto load = [&j](const std::string& regex) {
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = regex;
    return Tokenizer::create(tokenizer_spec_from_json(j.dump(), ""));
  };
  EXPECT_NO_THROW(load("\\p{N}"));
  for (const std::string regex : {"\\C", "a\\C+b", "(?:\\p{L}|\\C)"}) {
    SCOPED_TRACE(regex);
    try {
      load(regex);
      ADD_FAILURE() << "a regex with \\C loaded";
    } catch (const ModelLoadError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("pre-tokenizer regex"), std::string::npos) << message;
      EXPECT_NE(message.find("'" + regex + "'"), std::string::npos) << "names the regex: " << message;
      EXPECT_NE(message.find("\\C is disabled"), std::string::npos) << "says why: " << message;
    }
  }
}

// A minimal tokenizer.json around `pipeline` entries (normalizer, pre_tokenizer, ...).
std::string minimal_json(const json& pipeline) {
  json j = {{"added_tokens", json::array()},
            {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}, {"\xE2\x96\x81", 3}}},
                       {"merges", {"a b"}}}}};
  for (const auto& item : pipeline.items()) j[item.key()] = item.value();
  return j.dump();
}

TEST(TokenizerJsonRead, MetaspaceMeansSentencePiece) {
  const json metaspace = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"},
                          {"prepend_scheme", "always"}, {"split", false}};
  const TokenizerSpec spec = tokenizer_spec_from_json(minimal_json({{"pre_tokenizer", metaspace}}), "");
  EXPECT_EQ(spec.kind, TokenizerKind::SentencePieceBpe);
  EXPECT_TRUE(spec.add_space_prefix);
  EXPECT_TRUE(spec.pre_regexes.empty());
  EXPECT_EQ(Tokenizer::create(spec)->encode("ab", false, false), (std::vector<int32_t>{3, 2}));
}

TEST(TokenizerJsonRead, UnsupportedComponentsAreModelLoadErrors) {
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_NO_THROW(tokenizer_spec_from_json(minimal_json({{"pre_tokenizer", byte_level}}), ""));
  auto bad = [&](const json& pipeline) {
    EXPECT_THROW(tokenizer_spec_from_json(minimal_json(pipeline), ""), ModelLoadError) << pipeline.dump();
  };
  bad({{"normalizer", {{"type", "Lowercase"}}}, {"pre_tokenizer", byte_level}});
  bad({{"pre_tokenizer", {{"type", "Whitespace"}}}});
  bad({{"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers",
        {{{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Removed"}, {"invert", false}},
         byte_level}}}}});
  bad({{"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", true}}}});
  bad(json::object());  // neither byte-level nor SentencePiece
  EXPECT_THROW(tokenizer_spec_from_json("{not json", ""), ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(minimal_json({{"pre_tokenizer", byte_level}}), "[1,"), ModelLoadError);
  json wordpiece = json::parse(minimal_json({{"pre_tokenizer", byte_level}}));
  wordpiece["model"]["type"] = "WordPiece";
  EXPECT_THROW(tokenizer_spec_from_json(wordpiece.dump(), ""), ModelLoadError);
  json missing_bos = json::parse(minimal_json({{"pre_tokenizer", byte_level}}));
  EXPECT_THROW(tokenizer_spec_from_json(missing_bos.dump(), R"({"bos_token": "<s>"})"), ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(missing_bos.dump(), R"({"add_bos_token": true})"), ModelLoadError);
}

TEST(TokenizerJsonRead, ConfigSetsBosAndAddedTokensKeepTheirIds) {
  json j = json::parse(minimal_json({{"pre_tokenizer", {{"type", "ByteLevel"}}}}));
  j["added_tokens"] = {{{"id", 5}, {"content", "<|begin|>"}, {"special", true}},
                       {{"id", 6}, {"content", "<tool>"}, {"special", false}}};
  const TokenizerSpec spec =
      tokenizer_spec_from_json(j.dump(), R"({"add_bos_token": true, "bos_token": {"content": "<|begin|>"}})");
  ASSERT_EQ(spec.tokens.size(), 7u);
  EXPECT_EQ(spec.tokens[4], "[PAD4]");
  EXPECT_EQ(spec.token_types[4], TokenType::Unused);
  EXPECT_EQ(spec.token_types[5], TokenType::Control);
  EXPECT_EQ(spec.token_types[6], TokenType::UserDefined);
  EXPECT_EQ(spec.bos_id, 5);
  EXPECT_TRUE(spec.add_bos);
  EXPECT_EQ(Tokenizer::create(spec)->encode("ab<tool>", true, false), (std::vector<int32_t>{5, 2, 6}));
}

// Found by fuzz/tokenizer_json_fuzzer (issue 11): a float vocab id (UB when
// converted to int64), a huge one (its id + 1 overflowed) and a negative added
// token id (written out of bounds) are ModelLoadErrors now.
TEST(TokenizerJsonRead, FuzzRegressionBadTokenIdsAreModelLoadErrors) {
  const json byte_level = {{"type", "ByteLevel"}};
  auto with = [&](const std::function<void(json&)>& edit) {
    json j = json::parse(minimal_json({{"pre_tokenizer", byte_level}}));
    edit(j);
    return j.dump();
  };
  EXPECT_THROW(tokenizer_spec_from_json(with([](json& j) { j["model"]["vocab"]["ab"] = 7.555555555555555e81; }), ""),
               ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(with([](json& j) { j["model"]["vocab"]["ab"] = 2.5; }), ""), ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(with([](json& j) { j["model"]["vocab"]["ab"] = INT64_MAX; }), ""),
               ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(with([](json& j) { j["model"]["vocab"]["ab"] = UINT64_MAX; }), ""),
               ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(with([](json& j) {
                 j["added_tokens"] = {{{"id", -3}, {"content", "<x>"}, {"special", true}}};
               }), ""),
               ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(with([](json& j) {
                 j["added_tokens"] = {{{"id", 1e300}, {"content", "<x>"}, {"special", true}}};
               }), ""),
               ModelLoadError);
  EXPECT_THROW(tokenizer_spec_from_json(with([](json& j) {
                 j["post_processor"] = {{"type", "BertProcessing"}, {"cls", {"a", 1e40}}, {"sep", {"b", 1}}};
               }), ""),
               ModelLoadError);
  // Integer ids still read as before.
  EXPECT_NO_THROW(tokenizer_spec_from_json(with([](json& j) { j["model"]["vocab"]["ab"] = 2; }), ""));
}

}  // namespace
}  // namespace kvs
