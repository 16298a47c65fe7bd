#pragma once
// POST /v1/completions and /v1/chat/completions: typed request -> engine
// choices -> OpenAI JSON (or SSE stream). Errors are thrown as ApiError.
#include <httplib.h>

#include "server/serving/serving_context.h"

namespace kvs {

void handle_completions(ServingContext& context, const httplib::Request& req, httplib::Response& res);
void handle_chat_completions(ServingContext& context, const httplib::Request& req, httplib::Response& res);

}  // namespace kvs
