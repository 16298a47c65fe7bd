// The tool-call grammar accepts exactly calls in the family's format (checked
// with the real GBNF parser and matcher), and what it accepts parses back.
#include "engine/chat/tool_call_grammar.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/token_vocabulary.h"

namespace kvs {
namespace {

std::shared_ptr<const grammar::TokenVocabulary> byte_vocabulary() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  return grammar::build_token_vocabulary(tokens, {0});
}

bool accepts(const std::string& gbnf, const std::string& text) {
  grammar::GrammarMatcher matcher(
      std::make_shared<grammar::CompiledGrammar>(grammar::parse_gbnf(gbnf), byte_vocabulary()));
  return matcher.accept_bytes(text) && matcher.can_terminate();
}

// Hand-written argument grammars for the two test tools (the JSON Schema
// compiler's output is checked in ToolCallGrammarSchema below when available).
std::string test_arguments(const ToolDefinition& tool, std::string_view prefix) {
  const std::string p(prefix);
  if (tool.name == "get_weather") {
    return p + "root ::= \"{\\\"city\\\": \" " + p + "str (\", \\\"unit\\\": \" (\"\\\"celsius\\\"\" | " +
           "\"\\\"fahrenheit\\\"\"))? \"}\"\n" + p + "str ::= \"\\\"\" [^\"\\\\]* \"\\\"\"\n";
  }
  return p + "root ::= \"{\\\"timezone\\\": \\\"\" [A-Za-z/_]+ \"\\\"}\"\n";
}

const std::vector<ToolDefinition> kTools = {
    {"get_weather", "Weather", R"({"type":"object"})", ""},
    {"get_time", "Time", R"({"type":"object"})", ""},
};

const char* kWeather = R"({"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}})";
const char* kTime = R"({"name": "get_time", "arguments": {"timezone": "Europe/Paris"}})";

std::string hermes(const std::string& body) { return "<tool_call>\n" + body + "\n</tool_call>"; }

TEST(ToolCallGrammar, HermesAnyToolOneOrMoreCalls) {
  const std::string gbnf = tool_call_gbnf(kTools, ToolCallFormat::kHermes, {}, test_arguments);
  const std::string one = hermes(kWeather);
  const std::string two = hermes(kWeather) + "\n" + hermes(kTime);
  EXPECT_TRUE(accepts(gbnf, one)) << gbnf;
  EXPECT_TRUE(accepts(gbnf, two));
  EXPECT_FALSE(accepts(gbnf, ""));                  // a call is required
  EXPECT_FALSE(accepts(gbnf, "Sure. " + one));      // no content
  EXPECT_FALSE(accepts(gbnf, hermes(R"({"name": "get_wind", "arguments": {}})")));
  EXPECT_FALSE(accepts(gbnf, hermes(R"({"name": "get_time", "arguments": {"city": "Paris"}})")));
  EXPECT_FALSE(accepts(gbnf, hermes(kWeather).substr(0, 30)));  // unfinished
  // What the grammar accepts is what the parser reads.
  const ParsedToolOutput parsed = parse_tool_calls(two, ToolCallFormat::kHermes);
  EXPECT_EQ(parsed.content, "");
  ASSERT_EQ(parsed.tool_calls.size(), 2u);
  EXPECT_EQ(parsed.tool_calls[0].name, "get_weather");
  EXPECT_EQ(parsed.tool_calls[0].arguments_json, R"({"city": "Paris", "unit": "celsius"})");
  EXPECT_EQ(parsed.tool_calls[1].name, "get_time");
}

TEST(ToolCallGrammar, NamedFunctionAndSingleCall) {
  ToolCallGrammarOptions options;
  options.only_function = "get_time";
  options.parallel = false;
  const std::string gbnf = tool_call_gbnf(kTools, ToolCallFormat::kHermes, options, test_arguments);
  EXPECT_TRUE(accepts(gbnf, hermes(kTime))) << gbnf;
  EXPECT_FALSE(accepts(gbnf, hermes(kWeather)));
  EXPECT_FALSE(accepts(gbnf, hermes(kTime) + "\n" + hermes(kTime)));
  options.only_function = "get_wind";
  EXPECT_THROW(tool_call_gbnf(kTools, ToolCallFormat::kHermes, options, test_arguments),
               InvalidArgument);
  EXPECT_THROW(tool_call_gbnf({}, ToolCallFormat::kHermes, {}, test_arguments), InvalidArgument);
}

TEST(ToolCallGrammar, Llama31OneJsonCall) {
  const std::string gbnf =
      tool_call_gbnf(kTools, ToolCallFormat::kLlama31Json, {}, test_arguments);
  const std::string call = R"({"name": "get_weather", "parameters": {"city": "Paris"}})";
  EXPECT_TRUE(accepts(gbnf, call)) << gbnf;
  EXPECT_FALSE(accepts(gbnf, R"({"name": "get_weather", "arguments": {"city": "Paris"}})"));
  EXPECT_FALSE(accepts(gbnf, call + "; " + call));
  const ParsedToolOutput parsed = parse_tool_calls(call, ToolCallFormat::kLlama31Json);
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  EXPECT_EQ(parsed.tool_calls[0].arguments_json, R"({"city": "Paris"})");
}

TEST(ToolCallGrammar, GemmaFencedCalls) {
  const std::string gbnf = tool_call_gbnf(kTools, ToolCallFormat::kGemma, {}, test_arguments);
  const std::string text = "```tool_call\n" + std::string(kTime) + "\n```\n```tool_call\n" +
                           std::string(kWeather) + "\n```";
  EXPECT_TRUE(accepts(gbnf, text)) << gbnf;
  EXPECT_FALSE(accepts(gbnf, hermes(kTime)));
  const ParsedToolOutput parsed = parse_tool_calls(text, ToolCallFormat::kGemma);
  EXPECT_EQ(parsed.content, "");
  ASSERT_EQ(parsed.tool_calls.size(), 2u);
  EXPECT_EQ(parsed.tool_calls[0].name, "get_time");
  EXPECT_EQ(parsed.tool_calls[1].name, "get_weather");
}

TEST(ToolCallGrammar, NamesNeedingEscapes) {
  // Not an OpenAI-valid name, but the grammar must still be exact.
  const std::vector<ToolDefinition> tools = {{"we\"ird\\n\xC3\xA9", "", "", ""}};
  const std::string gbnf = tool_call_gbnf(
      tools, ToolCallFormat::kHermes, {},
      [](const ToolDefinition&, std::string_view prefix) { return std::string(prefix) + "root ::= \"{}\"\n"; });
  EXPECT_TRUE(accepts(gbnf, hermes(R"({"name": "we\"ird\\n)" "\xC3\xA9" R"(", "arguments": {}})")))
      << gbnf;
  EXPECT_EQ(gbnf_literal("a\"b\\\n\x01"), "\"a\\\"b\\\\\\n\\x01\"");
}

// With the JSON Schema compiler: the schema's constraints hold inside the call.
TEST(ToolCallGrammarSchema, ArgumentsFollowTheFunctionsSchema) {
  const std::vector<ToolDefinition> tools = {
      {"get_weather", "",
       R"({"type":"object","properties":{"city":{"type":"string"},)"
       R"("unit":{"type":"string","enum":["celsius","fahrenheit"]}},)"
       R"("required":["city"],"additionalProperties":false})",
       ""},
      {"ping", "", "", ""},  // no parameters: any JSON object
  };
  for (const ToolCallFormat format :
       {ToolCallFormat::kHermes, ToolCallFormat::kLlama31Json, ToolCallFormat::kGemma}) {
    SCOPED_TRACE(tool_call_format_name(format));
    const std::string gbnf = tool_call_gbnf(tools, format);
    const std::string key = format == ToolCallFormat::kLlama31Json ? "parameters" : "arguments";
    auto wrap = [&](const std::string& body) {
      switch (format) {
        case ToolCallFormat::kHermes: return hermes(body);
        case ToolCallFormat::kGemma: return "```tool_call\n" + body + "\n```";
        case ToolCallFormat::kLlama31Json: return body;
      }
      return body;
    };
    const std::string good = wrap(R"({"name": "get_weather", ")" + key +
                                  R"(": {"city": "Paris", "unit": "celsius"}})");
    EXPECT_TRUE(accepts(gbnf, good)) << gbnf;
    EXPECT_TRUE(accepts(gbnf, wrap(R"({"name": "ping", ")" + key + R"(": {"any": [1, true]}})")));
    EXPECT_FALSE(accepts(gbnf, wrap(R"({"name": "get_weather", ")" + key +
                                    R"(": {"city": "Paris", "unit": "kelvin"}})")));
    EXPECT_FALSE(accepts(gbnf, wrap(R"({"name": "get_weather", ")" + key + R"(": {"unit": "celsius"}})")));
    const ParsedToolOutput parsed = parse_tool_calls(good, format);
    EXPECT_EQ(parsed.content, "");
    ASSERT_EQ(parsed.tool_calls.size(), 1u);
    EXPECT_EQ(parsed.tool_calls[0].name, "get_weather");
    EXPECT_EQ(parsed.tool_calls[0].arguments_json, R"({"city": "Paris", "unit": "celsius"})");
  }
  ToolCallGrammarOptions only_ping;
  only_ping.only_function = "ping";
  const std::string gbnf = tool_call_gbnf(tools, ToolCallFormat::kHermes, only_ping);
  EXPECT_FALSE(accepts(gbnf, hermes(R"({"name": "get_weather", "arguments": {"city": "Paris"}})")));
  EXPECT_TRUE(accepts(gbnf, hermes(R"({"name": "ping", "arguments": {}})")));
  // A schema the compiler refuses is a 400.
  const std::vector<ToolDefinition> bad = {{"f", "", R"({"type":"object","properties":5})", ""}};
  EXPECT_THROW(tool_call_gbnf(bad, ToolCallFormat::kHermes), InvalidArgument);
}

}  // namespace
}  // namespace kvs
