#pragma once
// Cache rows of a quantized KV cache (KvDType::Q8_0 / Q4_0): llama.cpp's
// block_q8_0 / block_q4_0 layouts (kernels/cpu/quant_blocks.h), one half
// scale per 32 values, blocks of consecutive values in row order (a head of
// head_dim values, head_dim % 32 == 0, is head_dim / 32 whole blocks).
#include <cstdint>

#include "kernels/kv_dtype.h"

namespace kvs::kernels {

// Quantizes `n` floats (a multiple of 32) into kv_row_bytes(dtype, n) bytes
// at `out`, with ggml's reference rounding (quantize_row_q8_0_ref /
// quantize_row_q4_0_ref). dtype: Q8_0 or Q4_0 (anything else: no-op).
void quantize_kv_row(KvDType dtype, const float* x, uint8_t* out, int64_t n);

// The values those bytes stand for (ggml's dequantize_row_q8_0 / _q4_0):
// n floats into `out`. For references and tests; the attention kernels read
// the blocks in place.
void dequantize_kv_row(KvDType dtype, const uint8_t* row, float* out, int64_t n);

}  // namespace kvs::kernels
