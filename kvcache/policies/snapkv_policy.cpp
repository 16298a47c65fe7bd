#include "kvcache/policies/snapkv_policy.h"

#include <algorithm>

namespace kvs {

ScoreRequest SnapKVPolicy::score_request(const KvPolicyInput& input, int64_t, int64_t) const {
  if (input.num_computed_tokens >= input.num_prompt_tokens) return {};  // prompt done: no more votes
  return {std::max<int64_t>(0, input.num_prompt_tokens - kWindow), 0.0f};
}

KvDecision SnapKVPolicy::decide(const KvPolicyInput& input) const {
  const auto& positions = *input.positions;
  const int64_t n = static_cast<int64_t>(positions.size());
  if (input.num_computed_tokens != input.num_prompt_tokens || n != input.num_prompt_tokens ||
      n <= input.budget_tokens) {
    return {};
  }
  const int64_t window = std::min(kWindow, input.budget_tokens);
  std::vector<int64_t> recent, older;
  split_recent(input, window, recent, older);
  // Pool the votes by position (entries are in position order here: no
  // compaction has happened before the prompt's end).
  const auto& votes = *input.scores;
  std::vector<double> pooled(static_cast<size_t>(n), 0.0);
  const int64_t half = kPoolKernel / 2;
  for (int64_t i = 0; i < n; ++i) {
    double best = 0.0;
    for (int64_t j = std::max<int64_t>(0, i - half); j <= std::min(n - 1, i + half); ++j) best = std::max(best, votes[j]);
    pooled[i] = best;
  }
  KvPolicyInput pooled_input = input;
  pooled_input.scores = &pooled;
  std::vector<int64_t> chosen = top_by_score(pooled_input, std::move(older), input.budget_tokens - window);
  recent.insert(recent.end(), chosen.begin(), chosen.end());
  return keep_entries(std::move(recent));
}

}  // namespace kvs
