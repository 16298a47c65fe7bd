#pragma once
// POST /tokenize and POST /detokenize in vLLM's shapes:
//   /tokenize {"model"?, "prompt", "add_special_tokens"?} or
//             {"model"?, "messages", "add_generation_prompt"?}
//     -> {"tokens": [...], "count": N, "max_model_len": M}
//     The ids are exactly what /v1/completions (prompt) or
//     /v1/chat/completions (messages) would feed the model.
//   /detokenize {"model"?, "tokens": [...]} -> {"prompt": "text"}
// Errors are thrown as ApiError: 400 for a bad body or a token id outside the
// vocabulary, 404 for another model. Thread-safe (the tokenizer is immutable).
#include <httplib.h>

#include "server/serving/serving_context.h"

namespace kvs {

void handle_tokenize(ServingContext& context, const httplib::Request& req, httplib::Response& res);
void handle_detokenize(ServingContext& context, const httplib::Request& req, httplib::Response& res);

}  // namespace kvs
