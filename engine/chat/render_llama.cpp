#include "engine/chat/chat_styles.h"
#include "engine/chat/python_strings.h"
#include "engine/errors.h"

namespace kvs::chat {
namespace {

void append_header_turn(const std::string& role, const std::string& content, std::string& out) {
  out += "<|start_header_id|>";
  out += role;
  out += "<|end_header_id|>\n\n";
  out += python_strip(content);
  out += "<|eot_id|>";
}

constexpr const char* kAssistantHeader = "<|start_header_id|>assistant<|end_header_id|>\n\n";

}  // namespace

std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options) {
  std::string out = options.bos_token;
  for (const ChatMessage& message : messages)
    append_header_turn(message.role, message.content, out);
  if (add_generation_prompt) out += kAssistantHeader;
  return out;
}

std::string render_llama31(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                           const ChatStyleOptions& options) {
  const bool has_system = messages.front().role == "system";
  std::string out = options.bos_token;
  out += "<|start_header_id|>system<|end_header_id|>\n\n";
  out += "Cutting Knowledge Date: December 2023\nToday Date: ";
  out += options.date;
  out += "\n\n";
  if (has_system) out += python_strip(messages.front().content);
  out += "<|eot_id|>";
  for (size_t i = has_system ? 1 : 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (message.role == "tool" || message.role == "ipython") {
      throw_unsupported_role("llama3.1", message, i);
    }
    append_header_turn(message.role, message.content, out);
  }
  if (add_generation_prompt) out += kAssistantHeader;
  return out;
}

std::string render_llama2(const std::vector<ChatMessage>& messages, bool /*add_generation_prompt*/,
                          const ChatStyleOptions& options) {
  const bool has_system = messages.front().role == "system";
  const size_t first = has_system ? 1 : 0;
  if (first == messages.size()) {
    throw InvalidArgument("chat template llama2 needs a user message after the system message");
  }
  std::string out;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    const size_t turn = i - first;
    if ((message.role == "user") != (turn % 2 == 0)) throw_not_alternating("llama2", i);
    std::string content = message.content;
    if (turn == 0 && has_system) {
      content = "<<SYS>>\n" + messages.front().content + "\n<</SYS>>\n\n" + content;
    }
    if (message.role == "user") {
      out += options.bos_token + "[INST] " + python_strip(content) + " [/INST]";
    } else if (message.role == "assistant") {
      out += " " + python_strip(content) + " " + options.eos_token;
    } else {
      throw_unsupported_role("llama2", message, i);
    }
  }
  return out;
}

}  // namespace kvs::chat
