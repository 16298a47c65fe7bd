#pragma once
// RMSNorm fused with the residual add, bf16 in and out, fp32 math. CPU
// reference: kernels/cpu/fused_add_rmsnorm_reference.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

// Per row (all bf16 bits, device pointers, [num_rows, dim]; weight [dim]):
//   r = bf16(float(residual) + float(x))      (x null: r = residual, no add)
//   residual = r                              (in place)
//   out = bf16(float(r) * rsqrt(mean(float(r)^2) + eps) * float(weight))
// The statistics use the rounded r, so re-normalising the stored residual
// gives the same out. out may alias x, not residual. One CTA per row;
// asynchronous on `stream`.
Status fused_add_rmsnorm(uint16_t* residual, const uint16_t* x, const uint16_t* weight, uint16_t* out,
                         int64_t num_rows, int64_t dim, float eps, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
