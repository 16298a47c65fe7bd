#pragma once
// RMSNorm: out = x / sqrt(mean(x^2) + eps) * weight, row by row.
#include <cstdint>

namespace kvs::kernels {

// x, out: [num_rows, dim] (may alias); weight: [dim]. Rounds as llama.cpp's
// CPU backend: each square is a float product, the squares are summed in
// double, scale = 1 / sqrtf(float(sum / dim) + eps), out = (x * scale) * weight.
void rmsnorm(const float* x, const float* weight, float* out, int64_t num_rows, int64_t dim, float eps);

// residual += delta, elementwise over n floats.
void add_inplace(float* residual, const float* delta, int64_t n);

}  // namespace kvs::kernels
