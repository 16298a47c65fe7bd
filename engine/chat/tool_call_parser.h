#pragma once
// Tool calls out of model output text: the per-family formats the chat
// templates teach (chat_styles.h), parsed in one go or while streaming.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/chat/tools.h"

namespace kvs {

// How a model family writes a call (NAME a JSON string, ARGS a JSON object):
//   kHermes      <tool_call>{"name": NAME, "arguments": ARGS}</tool_call>, anywhere in
//                the text, any number (chatml and qwen3 styles: Qwen2.5, Qwen3, Hermes)
//   kLlama31Json {"name": NAME, "parameters": ARGS} as the whole reply, optionally
//                after "<|python_tag|>"; several calls separated by whitespace or ';'
//                (llama3.1 style)
//   kGemma       ```tool_call\n{"name": NAME, "arguments": ARGS}\n``` anywhere in the
//                text (gemma style; kvserve's convention, gemma3-tools.jinja)
// Every format accepts either key "arguments" or "parameters", and whitespace
// between the JSON tokens of the call's header and around the markers. The
// arguments may also come first, {"arguments": ARGS, "name": NAME} (Hermes 2
// Pro's order); such a call is decided, and emitted in one delta, at its end.
enum class ToolCallFormat { kHermes, kLlama31Json, kGemma };

// The format a chat style teaches; nullopt for styles without tools (llama3,
// llama2, mistral, mistral-v0.1, zephyr).
std::optional<ToolCallFormat> tool_call_format_for_style(std::string_view style);
std::optional<ToolCallFormat> tool_call_format(const ChatTemplate& chat_template);
// "hermes" | "llama3.1-json" | "gemma".
const char* tool_call_format_name(ToolCallFormat format);

// "call_" + 24 random characters [A-Za-z0-9] (OpenAI's id shape). Thread-safe
// (a thread-local generator seeded from std::random_device).
std::string random_tool_call_id();

// What a whole output parses to. `content` is the text outside tool calls;
// whitespace that touches a call (before its opening, after its end) is not
// content. Each call's arguments_json is the ARGS text exactly as the model wrote
// it (from its '{' to the matching '}'; not re-serialised).
struct ParsedToolOutput {
  std::string content;
  std::vector<ToolCall> tool_calls;
};

// One streamed step: content to append, and pieces of calls. A call's first
// delta carries its id and name (and possibly arguments text); later deltas
// carry only arguments text to append. `index` counts calls in this output
// from 0 (OpenAI's tool_calls[].index).
struct ToolCallDelta {
  size_t index = 0;
  std::string id;    // "" after the first delta of a call
  std::string name;  // "" after the first delta of a call
  std::string arguments;
};
struct ToolParseDelta {
  std::string content;
  std::vector<ToolCallDelta> tool_calls;
  bool empty() const { return content.empty() && tool_calls.empty(); }
};

// Streaming parser for one output. push() takes the next piece of text and
// returns what is certain so far; text that could still begin a call (e.g. a
// trailing "<tool_" in kHermes, a leading "{" in kLlama31Json) or whitespace
// that may touch a call is held back until decided. finish() flushes at the end
// of the output.
//
// A call is committed (its id and name emitted) once its opening marker and
// header up to the '{' that opens ARGS are well-formed; ARGS text is then
// streamed as it comes and ends at the matching '}' (JSON strings and escapes
// respected). Text that fails before that point is content, marker included
// (no exception). After ARGS, the expected "}" and closing marker are dropped;
// if something else follows, it is content. An output that ends inside ARGS
// keeps the call with the arguments written so far (as OpenAI does when a
// reply hits max_tokens).
//
// The deltas concatenate to exactly parse_tool_calls(whole text) however the
// text is split, for UTF-8 split at any byte (pieces may then split a
// character). Not thread-safe; one parser per output.
class ToolCallParser {
 public:
  // new_id makes each call's id (default random_tool_call_id).
  explicit ToolCallParser(ToolCallFormat format,
                          std::function<std::string()> new_id = random_tool_call_id);

  ToolParseDelta push(std::string_view text);
  ToolParseDelta finish();  // call once; push/finish after it throw std::logic_error
  // Everything parsed so far (the sum of the deltas returned).
  const ParsedToolOutput& result() const { return result_; }

 private:
  enum class State { kText, kHeader, kArguments, kTrailer, kArgumentsFirst, kNameTrailer };
  void process(bool final, ToolParseDelta& out);
  size_t scan_arguments(bool& closed);  // bytes of pending_ up to ARGS' end
  void revert_block(ToolParseDelta& out);
  void emit_content(std::string_view text, ToolParseDelta& out);
  void add_arguments(std::string_view text, ToolParseDelta& out);

  ToolCallFormat format_;
  std::function<std::string()> new_id_;
  State state_ = State::kText;
  std::string pending_;       // text received but not yet decided
  std::string held_space_;    // whitespace that may touch a call
  bool after_call_ = false;   // the last thing decided was a call's end
  bool plain_ = false;        // kLlama31Json: content started, no more calls
  int depth_ = 0;             // ARGS nesting
  bool in_string_ = false, escaped_ = false;
  std::string block_;      // arguments-first: the block's text so far (content if it fails)
  std::string arguments_;  // arguments-first: ARGS, emitted once the name is known
  bool finished_ = false;
  ParsedToolOutput result_;
};

// One-shot form: the same as push(text) then finish() on a new parser.
ParsedToolOutput parse_tool_calls(std::string_view text, ToolCallFormat format,
                                  std::function<std::string()> new_id = random_tool_call_id);

}  // namespace kvs
