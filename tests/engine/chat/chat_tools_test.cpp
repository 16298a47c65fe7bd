// Tools in chat prompts beyond the jinja2 references: Python's json.dumps in
// C++, tools given by fields, chatml models without Qwen's default prompt, and
// the styles that have no tools.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/chat/python_json.h"
#include "engine/errors.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

using chat::parse_ordered_json;
using chat::python_json_dumps;

std::string dumps(const std::string& json, int indent = -1) {
  return python_json_dumps(*parse_ordered_json(json), indent);
}

// Expected strings printed by Python 3: json.dumps(value, ensure_ascii=False[, indent=4]).
TEST(PythonJson, DumpsLikePython) {
  EXPECT_EQ(dumps(R"({"b":1,"a":[true,false,null,"x"],"c":{}, "d":[]})"),
            R"({"b": 1, "a": [true, false, null, "x"], "c": {}, "d": []})");
  EXPECT_EQ(dumps("[1.0, 0.1, 1e16, 1e15, 1e-7, 0.0001, 123456789012345678, -0.0, 1.5e300, "
                  "3.14159, 2.5e-05, 100.0, 1e22, -12.5, 0.000123]"),
            "[1.0, 0.1, 1e+16, 1000000000000000.0, 1e-07, 0.0001, 123456789012345678, -0.0, "
            "1.5e+300, 3.14159, 2.5e-05, 100.0, 1e+22, -12.5, 0.000123]");
  EXPECT_EQ(dumps(R"(["\u00e9\u2014 \ud83d\ude00", "\"\\\/\b\f\n\r\t\u0001\u001f\u007f"])"),
            "[\"\xC3\xA9\xE2\x80\x94 \xF0\x9F\x98\x80\", "
            "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"]");
  EXPECT_EQ(dumps(R"({"a":[1,{"b":[]}],"c":{}})", 4),
            "{\n    \"a\": [\n        1,\n        {\n            \"b\": []\n        }\n    ],\n"
            "    \"c\": {}\n}");
  EXPECT_FALSE(parse_ordered_json("{not json").has_value());
}

const std::vector<ChatMessage> kAsk = {{"user", "Weather?"}};

TEST(ChatTools, ToolFromFieldsEqualsTheObjectItCameFrom) {
  const ToolDefinition from_json{"get_weather", "Weather.", R"({"type":"object"})",
                                 R"({"type":"function","function":{"name":"get_weather",)"
                                 R"("description":"Weather.","parameters":{"type":"object"}}})"};
  const ToolDefinition from_fields{"get_weather", "Weather.", R"({"type":"object"})", ""};
  for (const char* style : {"chatml", "qwen3", "llama3.1", "gemma"}) {
    const ChatTemplate chat_template = ChatTemplate::from_name(style, "", "");
    EXPECT_EQ(chat_template.render(kAsk, true, {from_json}),
              chat_template.render(kAsk, true, {from_fields}))
        << style;
  }
  const ToolDefinition bare{"ping", "", "", ""};
  EXPECT_NE(ChatTemplate::from_name("chatml", "", "").render(kAsk, true, {bare}).find(
                R"({"type": "function", "function": {"name": "ping"}})"),
            std::string::npos);
  const ToolDefinition broken{"x", "", "", "{oops"};
  EXPECT_THROW(ChatTemplate::from_name("chatml", "", "").render(kAsk, true, {broken}),
               InvalidArgument);
}

// SmolLM2's template has no tools: chatml renders Qwen2.5's tools block with the
// model's own default system prompt in place of Qwen's.
TEST(ChatTools, SmolLm2GetsHermesToolsWithItsDefaultPrompt) {
  const ChatTemplate smollm2 = ChatTemplate::from_jinja(
      test::read_file(test::source_dir() + "/tests/engine/chat/data/smollm2.jinja"),
      "<|im_start|>", "<|im_end|>");
  const ToolDefinition tool{"ping", "", "", R"({"type":"function","function":{"name":"ping"}})"};
  ChatMessage call{"assistant", ""};
  call.tool_calls.push_back({"call_0", "ping", "{}"});
  const std::vector<ChatMessage> messages = {{"user", "Ping?"}, call, {"tool", "pong"}};
  EXPECT_EQ(smollm2.render(messages, true, {tool}),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face\n\n# Tools\n\nYou may call one or more functions to assist with the user query."
            "\n\nYou are provided with function signatures within <tools></tools> XML tags:\n"
            "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"ping\"}}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments "
            "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
            "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\nPing?<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n"
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\npong\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
  // Without a default prompt or system message the tools block opens the turn (Qwen3's form).
  const std::string plain = ChatTemplate::from_name("chatml", "", "").render(kAsk, true, {tool});
  EXPECT_EQ(plain.rfind("<|im_start|>system\n# Tools\n\n", 0), 0u) << plain;
  // Without tools, an empty tool list is the two-argument form.
  EXPECT_EQ(smollm2.render(kAsk, true, {}), smollm2.render(kAsk, true));
}

TEST(ChatTools, StylesWithoutToolsRejectThem) {
  const ToolDefinition tool{"ping", "", "", ""};
  ChatMessage call{"assistant", ""};
  call.tool_calls.push_back({"call_0", "ping", "{}"});
  for (const char* style : {"llama3", "llama2", "mistral", "mistral-v0.1", "zephyr"}) {
    const ChatTemplate chat_template = ChatTemplate::from_name(style, "", "");
    EXPECT_THROW(chat_template.render(kAsk, true, {tool}), InvalidArgument) << style;
    EXPECT_THROW(chat_template.render({{"user", "a"}, call, {"user", "b"}}, true), InvalidArgument)
        << style;
  }
}

TEST(ChatTools, Llama31NeedsAFirstUserMessageForTools) {
  const ChatTemplate llama31 = ChatTemplate::from_name("llama3.1", "", "");
  const ToolDefinition tool{"ping", "", "", ""};
  EXPECT_THROW(llama31.render({{"system", "S"}}, true, {tool}), InvalidArgument);
  EXPECT_THROW(llama31.render({{"assistant", "Hi"}, {"user", "a"}}, true, {tool}),
               InvalidArgument);
}

}  // namespace
}  // namespace kvs
