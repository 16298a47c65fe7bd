#pragma once
// fp8 E4M3 (OCP "fn" variant: 1 sign, 4 exponent bits with bias 7, 3
// mantissa bits; no infinities; NaN = 0x7F / 0xFF; largest finite 448) <->
// float, the element type of the CUDA engine's fp8 KV cache.
//
// Encoding is vLLM's scaled fp8 KV cache with scale 1.0: round to nearest
// even, saturate to +-448 (infinities too), NaN -> 0x7F, results below half
// the smallest subnormal (2^-10) -> signed zero. This is bit for bit what
// cuda_fp8.h's __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3) gives
// (checked on the CPU against its host path, and against the device's
// instruction in tests/gpu/fp8_e4m3_gpu_test.cpp). Decoding is exact (every
// E4M3 value is a float, a half and a bf16); NaN decodes to a quiet NaN.
//
// Framework-free, header-only, pure integer arithmetic; __host__ __device__
// under nvcc. The CPU references read fp8 bytes through these functions; the
// CUDA kernels use the hardware conversions, which are equal.
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define KVS_FP8_HD __host__ __device__ __forceinline__
#else
#define KVS_FP8_HD inline
#endif

namespace kvs::kernels {

inline constexpr float kFp8E4M3Max = 448.0f;
inline constexpr uint8_t kFp8E4M3NaN = 0x7F;

KVS_FP8_HD uint32_t fp8_float_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

KVS_FP8_HD float fp8_bits_float(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// float -> E4M3 byte: round to nearest even, saturating (see above).
KVS_FP8_HD uint8_t fp8_e4m3_from_float(float x) {
  const uint32_t bits = fp8_float_bits(x);
  const auto sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return kFp8E4M3NaN;
  // NOTE: (448, 464] rounds to 448 (the tie at 464 goes to the even 0x7E)
  // and anything larger saturates, so everything from 448 up is 448.
  if (magnitude >= 0x43E00000u) return static_cast<uint8_t>(sign | 0x7Eu);
  const int exponent = static_cast<int>(magnitude >> 23);  // biased by 127
  const uint32_t mantissa = magnitude & 0x7FFFFFu;
  if (magnitude >= 0x3C800000u) {  // >= 2^-6: an E4M3 normal (or rounds up into the next binade)
    uint32_t code = (static_cast<uint32_t>(exponent - 127 + 7) << 3) | (mantissa >> 20);
    const uint32_t rest = mantissa & 0xFFFFFu, half = 0x80000u;
    if (rest > half || (rest == half && (code & 1u) != 0)) ++code;  // a carry moves into the exponent
    return static_cast<uint8_t>(sign | code);
  }
  // Subnormal range: value / 2^-9 rounded to an integer 0..8 (8 is the
  // smallest normal, code 0x08). value = (2^23 + mantissa) * 2^(exponent - 150).
  const int shift = 141 - exponent;  // >= 21 here
  if (exponent == 0 || shift > 31) return sign;  // below 2^-10 (or a float subnormal): zero
  const uint32_t significand = 0x800000u | mantissa;
  uint32_t code = significand >> shift;
  const uint32_t rest = significand & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rest > half || (rest == half && (code & 1u) != 0)) ++code;
  return static_cast<uint8_t>(sign | code);
}

// E4M3 byte -> float, exact; 0x7F / 0xFF -> quiet NaN.
KVS_FP8_HD float fp8_e4m3_to_float(uint8_t code) {
  const uint32_t sign = static_cast<uint32_t>(code & 0x80u) << 24;
  const uint32_t exponent = (code >> 3) & 0xFu, mantissa = code & 0x7u;
  if ((code & 0x7Fu) == 0x7Fu) return fp8_bits_float(0x7FC00000u);
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0.001953125f;  // m * 2^-9, exact
    return fp8_bits_float(fp8_float_bits(magnitude) | sign);
  }
  return fp8_bits_float(sign | ((exponent + 120u) << 23) | (mantissa << 20));
}

}  // namespace kvs::kernels
