#include "kernels/cpu/elementwise_reference.h"

#include "kernels/cpu/half.h"

namespace kvs::kernels {

void add_bias_bf16_reference(uint16_t* x, int64_t x_row_stride, const uint16_t* bias, int64_t num_rows, int64_t dim) {
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) {
      uint16_t& v = x[r * x_row_stride + i];
      v = fp32_to_bf16(bf16_to_fp32(v) + bf16_to_fp32(bias[i]));
    }
  }
}

void gather_rows_bf16_reference(const uint16_t* src, int64_t src_row_stride, const int32_t* rows, int64_t num_out,
                                int64_t dim, uint16_t* dst, int64_t dst_row_stride) {
  for (int64_t j = 0; j < num_out; ++j) {
    for (int64_t i = 0; i < dim; ++i) {
      dst[j * dst_row_stride + i] = rows[j] < 0 ? uint16_t{0} : src[rows[j] * src_row_stride + i];
    }
  }
}

void bf16_to_f32_reference(const uint16_t* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, float* dst,
                           int64_t dst_row_stride) {
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) dst[r * dst_row_stride + i] = bf16_to_fp32(src[r * src_row_stride + i]);
  }
}

void f32_to_bf16_reference(const float* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, uint16_t* dst,
                           int64_t dst_row_stride) {
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) dst[r * dst_row_stride + i] = fp32_to_bf16(src[r * src_row_stride + i]);
  }
}

void add_bf16_reference(const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(bf16_to_fp32(a[i]) + bf16_to_fp32(b[i]));
}

}  // namespace kvs::kernels
