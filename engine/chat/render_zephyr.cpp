#include "engine/chat/chat_styles.h"

namespace kvs::chat {

std::string render_zephyr(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (message.role != "user" && message.role != "system" && message.role != "assistant") {
      throw_unsupported_role("zephyr", message, i);
    }
    out += "<|" + message.role + "|>\n" + message.content + options.eos_token + "\n";
  }
  if (add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

}  // namespace kvs::chat
