#pragma once
// A request's own KV compression (the `kvserve` object's kv_policy /
// kv_budget, or the gRPC fields) completed from the server's default.
// Shared by the HTTP and gRPC front ends.
#include <optional>

#include "kvcache/kv_policy_spec.h"

namespace kvs {

// Neither given: nullopt (the engine runs its default). kv_policy alone: that
// policy with the server's default budget (a 400 if the server has none and
// the policy is not none). kv_budget alone: the server's default policy with
// that budget (a 400 if that policy is none). Both: as given. Throws ApiError
// 400 naming "kvserve.kv_policy" / "kvserve.kv_budget"; the result is valid.
std::optional<KvPolicySpec> resolve_kv_policy(std::optional<KvPolicyKind> kind, std::optional<double> budget,
                                              const KvPolicySpec& server_default);

}  // namespace kvs
