#include "engine/chat/chat_styles.h"

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

}  // namespace

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options) {
  std::string out;
  if (!options.default_system_prompt.empty() && messages.front().role != "system") {
    append_turn("system", options.default_system_prompt, out);
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (options.wrap_tool_responses) {
      if (!is_qwen_role(message.role)) throw_unsupported_role("chatml", message, i);
      if (message.role == "tool") {
        append_qwen_tool_response(messages, i, out);
        continue;
      }
    }
    append_turn(message.role, message.content, out);
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace kvs::chat
