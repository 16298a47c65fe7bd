#include "scheduler/engine_core.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "engine/errors.h"
#include "kernels/cpu/greedy_rows.h"

namespace kvs {
namespace {

KvCacheManagerConfig kv_config(const EngineConfig& config, int64_t num_blocks, const KvLayout& layout) {
  KvCacheManagerConfig kv;
  kv.group_windows = layout.group_windows;
  kv.num_blocks = num_blocks;
  kv.block_size = config.cache.block_size;
  kv.enable_prefix_caching = config.cache.enable_prefix_caching;
  kv.tag_prompt_boundary = config.scheduler.preserve_step_shape;
  return kv;
}

// log-softmax of logits[token], in double.
// Fills event.logprob (and event.top_logprobs when num_top > 0) from the raw
// logits: log-softmax, computed once per row.
void add_log_probabilities(const float* logits, int64_t vocab, int32_t num_top, TokenEvent& event) {
  float max = logits[0];
  for (int64_t i = 1; i < vocab; ++i) max = std::max(max, logits[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const double log_sum = std::log(sum);
  const auto log_probability = [&](int32_t id) {
    return static_cast<float>(static_cast<double>(logits[id] - max) - log_sum);
  };
  event.logprob = log_probability(event.token_id);
  if (num_top <= 0) return;
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const auto k = std::min<int64_t>(num_top, vocab);
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  for (int64_t i = 0; i < k; ++i) event.top_logprobs.emplace_back(ids[i], log_probability(ids[i]));
}

// Copies a logits row into `out` and says whether it is usable: false when it
// holds a NaN or +Inf (-Inf is a masked token and fine). Fused with the copy
// sampling needs anyway, in one vectorized pass (-O3): measured at 32 us per
// 49k-entry row against 30 us for the plain copy, next to milliseconds for the
// forward pass that produced the row.
bool copy_usable_logits(const float* row, float* out, int64_t vocab) {
  int bad = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    out[i] = row[i];
    bad |= (row[i] != row[i]) | (row[i] == HUGE_VALF);
  }
  return bad == 0;
}

}  // namespace

EngineConfig resolve_engine_config(const EngineConfig& config, const ModelConfig& model) {
  EngineConfig resolved = config;
  if (resolved.scheduler.max_model_len <= 0) resolved.scheduler.max_model_len = model.max_position_embeddings;
  if (resolved.scheduler.max_model_len > model.max_position_embeddings) {
    throw InvalidArgument("max_model_len exceeds the model's context of " +
                          std::to_string(model.max_position_embeddings));
  }
  resolved.scheduler.preserve_step_shape =
      config.cache.dtype == kernels::KvDType::F16 || config.cache.dtype == kernels::KvDType::BF16;
  resolved.scheduler.validate();
  cache_num_blocks(resolved.cache, model);  // validates the budget
  return resolved;
}

// KV policies move or drop cache entries, so a cache index is no longer a
// position; sliding-window layers count their window in positions. Until the
// two are reconciled, models with window layers run with policy none only.
static void check_policy_for_window(KvPolicyKind kind, const ModelConfig& config, const char* what) {
  if (kind == KvPolicyKind::kNone || config.sliding_window <= 0) return;
  throw InvalidArgument(std::string(what) + " " + kv_policy_name(kind) + " is not supported for " +
                        config.architecture + " models with sliding-window attention (window " +
                        std::to_string(config.sliding_window) + "); use none");
}

// resolve_engine_config, plus what only the model can say: whether it runs
// with this KV dtype and the default KV policy.
// What a block's bytes depend on besides the model's files (the tiers'
// fingerprint): a different value never shares disk entries.
static std::string tier_layout(const KvStorage& storage, const EngineConfig& config) {
  std::string text = std::string("dtype=") + kernels::kv_dtype_name(storage.dtype()) +
                     " block_size=" + std::to_string(storage.block_size()) +
                     " layers=" + std::to_string(storage.num_layers()) +
                     " layers_per_block=" + std::to_string(storage.layout().layers_per_group) +
                     " shards=" + std::to_string(storage.num_shards()) +
                     " row_bytes=" + std::to_string(storage.row_bytes()) +
                     " step_shape=" + std::to_string(config.scheduler.preserve_step_shape ? 1 : 0) +
                     // q4_0 rows are stored Hadamard-rotated per head (LlamaModel::rotates_kv)
                     " q4_0_rows=hadamard groups=";
  for (int64_t group : storage.layout().layer_group) text += std::to_string(group) + ",";
  return text;
}

static EngineConfig resolve_for_model(const EngineConfig& config, const ForwardModel& model) {
  check_policy_for_window(config.kv_policy.kind, model.config(), "--kv-policy");
  const std::string dtype_error = model.kv_dtype_error(config.cache.dtype);
  if (!dtype_error.empty()) throw InvalidArgument(dtype_error);
  if (config.kv_policy.kind == KvPolicyKind::kResidual && !model.supports_residual_checkpoints()) {
    throw InvalidArgument("--kv-policy residual is not available on the " + model.device_name() + " engine");
  }
  return resolve_engine_config(config, model.config());
}

EngineCore::EngineCore(ForwardModel& model, const EngineConfig& config, EventSink sink)
    : model_(model),
      config_(resolve_for_model(config, model)),
      // NOTE: engines without KV-cache groups (CUDA) keep one table for all
      // layers: window layers then hold the whole context, as before.
      layout_(make_kv_layout(model.config(), config_.cache.free_window_blocks && model.supports_kv_groups())),
      num_blocks_(cache_num_blocks(config_.cache, model.config(), model.num_kv_shards(), layout_.layers_per_group)),
      storage_(model.config(), num_blocks_, config_.cache.block_size, config_.cache.dtype, model.num_kv_shards(),
               model.make_kv_memory(), &layout_),
      kv_(kv_config(config_, num_blocks_, layout_)),
      tiers_(config_.tiers.enabled()
                 ? std::make_unique<PrefixTierStore>(config_.tiers, storage_, tier_layout(storage_, config_))
                 : nullptr),
      scheduler_(config_.scheduler, kv_),
      compressor_(config_.kv_policy, kv_, storage_, model.config(), config_.residual_checkpoint_dtype),
      sink_(std::move(sink)),
      row_(static_cast<size_t>(model.config().vocab_size)) {
  if (tiers_ && !config_.cache.enable_prefix_caching) {
    throw InvalidArgument("--kv-offload-memory / --kv-offload-dir need prefix caching (it is off)");
  }
  kv_.set_prefix_listener(tiers_.get());
}

void EngineCore::add(uint64_t id, const Request& request) {
  validate(request);
  const KvPolicySpec policy = compressor_.resolve(request);
  SamplingParams sampling = request.sampling;
  if (sampling.min_tokens > 0) sampling.min_tokens_suppressed = request.stop_token_ids;  // vLLM's min_tokens
  auto sampler = std::make_unique<Sampler>(sampling, std::random_device{}());
  Sequence& sequence = scheduler_.add(id, request);
  // NOTE: no drafts under KV compression (a policy's statistics and cache
  // edits assume one step per token) nor with forced outputs (nothing to guess).
  sequence.speculate = config_.scheduler.speculative_ngram > 0 && policy.kind == KvPolicyKind::kNone &&
                       request.forced_output_ids.empty();
  samplers_[id] = std::move(sampler);
  grammars_.add(id, request.grammar);
  compressor_.add(id, policy, request);
  if (!request.forced_output_ids.empty()) forced_[id] = request.forced_output_ids;
}

void EngineCore::validate(const Request& request) const {
  request.sampling.validate();
  const int64_t vocab_size = model_.config().vocab_size;
  const auto check_ids = [&](const auto& ids, const char* what) {
    for (int32_t token : ids) {
      if (token < 0 || token >= vocab_size) {
        throw InvalidArgument(std::string(what) + " token id " + std::to_string(token) + " is outside the vocabulary");
      }
    }
  };
  check_ids(request.prompt_token_ids, "prompt");
  check_ids(request.forced_output_ids, "forced output");
  if (request.grammar != nullptr) {
    if (!request.forced_output_ids.empty()) throw InvalidArgument("a grammar cannot constrain forced outputs");
    if (grammar::vocabulary_size(request.grammar->vocabulary()) > vocab_size) {
      throw InvalidArgument("the grammar is bound to a vocabulary larger than the model's");
    }
  }
  for (const auto& [token, bias] : request.sampling.logit_bias) check_ids(std::vector<int32_t>{token}, "logit_bias");
  scheduler_.check(request);  // prompt, max_tokens, context, KV blocks
  const KvPolicySpec policy = compressor_.resolve(request);
  check_policy_for_window(policy.kind, model_.config(), "kv_policy");
  if (policy.kind == KvPolicyKind::kResidual && !model_.supports_residual_checkpoints()) {
    throw InvalidArgument("kv_policy residual is not available on the " + model_.device_name() + " engine");
  }
}

void EngineCore::cancel(uint64_t id) {
  if (scheduler_.find(id) == nullptr) return;
  TokenEvent event;
  event.finish_reason = FinishReason::kCancelled;
  finish(id, std::move(event));
}

void EngineCore::finish(uint64_t id, TokenEvent event) {
  if (Sequence* s = scheduler_.find(id)) event.stats = s->stats;
  scheduler_.finish(id);  // blocks are free before the client sees the final event
  samplers_.erase(id);
  grammars_.remove(id);
  compressor_.remove(id);
  forced_.erase(id);
  sink_(id, event);
}

bool EngineCore::step() {
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint64_t> step_ids;  // the ids in this step, known before anything can fail
  try {
    const SchedulerOutput output = scheduler_.schedule();
    if (output.empty()) return false;
    for (const ScheduledSequence& entry : output.scheduled) step_ids.push_back(entry.sequence->id);
    const ForwardBatch batch = compressor_.build_batch(output);
    ForwardSideOutputs side;
    model_.forward_into(batch, storage_, logits_, &side);
    scheduler_.on_step_computed(output);
    compressor_.after_step(output, side);
    sample_and_postprocess(output, logits_);
    totals_.last_step_tokens = output.num_tokens;
    totals_.total_step_tokens += output.num_tokens;
  } catch (const std::exception& e) {
    fail_step(step_ids, e.what());
  } catch (...) {
    fail_step(step_ids, "unknown exception");
  }
  totals_.last_step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  totals_.total_step_seconds += totals_.last_step_seconds;
  ++totals_.num_steps;
  return true;
}

void EngineCore::fail_step(std::vector<uint64_t> ids, const std::string& what) {
  // NOTE: a failure before the step's ids were known (in schedule()) leaves
  // the scheduler's state unknown: every unfinished request fails then.
  if (ids.empty()) ids = scheduler_.unfinished_ids();
  for (uint64_t id : ids) fail(id, "engine step failed: " + what);
}

void EngineCore::fail(uint64_t id, const std::string& why) {
  if (scheduler_.find(id) == nullptr) return;  // finished earlier in the step
  TokenEvent event;
  event.finish_reason = FinishReason::kError;
  event.error = why;
  finish(id, std::move(event));
}

void EngineCore::abort_all() {
  for (uint64_t id : scheduler_.unfinished_ids()) cancel(id);
}

const int32_t* EngineCore::next_forced_token(const Sequence& s) const {
  const auto forced = forced_.find(s.id);
  const size_t next = static_cast<size_t>(s.num_output_tokens());
  return forced != forced_.end() && next < forced->second.size() ? &forced->second[next] : nullptr;
}

bool EngineCore::plain_greedy(const Sequence& s) const {
  return next_forced_token(s) == nullptr && !grammars_.constrained(s.id) && samplers_.at(s.id)->plain_greedy();
}

void EngineCore::sample_and_postprocess(const SchedulerOutput& output, const std::vector<float>& logits) {
  const int64_t vocab = model_.config().vocab_size;
  // The argmax of every row of the plain-greedy sequences first, all at once
  // on the model's threads. A sequence that is plain greedy now stays so for
  // the step (forced tokens and grammars do not start mid-step).
  greedy_.assign(logits.size() / static_cast<size_t>(vocab), kNoGreedy);
  greedy_rows_.clear();
  std::vector<size_t> greedy_indices;
  size_t row = 0;
  for (const ScheduledSequence& entry : output.scheduled) {
    if (!entry.sample) continue;
    const size_t rows = 1 + entry.draft_tokens.size();
    if (plain_greedy(*entry.sequence)) {
      for (size_t i = row; i < row + rows; ++i) {
        greedy_rows_.push_back(logits.data() + static_cast<int64_t>(i) * vocab);
        greedy_indices.push_back(i);
      }
    }
    row += rows;
  }
  std::vector<int32_t> best(greedy_rows_.size());
  kernels::greedy_rows(greedy_rows_.data(), static_cast<int64_t>(best.size()), vocab, best.data(),
                       model_.host_threads());
  for (size_t i = 0; i < best.size(); ++i) greedy_[greedy_indices[i]] = best[i];

  row = 0;
  for (const ScheduledSequence& entry : output.scheduled) {
    if (!entry.sample) continue;
    Sequence& s = *entry.sequence;
    const float* raw = logits.data() + static_cast<int64_t>(row) * vocab;
    if (!entry.draft_tokens.empty()) {
      verify_drafts(entry, raw, greedy_.data() + row);
      row += 1 + entry.draft_tokens.size();
      continue;
    }
    TokenEvent event;
    bool accepted = false;
    if (sample_row(s, raw, -1, greedy_[row], event, accepted)) emit(s, std::move(event));
    ++row;
  }
}

bool EngineCore::sample_row(Sequence& s, const float* raw, int32_t draft, int32_t greedy, TokenEvent& event,
                            bool& accepted) {
  const int64_t vocab = model_.config().vocab_size;
  Sampler& sampler = *samplers_.at(s.id);
  const int32_t* forced = next_forced_token(s);
  const bool constrained = forced == nullptr && grammars_.constrained(s.id);
  if (plain_greedy(s)) {  // the argmax of the model's row, read in place
    if (greedy == kNoGreedy) kernels::greedy_rows(&raw, 1, vocab, &greedy, 1);
    if (greedy == kernels::kGreedyUnusable) {
      fail(s.id, "the model produced NaN or +Inf logits");
      return false;
    }
    if (greedy == kernels::kGreedyAllMasked) throw Error("sampler: every logit is -inf or NaN; nothing can be sampled");
    event.token_id = greedy;
    accepted = draft >= 0 && greedy == draft;
  } else {
    if (!copy_usable_logits(raw, row_.data(), vocab)) {
      fail(s.id, "the model produced NaN or +Inf logits");
      return false;
    }
    // Views into the sequence's tokens (no copies; the sampler's penalty
    // bookkeeping is incremental).
    const TokenSpan prompt(s.tokens.data(), static_cast<size_t>(s.num_prompt_tokens));
    const TokenSpan outputs(s.tokens.data() + s.num_prompt_tokens, static_cast<size_t>(s.num_output_tokens()));
    if (constrained) {
      if (!sample_constrained(s, raw, draft, prompt, outputs, event, accepted)) return false;
    } else if (forced != nullptr) {
      event.token_id = *forced;
    } else if (draft >= 0) {
      event.token_id = sampler.verify(row_.data(), vocab, prompt, outputs, draft, accepted);
    } else {
      event.token_id = sampler.sample(row_.data(), vocab, prompt, outputs);
    }
  }
  if (s.num_logprobs >= 0) add_log_probabilities(raw, vocab, s.num_logprobs, event);
  return true;
}

bool EngineCore::sample_constrained(Sequence& s, const float* raw, int32_t draft, TokenSpan prompt, TokenSpan outputs,
                                    TokenEvent& event, bool& accepted) {
  const int64_t vocab = model_.config().vocab_size;
  Sampler& sampler = *samplers_.at(s.id);
  int32_t stop_token = -1;
  GrammarGuide::Verdict verdict = grammars_.mask(s.id, row_.data(), vocab, s.stop_token_ids, stop_token);
  if (verdict == GrammarGuide::Verdict::kSample) {
    event.token_id = draft >= 0 ? sampler.verify(row_.data(), vocab, prompt, outputs, draft, accepted)
                                : sampler.sample(row_.data(), vocab, prompt, outputs);
    // Tokens the request may still emit, this one included.
    const int64_t budget = std::min(s.max_tokens - s.num_output_tokens(),
                                    config_.scheduler.max_model_len - s.num_tokens());
    if (grammars_.fits_budget(s.id, event.token_id, s.stop_token_ids, budget)) return true;
    // Steer to a shortest completion: the model's row again (the sampler
    // changed row_), masked to the tokens that start a fewest-token spelling of one.
    copy_usable_logits(raw, row_.data(), vocab);
    verdict = grammars_.mask_shortest(s.id, row_.data(), vocab, s.stop_token_ids, stop_token);
    if (verdict == GrammarGuide::Verdict::kDeadEnd) return true;  // nothing to steer with: keep the sampled token
    if (verdict == GrammarGuide::Verdict::kSample) {
      event.token_id = sampler.sample(row_.data(), vocab, prompt, outputs);
      accepted = draft >= 0 && event.token_id == draft;
      return true;
    }
  }
  if (verdict == GrammarGuide::Verdict::kDeadEnd) {
    fail(s.id, "no token can continue the output under the request's grammar");
    return false;
  }
  if (stop_token < 0) {  // complete, and no stop token to emit (ignore_eos): the request ends here
    TokenEvent end;
    end.finish_reason = FinishReason::kStop;
    finish(s.id, std::move(end));
    return false;
  }
  event.token_id = stop_token;
  accepted = draft >= 0 && draft == stop_token;
  return true;
}

bool EngineCore::emit(Sequence& s, TokenEvent event) {
  ++totals_.total_sampled_tokens;
  event.finish_reason = scheduler_.append_token(s, event.token_id);
  if (event.finish_reason == FinishReason::kNone && !grammars_.advance(s.id, event.token_id)) {
    fail(s.id, "the sampled token " + std::to_string(event.token_id) + " does not continue the request's grammar");
    return false;
  }
  if (event.finish_reason == FinishReason::kNone) {
    sink_(s.id, event);
    return true;
  }
  finish(s.id, std::move(event));
  return false;
}

void EngineCore::verify_drafts(const ScheduledSequence& entry, const float* rows, const int32_t* greedy) {
  Sequence& s = *entry.sequence;
  const int64_t vocab = model_.config().vocab_size;
  const std::vector<int32_t>& drafts = entry.draft_tokens;
  ++totals_.spec_num_drafts;
  totals_.spec_num_draft_tokens += static_cast<int64_t>(drafts.size());
  if (totals_.spec_accepted_per_position.size() < drafts.size()) totals_.spec_accepted_per_position.resize(drafts.size());
  int64_t num_accepted = 0;
  // Row i is the distribution after the sure token and drafts[0, i); the
  // sampler sees the tokens accepted so far (penalties), as plain decoding would.
  for (size_t i = 0; i <= drafts.size(); ++i) {
    const int32_t draft = i < drafts.size() ? drafts[i] : -1;
    TokenEvent event;
    bool accepted = false;
    if (!sample_row(s, rows + static_cast<int64_t>(i) * vocab, draft, greedy[i], event, accepted)) return;
    if (accepted) {
      ++num_accepted;
      ++totals_.spec_num_accepted_tokens;
      ++totals_.spec_accepted_per_position[i];
    }
    if (!emit(s, std::move(event))) return;  // finished: its blocks are free already
    if (!accepted) break;                    // the correction (or bonus) token ends the step
  }
  scheduler_.commit_draft(s, num_accepted);
}

EngineMetrics EngineCore::metrics() const {
  EngineMetrics m = totals_;
  m.num_running = scheduler_.num_running();
  m.num_waiting = scheduler_.num_waiting();
  m.kv_blocks_used = kv_.num_used_blocks();
  m.kv_blocks_total = kv_.num_blocks();
  m.kv_block_size = kv_.block_size();
  m.kv_blocks_used_full = kv_.num_used_blocks_of_kind(false);
  m.kv_blocks_used_window = kv_.num_used_blocks_of_kind(true);
  m.kv_window_released_blocks = kv_.num_window_released_blocks();
  m.kv_layers_per_block = layout_.layers_per_group;
  m.kv_cache_dtype = kernels::kv_dtype_name(storage_.dtype());
  m.kv_cache_bytes_per_token = storage_.bytes_per_token();
  m.prefix_query_tokens = kv_.num_prefix_query_tokens();
  m.prefix_hit_tokens = kv_.num_prefix_hit_tokens();
  if (tiers_) {
    m.host_tier_enabled = tiers_->host() != nullptr;
    m.disk_tier_enabled = tiers_->disk() != nullptr;
    if (tiers_->host() != nullptr) m.host_tier = tiers_->host()->counters();
    if (tiers_->disk() != nullptr) m.disk_tier = tiers_->disk()->counters();
    m.tier_loaded_tokens = kv_.num_tier_loaded_tokens();
  }
  m.num_preemptions = scheduler_.num_preemptions();
  m.grammar_num_masks = grammars_.num_masks();
  m.grammar_mask_seconds = grammars_.mask_seconds();
  m.grammar_num_steered = grammars_.num_steered();
  compressor_.fill_counters(m.kv_policies, scheduler_);
  return m;
}

}  // namespace kvs
