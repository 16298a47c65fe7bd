#include "kvcache/policies/h2o_policy.h"

namespace kvs {

KvDecision H2OPolicy::decide(const KvPolicyInput& input) const {
  if (static_cast<int64_t>(input.positions->size()) <= input.budget_tokens) return {};
  const int64_t num_recent = input.budget_tokens / 2;
  std::vector<int64_t> recent, older;
  split_recent(input, num_recent, recent, older);
  std::vector<int64_t> heavy = top_by_score(input, std::move(older), input.budget_tokens - num_recent);
  recent.insert(recent.end(), heavy.begin(), heavy.end());
  return keep_entries(std::move(recent));
}

}  // namespace kvs
