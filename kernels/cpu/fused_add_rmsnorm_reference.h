#pragma once
// CPU reference of the GPU fused residual add + RMSNorm
// (kernels/cuda/fused_add_rmsnorm.h): same contract, host pointers; the sum of
// squares is accumulated in double (the GPU sums floats in a tree), so out may
// differ by one bf16 rounding step; the residual is bit-identical.
#include <cstdint>

namespace kvs::kernels {

void fused_add_rmsnorm_reference(uint16_t* residual, const uint16_t* x, const uint16_t* weight, uint16_t* out,
                                 int64_t num_rows, int64_t dim, float eps);

}  // namespace kvs::kernels
