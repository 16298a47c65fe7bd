#include "kvcache/policies/keyformer_policy.h"

#include <algorithm>
#include <cmath>

namespace kvs {

ScoreRequest KeyformerPolicy::score_request(const KvPolicyInput&, int64_t num_output_tokens, int64_t max_tokens) const {
  const double progress = max_tokens > 1 ? std::clamp(static_cast<double>(num_output_tokens) / static_cast<double>(max_tokens - 1), 0.0, 1.0) : 0.0;
  return {0, static_cast<float>(kTauInit + (kTauEnd - kTauInit) * progress)};
}

KvDecision KeyformerPolicy::decide(const KvPolicyInput& input) const {
  if (static_cast<int64_t>(input.positions->size()) <= input.budget_tokens) return {};
  const auto num_recent = std::min<int64_t>(
      input.budget_tokens, static_cast<int64_t>(std::ceil(kRecentFraction * static_cast<double>(input.budget_tokens))));
  std::vector<int64_t> recent, older;
  split_recent(input, num_recent, recent, older);
  std::vector<int64_t> keys = top_by_score(input, std::move(older), input.budget_tokens - num_recent);
  recent.insert(recent.end(), keys.begin(), keys.end());
  return keep_entries(std::move(recent));
}

}  // namespace kvs
