#include "scheduler/scheduler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/errors.h"
#include "scheduler/ngram_proposer.h"

namespace kvs {

void SchedulerConfig::validate() const {
  if (max_num_batched_tokens < (preserve_step_shape ? 3 : 1)) {
    throw InvalidArgument(preserve_step_shape ? "max_num_batched_tokens must be >= 3" : "max_num_batched_tokens must be >= 1");
  }
  if (max_num_seqs < 1) throw InvalidArgument("max_num_seqs must be >= 1");
  if (max_model_len < 2) throw InvalidArgument("max_model_len must be >= 2");
  if (!(watermark >= 0.0 && watermark < 1.0)) throw InvalidArgument("watermark must be in [0, 1)");
  if (aging_steps < 0) throw InvalidArgument("aging_steps must be >= 0");
  if (starvation_steps < 0) throw InvalidArgument("starvation_steps must be >= 0");
  if (speculative_ngram < 0 || speculative_ngram > 64) throw InvalidArgument("speculative_ngram must be in [0, 64]");
}

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheManager& kv) : config_(config), kv_(kv) {
  config_.validate();
}

void Scheduler::check(const Request& request) const {
  const int64_t num_prompt = static_cast<int64_t>(request.prompt_token_ids.size());
  if (num_prompt == 0) throw InvalidArgument("the prompt is empty");
  if (request.max_tokens < 1) throw InvalidArgument("max_tokens must be >= 1");
  if (num_prompt + request.max_tokens > config_.max_model_len) {
    throw InvalidArgument("request too long: prompt " + std::to_string(num_prompt) + " + max_tokens " +
                          std::to_string(request.max_tokens) + " tokens exceed the model's context of " +
                          std::to_string(config_.max_model_len));
  }
  // The last generated token is never written to the cache.
  const int64_t blocks = kv_.max_blocks_held(num_prompt + request.max_tokens - 1, config_.max_num_batched_tokens);
  if (blocks > kv_.num_blocks()) {
    throw InvalidArgument("request too long: prompt " + std::to_string(num_prompt) + " + max_tokens " +
                          std::to_string(request.max_tokens) + " need " + std::to_string(blocks) +
                          " KV blocks; the cache has " + std::to_string(kv_.num_blocks()) + " (" +
                          std::to_string(kv_.num_blocks() * kv_.block_size()) + " tokens)");
  }
}

Sequence& Scheduler::add(uint64_t id, const Request& request) {
  check(request);
  if (sequences_.count(id)) throw InvalidArgument("duplicate request id " + std::to_string(id));
  const int64_t num_prompt = static_cast<int64_t>(request.prompt_token_ids.size());
  auto sequence = std::make_unique<Sequence>();
  sequence->id = id;
  sequence->tokens = request.prompt_token_ids;
  sequence->num_prompt_tokens = num_prompt;
  sequence->max_tokens = request.max_tokens;
  sequence->stop_token_ids = request.stop_token_ids;
  sequence->priority = request.priority;
  sequence->num_logprobs = request.num_logprobs;
  sequence->arrival = next_arrival_++;
  sequence->arrival_step = step_;
  sequence->stats.num_prompt_tokens = num_prompt;
  Sequence& ref = *sequence;
  waiting_.push_back(&ref);
  sequences_.emplace(id, std::move(sequence));
  return ref;
}

bool Scheduler::before(const Sequence& a, const Sequence& b) const {
  const auto effective = [this](const Sequence& s) {
    const int64_t aged = config_.aging_steps > 0 ? (step_ - s.arrival_step) / config_.aging_steps : 0;
    return static_cast<int64_t>(s.priority) - aged;
  };
  const int64_t pa = effective(a), pb = effective(b);
  return pa != pb ? pa < pb : a.arrival < b.arrival;
}

int64_t Scheduler::chunk_size(const Sequence& s, int64_t num_computed, int64_t budget) const {
  if (budget <= 0) return 0;
  if (!config_.preserve_step_shape) return std::min(s.num_tokens() - num_computed, budget);
  if (num_computed >= s.num_prompt_tokens) return 1;  // outputs: one per step, as first computed
  const int64_t remaining = s.num_prompt_tokens - num_computed;
  int64_t n = std::min(remaining, budget);
  if (remaining - n == 1) --n;  // never leave a one-token prompt tail
  return (n == 1 && remaining > 1) || n <= 0 ? 0 : n;
}

// NOTE: the last 3, then 2, then 1 tokens are looked up (vLLM's ngram method takes
// prompt_lookup_max / _min; llama-cpp-python's LlamaPromptLookupDecoding 2 down to 1).
constexpr int64_t kMaxDraftNgram = 3;

std::vector<int32_t> Scheduler::draft(const Sequence& s, int64_t budget) const {
  if (!s.speculate || config_.speculative_ngram <= 0) return {};
  // Never more drafts than the sequence can still emit after the one sure token.
  const int64_t room = std::min({config_.speculative_ngram, budget, s.max_tokens - s.num_output_tokens() - 1,
                                 config_.max_model_len - s.num_tokens() - 1});
  return propose_ngram_draft(s.tokens, kMaxDraftNgram, 1, room);
}

PrefixHit Scheduler::find_prefix(const Sequence& s) const {
  PrefixHit hit = kv_.find_prefix(s.tokens, s.num_prompt_tokens, s.num_tokens() - 1);
  if (config_.preserve_step_shape && hit.num_tokens == s.num_prompt_tokens - 1) {
    hit = kv_.find_prefix(s.tokens, s.num_prompt_tokens, s.num_prompt_tokens - 2);  // keep >= 2 prompt tokens to run
  }
  return hit;
}

void Scheduler::preempt(Sequence& victim) {
  kv_.free(victim.id);
  victim.num_computed_tokens = 0;
  victim.num_evicted_tokens = 0;
  victim.state = SequenceState::kPreempted;
  victim.tiers_checked = false;
  ++victim.stats.num_preemptions;
  ++num_preemptions_;
  running_.erase(std::find(running_.begin(), running_.end(), &victim));
  waiting_.push_back(&victim);
}

SchedulerOutput Scheduler::schedule() {
  ++step_;
  SchedulerOutput output;
  int64_t budget = config_.max_num_batched_tokens;
  bool preempted = false;
  schedule_running(output, budget, preempted);
  // NOTE: after a preemption nothing new is admitted this step (it would be the next victim).
  if (!preempted) schedule_waiting(output, budget);
  output.num_tokens = config_.max_num_batched_tokens - budget;
  return output;
}

void Scheduler::schedule_running(SchedulerOutput& output, int64_t& budget, bool& preempted) {
  std::sort(running_.begin(), running_.end(), [this](const Sequence* a, const Sequence* b) { return before(*a, *b); });
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence& s = *running_[i];
    const int64_t n = chunk_size(s, s.num_computed_tokens, budget);
    if (n == 0) continue;
    const int64_t target = s.num_computed_tokens + n;
    const int64_t cache_target = s.num_cached_tokens() + n;  // entries the table must cover
    kv_.release_out_of_window(s.id, s.num_computed_tokens);  // before counting what the step needs
    bool preempted_self = false;
    while (kv_.num_new_blocks_needed(s.id, cache_target) > kv_.num_free_blocks()) {
      Sequence& victim = *running_.back();  // worst order; never one already scheduled this step
      preempt(victim);
      preempted = true;
      if (&victim == &s) {
        preempted_self = true;
        break;
      }
    }
    if (preempted_self) break;
    const bool sample = target == s.num_tokens();
    std::vector<int32_t> drafts = sample && n == 1 ? draft(s, budget - n) : std::vector<int32_t>{};
    const auto num_drafts = static_cast<int64_t>(drafts.size());
    if (num_drafts > 0 && kv_.num_new_blocks_needed(s.id, cache_target + num_drafts) > kv_.num_free_blocks()) {
      drafts.clear();  // speculation never preempts
    }
    kv_.allocate_slots(s.id, cache_target + static_cast<int64_t>(drafts.size()));
    const int64_t num_new = n + static_cast<int64_t>(drafts.size());
    output.scheduled.push_back({&s, num_new, sample, std::move(drafts)});
    budget -= num_new;
  }
}

void Scheduler::schedule_waiting(SchedulerOutput& output, int64_t& budget) {
  std::sort(waiting_.begin(), waiting_.end(), [this](const Sequence* a, const Sequence* b) { return before(*a, *b); });
  const int64_t watermark_blocks = static_cast<int64_t>(std::ceil(config_.watermark * kv_.num_blocks()));
  for (size_t i = 0; i < waiting_.size();) {
    if (num_running() >= config_.max_num_seqs || budget <= 0) break;
    Sequence& s = *waiting_[i];
    if (!s.tiers_checked) {  // blocks the host or disk tier holds become pool hits (no-op without tiers)
      kv_.load_prefix_from_tiers(s.tokens, s.num_prompt_tokens, s.num_tokens() - 1);
      s.tiers_checked = true;
    }
    const PrefixHit hit = find_prefix(s);
    const int64_t n = chunk_size(s, hit.num_tokens, budget);
    const int64_t target = hit.num_tokens + n;
    const int64_t needed = kv_.num_new_blocks_needed(s.id, target, &hit) + hit.num_free_blocks_taken;
    const int64_t reserve = running_.empty() ? 0 : watermark_blocks;
    if (n == 0 || kv_.num_free_blocks() - needed < reserve) {
      if (step_ - s.arrival_step >= config_.starvation_steps) break;  // let blocks drain for it
      ++i;  // skip ahead: later, smaller requests may fit
      continue;
    }
    kv_.start(s.id, hit, s.num_tokens());
    if (!s.started_once) s.stats.num_cached_prompt_tokens = hit.num_tokens;
    s.started_once = true;
    s.num_computed_tokens = hit.num_tokens;
    kv_.release_out_of_window(s.id, hit.num_tokens);
    kv_.allocate_slots(s.id, target);
    s.state = SequenceState::kRunning;
    running_.push_back(&s);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    output.scheduled.push_back({&s, n, target == s.num_tokens(), {}});
    budget -= n;
  }
}

void Scheduler::on_step_computed(const SchedulerOutput& output) {
  for (const ScheduledSequence& entry : output.scheduled) {
    Sequence& s = *entry.sequence;
    s.num_computed_tokens += entry.num_new_tokens - static_cast<int64_t>(entry.draft_tokens.size());
    s.stats.num_computed_tokens += entry.num_new_tokens;
    kv_.cache_full_blocks(s.id, s.tokens, s.num_prompt_tokens, s.num_computed_tokens);
  }
}

void Scheduler::commit_draft(Sequence& s, int64_t num_accepted) {
  s.num_computed_tokens += num_accepted;
  kv_.trim_slots(s.id, s.num_cached_tokens());
  kv_.cache_full_blocks(s.id, s.tokens, s.num_prompt_tokens, s.num_computed_tokens);
}

FinishReason Scheduler::append_token(Sequence& s, int32_t token) {
  s.tokens.push_back(token);
  s.stats.num_output_tokens = s.num_output_tokens();
  if (std::find(s.stop_token_ids.begin(), s.stop_token_ids.end(), token) != s.stop_token_ids.end()) {
    return FinishReason::kStop;
  }
  if (s.num_output_tokens() >= s.max_tokens || s.num_tokens() >= config_.max_model_len) return FinishReason::kLength;
  return FinishReason::kNone;
}

void Scheduler::finish(uint64_t id) {
  const auto it = sequences_.find(id);
  if (it == sequences_.end()) return;
  Sequence* s = it->second.get();
  kv_.free(id);
  running_.erase(std::remove(running_.begin(), running_.end(), s), running_.end());
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), s), waiting_.end());
  sequences_.erase(it);
}

Sequence* Scheduler::find(uint64_t id) {
  const auto it = sequences_.find(id);
  return it == sequences_.end() ? nullptr : it->second.get();
}

const Sequence* Scheduler::find(uint64_t id) const {
  const auto it = sequences_.find(id);
  return it == sequences_.end() ? nullptr : it->second.get();
}

std::vector<uint64_t> Scheduler::unfinished_ids() const {
  std::vector<uint64_t> ids;
  ids.reserve(sequences_.size());
  for (const auto& entry : sequences_) ids.push_back(entry.first);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace kvs
