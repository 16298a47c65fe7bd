#pragma once
// `residual` — KV-Direct (exact). Where the checkpoints sit: for every token
// of the sequence, the residual stream entering each layer after that
// layer's input RMSNorm (engine/model/residual_checkpoints.h), i.e. exactly
// what the layer's K/V projection reads. Between steps at most
// max(budget, one block) tokens' K/V stay resident, rounded up to whole
// blocks: the full blocks before that go back to the pool, and on
// every later step the model recomputes their K/V from the checkpoints layer
// by layer into a one-layer scratch (a [rows, hidden] x [hidden, 2 * kv
// width] matmul, RoPE and a cache-format write per layer; no attention),
// so attention reads the same values as with the full cache and the output
// is token-identical. Positions stay cache indices (no compaction). Blocks
// whose tokens came from a prefix hit (no checkpoints) are never dropped.
#include "kvcache/kv_policy.h"

namespace kvs {

class ResidualPolicy final : public KvPolicy {
 public:
  KvPolicyKind kind() const override { return KvPolicyKind::kResidual; }
  KvDecision decide(const KvPolicyInput& input) const override;
};

}  // namespace kvs
