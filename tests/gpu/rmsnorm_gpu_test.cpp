// CUDA RMSNorm against the CPU reference on odd shapes. Skips without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <random>
#include <vector>

#include "kernels/cpu/rmsnorm.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/rmsnorm.h"

namespace kvs::kernels {
namespace {

TEST(CudaRmsNormTest, MatchesCpuReference) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const auto& [rows, dim] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 576}, {17, 4097}}) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist;
    std::vector<float> x(rows * dim), w(dim), expected(rows * dim), got(rows * dim);
    for (float& v : x) v = dist(rng);
    for (float& v : w) v = dist(rng);
    rmsnorm(x.data(), w.data(), expected.data(), rows, dim, 1e-5f);
    float *dx, *dw;
    ASSERT_EQ(cudaMalloc(&dx, x.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dw, w.size() * sizeof(float)), cudaSuccess);
    cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dw, w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice);
    ASSERT_TRUE(cuda::rmsnorm(dx, dw, dx, rows, dim, 1e-5f, nullptr).ok());
    cudaMemcpy(got.data(), dx, got.size() * sizeof(float), cudaMemcpyDeviceToHost);
    cudaFree(dx);
    cudaFree(dw);
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-4f * (1 + std::abs(expected[i])));
  }
}

}  // namespace
}  // namespace kvs::kernels
