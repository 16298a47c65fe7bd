#pragma once
// `none`: the full cache; nothing is ever dropped.
#include "kvcache/kv_policy.h"

namespace kvs {

class NonePolicy final : public KvPolicy {
 public:
  KvPolicyKind kind() const override { return KvPolicyKind::kNone; }
  KvDecision decide(const KvPolicyInput&) const override { return {}; }
};

}  // namespace kvs
