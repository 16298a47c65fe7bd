#include <string_view>

#include "engine/chat/chat_styles.h"
#include "engine/chat/python_strings.h"
#include "engine/chat/tool_text.h"

namespace kvs::chat {
namespace {

// The template's ns.last_query_index: the last user message that is not a
// wrapped tool response, or the last message when there is none.
size_t last_query_index(const std::vector<ChatMessage>& messages) {
  for (size_t i = messages.size(); i-- > 0;) {
    const ChatMessage& message = messages[i];
    const bool tool_response = starts_with(message.content, "<tool_response>") &&
                               ends_with(message.content, "</tool_response>");
    if (message.role == "user" && !tool_response) return i;
  }
  return messages.size() - 1;
}

void append_assistant(const std::vector<ChatMessage>& messages, size_t index, size_t last_query,
                      std::string& out) {
  const std::string_view text = messages[index].content;
  std::string_view content = text;
  std::string_view reasoning;
  if (contains(text, "</think>")) {
    content = lstrip_char(after_last(text, "</think>"), '\n');
    reasoning =
        lstrip_char(after_last(rstrip_char(before_first(text, "</think>"), '\n'), "<think>"), '\n');
  }
  out += "<|im_start|>assistant\n";
  const bool last = index + 1 == messages.size();
  if (index > last_query && (last || !reasoning.empty())) {
    out += "<think>\n";
    out += strip_char(reasoning, '\n');
    out += "\n</think>\n\n";
    out += lstrip_char(content, '\n');
  } else {
    out += content;
  }
  bool first_call = true;
  for (const ToolCall& call : messages[index].tool_calls) {
    if (!first_call || !content.empty()) out += '\n';
    first_call = false;
    out += "<tool_call>\n{\"name\": \"";
    out += call.name;
    out += "\", \"arguments\": ";
    out += arguments_text(call);
    out += "}\n</tool_call>";
  }
  out += "<|im_end|>\n";
}

}  // namespace

std::string render_qwen3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                         const ChatStyleOptions& options) {
  std::string out;
  size_t first = 0;
  if (has_tools(options)) {
    out += "<|im_start|>system\n";
    if (messages.front().role == "system") {
      out += messages.front().content + "\n\n";
      first = 1;
    }
    append_hermes_tools_block(*options.tools, out);
  }
  const size_t last_query = last_query_index(messages);
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (message.role == "user" || message.role == "system") {
      out += "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n";
    } else if (message.role == "assistant") {
      append_assistant(messages, i, last_query, out);
    } else if (message.role == "tool") {
      append_qwen_tool_response(messages, i, out);
    } else {
      throw_unsupported_role("qwen3", message, i);
    }
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace kvs::chat
