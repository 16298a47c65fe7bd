#include "kernels/cpu/silu_mul_reference.h"

#include <cmath>

#include "kernels/cpu/half.h"

namespace kvs::kernels {

void silu_mul_reference(const uint16_t* gate, int64_t gate_row_stride, const uint16_t* up, int64_t up_row_stride,
                        uint16_t* out, int64_t out_row_stride, int64_t num_rows, int64_t dim) {
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) {
      const float g = bf16_to_fp32(gate[r * gate_row_stride + i]);
      const float u = bf16_to_fp32(up[r * up_row_stride + i]);
      out[r * out_row_stride + i] = fp32_to_bf16(g / (1.0f + std::exp(-g)) * u);
    }
  }
}

}  // namespace kvs::kernels
