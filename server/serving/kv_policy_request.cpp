#include "server/serving/kv_policy_request.h"

#include <string>

#include "engine/errors.h"
#include "server/api/api_error.h"

namespace kvs {

std::optional<KvPolicySpec> resolve_kv_policy(std::optional<KvPolicyKind> kind, std::optional<double> budget,
                                              const KvPolicySpec& server_default) {
  if (!kind && !budget) return std::nullopt;
  KvPolicySpec spec;
  spec.kind = kind.value_or(server_default.kind);
  spec.budget = budget.value_or(server_default.budget);
  if (!kind && !spec.compresses()) {
    throw ApiError(400, "'kv_budget' needs a 'kv_policy': the server's default KV policy is none", "kvserve.kv_budget");
  }
  if (!budget && spec.compresses() && spec.budget <= 0) {
    throw ApiError(400,
                   std::string("'kv_policy' ") + kv_policy_name(spec.kind) +
                       " needs a 'kv_budget' (tokens kept per sequence, or a fraction in (0, 1)): the server has no "
                       "default budget",
                   "kvserve.kv_budget");
  }
  try {
    spec.validate();
  } catch (const InvalidArgument& e) {
    throw ApiError(400, e.what(), "kvserve.kv_budget");
  }
  return spec;
}

}  // namespace kvs
