#include "engine/chat/chat_styles.h"

namespace kvs::chat {
namespace {

std::string render_inst_turns(const char* style, const std::vector<ChatMessage>& messages,
                              const ChatStyleOptions& options, const char* after_assistant) {
  std::string out = options.bos_token;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (message.role != "user" && message.role != "assistant") {
      throw_unsupported_role(style, message, i);
    }
    if ((message.role == "user") != (i % 2 == 0)) throw_not_alternating(style, i);
    if (message.role == "user") {
      out += "[INST] " + message.content + " [/INST]";
    } else {
      out += message.content + options.eos_token + after_assistant;
    }
  }
  return out;
}

}  // namespace

std::string render_mistral(const std::vector<ChatMessage>& messages, bool /*add_generation_prompt*/,
                           const ChatStyleOptions& options) {
  return render_inst_turns("mistral", messages, options, "");
}

std::string render_mistral_v01(const std::vector<ChatMessage>& messages,
                               bool /*add_generation_prompt*/, const ChatStyleOptions& options) {
  return render_inst_turns("mistral-v0.1", messages, options, " ");
}

}  // namespace kvs::chat
