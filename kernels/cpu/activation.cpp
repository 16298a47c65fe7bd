#include "kernels/cpu/activation.h"

#include <cmath>

#include "kernels/cpu/llamacpp_arith.h"

namespace kvs::kernels {

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t vector_part = n - n % 16;
  for (int64_t i = 0; i < vector_part; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + exp_llamacpp(0.0f - g)) * up[i];
  }
  for (int64_t i = vector_part; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace kvs::kernels
