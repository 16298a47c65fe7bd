#include "server/http/tokenize_handlers.h"

#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "server/api/api_error.h"
#include "server/api/openai_parse.h"

namespace kvs {
namespace {

using nlohmann::json;

void check_model(const ServingContext& context, const std::string& model) {
  if (!model.empty() && model != context.model_name) {
    throw ApiError(404, "The model '" + model + "' does not exist.", "model", "model_not_found");
  }
}

}  // namespace

void handle_tokenize(ServingContext& context, const httplib::Request& req, httplib::Response& res) {
  const TokenizeRequest request = parse_tokenize_request(req.body);
  check_model(context, request.model);
  std::vector<int32_t> ids;
  try {
    if (request.is_chat) {
      if (!context.chat) throw ApiError(400, "this model has no usable chat template: " + context.chat_error, "messages");
      ids = context.bundle.encode_chat(*context.chat, request.messages, request.add_generation_prompt, request.tools);
    } else if (request.add_special_tokens) {
      ids = context.bundle.encode_prompt(request.prompt);
    } else {
      ids = context.bundle.tokenizer->encode(request.prompt, /*add_special=*/false, /*parse_special=*/false);
    }
  } catch (const InvalidArgument& e) {
    throw ApiError(400, e.what(), request.is_chat ? "messages" : "prompt");
  }
  const json body = {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", context.max_tokens_capacity}};
  res.set_content(body.dump(), "application/json");
}

void handle_detokenize(ServingContext& context, const httplib::Request& req, httplib::Response& res) {
  const DetokenizeRequest request = parse_detokenize_request(req.body);
  check_model(context, request.model);
  const int64_t vocab = context.bundle.tokenizer->vocab_size();
  for (const int32_t id : request.tokens) {
    if (id >= vocab) {
      throw ApiError(400, "token id " + std::to_string(id) + " is outside the vocabulary (" + std::to_string(vocab) +
                              " tokens)", "tokens");
    }
  }
  // NOTE: skip_special=false, as vLLM's /detokenize; invalid UTF-8 (a partial
  // character) becomes U+FFFD in the JSON.
  const std::string text = context.bundle.tokenizer->decode(request.tokens, /*skip_special=*/false);
  res.set_content(json{{"prompt", text}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

}  // namespace kvs
