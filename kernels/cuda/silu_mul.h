#pragma once
// SwiGLU activation on the GPU: act = silu(gate) * up, bf16 in and out, fp32
// math. CPU reference: kernels/cpu/silu_mul_reference.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

// out[r, i] = bf16(silu(g) * u), g = float(gate[r, i]), u = float(up[r, i]),
// silu(g) = g / (1 + expf(-g)), for r < num_rows, i < dim. Rows have their own
// strides (elements), so gate and up may be the two halves of one fused
// gate_up GEMM output ([num_rows, 2 * dim]: gate = p, up = p + dim, strides
// 2 * dim). out may alias gate or up only with the same stride. Device
// pointers; asynchronous on `stream`.
Status silu_mul(const uint16_t* gate, int64_t gate_row_stride, const uint16_t* up, int64_t up_row_stride,
                uint16_t* out, int64_t out_row_stride, int64_t num_rows, int64_t dim, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
