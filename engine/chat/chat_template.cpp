#include "engine/chat/chat_template.h"

#include <ctime>

#include "engine/chat/chat_styles.h"
#include "engine/chat/template_detection.h"
#include "engine/chat/tool_text.h"
#include "engine/errors.h"

namespace kvs {
namespace {

// NOTE: Llama-3.1's template falls back to this date when the caller defines none.
constexpr const char* kLlama31DefaultDate = "26 Jul 2024";

// Llama-3.2's strftime_now("%d %b %Y"): transformers formats the local date.
std::string today_date() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  const size_t length = std::strftime(text, sizeof text, "%d %b %Y", &local);
  return std::string(text, length);
}

}  // namespace

ChatTemplate ChatTemplate::from_jinja(const std::string& source, const std::string& bos_token,
                                      const std::string& eos_token) {
  chat::DetectedStyle detected = chat::detect_chat_style(source);
  ChatTemplate result;
  result.style_ = std::move(detected.name);
  result.bos_token_ = bos_token;
  result.eos_token_ = eos_token;
  result.default_system_prompt_ = std::move(detected.default_system_prompt);
  result.wrap_tool_responses_ = detected.wrap_tool_responses;
  result.date_from_clock_ = detected.date_from_clock;
  return result;
}

ChatTemplate ChatTemplate::from_name(const std::string& name, const std::string& bos_token,
                                     const std::string& eos_token) {
  if (chat::find_chat_style(name) == nullptr) {
    throw InvalidArgument("unknown chat template '" + name +
                          "'; known: " + chat::chat_style_names_joined());
  }
  ChatTemplate result;
  result.style_ = name;
  result.bos_token_ = bos_token;
  result.eos_token_ = eos_token;
  return result;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  static const std::vector<ToolDefinition> kNoTools;
  return render(messages, add_generation_prompt, kNoTools);
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 const std::vector<ToolDefinition>& tools) const {
  const chat::ChatStyle* style = chat::find_chat_style(style_);
  if (style == nullptr) {
    throw InvalidArgument("chat template has no style; create it with from_jinja or from_name");
  }
  if (messages.empty()) throw InvalidArgument("cannot render an empty conversation");
  chat::ChatStyleOptions options;
  options.bos_token = bos_token_;
  options.eos_token = eos_token_;
  options.default_system_prompt = default_system_prompt_;
  options.wrap_tool_responses = wrap_tool_responses_;
  options.tools = &tools;
  const bool with_tools = style_ == "chatml" || style_ == "qwen3" || style_ == "llama3.1" ||
                          style_ == "gemma";
  if (!with_tools && (!tools.empty() || chat::has_tool_calls(messages))) {
    throw InvalidArgument("chat template " + style_ +
                          " has no tool calling; tools need chatml, qwen3, llama3.1 or gemma");
  }
  if (style_ == "llama3.1") options.date = date_from_clock_ ? today_date() : kLlama31DefaultDate;
  return style->render(messages, add_generation_prompt, options);
}

const std::vector<std::string>& ChatTemplate::known_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const chat::ChatStyle& style : chat::chat_styles()) list.emplace_back(style.name);
    return list;
  }();
  return names;
}

}  // namespace kvs
