#pragma once
// `snapkv` — SnapKV (Li et al., 2024): once, when the prompt has been
// computed, the last kWindow prompt tokens (the observation window) vote:
// their attention mass on each earlier prompt token, summed over heads and
// layers, max-pooled over kPoolKernel neighbouring positions; the
// budget - kWindow best-voted tokens stay with the window. Generated tokens
// are then all kept, as in the paper (the budget applies to the prompt).
// A budget <= kWindow keeps the last `budget` prompt tokens.
#include "kvcache/kv_policy.h"

namespace kvs {

class SnapKVPolicy final : public KvPolicy {
 public:
  static constexpr int64_t kWindow = 16;
  static constexpr int64_t kPoolKernel = 7;
  KvPolicyKind kind() const override { return KvPolicyKind::kSnapKV; }
  ScoreRequest score_request(const KvPolicyInput& input, int64_t, int64_t) const override;
  // Acts only on the step that completes the prompt (num_computed_tokens ==
  // num_prompt_tokens, every prompt entry still present).
  KvDecision decide(const KvPolicyInput& input) const override;
};

}  // namespace kvs
