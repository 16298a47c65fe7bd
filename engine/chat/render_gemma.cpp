#include "engine/chat/chat_styles.h"
#include "engine/chat/python_strings.h"
#include "engine/chat/tool_text.h"
#include "engine/errors.h"

namespace kvs::chat {
namespace {

// tests/engine/chat/data/gemma3-tools.jinja: the text put before the first user
// message's content.
std::string gemma_tools_prefix(const std::vector<ToolDefinition>& tools) {
  std::string text = "# Tools\n\nYou can call these functions:\n";
  for (const ToolDefinition& tool : tools) text += tool_tojson(tool) + "\n";
  text +=
      "\nTo call functions, reply with one block per call and nothing else:\n```tool_call\n"
      "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n```\n"
      "Results come back in ```tool_response blocks.\n\n";
  return text;
}

std::string render_gemma_tools(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                               const ChatStyleOptions& options) {
  const bool has_system = messages.front().role == "system";
  std::string first_user_prefix = has_system ? messages.front().content + "\n\n" : "";
  if (has_tools(options)) first_user_prefix += gemma_tools_prefix(*options.tools);
  std::string out = options.bos_token;
  size_t turn = 0;
  const size_t first = has_system ? 1 : 0;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    const bool is_tool = message.role == "tool";
    const bool continues_tools = is_tool && i > first && messages[i - 1].role == "tool";
    if (continues_tools) {
      out += '\n';
    } else {
      if ((message.role == "user" || is_tool) != (turn % 2 == 0)) throw_not_alternating("gemma", i);
      out += "<start_of_turn>";
      out += message.role == "assistant" ? "model" : is_tool ? "user" : message.role;
      out += '\n';
      if (turn == 0) out += first_user_prefix;
      ++turn;
    }
    if (is_tool) {
      out += "```tool_response\n" + python_strip(message.content) + "\n```";
    } else if (message.role == "assistant" && !message.tool_calls.empty()) {
      if (!message.content.empty()) out += python_strip(message.content) + "\n";
      for (size_t c = 0; c < message.tool_calls.size(); ++c) {
        const ToolCall& call = message.tool_calls[c];
        if (c > 0) out += '\n';
        out += "```tool_call\n{\"name\": \"" + call.name + "\", \"arguments\": ";
        out += arguments_text(call);
        out += "}\n```";
      }
    } else {
      out += python_strip(message.content);
    }
    const bool tool_group_continues =
        is_tool && i + 1 < messages.size() && messages[i + 1].role == "tool";
    if (!tool_group_continues) out += "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace

std::string render_gemma(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                         const ChatStyleOptions& options) {
  if (has_tools(options) || has_tool_calls(messages)) {
    return render_gemma_tools(messages, add_generation_prompt, options);
  }
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
