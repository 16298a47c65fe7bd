#pragma once
// JSON bodies -> typed requests. Throws ApiError(400) naming the bad field;
// fields we do not know are ignored, as OpenAI does, but OpenAI fields kvserve
// does not implement (response_format other than text, tools, tool_choice,
// functions, function_call, suffix, best_of > 1) are a 400 naming them. The server's own bounds
// (n, max_tokens, stop strings) are checked after parsing, by
// check_request_limits (server/serving/request_limits.h).
#include <string>

#include "server/api/openai_types.h"

namespace kvs {

CompletionRequest parse_completion_request(const std::string& body);
ChatRequest parse_chat_request(const std::string& body);
TokenizeRequest parse_tokenize_request(const std::string& body);
DetokenizeRequest parse_detokenize_request(const std::string& body);

}  // namespace kvs
