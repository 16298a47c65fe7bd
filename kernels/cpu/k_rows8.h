#pragma once
// Eight (or sixteen) weight rows of a K-quant block at once: the exact integer sums of
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

// One 256-element block of R rows (8 or 16), interleaved for 4-byte dot
// products: code[h][s] holds, for row r, elements 16h + 4s .. 16h + 4s + 3 in
// bytes 4r .. 4r + 3 (h: 16-element sub-block, s: step of 4 within it).
template <int R>
struct DecodedKRows {
  alignas(64) uint8_t code[16][4][4 * R];
  alignas(64) int32_t scale[16][R];        // scale of sub-block h of row r
  alignas(64) int16_t scale_pair[8][2 * R];  // chunk c, row r: int16 pair (scale16[2c], scale16[2c + 1])
  alignas(64) int16_t min_pair[8][2 * R];    // the same for the mins
  alignas(64) float d[R], dmin[R];
  int offset = 0;
  bool has_min = false;
};
using DecodedK8 = DecodedKRows<8>;

// Decodes block `b` of rows w_rows[0..R) (`row_bytes` apart) of `format`.
template <int R>
inline void decode_k_rows(WeightFormat format, const uint8_t* w_rows, size_t row_bytes, int64_t b,
                          DecodedKRows<R>* out) {
  const size_t block_bytes = format_block_bytes(format);
  DecodedKBlock row{};
  for (int r = 0; r < R; ++r) {
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
inline void decode_k8(WeightFormat format, const uint8_t* w_rows, size_t row_bytes, int64_t b, DecodedK8* out) {
  decode_k_rows<8>(format, w_rows, row_bytes, b, out);
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

// The integer and float vector operations the R-row kernels use: Lanes8
// (256-bit, AVX2) and Lanes16 (512-bit, AVX-512 VNNI builds).
struct Lanes8 {
  static constexpr int kRows = 8;
  using I = __m256i;
  using F = __m256;
  static I load(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }
  static I zero() { return _mm256_setzero_si256(); }
  static I set1(int32_t v) { return _mm256_set1_epi32(v); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I madd16(I a, I b) { return _mm256_madd_epi16(a, b); }
  static I dot4(I acc, I codes, I x4) { return k_rows8::dot4(acc, codes, x4); }
  static F loadf(const float* p) { return _mm256_loadu_ps(p); }
  static F loadf_aligned(const float* p) { return _mm256_load_ps(p); }
  static void storef(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F setf(float v) { return _mm256_set1_ps(v); }
  static F zerof() { return _mm256_setzero_ps(); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F to_float(I v) { return _mm256_cvtepi32_ps(v); }
};

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define KVS_K_ROWS16 1
struct Lanes16 {
  static constexpr int kRows = 16;
  using I = __m512i;
  using F = __m512;
  static I load(const void* p) { return _mm512_load_si512(p); }
  static I zero() { return _mm512_setzero_si512(); }
  static I set1(int32_t v) { return _mm512_set1_epi32(v); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I madd16(I a, I b) { return _mm512_madd_epi16(a, b); }
  static I dot4(I acc, I codes, I x4) { return _mm512_dpbusd_epi32(acc, codes, x4); }
  static F loadf(const float* p) { return _mm512_loadu_ps(p); }
  static F loadf_aligned(const float* p) { return _mm512_load_ps(p); }
  static void storef(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F setf(float v) { return _mm512_set1_ps(v); }
  static F zerof() { return _mm512_setzero_ps(); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F to_float(I v) { return _mm512_cvtepi32_ps(v); }
};
#endif

// s1[c], s2[c]: lane r holds k_chunk_sums' s1[c], s2[c] of row r against x.
template <class L>
inline void k_rows_chunk_sums(const DecodedKRows<L::kRows>& w, const ActivationBlockQ8K& x, typename L::I* s1,
                              typename L::I* s2) {
  using I = typename L::I;
  for (int c = 0; c < 8; ++c) {
    I acc = L::zero();
    for (int hh = 0; hh < 2; ++hh) {
      const int h = 2 * c + hh;
      I sum = L::zero();
      for (int s = 0; s < 4; ++s) {
        sum = L::dot4(sum, L::load(w.code[h][s]), L::set1(k_rows8::four_bytes(x.q + 16 * h + 4 * s)));
      }
      acc = L::add(acc, L::mullo(sum, L::load(w.scale[h])));
    }
    int32_t pair;  // bsums 2c, 2c + 1: the activations' sums over the chunk's two halves
    std::memcpy(&pair, x.bsums + 2 * c, sizeof(pair));
    const I bsums = L::set1(pair);
    if (w.offset != 0) {
      const I offsets = L::madd16(L::load(w.scale_pair[c]), bsums);
      acc = L::sub(acc, L::mullo(offsets, L::set1(w.offset)));
    }
    s1[c] = acc;
    s2[c] = w.has_min ? L::madd16(L::load(w.min_pair[c]), bsums) : L::zero();
  }
}
inline void k8_chunk_sums(const DecodedK8& w, const ActivationBlockQ8K& x, __m256i* s1, __m256i* s2) {
  k_rows_chunk_sums<Lanes8>(w, x, s1, s2);
}

}  // namespace kvs::kernels::detail
#endif
