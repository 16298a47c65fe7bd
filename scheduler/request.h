#pragma once
// What a front end submits to the engine and what it gets back: typed values,
// no JSON (that stays at the server edge).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/grammar/grammar_matcher.h"
#include "engine/sampling/sampler.h"
#include "kvcache/kv_policy_spec.h"

namespace kvs {

struct Request {
  std::vector<int32_t> prompt_token_ids;  // non-empty
  int64_t max_tokens = 16;                // >= 1; prompt + max_tokens must fit the context and the pool
  SamplingParams sampling;                // no seed: a random one is drawn
  std::vector<int32_t> stop_token_ids;    // finishing tokens (emitted, then the request ends); with
                                          // sampling.min_tokens > 0 they cannot be sampled before it
  int32_t priority = 0;                   // lower runs first (vLLM's convention); FCFS within a priority
  // Log-probabilities in the events: < 0 none (TokenEvent::logprob stays 0);
  // 0 the sampled token's; k > 0 also the k most likely tokens.
  int32_t num_logprobs = -1;
  // KV compression for this request; unset = the engine's default
  // (EngineConfig::kv_policy). Validated by EngineCore::add.
  std::optional<KvPolicySpec> kv_policy;
  // Teacher forcing (scoring): when non-empty, output token i is
  // forced_output_ids[i] instead of a sampled one (stop tokens and max_tokens
  // still end the request); with num_logprobs >= 0 each event carries the
  // model's logprob of the forced token. Ids must be in the vocabulary.
  std::vector<int32_t> forced_output_ids;
  // Constrained decoding (issue 23): when set, every sampled token keeps the
  // output a prefix of a sentence of this grammar (other tokens get -inf
  // before sampling), and the request's stop tokens may be sampled only when
  // the output is complete (GrammarMatcher::can_terminate); once nothing can
  // follow, the first stop token is forced. Shared, immutable, thread-safe:
  // front ends compile it once (it must be bound to this model's vocabulary).
  std::shared_ptr<const grammar::CompiledGrammar> grammar;
};

enum class FinishReason : uint8_t {
  kNone,       // not finished: more events follow
  kStop,       // a stop / EOS token was generated
  kLength,     // max_tokens or the model's context reached
  kCancelled,  // cancel() took effect
  kError,      // the engine failed this request (TokenEvent::error says why)
};
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled", "error", ""

// Per-request accounting, complete in the final event.
struct RequestStats {
  int64_t num_prompt_tokens = 0;
  int64_t num_output_tokens = 0;
  int64_t num_cached_prompt_tokens = 0;  // prompt tokens found in the prefix cache at first admission
  int64_t num_computed_tokens = 0;       // tokens this request put through the model (recompute included)
  int64_t num_preemptions = 0;
  int64_t num_evicted_tokens = 0;     // KV entries the compression policy dropped
  int64_t num_recomputed_tokens = 0;  // K/V rows recomputed from residual checkpoints (residual policy)
};

// One generated token, or the end of the stream. The last event of every
// request has finish_reason != kNone; it carries a token (token_id >= 0) when
// the request ended by generating one, none (token_id -1) on cancel/error.
struct TokenEvent {
  int32_t token_id = -1;
  float logprob = 0.0f;  // log-softmax of the model's raw logits (before penalties/temperature)
  // The Request::num_logprobs most likely tokens and their logprobs, best first.
  std::vector<std::pair<int32_t, float>> top_logprobs;
  FinishReason finish_reason = FinishReason::kNone;
  std::string error;     // set when finish_reason == kError
  RequestStats stats;    // filled in the final event
};

}  // namespace kvs
