#include "kvcache/kv_policy_spec.h"

#include <cmath>

#include "engine/errors.h"

namespace kvs {
namespace {
constexpr const char* kNames[kNumKvPolicies] = {"none", "streaming", "h2o", "snapkv", "keyformer", "residual"};
}

const char* kv_policy_name(KvPolicyKind kind) { return kNames[static_cast<int>(kind)]; }

std::string kv_policy_names() {
  std::string names;
  for (const char* name : kNames) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

KvPolicyKind parse_kv_policy(const std::string& name) {
  for (int i = 0; i < kNumKvPolicies; ++i) {
    if (name == kNames[i]) return static_cast<KvPolicyKind>(i);
  }
  throw InvalidArgument("unknown KV policy '" + name + "' (known: " + kv_policy_names() + ")");
}

void KvPolicySpec::validate() const {
  if (kind == KvPolicyKind::kNone) return;
  const bool fraction = budget > 0.0 && budget < 1.0;
  const bool tokens = budget >= 1.0 && budget <= 1e12 && std::floor(budget) == budget;
  if (!fraction && !tokens) {
    throw InvalidArgument("kv_budget must be an integer >= 1 (tokens) or a fraction in (0, 1) for KV policy '" +
                          std::string(kv_policy_name(kind)) + "'");
  }
}

int64_t KvPolicySpec::budget_tokens(int64_t num_tokens) const {
  if (budget >= 1.0) return static_cast<int64_t>(budget);
  const auto tokens = static_cast<int64_t>(std::ceil(budget * static_cast<double>(num_tokens)));
  return tokens < 1 ? 1 : tokens;
}

}  // namespace kvs
