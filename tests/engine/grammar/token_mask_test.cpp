// fill_next_token_mask equals brute force (a copy of the matcher tries every
// token) on the real SmolLM2 vocabulary, at every step along documents of
// several grammars, including characters split across tokens; and masks from
// several threads sharing one CompiledGrammar agree.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/token_vocabulary_impl.h"
#include "tests/engine/grammar/example_grammars.h"
#include "tests/engine/grammar/smollm_vocabulary.h"

namespace kvs::grammar {
namespace {

std::vector<uint64_t> brute_force_mask(const GrammarMatcher& m, int64_t vocab_size) {
  std::vector<uint64_t> mask((vocab_size + 63) / 64, 0);
  for (int32_t id = 0; id < vocab_size; ++id) {
    GrammarMatcher copy = m;
    if (copy.accept_token(id)) mask[id / 64] |= uint64_t{1} << (id % 64);
  }
  return mask;
}

int popcount(const std::vector<uint64_t>& mask) {
  int n = 0;
  for (uint64_t w : mask) n += __builtin_popcountll(w);
  return n;
}

// Walks `text`'s tokens; at every step the mask must equal brute force and
// allow the next token. Returns the number of steps whose state was inside a
// character (a token ended mid-UTF-8).
int check_along(const std::string& gbnf, const std::string& text) {
  const auto vocabulary = test::smollm_vocabulary();
  const int64_t n = vocabulary_size(*vocabulary);
  auto compiled = std::make_shared<CompiledGrammar>(parse_gbnf(gbnf), vocabulary);
  GrammarMatcher m(compiled);
  const std::vector<int32_t> ids = test::smollm_tokenizer().encode(text, false, false);
  int split = 0;
  std::string so_far;
  std::vector<uint64_t> mask;
  for (size_t i = 0; i <= ids.size(); ++i) {
    m.fill_next_token_mask(mask);
    const std::vector<uint64_t> expected = brute_force_mask(m, n);
    EXPECT_EQ(mask, expected) << "after " << i << " tokens: '" << so_far << "' (" << popcount(mask) << " vs "
                              << popcount(expected) << " allowed)";
    if (std::getenv("KVS_GRAMMAR_TEST_VERBOSE")) std::fprintf(stderr, "step %zu allowed %d\n", i, popcount(mask));
    if (i == ids.size()) break;
    const int32_t id = ids[i];
    EXPECT_TRUE((mask[id / 64] >> (id % 64)) & 1) << "token " << i << " of '" << text << "'";
    EXPECT_TRUE(m.accept_token(id));
    so_far += compiled->vocabulary().bytes[id];
    // Inside a character: the bytes so far end in an incomplete sequence.
    size_t k = so_far.size();
    int cont = 0;
    while (k > 0 && (static_cast<unsigned char>(so_far[k - 1]) & 0xC0) == 0x80) --k, ++cont;
    if (k > 0) {
      const auto lead = static_cast<unsigned char>(so_far[k - 1]);
      const int len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (len > cont + 1) ++split;
    }
  }
  EXPECT_TRUE(m.can_terminate()) << text;
  return split;
}

TEST(TokenMask, JsonDocumentMatchesBruteForce) {
  const int split = check_along(test::kJsonGrammar,
                                "{\"name\": \"Ada Lovelace\", \"born\": 1815, \"tags\": [\"math\", \"po\\u00e9t\"],\n"
                                "  \"nested\": {\"a\": [true, false, null], \"b\": -0.5e-3},"
                                " \"text\": \"Zürich 東京 🙂 \\\"q\\\"\"}");
  EXPECT_GT(split, 0) << "the document should split a character across tokens";
}

TEST(TokenMask, SchemaGrammarMatchesBruteForce) {
  check_along(test::kSchemaGrammar,
              "{\"name\": \"Ada \\\"the\\\" Countess\", \"age\": 36, \"tags\": [\"math\", \"po\u00e9sie\"]}");
  check_along(test::kSchemaGrammar, "{ \"name\":\"x\",\n  \"age\": -0}");
}

TEST(TokenMask, ArithmeticMatchesBruteForce) { check_along(test::kArithmeticGrammar, "x = 1\n(ab+b2)*c = d_2\n"); }

TEST(TokenMask, ListMatchesBruteForce) { check_along(test::kListGrammar, "- milk\n- 面包 and eggs\n- 🙂\n"); }

TEST(TokenMask, TextInAStringAllowsMostTokens) {
  const auto vocabulary = test::smollm_vocabulary();
  auto compiled = std::make_shared<CompiledGrammar>(parse_gbnf(test::kJsonGrammar), vocabulary);
  GrammarMatcher m(compiled);
  ASSERT_TRUE(m.accept_bytes("{\"key\": \"some"));
  std::vector<uint64_t> mask;
  m.fill_next_token_mask(mask);
  EXPECT_GT(popcount(mask), vocabulary_size(*vocabulary) * 9 / 10);
  EXPECT_EQ(mask, brute_force_mask(m, vocabulary_size(*vocabulary)));
}

TEST(TokenMask, ThreadsSharingOneCompiledGrammarAgree) {
  const auto vocabulary = test::smollm_vocabulary();
  auto compiled = std::make_shared<CompiledGrammar>(parse_gbnf(test::kJsonGrammar), vocabulary);
  const std::vector<std::string> prefixes = {"{", "{\"a\"", "{\"a\": [", "{\"a\": [1, \"x", "{\"a\": {\"b\": tr"};
  // Reference masks from a separate CompiledGrammar (its own cache).
  auto reference = std::make_shared<CompiledGrammar>(parse_gbnf(test::kJsonGrammar), vocabulary);
  std::vector<std::vector<uint64_t>> expected;
  for (const std::string& p : prefixes) {
    GrammarMatcher m(reference);
    EXPECT_TRUE(m.accept_bytes(p));
    expected.emplace_back();
    m.fill_next_token_mask(expected.back());
  }
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t k = 0; k < prefixes.size(); ++k) {
        const size_t i = (k + t) % prefixes.size();
        GrammarMatcher m(compiled);
        if (!m.accept_bytes(prefixes[i])) ++failures[t];
        std::vector<uint64_t> mask;
        m.fill_next_token_mask(mask);
        if (mask != expected[i]) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace kvs::grammar
