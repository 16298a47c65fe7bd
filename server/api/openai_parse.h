#pragma once
// JSON bodies -> typed requests. Throws ApiError(400) naming the bad field;
// fields we do not know are ignored, as OpenAI does, but OpenAI fields kvserve
// does not implement (the deprecated functions / function_call, suffix,
// best_of > 1) are a 400 naming them. The server's own bounds
// (n, max_tokens, stop strings) are checked after parsing, by
// check_request_limits (server/serving/request_limits.h).
// Output constraints and tools are checked for shape here (two constraint
// fields, a tool_choice naming no tool, a constraint with a forced
// tool_choice: 400); whether a schema / regex / grammar compiles is the front
// end's check (compile_constraint, server/serving/grammar_compiler.h).
#include <string>

#include "server/api/openai_types.h"

namespace kvs {

CompletionRequest parse_completion_request(const std::string& body);
ChatRequest parse_chat_request(const std::string& body);
TokenizeRequest parse_tokenize_request(const std::string& body);
DetokenizeRequest parse_detokenize_request(const std::string& body);

}  // namespace kvs
