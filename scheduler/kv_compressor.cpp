#include "scheduler/kv_compressor.h"

#include <algorithm>
#include <numeric>

#include "engine/errors.h"
#include "kernels/cpu/paged_attention.h"
#include "scheduler/engine_core.h"

namespace kvs {
namespace {

uint64_t mix(uint64_t h, uint64_t value) {
  h ^= value + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

KvCompressor::KvCompressor(const KvPolicySpec& default_spec, KvCacheManager& kv, KvStorage& storage,
                           const ModelConfig& model, ResidualCheckpoints::DType checkpoint_dtype)
    : default_spec_(default_spec), kv_(kv), storage_(storage), checkpoints_(model.num_layers, model.hidden_size, checkpoint_dtype) {
  default_spec_.validate();
  for (int i = 0; i < kNumKvPolicies; ++i) policies_[static_cast<size_t>(i)] = make_kv_policy(static_cast<KvPolicyKind>(i));
}

KvPolicySpec KvCompressor::resolve(const Request& request) const {
  const KvPolicySpec spec = request.kv_policy.value_or(default_spec_);
  spec.validate();
  return spec;
}

void KvCompressor::add(uint64_t id, const KvPolicySpec& spec, const Request& request) {
  if (!spec.compresses()) return;
  State& state = states_[id];
  state.spec = spec;
  // NOTE: the noise seed depends only on the request's own prompt, so a
  // request draws the same noise alone or in any batch.
  uint64_t seed = 0x51ED270B2A6F8E3Dull;
  for (int32_t token : request.prompt_token_ids) seed = mix(seed, static_cast<uint64_t>(token));
  state.seed = seed;
}

void KvCompressor::remove(uint64_t id) {
  states_.erase(id);
  checkpoints_.erase(id);
}

// Brings the state in line with the sequence after admission or a preemption
// (which freed everything and restarted it from a prefix hit or from 0).
void KvCompressor::sync(State& state, const Sequence& s) {
  if (state.started && state.seen_preemptions == s.stats.num_preemptions) return;
  const int64_t computed = s.num_computed_tokens;  // prefix-hit tokens
  const bool covered = state.started && state.first_checkpointed <= computed && state.checkpoint_end >= computed;
  state.first_checkpointed = computed == 0 ? 0 : (covered ? state.first_checkpointed : computed);
  state.checkpoint_end = computed;
  state.positions.resize(static_cast<size_t>(computed));
  std::iota(state.positions.begin(), state.positions.end(), 0);
  state.scores.assign(static_cast<size_t>(computed), 0.0);
  state.started = true;
  state.seen_preemptions = s.stats.num_preemptions;
}

KvPolicyInput KvCompressor::input(const State& state, const Sequence& s) const {
  KvPolicyInput in;
  in.positions = &state.positions;
  in.scores = &state.scores;
  in.budget_tokens = state.spec.budget_tokens(s.num_computed_tokens);
  in.num_computed_tokens = s.num_computed_tokens;
  in.num_prompt_tokens = s.num_prompt_tokens;
  in.block_size = kv_.block_size();
  in.first_checkpointed = state.first_checkpointed;
  return in;
}

ForwardBatch KvCompressor::build_batch(const SchedulerOutput& output) {
  ForwardBatch batch;
  bool any = false;
  for (const ScheduledSequence& entry : output.scheduled) any = any || states_.count(entry.sequence->id) != 0;
  int32_t next_overlay = 0;
  // NOTE: verification rows take the one-token attention order (F16), so each
  // row, and the K/V it writes, has the bits plain decoding would give it.
  std::vector<uint8_t> single_order;
  bool any_drafts = false;
  for (const ScheduledSequence& entry : output.scheduled) {
    single_order.push_back(entry.draft_tokens.empty() ? 0 : 1);
    any_drafts = any_drafts || !entry.draft_tokens.empty();
  }
  if (any_drafts) batch.single_token_order = std::move(single_order);
  for (const ScheduledSequence& entry : output.scheduled) {
    const Sequence& s = *entry.sequence;
    const int64_t computed = s.num_computed_tokens, n = entry.num_new_tokens;
    const auto begin = s.tokens.begin() + computed;
    std::vector<int32_t> table = kv_.block_table(s.id);
    const auto it = states_.find(s.id);
    State* state = it == states_.end() ? nullptr : &it->second;
    if (state != nullptr) {
      sync(*state, s);
      state->recompute_rows = 0;
      for (int32_t& block : table) {
        if (block >= 0) continue;
        block = static_cast<int32_t>(storage_.num_blocks()) + next_overlay++;
        state->recompute_rows += kv_.block_size();
      }
    }
    // Speculative drafts follow the sequence's own new tokens; every row then needs logits.
    const int64_t num_drafts = static_cast<int64_t>(entry.draft_tokens.size());
    std::vector<int32_t> new_tokens(begin, begin + (n - num_drafts));
    new_tokens.insert(new_tokens.end(), entry.draft_tokens.begin(), entry.draft_tokens.end());
    const bool last_row_only = entry.sample && num_drafts == 0;
    const auto first_row = static_cast<int32_t>(batch.num_tokens());
    if (kv_.num_groups() == 1) {
      batch.add_sequence(new_tokens, static_cast<int32_t>(s.num_cached_tokens()), table, last_row_only,
                         static_cast<int32_t>(computed));
    } else {  // KV-cache groups (sliding-window layers); no policy state (refused at submit)
      std::vector<std::vector<int32_t>> tables{std::move(table)};
      for (int64_t g = 1; g < kv_.num_groups(); ++g) tables.push_back(kv_.block_table(s.id, g));
      batch.add_sequence_groups(new_tokens, static_cast<int32_t>(s.num_cached_tokens()), tables, last_row_only,
                                static_cast<int32_t>(computed));
    }
    if (entry.sample && num_drafts > 0) {
      for (int64_t row = n - num_drafts - 1; row < n; ++row) batch.logits_rows.push_back(first_row + static_cast<int32_t>(row));
    }
    if (!any) continue;
    int32_t row_begin = -1;
    float tau = 0.0f;
    int64_t checkpoint = -1;
    uint64_t seed = 0;
    if (state != nullptr) {
      const KvPolicy& policy = *policies_[static_cast<size_t>(state->spec.kind)];
      const ScoreRequest request = policy.score_request(input(*state, s), s.num_output_tokens(), s.max_tokens);
      if (request.from_position >= 0 && request.from_position < computed + n) {
        row_begin = static_cast<int32_t>(std::max<int64_t>(0, request.from_position - computed));
      }
      tau = request.tau;
      seed = state->seed;
      if (state->spec.kind == KvPolicyKind::kResidual) {
        checkpoint = static_cast<int64_t>(s.id);
        checkpoints_.reserve(s.id, computed + n);
      }
      state->score_row_begin = row_begin;
    }
    batch.score_row_begin.push_back(row_begin);
    batch.score_seeds.push_back(seed);
    batch.score_tau.push_back(tau);
    batch.checkpoint_ids.push_back(checkpoint);
  }
  if (any) {
    const bool scores = std::any_of(batch.score_row_begin.begin(), batch.score_row_begin.end(), [](int32_t r) { return r >= 0; });
    const bool residual = std::any_of(batch.checkpoint_ids.begin(), batch.checkpoint_ids.end(), [](int64_t c) { return c >= 0; });
    if (!scores) batch.score_row_begin.clear(), batch.score_seeds.clear(), batch.score_tau.clear();
    if (!residual) batch.checkpoint_ids.clear();
    if (residual) batch.checkpoints = &checkpoints_;
  }
  return batch;
}

void KvCompressor::after_step(const SchedulerOutput& output, const ForwardSideOutputs& side) {
  double recompute_rows_total = 0;
  for (const ScheduledSequence& entry : output.scheduled) {
    const auto it = states_.find(entry.sequence->id);
    if (it != states_.end()) recompute_rows_total += static_cast<double>(it->second.recompute_rows);
  }
  for (size_t i = 0; i < output.scheduled.size(); ++i) {
    Sequence& s = *output.scheduled[i].sequence;
    const auto it = states_.find(s.id);
    if (it == states_.end()) continue;
    State& state = it->second;
    const int64_t n = output.scheduled[i].num_new_tokens;
    const int64_t first = s.num_computed_tokens - n;
    for (int64_t p = first; p < s.num_computed_tokens; ++p) state.positions.push_back(static_cast<int32_t>(p));
    state.scores.resize(state.positions.size(), 0.0);
    if (state.score_row_begin >= 0 && !side.score_offsets.empty()) {
      const int64_t offset = side.score_offsets[i];
      for (size_t e = 0; e < state.scores.size(); ++e) {
        state.scores[e] += static_cast<double>(side.token_scores[static_cast<size_t>(offset) + e]) / kernels::kScoreOne;
      }
    }
    const size_t kind = static_cast<size_t>(state.spec.kind);
    if (state.spec.kind == KvPolicyKind::kResidual) {
      state.checkpoint_end = s.num_computed_tokens;
      s.stats.num_recomputed_tokens += state.recompute_rows;
      totals_[kind].recomputed += state.recompute_rows;
      if (recompute_rows_total > 0) {
        totals_[kind].recompute_seconds += side.recompute_seconds * static_cast<double>(state.recompute_rows) / recompute_rows_total;
      }
    }
    // NOTE: eviction starts once the prompt is computed (as in the papers):
    // a prompt's chunking depends on its batch mates, and evicting between
    // chunks would make the output depend on them. Residual is exact either way.
    if (s.num_computed_tokens < s.num_prompt_tokens && state.spec.kind != KvPolicyKind::kResidual) continue;
    apply(state, s, policies_[kind]->decide(input(state, s)));
  }
}

void KvCompressor::apply(State& state, Sequence& s, const KvDecision& decision) {
  const size_t kind = static_cast<size_t>(state.spec.kind);
  if (decision.drop_blocks_end > decision.drop_blocks_begin) {
    const int64_t released = kv_.drop_blocks(s.id, decision.drop_blocks_begin, decision.drop_blocks_end);
    s.stats.num_evicted_tokens += released * kv_.block_size();
    totals_[kind].evicted += released * kv_.block_size();
  }
  if (!decision.compact || decision.keep.size() == state.positions.size()) return;
  const std::optional<KvCacheManager::Compaction> compaction =
      kv_.compact(s.id, decision.keep, static_cast<int64_t>(state.positions.size()));
  if (!compaction) return;  // no free block for copy-on-write now; try again after the next step
  std::vector<std::pair<int64_t, int64_t>> copies;
  copies.reserve(compaction->copies.size());
  for (const auto& copy : compaction->copies) copies.emplace_back(copy.from_slot, copy.to_slot);
  storage_.copy_slots(copies);
  std::vector<int32_t> positions(static_cast<size_t>(compaction->num_kept));
  std::vector<double> scores(static_cast<size_t>(compaction->num_kept));
  for (size_t e = 0; e < state.positions.size(); ++e) {
    const int64_t to = compaction->new_index[e];
    if (to < 0) continue;
    positions[static_cast<size_t>(to)] = state.positions[e];
    scores[static_cast<size_t>(to)] = state.scores[e];
  }
  const int64_t dropped = static_cast<int64_t>(state.positions.size()) - compaction->num_kept;
  state.positions = std::move(positions);
  state.scores = std::move(scores);
  s.num_evicted_tokens += dropped;
  s.stats.num_evicted_tokens += dropped;
  totals_[kind].evicted += dropped;
}

void KvCompressor::fill_counters(std::array<KvPolicyCounters, kNumKvPolicies>& counters, const Scheduler& scheduler) const {
  for (int i = 0; i < kNumKvPolicies; ++i) {
    counters[static_cast<size_t>(i)].evicted_tokens = totals_[static_cast<size_t>(i)].evicted;
    counters[static_cast<size_t>(i)].recomputed_tokens = totals_[static_cast<size_t>(i)].recomputed;
    counters[static_cast<size_t>(i)].recompute_seconds = totals_[static_cast<size_t>(i)].recompute_seconds;
    counters[static_cast<size_t>(i)].bytes_saved = 0;
  }
  const int64_t per_token = storage_.bytes_per_token();
  for (const auto& [id, state] : states_) {
    const Sequence* s = scheduler.find(id);
    if (s == nullptr || !kv_.contains(id)) continue;
    int64_t resident = s->num_cached_tokens();
    if (state.spec.kind == KvPolicyKind::kResidual) {
      int64_t held = 0;
      for (int32_t block : kv_.block_table(id)) held += block >= 0 ? 1 : 0;
      resident = std::min<int64_t>(resident, held * kv_.block_size());
    }
    counters[static_cast<size_t>(state.spec.kind)].bytes_saved += std::max<int64_t>(0, s->num_computed_tokens - resident) * per_token;
  }
}

}  // namespace kvs
