#include "server/generation/generation_run.h"

#include "engine/errors.h"

namespace kvs {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The token's bytes (not decode({id}), which drops a SentencePiece leading space).
TokenLogprob token_logprob(const Tokenizer& tokenizer, const TokenEvent& event) {
  TokenLogprob token{event.token_id, tokenizer.token_bytes(event.token_id), event.logprob, true, {}};
  for (const auto& [id, logprob] : event.top_logprobs) token.top.emplace_back(tokenizer.token_bytes(id), logprob);
  return token;
}

}  // namespace

std::optional<std::vector<TokenLogprob>> score_prompt(EngineClient& engine, const Tokenizer& tokenizer,
                                                      const std::vector<int32_t>& prompt, int64_t top_logprobs,
                                                      int32_t priority, const std::function<bool()>& client_gone) {
  std::vector<TokenLogprob> out;
  if (prompt.empty()) return out;
  out.push_back({prompt[0], tokenizer.token_bytes(prompt[0]), 0.0f, /*has_logprob=*/false, {}});
  if (prompt.size() == 1) return out;
  Request request;  // greedy, no penalties: the forced tokens are what counts
  request.prompt_token_ids = {prompt[0]};
  request.forced_output_ids.assign(prompt.begin() + 1, prompt.end());
  request.max_tokens = static_cast<int64_t>(request.forced_output_ids.size());
  request.num_logprobs = static_cast<int32_t>(top_logprobs);
  request.priority = priority;
  RequestHandle handle = engine.submit(request);
  struct CancelOnExit {
    RequestHandle& handle;
    ~CancelOnExit() { handle.cancel(); }
  } cancel_on_exit{handle};
  // NOTE: the client is asked after every event too, not only when none came
  // for kClientCheckSeconds: a forced step is shorter than that, so the check
  // would otherwise never run and the scoring would outlive a hang-up. One
  // non-blocking poll per scored token.
  for (;;) {
    std::optional<TokenEvent> next = handle.next_for(kClientCheckSeconds);
    if (client_gone && client_gone()) return std::nullopt;  // cancel_on_exit stops the scoring
    if (!next) continue;
    const TokenEvent& event = *next;
    // NOTE: not an ApiError: the engine's text is for the log only (the
    // front end answers a plain exception with a 500 naming the request id).
    if (event.finish_reason == FinishReason::kError) throw Error("scoring the prompt failed: " + event.error);
    if (event.token_id >= 0) out.push_back(token_logprob(tokenizer, event));
    if (event.finish_reason != FinishReason::kNone) break;
  }
  return out;
}

GenerationRun::GenerationRun(EngineClient& engine, const Tokenizer& tokenizer, ServerMetrics& metrics,
                             std::vector<ChoiceSpec> choices)
    : engine_(engine), tokenizer_(tokenizer), metrics_(metrics), start_(std::chrono::steady_clock::now()) {
  try {
    for (ChoiceSpec& spec : choices) {
      RequestHandle handle = engine_.submit(spec.request);
      choices_.push_back(std::make_unique<Choice>(std::move(spec), std::move(handle), tokenizer_));
      choices_.back()->last_token = start_;
    }
  } catch (...) {
    cancel();
    throw;
  }
  results_.resize(choices_.size());
  for (size_t i = 0; i < choices_.size(); ++i) results_[i].counts_prompt = choices_[i]->spec.counts_prompt;
}

GenerationRun::~GenerationRun() { cancel(); }

std::vector<uint64_t> GenerationRun::request_ids() const {
  std::vector<uint64_t> ids;
  ids.reserve(choices_.size());
  for (const auto& choice : choices_) ids.push_back(choice->handle.id());
  return ids;
}

void GenerationRun::cancel() {
  for (auto& choice : choices_) {
    if (!choice->finished) choice->handle.cancel();
  }
}

bool GenerationRun::poll(std::vector<ChoiceDelta>& deltas, double timeout_seconds) {
  bool any_unfinished = false, progressed = false;
  // First take whatever is ready on any choice; block only if nothing was.
  for (size_t i = 0; i < choices_.size(); ++i) {
    while (!choices_[i]->finished) {
      any_unfinished = true;
      std::optional<TokenEvent> event = choices_[i]->handle.next_for(0.0);
      if (!event) break;
      handle_event(i, *event, deltas);
      progressed = true;
    }
  }
  if (!any_unfinished) return false;
  if (!progressed) {
    for (size_t i = 0; i < choices_.size(); ++i) {
      if (choices_[i]->finished) continue;
      if (std::optional<TokenEvent> event = choices_[i]->handle.next_for(timeout_seconds)) handle_event(i, *event, deltas);
      break;
    }
  }
  for (const auto& choice : choices_) {
    if (!choice->finished) return true;
  }
  return !deltas.empty();
}

std::vector<ChoiceResult> GenerationRun::run_to_end() {
  std::vector<ChoiceDelta> deltas;
  while (poll(deltas, 0.05)) deltas.clear();
  return results_;
}

void GenerationRun::handle_event(size_t index, const TokenEvent& event, std::vector<ChoiceDelta>& deltas) {
  Choice& choice = *choices_[index];
  ChoiceResult& result = results_[index];
  ChoiceDelta delta;
  delta.index = index;
  if (event.token_id >= 0) {
    if (choice.time_to_first_token < 0) {
      choice.time_to_first_token = seconds_since(start_);
    } else {
      metrics_.record_inter_token(seconds_since(choice.last_token));
    }
    choice.last_token = std::chrono::steady_clock::now();
    ++result.num_output_tokens;
    const std::string piece = choice.detokenizer.push(event.token_id);
    delta.text = choice.matcher.push(piece, result.num_output_tokens >= choice.spec.min_tokens);
    if (choice.spec.want_logprobs) {
      TokenLogprob token = token_logprob(tokenizer_, event);
      delta.tokens.push_back(token);
      result.tokens.push_back(token);
    }
    if (choice.matcher.stopped()) {
      choice.handle.cancel();
      result.text += delta.text;
      finish(index, "stop", delta);
      deltas.push_back(std::move(delta));
      return;
    }
  }
  if (event.finish_reason != FinishReason::kNone) {
    result.num_cached_prompt_tokens = event.stats.num_cached_prompt_tokens;
    delta.text += choice.matcher.push(choice.detokenizer.flush());
    delta.text += choice.matcher.flush();
    result.text += delta.text;
    std::string reason = finish_reason_name(event.finish_reason);
    if (event.finish_reason == FinishReason::kCancelled) reason = "abort";
    if (event.finish_reason == FinishReason::kError) result.error = event.error;
    if (choice.matcher.stopped()) reason = "stop";
    finish(index, reason, delta);
  } else {
    result.text += delta.text;
  }
  if (!delta.text.empty() || !delta.tokens.empty() || !delta.finish_reason.empty()) deltas.push_back(std::move(delta));
}

void GenerationRun::finish(size_t index, const std::string& reason, ChoiceDelta& delta) {
  Choice& choice = *choices_[index];
  choice.finished = true;
  results_[index].finish_reason = reason;
  delta.finish_reason = reason;
  ChoiceRecord record;
  record.num_prompt_tokens = static_cast<int64_t>(choice.spec.request.prompt_token_ids.size());
  record.num_output_tokens = results_[index].num_output_tokens;
  record.time_to_first_token = choice.time_to_first_token;
  record.e2e_seconds = seconds_since(start_);
  record.finish_reason = reason;
  metrics_.record_choice(record);
}

}  // namespace kvs
