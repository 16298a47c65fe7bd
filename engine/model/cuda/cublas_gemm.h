#pragma once
// The CUDA engine's linear layers on cuBLAS: bf16 weights and activations,
// fp32 accumulation (CUBLAS_COMPUTE_32F), bf16 or fp32 output.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace kvs::cuda {

// Ownership: owns a cuBLAS handle bound to `stream` and its workspace (set
// explicitly, so calls can be captured into CUDA graphs without cuBLAS
// allocating). Thread-safety: one thread at a time (the engine thread).
class CublasGemm {
 public:
  explicit CublasGemm(cudaStream_t stream);
  ~CublasGemm();
  CublasGemm(const CublasGemm&) = delete;
  CublasGemm& operator=(const CublasGemm&) = delete;

  // Row-major y[m, n] = x[m, k] · w[n, k]ᵀ (a linear layer: w is the weight
  // as stored, [out, in]). x rows are x_row_stride elements apart (>= k); y is
  // dense, bf16 or (y_f32) fp32. Device pointers; asynchronous on the stream.
  // m = 0 does nothing. Throws kvs::Error on a cuBLAS error.
  void linear(const uint16_t* x, int64_t x_row_stride, int64_t m, int64_t k, const uint16_t* w, int64_t n, void* y,
              bool y_f32 = false);

 private:
  cublasHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
};

}  // namespace kvs::cuda
