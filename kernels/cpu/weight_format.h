#pragma once
// Sizes and activation kinds of the CPU weight formats (quant_blocks.h).
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels {

// How a format's dot products take their activations: F32 rows go to BLAS;
// the 32-element formats take ActivationBlockQ8 (GGML's q8_0 / q8_1 roles);
// the K-quants take ActivationBlockQ8K (GGML's q8_K).
enum class ActivationKind : uint8_t { kFloat, kQ8, kQ8K };

// Elements per block: 1 for F32, 32 for Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 /
// IQ4_NL, 256 for Q2_K ... Q6_K.
int64_t format_block_elements(WeightFormat format);
// Bytes per block (4 for F32's one-element "block").
size_t format_block_bytes(WeightFormat format);
// Bytes of a row of `num_in` elements. Precondition: num_in is a multiple of
// format_block_elements(format).
size_t format_row_bytes(WeightFormat format, int64_t num_in);
ActivationKind format_activation_kind(WeightFormat format);
// "F32", "Q8_0", ... (GGML's names).
const char* format_name(WeightFormat format);

}  // namespace kvs::kernels
