// CUDA fused residual add + RMSNorm against the CPU reference: residual
// bit-identical, out within one bf16 step. Skips without a GPU.
#include <gtest/gtest.h>

#include "kernels/cpu/fused_add_rmsnorm_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/fused_add_rmsnorm.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;

TEST(CudaFusedAddRmsNormTest, MatchesCpuReference) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const auto& [rows, dim] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 33}, {33, 2048}, {257, 4097}}) {
    for (const bool with_x : {true, false}) {
      auto residual = test::gpu::random_bf16(rows * dim, 1);
      const auto x = test::gpu::random_bf16(rows * dim, 2);
      const auto w = test::gpu::random_bf16(dim, 3);
      DeviceBuffer d_res(residual), d_x(x), d_w(w), d_out(rows * dim * 2);
      std::vector<uint16_t> want(rows * dim);
      fused_add_rmsnorm_reference(residual.data(), with_x ? x.data() : nullptr, w.data(), want.data(), rows, dim,
                                  1e-5f);
      ASSERT_TRUE(cuda::fused_add_rmsnorm(d_res.as<uint16_t>(), with_x ? d_x.as<uint16_t>() : nullptr,
                                          d_w.as<uint16_t>(), d_out.as<uint16_t>(), rows, dim, 1e-5f, nullptr).ok());
      test::gpu::sync_ok();
      EXPECT_EQ(d_res.download<uint16_t>(residual.size()), residual) << rows << "x" << dim;
      const auto got = d_out.download<uint16_t>(want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_TRUE(test::gpu::bf16_close(got[i], want[i], 1))
            << rows << "x" << dim << " i=" << i << " got " << bf16_to_fp32(got[i]) << " want " << bf16_to_fp32(want[i]);
      }
    }
  }
}

TEST(CudaFusedAddRmsNormTest, RejectsAliasedResidual) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  DeviceBuffer d(64);
  EXPECT_FALSE(cuda::fused_add_rmsnorm(d.as<uint16_t>(), nullptr, d.as<uint16_t>(), d.as<uint16_t>(), 1, 8, 1e-5f,
                                       nullptr).ok());
}

}  // namespace
}  // namespace kvs::kernels
