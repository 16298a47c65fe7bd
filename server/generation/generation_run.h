#pragma once
// Runs the choices of one API request through the engine and turns their
// token events into text: incremental UTF-8-safe detokenization, stop strings
// (held back while they may still match), logprobs, usage and metrics.
//
// Ownership: uses `engine`, `tokenizer` and `metrics`, which must outlive it.
// Thread-safety: one thread drives a run. The destructor cancels unfinished
// choices, so an abandoned run (client gone) frees its KV blocks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat/tool_call_parser.h"
#include "engine/tokenizer/tokenizer.h"
#include "scheduler/engine_client.h"
#include "server/metrics/server_metrics.h"
#include "server/text/stop_matcher.h"

namespace kvs {

struct TokenLogprob {
  int32_t token_id = -1;
  // The token's own bytes (Tokenizer::token_bytes: a SentencePiece "▁" keeps
  // its space), so the texts of a choice's tokens concatenate to its text. May
  // be a partial UTF-8 sequence.
  std::string text;
  float logprob = 0.0f;
  bool has_logprob = true;  // false for a prompt's first token (nothing precedes it)
  // The most likely tokens at this position (top_logprobs), best first.
  std::vector<std::pair<std::string, float>> top;
};

// Text (and tokens) that became available for one choice.
struct ChoiceDelta {
  size_t index = 0;
  std::string text;
  std::vector<TokenLogprob> tokens;  // filled only when logprobs were asked for
  std::string finish_reason;         // "" while unfinished; "stop" | "length" | "abort" | "error"
  // Chat with tools: pieces of tool calls parsed out of the output
  // (ToolCallOutputs, server/http/tool_call_outputs.h; `text` is then the
  // content outside calls, and finish_reason "tool_calls" when calls were made).
  std::vector<ToolCallDelta> tool_calls;
};

// One choice's whole result (non-streaming responses).
struct ChoiceResult {
  std::string text;
  std::vector<TokenLogprob> tokens;
  std::string finish_reason;
  int64_t num_output_tokens = 0;
  int64_t num_cached_prompt_tokens = 0;  // prompt tokens the prefix cache held (RequestStats)
  bool counts_prompt = true;             // ChoiceSpec::counts_prompt
  std::string error;  // finish_reason == "error"
  std::vector<ToolCall> tool_calls;  // chat with tools: calls parsed out of the text (see ChoiceDelta)
};

struct ChoiceSpec {
  Request request;
  std::vector<std::string> stop;  // stop strings
  bool include_stop_str = false;  // a matched stop string stays at the end of the text
  int64_t min_tokens = 0;         // vLLM: stop strings are not looked for before this many tokens
  bool want_logprobs = false;
  // The first choice of its prompt: its prompt (and cached prompt tokens)
  // count once in usage; the other n - 1 choices share that prompt.
  bool counts_prompt = true;
};

// The log-probabilities of each prompt token given the tokens before it
// (completions' echo with logprobs; the first one has no logprob). Runs one
// teacher-forced request (Request::forced_output_ids) to its end: prompt[0]
// then each later prompt token forced, `top_logprobs` alternatives per
// position. Off the fast path: it costs one engine step per prompt token and
// runs only when a request asks for it. Throws kvs::Error when the engine
// fails it (its text for the log; front ends answer 500 / INTERNAL).
// `client_gone` is asked after every scored token, and every
// kClientCheckSeconds while none comes: once it says true the scoring is
// cancelled (it stops at the engine's next step) and std::nullopt is returned.
inline constexpr double kClientCheckSeconds = 0.01;  // how often score_prompt asks client_gone
std::optional<std::vector<TokenLogprob>> score_prompt(EngineClient& engine, const Tokenizer& tokenizer,
                                                      const std::vector<int32_t>& prompt, int64_t top_logprobs,
                                                      int32_t priority,
                                                      const std::function<bool()>& client_gone = {});

class GenerationRun {
 public:
  // Submits every choice; throws InvalidArgument (from the engine) when one
  // can never run, then nothing stays queued.
  GenerationRun(EngineClient& engine, const Tokenizer& tokenizer, ServerMetrics& metrics,
                std::vector<ChoiceSpec> choices);
  ~GenerationRun();
  GenerationRun(const GenerationRun&) = delete;
  GenerationRun& operator=(const GenerationRun&) = delete;

  // Waits up to `timeout_seconds` for progress and appends what happened
  // (one delta per choice event). False once every choice has finished.
  bool poll(std::vector<ChoiceDelta>& deltas, double timeout_seconds);
  // Runs to the end and returns the results.
  std::vector<ChoiceResult> run_to_end();
  void cancel();
  // The engine request ids of the choices. Fixed once constructed, so any
  // thread may read them (e.g. to EngineClient::cancel them from a
  // cancellation callback while another thread polls).
  std::vector<uint64_t> request_ids() const;
  const std::vector<ChoiceResult>& results() const { return results_; }

 private:
  struct Choice {
    Choice(ChoiceSpec s, RequestHandle h, const Tokenizer& tokenizer)
        : spec(std::move(s)), handle(std::move(h)), detokenizer(tokenizer, /*skip_special=*/true),
          matcher(spec.stop, spec.include_stop_str) {}
    ChoiceSpec spec;
    RequestHandle handle;
    IncrementalDetokenizer detokenizer;
    StopMatcher matcher;
    bool finished = false;
    std::chrono::steady_clock::time_point last_token;
    double time_to_first_token = -1.0;
  };
  void handle_event(size_t index, const TokenEvent& event, std::vector<ChoiceDelta>& deltas);
  void finish(size_t index, const std::string& reason, ChoiceDelta& delta);

  EngineClient& engine_;
  const Tokenizer& tokenizer_;
  ServerMetrics& metrics_;
  std::vector<std::unique_ptr<Choice>> choices_;
  std::vector<ChoiceResult> results_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace kvs
