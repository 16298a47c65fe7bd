#pragma once
// JSON bodies -> typed requests. Throws ApiError(400) naming the bad field;
// fields we do not know are ignored, as OpenAI does.
#include <string>

#include "server/api/openai_types.h"

namespace kvs {

CompletionRequest parse_completion_request(const std::string& body);
ChatRequest parse_chat_request(const std::string& body);

}  // namespace kvs
