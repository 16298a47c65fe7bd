#pragma once
// One token's activations against many rows (the decode GEMV) for the
// 32-element formats, two rows per 512-bit register: row r in the low half,
// row r + 1 in the high half, each half the 8 int32 / float lanes of
// llama.cpp's vec_dot for that row (dot.h), so every output equals
// dot_quantized(format, row, x, num_blocks) bit for bit.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/weight_format.h"

namespace kvs::kernels {

// out[r] = dot_quantized(format, w_rows + r * row_bytes, x, num_blocks) for r
// in [0, num_rows). `readable_rows` (>= num_rows) rows may be read from
// w_rows: the ones past num_rows are only prefetched. Returns false, writing
// nothing, where this build (it needs AVX-512 BW + VNNI) or this format
// (Q5_0, Q4_0, Q8_0, Q4_1 so far) has no such path. Thread-safe; `x` holds
// num_blocks blocks.
bool dot_quantized_rows_512(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                            int64_t readable_rows, const ActivationBlockQ8* x, int64_t num_blocks, float* out);

// The same for 1..kRows512MaxTokens tokens at once (a decode step of a few
// streams): x holds num_tokens rows of num_blocks blocks, and out[t *
// out_stride + r] = dot_quantized(format, row r, token t) bit for bit. Each
// pair of weight blocks is read once for all the tokens. Returns false,
// writing nothing, where dot_quantized_rows_512 would, or for another token count.
inline constexpr int64_t kRows512MaxTokens = 7;
bool dot_quantized_rows_512_tokens(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                   int64_t readable_rows, const ActivationBlockQ8* x, int64_t num_tokens,
                                   int64_t num_blocks, float* out, int64_t out_stride);

// Whether dot_quantized_rows_512 has a path for `format` in this build.
bool rows_512_supported(WeightFormat format);

}  // namespace kvs::kernels
