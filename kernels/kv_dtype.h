#pragma once
// The element types of the paged KV cache and how many bytes a cache row
// takes in each. Framework-free: used by the CPU kernels, the CUDA kernels
// and the engine's KvStorage.
#include <cstdint>
#include <optional>
#include <string>

namespace kvs::kernels {

// F16: IEEE half (the CPU default, rounding as llama.cpp's f16 cache does).
// F32: float (against float32 references). BF16: the CUDA engine's default.
// Q8_0 / Q4_0: llama.cpp's block layouts, one half-precision scale per 32
// values (block_q8_0: 2 + 32 bytes; block_q4_0: 2 + 16 bytes), on the CPU.
// FP8_E4M3: one byte per value (OCP E4M3), on the CUDA engine.
enum class KvDType : uint8_t { F16, F32, BF16, Q8_0, Q4_0, FP8_E4M3 };

// Values per quantization block of a blockwise type (1 for the others).
inline int64_t kv_block_values(KvDType dtype) {
  return dtype == KvDType::Q8_0 || dtype == KvDType::Q4_0 ? 32 : 1;
}

// Bytes of one block of kv_block_values(dtype) values.
inline int64_t kv_block_bytes(KvDType dtype) {
  switch (dtype) {
    case KvDType::F32: return 4;
    case KvDType::F16:
    case KvDType::BF16: return 2;
    case KvDType::Q8_0: return 34;
    case KvDType::Q4_0: return 18;
    case KvDType::FP8_E4M3: return 1;
  }
  return 0;
}

// Bytes of `values` cache values (a row: one slot's K or V over a rank's KV
// heads, or one head's vector); -1 when `values` is not a whole number of
// quantization blocks.
inline int64_t kv_row_bytes(KvDType dtype, int64_t values) {
  const int64_t per_block = kv_block_values(dtype);
  if (values < 0 || values % per_block != 0) return -1;
  return values / per_block * kv_block_bytes(dtype);
}

// The flag spelling ("f16", "f32", "bf16", "q8_0", "q4_0", "fp8_e4m3").
const char* kv_dtype_name(KvDType dtype);
// The dtype a flag names; nullopt for an unknown name.
std::optional<KvDType> kv_dtype_from_name(const std::string& name);

}  // namespace kvs::kernels
