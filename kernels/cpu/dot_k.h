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
// NOTE: this is llama.cpp's vec_dot arithmetic: what it uses for K-quant
// tensors it does not repack, in matmuls of fewer than 8 tokens. For repacked
// tensors (Q4_K on AVX2, Q2_K on AVX-512, rows a multiple of 8) see
// dot_repack.h; for 8+ tokens see dot_k_tiled.h; matmul() picks as llama.cpp
// does.
float dot_quantized_k(WeightFormat format, const void* w_row, const ActivationBlockQ8K* x, int64_t num_blocks);

// Portable scalar version (the reference the SIMD path is tested against).
float dot_quantized_k_reference(WeightFormat format, const void* w_row, const ActivationBlockQ8K* x,
                                int64_t num_blocks);

}  // namespace kvs::kernels
