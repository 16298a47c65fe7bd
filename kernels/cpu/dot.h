#pragma once
// Dot products of one quantized weight row with one row of quantized
// activations: the inner loop of the CPU matmul.
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels {

// w_row: `num_blocks` blocks of `format` (Q8_0, Q4_0 or Q4_1; not F32).
// x: `num_blocks` activation blocks from quantize_activations().
// Uses AVX2 when the build targets it; otherwise the reference below. The
// Q4_1 and Q8_0 AVX2 paths round exactly as llama.cpp's x86
// ggml_vec_dot_q4_1_q8_1 / ggml_vec_dot_q8_0_q8_0 (8-lane float accumulator,
// its horizontal sum, Q4_1's offsets summed with fused multiply-adds).
float dot_quantized(WeightFormat format, const void* w_row, const ActivationBlockQ8* x,
                    int64_t num_blocks);

// Portable scalar version (the reference the SIMD path is tested against).
float dot_quantized_reference(WeightFormat format, const void* w_row, const ActivationBlockQ8* x,
                              int64_t num_blocks);

}  // namespace kvs::kernels
