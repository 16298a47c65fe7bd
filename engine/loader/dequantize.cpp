#include "engine/loader/dequantize.h"

#include <cstring>
#include <string>

#include "engine/errors.h"
#include "kernels/cpu/quantize.h"

namespace kvs {
namespace {

uint16_t load_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (static_cast<uint16_t>(p[1]) << 8));
}

float bits_to_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

}  // namespace

float fp16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);
    // Subnormal half: normalise into a float exponent.
    exponent = 113;  // 2^-14 as a biased float exponent
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3FFu;
    return bits_to_float(sign | (exponent << 23) | (mantissa << 13));
  }
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float bf16_to_float(uint16_t bits) { return bits_to_float(static_cast<uint32_t>(bits) << 16); }

void dequantize_row(DType type, const uint8_t* src, float* out, int64_t num_elements) {
  const int64_t block = dtype_block_elements(type);
  if (num_elements < 0 || num_elements % block != 0) {
    throw InvalidArgument(std::string("dequantize_row: ") + std::to_string(num_elements) +
                          " elements is not a whole number of " + dtype_name(type) + " blocks");
  }
  switch (type) {
    case DType::F32:
      std::memcpy(out, src, static_cast<size_t>(num_elements) * sizeof(float));
      return;
    case DType::F16:
      for (int64_t i = 0; i < num_elements; ++i) out[i] = fp16_to_float(load_u16(src + 2 * i));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < num_elements; ++i) out[i] = bf16_to_float(load_u16(src + 2 * i));
      return;
    // The block formats share the compute kernels' decoding (kernels/ compiles
    // without contraction, so q * d + m is never fused: bit-identical to ggml
    // and gguf-py).
    case DType::Q8_0: return kernels::dequantize_row(kernels::WeightFormat::Q8_0, src, out, num_elements);
    case DType::Q4_0: return kernels::dequantize_row(kernels::WeightFormat::Q4_0, src, out, num_elements);
    case DType::Q4_1: return kernels::dequantize_row(kernels::WeightFormat::Q4_1, src, out, num_elements);
    case DType::Q5_0: return kernels::dequantize_row(kernels::WeightFormat::Q5_0, src, out, num_elements);
    case DType::Q5_1: return kernels::dequantize_row(kernels::WeightFormat::Q5_1, src, out, num_elements);
    case DType::IQ4_NL: return kernels::dequantize_row(kernels::WeightFormat::IQ4_NL, src, out, num_elements);
    case DType::Q2_K: return kernels::dequantize_row(kernels::WeightFormat::Q2_K, src, out, num_elements);
    case DType::Q3_K: return kernels::dequantize_row(kernels::WeightFormat::Q3_K, src, out, num_elements);
    case DType::Q4_K: return kernels::dequantize_row(kernels::WeightFormat::Q4_K, src, out, num_elements);
    case DType::Q5_K: return kernels::dequantize_row(kernels::WeightFormat::Q5_K, src, out, num_elements);
    case DType::Q6_K: return kernels::dequantize_row(kernels::WeightFormat::Q6_K, src, out, num_elements);
  }
}

std::vector<float> dequantize_tensor(const WeightTensor& tensor) {
  const int64_t rows = tensor.rows();
  const int64_t cols = tensor.cols();
  const size_t row_bytes = dtype_row_bytes(tensor.dtype, cols);
  if (row_bytes * static_cast<size_t>(rows) != tensor.num_bytes) {
    throw InvalidArgument("dequantize_tensor: " + tensor.name + " has " +
                          std::to_string(tensor.num_bytes) + " bytes, expected " +
                          std::to_string(row_bytes * static_cast<size_t>(rows)));
  }
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(tensor.dtype, tensor.data + static_cast<size_t>(r) * row_bytes,
                   out.data() + r * cols, cols);
  }
  return out;
}

}  // namespace kvs
