#include "engine/chat/chat_styles.h"
#include "engine/chat/python_json.h"
#include "engine/chat/python_strings.h"
#include "engine/chat/tool_text.h"
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
  const bool tools = has_tools(options);
  const bool has_system = messages.front().role == "system";
  std::string out = options.bos_token;
  out += "<|start_header_id|>system<|end_header_id|>\n\n";
  if (tools) out += "Environment: ipython\n";
  out += "Cutting Knowledge Date: December 2023\nToday Date: ";
  out += options.date;
  out += "\n\n";
  if (has_system) out += python_strip(messages.front().content);
  out += "<|eot_id|>";
  size_t first = has_system ? 1 : 0;
  if (tools) {
    if (first == messages.size()) {
      throw InvalidArgument(
          "chat template llama3.1 puts tools in the first user message; there is none");
    }
    const ChatMessage& user = messages[first];
    if (user.role != "user" || !user.tool_calls.empty()) {
      throw InvalidArgument("chat template llama3.1 puts tools in the first user message; message " +
                            std::to_string(first) + " has role '" + user.role + "'");
    }
    out += "<|start_header_id|>user<|end_header_id|>\n\n";
    out +=
        "Given the following functions, please respond with a JSON for a function call with its "
        "proper arguments that best answers the given prompt.\n\n"
        "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument "
        "name and its value}.Do not use variables.\n\n";
    for (const ToolDefinition& tool : *options.tools) {
      out += tool_tojson(tool, 4);
      out += "\n\n";
    }
    out += python_strip(user.content);
    out += "<|eot_id|>";
    ++first;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (!message.tool_calls.empty()) {
      if (message.tool_calls.size() != 1) {
        throw InvalidArgument("chat template llama3.1 supports one tool call per message; message " +
                              std::to_string(i) + " has " +
                              std::to_string(message.tool_calls.size()));
      }
      if (!python_strip(message.content).empty()) {
        throw InvalidArgument("chat template llama3.1 drops the content of a message with tool "
                              "calls; message " + std::to_string(i) + " has content");
      }
      const ToolCall& call = message.tool_calls.front();
      out += kAssistantHeader;
      out += "{\"name\": \"" + call.name + "\", \"parameters\": " + arguments_tojson(call) + "}";
      out += "<|eot_id|>";
    } else if (message.role == "tool" || message.role == "ipython") {
      out += "<|start_header_id|>ipython<|end_header_id|>\n\n";
      out += python_json_string(message.content);
      out += "<|eot_id|>";
    } else {
      append_header_turn(message.role, message.content, out);
    }
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
