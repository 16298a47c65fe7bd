#include "server/generation/generation_run.h"

namespace kvs {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

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
}

GenerationRun::~GenerationRun() { cancel(); }

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
    delta.text = choice.matcher.push(piece);
    if (choice.spec.want_logprobs) {
      TokenLogprob token{event.token_id, tokenizer_.decode({event.token_id}, /*skip_special=*/false), event.logprob, {}};
      for (const auto& [id, logprob] : event.top_logprobs) {
        token.top.emplace_back(tokenizer_.decode({id}, /*skip_special=*/false), logprob);
      }
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
