// The server's grammar cache (server/serving/grammar_compiler.h): one
// CompiledGrammar per GBNF text while it stays among the most recent,
// failures not cached, thread-safe sharing, and constraint errors as 400s
// naming the request field. On a tiny vocabulary of single letters.
#include "server/serving/grammar_compiler.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/token_vocabulary.h"
#include "server/api/api_error.h"

namespace kvs {
namespace {

std::shared_ptr<const grammar::TokenVocabulary> letters() {
  std::vector<std::string> tokens = {"</s>"};  // id 0: end of generation, never allowed
  for (char c = 'a'; c <= 'z'; ++c) tokens.emplace_back(1, c);
  for (char c = '0'; c <= '9'; ++c) tokens.emplace_back(1, c);
  for (const char* t : {"{", "}", "\"", ":", ",", " ", "[", "]", "-", "true", "false", "null"}) tokens.emplace_back(t);
  return grammar::build_token_vocabulary(std::move(tokens), {0});
}

std::string literal(int i) { return "root ::= \"" + std::string(1, static_cast<char>('a' + i)) + "\""; }

TEST(GrammarCompilerTest, SameTextSharesOneGrammarUntilEvicted) {
  GrammarCompiler compiler(letters(), 2);
  const auto a = compiler.compile_gbnf(literal(0));
  EXPECT_EQ(compiler.compile_gbnf(literal(0)), a);
  EXPECT_EQ(compiler.num_hits(), 1u);
  const auto b = compiler.compile_gbnf(literal(1));
  EXPECT_NE(a, b);
  EXPECT_EQ(compiler.compile_gbnf(literal(0)), a);  // a is now the most recent
  compiler.compile_gbnf(literal(2));                // evicts b, the least recent
  EXPECT_EQ(compiler.size(), 2u);
  EXPECT_EQ(compiler.compile_gbnf(literal(0)), a);
  EXPECT_NE(compiler.compile_gbnf(literal(1)), b);  // compiled again
}

TEST(GrammarCompilerTest, FailuresThrowAndAreNotCached) {
  GrammarCompiler compiler(letters());
  EXPECT_THROW(compiler.compile_gbnf("root ::= undefined"), InvalidArgument);
  EXPECT_THROW(compiler.compile_gbnf("root ::= ("), InvalidArgument);
  EXPECT_EQ(compiler.size(), 0u);
}

TEST(GrammarCompilerTest, ThreadsCompilingTheSameTextsShareTheirGrammars) {
  GrammarCompiler compiler(letters());
  constexpr int kThreads = 8, kTexts = 4;
  std::vector<std::vector<std::shared_ptr<const grammar::CompiledGrammar>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < kTexts; ++i) got[t].push_back(compiler.compile_gbnf(literal((i + t) % kTexts)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(compiler.size(), static_cast<size_t>(kTexts));
  for (int t = 0; t < kThreads; ++t) {
    for (size_t k = 0; k < got[t].size(); ++k) {
      const int text = (static_cast<int>(k % kTexts) + t) % kTexts;
      EXPECT_EQ(got[t][k], compiler.compile_gbnf(literal(text)));
    }
  }
}

TEST(GrammarCompilerTest, ConstraintsCompileOrAre400sNamingTheField) {
  GrammarCompiler compiler(letters());
  using Kind = grammar::ConstraintSpec::Kind;
  const grammar::ConstraintSpec choice{Kind::kChoice, "", {"yes", "no"}};
  const auto compiled = compile_constraint(compiler, choice, "guided_choice");
  ASSERT_NE(compiled, nullptr);
  grammar::GrammarMatcher matcher(compiled);
  EXPECT_TRUE(matcher.accept_bytes("ye"));
  EXPECT_FALSE(matcher.accept_bytes("x"));
  EXPECT_TRUE(matcher.accept_bytes("s"));
  EXPECT_TRUE(matcher.can_terminate());
  EXPECT_EQ(compile_constraint(compiler, choice, "guided_choice"), compiled);  // cached by its GBNF

  const auto param_of = [&](const grammar::ConstraintSpec& spec, const std::string& param) -> std::string {
    try {
      compile_constraint(compiler, spec, param);
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_NE(std::string(e.what()).find(param), std::string::npos) << e.what();
      return e.param();
    }
    return "accepted";
  };
  EXPECT_EQ(param_of({Kind::kRegex, "(unclosed", {}}, "guided_regex"), "guided_regex");
  EXPECT_EQ(param_of({Kind::kGbnf, "root ::= nothing", {}}, "grammar"), "grammar");
  EXPECT_EQ(param_of({Kind::kJsonSchema, R"({"type":"object","properties":{"a":{"$ref":"#/$defs/x"}}})", {}},
                     "response_format"),
            "response_format");
  EXPECT_EQ(param_of({Kind::kJsonSchema, R"({"type":"integer"})", {}}, "guided_json"), "accepted");
}

}  // namespace
}  // namespace kvs
