#pragma once
// RMSNorm: out = x / sqrt(mean(x^2) + eps) * weight, row by row.
#include <cstdint>

namespace kvs::kernels {

// x, out: [num_rows, dim] (may alias); weight: [dim]. The mean of squares is
// accumulated in double.
void rmsnorm(const float* x, const float* weight, float* out, int64_t num_rows, int64_t dim, float eps);

// residual += delta, elementwise over n floats.
void add_inplace(float* residual, const float* delta, int64_t n);

}  // namespace kvs::kernels
