#include "kernels/cuda/elementwise.h"

#include "kernels/cuda/bf16_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocksX = 4096;
constexpr int64_t kMaxBlocksY = 65535;

// A 2-D grid over [num_rows, dim]: x over columns, y over rows, both
// grid-strided.
dim3 grid_for(int64_t num_rows, int64_t dim) {
  const int64_t x = (dim + kThreads - 1) / kThreads;
  return dim3(static_cast<unsigned>(x < kMaxBlocksX ? x : kMaxBlocksX),
              static_cast<unsigned>(num_rows < kMaxBlocksY ? num_rows : kMaxBlocksY));
}

// Calls f(r, i) for every r < num_rows, i < dim: y over rows, x over
// columns, both grid-strided.
template <typename F>
__device__ __forceinline__ void for_each_element(int64_t num_rows, int64_t dim, F f) {
  for (int64_t r = blockIdx.y; r < num_rows; r += gridDim.y) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < dim;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
      f(r, i);
    }
  }
}

__global__ void add_bias_kernel(uint16_t* x, int64_t stride, const uint16_t* bias, int64_t num_rows, int64_t dim) {
  for_each_element(num_rows, dim, [&](int64_t r, int64_t i) {
    uint16_t& v = x[r * stride + i];
    v = float_to_bf16(bf16_to_float(v) + bf16_to_float(bias[i]));
  });
}

__global__ void gather_rows_kernel(const uint16_t* src, int64_t src_stride, const int32_t* rows, int64_t num_out,
                                   int64_t dim, uint16_t* dst, int64_t dst_stride) {
  for_each_element(num_out, dim, [&](int64_t r, int64_t i) {
    const int32_t row = rows[r];
    dst[r * dst_stride + i] = row < 0 ? uint16_t{0} : src[row * src_stride + i];
  });
}

__global__ void bf16_to_f32_kernel(const uint16_t* src, int64_t src_stride, int64_t num_rows, int64_t dim, float* dst,
                                   int64_t dst_stride) {
  for_each_element(num_rows, dim,
                   [&](int64_t r, int64_t i) { dst[r * dst_stride + i] = bf16_to_float(src[r * src_stride + i]); });
}

__global__ void f32_to_bf16_kernel(const float* src, int64_t src_stride, int64_t num_rows, int64_t dim, uint16_t* dst,
                                   int64_t dst_stride) {
  for_each_element(num_rows, dim,
                   [&](int64_t r, int64_t i) { dst[r * dst_stride + i] = float_to_bf16(src[r * src_stride + i]); });
}

__global__ void add_kernel(const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n) {
  for_each_element(1, n, [&](int64_t, int64_t i) { out[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i])); });
}

Status check_rows(const char* name, const void* src, int64_t src_stride, int64_t num_rows, int64_t dim, const void* dst,
                  int64_t dst_stride) {
  if (src == nullptr || dst == nullptr) return Status::invalid(std::string(name) + ": null pointer");
  if (num_rows < 0 || dim < 0) return Status::invalid(std::string(name) + ": bad shape");
  if (num_rows > 1 && (src_stride < dim || dst_stride < dim)) {
    return Status::invalid(std::string(name) + ": row stride below dim");
  }
  return Status::success();
}

}  // namespace

Status add_bias_bf16(uint16_t* x, int64_t x_row_stride, const uint16_t* bias, int64_t num_rows, int64_t dim,
                     cudaStream_t stream) {
  if (bias == nullptr) return Status::invalid("cuda add_bias_bf16: null pointer");
  if (Status s = check_rows("cuda add_bias_bf16", x, x_row_stride, num_rows, dim, x, x_row_stride); !s.ok()) return s;
  if (num_rows == 0 || dim == 0) return Status::success();
  add_bias_kernel<<<grid_for(num_rows, dim), kThreads, 0, stream>>>(x, x_row_stride, bias, num_rows, dim);
  return launch_status("cuda add_bias_bf16");
}

Status gather_rows_bf16(const uint16_t* src, int64_t src_row_stride, const int32_t* rows, int64_t num_out, int64_t dim,
                        uint16_t* dst, int64_t dst_row_stride, cudaStream_t stream) {
  if (rows == nullptr) return Status::invalid("cuda gather_rows_bf16: null pointer");
  if (Status s = check_rows("cuda gather_rows_bf16", src, src_row_stride, num_out, dim, dst, dst_row_stride); !s.ok()) {
    return s;
  }
  if (src_row_stride < dim) return Status::invalid("cuda gather_rows_bf16: row stride below dim");
  if (num_out == 0 || dim == 0) return Status::success();
  gather_rows_kernel<<<grid_for(num_out, dim), kThreads, 0, stream>>>(src, src_row_stride, rows, num_out, dim, dst,
                                                                       dst_row_stride);
  return launch_status("cuda gather_rows_bf16");
}

Status bf16_to_f32_rows(const uint16_t* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, float* dst,
                        int64_t dst_row_stride, cudaStream_t stream) {
  if (Status s = check_rows("cuda bf16_to_f32", src, src_row_stride, num_rows, dim, dst, dst_row_stride); !s.ok()) {
    return s;
  }
  if (num_rows == 0 || dim == 0) return Status::success();
  bf16_to_f32_kernel<<<grid_for(num_rows, dim), kThreads, 0, stream>>>(src, src_row_stride, num_rows, dim, dst,
                                                                       dst_row_stride);
  return launch_status("cuda bf16_to_f32");
}

Status f32_to_bf16_rows(const float* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, uint16_t* dst,
                        int64_t dst_row_stride, cudaStream_t stream) {
  if (Status s = check_rows("cuda f32_to_bf16", src, src_row_stride, num_rows, dim, dst, dst_row_stride); !s.ok()) {
    return s;
  }
  if (num_rows == 0 || dim == 0) return Status::success();
  f32_to_bf16_kernel<<<grid_for(num_rows, dim), kThreads, 0, stream>>>(src, src_row_stride, num_rows, dim, dst,
                                                                       dst_row_stride);
  return launch_status("cuda f32_to_bf16");
}

Status bf16_to_f32(const uint16_t* src, int64_t n, float* dst, cudaStream_t stream) {
  return bf16_to_f32_rows(src, n, 1, n, dst, n, stream);
}

Status f32_to_bf16(const float* src, int64_t n, uint16_t* dst, cudaStream_t stream) {
  return f32_to_bf16_rows(src, n, 1, n, dst, n, stream);
}

Status add_bf16(const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n, cudaStream_t stream) {
  if (a == nullptr || b == nullptr || out == nullptr) return Status::invalid("cuda add_bf16: null pointer");
  if (n < 0) return Status::invalid("cuda add_bf16: bad shape");
  if (n == 0) return Status::success();
  add_kernel<<<grid_for(1, n), kThreads, 0, stream>>>(a, b, out, n);
  return launch_status("cuda add_bf16");
}

}  // namespace kvs::kernels::cuda
