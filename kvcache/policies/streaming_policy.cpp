#include "kvcache/policies/streaming_policy.h"

#include <algorithm>

namespace kvs {

KvDecision StreamingPolicy::decide(const KvPolicyInput& input) const {
  const auto& positions = *input.positions;
  const int64_t n = static_cast<int64_t>(positions.size());
  if (n <= input.budget_tokens) return {};
  const int64_t sinks = input.budget_tokens > kNumSinks ? kNumSinks : 0;
  std::vector<int64_t> recent, older;
  split_recent(input, input.budget_tokens - sinks, recent, older);
  // older is in descending position order: its last `sinks` are the first tokens.
  recent.insert(recent.end(), older.end() - std::min<int64_t>(sinks, static_cast<int64_t>(older.size())), older.end());
  return keep_entries(std::move(recent));
}

}  // namespace kvs
