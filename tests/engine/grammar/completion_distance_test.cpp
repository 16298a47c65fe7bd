// Shortest completions (GrammarMatcher::min_completion_bytes and
// fill_shortest_completion_mask): the byte counts of hand-checked cases, and
// on whole grammars that following the shortest-completion mask from any
// reachable state ends the sentence in exactly min_completion_bytes() bytes.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/json_schema.h"
#include "tests/engine/grammar/example_grammars.h"

namespace kvs::grammar {
namespace {

// Token id b is the single byte b; 256.. are a few longer tokens.
std::shared_ptr<const TokenVocabulary> byte_vocabulary() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const char* t : {"true", "null", "\": ", "\"}", "123"}) tokens.push_back(t);
  return build_token_vocabulary(tokens, {0});
}

GrammarMatcher matcher_for(const std::string& gbnf) {
  return GrammarMatcher(std::make_shared<CompiledGrammar>(parse_gbnf(gbnf), byte_vocabulary()));
}

uint64_t distance_after(const std::string& gbnf, const std::string& prefix) {
  GrammarMatcher m = matcher_for(gbnf);
  EXPECT_TRUE(m.accept_bytes(prefix)) << prefix;
  return m.min_completion_bytes();
}

std::vector<int32_t> allowed(const std::vector<uint64_t>& mask) {
  std::vector<int32_t> ids;
  for (size_t w = 0; w < mask.size(); ++w) {
    for (int b = 0; b < 64; ++b) {
      if ((mask[w] >> b) & 1) ids.push_back(static_cast<int32_t>(w * 64 + b));
    }
  }
  return ids;
}

TEST(CompletionDistance, HandCheckedCases) {
  EXPECT_EQ(distance_after(R"g(root ::= "abc")g", ""), 3u);
  EXPECT_EQ(distance_after(R"g(root ::= "abc")g", "ab"), 1u);
  EXPECT_EQ(distance_after(R"g(root ::= "abc")g", "abc"), 0u);
  // Recursion: the base case "x" is the shortest way out at any depth.
  const std::string nest = R"g(root ::= "(" root ")" | "x")g";
  EXPECT_EQ(distance_after(nest, ""), 1u);
  EXPECT_EQ(distance_after(nest, "(("), 3u);   // x))
  EXPECT_EQ(distance_after(nest, "((x)"), 1u);  // )
  // Repetition: + needs one, * none; alternatives take the shorter.
  EXPECT_EQ(distance_after(R"g(root ::= [0-9]+ "." [0-9]* | "none")g", ""), 2u);  // "0."
  EXPECT_EQ(distance_after(R"g(root ::= [0-9]+ "." [0-9]* | "none")g", "12"), 1u);
  // A class of CJK characters costs 3 bytes; inside one, what it still needs.
  const std::string cjk = R"g(root ::= [\u4e00-\u9fff] "!")g";
  EXPECT_EQ(distance_after(cjk, ""), 4u);
  EXPECT_EQ(distance_after(cjk, "\xE4"), 3u);
  EXPECT_EQ(distance_after(cjk, "\xE4\xB8"), 2u);
  EXPECT_EQ(distance_after(cjk, "\xE4\xB8\x80"), 1u);
}

TEST(CompletionDistance, ShortestMaskOffersTheBytesThatStartAShortestCompletion) {
  GrammarMatcher m = matcher_for(R"g(root ::= "(" root ")" | "x")g");
  ASSERT_TRUE(m.accept_bytes("(("));
  std::vector<uint64_t> mask;
  m.fill_shortest_completion_mask(mask);
  EXPECT_EQ(allowed(mask), std::vector<int32_t>{'x'});  // not '(' (longer), nor the multi-byte tokens
  ASSERT_TRUE(m.accept_bytes("x))"));
  m.fill_shortest_completion_mask(mask);
  EXPECT_TRUE(allowed(mask).empty()) << "complete: nothing to add";
}

TEST(CompletionDistance, CompletionTokensSpellTheShortestCompletionWithFewestTokens) {
  GrammarMatcher m = matcher_for(R"g(root ::= "{\"a\": " ("true" | "null" | [0-9]+) "}")g");
  EXPECT_EQ(m.shortest_completion(100), std::optional<std::string>("{\"a\": 0}"));
  EXPECT_EQ(m.shortest_completion(5), std::nullopt);
  std::vector<uint64_t> mask;
  // '{' '"' 'a' '": ' '0' '}': the three-byte token "\": " (id 258) saves two.
  EXPECT_EQ(m.completion_tokens(100, &mask), 6);
  EXPECT_EQ(allowed(mask), std::vector<int32_t>{'{'});
  ASSERT_TRUE(m.accept_bytes("{\"a"));
  EXPECT_EQ(m.completion_tokens(100, &mask), 3);
  EXPECT_EQ(allowed(mask), std::vector<int32_t>{258});
  ASSERT_TRUE(m.accept_bytes("\": 12"));
  EXPECT_EQ(m.completion_tokens(100, &mask), 1);  // "}"
  EXPECT_EQ(m.completion_tokens(0), -1) << "longer than max_bytes";
}

// From states reached by random walks, the shortest-completion mask is never
// empty before the end and reaches it in exactly min_completion_bytes() bytes,
// and the completion-token masks in exactly completion_tokens() tokens.
void check_grammar(const std::string& gbnf, uint32_t seed) {
  const auto compiled = std::make_shared<CompiledGrammar>(parse_gbnf(gbnf), byte_vocabulary());
  std::mt19937 rng(seed);
  std::vector<uint64_t> mask;
  for (int walk = 0; walk < 40; ++walk) {
    GrammarMatcher m(compiled);
    const int steps = static_cast<int>(rng() % 60);
    for (int i = 0; i < steps; ++i) {
      m.fill_next_token_mask(mask);
      const std::vector<int32_t> ids = allowed(mask);
      if (ids.empty()) break;
      ASSERT_TRUE(m.accept_token(ids[rng() % ids.size()]));
    }
    const uint64_t expected = m.min_completion_bytes();
    GrammarMatcher shortest = m;
    uint64_t bytes = 0;
    while (!shortest.can_terminate()) {
      shortest.fill_shortest_completion_mask(mask);
      const std::vector<int32_t> ids = allowed(mask);
      ASSERT_FALSE(ids.empty()) << "no shortest step at distance " << shortest.min_completion_bytes();
      const uint64_t before = shortest.min_completion_bytes();
      ASSERT_TRUE(shortest.accept_token(ids[rng() % ids.size()]));
      ASSERT_EQ(shortest.min_completion_bytes() + 1, before);
      ++bytes;
      ASSERT_LE(bytes, expected);
    }
    EXPECT_EQ(bytes, expected);
    // Token by token: each start token of a fewest-token spelling leaves one less.
    GrammarMatcher spelled = m;
    int64_t tokens = spelled.completion_tokens(4096, &mask);
    ASSERT_GE(tokens, 0);
    while (tokens > 0) {
      const std::vector<int32_t> ids = allowed(mask);
      ASSERT_FALSE(ids.empty());
      ASSERT_TRUE(spelled.accept_token(ids[rng() % ids.size()]));
      const int64_t left = spelled.completion_tokens(4096, &mask);
      ASSERT_EQ(left + 1, tokens);
      tokens = left;
    }
    EXPECT_TRUE(spelled.can_terminate());
  }
}

TEST(CompletionDistance, FollowingTheShortestMasksEndsInExactlyThatManyBytesOrTokens) {
  check_grammar(test::kJsonGrammar, 1);
  check_grammar(json_schema_to_gbnf(R"({"type": "object", "properties": {
      "name": {"type": "string", "maxLength": 12},
      "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1},
      "child": {"$ref": "#"}, "age": {"type": "integer", "minimum": 10, "maximum": 99}},
      "required": ["name", "tags", "age"]})"), 2);
  check_grammar(R"g(root ::= "(" root ")" | [a-z]{2,4} | "\u00e9\u4e00")g", 3);
}

}  // namespace
}  // namespace kvs::grammar
