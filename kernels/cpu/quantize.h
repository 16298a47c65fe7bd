#pragma once
// Row conversions between float and the quantized block formats.
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels {

// Dequantizes `n` elements (a multiple of 32 for quantized formats) of one
// row stored in `format` into `out` (n floats). F32 is a copy.
void dequantize_row(WeightFormat format, const void* row, float* out, int64_t n);

// Quantizes `n` activations (a multiple of 32) into n / 32 blocks.
void quantize_activations(const float* x, ActivationBlockQ8* out, int64_t n);

// Quantizes `n` floats (a multiple of 32) into GGML Q8_0 / Q4_0 / Q4_1 blocks
// (the reference rounding of ggml's quantize_row_*_ref). For tests and tools.
void quantize_row_q8_0(const float* x, BlockQ8_0* out, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* out, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* out, int64_t n);

}  // namespace kvs::kernels
