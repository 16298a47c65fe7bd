#pragma once
// Small bf16 element-wise kernels of the CUDA forward pass: QKV bias add,
// row gather (the rows that want logits), bf16 <-> fp32 conversion (the fp32
// decode attention kernels' q and output), and a plain residual add. bf16 is
// uint16_t bits (kernels/cpu/half.h); arithmetic in fp32, rounding to nearest
// even, so every result is bit-identical to the CPU reference
// (kernels/cpu/elementwise_reference.h) except NaN payloads. All pointers are
// device pointers; every launcher checks its arguments, runs asynchronously on
// `stream`, allocates nothing and never synchronises (CUDA-graph capturable).
// Strides and sizes are in elements. Grid-stride loops: any size.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

// x[r, i] = bf16(float(x[r, i]) + float(bias[i])) for r < num_rows, i < dim, in
// place. x: [num_rows, x_row_stride] (stride >= dim); bias: [dim].
Status add_bias_bf16(uint16_t* x, int64_t x_row_stride, const uint16_t* bias, int64_t num_rows, int64_t dim,
                     cudaStream_t stream);

// dst[j, :dim] = src[rows[j], :dim] for j < num_out, copied bit for bit;
// rows[j] < 0 gives a row of zeros. rows: int32 [num_out], each < the number
// of rows of src (not checked: the device cannot know it). dst must not
// overlap src.
Status gather_rows_bf16(const uint16_t* src, int64_t src_row_stride, const int32_t* rows, int64_t num_out, int64_t dim,
                        uint16_t* dst, int64_t dst_row_stride, cudaStream_t stream);

// dst[i] = float(src[i]) (exact), i < n; contiguous. dst must not overlap src.
Status bf16_to_f32(const uint16_t* src, int64_t n, float* dst, cudaStream_t stream);
// dst[i] = bf16(src[i]) (round to nearest even), i < n; contiguous.
Status f32_to_bf16(const float* src, int64_t n, uint16_t* dst, cudaStream_t stream);
// The same over [num_rows, dim] with row strides (>= dim).
Status bf16_to_f32_rows(const uint16_t* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, float* dst,
                        int64_t dst_row_stride, cudaStream_t stream);
Status f32_to_bf16_rows(const float* src, int64_t src_row_stride, int64_t num_rows, int64_t dim, uint16_t* dst,
                        int64_t dst_row_stride, cudaStream_t stream);

// out[i] = bf16(float(a[i]) + float(b[i])), i < n; contiguous. out may be a
// or b (element-wise in place), no other overlap.
Status add_bf16(const uint16_t* a, const uint16_t* b, uint16_t* out, int64_t n, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
