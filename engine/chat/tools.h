#pragma once
// OpenAI tools in chat prompts and in model output: the typed values the
// server edge fills from `tools` / assistant `tool_calls`, the per-family
// tool-call formats, and the parser that turns output text into tool calls.
#include <string>
#include <vector>

namespace kvs {

// One function the model may call (OpenAI {"type": "function", "function": {...}}).
struct ToolDefinition {
  std::string name;
  std::string description;      // "" when absent
  std::string parameters_json;  // JSON Schema as JSON text, "" when absent
  // The whole tool object as the client sent it, as compact JSON text with its
  // key order kept: templates print it with Python's json.dumps (tojson).
  std::string tool_json;
};

// A call the model made (an assistant message's tool_calls, or parsed output).
struct ToolCall {
  std::string id;              // "call_..." (OpenAI); may be "" in requests
  std::string name;
  std::string arguments_json;  // the arguments object as JSON text
};

}  // namespace kvs
