#include "kernels/cuda/fp8_convert.h"

#include "kernels/cuda/bf16_util.cuh"
#include "kernels/cuda/fp8_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void from_f32_kernel(const float* x, uint8_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    out[i] = float_to_fp8_e4m3(x[i]);
  }
}

// Decodes pairs (both lanes of the x2 conversion the attention kernels use).
__global__ void to_f32_kernel(const uint8_t* codes, float* out, int64_t n) {
  const int64_t num_pairs = (n + 1) / 2;
  for (int64_t j = blockIdx.x * int64_t{kThreads} + threadIdx.x; j < num_pairs; j += int64_t{gridDim.x} * kThreads) {
    const int64_t i = 2 * j;
    const uint16_t high = i + 1 < n ? codes[i + 1] : 0;
    const float2 f = fp8x2_e4m3_to_float2(static_cast<uint16_t>(codes[i] | high << 8));
    out[i] = f.x;
    if (i + 1 < n) out[i + 1] = f.y;
  }
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 4096 ? blocks : 4096);
}

}  // namespace

Status fp8_e4m3_from_f32(const float* x, uint8_t* out, int64_t n, cudaStream_t stream) {
  if (n < 0 || (n > 0 && (x == nullptr || out == nullptr))) return Status::invalid("cuda fp8_e4m3_from_f32: bad arguments");
  if (n == 0) return Status::success();
  from_f32_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, out, n);
  return launch_status("cuda fp8_e4m3_from_f32");
}

Status fp8_e4m3_to_f32(const uint8_t* codes, float* out, int64_t n, cudaStream_t stream) {
  if (n < 0 || (n > 0 && (codes == nullptr || out == nullptr))) return Status::invalid("cuda fp8_e4m3_to_f32: bad arguments");
  if (n == 0) return Status::success();
  to_f32_kernel<<<grid_for(n), kThreads, 0, stream>>>(codes, out, n);
  return launch_status("cuda fp8_e4m3_to_f32");
}

}  // namespace kvs::kernels::cuda
