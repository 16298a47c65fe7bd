#pragma once
// Row conversions between float and the quantized block formats.
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels {

// Dequantizes `n` elements (a multiple of format_block_elements(format):
// 32, or 256 for the K-quants) of one row stored in `format` into `out` (n
// floats). F32 is a copy. Values are those of gguf-py's dequantize (and ggml's
// reference dequantize_row_* for Q8_0 / Q4_0 / Q4_1); see dequantize_blocks.h.
void dequantize_row(WeightFormat format, const void* row, float* out, int64_t n);

// Quantizes `n` activations (a multiple of 32) into n / 32 blocks, as
// llama.cpp's x86 quantize_row_q8_0 / quantize_row_q8_1 do (the activations
// of Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL weights).
void quantize_activations(const float* x, ActivationBlockQ8* out, int64_t n);
// The same, portable and one element at a time: the reference the SIMD form
// (AVX2 and AVX-512 builds) must equal bit for bit (inputs without NaN).
void quantize_activations_reference(const float* x, ActivationBlockQ8* out, int64_t n);

// Quantizes `n` activations (a multiple of 256) into n / 256 Q8_K blocks
// (the activations of the K-quant weights), bit for bit as ggml's
// quantize_row_q8_K_ref, which llama.cpp's x86 build uses: iscale = -127 /
// (the element of largest magnitude, the first one on ties), q =
// round-half-even(iscale * x) capped at 127, d = 1 / iscale, bsums exact.
void quantize_activations_q8_k(const float* x, ActivationBlockQ8K* out, int64_t n);
// The same, portable and one element at a time: the reference the SIMD form
// (AVX2 builds) must equal bit for bit.
void quantize_activations_q8_k_reference(const float* x, ActivationBlockQ8K* out, int64_t n);

// Quantizes `n` floats (a multiple of 32) into GGML Q8_0 / Q4_0 / Q4_1 blocks
// (the reference rounding of ggml's quantize_row_*_ref). For tests and tools.
void quantize_row_q8_0(const float* x, BlockQ8_0* out, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* out, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* out, int64_t n);

}  // namespace kvs::kernels
