// GrammarMatcher on byte strings: accepts exactly the sentences of a grammar,
// characters split across tokens, copies, termination.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/grammar_matcher.h"
#include "tests/engine/grammar/example_grammars.h"

namespace kvs::grammar {
namespace {

// A vocabulary of the 256 single bytes plus a few multi-byte tokens (token
// ids are what the tests pass to accept_token).
std::shared_ptr<const TokenVocabulary> byte_vocabulary(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.insert(tokens.end(), extra.begin(), extra.end());
  tokens.push_back("");  // never allowed (empty)
  return build_token_vocabulary(tokens, {0});
}

GrammarMatcher matcher_for(const std::string& gbnf, const std::vector<std::string>& extra = {}) {
  return GrammarMatcher(std::make_shared<CompiledGrammar>(parse_gbnf(gbnf), byte_vocabulary(extra)));
}

// Whole string accepted and the grammar may end there.
bool matches(const std::string& gbnf, const std::string& text) {
  GrammarMatcher m = matcher_for(gbnf);
  return m.accept_bytes(text) && m.can_terminate();
}

TEST(GrammarMatcher, JsonDocuments) {
  const std::string g = test::kJsonGrammar;
  EXPECT_TRUE(matches(g, R"({"a": [1, 2.5, -3e7, "x\u00e9\n"], "b": {"c": null}, "d": true})"));
  EXPECT_TRUE(matches(g, "{}"));
  EXPECT_TRUE(matches(g, "{\"k\":\n  \"v\"}"));
  EXPECT_TRUE(matches(g, "{\"é中😀\": []}"));
  EXPECT_FALSE(matches(g, R"({"a" 1})"));
  EXPECT_FALSE(matches(g, R"({"a": 01})"));
  EXPECT_FALSE(matches(g, R"({"a": "\q"})"));
  EXPECT_FALSE(matches(g, "{\"a\": \"tab\there\"}"));
  EXPECT_FALSE(matches(g, R"([1, 2])"));  // root is an object
  EXPECT_FALSE(matches(g, R"({"a": 1)"));
}

TEST(GrammarMatcher, ArithmeticAndList) {
  EXPECT_TRUE(matches(test::kArithmeticGrammar, "x = 1\n(a+b)*c = d2\n"));
  EXPECT_FALSE(matches(test::kArithmeticGrammar, "x = 1"));
  EXPECT_FALSE(matches(test::kArithmeticGrammar, "x == 1\n"));
  EXPECT_TRUE(matches(test::kListGrammar, "- milk\n- 面包\n"));
  EXPECT_FALSE(matches(test::kListGrammar, "- milk\n-\n"));
  EXPECT_FALSE(matches(test::kListGrammar, "- a\u2028b\n"));
}

TEST(GrammarMatcher, Repetitions) {
  const std::string g = "root ::= \"a\"{2,4} \"b\"{3} [0-9]{1,} \"c\"?";
  EXPECT_TRUE(matches(g, "aabbb1"));
  EXPECT_TRUE(matches(g, "aaaabbb123c"));
  EXPECT_FALSE(matches(g, "abbb1"));
  EXPECT_FALSE(matches(g, "aaaaabbb1"));
  EXPECT_FALSE(matches(g, "aabb1"));
  EXPECT_FALSE(matches(g, "aabbb"));
  EXPECT_FALSE(matches(g, "aabbb1cc"));
}

TEST(GrammarMatcher, RejectedInputLeavesStateUnchanged) {
  GrammarMatcher m = matcher_for("root ::= \"ab\" \"c\"*");
  EXPECT_TRUE(m.accept_bytes("a"));
  EXPECT_FALSE(m.accept_bytes("bx"));  // b fits, x does not: all or nothing
  EXPECT_FALSE(m.can_terminate());
  EXPECT_TRUE(m.accept_bytes("b"));
  EXPECT_TRUE(m.can_terminate());
  EXPECT_FALSE(m.is_complete());  // more c may follow
  EXPECT_FALSE(m.accept_token(0));  // never allowed
  EXPECT_FALSE(m.accept_token(-1));
  EXPECT_FALSE(m.accept_token(100000));
  EXPECT_FALSE(m.accept_token(257));  // the empty token
  EXPECT_TRUE(m.accept_token('c'));
}

TEST(GrammarMatcher, CompleteOnlyWhenNothingMayFollow) {
  GrammarMatcher m = matcher_for("root ::= \"ab\"");
  EXPECT_FALSE(m.can_terminate());
  EXPECT_FALSE(m.is_complete());
  ASSERT_TRUE(m.accept_bytes("ab"));
  EXPECT_TRUE(m.can_terminate());
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.accept_bytes("a"));
  GrammarMatcher empty = matcher_for("root ::= \"\"");
  EXPECT_TRUE(empty.is_complete());
}

TEST(GrammarMatcher, CharactersSplitAcrossTokens) {
  // é is C3 A9, 中 is E4 B8 AD, 😀 is F0 9F 98 80.
  GrammarMatcher m = matcher_for("root ::= \"é\" [一-龥]+ \"😀\"");
  EXPECT_TRUE(m.accept_bytes("\xC3"));
  EXPECT_FALSE(m.can_terminate());
  GrammarMatcher before = m;
  EXPECT_FALSE(m.accept_bytes("\xAA"));  // C3 AA is ê
  EXPECT_TRUE(m.accept_bytes("\xA9\xE4"));
  EXPECT_TRUE(m.accept_bytes("\xB8"));
  EXPECT_TRUE(m.accept_bytes("\xAD\xF0\x9F"));
  EXPECT_FALSE(m.can_terminate());
  EXPECT_TRUE(m.accept_bytes("\x98\x80"));
  EXPECT_TRUE(m.is_complete());
  // A lead byte whose characters cannot fit is refused at once.
  EXPECT_FALSE(before.accept_bytes("\xA9\xC3"));  // a 2-byte char cannot be in [一-龥]
  EXPECT_FALSE(before.accept_bytes("\xA9\x41"));
  // Invalid UTF-8 never matches, even against '.'.
  GrammarMatcher any = matcher_for("root ::= .*");
  EXPECT_FALSE(any.accept_bytes("\x80"));
  EXPECT_FALSE(any.accept_bytes("\xC0\x80"));
  EXPECT_FALSE(any.accept_bytes("\xF5\x80\x80\x80"));
  EXPECT_TRUE(any.accept_bytes("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_FALSE(any.accept_bytes("\xF4\x90\x80\x80"));  // past U+10FFFF
}

TEST(GrammarMatcher, CopiesAreIndependent) {
  GrammarMatcher a = matcher_for(test::kJsonGrammar);
  ASSERT_TRUE(a.accept_bytes("{\"k\": "));
  GrammarMatcher b = a;
  ASSERT_TRUE(b.accept_bytes("1}"));
  EXPECT_TRUE(b.can_terminate());
  EXPECT_FALSE(a.can_terminate());
  ASSERT_TRUE(a.accept_bytes("[true]}"));
  EXPECT_TRUE(a.can_terminate());
  GrammarMatcher c = std::move(b);
  EXPECT_TRUE(c.can_terminate());
  c = a;
  EXPECT_FALSE(c.accept_bytes("1"));
}

TEST(GrammarMatcher, MultiByteTokensAndMask) {
  // Tokens 256.. are "ab", "abc", "bx", "\xC3" (half of é), "é".
  GrammarMatcher m = matcher_for("root ::= \"a\" (\"bc\" | \"é\")", {"ab", "abc", "bx", "\xC3", "é"});
  std::vector<uint64_t> mask;
  m.fill_next_token_mask(mask);
  ASSERT_EQ(mask.size(), (256 + 5 + 1 + 63) / 64);
  auto allowed = [&](int id) { return (mask[id / 64] >> (id % 64)) & 1; };
  for (int id = 0; id < 262; ++id) {
    EXPECT_EQ(allowed(id), id == 'a' || id == 256 || id == 257) << id;  // a, ab, abc
  }
  ASSERT_TRUE(m.accept_token('a'));
  m.fill_next_token_mask(mask);
  for (int id = 0; id < 262; ++id) {
    EXPECT_EQ(allowed(id), id == 'b' || id == 0xC3 || id == 259 || id == 260) << id;  // b, C3, C3, é
  }
  ASSERT_TRUE(m.accept_token(259));  // half a character
  m.fill_next_token_mask(mask);
  for (int id = 0; id < 262; ++id) EXPECT_EQ(allowed(id), id == 0xA9) << id;
  EXPECT_FALSE(m.accept_token(0xAA));
  EXPECT_TRUE(m.accept_token(0xA9));
  EXPECT_TRUE(m.is_complete());
  m.fill_next_token_mask(mask);
  for (uint64_t w : mask) EXPECT_EQ(w, 0u);
}

TEST(GrammarMatcher, AmbiguityIsCapped) {
  // After n a's each choice of b / c closers is its own stack: 2^n stacks.
  const std::string g = "root ::= x\nx ::= \"a\" x \"b\" | \"a\" x \"c\" | \"\"";
  GrammarMatcher m = matcher_for(g);
  EXPECT_TRUE(m.accept_bytes(std::string(10, 'a')));
  EXPECT_TRUE(m.accept_bytes("bcbcbcbcbb"));
  EXPECT_TRUE(m.can_terminate());
  GrammarMatcher deep = matcher_for(g);
  try {
    deep.accept_bytes(std::string(20, 'a'));
    FAIL() << "expected the parse-stack cap";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), "grammar: more than 4096 parse stacks at once (the grammar is too ambiguous)");
  }
}

}  // namespace
}  // namespace kvs::grammar

namespace kvs::grammar {
namespace {

// A character's first two bytes already tell an overlong form (E0 80..9F can
// only end below U+0800) or a code point past U+10FFFF (F4 90..): refused at
// that byte, not one byte later, so no token leaves a state nothing completes.
TEST(GrammarMatcher, RefusesPrefixesOfOverlongOrTooLargeCharactersAtOnce) {
  GrammarMatcher m = matcher_for(R"g(root ::= [^"]*)g");
  EXPECT_FALSE(GrammarMatcher(m).accept_bytes("\xE0\x9C"));
  EXPECT_TRUE(GrammarMatcher(m).accept_bytes("\xE0\xA0"));
  EXPECT_FALSE(GrammarMatcher(m).accept_bytes("\xF0\x80"));
  EXPECT_FALSE(GrammarMatcher(m).accept_bytes("\xF4\x90"));
  EXPECT_TRUE(GrammarMatcher(m).accept_bytes("\xF4\x8F\xBF\xBF"));
}

}  // namespace
}  // namespace kvs::grammar
