#include "engine/model/gpu_memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "engine/errors.h"

namespace kvs {

std::string format_bytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

namespace {

// Fills the block count and names it in the explanation.
GpuMemoryPlan with_blocks(GpuMemoryPlan plan, int64_t bytes_per_block) {
  if (bytes_per_block <= 0) return plan;
  plan.num_blocks = plan.kv_bytes / bytes_per_block;
  plan.explanation += " = " + std::to_string(plan.num_blocks) + " blocks of " + std::to_string(bytes_per_block) + " bytes";
  return plan;
}

}  // namespace

GpuMemoryPlan plan_gpu_memory(const GpuMemoryPlanInput& in) {
  if (!(in.utilization > 0.0 && in.utilization <= 1.0)) {
    throw InvalidArgument("--gpu-memory-utilization must be in (0, 1]");
  }
  const int64_t available = in.free_bytes - in.activation_bytes - in.reserve_bytes;
  GpuMemoryPlan plan;
  if (in.requested_kv_bytes > 0) {
    if (in.requested_kv_bytes > available) {
      throw InvalidArgument("--kv-cache-memory " + format_bytes(in.requested_kv_bytes) + " does not fit: " +
                            format_bytes(in.free_bytes) + " free on the device after the weights, less " +
                            format_bytes(in.activation_bytes) + " of activations and " + format_bytes(in.reserve_bytes) +
                            " reserved");
    }
    plan.kv_bytes = in.requested_kv_bytes;
    plan.explanation = "KV cache " + format_bytes(plan.kv_bytes) + " (--kv-cache-memory)";
    return with_blocks(plan, in.kv_bytes_per_block);
  }
  const auto budget = static_cast<int64_t>(in.utilization * static_cast<double>(in.total_bytes));
  const int64_t from_budget = budget - in.weight_bytes - in.activation_bytes - in.reserve_bytes;
  plan.kv_bytes = std::min(from_budget, available);
  if (plan.kv_bytes <= 0) {
    throw InvalidArgument("--gpu-memory-utilization " + std::to_string(in.utilization) +
                          " leaves no room for the KV cache: budget " + format_bytes(budget) + " of " +
                          format_bytes(in.total_bytes) + ", weights " + format_bytes(in.weight_bytes) +
                          ", activations " + format_bytes(in.activation_bytes) + ", reserve " +
                          format_bytes(in.reserve_bytes) + ", free " + format_bytes(in.free_bytes));
  }
  plan.explanation = "KV cache " + format_bytes(plan.kv_bytes) + " = min(" + std::to_string(in.utilization) + " x " +
                     format_bytes(in.total_bytes) + " - weights " + format_bytes(in.weight_bytes) + " - activations " +
                     format_bytes(in.activation_bytes) + " - reserve " + format_bytes(in.reserve_bytes) + ", free " +
                     format_bytes(in.free_bytes) + " - activations - reserve)";
  return with_blocks(plan, in.kv_bytes_per_block);
}

}  // namespace kvs
