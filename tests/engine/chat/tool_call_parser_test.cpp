// Tool calls out of model text: one-shot parses per family, and the streaming
// parser split at every byte giving the same result.
#include "engine/chat/tool_call_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::function<std::string()> counter_ids() {
  return [n = 0]() mutable { return "call_" + std::to_string(n++); };
}

ParsedToolOutput parse(std::string_view text, ToolCallFormat format) {
  return parse_tool_calls(text, format, counter_ids());
}

void expect_same(const ParsedToolOutput& a, const ParsedToolOutput& b) {
  EXPECT_EQ(a.content, b.content);
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size());
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].id, b.tool_calls[i].id);
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name);
    EXPECT_EQ(a.tool_calls[i].arguments_json, b.tool_calls[i].arguments_json);
  }
}

// Rebuilds the output from the deltas alone, checking their contract: a call's
// first delta has its id and name, later ones only arguments, indexes in order.
struct DeltaSum {
  ParsedToolOutput sum;
  void add(const ToolParseDelta& delta) {
    sum.content += delta.content;
    for (const ToolCallDelta& call : delta.tool_calls) {
      if (call.index == sum.tool_calls.size()) {
        ASSERT_FALSE(call.id.empty());
        ASSERT_FALSE(call.name.empty());
        sum.tool_calls.push_back({call.id, call.name, call.arguments});
      } else {
        ASSERT_EQ(call.index + 1, sum.tool_calls.size());
        ASSERT_TRUE(call.id.empty() && call.name.empty());
        sum.tool_calls.back().arguments_json += call.arguments;
      }
    }
  }
};

// Every split into two pushes, and byte-by-byte pushes, give the one-shot result.
void expect_streaming_matches(std::string_view text, ToolCallFormat format) {
  const ParsedToolOutput whole = parse(text, format);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    SCOPED_TRACE("split at " + std::to_string(cut));
    ToolCallParser parser(format, counter_ids());
    DeltaSum deltas;
    deltas.add(parser.push(text.substr(0, cut)));
    deltas.add(parser.push(text.substr(cut)));
    deltas.add(parser.finish());
    expect_same(deltas.sum, whole);
    expect_same(parser.result(), whole);
  }
  ToolCallParser parser(format, counter_ids());
  DeltaSum deltas;
  for (const char c : text) deltas.add(parser.push(std::string_view(&c, 1)));
  deltas.add(parser.finish());
  expect_same(deltas.sum, whole);
}

struct Case {
  const char* text;
  const char* content;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
};

void check_cases(ToolCallFormat format, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ParsedToolOutput out = parse(c.text, format);
    EXPECT_EQ(out.content, c.content);
    ASSERT_EQ(out.tool_calls.size(), c.calls.size());
    for (size_t i = 0; i < c.calls.size(); ++i) {
      EXPECT_EQ(out.tool_calls[i].id, "call_" + std::to_string(i));
      EXPECT_EQ(out.tool_calls[i].name, c.calls[i].first);
      EXPECT_EQ(out.tool_calls[i].arguments_json, c.calls[i].second);
    }
    expect_streaming_matches(c.text, format);
  }
}

TEST(ToolCallParser, Hermes) {
  check_cases(ToolCallFormat::kHermes, {
      {"Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
       "\"Paris\"}}\n</tool_call>",
       "Let me check.", {{"get_weather", "{\"city\": \"Paris\"}"}}},
      // Parallel calls; whitespace between them is not content.
      {"<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n"
       "{\"name\":\"b\",\"arguments\":{\"x\":[1,{\"y\":2}]}}\n</tool_call>\n",
       "", {{"a", "{}"}, {"b", "{\"x\":[1,{\"y\":2}]}"}}},
      // Braces and quotes inside strings do not end ARGS; \u escapes in the name.
      {"<tool_call>{\"name\": \"f\\u00e9\", \"parameters\": {\"q\": \"} \\\" {\"}}</tool_call>"
       " done",
       "done", {{"f\xC3\xA9", "{\"q\": \"} \\\" {\"}"}}},
      // Malformed openings stay content.
      {"<tool_call>\nnot json\n</tool_call>", "<tool_call>\nnot json\n</tool_call>", {}},
      {"<tool_call>{\"name\": 5, \"arguments\": {}}</tool_call>",
       "<tool_call>{\"name\": 5, \"arguments\": {}}</tool_call>", {}},
      {"<tool_call>{\"name\": \"f\", \"arguments\": \"x\"}</tool_call>",
       "<tool_call>{\"name\": \"f\", \"arguments\": \"x\"}</tool_call>", {}},
      {"a <tool_ b <tool_call", "a <tool_ b <tool_call", {}},
      {"<tool_call><tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>",
       "<tool_call>", {{"f", "{}"}}},
      // Cut off inside ARGS: the call keeps what was written.
      {"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, ", "", {{"f", "{\"a\": [1, "}}},
      // Cut off in the trailer.
      {"<tool_call>{\"name\": \"f\", \"arguments\": {}}\n</tool", "", {{"f", "{}"}}},
      // Something else after ARGS: the call stands, the rest is content.
      {"<tool_call>{\"name\": \"f\", \"arguments\": {}, \"x\": 1}</tool_call>",
       ", \"x\": 1}</tool_call>", {{"f", "{}"}}},
      // Arguments first (Hermes 2 Pro's order): decided at the end of the call.
      {"<tool_call>\n{\"arguments\": {\"city\": \"Paris\"}, \"name\": \"get_weather\"}\n</tool_call>"
       " ok",
       "ok", {{"get_weather", "{\"city\": \"Paris\"}"}}},
      {"<tool_call>{\"arguments\": {\"a\": 1}, \"nom\": \"x\"}</tool_call>",
       "<tool_call>{\"arguments\": {\"a\": 1}, \"nom\": \"x\"}</tool_call>", {}},
      {"<tool_call>{\"arguments\": {\"a\": 1}, \"name\": \"f\"}", "<tool_call>{\"arguments\": "
       "{\"a\": 1}, \"name\": \"f\"}", {}},
      {"<tool_call>{\"arguments\": {\"a\": \"<tool_call>\"", "<tool_call>{\"arguments\": {\"a\": "
       "\"<tool_call>\"", {}},
      {"  plain text \n", "  plain text \n", {}},
      {"", "", {}},
  });
}

TEST(ToolCallParser, Llama31Json) {
  check_cases(ToolCallFormat::kLlama31Json, {
      {"{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "",
       {{"get_weather", "{\"city\": \"Paris\"}"}}},
      {"<|python_tag|>{\"name\": \"f\", \"parameters\": {}}", "", {{"f", "{}"}}},
      {" {\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", \"arguments\": {}}\n", "",
       {{"a", "{\"x\": 1}"}, {"b", "{}"}}},
      // Calls only at the start: text first means plain content.
      {"Sure: {\"name\": \"f\", \"parameters\": {}}", "Sure: {\"name\": \"f\", \"parameters\": {}}",
       {}},
      {"{\"answer\": 42}", "{\"answer\": 42}", {}},
      {"{\"name\": \"f\", \"parameters\": {}} and more", "and more", {{"f", "{}"}}},
      {"<b>bold</b>", "<b>bold</b>", {}},
      {"{\"parameters\": {\"x\": [1]}, \"name\": \"f\"}", "", {{"f", "{\"x\": [1]}"}}},
      {"{\"parameters\": {\"x\": [1]}, \"name\": 1}", "{\"parameters\": {\"x\": [1]}, \"name\": 1}", {}},
      {"{\"name\": \"f\", \"parameters\": {\"a\": \"", "", {{"f", "{\"a\": \""}}},
  });
}

TEST(ToolCallParser, Gemma) {
  check_cases(ToolCallFormat::kGemma, {
      {"```tool_call\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n```", "",
       {{"get_weather", "{\"city\": \"Paris\"}"}}},
      {"Checking both.\n```tool_call\n{\"name\": \"a\", \"arguments\": {}}\n```\n```tool_call\n"
       "{\"name\": \"b\", \"arguments\": {\"t\": \"```\"}}\n```",
       "Checking both.", {{"a", "{}"}, {"b", "{\"t\": \"```\"}"}}},
      {"```python\nprint(1)\n```", "```python\nprint(1)\n```", {}},
      {"```tool_call\n{\"arguments\": {}, \"name\": \"a\"}\n```", "", {{"a", "{}"}}},
      {"```tool_call\nnope\n```", "```tool_call\nnope\n```", {}},
  });
}

TEST(ToolCallParser, HoldsBackWhatCouldStartACall) {
  ToolCallParser parser(ToolCallFormat::kHermes, counter_ids());
  ToolParseDelta d = parser.push("Sure <tool_");
  EXPECT_EQ(d.content, "Sure");  // " <tool_" held
  EXPECT_TRUE(d.tool_calls.empty());
  d = parser.push("call>\n{\"name\": \"get_");
  EXPECT_TRUE(d.empty());
  d = parser.push("weather\", \"arguments\": {\"ci");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].index, 0u);
  EXPECT_EQ(d.tool_calls[0].id, "call_0");
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"ci");
  d = parser.push("ty\": \"Paris\"}}\n</tool_call>");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_TRUE(d.tool_calls[0].id.empty());
  EXPECT_EQ(d.tool_calls[0].arguments, "ty\": \"Paris\"}");
  EXPECT_TRUE(parser.finish().empty());
  EXPECT_EQ(parser.result().content, "Sure");
  EXPECT_THROW(parser.push("x"), std::logic_error);

  // Arguments first: one delta with everything once the name is known.
  ToolCallParser first(ToolCallFormat::kHermes, counter_ids());
  EXPECT_TRUE(first.push("<tool_call>{\"arguments\": {\"a\": 1}").empty());
  EXPECT_TRUE(first.push(", \"name\": \"f\"").empty());
  d = first.push("}</tool_call>");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].id, "call_0");
  EXPECT_EQ(d.tool_calls[0].name, "f");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"a\": 1}");

  // A held partial marker that never completes is content at finish.
  ToolCallParser partial(ToolCallFormat::kHermes, counter_ids());
  EXPECT_EQ(partial.push("x <tool").content, "x");
  EXPECT_EQ(partial.finish().content, " <tool");
}

TEST(ToolCallParser, RandomIdsLookLikeOpenAis) {
  const std::string a = random_tool_call_id();
  const std::string b = random_tool_call_id();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 5u + 24u);
  EXPECT_EQ(a.substr(0, 5), "call_");
  for (const char c : a.substr(5)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << a;
  const ParsedToolOutput out =
      parse_tool_calls("<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>",
                       ToolCallFormat::kHermes);
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].id.size(), 29u);
}

TEST(ToolCallParser, FormatPerStyle) {
  EXPECT_EQ(tool_call_format_for_style("chatml"), ToolCallFormat::kHermes);
  EXPECT_EQ(tool_call_format_for_style("qwen3"), ToolCallFormat::kHermes);
  EXPECT_EQ(tool_call_format_for_style("llama3.1"), ToolCallFormat::kLlama31Json);
  EXPECT_EQ(tool_call_format_for_style("gemma"), ToolCallFormat::kGemma);
  for (const char* style : {"llama3", "llama2", "mistral", "mistral-v0.1", "zephyr"}) {
    EXPECT_FALSE(tool_call_format_for_style(style).has_value()) << style;
  }
  EXPECT_EQ(tool_call_format(ChatTemplate::from_name("qwen3", "", "")), ToolCallFormat::kHermes);
  EXPECT_STREQ(tool_call_format_name(ToolCallFormat::kGemma), "gemma");
}

// What a template renders for an assistant's calls parses back to those calls.
TEST(ToolCallParser, ParsesWhatTheTemplatesRender) {
  ChatMessage call_turn{"assistant", ""};
  call_turn.tool_calls.push_back({"call_0", "get_weather", "{\"city\":\"Paris\",\"n\":[1,2]}"});
  // A result after the call: Qwen3 adds an empty <think> block to a final assistant turn.
  const std::vector<ChatMessage> messages = {{"user", "Weather?"}, call_turn, {"tool", "18C"}};
  const std::vector<ToolDefinition> tools = {{"get_weather", "", "{\"type\":\"object\"}", ""}};
  struct Style {
    const char* name;
    const char* turn_start;
    const char* turn_end;
  };
  for (const Style& style : {Style{"chatml", "<|im_start|>assistant", "<|im_end|>"},
                             Style{"qwen3", "<|im_start|>assistant\n", "<|im_end|>"},
                             Style{"llama3.1", "<|start_header_id|>assistant<|end_header_id|>\n\n",
                                   "<|eot_id|>"},
                             Style{"gemma", "<start_of_turn>model\n", "<end_of_turn>"}}) {
    SCOPED_TRACE(style.name);
    const ChatTemplate chat_template = ChatTemplate::from_name(style.name, "", "");
    const std::string prompt = chat_template.render(messages, false, tools);
    const size_t start = prompt.find(style.turn_start, prompt.find("Weather?"));
    ASSERT_NE(start, std::string::npos) << prompt;
    const size_t body = start + std::string_view(style.turn_start).size();
    const std::string reply = prompt.substr(body, prompt.find(style.turn_end, body) - body);
    const ParsedToolOutput out = parse(reply, *tool_call_format(chat_template));
    EXPECT_EQ(out.content, "") << reply;
    ASSERT_EQ(out.tool_calls.size(), 1u) << reply;
    EXPECT_EQ(out.tool_calls[0].name, "get_weather");
    EXPECT_EQ(out.tool_calls[0].arguments_json, "{\"city\": \"Paris\", \"n\": [1, 2]}");
  }
}

}  // namespace
}  // namespace kvs
