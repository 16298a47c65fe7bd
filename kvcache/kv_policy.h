#pragma once
// The compression policies' one small interface: given a sequence's cache
// entries (their token positions and accumulated attention statistics),
// decide which entries stay. Policies are pure: no model, no memory; the
// engine applies the decision (KvCacheManager::compact / drop_front_blocks,
// KvStorage::copy_slots).
#include <cstdint>
#include <memory>
#include <vector>

#include "kvcache/kv_policy_spec.h"

namespace kvs {

// One sequence's state as a policy sees it, after a step. Cache entry i
// (0 <= i < positions.size()) holds the K/V of token position positions[i];
// scores[i] is the statistic the policy asked for (ScoreRequest), summed over
// layers, heads and query rows since the entry was written (empty when it
// asked for none). Entries need not be in position order.
struct KvPolicyInput {
  std::vector<int32_t> const* positions = nullptr;
  std::vector<double> const* scores = nullptr;
  int64_t budget_tokens = 0;        // KvPolicySpec::budget_tokens(num_computed_tokens)
  int64_t num_computed_tokens = 0;  // tokens through the model (positions 0 .. n-1)
  int64_t num_prompt_tokens = 0;
  int64_t block_size = 0;
  int64_t first_checkpointed = 0;   // residual: positions before this have no checkpoint (prefix hits)
};

// What to do with the cache: keep (ascending cache indices) and compact, or
// release the blocks [drop_blocks_begin, drop_blocks_end) of the table (those
// still held; residual), or neither (nothing changes).
struct KvDecision {
  bool compact = false;
  std::vector<int64_t> keep;        // when compact: entries to keep, ascending
  int64_t drop_blocks_begin = 0, drop_blocks_end = 0;
};

// The statistic a sequence's next step should accumulate (ForwardBatch).
struct ScoreRequest {
  int64_t from_position = -1;  // query rows at positions >= this add scores; -1 none
  float tau = 0.0f;            // > 0: Keyformer's Gumbel score at that temperature; else attention mass
};

// Thread-safety: const methods only; one instance may serve many sequences.
class KvPolicy {
 public:
  virtual ~KvPolicy() = default;
  virtual KvPolicyKind kind() const = 0;
  // What to accumulate for a sequence with this state during its next step
  // (num_output_tokens / max_tokens for schedules such as Keyformer's).
  virtual ScoreRequest score_request(const KvPolicyInput& input, int64_t num_output_tokens,
                                     int64_t max_tokens) const {
    (void)input, (void)num_output_tokens, (void)max_tokens;
    return {};
  }
  virtual KvDecision decide(const KvPolicyInput& input) const = 0;
};

// The policy for `kind` with its default parameters (each file under
// kvcache/policies/ documents them).
std::unique_ptr<KvPolicy> make_kv_policy(KvPolicyKind kind);

// Helpers shared by the policies.
// Every cache index of the input, ascending.
std::vector<int64_t> all_entries(const KvPolicyInput& input);
// Top `count` of `candidates` by score (ties: the later position wins).
std::vector<int64_t> top_by_score(const KvPolicyInput& input, std::vector<int64_t> candidates, int64_t count);
// Splits entries into the `recent` largest positions and the rest.
void split_recent(const KvPolicyInput& input, int64_t recent, std::vector<int64_t>& recent_entries,
                  std::vector<int64_t>& older_entries);
// The decision keeping `entries` (any order; sorted here).
KvDecision keep_entries(std::vector<int64_t> entries);

}  // namespace kvs
