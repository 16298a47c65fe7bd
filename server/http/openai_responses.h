#pragma once
// OpenAI response bodies (completion, chat completion, their stream chunks,
// usage) built from generation results. Pure functions.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/generation/generation_run.h"

namespace kvs {

enum class ApiKind { kCompletion, kChat };

struct ResponseMeta {
  ApiKind kind = ApiKind::kCompletion;
  std::string id;       // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
  bool logprobs = false;
  int64_t top_logprobs = 0;
};

// usage, with prompt_tokens_details.cached_tokens (prompt tokens the prefix
// cache already held).
nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);
// The cached prompt tokens of a request: summed over the choices that count
// their prompt (ChoiceResult::counts_prompt).
int64_t cached_prompt_tokens(const std::vector<ChoiceResult>& results);
// Logprobs of `tokens` in the endpoint's shape; `text_offset` is where the
// first token starts in the choice's text (completions only). A token without
// a logprob (a prompt's first) gets null logprob and top_logprobs.
nlohmann::json logprobs_json(const ResponseMeta& meta, const std::vector<TokenLogprob>& tokens, size_t text_offset);
// A whole non-streaming response. `prefixes[i]` is text put before choice i
// (echo), "" otherwise; `prefix_tokens[i]`, when present, are that prefix's
// tokens with their logprobs (echo + logprobs), listed before the choice's.
nlohmann::json full_response(const ResponseMeta& meta, const std::vector<ChoiceResult>& results,
                             const std::vector<std::string>& prefixes,
                             const std::vector<std::vector<TokenLogprob>>& prefix_tokens, int64_t prompt_tokens);
// One stream chunk for a delta of one choice. `text_offset`: where the delta's
// text starts in the choice's whole text (completions' logprobs.text_offset
// is cumulative over the stream).
nlohmann::json stream_chunk(const ResponseMeta& meta, const ChoiceDelta& delta, bool include_usage_field,
                            size_t text_offset = 0);
// The chat stream's opening chunk for a choice (role only).
nlohmann::json chat_role_chunk(const ResponseMeta& meta, size_t index, bool include_usage_field);
// The final usage chunk (stream_options.include_usage): no choices.
nlohmann::json usage_chunk(const ResponseMeta& meta, int64_t prompt_tokens, int64_t completion_tokens,
                           int64_t cached_tokens);

}  // namespace kvs
