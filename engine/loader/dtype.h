#pragma once
// Element / block types of weight tensors, and their sizes.
#include <cstddef>
#include <cstdint>
#include <string>

namespace kvs {

// Storage types a weight tensor may have. Quantized types are GGML's block
// formats: a row of `cols` elements is `cols / block_elements` blocks.
//   Q8_0:   32 elems, {fp16 d; int8 q[32]}                     (34 bytes)
//   Q4_0:   32 elems, {fp16 d; uint8 q[16]}                    (18 bytes), x = (q - 8) * d
//   Q4_1:   32 elems, {fp16 d; fp16 m; uint8 q[16]}            (20 bytes), x = q * d + m
//   Q5_0:   32 elems, {fp16 d; uint8 qh[4]; uint8 q[16]}       (22 bytes), x = (q5 - 16) * d
//   Q5_1:   32 elems, {fp16 d; fp16 m; uint8 qh[4]; q[16]}     (24 bytes), x = q5 * d + m
//   IQ4_NL: 32 elems, {fp16 d; uint8 q[16]}                    (18 bytes), x = table[q] * d
//   Q2_K (84 bytes), Q3_K (110), Q4_K (144), Q5_K (176), Q6_K (210): 256-element
//   super-blocks with 16- or 32-element sub-block scales
//   (kernels/cpu/quant_blocks_k.h has the layouts).
// Nibble order (Q4_*, Q5_*, IQ4_NL): element j (< 16) is the low nibble of
// q[j], element j + 16 the high nibble of q[j]; Q5's fifth bit of element j is
// bit j of the little-endian 32-bit qh.
enum class DType : uint8_t { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K };

const char* dtype_name(DType type);
// Elements per block: 1 for plain float types, 32 for Q8_0 ... IQ4_NL, 256
// for the K-quants Q2_K ... Q6_K.
int64_t dtype_block_elements(DType type);
// Bytes per block (per element for plain float types).
size_t dtype_block_bytes(DType type);
// Bytes a row-major tensor of `num_elements` takes. Precondition:
// num_elements is a multiple of dtype_block_elements(type).
size_t dtype_row_bytes(DType type, int64_t num_elements);
bool dtype_is_quantized(DType type);

}  // namespace kvs
