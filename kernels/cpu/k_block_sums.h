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

// One decoded block: element e's value is code[e] - offset (codes unsigned,
// at most 63, so SIMD can multiply them with signed activations by maddubs);
// scale16[i] / min16[i] are the scale / min of the sub-block holding elements
// 16i .. 16i + 15 (a 32-element sub-block fills two entries). The exact
// integer sums below do not depend on how the block was decoded.
struct DecodedKBlock {
  alignas(32) uint8_t code[kQuantBlockK] = {};
  alignas(32) int16_t scale16[16] = {};
  alignas(32) int16_t min16[16] = {};
  // scale_pair[c]: int16 lanes 0..7 scale16[2c], lanes 8..15 scale16[2c + 1]
  // (the madd operand of chunk c's 16 pair sums).
  alignas(32) int16_t scale_pair[8][16] = {};
  int offset = 0;  // 32 for Q6_K, 4 for Q3_K, else 0
  bool has_min = false;
  float d = 0.0f, dmin = 0.0f;

  int value(int e) const { return code[e] - offset; }
  int scale_of(int e) const { return scale16[e / 16]; }
  int min_of(int e) const { return min16[e / 16]; }
};

namespace k_decode {

// Portable decoders: the plain-int forms of k_codes.h, re-based to codes.
inline void codes_from_values(const int* q, int offset, DecodedKBlock* out) {
  out->offset = offset;
  for (int e = 0; e < kQuantBlockK; ++e) out->code[e] = static_cast<uint8_t>(q[e] + offset);
}
inline void per16(const int* per_sub, int sub_width, int16_t* out) {
  for (int i = 0; i < 16; ++i) out[i] = static_cast<int16_t>(per_sub[(16 * i) / sub_width]);
}

#if defined(__AVX2__)
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store256(uint8_t* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
inline __m256i shift_right_16(__m256i v, int bits) { return _mm256_srl_epi16(v, _mm_cvtsi32_si128(bits)); }

// Chunk c (elements 32c .. 32c + 31) of each format's codes, as k_codes.h
// lays the elements out (and as dot_k_avx2.cpp reads them).
inline void codes_q2_k(const BlockQ2_K& w, uint8_t* code) {
  for (int h = 0; h < 2; ++h) {
    const __m256i bits = load256(w.q + 32 * h);
    for (int s = 0; s < 4; ++s) {
      store256(code + 32 * (4 * h + s), _mm256_and_si256(shift_right_16(bits, 2 * s), _mm256_set1_epi8(3)));
    }
  }
}
inline void codes_q3_k(const BlockQ3_K& w, uint8_t* code) {  // low | high << 2; value = code - 4
  const __m256i hmask = load256(w.hmask);
  for (int h = 0; h < 2; ++h) {
    const __m256i bits = load256(w.q + 32 * h);
    for (int s = 0; s < 4; ++s) {
      const int c = 4 * h + s;
      const __m256i low = _mm256_and_si256(shift_right_16(bits, 2 * s), _mm256_set1_epi8(3));
      const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << c));
      const __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hmask, bit), bit), _mm256_set1_epi8(4));
      store256(code + 32 * c, _mm256_or_si256(low, high));
    }
  }
}
// Calls f(c, codes of chunk c) for c = 0 .. 7 of a Q4_K / Q5_K block (codes
// 0..15, or 0..31 with kFiveBits); dot_k_avx2.cpp's vec_dot reads them so too.
template <class Block, bool kFiveBits, class F>
inline void for_each_q45_chunk(const Block& w, F f) {
  __m256i high_bits = _mm256_setzero_si256();
  if constexpr (kFiveBits) high_bits = load256(w.qh);
  for (int j = 0; j < 4; ++j) {
    const __m256i bits = load256(w.q + 32 * j);
    for (int t = 0; t < 2; ++t) {
      const int c = 2 * j + t;
      __m256i codes = _mm256_and_si256(shift_right_16(bits, 4 * t), _mm256_set1_epi8(0x0f));
      if constexpr (kFiveBits) {
        const __m256i fifth = _mm256_and_si256(shift_right_16(high_bits, c), _mm256_set1_epi8(1));
        codes = _mm256_or_si256(codes, _mm256_slli_epi16(fifth, 4));
      }
      f(c, codes);
    }
  }
}
template <class Block, bool kFiveBits>
inline void codes_q45_k(const Block& w, uint8_t* code) {
  for_each_q45_chunk<Block, kFiveBits>(w, [&](int c, __m256i codes) { store256(code + 32 * c, codes); });
}
inline void codes_q6_k(const BlockQ6_K& w, uint8_t* code) {  // value = code - 32
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = load256(w.ql + 64 * h), ql1 = load256(w.ql + 64 * h + 32);
    const __m256i qh = load256(w.qh + 32 * h);
    for (int s = 0; s < 4; ++s) {
      const __m256i low = _mm256_and_si256(shift_right_16(s % 2 == 0 ? ql0 : ql1, 4 * (s / 2)), _mm256_set1_epi8(0x0f));
      const __m256i high = _mm256_slli_epi16(_mm256_and_si256(shift_right_16(qh, 2 * s), _mm256_set1_epi8(3)), 4);
      store256(code + 32 * (4 * h + s), _mm256_or_si256(low, high));
    }
  }
}
#endif

}  // namespace k_decode

// Decodes a K-quant block (SIMD where built for AVX2; the portable decoders
// of k_codes.h otherwise; both give the same codes, scales and mins).
inline void decode_k_block(WeightFormat format, const uint8_t* block, DecodedKBlock* out) {
#if !defined(__AVX2__)
  int q[kQuantBlockK];
#endif
  int scale[16] = {}, mins[16] = {};
  int sub_width = 16;
  out->has_min = false;
  out->dmin = 0.0f;
  switch (format) {
    case WeightFormat::Q2_K: {
      const auto& w = *reinterpret_cast<const BlockQ2_K*>(block);
      for (int s = 0; s < 16; ++s) {
        scale[s] = w.scales[s] & 0x0f;
        mins[s] = w.scales[s] >> 4;
      }
#if defined(__AVX2__)
      k_decode::codes_q2_k(w, out->code);
      out->offset = 0;
#else
      decode_q2_k(w, q, scale, mins);
      k_decode::codes_from_values(q, 0, out);
#endif
      out->has_min = true;
      out->d = fp16_to_fp32(w.d);
      out->dmin = fp16_to_fp32(w.dmin);
      break;
    }
    case WeightFormat::Q3_K: {
      const auto& w = *reinterpret_cast<const BlockQ3_K*>(block);
      int8_t packed[16];
      unpack_q3_k_scales(w.scales, packed);
      for (int s = 0; s < 16; ++s) scale[s] = packed[s];
#if defined(__AVX2__)
      k_decode::codes_q3_k(w, out->code);
      out->offset = 4;
#else
      decode_q3_k(w, q, scale);
      k_decode::codes_from_values(q, 4, out);
#endif
      out->d = fp16_to_fp32(w.d);
      break;
    }
    case WeightFormat::Q4_K:
    case WeightFormat::Q5_K: {
      const uint8_t* packed_scales;
      if (format == WeightFormat::Q4_K) {
        const auto& w = *reinterpret_cast<const BlockQ4_K*>(block);
#if defined(__AVX2__)
        k_decode::codes_q45_k<BlockQ4_K, false>(w, out->code);
#else
        decode_q45_k<BlockQ4_K, false>(w, q, scale, mins);
        k_decode::codes_from_values(q, 0, out);
#endif
        packed_scales = w.scales;
        out->d = fp16_to_fp32(w.d);
        out->dmin = fp16_to_fp32(w.dmin);
      } else {
        const auto& w = *reinterpret_cast<const BlockQ5_K*>(block);
#if defined(__AVX2__)
        k_decode::codes_q45_k<BlockQ5_K, true>(w, out->code);
#else
        decode_q45_k<BlockQ5_K, true>(w, q, scale, mins);
        k_decode::codes_from_values(q, 0, out);
#endif
        packed_scales = w.scales;
        out->d = fp16_to_fp32(w.d);
        out->dmin = fp16_to_fp32(w.dmin);
      }
      uint8_t scales8[8], mins8[8];
      unpack_q4_k_scales(packed_scales, scales8, mins8);
      for (int s = 0; s < 8; ++s) {
        scale[s] = scales8[s];
        mins[s] = mins8[s];
      }
      out->offset = 0;
      sub_width = 32;
      out->has_min = true;
      break;
    }
    case WeightFormat::Q6_K: {
      const auto& w = *reinterpret_cast<const BlockQ6_K*>(block);
      for (int s = 0; s < 16; ++s) scale[s] = w.scales[s];
#if defined(__AVX2__)
      k_decode::codes_q6_k(w, out->code);
      out->offset = 32;
#else
      decode_q6_k(w, q, scale);
      k_decode::codes_from_values(q, 0, out);  // decode_q6_k gives the codes 0..63
      out->offset = 32;
#endif
      out->d = fp16_to_fp32(w.d);
      break;
    }
    default:  // not a K-quant; callers never pass one
      std::memset(out->code, 0, sizeof(out->code));
      out->offset = 0;
      break;
  }
  k_decode::per16(scale, sub_width, out->scale16);
  k_decode::per16(mins, sub_width, out->min16);
  for (int c = 0; c < 8; ++c) {
    for (int l = 0; l < 8; ++l) {
      out->scale_pair[c][l] = out->scale16[2 * c];
      out->scale_pair[c][8 + l] = out->scale16[2 * c + 1];
    }
  }
}

// s1 over elements [first, first + count) (whole 32-element chunks): per
// sub-block sums of value * x, times the sub-block scales (exact). The
// portable version; k_scaled_sum below is the same integer by SIMD where
// built for AVX2.
inline int32_t k_scaled_sum_reference(const DecodedKBlock& w, const ActivationBlockQ8K& x, int first = 0,
                                      int count = kQuantBlockK) {
  int32_t total = 0;
  for (int s0 = first; s0 < first + count; s0 += 16) {
    int32_t sum = 0;
    for (int e = s0; e < s0 + 16; ++e) sum += w.value(e) * x.q[e];
    total += w.scale16[s0 / 16] * sum;
  }
  return total;
}

#if defined(__AVX2__)
namespace k_decode {
// Int32 lane c set where chunk c (elements 32c .. 32c + 31) lies in [first, first + count).
inline __m256i chunk_mask(int first, int count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i lo = _mm256_set1_epi32(first / 32 - 1), hi = _mm256_set1_epi32((first + count) / 32);
  return _mm256_and_si256(_mm256_cmpgt_epi32(lane, lo), _mm256_cmpgt_epi32(hi, lane));
}
inline int32_t sum_lanes(__m256i v) {
  __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4e));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xb1));
  return _mm_cvtsi128_si32(sum);
}
// Lane c: sum over chunk c's two 16-element sub-blocks of per16[i] * bsums[i].
inline __m256i chunk_lanes(const int16_t* per16, const int16_t* bsums) {
  return _mm256_madd_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(per16)),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums)));
}
}  // namespace k_decode
#endif

inline int32_t k_scaled_sum(const DecodedKBlock& w, const ActivationBlockQ8K& x, int first = 0,
                            int count = kQuantBlockK) {
#if defined(__AVX2__)
  // maddubs: unsigned codes (<= 63) times signed activations, pairs fit int16;
  // madd by the sub-block scales (|scale| <= 128) into int32 lanes.
  __m256i acc = _mm256_setzero_si256();
  for (int e = first; e < first + count; e += 32) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(w.code + e)),
                                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + e)));
    const __m256i scale = _mm256_load_si256(reinterpret_cast<const __m256i*>(w.scale_pair[e / 32]));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(scale, pairs));
  }
  if (w.offset != 0) {  // minus offset * sum of scale * x over each sub-block
    __m256i offsets = k_decode::chunk_lanes(w.scale16, x.bsums);
    if (count != kQuantBlockK) offsets = _mm256_and_si256(offsets, k_decode::chunk_mask(first, count));
    acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(offsets, _mm256_set1_epi32(w.offset)));
  }
  return k_decode::sum_lanes(acc);
#else
  return k_scaled_sum_reference(w, x, first, count);
#endif
}

// s2 over elements [first, first + count): the mins against the activations'
// sums over each sub-block (bsums are per 16 elements); 0 without mins.
inline int32_t k_min_sum(const DecodedKBlock& w, const ActivationBlockQ8K& x, int first = 0,
                         int count = kQuantBlockK) {
  if (!w.has_min) return 0;
#if defined(__AVX2__)
  __m256i lanes = k_decode::chunk_lanes(w.min16, x.bsums);
  if (count != kQuantBlockK) lanes = _mm256_and_si256(lanes, k_decode::chunk_mask(first, count));
  return k_decode::sum_lanes(lanes);
#else
  int32_t total = 0;
  for (int i = first / 16; i < (first + count) / 16; ++i) total += w.min16[i] * x.bsums[i];
  return total;
#endif
}

// s1 and s2 (k_scaled_sum, k_min_sum) of each 32-element chunk c of the
// block: s1[c] = k_scaled_sum(w, x, 32c, 32), s2[c] = k_min_sum(w, x, 32c, 32).
// Sums over any whole chunks are sums of these (exact integers).
inline void k_chunk_sums_reference(const DecodedKBlock& w, const ActivationBlockQ8K& x, int32_t* s1, int32_t* s2) {
  for (int c = 0; c < 8; ++c) {
    s1[c] = k_scaled_sum_reference(w, x, 32 * c, 32);
    s2[c] = 0;
    if (w.has_min) s2[c] = w.min16[2 * c] * x.bsums[2 * c] + w.min16[2 * c + 1] * x.bsums[2 * c + 1];
  }
}

inline void k_chunk_sums(const DecodedKBlock& w, const ActivationBlockQ8K& x, int32_t* s1, int32_t* s2) {
#if defined(__AVX2__)
  __m256i lanes[8];  // chunk c's 8 int32 partial sums
  for (int c = 0; c < 8; ++c) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(w.code + 32 * c)),
                                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + 32 * c)));
    lanes[c] = _mm256_madd_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(w.scale_pair[c])), pairs);
  }
  // Transposing reduction: lane c of the result is the sum of lanes[c].
  const __m256i h01 = _mm256_hadd_epi32(lanes[0], lanes[1]), h23 = _mm256_hadd_epi32(lanes[2], lanes[3]);
  const __m256i h45 = _mm256_hadd_epi32(lanes[4], lanes[5]), h67 = _mm256_hadd_epi32(lanes[6], lanes[7]);
  const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
  __m256i sums = _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                                  _mm256_permute2x128_si256(h0123, h4567, 0x31));
  if (w.offset != 0) {
    sums = _mm256_sub_epi32(
        sums, _mm256_mullo_epi32(k_decode::chunk_lanes(w.scale16, x.bsums), _mm256_set1_epi32(w.offset)));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(s1), sums);
  const __m256i mins = w.has_min ? k_decode::chunk_lanes(w.min16, x.bsums) : _mm256_setzero_si256();
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(s2), mins);
#else
  k_chunk_sums_reference(w, x, s1, s2);
#endif
}

// Calls step(row r, token t, decoded block, activation block) for every
// (row, token) pair, blocks in order within each pair; each weight block is
// decoded once per row. Rows are `row_bytes` apart; x holds num_tokens rows of
// num_blocks blocks.
template <class Step>
void for_each_k_block(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                      const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, Step step) {
  const size_t block_bytes = format_block_bytes(format);
  DecodedKBlock w{};
  for (int64_t r = 0; r < num_rows; ++r) {
    const auto* row = static_cast<const uint8_t*>(w_rows) + r * row_bytes;
    for (int64_t b = 0; b < num_blocks; ++b) {
      decode_k_block(format, row + b * block_bytes, &w);
      for (int64_t t = 0; t < num_tokens; ++t) step(r, t, w, x[t * num_blocks + b]);
    }
  }
}

}  // namespace kvs::kernels::detail
