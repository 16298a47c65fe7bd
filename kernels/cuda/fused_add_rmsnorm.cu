#include "kernels/cuda/fused_add_rmsnorm.h"

#include "kernels/cuda/bf16_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 512;

__device__ float block_sum(float value, float* shared) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = value;
  __syncthreads();
  if (threadIdx.x < 32) {
    value = threadIdx.x < kThreads / 32 ? shared[threadIdx.x] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
    if (threadIdx.x == 0) shared[0] = value;
  }
  __syncthreads();
  return shared[0];
}

__global__ void fused_add_rmsnorm_kernel(uint16_t* residual, const uint16_t* x, const uint16_t* weight, uint16_t* out,
                                         int64_t dim, float eps) {
  uint16_t* res_row = residual + blockIdx.x * dim;
  const uint16_t* x_row = x == nullptr ? nullptr : x + blockIdx.x * dim;
  uint16_t* out_row = out + blockIdx.x * dim;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    float r = bf16_to_float(res_row[i]);
    if (x_row != nullptr) {
      const uint16_t rounded = float_to_bf16(r + bf16_to_float(x_row[i]));
      res_row[i] = rounded;
      r = bf16_to_float(rounded);
    }
    sum += r * r;
  }
  __shared__ float partial[kThreads / 32];
  const float scale = rsqrtf(block_sum(sum, partial) / static_cast<float>(dim) + eps);
  // NOTE: each thread reads back only the residual elements it wrote itself.
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    out_row[i] = float_to_bf16(bf16_to_float(res_row[i]) * scale * bf16_to_float(weight[i]));
  }
}

}  // namespace

Status fused_add_rmsnorm(uint16_t* residual, const uint16_t* x, const uint16_t* weight, uint16_t* out,
                         int64_t num_rows, int64_t dim, float eps, cudaStream_t stream) {
  if (residual == nullptr || weight == nullptr || out == nullptr) {
    return Status::invalid("cuda fused_add_rmsnorm: null pointer");
  }
  if (num_rows < 0 || num_rows > INT32_MAX || dim <= 0) return Status::invalid("cuda fused_add_rmsnorm: bad shape");
  if (out == residual) return Status::invalid("cuda fused_add_rmsnorm: out must not alias residual");
  if (num_rows == 0) return Status::success();
  fused_add_rmsnorm_kernel<<<static_cast<unsigned>(num_rows), kThreads, 0, stream>>>(residual, x, weight, out, dim,
                                                                                     eps);
  return launch_status("cuda fused_add_rmsnorm");
}

}  // namespace kvs::kernels::cuda
