#include "engine/chat/chat_styles.h"

#include "engine/chat/tool_text.h"
#include "engine/errors.h"

namespace kvs::chat {

const std::vector<ChatStyle>& chat_styles() {
  static const std::vector<ChatStyle> styles = {
      {"chatml", render_chatml},
      {"qwen3", render_qwen3},
      {"llama3", render_llama3},
      {"llama3.1", render_llama31},
      {"llama2", render_llama2},
      {"mistral", render_mistral},
      {"mistral-v0.1", render_mistral_v01},
      {"gemma", render_gemma},
      {"zephyr", render_zephyr},
  };
  return styles;
}

const ChatStyle* find_chat_style(const std::string& name) {
  for (const ChatStyle& style : chat_styles()) {
    if (name == style.name) return &style;
  }
  return nullptr;
}

std::string chat_style_names_joined() {
  std::string names;
  for (const ChatStyle& style : chat_styles()) {
    if (!names.empty()) names += ", ";
    names += style.name;
  }
  return names;
}

void throw_unsupported_role(const char* style, const ChatMessage& message, size_t index) {
  throw InvalidArgument("chat template " + std::string(style) + " cannot express message " +
                        std::to_string(index) + " with role '" + message.role + "'");
}

void throw_not_alternating(const char* style, size_t index) {
  throw InvalidArgument("chat template " + std::string(style) +
                        " needs roles alternating user/assistant starting with user; message " +
                        std::to_string(index) + " breaks that");
}

void append_qwen_tool_response(const std::vector<ChatMessage>& messages, size_t index,
                               std::string& out) {
  if (index == 0 || messages[index - 1].role != "tool") out += "<|im_start|>user";
  out += "\n<tool_response>\n";
  out += messages[index].content;
  out += "\n</tool_response>";
  if (index + 1 == messages.size() || messages[index + 1].role != "tool") out += "<|im_end|>\n";
}

void append_hermes_tools_block(const std::vector<ToolDefinition>& tools, std::string& out) {
  out +=
      "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
  for (const ToolDefinition& tool : tools) {
    out += '\n';
    out += tool_tojson(tool);
  }
  out +=
      "\n</tools>\n\nFor each function call, return a json object with function name and "
      "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
      "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";
}

}  // namespace kvs::chat
