#pragma once
// Test helpers (header-only): an fp8 E4M3 copy of a bf16 / f16 K/V cache
// (kernels/fp8_e4m3.h encoding), and the bf16 cache of its decoded values
// (exact: every E4M3 value is a bf16), so an attention over the fp8 cache can
// be compared with the same attention over the values it holds. Shared by
// the CPU reference tests and the GPU tests.
#include <cstdint>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/fp8_e4m3.h"

namespace kvs::test {

// E4M3 bytes of 16-bit cache elements (bf16, or f16 with f16 = true).
inline std::vector<uint8_t> fp8_from_16bit(const std::vector<uint16_t>& values, bool f16 = false) {
  std::vector<uint8_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float x = f16 ? kernels::fp16_to_fp32(values[i]) : kernels::bf16_to_fp32(values[i]);
    out[i] = kernels::fp8_e4m3_from_float(x);
  }
  return out;
}

// The bf16 bits of each E4M3 byte's value (exact).
inline std::vector<uint16_t> bf16_from_fp8(const std::vector<uint8_t>& codes) {
  std::vector<uint16_t> out(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) out[i] = kernels::fp32_to_bf16(kernels::fp8_e4m3_to_float(codes[i]));
  return out;
}

}  // namespace kvs::test
