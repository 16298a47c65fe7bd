#pragma once
// The scheduler's state of one request: its tokens and how far the KV cache
// has caught up with them.
#include <cstdint>
#include <vector>

#include "scheduler/request.h"

namespace kvs {

enum class SequenceState : uint8_t { kWaiting, kRunning, kPreempted, kFinished };

// Owned by the Scheduler; the engine loop reads it and appends tokens through
// Scheduler. Not thread-safe. "No phases": prefill, chunked prefill, prefix
// hits and recompute after preemption are all num_computed_tokens catching up
// with tokens.size().
struct Sequence {
  uint64_t id = 0;
  SequenceState state = SequenceState::kWaiting;
  std::vector<int32_t> tokens;  // prompt then outputs
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;  // tokens through the model (their K/V were written to the cache)
  // Cache entries a compression policy dropped by compaction; the cache holds
  // num_cached_tokens() entries (residual drops whole blocks instead and
  // keeps cache indices: see KvCacheManager::drop_blocks).
  int64_t num_evicted_tokens = 0;
  int64_t max_tokens = 0;
  std::vector<int32_t> stop_token_ids;
  int32_t priority = 0;
  int32_t num_logprobs = -1;   // Request::num_logprobs
  uint64_t arrival = 0;        // submission order, unique
  int64_t arrival_step = 0;    // scheduler step at submission (for aging)
  bool started_once = false;   // admitted at least once (prefix stats recorded)
  bool tiers_checked = false;  // the prefix-cache tiers were asked for its prompt since it last waited
  bool speculate = false;      // may draft tokens (SchedulerConfig::speculative_ngram; EngineCore decides)
  RequestStats stats;

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  int64_t num_cached_tokens() const { return num_computed_tokens - num_evicted_tokens; }
};

}  // namespace kvs
