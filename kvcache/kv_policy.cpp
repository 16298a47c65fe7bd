#include "kvcache/kv_policy.h"

#include <algorithm>
#include <numeric>

#include "kvcache/policies/h2o_policy.h"
#include "kvcache/policies/keyformer_policy.h"
#include "kvcache/policies/none_policy.h"
#include "kvcache/policies/residual_policy.h"
#include "kvcache/policies/snapkv_policy.h"
#include "kvcache/policies/streaming_policy.h"

namespace kvs {

std::unique_ptr<KvPolicy> make_kv_policy(KvPolicyKind kind) {
  switch (kind) {
    case KvPolicyKind::kNone: return std::make_unique<NonePolicy>();
    case KvPolicyKind::kStreaming: return std::make_unique<StreamingPolicy>();
    case KvPolicyKind::kH2O: return std::make_unique<H2OPolicy>();
    case KvPolicyKind::kSnapKV: return std::make_unique<SnapKVPolicy>();
    case KvPolicyKind::kKeyformer: return std::make_unique<KeyformerPolicy>();
    case KvPolicyKind::kResidual: return std::make_unique<ResidualPolicy>();
  }
  return std::make_unique<NonePolicy>();
}

std::vector<int64_t> all_entries(const KvPolicyInput& input) {
  std::vector<int64_t> entries(input.positions->size());
  std::iota(entries.begin(), entries.end(), 0);
  return entries;
}

std::vector<int64_t> top_by_score(const KvPolicyInput& input, std::vector<int64_t> candidates, int64_t count) {
  count = std::clamp<int64_t>(count, 0, static_cast<int64_t>(candidates.size()));
  const auto& scores = *input.scores;
  const auto& positions = *input.positions;
  std::partial_sort(candidates.begin(), candidates.begin() + count, candidates.end(), [&](int64_t a, int64_t b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : positions[a] > positions[b];
  });
  candidates.resize(static_cast<size_t>(count));
  return candidates;
}

void split_recent(const KvPolicyInput& input, int64_t recent, std::vector<int64_t>& recent_entries,
                  std::vector<int64_t>& older_entries) {
  std::vector<int64_t> entries = all_entries(input);
  const auto& positions = *input.positions;
  std::sort(entries.begin(), entries.end(), [&](int64_t a, int64_t b) { return positions[a] > positions[b]; });
  recent = std::clamp<int64_t>(recent, 0, static_cast<int64_t>(entries.size()));
  recent_entries.assign(entries.begin(), entries.begin() + recent);
  older_entries.assign(entries.begin() + recent, entries.end());
}

KvDecision keep_entries(std::vector<int64_t> entries) {
  KvDecision decision;
  decision.compact = true;
  std::sort(entries.begin(), entries.end());
  decision.keep = std::move(entries);
  return decision;
}

}  // namespace kvs
