#pragma once
// `keyformer` — Keyformer (Adnan et al., 2024): a recent window of
// ceil(kRecentFraction * budget) tokens plus the key tokens: the older tokens
// with the largest accumulated Keyformer score, softmax((x + g) / tau) with
// x the scaled attention logits and g Gumbel noise (the paper's
// regularisation), tau annealed linearly from kTauInit (prompt and first
// output) to kTauEnd (the last of max_tokens outputs). Accumulated over every
// query row, head and layer; applied after every step.
#include "kvcache/kv_policy.h"

namespace kvs {

class KeyformerPolicy final : public KvPolicy {
 public:
  static constexpr double kRecentFraction = 0.3;
  static constexpr float kTauInit = 1.0f;
  static constexpr float kTauEnd = 2.0f;
  KvPolicyKind kind() const override { return KvPolicyKind::kKeyformer; }
  ScoreRequest score_request(const KvPolicyInput& input, int64_t num_output_tokens, int64_t max_tokens) const override;
  KvDecision decide(const KvPolicyInput& input) const override;
};

}  // namespace kvs
