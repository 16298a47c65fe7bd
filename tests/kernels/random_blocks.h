#pragma once
// Random weight blocks of the five-bit, IQ4_NL and K-quant formats for tests:
// random bits everywhere, fp16 scales (d, dmin, m) drawn from a sane range,
// and every `zero_every`-th block all zeros.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/weight_format.h"

namespace kvs::kernels::test {

// fp16 bits of +-2^e * (1 + f), e in [-12, -4] (magnitudes ~2.4e-4 .. 0.12).
inline uint16_t random_scale(std::mt19937& rng, bool allow_negative) {
  const float magnitude = std::ldexp(1.0f + static_cast<float>(rng() % 1024) / 1024.0f, -12 + static_cast<int>(rng() % 9));
  return fp32_to_fp16(allow_negative && (rng() & 1) ? -magnitude : magnitude);
}

// Byte offsets of a block's fp16 scale fields, and whether each may be negative.
struct ScaleField {
  size_t offset;
  bool allow_negative;
};

inline std::vector<ScaleField> scale_fields(WeightFormat format) {
  switch (format) {
    case WeightFormat::Q5_0: return {{offsetof(BlockQ5_0, d), true}};
    case WeightFormat::Q5_1: return {{offsetof(BlockQ5_1, d), false}, {offsetof(BlockQ5_1, m), true}};
    case WeightFormat::IQ4_NL: return {{offsetof(BlockIQ4_NL, d), true}};
    case WeightFormat::Q2_K: return {{offsetof(BlockQ2_K, d), false}, {offsetof(BlockQ2_K, dmin), false}};
    case WeightFormat::Q3_K: return {{offsetof(BlockQ3_K, d), true}};
    case WeightFormat::Q4_K: return {{offsetof(BlockQ4_K, d), false}, {offsetof(BlockQ4_K, dmin), false}};
    case WeightFormat::Q5_K: return {{offsetof(BlockQ5_K, d), false}, {offsetof(BlockQ5_K, dmin), false}};
    case WeightFormat::Q6_K: return {{offsetof(BlockQ6_K, d), true}};
    case WeightFormat::Q8_0: return {{offsetof(BlockQ8_0, d), true}};
    case WeightFormat::Q4_0: return {{offsetof(BlockQ4_0, d), true}};
    case WeightFormat::Q4_1: return {{offsetof(BlockQ4_1, d), false}, {offsetof(BlockQ4_1, m), true}};
    case WeightFormat::F32: return {};
  }
  return {};
}

// `num_blocks` random blocks of `format` (quantized) as raw bytes.
inline std::vector<uint8_t> random_blocks(WeightFormat format, int64_t num_blocks, std::mt19937& rng,
                                          int64_t zero_every = 0) {
  const size_t block_bytes = format_block_bytes(format);
  std::vector<uint8_t> out(static_cast<size_t>(num_blocks) * block_bytes);
  for (int64_t b = 0; b < num_blocks; ++b) {
    uint8_t* block = out.data() + static_cast<size_t>(b) * block_bytes;
    if (zero_every > 0 && b % zero_every == zero_every - 1) continue;  // left all zero
    for (size_t i = 0; i < block_bytes; ++i) block[i] = static_cast<uint8_t>(rng());
    for (const ScaleField& field : scale_fields(format)) {
      const uint16_t h = random_scale(rng, field.allow_negative);
      std::memcpy(block + field.offset, &h, sizeof(h));
    }
  }
  return out;
}

// n normal activations with standard deviation `scale`.
inline std::vector<float> random_activations(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  return x;
}

// The IEEE-754 bits of v, for bit-exact comparisons.
inline uint32_t float_bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

inline const WeightFormat kExtendedFormats[] = {WeightFormat::Q5_0, WeightFormat::Q5_1, WeightFormat::IQ4_NL,
                                                WeightFormat::Q2_K, WeightFormat::Q3_K, WeightFormat::Q4_K,
                                                WeightFormat::Q5_K, WeightFormat::Q6_K};

}  // namespace kvs::kernels::test
