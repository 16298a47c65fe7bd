#include "kernels/cpu/fused_add_rmsnorm_reference.h"

#include <cmath>

#include "kernels/cpu/half.h"

namespace kvs::kernels {

void fused_add_rmsnorm_reference(uint16_t* residual, const uint16_t* x, const uint16_t* weight, uint16_t* out,
                                 int64_t num_rows, int64_t dim, float eps) {
  for (int64_t row = 0; row < num_rows; ++row) {
    uint16_t* r = residual + row * dim;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      if (x != nullptr) r[i] = fp32_to_bf16(bf16_to_fp32(r[i]) + bf16_to_fp32(x[row * dim + i]));
      const float value = bf16_to_fp32(r[i]);
      sum += static_cast<double>(value) * value;
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(dim)) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      out[row * dim + i] = fp32_to_bf16(bf16_to_fp32(r[i]) * scale * bf16_to_fp32(weight[i]));
    }
  }
}

}  // namespace kvs::kernels
