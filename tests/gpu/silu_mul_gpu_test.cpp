// CUDA SiLU·mul against the CPU reference (one bf16 step), including the
// fused gate_up layout. Skips without a GPU.
#include <gtest/gtest.h>

#include "kernels/cpu/silu_mul_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/silu_mul.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;

TEST(CudaSiluMulTest, MatchesCpuReferenceOnFusedGateUp) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const auto& [rows, dim] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 33}, {33, 8192}, {257, 1001}}) {
    const auto gate_up = test::gpu::random_bf16(rows * 2 * dim, 5, 3.0f);
    std::vector<uint16_t> want(rows * dim);
    silu_mul_reference(gate_up.data(), 2 * dim, gate_up.data() + dim, 2 * dim, want.data(), dim, rows, dim);
    DeviceBuffer d_in(gate_up), d_out(want.size() * 2);
    ASSERT_TRUE(cuda::silu_mul(d_in.as<uint16_t>(), 2 * dim, d_in.as<uint16_t>() + dim, 2 * dim, d_out.as<uint16_t>(),
                               dim, rows, dim, nullptr).ok());
    test::gpu::sync_ok();
    const auto got = d_out.download<uint16_t>(want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(test::gpu::bf16_close(got[i], want[i], 1)) << rows << "x" << dim << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace kvs::kernels
