#pragma once
// GGML tensor type ids (ggml.h's enum ggml_type) with their names and block
// layout, so the GGUF reader can size every tensor, supported or not, and name
// the type in errors.
#include <cstddef>
#include <cstdint>

namespace kvs {

struct GgmlTypeInfo {
  const char* name;        // "F32", "Q4_K", ...
  int64_t block_elements;  // elements per block (1 for plain types)
  size_t block_bytes;      // bytes per block
};

// nullptr for ids that are unknown or were removed from ggml.
const GgmlTypeInfo* ggml_type_info(uint32_t ggml_type);

}  // namespace kvs
