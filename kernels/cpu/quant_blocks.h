#pragma once
// GGML block layouts for quantized weights and for quantized activations.
// Bit-compatible with GGUF files (little-endian, packed).
#include <cstdint>

namespace kvs::kernels {

constexpr int kQuantBlock = 32;  // elements per block for every type in this file

// Weight storage formats the CPU matmul accepts. A quantized row is
// `cols / block` consecutive blocks: 32 elements per block for Q8_0 ... IQ4_NL,
// 256 for the K-quants Q2_K ... Q6_K (weight_format.h has the sizes).
enum class WeightFormat : uint8_t { F32, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K };

#pragma pack(push, 1)
struct BlockQ8_0 {  // x = q * d
  uint16_t d;       // fp16
  int8_t q[kQuantBlock];
};
struct BlockQ4_0 {  // x = (nibble - 8) * d; elems 0..15 low nibbles, 16..31 high nibbles
  uint16_t d;
  uint8_t q[kQuantBlock / 2];
};
struct BlockQ4_1 {  // x = nibble * d + m
  uint16_t d;
  uint16_t m;
  uint8_t q[kQuantBlock / 2];
};
// Five-bit formats: element j (< 16) is the low nibble of q[j] plus bit j of
// the little-endian 32-bit `qh` times 16; element j + 16 the high nibble of
// q[j] plus bit j + 16.
struct BlockQ5_0 {  // x = (q5 - 16) * d
  uint16_t d;
  uint8_t qh[4];
  uint8_t q[kQuantBlock / 2];
};
struct BlockQ5_1 {  // x = q5 * d + m
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t q[kQuantBlock / 2];
};
struct BlockIQ4_NL {  // x = kIQ4NLValues[nibble] * d; nibble order as Q4_0
  uint16_t d;
  uint8_t q[kQuantBlock / 2];
};
#pragma pack(pop)
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 &&
                  sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24 && sizeof(BlockIQ4_NL) == 18,
              "GGML block sizes");

// IQ4_NL's non-linear code book (GGML's kvalues_iq4nl).
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Activations quantized for integer dot products (not a file format). Like
// GGML's q8_0 / q8_1, q = round(x / d) with d = max|x| / 127; d and d * sum(q)
// are rounded through fp16 as GGML stores them, so dot products match
// llama.cpp's CPU backend closely. sum_q is exact, for Q4_0's offset.
struct ActivationBlockQ8 {
  float d;
  float d_times_sum;
  int32_t sum_q;
  int8_t q[kQuantBlock];
};

}  // namespace kvs::kernels

#include "kernels/cpu/quant_blocks_k.h"  // the 256-element K-quant blocks
