#pragma once
// RMSNorm on the GPU (the first CUDA kernel; the CUDA backend builds on it).
// CPU reference: kernels/cpu/rmsnorm.h.
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

// x, out: device pointers, [num_rows, dim] float (may alias); weight: [dim].
// One block per row; asynchronous on `stream`.
Status rmsnorm(const float* x, const float* weight, float* out, int64_t num_rows, int64_t dim, float eps,
               cudaStream_t stream);

}  // namespace kvs::kernels::cuda
