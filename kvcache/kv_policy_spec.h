#pragma once
// Which KV compression policy a sequence runs under and with what budget: the
// typed value the server parses (--kv-policy / --kv-budget, the `kvserve`
// extension object, the gRPC request) and the engine obeys.
#include <cstdint>
#include <string>

namespace kvs {

enum class KvPolicyKind : uint8_t {
  kNone = 0,   // full cache
  kStreaming,  // StreamingLLM: attention sinks + recent window
  kH2O,        // heavy hitters by accumulated attention mass + recent window
  kSnapKV,     // end of prefill: observation-window votes pick the prompt tokens to keep
  kKeyformer,  // Keyformer's Gumbel-regularised key-token score + recent window
  kResidual,   // KV-Direct: bounded resident KV, dropped K/V recomputed exactly from residual checkpoints
};
inline constexpr int kNumKvPolicies = 6;

// "none", "streaming", "h2o", "snapkv", "keyformer", "residual".
const char* kv_policy_name(KvPolicyKind kind);
// The kind named `name`; throws InvalidArgument listing the known names.
KvPolicyKind parse_kv_policy(const std::string& name);
// All names, comma separated (for help texts and errors).
std::string kv_policy_names();

// budget: an integer >= 1 is tokens kept per sequence; 0 < budget < 1 is a
// fraction of the sequence's current length (rounded up, at least 1 token).
// Ignored for kNone. Value type; copy freely.
struct KvPolicySpec {
  KvPolicyKind kind = KvPolicyKind::kNone;
  double budget = 0.0;

  // Throws InvalidArgument (naming "kv_budget") unless kind is kNone or the
  // budget is an integer >= 1 or a fraction in (0, 1).
  void validate() const;
  // Tokens this policy may keep resident for a sequence of num_tokens tokens.
  int64_t budget_tokens(int64_t num_tokens) const;
  bool compresses() const { return kind != KvPolicyKind::kNone; }
};

}  // namespace kvs
