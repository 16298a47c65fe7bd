#pragma once
// The exact integer parts of a K-quant block against a Q8_K activation block,
// the common core of llama.cpp's tiled K-quant matmul (dot_k_tiled.h) and of
// its repacked 8x8 GEMV/GEMM (dot_repack.h), which differ only in how they
// round the float epilogue. Internal to kernels/cpu.
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/half.h"
#include "kernels/cpu/k_codes.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/weight_format.h"

namespace kvs::kernels::detail {

// One decoded block: signed values, per sub-block scales and mins.
struct DecodedKBlock {
  int8_t value[kQuantBlockK];
  int scale[16];
  int mins[16];
  int sub_width = 16;  // elements per sub-block: 16 or 32
  bool has_min = false;
  float d = 0.0f, dmin = 0.0f;
};

inline void decode_k_block(WeightFormat format, const uint8_t* block, DecodedKBlock* out) {
  int q[kQuantBlockK];
  out->sub_width = 16;
  out->has_min = false;
  switch (format) {
    case WeightFormat::Q2_K: {
      const auto& w = *reinterpret_cast<const BlockQ2_K*>(block);
      decode_q2_k(w, q, out->scale, out->mins);
      out->has_min = true;
      out->d = fp16_to_fp32(w.d);
      out->dmin = fp16_to_fp32(w.dmin);
      break;
    }
    case WeightFormat::Q3_K: {
      const auto& w = *reinterpret_cast<const BlockQ3_K*>(block);
      decode_q3_k(w, q, out->scale);
      out->d = fp16_to_fp32(w.d);
      break;
    }
    case WeightFormat::Q4_K:
    case WeightFormat::Q5_K: {
      if (format == WeightFormat::Q4_K) {
        const auto& w = *reinterpret_cast<const BlockQ4_K*>(block);
        decode_q45_k<BlockQ4_K, false>(w, q, out->scale, out->mins);
        out->d = fp16_to_fp32(w.d);
        out->dmin = fp16_to_fp32(w.dmin);
      } else {
        const auto& w = *reinterpret_cast<const BlockQ5_K*>(block);
        decode_q45_k<BlockQ5_K, true>(w, q, out->scale, out->mins);
        out->d = fp16_to_fp32(w.d);
        out->dmin = fp16_to_fp32(w.dmin);
      }
      out->sub_width = 32;
      out->has_min = true;
      break;
    }
    case WeightFormat::Q6_K: {
      const auto& w = *reinterpret_cast<const BlockQ6_K*>(block);
      decode_q6_k(w, q, out->scale);
      for (int& v : q) v -= 32;
      out->d = fp16_to_fp32(w.d);
      break;
    }
    default: std::memset(q, 0, sizeof(q)); break;  // not a K-quant; callers never pass one
  }
  for (int e = 0; e < kQuantBlockK; ++e) out->value[e] = static_cast<int8_t>(q[e]);
}

// s1 over elements [first, first + count) (whole sub-blocks): per sub-block
// sums of value * x, times the sub-block scales (exact). The portable
// version; k_scaled_sum below is the same integer by SIMD where built for AVX2.
inline int32_t k_scaled_sum_reference(const DecodedKBlock& w, const int8_t* x, int first = 0,
                                      int count = kQuantBlockK) {
  int32_t total = 0;
  for (int s0 = first; s0 < first + count; s0 += w.sub_width) {
    int32_t sum = 0;
    for (int e = s0; e < s0 + w.sub_width; ++e) sum += w.value[e] * x[e];
    total += w.scale[s0 / w.sub_width] * sum;
  }
  return total;
}

inline int32_t k_scaled_sum(const DecodedKBlock& w, const int8_t* x, int first = 0, int count = kQuantBlockK) {
#if defined(__AVX2__)
  // Per 16 elements: value * scale fits int16 for every K-quant (|value| <= 32,
  // |scale| <= 128), and pairs of those times x fit int32.
  __m256i acc = _mm256_setzero_si256();
  for (int e = first; e < first + count; e += 16) {
    const __m256i value = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.value + e)));
    const __m256i xv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + e)));
    const __m256i scaled = _mm256_mullo_epi16(value, _mm256_set1_epi16(static_cast<int16_t>(w.scale[e / w.sub_width])));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(scaled, xv));
  }
  __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4e));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xb1));
  return _mm_cvtsi128_si32(sum);
#else
  return k_scaled_sum_reference(w, x, first, count);
#endif
}

// s2 over elements [first, first + count): the mins against the activations'
// sums over each sub-block (bsums are per 16 elements); 0 without mins.
inline int32_t k_min_sum(const DecodedKBlock& w, const int16_t* bsums, int first = 0, int count = kQuantBlockK) {
  if (!w.has_min) return 0;
  int32_t total = 0;
  for (int s0 = first; s0 < first + count; s0 += w.sub_width) {
    int32_t sum = 0;
    for (int e = s0; e < s0 + w.sub_width; e += 16) sum += bsums[e / 16];
    total += w.mins[s0 / w.sub_width] * sum;
  }
  return total;
}

// Calls step(row r, token t, decoded block, activation block) for every
// (row, token) pair, blocks in order within each pair; each weight block is
// decoded once per row. Rows are `row_bytes` apart; x holds num_tokens rows of
// num_blocks blocks.
template <class Step>
void for_each_k_block(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                      const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, Step step) {
  const size_t block_bytes = format_block_bytes(format);
  DecodedKBlock w;
  for (int64_t r = 0; r < num_rows; ++r) {
    const auto* row = static_cast<const uint8_t*>(w_rows) + r * row_bytes;
    for (int64_t b = 0; b < num_blocks; ++b) {
      decode_k_block(format, row + b * block_bytes, &w);
      for (int64_t t = 0; t < num_tokens; ++t) step(r, t, w, x[t * num_blocks + b]);
    }
  }
}

}  // namespace kvs::kernels::detail
