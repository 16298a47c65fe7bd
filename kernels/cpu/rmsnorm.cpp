#include "kernels/cpu/rmsnorm.h"

#include <cmath>

namespace kvs::kernels {

void rmsnorm(const float* x, const float* weight, float* out, int64_t num_rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < num_rows; ++r) {
    const float* row = x + r * dim;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum += static_cast<double>(row[i] * row[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(dim));
    const float scale = 1.0f / std::sqrt(mean + eps);
    float* dst = out + r * dim;
    for (int64_t i = 0; i < dim; ++i) dst[i] = (row[i] * scale) * weight[i];
  }
}

void add_inplace(float* residual, const float* delta, int64_t n) {
  for (int64_t i = 0; i < n; ++i) residual[i] += delta[i];
}

}  // namespace kvs::kernels
