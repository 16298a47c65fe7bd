#pragma once
// Small RAII helpers of the CUDA engine: error checks that throw, device and
// pinned host arrays. Host code (compiled by the C++ compiler, linked against
// the CUDA runtime).
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "engine/errors.h"
#include "kernels/status.h"

namespace kvs::cuda {

// Throws kvs::Error("<what>: <CUDA error string>") unless `error` is cudaSuccess.
inline void check_cuda(cudaError_t error, const char* what) {
  if (error != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(error));
}

// Throws kvs::Error for a kernel launcher's failed status.
inline void check_status(const kernels::Status& status, const char* what) {
  if (!status.ok()) throw Error(std::string(what) + ": " + status.message);
}

// Owns `count` elements (uninitialised) of device memory (DeviceArray) or of
// page-locked host memory for asynchronous copies (PinnedArray). Move-only.
template <typename T, bool kPinned>
class CudaArray {
 public:
  CudaArray() = default;
  explicit CudaArray(size_t count) : count_(count) {
    if (count == 0) return;
    void** out = reinterpret_cast<void**>(&data_);
    if (kPinned) {
      check_cuda(cudaMallocHost(out, count * sizeof(T)), "cudaMallocHost");
    } else {
      check_cuda(cudaMalloc(out, count * sizeof(T)), "cudaMalloc");
    }
  }
  ~CudaArray() {
    if (data_ == nullptr) return;
    if (kPinned) {
      cudaFreeHost(data_);
    } else {
      cudaFree(data_);
    }
  }
  CudaArray(CudaArray&& other) noexcept : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  CudaArray& operator=(CudaArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  CudaArray(const CudaArray&) = delete;
  CudaArray& operator=(const CudaArray&) = delete;

  T* get() const { return data_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

template <typename T>
using DeviceArray = CudaArray<T, false>;
template <typename T>
using PinnedArray = CudaArray<T, true>;

}  // namespace kvs::cuda
