// --gpu-memory-utilization / --kv-cache-memory on CUDA: the KV budget
// arithmetic (engine/model/gpu_memory_plan.h).
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "engine/model/gpu_memory_plan.h"
#include "engine/model/kv_storage.h"

namespace kvs {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

GpuMemoryPlanInput h100(int64_t weights) {
  GpuMemoryPlanInput in;
  in.total_bytes = 80 * kGiB;
  in.weight_bytes = weights;
  in.free_bytes = in.total_bytes - weights - kGiB / 2;  // the context and the step buffers
  in.activation_bytes = kGiB;
  in.reserve_bytes = kGiB / 2;
  return in;
}

TEST(GpuMemoryPlanTest, UtilizationCountsTheWeightsAsVllmDoes) {
  GpuMemoryPlanInput in = h100(3 * kGiB);
  in.utilization = 0.5;
  // 40 GiB budget - 3 weights - 1 activations - 0.5 reserve.
  EXPECT_EQ(plan_gpu_memory(in).kv_bytes, 40 * kGiB - 3 * kGiB - kGiB - kGiB / 2);
  in.utilization = 0.9;
  EXPECT_EQ(plan_gpu_memory(in).kv_bytes, static_cast<int64_t>(0.9 * 80 * kGiB) - 3 * kGiB - kGiB - kGiB / 2);
}

TEST(GpuMemoryPlanTest, NeverMoreThanIsFreeWhenOthersHoldMemory) {
  GpuMemoryPlanInput in = h100(3 * kGiB);
  in.utilization = 1.0;
  in.free_bytes = 10 * kGiB;  // another process holds most of the GPU
  EXPECT_EQ(plan_gpu_memory(in).kv_bytes, 10 * kGiB - kGiB - kGiB / 2);
}

TEST(GpuMemoryPlanTest, AnExplicitSizeWinsWhenItFits) {
  GpuMemoryPlanInput in = h100(3 * kGiB);
  in.requested_kv_bytes = 2 * kGiB;
  const GpuMemoryPlan plan = plan_gpu_memory(in);
  EXPECT_EQ(plan.kv_bytes, 2 * kGiB);
  EXPECT_NE(plan.explanation.find("--kv-cache-memory"), std::string::npos);
  in.requested_kv_bytes = 100 * kGiB;
  EXPECT_THROW(plan_gpu_memory(in), InvalidArgument);
}

TEST(GpuMemoryPlanTest, NoRoomIsAClearError) {
  GpuMemoryPlanInput in = h100(30 * kGiB);
  in.utilization = 0.3;  // 24 GiB budget < 30 GiB of weights
  try {
    plan_gpu_memory(in);
    FAIL() << "expected an error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("--gpu-memory-utilization"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("weights 30.00 GiB"), std::string::npos) << e.what();
  }
  in.utilization = 0.0;
  EXPECT_THROW(plan_gpu_memory(in), InvalidArgument);
  in.utilization = 1.5;
  EXPECT_THROW(plan_gpu_memory(in), InvalidArgument);
}

TEST(GpuMemoryPlanTest, BlocksAreCountedPerKvDtype) {
  ModelConfig config;  // SmolLM2-135M's cache shape: 30 layers, 3 KV heads of 64
  config.num_layers = 30;
  config.num_kv_heads = 3;
  config.num_heads = 9;
  config.head_dim = 64;
  const int64_t bf16 = KvStorage::bytes_per_block(config, 16, kernels::KvDType::BF16);
  const int64_t fp8 = KvStorage::bytes_per_block(config, 16, kernels::KvDType::FP8_E4M3);
  EXPECT_EQ(bf16, 2 * 30 * 16 * 3 * 64 * 2);
  EXPECT_EQ(2 * fp8, bf16);  // one byte per value
  GpuMemoryPlanInput in = h100(3 * kGiB);
  in.requested_kv_bytes = 10 * kGiB;
  in.kv_bytes_per_block = bf16;
  const GpuMemoryPlan bf16_plan = plan_gpu_memory(in);
  in.kv_bytes_per_block = fp8;
  const GpuMemoryPlan fp8_plan = plan_gpu_memory(in);
  EXPECT_EQ(bf16_plan.num_blocks, 10 * kGiB / bf16);
  EXPECT_EQ(fp8_plan.num_blocks, 10 * kGiB / fp8);
  EXPECT_GE(fp8_plan.num_blocks, 2 * bf16_plan.num_blocks);
  EXPECT_NE(fp8_plan.explanation.find(std::to_string(fp8_plan.num_blocks) + " blocks of " + std::to_string(fp8) + " bytes"),
            std::string::npos);
  in.kv_bytes_per_block = 0;  // not counted
  EXPECT_EQ(plan_gpu_memory(in).num_blocks, 0);
}

}  // namespace
}  // namespace kvs
