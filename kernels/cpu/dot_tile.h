#pragma once
// Dot products of a tile of quantized weight rows with several tokens'
// quantized activations: the batched (prefill / multi-stream decode) inner
// loop of the CPU matmul. Each weight block is unpacked once and applied to
// several tokens.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels {

// w_rows: `num_rows` consecutive rows of `format` (a 32-element format: Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1 or IQ4_NL; not F32 or a K-quant), each `num_blocks`
// blocks (`row_bytes` apart). IQ4_NL (two accumulators in llama.cpp's
// vec_dot) simply calls dot_quantized() per pair.
// x: `num_tokens` consecutive activation rows of `num_blocks` blocks each,
// from quantize_activations() (q in [-127, 127]: the Q8_0 / Q4_0 VNNI path
// relies on it, as the AVX2 sign trick does).
// Writes out[t * out_stride + r] = dot_quantized(format, row r, token t) for
// every r < num_rows, t < num_tokens.
// Contract: every output is bit-identical to the per-pair dot_quantized() call
// (same block order, same 8-lane accumulator, same fused multiply-adds, same
// horizontal sum); only the sharing of weight loads and unpacking differs.
// Thread-safe: the unpacked rows and tokens live in thread_local buffers.
void dot_quantized_tile(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                        const ActivationBlockQ8* x, int64_t num_tokens, int64_t num_blocks, float* out,
                        int64_t out_stride);

// The same for a K-quant `format` (Q2_K ... Q6_K) with Q8_K activations from
// quantize_activations_q8_k(): out[t * out_stride + r] = dot_quantized_k(format,
// row r, token t) for every r < num_rows, t < num_tokens (a loop over the
// pairs, so bit-identical to the per-pair call by construction).
void dot_quantized_tile_k(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                          const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, float* out,
                          int64_t out_stride);

// The rows and tokens one dot_quantized_tile() call should take for speed
// (the matmul's chunk of rows, split over threads, and its token tile). Both
// tiles unpack each row once per call: 16 rows x 64 tokens with the 512-bit
// tile; 64 x 256 with the AVX2 tile, which also packs each group of 8 tokens
// once per call and so gains from more rows.
struct TileShape {
  int64_t rows, tokens;
};
TileShape dot_tile_shape(WeightFormat format);

}  // namespace kvs::kernels
