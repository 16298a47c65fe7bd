// Checks the C++ chat renderers against renderings made by the real Jinja
// templates (jinja2; scripts/reference/render_chat_templates.py) and against
// the Qwen3 fixture rendered by Hugging Face transformers.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/errors.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::string data_dir() { return test::source_dir() + "/tests/engine/chat/data"; }

using Json = nlohmann::ordered_json;  // tools keep their key order

// An OpenAI message as the server edge fills ChatMessage: arguments given as an
// object (transformers style) become their compact JSON text.
std::vector<ChatMessage> to_messages(const Json& array) {
  std::vector<ChatMessage> messages;
  for (const auto& item : array) {
    ChatMessage message{item.at("role").get<std::string>(), item.at("content").get<std::string>()};
    if (item.contains("tool_calls")) {
      for (const auto& call : item.at("tool_calls")) {
        const auto& function = call.at("function");
        const auto& arguments = function.at("arguments");
        message.tool_calls.push_back(
            {call.at("id").get<std::string>(), function.at("name").get<std::string>(),
             arguments.is_string() ? arguments.get<std::string>() : arguments.dump()});
      }
    }
    if (item.contains("tool_call_id")) message.tool_call_id = item.at("tool_call_id");
    if (item.contains("name")) message.name = item.at("name");
    messages.push_back(std::move(message));
  }
  return messages;
}

std::vector<ToolDefinition> to_tools(const Json& array) {
  std::vector<ToolDefinition> tools;
  for (const auto& item : array) {
    const auto& function = item.at("function");
    tools.push_back({function.at("name").get<std::string>(),
                     function.value("description", std::string()),
                     function.contains("parameters") ? function.at("parameters").dump() : "",
                     item.dump()});
  }
  return tools;
}

TEST(ChatTemplateReference, EveryTemplateRendersLikeJinja) {
  const auto all = Json::parse(test::read_file(data_dir() + "/chat_template_renderings.json"));
  ASSERT_GE(all.size(), 16u);
  size_t num_checked = 0;
  size_t num_tool_cases = 0;
  for (const auto& entry : all) {
    const std::string file = entry.at("template_file");
    const bool tool_cases = entry.value("tool_cases", false);
    SCOPED_TRACE(file + (tool_cases ? " (tools)" : ""));
    // gemma3-tools.jinja is kvserve's convention for the gemma style, not a
    // template the detector knows: its entry names the style.
    const ChatTemplate chat_template =
        entry.value("style_by_name", false) ? ChatTemplate::from_name(entry.at("style"), entry.at("bos_token"),
                                             entry.at("eos_token"))
                   : ChatTemplate::from_jinja(test::read_file(data_dir() + "/" + file),
                                              entry.at("bos_token"), entry.at("eos_token"));
    EXPECT_EQ(chat_template.style(), entry.at("style").get<std::string>());
    for (const auto& c : entry.at("cases")) {
      const bool add_generation_prompt = c.at("add_generation_prompt");
      const bool with_tools = c.contains("tools");
      SCOPED_TRACE(c.at("conversation").get<std::string>() +
                   (add_generation_prompt ? " +generation prompt" : "") +
                   (with_tools ? " +tools" : ""));
      const auto messages = to_messages(c.at("messages"));
      const auto tools = with_tools ? to_tools(c.at("tools")) : std::vector<ToolDefinition>{};
      if (c.contains("error")) {
        EXPECT_THROW(chat_template.render(messages, add_generation_prompt, tools), InvalidArgument);
      } else {
        EXPECT_EQ(chat_template.render(messages, add_generation_prompt, tools),
                  c.at("text").get<std::string>());
        if (!with_tools) {  // the two-argument form is the same as no tools
          EXPECT_EQ(chat_template.render(messages, add_generation_prompt),
                    c.at("text").get<std::string>());
        }
      }
      ++num_checked;
      if (tool_cases) ++num_tool_cases;
    }
  }
  EXPECT_GE(num_checked, 480u);
  EXPECT_GE(num_tool_cases, 100u);
}

// shared/fixtures/tokenizers/qwen3: the model's own template and conversations
// rendered by transformers' apply_chat_template.
TEST(ChatTemplateReference, Qwen3FixtureConversations) {
  const std::string dir = test::fixtures_dir() + "/tokenizers/qwen3";
  const auto config = Json::parse(test::read_file(dir + "/tokenizer_config.json"));
  const ChatTemplate chat_template =
      ChatTemplate::from_jinja(config.at("chat_template"), "", config.at("eos_token"));
  EXPECT_EQ(chat_template.style(), "qwen3");
  std::istringstream lines(test::read_file(dir + "/chat.jsonl"));
  std::string line;
  size_t num_cases = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto c = Json::parse(line);
    SCOPED_TRACE(line);
    EXPECT_EQ(chat_template.render(to_messages(c.at("messages")), c.at("add_generation_prompt")),
              c.at("text").get<std::string>());
    ++num_cases;
  }
  EXPECT_EQ(num_cases, 6u);
}

}  // namespace
}  // namespace kvs
