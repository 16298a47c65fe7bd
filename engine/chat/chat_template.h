#pragma once
// Renders a conversation into the prompt text a model was trained on.
#include <string>
#include <vector>

#include "engine/chat/tools.h"

namespace kvs {

struct ChatMessage {
  std::string role;     // "system" | "user" | "assistant" | "tool" (others passed through)
  std::string content;  // "" for an absent (null) content
  // Defaulted so {role, content} initialisers stay complete (-Wmissing-field-initializers).
  std::vector<ToolCall> tool_calls = {};  // assistant: the calls it made (OpenAI tool_calls)
  std::string tool_call_id = {};          // tool: the call this result answers ("" = absent)
  std::string name = {};                  // tool: the function's name ("" = absent)
};

// A recognised template style with its parameters (e.g. a default system
// prompt the model's template inserts). Immutable; thread-safe.
//
// NOTE: there is no Jinja interpreter here (llama.cpp's approach): from_jinja
// recognises the style by distinctive markers and per-style C++ code renders it,
// reproducing the real template byte for byte for plain-text messages, and for
// tools, tool calls and tool results where the family has them (docs/tool-calling.md). Each
// style's rules, including which conversations it rejects, are documented in
// engine/chat/chat_styles.h; the detection rules in template_detection.h.
class ChatTemplate {
 public:
  // Recognises the style of a model's Jinja template (GGUF
  // tokenizer.chat_template / tokenizer_config.json). Throws InvalidArgument
  // naming the problem if the template is not one we know.
  static ChatTemplate from_jinja(const std::string& source, const std::string& bos_token,
                                 const std::string& eos_token);
  // A style by name: "chatml", "llama3", "llama2", "mistral", ... (the
  // --chat-template override). Throws InvalidArgument for unknown names.
  static ChatTemplate from_name(const std::string& name, const std::string& bos_token,
                                const std::string& eos_token);
  // Throws InvalidArgument on an empty conversation or a role the style
  // cannot express.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // As above with the tools the model may call (OpenAI `tools`; empty = none,
  // as if the template got no `tools`), described the way the model's family
  // does (chat_styles.h: chatml and qwen3 as Qwen2.5/Qwen3 (Hermes), llama3.1
  // as Llama 3.1 with tools in the first user message, gemma with kvserve's
  // convention tests/engine/chat/data/gemma3-tools.jinja). Messages may carry
  // tool_calls and "tool" results in every case. Throws InvalidArgument where
  // the style has no tools (llama3, llama2, mistral, zephyr) or cannot express
  // the conversation.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     const std::vector<ToolDefinition>& tools) const;
  const std::string& style() const { return style_; }

  // The names from_name accepts, in a fixed order: "chatml", "qwen3", "llama3",
  // "llama3.1", "llama2", "mistral", "mistral-v0.1", "gemma", "zephyr".
  static const std::vector<std::string>& known_names();

 private:
  std::string style_;
  std::string bos_token_, eos_token_;
  std::string default_system_prompt_;  // empty: none
  bool wrap_tool_responses_ = false;   // chatml: "tool" turns as Qwen's <tool_response>
  bool date_from_clock_ = false;       // llama3.1: today's date instead of 26 Jul 2024
};

}  // namespace kvs
