#pragma once
// Helpers of the bf16 kernel GPU tests: a device allocation, random bf16
// data, and bf16 comparison.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/half.h"

namespace kvs::test::gpu {

// Owns one device allocation (copied from a host vector, or zero-filled).
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (cudaMalloc(&ptr_, bytes == 0 ? 16 : bytes) != cudaSuccess) ptr_ = nullptr;
    if (ptr_ != nullptr) cudaMemset(ptr_, 0, bytes == 0 ? 16 : bytes);
  }
  template <typename T>
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size() * sizeof(T)) {
    if (ptr_ != nullptr && bytes_ > 0) cudaMemcpy(ptr_, host.data(), bytes_, cudaMemcpyHostToDevice);
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  template <typename T>
  std::vector<T> download(size_t count) const {
    std::vector<T> host(count);
    cudaMemcpy(host.data(), ptr_, count * sizeof(T), cudaMemcpyDeviceToHost);
    return host;
  }
  bool ok() const { return ptr_ != nullptr; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

inline std::vector<uint16_t> random_bf16(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<uint16_t> out(n);
  for (uint16_t& v : out) v = kernels::fp32_to_bf16(dist(rng));
  return out;
}

// |a - b| within `ulps` bf16 steps of the larger magnitude (plus a tiny
// absolute floor for values near 0).
inline bool bf16_close(uint16_t a, uint16_t b, int ulps) {
  if (a == b) return true;
  const float x = kernels::bf16_to_fp32(a), y = kernels::bf16_to_fp32(b);
  const float step = std::ldexp(1.0f, -7) * std::max(std::abs(x), std::abs(y));  // 2^-7: one bf16 ulp (upper bound)
  return std::abs(x - y) <= ulps * step + 1e-30f;
}

inline void sync_ok() { ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess); }

}  // namespace kvs::test::gpu
