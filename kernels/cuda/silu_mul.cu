#include "kernels/cuda/silu_mul.h"

#include "kernels/cuda/bf16_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void silu_mul_kernel(const uint16_t* gate, int64_t gate_stride, const uint16_t* up, int64_t up_stride,
                                uint16_t* out, int64_t out_stride, int64_t dim) {
  const int64_t row = blockIdx.y;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < dim;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const float g = bf16_to_float(gate[row * gate_stride + i]);
    const float u = bf16_to_float(up[row * up_stride + i]);
    out[row * out_stride + i] = float_to_bf16(g / (1.0f + expf(-g)) * u);
  }
}

}  // namespace

Status silu_mul(const uint16_t* gate, int64_t gate_row_stride, const uint16_t* up, int64_t up_row_stride,
                uint16_t* out, int64_t out_row_stride, int64_t num_rows, int64_t dim, cudaStream_t stream) {
  if (gate == nullptr || up == nullptr || out == nullptr) return Status::invalid("cuda silu_mul: null pointer");
  if (num_rows < 0 || num_rows > 65535 || dim <= 0) {
    return Status::invalid("cuda silu_mul: bad shape (num_rows must be <= 65535)");
  }
  if (gate_row_stride < dim || up_row_stride < dim || out_row_stride < dim) {
    return Status::invalid("cuda silu_mul: row stride below dim");
  }
  if (num_rows == 0) return Status::success();
  const int64_t blocks_x = (dim + kThreads - 1) / kThreads;
  const dim3 grid(static_cast<unsigned>(blocks_x < 1024 ? blocks_x : 1024), static_cast<unsigned>(num_rows));
  silu_mul_kernel<<<grid, kThreads, 0, stream>>>(gate, gate_row_stride, up, up_row_stride, out, out_row_stride, dim);
  return launch_status("cuda silu_mul");
}

}  // namespace kvs::kernels::cuda
