#include "engine/chat/chat_styles.h"
#include "engine/chat/python_strings.h"
#include "engine/errors.h"

namespace kvs::chat {

std::string render_gemma(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                         const ChatStyleOptions& options) {
  if (messages.front().role == "system") {
    throw InvalidArgument("chat template gemma has no system role");
  }
  std::string out = options.bos_token;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if ((message.role == "user") != (i % 2 == 0)) throw_not_alternating("gemma", i);
    out += "<start_of_turn>";
    out += message.role == "assistant" ? "model" : message.role;
    out += '\n';
    out += python_strip(message.content);
    out += "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace kvs::chat
