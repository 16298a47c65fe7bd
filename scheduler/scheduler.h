#pragma once
// Continuous batching: each step picks decode tokens and prefill chunks for
// one packed batch under a token budget, admitting, preempting and finishing
// sequences. Touches no tensors: the engine loop runs what it picks.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "kvcache/kv_cache_manager.h"
#include "scheduler/request.h"
#include "scheduler/sequence.h"

namespace kvs {

struct SchedulerConfig {
  int64_t max_num_batched_tokens = 512;  // tokens per step (--max-num-batched-tokens)
  int64_t max_num_seqs = 64;             // running sequences at most (--max-num-seqs)
  int64_t max_model_len = 0;             // the model's context in tokens (required)
  double watermark = 0.01;               // fraction of blocks admission leaves free for running sequences
  int64_t aging_steps = 0;               // a waiting/running request gains one priority level per this many steps; 0 = off
  int64_t starvation_steps = 1000;       // a request waiting this long stops later ones from skipping ahead of it
  // NOTE: for numerics that depend on a sequence's step shape (our F16
  // attention rounds one-token steps differently, as llama.cpp does): prompt
  // chunks never have one token when more remain, and output tokens are
  // recomputed after preemption one per step, exactly as they were first
  // computed. Needs max_num_batched_tokens >= 3.
  bool preserve_step_shape = false;
  // Speculative decoding by prompt lookup (--speculative-ngram K): a decoding
  // sequence with Sequence::speculate set may put up to K draft tokens after
  // its last token in one step (see ScheduledSequence::draft_tokens); 0 = off.
  // Drafts never push out other work: they take what budget and free blocks
  // are left over, and never more than the sequence can still emit.
  int64_t speculative_ngram = 0;

  void validate() const;  // throws InvalidArgument naming the field
};

// One sequence's share of a step: tokens[num_computed_tokens, + num_new_tokens).
struct ScheduledSequence {
  Sequence* sequence = nullptr;
  int64_t num_new_tokens = 0;
  bool sample = false;  // the chunk reaches the end of the sequence: sample its next token
  // Speculative decoding: tokens guessed to follow the sequence's last token
  // (only with sample, when the chunk is that one token). They are the last
  // draft_tokens.size() of the num_new_tokens, are not in Sequence::tokens,
  // and every row of the chunk needs logits. After the step the engine
  // verifies them and calls Scheduler::commit_draft.
  std::vector<int32_t> draft_tokens;
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> scheduled;
  int64_t num_tokens = 0;
  bool empty() const { return scheduled.empty(); }
};

// Ownership: owns its Sequences; uses (does not own) the KvCacheManager, which
// must outlive it. Thread-safety: none (the engine loop thread only).
//
// Order: sequences compare by (priority - steps waited / aging_steps, arrival),
// lower first. Running ones are served in that order; when blocks run out the
// last (worst priority, then most recent) is preempted: its blocks are freed
// and it goes back to waiting to be recomputed. Waiting ones are admitted in
// that order while a free-block watermark holds; one that does not fit is
// skipped (unless starving), so short requests pass a long one. Before a
// sequence's step is sized, its window groups release the blocks that slid
// out of the window of the step's first query token.
class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, KvCacheManager& kv);

  // Throws InvalidArgument when `request` can never run here: empty prompt,
  // max_tokens < 1, prompt + max_tokens past the context, or more KV blocks
  // held at once (KvCacheManager::max_blocks_held) than the whole pool. Reads
  // only what is fixed at construction, so any thread may call it while
  // another steps the scheduler (EngineClient::submit does, via
  // EngineCore::validate).
  void check(const Request& request) const;

  // check(request), then queues it under `id` (unique; a duplicate throws
  // InvalidArgument).
  Sequence& add(uint64_t id, const Request& request);
  // Picks this step's batch and allocates its KV slots.
  SchedulerOutput schedule();
  // After the model ran `output`: advances num_computed_tokens and enters
  // newly full blocks into the prefix cache. A chunk with draft tokens
  // advances by its non-draft tokens only (their K/V are certain).
  void on_step_computed(const SchedulerOutput& output);
  // After verifying a step's drafts: the first num_accepted drafts were
  // appended (append_token) and their K/V, written in the step, count as
  // computed; blocks that held only rejected drafts go back to the pool, and
  // newly full blocks of accepted tokens enter the prefix cache. Call it only
  // while the sequence is unfinished.
  void commit_draft(Sequence& sequence, int64_t num_accepted);
  // Appends a sampled token; returns why the sequence is now finished, or kNone.
  FinishReason append_token(Sequence& sequence, int32_t token);
  // Frees the sequence's blocks and forgets it (finished or cancelled). No-op for an unknown id.
  void finish(uint64_t id);

  Sequence* find(uint64_t id);
  const Sequence* find(uint64_t id) const;
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_preemptions() const { return num_preemptions_; }
  bool has_unfinished() const { return !sequences_.empty(); }
  // The ids of every unfinished sequence (running or waiting), ascending.
  std::vector<uint64_t> unfinished_ids() const;
  const SchedulerConfig& config() const { return config_; }

 private:
  bool before(const Sequence& a, const Sequence& b) const;
  int64_t chunk_size(const Sequence& sequence, int64_t num_computed, int64_t budget) const;
  std::vector<int32_t> draft(const Sequence& sequence, int64_t budget) const;
  PrefixHit find_prefix(const Sequence& sequence) const;
  void preempt(Sequence& victim);
  void schedule_running(SchedulerOutput& output, int64_t& budget, bool& preempted);
  void schedule_waiting(SchedulerOutput& output, int64_t& budget);

  SchedulerConfig config_;
  KvCacheManager& kv_;
  std::unordered_map<uint64_t, std::unique_ptr<Sequence>> sequences_;
  std::vector<Sequence*> running_, waiting_;
  uint64_t next_arrival_ = 0;
  int64_t step_ = 0;
  int64_t num_preemptions_ = 0;
};

}  // namespace kvs
