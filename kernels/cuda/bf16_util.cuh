#pragma once
// Device helpers shared by the bf16 kernels: bf16 bits (uint16_t, the type of
// the launcher interfaces and of kernels/cpu/half.h) <-> float, and the launch
// status check. Internal to kernels/cuda.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

__device__ __forceinline__ float bf16_to_float(uint16_t bits) { return __uint_as_float(static_cast<uint32_t>(bits) << 16); }

// Round to nearest even, as kernels/cpu/half.h fp32_to_bf16 (NaN payloads may differ).
__device__ __forceinline__ uint16_t float_to_bf16(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }

// Ok, or the error of the launch just made (cleared).
inline Status launch_status(const char* kernel_name) {
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return Status::invalid(std::string(kernel_name) + ": " + cudaGetErrorString(error));
  return Status::success();
}

}  // namespace kvs::kernels::cuda
