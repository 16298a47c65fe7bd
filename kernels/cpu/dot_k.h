#pragma once
// Dot products of one K-quant weight row (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) with
// one row of Q8_K activations: the inner loop of the CPU matmul for those
// formats.
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels {

// w_row: `num_blocks` 256-element blocks of `format` (a K-quant; other
// formats return 0). x: `num_blocks` blocks from quantize_activations_q8_k().
// Uses AVX2 when the build targets it, otherwise the reference below; the two
// are bit-identical. Both reproduce llama.cpp's x86 kernels (AVX2 code, as its
// GCC AVX-512 build runs it) bit for bit:
//   Q2_K: ggml_vec_dot_q2_K_q8_K  8-lane accumulator; per block fma(-d_x * dmin, mins·bsums, acc),
//                                 then fma(d_x * d, scaled sums, acc); hsum_float_8.
//   Q3_K: ggml_vec_dot_q3_K_q8_K  fma(d_x * d, scaled sums, acc); hsum_float_8.
//   Q4_K: ggml_vec_dot_q4_K_q8_K  as Q3_K, plus a 4-lane accumulator of
//                                 fma(-d_x * dmin, mins·bsums, .), reduced (0+2)+(1+3) and
//                                 added after hsum_float_8.
//   Q5_K: ggml_vec_dot_q5_K_q8_K  as Q3_K, plus a scalar fma(-d_x * dmin, mins·bsums, .)
//                                 added after hsum_float_8.
//   Q6_K: ggml_vec_dot_q6_K_q8_K  as Q3_K, with the codes' -32 offset taken
//                                 per lane from the bsums (32 * (bsums[2l] * scale[2l] +
//                                 bsums[2l+1] * scale[2l+1]), the form of llama.cpp builds
//                                 from 2025 on, llama-cpp-python 0.3.36 included).
// Lane l of "scaled sums" is, over the 8 chunks of 32 elements c, the chunk's
// sub-block scale times the products of elements 32c + 4l .. 32c + 4l + 3
// (exact integers).
// NOTE: llama.cpp's CPU backend repacks Q4_K weights (any x86 with AVX2) and
// Q2_K weights (AVX-512) whose row count is a multiple of 8 into 8-row
// interleaved blocks (ggml-cpu/repack.cpp, q4_K_8x8 / q2_K_8x8) and multiplies
// them with GEMV/GEMM kernels that accumulate in another order; batches of 8+
// tokens of K-quant weights may also take its tiled K-quant path. Those are not
// reproduced: this is the plain vec_dot arithmetic (see the report in
// kernels/cpu/dot_k.cpp).
float dot_quantized_k(WeightFormat format, const void* w_row, const ActivationBlockQ8K* x, int64_t num_blocks);

// Portable scalar version (the reference the SIMD path is tested against).
float dot_quantized_k_reference(WeightFormat format, const void* w_row, const ActivationBlockQ8K* x,
                                int64_t num_blocks);

}  // namespace kvs::kernels
