#include "kernels/cpu/dequantize_blocks.h"

#include <cstring>

#include "kernels/cpu/half.h"
#include "kernels/cpu/k_scales.h"

namespace kvs::kernels::detail {
namespace {

// Element j's five-bit code in a Q5_0 / Q5_1 block.
int five_bit_code(const uint8_t* q, const uint8_t* qh_bytes, int j) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, sizeof(qh));
  const int nibble = j < 16 ? (q[j] & 0x0f) : (q[j - 16] >> 4);
  return nibble | static_cast<int>(((qh >> j) & 1u) << 4);
}

int nibble_code(const uint8_t* q, int j) { return j < 16 ? (q[j] & 0x0f) : (q[j - 16] >> 4); }

}  // namespace

void dequantize_q5_0(const BlockQ5_0* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlock) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int j = 0; j < kQuantBlock; ++j) {
      out[j] = d * static_cast<float>(five_bit_code(blocks[b].q, blocks[b].qh, j) - 16);
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlock) {
    const float d = fp16_to_fp32(blocks[b].d), m = fp16_to_fp32(blocks[b].m);
    for (int j = 0; j < kQuantBlock; ++j) {
      out[j] = d * static_cast<float>(five_bit_code(blocks[b].q, blocks[b].qh, j)) + m;
    }
  }
}

void dequantize_iq4_nl(const BlockIQ4_NL* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlock) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int j = 0; j < kQuantBlock; ++j) out[j] = d * static_cast<float>(kIQ4NLValues[nibble_code(blocks[b].q, j)]);
  }
}

void dequantize_q2_k(const BlockQ2_K* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlockK) {
    const BlockQ2_K& x = blocks[b];
    const float d = fp16_to_fp32(x.d), dmin = fp16_to_fp32(x.dmin);
    for (int e = 0; e < kQuantBlockK; ++e) {
      const int h = e / 128, s = (e % 128) / 32, l = e % 32;
      const int q = (x.q[32 * h + l] >> (2 * s)) & 3;
      const float dl = d * static_cast<float>(x.scales[e / 16] & 0x0f);
      const float ml = dmin * static_cast<float>(x.scales[e / 16] >> 4);
      out[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlockK) {
    const BlockQ3_K& x = blocks[b];
    int8_t scales[16];
    unpack_q3_k_scales(x.scales, scales);
    const float d = fp16_to_fp32(x.d);
    for (int e = 0; e < kQuantBlockK; ++e) {
      const int h = e / 128, s = (e % 128) / 32, l = e % 32;
      const int low = (x.q[32 * h + l] >> (2 * s)) & 3;
      const int high = (x.hmask[l] >> (4 * h + s)) & 1;
      const float dl = d * static_cast<float>(scales[e / 16]);
      out[e] = dl * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlockK) {
    const BlockQ4_K& x = blocks[b];
    uint8_t scales[8], mins[8];
    unpack_q4_k_scales(x.scales, scales, mins);
    const float d = fp16_to_fp32(x.d), dmin = fp16_to_fp32(x.dmin);
    for (int e = 0; e < kQuantBlockK; ++e) {
      const int j = e / 64, t = (e % 64) / 32, l = e % 32;
      const int q = (x.q[32 * j + l] >> (4 * t)) & 0x0f;
      const float ds = d * static_cast<float>(scales[e / 32]);
      const float dm = dmin * static_cast<float>(mins[e / 32]);
      out[e] = ds * static_cast<float>(q) - dm;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlockK) {
    const BlockQ5_K& x = blocks[b];
    uint8_t scales[8], mins[8];
    unpack_q4_k_scales(x.scales, scales, mins);
    const float d = fp16_to_fp32(x.d), dmin = fp16_to_fp32(x.dmin);
    for (int e = 0; e < kQuantBlockK; ++e) {
      const int j = e / 64, t = (e % 64) / 32, l = e % 32;
      const int q = ((x.q[32 * j + l] >> (4 * t)) & 0x0f) | (((x.qh[l] >> (e / 32)) & 1) << 4);
      const float ds = d * static_cast<float>(scales[e / 32]);
      const float dm = dmin * static_cast<float>(mins[e / 32]);
      out[e] = ds * static_cast<float>(q) - dm;
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* blocks, float* out, int64_t num_blocks) {
  for (int64_t b = 0; b < num_blocks; ++b, out += kQuantBlockK) {
    const BlockQ6_K& x = blocks[b];
    const float d = fp16_to_fp32(x.d);
    for (int e = 0; e < kQuantBlockK; ++e) {
      const int h = e / 128, i = e % 128;
      const int low = (x.ql[64 * h + i % 64] >> (4 * (i / 64))) & 0x0f;
      const int high = (x.qh[32 * h + i % 32] >> (2 * (i / 32))) & 3;
      const float ds = d * static_cast<float>(x.scales[e / 16]);
      out[e] = ds * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

}  // namespace kvs::kernels::detail
