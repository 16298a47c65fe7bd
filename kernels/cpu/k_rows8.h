#pragma once
// Eight weight rows of a K-quant block at once: the exact integer sums of
// k_block_sums.h with the rows in SIMD lanes (lane r = row r), so a token's
// per-chunk sums for 8 rows come out of one pass with no horizontal adds.
// The multi-token paths of llama.cpp's tiled K-quant matmul (dot_k_tiled.cpp)
// and of its repacked GEMM (dot_repack.cpp) decode each block of 8 rows once
// and apply it to every token. AVX2 builds only; internal to kernels/cpu.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/k_block_sums.h"

#if defined(__AVX2__)
#define KVS_K_ROWS8 1

namespace kvs::kernels::detail {

// One 256-element block of 8 rows, interleaved for 4-byte dot products:
// code[h][s] holds, for row r, elements 16h + 4s .. 16h + 4s + 3 in bytes
// 4r .. 4r + 3 (h: 16-element sub-block, s: step of 4 within it).
struct DecodedK8 {
  alignas(32) uint8_t code[16][4][32];
  alignas(32) int32_t scale[16][8];        // scale of sub-block h of row r
  alignas(32) int16_t scale_pair[8][16];   // chunk c, row r: int16 pair (scale16[2c], scale16[2c + 1])
  alignas(32) int16_t min_pair[8][16];     // the same for the mins
  alignas(32) float d[8], dmin[8];
  int offset = 0;
  bool has_min = false;
};

// Decodes block `b` of rows w_rows[0..8) (`row_bytes` apart) of `format`.
inline void decode_k8(WeightFormat format, const uint8_t* w_rows, size_t row_bytes, int64_t b, DecodedK8* out) {
  const size_t block_bytes = format_block_bytes(format);
  DecodedKBlock row{};
  for (int r = 0; r < 8; ++r) {
    decode_k_block(format, w_rows + r * row_bytes + b * block_bytes, &row);
    for (int h = 0; h < 16; ++h) {
      for (int s = 0; s < 4; ++s) std::memcpy(&out->code[h][s][4 * r], row.code + 16 * h + 4 * s, 4);
      out->scale[h][r] = row.scale16[h];
    }
    for (int c = 0; c < 8; ++c) {
      out->scale_pair[c][2 * r] = row.scale16[2 * c];
      out->scale_pair[c][2 * r + 1] = row.scale16[2 * c + 1];
      out->min_pair[c][2 * r] = row.min16[2 * c];
      out->min_pair[c][2 * r + 1] = row.min16[2 * c + 1];
    }
    out->d[r] = row.d;
    out->dmin[r] = row.dmin;
    out->offset = row.offset;
    out->has_min = row.has_min;
  }
}

namespace k_rows8 {
inline __m256i load(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }

// Lane r: sum over j < 4 of code byte 4r + j times x[j] (codes unsigned <= 63:
// maddubs pairs fit int16, so both forms give the same integers).
inline __m256i dot4(__m256i acc, __m256i codes, __m256i x4) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(acc, codes, x4);
#elif defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(acc, codes, x4);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(codes, x4), _mm256_set1_epi16(1)));
#endif
}

inline int32_t four_bytes(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
}  // namespace k_rows8

// s1[c], s2[c]: lane r holds k_chunk_sums' s1[c], s2[c] of row r against x.
inline void k8_chunk_sums(const DecodedK8& w, const ActivationBlockQ8K& x, __m256i* s1, __m256i* s2) {
  using k_rows8::load;
  for (int c = 0; c < 8; ++c) {
    __m256i acc = _mm256_setzero_si256();
    for (int hh = 0; hh < 2; ++hh) {
      const int h = 2 * c + hh;
      __m256i sum = _mm256_setzero_si256();
      for (int s = 0; s < 4; ++s) {
        sum = k_rows8::dot4(sum, load(w.code[h][s]), _mm256_set1_epi32(k_rows8::four_bytes(x.q + 16 * h + 4 * s)));
      }
      acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(sum, load(w.scale[h])));
    }
    int32_t pair;  // bsums 2c, 2c + 1: the activations' sums over the chunk's two halves
    std::memcpy(&pair, x.bsums + 2 * c, sizeof(pair));
    const __m256i bsums = _mm256_set1_epi32(pair);
    if (w.offset != 0) {
      const __m256i offsets = _mm256_madd_epi16(load(w.scale_pair[c]), bsums);
      acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(offsets, _mm256_set1_epi32(w.offset)));
    }
    s1[c] = acc;
    s2[c] = w.has_min ? _mm256_madd_epi16(load(w.min_pair[c]), bsums) : _mm256_setzero_si256();
  }
}

}  // namespace kvs::kernels::detail
#endif
