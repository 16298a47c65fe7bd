#pragma once
// Dot products of one quantized weight row with one row of quantized
// activations: the inner loop of the CPU matmul.
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels {

// w_row: `num_blocks` blocks of `format`: one of the 32-element formats Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL (F32 and the K-quants, see dot_k.h, return
// 0). x: `num_blocks` activation blocks from quantize_activations().
// Uses AVX2 when the build targets it; otherwise the reference below. The
// Q4_1 and Q8_0 AVX2 paths round exactly as llama.cpp's x86
// ggml_vec_dot_q4_1_q8_1 / ggml_vec_dot_q8_0_q8_0 (8-lane float accumulator,
// its horizontal sum, Q4_1's offsets summed with fused multiply-adds); Q5_0,
// Q5_1 and IQ4_NL as ggml_vec_dot_q5_0_q8_0 / _q5_1_q8_1 / _iq4_nl_q8_0, and
// for those three the reference is bit-identical too (dot_q5_iq4.h).
// NOTE: llama.cpp repacks Q4_0 and IQ4_NL weights whose row count is a
// multiple of 8 (ggml-cpu/repack.cpp, 8x8 interleave on AVX2) and multiplies
// those with GEMV/GEMM kernels of their own rounding; this is the vec_dot
// arithmetic.
float dot_quantized(WeightFormat format, const void* w_row, const ActivationBlockQ8* x,
                    int64_t num_blocks);

// Portable scalar version (the reference the SIMD path is tested against).
float dot_quantized_reference(WeightFormat format, const void* w_row, const ActivationBlockQ8* x,
                              int64_t num_blocks);

}  // namespace kvs::kernels
