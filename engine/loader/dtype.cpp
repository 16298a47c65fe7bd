#include "engine/loader/dtype.h"

#include <string>

#include "engine/errors.h"

namespace kvs {

const char* dtype_name(DType type) {
  switch (type) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_0: return "Q4_0";
    case DType::Q4_1: return "Q4_1";
    case DType::Q5_0: return "Q5_0";
    case DType::Q5_1: return "Q5_1";
    case DType::IQ4_NL: return "IQ4_NL";
    case DType::Q2_K: return "Q2_K";
    case DType::Q3_K: return "Q3_K";
    case DType::Q4_K: return "Q4_K";
    case DType::Q5_K: return "Q5_K";
    case DType::Q6_K: return "Q6_K";
  }
  return "unknown";
}

int64_t dtype_block_elements(DType type) {
  switch (type) {
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return 256;
    default: return dtype_is_quantized(type) ? 32 : 1;
  }
}

size_t dtype_block_bytes(DType type) {
  switch (type) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::Q8_0: return 34;
    case DType::Q4_0: return 18;
    case DType::Q4_1: return 20;
    case DType::Q5_0: return 22;
    case DType::Q5_1: return 24;
    case DType::IQ4_NL: return 18;
    case DType::Q2_K: return 84;
    case DType::Q3_K: return 110;
    case DType::Q4_K: return 144;
    case DType::Q5_K: return 176;
    case DType::Q6_K: return 210;
  }
  return 0;
}

size_t dtype_row_bytes(DType type, int64_t num_elements) {
  const int64_t block = dtype_block_elements(type);
  if (num_elements < 0 || num_elements % block != 0) {
    throw InvalidArgument(std::string("dtype_row_bytes: ") + std::to_string(num_elements) +
                          " elements is not a whole number of " + dtype_name(type) + " blocks (" +
                          std::to_string(block) + " elements each)");
  }
  return static_cast<size_t>(num_elements / block) * dtype_block_bytes(type);
}

bool dtype_is_quantized(DType type) { return type != DType::F32 && type != DType::F16 && type != DType::BF16; }

}  // namespace kvs
