#pragma once
// Unpacking of the 12-byte scale fields of Q3_K and Q4_K / Q5_K
// (quant_blocks_k.h). Shared by the dequantizers and the dot products so both
// read the same sub-block scales. Internal to kernels/cpu.
#include <cstdint>

namespace kvs::kernels::detail {

// Q3_K: sixteen 6-bit scales, minus the bias of 32 -> [-32, 31]. Scale s has
// its low 4 bits in packed[s % 8] (low nibble for s < 8, high nibble after),
// its top 2 bits at bit 2 * (s / 4) of packed[8 + s % 4].
inline void unpack_q3_k_scales(const uint8_t* packed, int8_t* out) {
  for (int s = 0; s < 16; ++s) {
    const int low = (s < 8 ? packed[s] : packed[s - 8] >> 4) & 0x0f;
    const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 0x03;
    out[s] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

// Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins. For i < 4 they are
// the low 6 bits of packed[i] and packed[4 + i]; for i >= 4 their low 4 bits
// are the low / high nibble of packed[4 + i] and their top 2 bits the top 2
// bits of packed[i - 4] / packed[i].
inline void unpack_q4_k_scales(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  for (int i = 0; i < 4; ++i) {
    scales[i] = packed[i] & 0x3f;
    mins[i] = packed[4 + i] & 0x3f;
    scales[4 + i] = static_cast<uint8_t>((packed[8 + i] & 0x0f) | ((packed[i] >> 6) << 4));
    mins[4 + i] = static_cast<uint8_t>((packed[8 + i] >> 4) | ((packed[4 + i] >> 6) << 4));
  }
}

}  // namespace kvs::kernels::detail
