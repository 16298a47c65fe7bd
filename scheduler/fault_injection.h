#pragma once
// Test-only fault injection: a ForwardModel decorator that makes chosen steps
// throw or return NaN logits, so the engine's failure handling can be tested
// against the real model and the real server. Off unless `kvserve serve` finds
// KVS_FAULT_INJECT in its environment (read once at start); no request field
// or flag can turn it on.
//
// KVS_FAULT_INJECT: comma-separated faults,
//   throw_step:N    the N-th forward pass since start (1-based) throws, once;
//   nan_logits:ID   a forward pass whose batch holds token id ID in a
//                   sequence's new tokens returns NaN in that sequence's
//                   logits row (put ID last in a prompt to hit its prefill).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/forward_model.h"

namespace kvs {

struct FaultPlan {
  int64_t throw_step = 0;   // 0 = never
  int32_t nan_token = -1;   // -1 = never
  bool enabled() const { return throw_step > 0 || nan_token >= 0; }
};

// Parses KVS_FAULT_INJECT's value ("" = no faults). Throws InvalidArgument
// naming the bad entry.
FaultPlan parse_fault_plan(const std::string& spec);

// Ownership: uses `inner`, which must outlive it. Thread-safety: as
// ForwardModel (forward() from the engine loop thread only).
class FaultInjectingModel final : public ForwardModel {
 public:
  FaultInjectingModel(ForwardModel& inner, FaultPlan plan) : inner_(inner), plan_(plan) {}

  const ModelConfig& config() const override { return inner_.config(); }
  int num_kv_shards() const override { return inner_.num_kv_shards(); }
  std::unique_ptr<KvMemory> make_kv_memory() const override { return inner_.make_kv_memory(); }
  kernels::KvDType default_kv_dtype() const override { return inner_.default_kv_dtype(); }
  std::string kv_dtype_error(kernels::KvDType dtype) const override { return inner_.kv_dtype_error(dtype); }
  bool supports_residual_checkpoints() const override { return inner_.supports_residual_checkpoints(); }
  bool supports_kv_groups() const override { return inner_.supports_kv_groups(); }
  std::string device_name() const override { return inner_.device_name(); }
  std::vector<float> forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side = nullptr) override;

 private:
  ForwardModel& inner_;
  FaultPlan plan_;
  int64_t num_forwards_ = 0;
};

}  // namespace kvs
