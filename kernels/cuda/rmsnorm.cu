#include "kernels/cuda/rmsnorm.h"

#include <string>

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void rmsnorm_kernel(const float* x, const float* weight, float* out, int64_t dim, float eps) {
  const float* row = x + blockIdx.x * dim;
  float* dst = out + blockIdx.x * dim;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) sum += row[i] * row[i];
  __shared__ float partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    sum = threadIdx.x < kThreads / 32 ? partial[threadIdx.x] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (threadIdx.x == 0) partial[0] = sum;
  }
  __syncthreads();
  const float scale = rsqrtf(partial[0] / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = row[i] * scale * weight[i];
}

}  // namespace

Status rmsnorm(const float* x, const float* weight, float* out, int64_t num_rows, int64_t dim, float eps,
               cudaStream_t stream) {
  if (x == nullptr || weight == nullptr || out == nullptr) return Status::invalid("cuda rmsnorm: null pointer");
  if (num_rows < 0 || dim <= 0) return Status::invalid("cuda rmsnorm: bad shape");
  if (num_rows == 0) return Status::success();
  rmsnorm_kernel<<<static_cast<unsigned>(num_rows), kThreads, 0, stream>>>(x, weight, out, dim, eps);
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return Status::invalid(std::string("cuda rmsnorm: ") + cudaGetErrorString(error));
  return Status::success();
}

}  // namespace kvs::kernels::cuda
