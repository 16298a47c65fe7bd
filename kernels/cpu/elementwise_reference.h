#pragma once
// CPU references of the CUDA bf16 element-wise kernels
// (kernels/cuda/elementwise.h): the same contracts and formulas on host
// pointers (fp32 arithmetic, round to nearest even), so the device results
// are expected bit for bit (NaN payloads aside). Single-threaded, stateless.
#include <cstdint>

namespace kvs::kernels {

// x[r, i] = bf16(float(x[r, i]) + float(bias[i])), in place.
void add_bias_bf16_reference(uint16_t* x, int64_t x_row_stride, const uint16_t* bias, int64_t num_rows, int64_t dim);

// dst[j, :dim] = src[rows[j], :dim]; rows[j] < 0 gives zeros.
void gather_rows_bf16_reference(const uint16_t* src, int64_t src_row_stride, const int32_t* rows, int64_t num_out,
                                int64_t dim, uint16_t* dst, int64_t dst_row_stride);

// [num_rows, dim] with row strides; contiguous n elements: num_rows 1, dim n.
void bf16_to_f32_reference(const uint16_t* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, float* dst,
                           int64_t dst_row_stride);
void f32_to_bf16_reference(const float* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, uint16_t* dst,
                           int64_t dst_row_stride);

// out[i] = bf16(float(a[i]) + float(b[i])).
void add_bf16_reference(const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n);

}  // namespace kvs::kernels
