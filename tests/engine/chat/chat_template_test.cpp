// ChatTemplate's API: names, detection, errors, and the documented places where
// kvserve rejects what a real template would silently mangle.
#include "engine/chat/chat_template.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "engine/errors.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::string template_source(const std::string& file) {
  return test::read_file(test::source_dir() + "/tests/engine/chat/data/" + file);
}

// The message of the InvalidArgument `render` throws, or "" when it does not throw.
template <typename Function>
std::string invalid_argument_message(Function function) {
  try {
    function();
  } catch (const InvalidArgument& error) {
    return error.what();
  }
  return "";
}

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};
const std::vector<ChatMessage> kNoSystem = {
    {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};

TEST(ChatTemplate, KnownNamesAreStableAndAccepted) {
  const std::vector<std::string> expected = {"chatml",       "qwen3",  "llama3",
                                             "llama3.1",     "llama2", "mistral",
                                             "mistral-v0.1", "gemma",  "zephyr"};
  EXPECT_EQ(ChatTemplate::known_names(), expected);
  for (const std::string& name : ChatTemplate::known_names()) {
    const ChatTemplate chat_template = ChatTemplate::from_name(name, "<s>", "</s>");
    EXPECT_EQ(chat_template.style(), name);
    EXPECT_FALSE(chat_template.render(kNoSystem, true).empty()) << name;
  }
}

// A style by name renders exactly as the published template of that style does
// (templates without parameters: nothing to extract from their source).
TEST(ChatTemplate, FromNameMatchesFromJinja) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"chatml", "chatml.jinja"},
      {"qwen3", "qwen3.jinja"},
      {"llama3", "llama3.jinja"},
      {"llama3.1", "llama3.1.jinja"},
      {"llama2", "llama2.jinja"},
      {"mistral", "mixtral.jinja"},
      {"mistral-v0.1", "mistral-v0.1.jinja"},
      {"gemma", "gemma.jinja"},
      {"zephyr", "zephyr.jinja"}};
  for (const auto& [name, file] : pairs) {
    SCOPED_TRACE(name);
    const ChatTemplate by_name = ChatTemplate::from_name(name, "<B>", "<E>");
    const ChatTemplate by_source = ChatTemplate::from_jinja(template_source(file), "<B>", "<E>");
    for (bool add_generation_prompt : {true, false}) {
      EXPECT_EQ(by_name.render(kNoSystem, add_generation_prompt),
                by_source.render(kNoSystem, add_generation_prompt));
    }
  }
}

TEST(ChatTemplate, UnknownNameListsTheKnownOnes) {
  const std::string message =
      invalid_argument_message([] { ChatTemplate::from_name("vicuna", "", ""); });
  EXPECT_NE(message.find("vicuna"), std::string::npos) << message;
  EXPECT_NE(message.find("chatml, qwen3, llama3"), std::string::npos) << message;
}

TEST(ChatTemplate, UnrecognisedTemplateTellsUserToPassChatTemplate) {
  const std::vector<std::string> sources = {
      "",
      "{% for message in messages %}### {{ message['role'] }}: {{ message['content'] }}\n"
      "{% endfor %}",
      // Phi-3: <|user|> turns closed by <|end|>, not eos
      "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + "
      "'<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif "
      "%}",
      // Gemma 3 merges the system message into the first user turn
      "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}<start_of_turn>",
      // Mistral's later templates with a system prompt
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set system_message = "
      "messages[0]['content'] %}{% endif %}' [INST] ' + system_message",
      // QwQ-style reasoning template (not Qwen3's rules)
      "{{'<|im_start|>' + message.role}}{% set content = message.content.split('</think>')[-1] %}"};
  for (const std::string& source : sources) {
    SCOPED_TRACE(source);
    const std::string message =
        invalid_argument_message([&] { ChatTemplate::from_jinja(source, "<s>", "</s>"); });
    EXPECT_NE(message.find("--chat-template"), std::string::npos) << message;
    EXPECT_NE(message.find("chatml, qwen3, llama3, llama3.1, llama2, mistral, mistral-v0.1, "
                           "gemma, zephyr"),
              std::string::npos)
        << message;
  }
}

TEST(ChatTemplate, EmptyConversationIsRejectedByEveryStyle) {
  for (const std::string& name : ChatTemplate::known_names()) {
    const ChatTemplate chat_template = ChatTemplate::from_name(name, "<s>", "</s>");
    EXPECT_THROW(chat_template.render({}, true), InvalidArgument) << name;
  }
}

TEST(ChatTemplate, DefaultConstructedTemplateCannotRender) {
  EXPECT_THROW(ChatTemplate().render(kNoSystem, true), InvalidArgument);
}

// The default system prompt comes from the template source, not from a table:
// SmolLM2's own text, and whatever another ChatML template says.
TEST(ChatTemplate, DefaultSystemPromptIsReadFromTheSource) {
  const std::string smollm2 = template_source("smollm2.jinja");
  const ChatTemplate chat_template =
      ChatTemplate::from_jinja(smollm2, "<|im_start|>", "<|im_end|>");
  EXPECT_EQ(chat_template.render({{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

  std::string edited = smollm2;
  const std::string original =
      "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
  edited.replace(edited.find(original), original.size(), "Answer in \\'rhyme\\'.");
  EXPECT_EQ(ChatTemplate::from_jinja(edited, "", "").render({{"user", "Hi"}}, false),
            "<|im_start|>system\nAnswer in 'rhyme'.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");

  // A user-supplied system message replaces the default.
  EXPECT_EQ(chat_template.render({{"system", "S"}, {"user", "Hi"}}, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

// Where the real template silently drops or re-encodes a message, kvserve refuses.
TEST(ChatTemplate, RejectsWhatTheTemplateWouldSilentlyDrop) {
  const ChatTemplate llama2 =
      ChatTemplate::from_jinja(template_source("llama2.jinja"), "<s>", "</s>");
  EXPECT_THROW(llama2.render({{"system", "S"}}, true), InvalidArgument);
  EXPECT_THROW(llama2.render({{"user", "a"}, {"system", "S"}, {"user", "b"}}, true),
               InvalidArgument);
  const ChatTemplate zephyr = ChatTemplate::from_jinja(template_source("zephyr.jinja"), "", "</s>");
  EXPECT_THROW(zephyr.render({{"user", "a"}, {"tool", "t"}}, true), InvalidArgument);
  const ChatTemplate llama31 = ChatTemplate::from_jinja(template_source("llama3.1.jinja"), "", "");
  // Llama 3.1 drops the content of a tool-call turn.
  ChatMessage call_with_text{"assistant", "Let me check."};
  call_with_text.tool_calls.push_back({"call_1", "f", "{}"});
  EXPECT_THROW(llama31.render({{"user", "a"}, call_with_text}, true), InvalidArgument);
  for (const char* file : {"qwen3.jinja", "qwen2.5.jinja"}) {
    const ChatTemplate qwen = ChatTemplate::from_jinja(template_source(file), "", "<|im_end|>");
    EXPECT_THROW(qwen.render({{"user", "a"}, {"narrator", "n"}}, true), InvalidArgument) << file;
  }
  // Plain ChatML has no such restriction: the role is written as given.
  EXPECT_EQ(ChatTemplate::from_name("chatml", "", "").render({{"narrator", "n"}}, false),
            "<|im_start|>narrator\nn<|im_end|>\n");
}

TEST(ChatTemplate, LlamaSystemMessageMergesIntoFirstUserTurn) {
  const ChatTemplate llama2 = ChatTemplate::from_name("llama2", "<s>", "</s>");
  EXPECT_EQ(
      llama2.render(kConversation, true),
      "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]");
}

// Llama-3.2's template asks for today's date (strftime_now); 3.1's has a fixed one.
TEST(ChatTemplate, Llama32TemplateUsesTodaysDate) {
  std::string source = template_source("llama3.1.jinja");
  const std::string fixed = "{%- set date_string = \"26 Jul 2024\" %}";
  ASSERT_NE(source.find(fixed), std::string::npos);
  source.replace(
      source.find(fixed), fixed.size(),
      "{%- if strftime_now is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") "
      "%}{%- else %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}");
  const ChatTemplate chat_template = ChatTemplate::from_jinja(source, "<|begin_of_text|>", "");
  EXPECT_EQ(chat_template.style(), "llama3.1");
  const std::string text = chat_template.render({{"user", "Hi"}}, true);
  const std::regex date_line("Today Date: (\\d\\d [A-Z][a-z][a-z] \\d{4})\n\n");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(text, match, date_line)) << text;
  EXPECT_NE(match[1].str(), "26 Jul 2024");
}

}  // namespace
}  // namespace kvs
