#pragma once
// `h2o` — Heavy-Hitter Oracle (Zhang et al., 2023): keep the most recent
// budget / 2 tokens plus the budget - budget / 2 older tokens with the largest
// accumulated attention mass (summed over every query row since the token
// entered the cache, over all heads and layers: one decision per sequence,
// since all layers share the paged block table). Applied after every step.
#include "kvcache/kv_policy.h"

namespace kvs {

class H2OPolicy final : public KvPolicy {
 public:
  KvPolicyKind kind() const override { return KvPolicyKind::kH2O; }
  ScoreRequest score_request(const KvPolicyInput&, int64_t, int64_t) const override { return {0, 0.0f}; }
  KvDecision decide(const KvPolicyInput& input) const override;
};

}  // namespace kvs
