#pragma once
// Typed OpenAI requests: what the HTTP edge parses JSON into before anything
// touches the engine. Field meanings follow OpenAI's API (and vLLM's extras).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/chat/tools.h"
#include "engine/grammar/constraint.h"
#include "engine/sampling/sampler.h"
#include "kvcache/kv_policy_spec.h"

namespace kvs {

// Options shared by /v1/completions and /v1/chat/completions.
struct GenerationOptions {
  std::string model;                     // "" = the served model
  std::optional<int64_t> max_tokens;     // unset = up to the context
  SamplingParams sampling;
  int64_t n = 1;                         // choices per prompt, >= 1
  std::vector<std::string> stop;         // stop strings (not in the output unless include_stop_str_in_output)
  bool include_stop_str_in_output = false;  // vLLM extension: a matched stop string ends the text
  std::vector<int32_t> stop_token_ids;   // vLLM extension: extra finishing tokens
  bool stream = false;
  bool include_usage = false;            // stream_options.include_usage
  bool logprobs = false;
  int64_t top_logprobs = 0;              // alternatives per position (0..20)
  bool ignore_eos = false;               // vLLM extension
  // logit_bias (token id -> bias in [-100, 100]) and vLLM's min_tokens travel
  // in `sampling` (SamplingParams::logit_bias, ::min_tokens).
  std::string user;
  // Scheduling priority, lower runs first (vLLM's top-level `priority`, or
  // the older `kvserve.priority`; giving both with different values is a 400).
  // The `kvserve` extension object: our own options. Keys: "priority"
  // (integer, lower runs first; default 0), "kv_policy" (a policy name) and
  // "kv_budget" (a number). Unknown keys are a 400. The KV pair is as given,
  // unset = absent; resolve_kv_policy (server/serving) completes it from the
  // server's default and checks it.
  int32_t priority = 0;
  std::optional<KvPolicyKind> kv_policy;
  std::optional<double> kv_budget;
  // Structured output (issue 23): what the output must match, from
  // response_format (json_object / json_schema), vLLM's guided_json /
  // guided_regex / guided_choice / guided_grammar or llama.cpp's grammar /
  // json_schema; at most one per request. Unset = free text. Compiled (and
  // checked) by the front end (server/serving/grammar_compiler.h), not here.
  std::optional<grammar::ConstraintSpec> constraint;
  std::string constraint_param;  // the field it came from (errors name it); "" when unset
};

// One prompt, as text or as token ids.
struct PromptInput {
  bool is_tokens = false;
  std::string text;
  std::vector<int32_t> token_ids;
};

struct CompletionRequest {
  GenerationOptions options;
  std::vector<PromptInput> prompts;  // non-empty
  bool echo = false;  // with logprobs: the prompt tokens' logprobs come first (the first one null)
};

// OpenAI's tool_choice. Without `tools` only kNone is accepted (the default);
// with tools the default is kAuto.
struct ToolChoice {
  enum class Mode { kNone, kAuto, kRequired, kFunction };
  Mode mode = Mode::kNone;
  std::string function_name;  // kFunction: a name in ChatRequest::tools
};

struct ChatRequest {
  GenerationOptions options;
  std::vector<ChatMessage> messages;  // non-empty
  // Functions the model may call (names unique, each matching
  // [A-Za-z0-9_-]{1,64}); parameters_json is a JSON object's text or "".
  std::vector<ToolDefinition> tools;
  ToolChoice tool_choice;
  // OpenAI's parallel_tool_calls: tool_choice "required" may make several
  // calls (true, the default) or exactly one. A named function is called once.
  bool parallel_tool_calls = true;
};

// POST /tokenize (vLLM): a prompt, or messages rendered by the chat template.
struct TokenizeRequest {
  std::string model;                   // "" = the served model
  bool is_chat = false;                // messages given instead of prompt
  std::string prompt;
  std::vector<ChatMessage> messages;
  std::vector<ToolDefinition> tools;   // chat only: rendered as /v1/chat/completions would (vLLM)
  bool add_generation_prompt = true;   // chat only
  bool add_special_tokens = true;      // prompt only: BOS where the model wants one (as /v1/completions)
};

// POST /detokenize (vLLM).
struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

}  // namespace kvs
