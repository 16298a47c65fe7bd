#pragma once
// CPU reference of the GPU SwiGLU activation (kernels/cuda/silu_mul.h): same
// contract and formula, host pointers, std::exp (the GPU's expf may differ in
// the last float bit, so out may differ by one bf16 rounding step).
#include <cstdint>

namespace kvs::kernels {

void silu_mul_reference(const uint16_t* gate, int64_t gate_row_stride, const uint16_t* up, int64_t up_row_stride,
                        uint16_t* out, int64_t out_row_stride, int64_t num_rows, int64_t dim);

}  // namespace kvs::kernels
