#include "engine/chat/chat_styles.h"
#include "engine/chat/tool_text.h"

namespace kvs::chat {
namespace {

void append_turn(const std::string& role, const std::string& content, std::string& out) {
  out += "<|im_start|>";
  out += role;
  out += '\n';
  out += content;
  out += "<|im_end|>\n";
}

bool is_qwen_role(const std::string& role) {
  return role == "system" || role == "user" || role == "assistant" || role == "tool";
}

// Qwen2.5: "<|im_start|>assistant" + "\n" + content (when any) + the calls.
void append_tool_call_turn(const ChatMessage& message, std::string& out) {
  out += "<|im_start|>assistant";
  if (!message.content.empty()) out += "\n" + message.content;
  for (const ToolCall& call : message.tool_calls) {
    out += "\n<tool_call>\n{\"name\": \"";
    out += call.name;
    out += "\", \"arguments\": ";
    out += arguments_tojson(call);
    out += "}\n</tool_call>";
  }
  out += "<|im_end|>\n";
}

}  // namespace

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options) {
  const bool tools = has_tools(options);
  const bool hermes = options.wrap_tool_responses || tools || has_tool_calls(messages);
  std::string out;
  size_t first = 0;
  if (tools) {
    const bool has_system = messages.front().role == "system";
    out += "<|im_start|>system\n";
    if (has_system) {
      out += messages.front().content + "\n\n";  // even when empty, as Qwen2.5 does
    } else if (!options.default_system_prompt.empty()) {
      out += options.default_system_prompt + "\n\n";
    }
    append_hermes_tools_block(*options.tools, out);
    first = has_system ? 1 : 0;
  } else if (!options.default_system_prompt.empty() && messages.front().role != "system") {
    append_turn("system", options.default_system_prompt, out);
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (hermes) {
      if (!is_qwen_role(message.role)) throw_unsupported_role("chatml", message, i);
      if (message.role == "tool") {
        append_qwen_tool_response(messages, i, out);
        continue;
      }
      if (message.role == "assistant" && !message.tool_calls.empty()) {
        append_tool_call_turn(message, out);
        continue;
      }
    }
    append_turn(message.role, message.content, out);
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace kvs::chat
