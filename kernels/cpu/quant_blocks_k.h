#pragma once
// GGML's K-quant block layouts (256-element super-blocks) and the Q8_K
// activation block their dot products take. Bit-compatible with GGUF files
// (little-endian, packed). Element order inside a block is described per
// struct; kernels/cpu/dequantize_blocks.cpp is the executable definition.
#include <cstdint>

namespace kvs::kernels {

constexpr int kQuantBlockK = 256;  // elements per K-quant super-block

#pragma pack(push, 1)
// Element e = 128h + 32s + l (h < 2, s < 4, l < 32): q = (q[32h + l] >> 2s) & 3;
// sub-block e / 16 has scale scales[e/16] & 15 and min scales[e/16] >> 4;
// x = d * scale * q - dmin * min.
struct BlockQ2_K {
  uint8_t scales[kQuantBlockK / 16];
  uint8_t q[kQuantBlockK / 4];
  uint16_t d;
  uint16_t dmin;
};
// Element e = 128h + 32s + l: low = (q[32h + l] >> 2s) & 3, high bit
// (hmask[l] >> (4h + s)) & 1; q = low - (high ? 0 : 4). Sixteen 6-bit scales
// (biased by 32) packed in `scales` (see dequantize_blocks.cpp); x = d * scale * q.
struct BlockQ3_K {
  uint8_t hmask[kQuantBlockK / 8];
  uint8_t q[kQuantBlockK / 4];
  uint8_t scales[12];
  uint16_t d;
};
// Element e = 64j + 32t + l: q = (q[32j + l] >> 4t) & 15, sub-block 2j + t
// with 6-bit scale and min packed in `scales`; x = d * scale * q - dmin * min.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t q[kQuantBlockK / 2];
};
// As Q4_K plus a fifth bit: (qh[e % 32] >> (e / 32)) & 1, worth 16.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQuantBlockK / 8];
  uint8_t q[kQuantBlockK / 2];
};
// Element e = 128h + 64t + l' (l' < 64): low = (ql[64h + l'] >> 4t) & 15;
// with e = 128h + 32s + l: high = (qh[32h + l] >> 2s) & 3;
// q = low + 16 * high - 32; x = d * scales[e / 16] * q (scales signed).
struct BlockQ6_K {
  uint8_t ql[kQuantBlockK / 2];
  uint8_t qh[kQuantBlockK / 4];
  int8_t scales[kQuantBlockK / 16];
  uint16_t d;
};
#pragma pack(pop)
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
                  sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210,
              "GGML K-quant block sizes");

// Activations quantized for the K-quant dot products (GGML's block_q8_K, not
// a file format): q = round(x * iscale) with iscale = -127 / (the element of
// largest magnitude), d = 1 / iscale (float, not rounded through fp16);
// bsums[k] = sum of q[16k .. 16k + 15]. An all-zero block has d = 0, q = 0,
// bsums = 0.
struct ActivationBlockQ8K {
  float d;
  int8_t q[kQuantBlockK];
  int16_t bsums[kQuantBlockK / 16];
};

}  // namespace kvs::kernels
