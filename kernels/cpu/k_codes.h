#pragma once
// The codes and sub-block scales of one K-quant block, decoded to plain ints:
// the form the scalar K-quant dot products (dot_k.cpp, dot_k_tiled.cpp) work
// on. Internal to kernels/cpu.
//
// Every decoder writes q[256] (element e of the block, in dequantization
// order) and per sub-block scales (16 sub-blocks of 16 elements for Q2_K,
// Q3_K, Q6_K; 8 of 32 for Q4_K, Q5_K), and mins where the format has them.
#include "kernels/cpu/k_scales.h"
#include "kernels/cpu/quant_blocks_k.h"

namespace kvs::kernels::detail {

// Q2_K: codes 0..3; scale and min 4 bits each.
inline void decode_q2_k(const BlockQ2_K& w, int* q, int* scale, int* mins) {
  for (int e = 0; e < kQuantBlockK; ++e) q[e] = (w.q[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
  for (int s = 0; s < 16; ++s) {
    scale[s] = w.scales[s] & 0x0f;
    mins[s] = w.scales[s] >> 4;
  }
}

// Q3_K: signed codes -4..3 (the high bit clear subtracts 4); scales -32..31.
inline void decode_q3_k(const BlockQ3_K& w, int* q, int* scale) {
  for (int e = 0; e < kQuantBlockK; ++e) {
    const int h = e / 128, s = (e % 128) / 32, l = e % 32;
    const int low = (w.q[32 * h + l] >> (2 * s)) & 3;
    q[e] = low - (((w.hmask[l] >> (4 * h + s)) & 1) ? 0 : 4);
  }
  int8_t packed[16];
  unpack_q3_k_scales(w.scales, packed);
  for (int s = 0; s < 16; ++s) scale[s] = packed[s];
}

// Q4_K / Q5_K: codes 0..15 (Q4_K) or 0..31 (Q5_K, kFiveBits); 6-bit scales and mins.
template <class Block, bool kFiveBits>
inline void decode_q45_k(const Block& w, int* q, int* scale, int* mins) {
  for (int e = 0; e < kQuantBlockK; ++e) {
    q[e] = (w.q[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 0x0f;
    if constexpr (kFiveBits) q[e] |= ((w.qh[e % 32] >> (e / 32)) & 1) << 4;
  }
  uint8_t scales[8], min_values[8];
  unpack_q4_k_scales(w.scales, scales, min_values);
  for (int s = 0; s < 8; ++s) {
    scale[s] = scales[s];
    mins[s] = min_values[s];
  }
}

// Q6_K: the unsigned codes 0..63 (the value is code - 32); int8 scales.
inline void decode_q6_k(const BlockQ6_K& w, int* q, int* scale) {
  for (int e = 0; e < kQuantBlockK; ++e) {
    const int h = e / 128, i = e % 128;
    const int low = (w.ql[64 * h + i % 64] >> (4 * (i / 64))) & 0x0f;
    const int high = (w.qh[32 * h + i % 32] >> (2 * (i / 32))) & 3;
    q[e] = low | (high << 4);
  }
  for (int s = 0; s < 16; ++s) scale[s] = w.scales[s];
}

}  // namespace kvs::kernels::detail
