#pragma once
// One engine step, single-threaded: schedule -> forward -> sample ->
// postprocess. EngineClient runs it on its loop thread; tests can drive it
// directly and deterministically.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/model/kv_storage.h"
#include "engine/model/forward_model.h"
#include "engine/model/llama_model.h"
#include "engine/sampling/sampler.h"
#include "kvcache/cache_config.h"
#include "kvcache/kv_cache_manager.h"
#include "scheduler/grammar_guide.h"
#include "scheduler/kv_compressor.h"
#include "scheduler/prefix_tier_store.h"
#include "scheduler/request.h"
#include "scheduler/scheduler.h"

namespace kvs {

struct EngineConfig {
  CacheConfig cache;          // pool size, block size, KV dtype, prefix caching
  SchedulerConfig scheduler;  // max_model_len 0 = the model's context. preserve_step_shape is
                              // set from the KV dtype (on for F16, see SchedulerConfig).
                              // scheduler.speculative_ngram: --speculative-ngram (prompt-lookup
                              // speculative decoding, docs/speculative-decoding.md); 0 = off.
  KvPolicySpec kv_policy;     // default KV compression (--kv-policy, --kv-budget); Request may override
  PrefixTierConfig tiers;     // host and disk tiers of the prefix cache (--kv-offload-*); off by default
  // --residual-checkpoint-dtype: F32 recomputes evicted K/V exactly; F16 halves the checkpoints' memory.
  ResidualCheckpoints::DType residual_checkpoint_dtype = ResidualCheckpoints::DType::F32;
};

// Per KV policy, since start (bytes_saved: a gauge, K/V bytes the running
// sequences do not hold because of compression).
struct KvPolicyCounters {
  int64_t evicted_tokens = 0;
  int64_t recomputed_tokens = 0;
  int64_t bytes_saved = 0;
  double recompute_seconds = 0.0;
};

// Counters for metrics. Gauges describe the state after the last step;
// totals count since start. Seconds are wall-clock.
struct EngineMetrics {
  int64_t num_running = 0, num_waiting = 0;
  int64_t kv_blocks_used = 0, kv_blocks_total = 0, kv_block_size = 0;
  // Blocks in use by KV-cache group kind (see engine/model/kv_layout.h; all
  // in "full" without window groups), and blocks sliding-window groups gave
  // back to the pool since start. kv_layers_per_block: layers one block holds.
  int64_t kv_blocks_used_full = 0, kv_blocks_used_window = 0, kv_window_released_blocks = 0;
  int64_t kv_layers_per_block = 0;
  // The cache's element type (kv_dtype_name) and the bytes one token's K/V
  // takes over all layers and shards (quantized: blocks, scales included).
  std::string kv_cache_dtype;
  int64_t kv_cache_bytes_per_token = 0;
  int64_t prefix_query_tokens = 0, prefix_hit_tokens = 0;
  // Prefix-cache tiers (PrefixTierStore), when configured.
  bool host_tier_enabled = false, disk_tier_enabled = false;
  TierCounters host_tier, disk_tier;
  int64_t tier_loaded_tokens = 0;  // tokens loaded from a tier into the pool
  int64_t num_preemptions = 0;
  int64_t num_steps = 0;
  int64_t last_step_tokens = 0, total_step_tokens = 0;  // tokens put through the model
  int64_t total_sampled_tokens = 0;
  double last_step_seconds = 0.0, total_step_seconds = 0.0;
  // Speculative decoding (vLLM's spec_decode counters): sequence-steps that
  // verified drafts, draft tokens proposed, drafts accepted; accepted by
  // draft position ([i]: drafts accepted at position i, sized by the most
  // drafts any step had).
  int64_t spec_num_drafts = 0, spec_num_draft_tokens = 0, spec_num_accepted_tokens = 0;
  std::vector<int64_t> spec_accepted_per_position;
  std::array<KvPolicyCounters, kNumKvPolicies> kv_policies{};  // indexed by KvPolicyKind
  // Constrained decoding (Request::grammar): rows masked, and the time spent
  // computing and applying their masks (part of total_step_seconds).
  // grammar_num_steered: rows whose sampled token would not have left room
  // to finish within max_tokens, resampled towards a shortest completion.
  int64_t grammar_num_masks = 0;
  double grammar_mask_seconds = 0.0;
  int64_t grammar_num_steered = 0;
};

// Receives every event of every request, on the engine thread.
using EventSink = std::function<void(uint64_t request_id, const TokenEvent& event)>;

// Ownership: owns the KvStorage, block manager, scheduler, KV compressor
// (policies, residual checkpoints) and per-request samplers; uses `model`, which must outlive it and must not run anything
// else meanwhile. Thread-safety: none; one thread calls everything.
class EngineCore {
 public:
  EngineCore(ForwardModel& model, const EngineConfig& config, EventSink sink);

  // Queues a request. Throws InvalidArgument if it can never run (see
  // Scheduler::add) or its sampling params are bad; then nothing is queued.
  void add(uint64_t id, const Request& request);
  // The one place a request is checked (add() and EngineClient::submit both
  // call it): sampling parameters, token ids (prompt, forced outputs,
  // logit_bias) inside the vocabulary, Scheduler::check (prompt, max_tokens,
  // context, KV blocks), and its KV policy (valid, supported by this model and
  // engine). Throws InvalidArgument naming what is wrong. Reads only what is
  // fixed at construction: may be called from any thread while the loop runs.
  void validate(const Request& request) const;
  // Ends a request now: frees its blocks, emits its final kCancelled event.
  // Unknown / finished ids are ignored.
  void cancel(uint64_t id);
  // Runs one step; false when there was nothing to run. Never throws: when
  // any part of the step throws (schedule, forward, sampling, ...), the
  // requests in the step end with kError (TokenEvent::error holds the
  // exception's text, for the server's log, not for clients), their blocks are
  // freed, and the next step runs as usual. A sampled logits row holding NaN
  // or +Inf fails only its own request the same way.
  bool step();
  // Cancels every unfinished request, queued or running (each gets kCancelled).
  void abort_all();
  bool has_unfinished() const { return scheduler_.has_unfinished(); }
  EngineMetrics metrics() const;
  // The prefix cache's tiers; null without --kv-offload-*.
  PrefixTierStore* prefix_tiers() { return tiers_.get(); }
  const KvCacheManager& kv_cache() const { return kv_; }
  // How the layers share blocks; fixed at construction (thread-safe).
  const KvLayout& kv_layout() const { return layout_; }
  const EngineConfig& config() const { return config_; }

 private:
  void finish(uint64_t id, TokenEvent event);
  void fail(uint64_t id, const std::string& why);  // ends `id` with kError (if unfinished)
  void fail_step(std::vector<uint64_t> ids, const std::string& what);
  void sample_and_postprocess(const SchedulerOutput& output, const std::vector<float>& logits);
  // The forced output token (Request::forced_output_ids) `s` emits next, or
  // null when none is left.
  const int32_t* next_forced_token(const Sequence& s) const;
  // Whether `s` samples the plain argmax of the model's row now (no forced
  // token left, no grammar, Sampler::plain_greedy).
  bool plain_greedy(const Sequence& s) const;
  // Samples one sequence's next token from `raw` (a logits row) into `event`;
  // with `draft` >= 0 verifies it (Sampler::verify) and sets `accepted`.
  // `greedy`: the row's kernels::greedy_rows result when already computed,
  // else kNoGreedy. False when the request ended here: the row is unusable
  // (it has failed), or its grammar ended it without a stop token to emit.
  bool sample_row(Sequence& s, const float* raw, int32_t draft, int32_t greedy, TokenEvent& event, bool& accepted);
  // sample_row for a sequence with a grammar (Request::grammar), row_ holding
  // its usable logits: mask, sample or verify, budget steering, forced stop
  // (scheduler/grammar_guide.h). False when the request ended here (finished
  // or failed); else as sample_row.
  bool sample_constrained(Sequence& s, const float* raw, int32_t draft, TokenSpan prompt, TokenSpan outputs,
                          TokenEvent& event, bool& accepted);
  // Emits `event` (the token is appended); false when the request finished.
  bool emit(Sequence& s, TokenEvent event);
  // Verifies a step's drafts row by row (rows: 1 + drafts), emitting each
  // accepted token, then the correction or bonus token.
  // greedy[i]: row i's greedy_rows result or kNoGreedy.
  void verify_drafts(const ScheduledSequence& entry, const float* rows, const int32_t* greedy);

  ForwardModel& model_;
  EngineConfig config_;
  KvLayout layout_;
  int64_t num_blocks_;
  KvStorage storage_;
  KvCacheManager kv_;
  std::unique_ptr<PrefixTierStore> tiers_;  // the listener kv_ calls; null without tiers
  Scheduler scheduler_;
  KvCompressor compressor_;
  EventSink sink_;
  std::unordered_map<uint64_t, std::unique_ptr<Sampler>> samplers_;
  std::unordered_map<uint64_t, std::vector<int32_t>> forced_;  // Request::forced_output_ids
  GrammarGuide grammars_;                                      // Request::grammar
  std::vector<float> row_;  // sampling scratch, [vocab]
  // The step's logits (ForwardModel::forward_into; the allocation is kept),
  // and per logits row its greedy token (kernels::greedy_rows) or kNoGreedy.
  static constexpr int32_t kNoGreedy = -3;
  std::vector<float> logits_;
  std::vector<int32_t> greedy_;
  std::vector<const float*> greedy_rows_;
  EngineMetrics totals_;
};

// The config EngineCore runs with: max_model_len and preserve_step_shape
// filled in from the model and the KV dtype; validated (cache, scheduler),
// so InvalidArgument names a bad field.
EngineConfig resolve_engine_config(const EngineConfig& config, const ModelConfig& model);

}  // namespace kvs
