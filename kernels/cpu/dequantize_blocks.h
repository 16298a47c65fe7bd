#pragma once
// Block-by-block dequantization of the five-bit, IQ4_NL and K-quant formats
// (quant_blocks.h, quant_blocks_k.h). Internal to kernels/cpu: callers use
// dequantize_row() in quantize.h.
//
// Contract: values are bit-identical to gguf-py's gguf/quants.py
// dequantize_blocks (float32 numpy arithmetic): the same float operations in
// the same order, each rounded once, never fused (kernels/ builds with
// -ffp-contract=off). E.g. Q2_K: dl = d * scale, ml = dmin * min,
// x = dl * q - ml; Q4_K: (d * scale) * q - dmin * min.
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels::detail {

void dequantize_q5_0(const BlockQ5_0* blocks, float* out, int64_t num_blocks);
void dequantize_q5_1(const BlockQ5_1* blocks, float* out, int64_t num_blocks);
void dequantize_iq4_nl(const BlockIQ4_NL* blocks, float* out, int64_t num_blocks);
void dequantize_q2_k(const BlockQ2_K* blocks, float* out, int64_t num_blocks);
void dequantize_q3_k(const BlockQ3_K* blocks, float* out, int64_t num_blocks);
void dequantize_q4_k(const BlockQ4_K* blocks, float* out, int64_t num_blocks);
void dequantize_q5_k(const BlockQ5_K* blocks, float* out, int64_t num_blocks);
void dequantize_q6_k(const BlockQ6_K* blocks, float* out, int64_t num_blocks);

}  // namespace kvs::kernels::detail
