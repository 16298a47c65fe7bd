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

std::vector<ChatMessage> to_messages(const nlohmann::json& array) {
  std::vector<ChatMessage> messages;
  for (const auto& item : array) {
    messages.push_back({item.at("role").get<std::string>(), item.at("content").get<std::string>()});
  }
  return messages;
}

TEST(ChatTemplateReference, EveryTemplateRendersLikeJinja) {
  const auto all =
      nlohmann::json::parse(test::read_file(data_dir() + "/chat_template_renderings.json"));
  ASSERT_GE(all.size(), 12u);
  size_t num_checked = 0;
  for (const auto& entry : all) {
    const std::string file = entry.at("template_file");
    SCOPED_TRACE(file);
    const ChatTemplate chat_template = ChatTemplate::from_jinja(
        test::read_file(data_dir() + "/" + file), entry.at("bos_token"), entry.at("eos_token"));
    EXPECT_EQ(chat_template.style(), entry.at("style").get<std::string>());
    for (const auto& c : entry.at("cases")) {
      const bool add_generation_prompt = c.at("add_generation_prompt");
      SCOPED_TRACE(c.at("conversation").get<std::string>() +
                   (add_generation_prompt ? " +generation prompt" : ""));
      const auto messages = to_messages(c.at("messages"));
      if (c.contains("error")) {
        EXPECT_THROW(chat_template.render(messages, add_generation_prompt), InvalidArgument);
      } else {
        EXPECT_EQ(chat_template.render(messages, add_generation_prompt),
                  c.at("text").get<std::string>());
      }
      ++num_checked;
    }
  }
  EXPECT_GE(num_checked, 300u);
}

// shared/fixtures/tokenizers/qwen3: the model's own template and conversations
// rendered by transformers' apply_chat_template.
TEST(ChatTemplateReference, Qwen3FixtureConversations) {
  const std::string dir = test::fixtures_dir() + "/tokenizers/qwen3";
  const auto config = nlohmann::json::parse(test::read_file(dir + "/tokenizer_config.json"));
  const ChatTemplate chat_template =
      ChatTemplate::from_jinja(config.at("chat_template"), "", config.at("eos_token"));
  EXPECT_EQ(chat_template.style(), "qwen3");
  std::istringstream lines(test::read_file(dir + "/chat.jsonl"));
  std::string line;
  size_t num_cases = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto c = nlohmann::json::parse(line);
    SCOPED_TRACE(line);
    EXPECT_EQ(chat_template.render(to_messages(c.at("messages")), c.at("add_generation_prompt")),
              c.at("text").get<std::string>());
    ++num_cases;
  }
  EXPECT_EQ(num_cases, 6u);
}

}  // namespace
}  // namespace kvs
