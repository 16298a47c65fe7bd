#include "kernels/cpu/hadamard.h"

#include <cmath>

namespace kvs::kernels {

void hadamard_rotate_heads(float* x, int64_t row_stride, int64_t num_rows, int64_t num_heads, int64_t head_dim) {
  const float norm = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t h = 0; h < num_heads; ++h) {
      float* v = x + r * row_stride + h * head_dim;
      // Fast Walsh-Hadamard transform: log2(head_dim) butterfly passes.
      for (int64_t half = 1; half < head_dim; half *= 2) {
        for (int64_t i = 0; i < head_dim; i += 2 * half) {
          for (int64_t j = i; j < i + half; ++j) {
            const float a = v[j], b = v[j + half];
            v[j] = a + b;
            v[j + half] = a - b;
          }
        }
      }
      for (int64_t i = 0; i < head_dim; ++i) v[i] *= norm;
    }
  }
}

}  // namespace kvs::kernels
