#pragma once
// Runs the KV compression policies inside the engine loop: per sequence it
// keeps the policy state (each cache entry's token position and accumulated
// score), asks the step's batch for the statistics the policy needs, and
// after the step applies the policy's decision to the block tables
// (KvCacheManager) and to the K/V memory (KvStorage).
#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/model/forward_batch.h"
#include "engine/model/forward_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/residual_checkpoints.h"
#include "kvcache/kv_cache_manager.h"
#include "kvcache/kv_policy.h"
#include "scheduler/request.h"
#include "scheduler/scheduler.h"

namespace kvs {

struct KvPolicyCounters;

// Ownership: owns the policy states and the residual checkpoints; uses the
// KvCacheManager and KvStorage (which must outlive it). Thread-safety: none
// (the engine loop thread).
class KvCompressor {
 public:
  // checkpoint_dtype: how residual checkpoints are stored (F32: exact recompute).
  KvCompressor(const KvPolicySpec& default_spec, KvCacheManager& kv, KvStorage& storage, const ModelConfig& model,
               ResidualCheckpoints::DType checkpoint_dtype = ResidualCheckpoints::DType::F32);

  // The spec `request` runs under (its own or the default), validated:
  // throws InvalidArgument. Call before the request is queued.
  KvPolicySpec resolve(const Request& request) const;
  void add(uint64_t id, const KvPolicySpec& spec, const Request& request);
  void remove(uint64_t id);  // finished or cancelled

  // The step's packed batch: every scheduled chunk at its positions and
  // cache indices, plus what the policies need (scores, checkpoints,
  // overlay ids for residual-dropped blocks).
  ForwardBatch build_batch(const SchedulerOutput& output);
  // After Scheduler::on_step_computed: records the new entries and their
  // scores, applies each policy's decision, counts evictions/recompute.
  void after_step(const SchedulerOutput& output, const ForwardSideOutputs& side);

  // Counters per policy; bytes_saved from the sequences `find` knows.
  void fill_counters(std::array<KvPolicyCounters, kNumKvPolicies>& counters, const Scheduler& scheduler) const;

 private:
  struct State {
    KvPolicySpec spec;
    std::vector<int32_t> positions;  // per cache entry
    std::vector<double> scores;      // per cache entry
    uint64_t seed = 0;               // Gumbel noise, from the prompt
    bool started = false;
    int64_t seen_preemptions = 0;
    int64_t first_checkpointed = 0;  // residual: positions [first, computed) have checkpoints
    int64_t checkpoint_end = 0;
    int32_t score_row_begin = -1;    // of the batch being run
    int64_t recompute_rows = 0;      // of the batch being run
  };
  void sync(State& state, const Sequence& sequence);
  KvPolicyInput input(const State& state, const Sequence& sequence) const;
  void apply(State& state, Sequence& sequence, const KvDecision& decision);

  KvPolicySpec default_spec_;
  KvCacheManager& kv_;
  KvStorage& storage_;
  ResidualCheckpoints checkpoints_;
  std::array<std::unique_ptr<KvPolicy>, kNumKvPolicies> policies_;
  std::unordered_map<uint64_t, State> states_;  // sequences with a policy other than none
  struct Totals {
    int64_t evicted = 0, recomputed = 0;
    double recompute_seconds = 0.0;
  };
  std::array<Totals, kNumKvPolicies> totals_{};
};

}  // namespace kvs
