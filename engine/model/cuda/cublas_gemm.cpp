#include "engine/model/cuda/cublas_gemm.h"

#include <string>

#include "engine/errors.h"
#include "engine/model/cuda/cuda_util.h"

namespace kvs::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // cuBLAS's recommendation for Hopper

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw Error(std::string(what) + ": cuBLAS status " + std::to_string(static_cast<int>(status)));
  }
}

}  // namespace

CublasGemm::CublasGemm(cudaStream_t stream) {
  check_cublas(cublasCreate(&handle_), "cublasCreate");
  check_cublas(cublasSetStream(handle_, stream), "cublasSetStream");
  check_cuda(cudaMalloc(&workspace_, kWorkspaceBytes), "cudaMalloc (cuBLAS workspace)");
  check_cublas(cublasSetWorkspace(handle_, workspace_, kWorkspaceBytes), "cublasSetWorkspace");
}

CublasGemm::~CublasGemm() {
  cublasDestroy(handle_);
  cudaFree(workspace_);
}

// NOTE: cuBLAS is column-major. A row-major [m, k] array is a column-major
// [k, m] one, so y[m, n] = x · wᵀ is, column-major, yᵀ[n, m] = w[n, k]-as-
// [k, n]ᵀ · xᵀ: op(A) = Aᵀ with A = w (lda k), B = x (ldb = row stride).
void CublasGemm::linear(const uint16_t* x, int64_t x_row_stride, int64_t m, int64_t k, const uint16_t* w, int64_t n,
                        void* y, bool y_f32) {
  if (m == 0) return;
  const float alpha = 1.0f, beta = 0.0f;
  check_cublas(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                            static_cast<int>(k), &alpha, w, CUDA_R_16BF, static_cast<int>(k), x, CUDA_R_16BF,
                            static_cast<int>(x_row_stride), &beta, y, y_f32 ? CUDA_R_32F : CUDA_R_16BF,
                            static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

}  // namespace kvs::cuda
