#pragma once
// `streaming` — StreamingLLM (Xiao et al., 2023): the first kNumSinks tokens
// (attention sinks) plus the most recent budget - kNumSinks tokens. Needs no
// attention statistics. With a budget <= kNumSinks only recent tokens stay.
#include "kvcache/kv_policy.h"

namespace kvs {

class StreamingPolicy final : public KvPolicy {
 public:
  static constexpr int64_t kNumSinks = 4;
  KvPolicyKind kind() const override { return KvPolicyKind::kStreaming; }
  KvDecision decide(const KvPolicyInput& input) const override;
};

}  // namespace kvs
