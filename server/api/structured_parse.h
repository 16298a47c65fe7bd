#pragma once
// Issue 23 in request bodies: output constraints (response_format, vLLM's
// guided_*, llama.cpp's grammar / json_schema), tools, tool_choice and
// assistant tool_calls, parsed into typed values with 400s naming the field.
// Internal to server/api (openai_parse.cpp); whether a constraint compiles is
// checked later (server/serving/grammar_compiler.h).
#include <string>
#include <vector>

#include "server/api/openai_types.h"
#include "server/api/request_json.h"

namespace kvs {

// Sets options.constraint / constraint_param from the body's fields; two
// fields that constrain the output are a 400 naming both.
void parse_constraint(const request_json::json& doc, GenerationOptions& options);
// OpenAI's tools: [{"type": "function", "function": {"name", "description"?,
// "parameters"?, "strict"?}}]; names unique and [A-Za-z0-9_-]{1,64}.
std::vector<ToolDefinition> parse_tools(const request_json::json& tools);
// tool_choice (default: auto with tools, none without); a named function must
// be one of `tools`.
ToolChoice parse_tool_choice(const request_json::json& doc, const std::vector<ToolDefinition>& tools);
// An assistant message's tool_calls; `where` ("messages[i].tool_calls") prefixes the params of errors.
std::vector<ToolCall> parse_message_tool_calls(const request_json::json& calls, const std::string& where);

}  // namespace kvs
