#pragma once
// POST /v1/completions and /v1/chat/completions: typed request -> engine
// choices -> OpenAI JSON (or SSE stream). Errors are thrown as ApiError: 404
// for another model (the name is only compared, never used as a path), 400
// beyond context.limits, 429 "too_many_streams" when the key's streams are
// all open. Thread-safe: called from any HTTP worker thread.
#include <httplib.h>

#include "server/serving/serving_context.h"

namespace kvs {

void handle_completions(ServingContext& context, const httplib::Request& req, httplib::Response& res);
void handle_chat_completions(ServingContext& context, const httplib::Request& req, httplib::Response& res);

}  // namespace kvs
