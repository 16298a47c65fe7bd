#pragma once
// Conversion of stored weights (any DType) to float32. Shared by the loader's
// exporter and the compute engine's reference paths.
#include <cstdint>
#include <vector>

#include "engine/loader/dtype.h"
#include "engine/loader/weight_tensor.h"

namespace kvs {

// IEEE half / bfloat16 bit patterns to float. Exact (every half and bfloat16
// value is representable as a float); subnormals, infinities and NaNs kept.
float fp16_to_float(uint16_t bits);
float bf16_to_float(uint16_t bits);

// Converts `num_elements` consecutive elements stored as `type` at `src` to
// float32 at `out`.
//   src: dtype_row_bytes(type, num_elements) bytes, little-endian, no alignment
//        requirement.
//   out: num_elements floats; must not overlap src.
// Precondition: num_elements >= 0 and a multiple of dtype_block_elements(type)
// (throws InvalidArgument otherwise).
// Values are exactly those of ggml's reference dequantize_row_* (and gguf-py):
//   Q8_0: q * d;  Q4_0: (q - 8) * d;  Q4_1: q * d + m  (d, m: fp16 -> float).
//   Q5_0 / Q5_1 / IQ4_NL / Q2_K ... Q6_K: gguf-py's gguf/quants.py float32
//   arithmetic, operation for operation (kernels/cpu/dequantize_blocks.h),
//   e.g. Q2_K: (d * scale) * q - dmin * min, each product rounded.
// NOTE: q * d is always exact in float (an 11-bit fp16 significand times a
// 4- or 8-bit integer), so Q4_1 rounds once, at the add, with or without a
// fused multiply-add: results are bit-identical on every machine. The
// K-quants round their products (d * scale is not exact in general); kernels/
// builds without contraction, so those are never fused either.
// Thread-safety: pure function.
void dequantize_row(DType type, const uint8_t* src, float* out, int64_t num_elements);

// The whole tensor as float32, row-major in tensor.shape order.
std::vector<float> dequantize_tensor(const WeightTensor& tensor);

}  // namespace kvs
