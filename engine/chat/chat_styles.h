#pragma once
// The chat styles kvserve renders, one C++ function each (internal to kvs_chat;
// ChatTemplate is the public face). Every renderer reproduces the published
// Jinja template named beside it for conversations of plain-text messages, and
// throws InvalidArgument where that template raises an exception. Where the
// template would silently drop or re-encode a message, the renderer throws
// instead (listed per style as "rejects"): a prompt that quietly lost a turn is
// worse than a 400.
//
// Preconditions for every renderer: `messages` is not empty (ChatTemplate::render
// checks). "strip" below is Python's str.strip() / Jinja's trim: Unicode
// whitespace at both ends.
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"

namespace kvs::chat {

struct ChatStyleOptions {
  std::string bos_token;
  std::string eos_token;
  std::string default_system_prompt;  // chatml: inserted when messages[0] isn't system; "" = none
  bool wrap_tool_responses = false;   // chatml: group "tool" turns as Qwen2.5 does
  std::string date;                   // llama3.1: the "Today Date:" text, e.g. "26 Jul 2024"
  // The tools to describe (not owned; nullptr or empty = none). Only the styles
  // marked "tools" below read it; ChatTemplate::render rejects tools and
  // tool_calls for the others.
  const std::vector<ToolDefinition>* tools = nullptr;
};

// True when options.tools holds at least one tool.
inline bool has_tools(const ChatStyleOptions& options) {
  return options.tools != nullptr && !options.tools->empty();
}

using ChatRenderer = std::string (*)(const std::vector<ChatMessage>& messages,
                                     bool add_generation_prompt, const ChatStyleOptions& options);

// chatml (SmolLM2, OpenHermes, Qwen2, Qwen2.5): "<|im_start|>{role}\n{content}<|im_end|>\n"
// per message, any role; generation prompt "<|im_start|>assistant\n". With a default
// system prompt, "<|im_start|>system\n{default}<|im_end|>\n" first when messages[0] is not
// a system message. With wrap_tool_responses, consecutive "tool" messages become one user
// turn of <tool_response> blocks, and roles other than system/user/assistant/tool are
// rejected (Qwen2.5 drops them).
// tools: Qwen2.5's tools branch (Hermes format) for every chatml model, SmolLM2 included
// (its own template has no tools): with tools, one system turn "{system}\n\n# Tools ...
// <tools>\n{tool|tojson} per line\n</tools> ... <|im_end|>\n" where {system} is
// messages[0]'s content when it is a system message (even empty), else the default system
// prompt (Qwen2.5: "You are Qwen, ..."); with neither, "# Tools" starts the turn (Qwen3's form).
// Tools or assistant tool_calls switch on wrap_tool_responses. Assistant
// tool_calls: "<|im_start|>assistant" + ("\n" + content if any) + per call
// "\n<tool_call>\n{"name": "N", "arguments": {arguments|tojson}}\n</tool_call>".
std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options);

// qwen3 (Qwen3's hybrid-thinking template): ChatML; a leading system message,
// later system messages rendered in place; "tool" as in chatml's wrap_tool_responses.
// Assistant messages: "<think>...</think>" reasoning is removed from turns before the
// last real user query; turns after it keep it as "<think>\n{reasoning}\n</think>\n\n",
// and a final assistant message always gets that block (empty when it had none).
// Rejects roles other than system/user/assistant/tool (the template drops them).
// tools: Qwen3's tools branch: a system turn "{system}\n\n" (when messages[0] is one) +
// the "# Tools" block as chatml's; assistant tool_calls after the content as
// "<tool_call>\n{"name": "N", "arguments": A}\n</tool_call>" blocks separated by "\n"
// (and from non-empty content), A being arguments_text (tool_text.h).
std::string render_qwen3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                         const ChatStyleOptions& options);

// llama3 (Meta-Llama-3-Instruct): bos, then per message
// "<|start_header_id|>{role}<|end_header_id|>\n\n{strip(content)}<|eot_id|>", any role;
// generation prompt "<|start_header_id|>assistant<|end_header_id|>\n\n".
std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options);

// llama3.1 (Llama-3.1/3.2/3.3-Instruct): as llama3, but a system turn always
// comes first: "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n" followed by
// strip(messages[0].content) when that is a system message.
// tools (tools_in_user_message = true, the template's default): the system turn starts with
// "Environment: ipython\n"; the first message after the system one must be a user message
// and becomes "Given the following functions, ...\n\n" + each tool|tojson(indent=4) +
// "\n\n" + strip(content). An assistant message with tool_calls renders as
// {"name": "N", "parameters": {arguments|tojson}}; it must hold exactly one call (the
// template raises otherwise) and no content (the template drops it: rejected). "tool" and
// "ipython" messages render as an "ipython" turn of their content as a JSON string
// (the template's `content | tojson`).
std::string render_llama31(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                           const ChatStyleOptions& options);

// llama2 (Llama-2-chat): user turns "{bos}[INST] {strip(content)} [/INST]", assistant
// turns " {strip(content)} {eos}"; a leading system message is merged into the first
// user turn as "<<SYS>>\n{system}\n<</SYS>>\n\n" before stripping. After it, roles must
// alternate user/assistant starting with user. add_generation_prompt has no effect.
// Rejects a conversation with no message after the system message and other roles
// (the template renders nothing for them).
std::string render_llama2(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options);

// mistral (Mixtral-8x7B-Instruct-v0.1): bos, then "[INST] {content} [/INST]" per user
// turn and "{content}{eos}" per assistant turn; strictly user/assistant alternating from
// user; no system role. add_generation_prompt has no effect.
std::string render_mistral(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                           const ChatStyleOptions& options);
// mistral-v0.1 (Mistral-7B-Instruct-v0.1): as mistral with "{content}{eos} " (a space
// after every assistant turn).
std::string render_mistral_v01(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                               const ChatStyleOptions& options);

// gemma (gemma-7b-it, gemma-2-it): bos, then
// "<start_of_turn>{role}\n{strip(content)}<end_of_turn>\n" with assistant named "model";
// even positions must be user, odd positions must not be; messages[0] must not be system;
// generation prompt "<start_of_turn>model\n".
// tools (kvserve's convention; Gemma's templates have none): with tools or tool_calls the
// conversation renders as tests/engine/chat/data/gemma3-tools.jinja, Gemma 3's
// template extended: a leading system message joins the first user turn (Gemma 3's
// first_user_prefix), then the tools block ("# Tools\n\n..." with one tool|tojson per line,
// see the file), then the user's text; an assistant's calls are
// "```tool_call\n{"name": "N", "arguments": A}\n```" blocks (after strip(content) + "\n"
// when there is content), separated by "\n"; consecutive tool messages form one user turn
// of "```tool_response\n{strip(content)}\n```" blocks separated by "\n". Turns (a tool
// group counting as a user turn) must alternate user/model starting with user.
std::string render_gemma(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                         const ChatStyleOptions& options);

// zephyr (zephyr-7b-beta, TinyLlama-Chat): "<|{role}|>\n{content}{eos}\n" for
// system/user/assistant; generation prompt "<|assistant|>\n". Rejects other roles (the
// template drops them).
std::string render_zephyr(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatStyleOptions& options);

struct ChatStyle {
  const char* name;
  ChatRenderer render;
};

// Every style, in ChatTemplate::known_names() order.
const std::vector<ChatStyle>& chat_styles();
// nullptr when `name` is not a style.
const ChatStyle* find_chat_style(const std::string& name);
// "chatml, qwen3, ..." for error messages.
std::string chat_style_names_joined();

// Shared by the renderers. `index` is the message's position in `messages`.
[[noreturn]] void throw_unsupported_role(const char* style, const ChatMessage& message,
                                         size_t index);
[[noreturn]] void throw_not_alternating(const char* style, size_t index);
// Appends message `index` (role "tool") the way Qwen2.5/Qwen3 do: consecutive tool
// messages share one "<|im_start|>user ... <|im_end|>\n" turn of
// "\n<tool_response>\n{content}\n</tool_response>" blocks.
void append_qwen_tool_response(const std::vector<ChatMessage>& messages, size_t index,
                               std::string& out);
// Qwen2.5/Qwen3's tools text, from "# Tools\n\n" to "</tool_call><|im_end|>\n".
void append_hermes_tools_block(const std::vector<ToolDefinition>& tools, std::string& out);

}  // namespace kvs::chat
