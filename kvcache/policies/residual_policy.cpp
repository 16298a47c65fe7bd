#include "kvcache/policies/residual_policy.h"

#include <algorithm>

namespace kvs {

KvDecision ResidualPolicy::decide(const KvPolicyInput& input) const {
  const int64_t bs = input.block_size;
  // Blocks that may go: full, checkpointed, and wholly before the last
  // max(budget, 1) tokens, which stay resident.
  const int64_t keep_from = input.num_computed_tokens - std::max<int64_t>(input.budget_tokens, 1);
  KvDecision decision;
  decision.drop_blocks_begin = (input.first_checkpointed + bs - 1) / bs;
  decision.drop_blocks_end = std::max<int64_t>(decision.drop_blocks_begin, std::max<int64_t>(0, keep_from) / bs);
  return decision;
}

}  // namespace kvs
