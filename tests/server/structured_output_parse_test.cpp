// Issue 23 at the JSON edge: output constraints (response_format, vLLM's
// guided_*, llama.cpp's grammar / json_schema), tools and tool_choice parsed
// into typed values, and the 400s that name the field.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/api/api_error.h"
#include "server/api/openai_parse.h"

namespace kvs {
namespace {

using Kind = grammar::ConstraintSpec::Kind;

const char* kUser = R"("messages":[{"role":"user","content":"x"}])";

ChatRequest chat(const std::string& fields) { return parse_chat_request("{" + std::string(kUser) + "," + fields + "}"); }

// The param of the 400 a chat body with `fields` gets, or "accepted".
std::string chat_param(const std::string& fields) {
  try {
    chat(fields);
  } catch (const ApiError& e) {
    return e.status() == 400 ? e.param() : "status " + std::to_string(e.status());
  }
  return "accepted";
}

std::string chat_message(const std::string& fields) {
  try {
    chat(fields);
  } catch (const ApiError& e) {
    return e.what();
  }
  return "";
}

TEST(StructuredOutputParseTest, ResponseFormatKinds) {
  EXPECT_FALSE(chat(R"("response_format":{"type":"text"})").options.constraint);
  const GenerationOptions object = chat(R"("response_format":{"type":"json_object"})").options;
  ASSERT_TRUE(object.constraint);
  EXPECT_EQ(object.constraint->kind, Kind::kJsonObject);
  EXPECT_EQ(object.constraint_param, "response_format");
  const GenerationOptions schema = chat(
      R"("response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,
         "schema":{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}}}})").options;
  ASSERT_TRUE(schema.constraint);
  EXPECT_EQ(schema.constraint->kind, Kind::kJsonSchema);
  // The property order is the client's (the order the model will write them).
  EXPECT_EQ(schema.constraint->text,
            R"({"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}})");
  EXPECT_EQ(chat_param(R"("response_format":{"type":"xml"})"), "response_format");
  EXPECT_EQ(chat_param(R"("response_format":{"type":"json_schema"})"), "response_format");
  EXPECT_EQ(chat_param(R"("response_format":{"type":"json_schema","json_schema":{"name":"p","schema":"{}"}})"),
            "response_format");
  EXPECT_EQ(chat_param(R"("response_format":"json")"), "response_format");
}

TEST(StructuredOutputParseTest, VllmAndLlamaCppFields) {
  const GenerationOptions json_text = chat(R"("guided_json":"{\"type\":\"object\",\"b\":1,\"a\":2}")").options;
  EXPECT_EQ(json_text.constraint->kind, Kind::kJsonSchema);
  EXPECT_EQ(json_text.constraint->text, R"({"type":"object","b":1,"a":2})");
  EXPECT_EQ(json_text.constraint_param, "guided_json");
  EXPECT_EQ(chat(R"("guided_json":{"type":"integer"})").options.constraint->text, R"({"type":"integer"})");
  const GenerationOptions regex = chat(R"("guided_regex":"\\d{3}-\\d{4}")").options;
  EXPECT_EQ(regex.constraint->kind, Kind::kRegex);
  EXPECT_EQ(regex.constraint->text, R"(\d{3}-\d{4})");
  const GenerationOptions choice = chat(R"("guided_choice":["yes","no"])").options;
  EXPECT_EQ(choice.constraint->kind, Kind::kChoice);
  EXPECT_EQ(choice.constraint->choices, (std::vector<std::string>{"yes", "no"}));
  EXPECT_EQ(chat(R"("guided_grammar":"root ::= \"a\"")").options.constraint->kind, Kind::kGbnf);
  EXPECT_EQ(chat(R"("grammar":"root ::= \"a\"")").options.constraint_param, "grammar");
  EXPECT_EQ(chat(R"("json_schema":{"type":"object"})").options.constraint_param, "json_schema");
  // Completions take them too.
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","guided_choice":["a"]})").options.constraint->kind, Kind::kChoice);

  EXPECT_EQ(chat_param(R"("guided_json":"{not json")"), "guided_json");
  EXPECT_EQ(chat_param(R"("guided_json":7)"), "guided_json");
  EXPECT_EQ(chat_param(R"("guided_regex":"")"), "guided_regex");
  EXPECT_EQ(chat_param(R"("guided_choice":[])"), "guided_choice");
  EXPECT_EQ(chat_param(R"("guided_choice":["a",1])"), "guided_choice");
  EXPECT_EQ(chat_param(R"("grammar":5)"), "grammar");
  // null is absent, as everywhere.
  EXPECT_FALSE(chat(R"("guided_json":null,"grammar":null)").options.constraint);
}

TEST(StructuredOutputParseTest, TwoConstraintsAreA400NamingBoth) {
  EXPECT_EQ(chat_param(R"("response_format":{"type":"json_object"},"guided_regex":"a")"), "guided_regex");
  const std::string message = chat_message(R"("guided_json":{"type":"object"},"grammar":"root ::= \"a\"")");
  EXPECT_NE(message.find("'guided_json'"), std::string::npos) << message;
  EXPECT_NE(message.find("'grammar'"), std::string::npos) << message;
  // Text output is no constraint.
  EXPECT_EQ(chat_param(R"("response_format":{"type":"text"},"guided_regex":"a")"), "accepted");
}

const char* kTools = R"("tools":[
  {"type":"function","function":{"name":"get_weather","description":"Weather","parameters":
    {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
  {"type":"function","function":{"name":"now"}}])";

TEST(StructuredOutputParseTest, ToolsAndToolChoice) {
  const ChatRequest r = chat(kTools);
  ASSERT_EQ(r.tools.size(), 2u);
  EXPECT_EQ(r.tools[0].name, "get_weather");
  EXPECT_EQ(r.tools[0].description, "Weather");
  EXPECT_EQ(r.tools[0].parameters_json,
            R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})");
  EXPECT_EQ(r.tools[0].tool_json.rfind(R"({"type":"function","function":{"name":"get_weather",)", 0), 0u);
  EXPECT_EQ(r.tools[1].parameters_json, "");
  EXPECT_EQ(r.tool_choice.mode, ToolChoice::Mode::kAuto);  // the default with tools
  EXPECT_EQ(chat("\"max_tokens\":1").tool_choice.mode, ToolChoice::Mode::kNone);  // and without
  EXPECT_EQ(chat(std::string(kTools) + R"(,"tool_choice":"required")").tool_choice.mode, ToolChoice::Mode::kRequired);
  EXPECT_EQ(chat(std::string(kTools) + R"(,"tool_choice":"none")").tool_choice.mode, ToolChoice::Mode::kNone);
  const ChatRequest named = chat(std::string(kTools) + R"(,"tool_choice":{"type":"function","function":{"name":"now"}})");
  EXPECT_EQ(named.tool_choice.mode, ToolChoice::Mode::kFunction);
  EXPECT_EQ(named.tool_choice.function_name, "now");

  EXPECT_EQ(chat_param(std::string(kTools) + R"(,"tool_choice":{"type":"function","function":{"name":"nope"}})"),
            "tool_choice");
  EXPECT_EQ(chat_param(std::string(kTools) + R"(,"tool_choice":"sometimes")"), "tool_choice");
  EXPECT_EQ(chat_param(R"("tool_choice":"required")"), "tool_choice");  // no tools
  EXPECT_EQ(chat_param(R"("tool_choice":"none")"), "accepted");
  EXPECT_EQ(chat_param(R"("tools":{})"), "tools");
  EXPECT_EQ(chat_param(R"("tools":[{"type":"retrieval"}])"), "tools[0].type");
  EXPECT_EQ(chat_param(R"("tools":[{"type":"function","function":{"name":"a b"}}])"), "tools[0].function.name");
  EXPECT_EQ(chat_param(R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}])"),
            "tools[1].function.name");
  EXPECT_EQ(chat_param(R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g","parameters":[]}}])"),
            "tools[1].function.parameters");
  // A forced tool call is itself a constraint.
  EXPECT_EQ(chat_param(std::string(kTools) + R"(,"tool_choice":"required","guided_regex":"a")"), "tool_choice");
  EXPECT_EQ(chat_param(std::string(kTools) + R"(,"tool_choice":"auto","guided_regex":"a")"), "accepted");
  // The deprecated function calling stays refused, saying what to use.
  EXPECT_EQ(chat_param(R"("functions":[{"name":"f"}])"), "functions");
  EXPECT_NE(chat_message(R"("function_call":"auto")").find("'tools'"), std::string::npos);
}

TEST(StructuredOutputParseTest, AssistantToolCallsAndToolResults) {
  const ChatRequest r = parse_chat_request(R"({"messages":[
    {"role":"user","content":"weather?"},
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},
      {"id":"call_2","type":"function","function":{"name":"now","arguments":{"tz":"UTC"}}}]},
    {"role":"tool","tool_call_id":"call_1","name":"get_weather","content":"sunny"}]})");
  ASSERT_EQ(r.messages.size(), 3u);
  const ChatMessage& assistant = r.messages[1];
  EXPECT_EQ(assistant.content, "");
  ASSERT_EQ(assistant.tool_calls.size(), 2u);
  EXPECT_EQ(assistant.tool_calls[0].id, "call_1");
  EXPECT_EQ(assistant.tool_calls[0].name, "get_weather");
  EXPECT_EQ(assistant.tool_calls[0].arguments_json, R"({"city": "Paris"})");  // as sent
  EXPECT_EQ(assistant.tool_calls[1].arguments_json, R"({"tz":"UTC"})");
  EXPECT_EQ(r.messages[2].tool_call_id, "call_1");
  EXPECT_EQ(r.messages[2].name, "get_weather");
  EXPECT_EQ(r.messages[2].content, "sunny");

  const auto param = [](const std::string& messages) {
    try {
      parse_chat_request(R"({"messages":)" + messages + "}");
    } catch (const ApiError& e) {
      return e.param();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(param(R"([{"role":"user","content":"x","tool_calls":[]}])"), "messages[0].tool_calls");
  EXPECT_EQ(param(R"([{"role":"assistant","tool_calls":{}}])"), "messages[0].tool_calls");
  EXPECT_EQ(param(R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":""}}]}])"),
            "messages[0].tool_calls[0].function.name");
  EXPECT_EQ(param(R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":3}}]}])"),
            "messages[0].tool_calls[0].function.arguments");
  EXPECT_EQ(param(R"([{"role":"tool","tool_call_id":5,"content":"x"}])"), "messages[0].tool_call_id");
}

}  // namespace
}  // namespace kvs
