#pragma once
// How chat templates print tools and tool calls (internal to kvs_chat): the
// Jinja expressions `tool | tojson` and `tool_call.arguments | tojson` applied
// to the values a transformers caller passes.
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/chat/tools.h"

namespace kvs::chat {

// `tool | tojson(indent)`: tool.tool_json printed as Python's json.dumps (key
// order kept); when tool_json is "", the OpenAI object built from the fields:
// {"type": "function", "function": {"name", "description"?, "parameters"?}}.
// Throws InvalidArgument when tool_json / parameters_json is not JSON.
std::string tool_tojson(const ToolDefinition& tool, int indent = -1);

// The value a template sees as tool_call.arguments: arguments_json parsed (the
// dict transformers callers pass) when it is JSON, else the text itself as a
// string (OpenAI clients send a string; the server is expected to pass it on).
// `arguments | tojson`: the parsed value printed by json.dumps, or the quoted string.
std::string arguments_tojson(const ToolCall& call);
// `arguments if arguments is string else arguments | tojson` (Qwen3, gemma).
std::string arguments_text(const ToolCall& call);

// True when some message has tool_calls.
bool has_tool_calls(const std::vector<ChatMessage>& messages);

}  // namespace kvs::chat
