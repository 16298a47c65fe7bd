#pragma once
// GGML block layouts for quantized weights and for quantized activations.
// Bit-compatible with GGUF files (little-endian, packed).
#include <cstdint>

namespace kvs::kernels {

constexpr int kQuantBlock = 32;  // elements per block for every type below

// Weight storage formats the CPU matmul accepts. Quantized rows are
// `cols / 32` consecutive blocks.
enum class WeightFormat : uint8_t { F32, Q8_0, Q4_0, Q4_1 };

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
#pragma pack(pop)
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20,
              "GGML block sizes");

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
