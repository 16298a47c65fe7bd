#pragma once
// The AVX2 copy's K-quant matmul tiles: the exact integer block sums of
// k_block_sums.h (s1 = sum of scale * value * x, s2 = sum of min * bsum) for
// 8 weight rows (in 32-bit lanes, lane r = row r; or 16 rows in two such
// tiles) against up to 4 tokens (2 with 16 rows) at once. Each code vector is
// loaded once per token group and each activation broadcast serves every row
// of the tile; the maddubs pairs of a sub-block add up in int16 and meet their
// scale in one madd (no mullo, no madd by 1). Only the integer work differs
// from k_rows8.h's k_rows_chunk_sums; the sums are the same integers, so the
// float epilogues of dot_k_tiled.cpp and dot_repack.cpp (llama.cpp's orders)
// give the same bits. Blocks are decoded straight from the packed rows
// (Q4_K, Q6_K) or through decode_k_block (the other K-quants). Built where
// AVX2 is and 512-bit lanes are not (KVS_K_ROWS16 builds keep k_rows8.h's
// kernels); internal to kernels/cpu.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/k_block_sums.h"
#include "kernels/cpu/k_rows8.h"
#include "kernels/cpu/k_scales.h"

#if defined(KVS_K_ROWS8) && !defined(KVS_K_ROWS16)
#define KVS_K_TILE8 1

namespace kvs::kernels::detail {

// One 256-element block of 8 rows. code: as DecodedKRows<8>::code (h: 16-element
// sub-block, s: step of 4 elements; bytes 4r..4r+3 = row r). scale2[h]: int16
// lanes 2r and 2r + 1 both hold row r's scale of sub-block h (the madd operand
// of a maddubs sum). scale_pair / min_pair[c]: lanes 2r, 2r + 1 = row r's
// (scale16 or min16)[2c], [2c + 1] (the madd operands of chunk c's two bsums).
struct DecodedK8Tile {
  alignas(64) uint8_t code[16][4][32];
  alignas(64) int32_t scale2[16][8];
  alignas(64) int16_t scale_pair[8][16];
  alignas(64) int16_t min_pair[8][16];
  alignas(32) float d[8], dmin[8];
};

// Per format: how many maddubs results (4 elements x 8 rows each) may add up
// in int16 before the madd by their scale, staying within one scale and
// below 2^15 (|x| <= 128: max code * 128 * 2 per maddubs lane); the code
// offset as a shift (value = code - (1 << shift); 0: none); and how many
// 8-row tiles share each activation broadcast in the matmul tiles (2 for
// Q4_K: 16 rows x 2 tokens beat 8 x 4 there, ~130 vs ~125 GMAC/s on one Zen 5
// core at 64 tokens; Q6_K went the other way, ~125 vs ~132).
struct KTile8Traits {
  int steps16;
  int offset_shift;
  bool has_min;
  int tiles;
};
constexpr KTile8Traits k_tile8_traits(WeightFormat format) {
  switch (format) {
    case WeightFormat::Q2_K: return {4, 0, true, 1};   // codes <= 3, 16-element scales
    case WeightFormat::Q3_K: return {4, 2, false, 1};  // codes <= 7, offset 4, 16-element scales
    case WeightFormat::Q4_K: return {8, 0, true, 2};   // codes <= 15 (8 x 3840 < 2^15), 32-element scales
    case WeightFormat::Q5_K: return {4, 0, true, 1};   // codes <= 31 (4 x 7936 < 2^15)
    case WeightFormat::Q6_K: return {2, 5, false, 1};  // codes <= 63 (2 x 16128 < 2^15), offset 32
    default: return {0, 0, false, 1};
  }
}

namespace k_tile8 {
inline __m256i load(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }
inline __m256i load_u(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store(void* p, __m256i v) { _mm256_store_si256(static_cast<__m256i*>(p), v); }
inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}
// out[j] lane r = in[r] lane j (8 x 8 int32 transpose).
inline void transpose8(const __m256i* in, __m256i* out) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    out[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
    out[4 + j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
  }
}

// Makes v a value in a register here: the sums stay one chain per token (GCC
// would otherwise reassociate them into trees whose partial sums spill).
inline void keep(__m256i& v) { asm("" : "+x"(v)); }

// Int32 lanes v (int16 range) -> int16 pairs (v, v).
inline __m256i dup16(__m256i v) {
  return _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(v, 16));
}
}  // namespace k_tile8

// Q4_K straight from the packed blocks: the rows' quant bytes transposed 4
// at a time, then split into low nibbles (elements 64j + 4k ..) and high
// nibbles (64j + 32 + 4k ..); the 6-bit scales and mins per row.
inline void decode_q4_k_tile(const uint8_t* w_rows, size_t row_bytes, int64_t b, DecodedK8Tile* out) {
  const BlockQ4_K* blocks[8];
  __m256i scales[8], mins[8], cols[8];
  for (int r = 0; r < 8; ++r) {
    blocks[r] = reinterpret_cast<const BlockQ4_K*>(w_rows + r * row_bytes) + b;
    alignas(8) uint8_t scales8[8], mins8[8];
    unpack_q4_k_scales(blocks[r]->scales, scales8, mins8);
    scales[r] = k_tile8::dup16(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales8))));
    mins[r] = k_tile8::dup16(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins8))));
    out->d[r] = fp16_to_fp32(blocks[r]->d);
    out->dmin[r] = fp16_to_fp32(blocks[r]->dmin);
  }
  k_tile8::transpose8(scales, cols);  // cols[c]: the scale of 32-element sub-block c, both its halves
  for (int c = 0; c < 8; ++c) {
    k_tile8::store(out->scale2[2 * c], cols[c]);
    k_tile8::store(out->scale2[2 * c + 1], cols[c]);
  }
  k_tile8::transpose8(mins, cols);
  for (int c = 0; c < 8; ++c) k_tile8::store(out->min_pair[c], cols[c]);
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  for (int j = 0; j < 4; ++j) {
    __m256i bytes[8];
    for (int r = 0; r < 8; ++r) bytes[r] = k_tile8::load_u(blocks[r]->q + 32 * j);
    k_tile8::transpose8(bytes, cols);
    for (int k = 0; k < 8; ++k) {
      k_tile8::store(out->code[4 * j + k / 4][k % 4], _mm256_and_si256(cols[k], nibble));
      k_tile8::store(out->code[4 * j + 2 + k / 4][k % 4], _mm256_and_si256(_mm256_srli_epi16(cols[k], 4), nibble));
    }
  }
}

// Q6_K straight from the packed blocks: per 128-element half, the rows' ql
// and qh bytes transposed, then each chunk's low 4 and high 2 bits joined;
// the int8 scales widened and transposed.
inline void decode_q6_k_tile(const uint8_t* w_rows, size_t row_bytes, int64_t b, DecodedK8Tile* out) {
  const BlockQ6_K* blocks[8];
  __m256i pairs[8], low_h[8], high_h[8], cols[8];
  for (int r = 0; r < 8; ++r) {
    blocks[r] = reinterpret_cast<const BlockQ6_K*>(w_rows + r * row_bytes) + b;
    const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks[r]->scales)));
    pairs[r] = s16;                               // int32 c: scales 2c, 2c + 1
    low_h[r] = _mm256_unpacklo_epi16(s16, s16);   // int32 k: scale k (k < 4), k + 4 (k >= 4), twice
    high_h[r] = _mm256_unpackhi_epi16(s16, s16);  // int32 k: scale k + 4 (k < 4), k + 8 (k >= 4), twice
    out->d[r] = fp16_to_fp32(blocks[r]->d);
    out->dmin[r] = 0.0f;
  }
  k_tile8::transpose8(pairs, cols);
  for (int c = 0; c < 8; ++c) k_tile8::store(out->scale_pair[c], cols[c]);
  k_tile8::transpose8(low_h, cols);
  for (int k = 0; k < 8; ++k) k_tile8::store(out->scale2[k < 4 ? k : k + 4], cols[k]);
  k_tile8::transpose8(high_h, cols);
  for (int k = 0; k < 8; ++k) k_tile8::store(out->scale2[k < 4 ? k + 4 : k + 8], cols[k]);
  const __m256i nibble = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
  for (int half = 0; half < 2; ++half) {
    __m256i bytes[8], ql0[8], ql1[8], qh[8];
    for (int r = 0; r < 8; ++r) bytes[r] = k_tile8::load_u(blocks[r]->ql + 64 * half);
    k_tile8::transpose8(bytes, ql0);
    for (int r = 0; r < 8; ++r) bytes[r] = k_tile8::load_u(blocks[r]->ql + 64 * half + 32);
    k_tile8::transpose8(bytes, ql1);
    for (int r = 0; r < 8; ++r) bytes[r] = k_tile8::load_u(blocks[r]->qh + 32 * half);
    k_tile8::transpose8(bytes, qh);
    for (int k = 0; k < 8; ++k) {
      for (int s = 0; s < 4; ++s) {  // chunk 4 * half + s, elements 4k .. 4k + 3 of it
        const __m256i ql = s % 2 == 0 ? ql0[k] : ql1[k];
        const __m256i low = _mm256_and_si256(s < 2 ? ql : _mm256_srli_epi16(ql, 4), nibble);
        // bits 2s, 2s + 1 of each qh byte moved to bits 4, 5 (the 16-bit shifts
        // carry across bytes only into bits the mask drops)
        const __m256i moved = s == 0   ? _mm256_slli_epi16(qh[k], 4)
                              : s == 1 ? _mm256_slli_epi16(qh[k], 2)
                              : s == 2 ? qh[k]
                                       : _mm256_srli_epi16(qh[k], 2);
        const __m256i high = _mm256_and_si256(moved, bits45);
        const int c = 4 * half + s;
        k_tile8::store(out->code[2 * c + k / 4][k % 4], _mm256_or_si256(low, high));
      }
    }
  }
}

// Decodes block `b` of rows w_rows[0..8) (`row_bytes` apart) of `format`.
inline void decode_k8_tile(WeightFormat format, const uint8_t* w_rows, size_t row_bytes, int64_t b,
                           DecodedK8Tile* out) {
  if (format == WeightFormat::Q4_K) return decode_q4_k_tile(w_rows, row_bytes, b, out);
  if (format == WeightFormat::Q6_K) return decode_q6_k_tile(w_rows, row_bytes, b, out);
  thread_local DecodedKBlock rows_storage[8];  // not on the stack: its initializers would zero it per call
  DecodedKBlock* rows = rows_storage;
  const size_t block_bytes = format_block_bytes(format);
  for (int r = 0; r < 8; ++r) {
    DecodedKBlock& row = rows[r];
    decode_k_block(format, w_rows + r * row_bytes + b * block_bytes, &row);
    for (int h = 0; h < 16; ++h) {
      const uint32_t s = static_cast<uint16_t>(row.scale16[h]);
      out->scale2[h][r] = static_cast<int32_t>(s | (s << 16));
    }
    for (int c = 0; c < 8; ++c) {
      std::memcpy(&out->scale_pair[c][2 * r], &row.scale16[2 * c], 4);
      std::memcpy(&out->min_pair[c][2 * r], &row.min16[2 * c], 4);
    }
    out->d[r] = row.d;
    out->dmin[r] = row.dmin;
  }
  for (int c = 0; c < 8; ++c) {  // chunk c of each row: int32 j is elements 32c + 4j .. + 3
    __m256i in[8], cols[8];
    for (int r = 0; r < 8; ++r) in[r] = k_tile8::load(rows[r].code + 32 * c);
    k_tile8::transpose8(in, cols);
    for (int j = 0; j < 8; ++j) k_tile8::store(out->code[2 * c + j / 4][j % 4], cols[j]);
  }
}

// s1[H * t + i][g], s2[H * t + i][g]: lane r holds the s1 and s2 (0 without
// mins) of row r of w[i] (H: 1 or 2 decoded 8-row tiles) against token x[t]
// over chunks [8g / G, 8(g + 1) / G) of the block (G: 1, 2, 4 or 8). Each
// activation broadcast serves the H tiles, each code vector the T tokens.
template <WeightFormat F, int T, int G, int H = 1>
inline void k8_tile_sums(const DecodedK8Tile* w, const ActivationBlockQ8K* const* x, __m256i (*s1)[G],
                         __m256i (*s2)[G]) {
  constexpr KTile8Traits k = k_tile8_traits(F);
  static_assert(k.steps16 == 2 || k.steps16 == 4 || k.steps16 == 8, "a K-quant format");
  constexpr int kChunks = 8 / G;  // per group
  // Chunk by chunk, each group's sums carried in s1 (a loop-carried register
  // sum for G = 1, memory otherwise: no sum lives in a register across a
  // group boundary, which made GCC spill).
  for (int c = 0; c < 8; ++c) {
    const int g = c / kChunks;
    const int8_t* xq[T];
    __m256i part[T * H], sum[T * H];
    for (int t = 0; t < T; ++t) xq[t] = x[t]->q + 32 * c;
    for (int j = 0; j < T * H; ++j) {
      part[j] = _mm256_setzero_si256();
      sum[j] = c % kChunks == 0 ? _mm256_setzero_si256() : s1[j][g];
    }
#pragma GCC unroll 8
    for (int step = 0; step < 8; ++step) {  // steps16 <= 8 never crosses a chunk
      __m256i code[H];  // the chunk's 8 steps of 4 elements, 32 bytes each
      for (int i = 0; i < H; ++i) code[i] = k_tile8::load(w[i].code[2 * c][0] + 32 * step);
      for (int t = 0; t < T; ++t) {
        const __m256i xv = k_tile8::bcast4(xq[t] + 4 * step);
        for (int i = 0; i < H; ++i) {
          const __m256i p = _mm256_maddubs_epi16(code[i], xv);
          __m256i& part_ti = part[H * t + i];
          part_ti = step % k.steps16 == 0 ? p : _mm256_add_epi16(part_ti, p);
          k_tile8::keep(part_ti);
        }
      }
      if ((step + 1) % k.steps16 == 0) {  // the sum so far shares sub-block 2c + step / 4's scale
        for (int i = 0; i < H; ++i) {
          const __m256i scale = k_tile8::load(w[i].scale2[2 * c + step / 4]);
          for (int t = 0; t < T; ++t) {
            __m256i& sum_ti = sum[H * t + i];
            sum_ti = _mm256_add_epi32(sum_ti, _mm256_madd_epi16(part[H * t + i], scale));
            k_tile8::keep(sum_ti);
          }
        }
      }
    }
    for (int j = 0; j < T * H; ++j) s1[j][g] = sum[j];
  }
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < H; ++i) {
      for (int g = 0; g < G; ++g) {
        __m256i mins = _mm256_setzero_si256(), offsets = _mm256_setzero_si256();
        for (int c = kChunks * g; c < kChunks * (g + 1); ++c) {
          const __m256i bsums = k_tile8::bcast4(x[t]->bsums + 2 * c);
          if constexpr (k.has_min) {
            mins = _mm256_add_epi32(mins, _mm256_madd_epi16(k_tile8::load(w[i].min_pair[c]), bsums));
          }
          if constexpr (k.offset_shift != 0) {
            offsets = _mm256_add_epi32(offsets, _mm256_madd_epi16(k_tile8::load(w[i].scale_pair[c]), bsums));
          }
        }
        __m256i& s1_tig = s1[H * t + i][g];
        if constexpr (k.offset_shift != 0) {
          s1_tig = _mm256_sub_epi32(s1_tig, _mm256_slli_epi32(offsets, k.offset_shift));
        }
        s2[H * t + i][g] = mins;
      }
    }
  }
}

// Calls f(std::integral_constant<WeightFormat, F>) for the K-quant `format`;
// false for any other format.
template <class Fn>
inline bool with_k_format(WeightFormat format, Fn f) {
  switch (format) {
    case WeightFormat::Q2_K: f(std::integral_constant<WeightFormat, WeightFormat::Q2_K>{}); return true;
    case WeightFormat::Q3_K: f(std::integral_constant<WeightFormat, WeightFormat::Q3_K>{}); return true;
    case WeightFormat::Q4_K: f(std::integral_constant<WeightFormat, WeightFormat::Q4_K>{}); return true;
    case WeightFormat::Q5_K: f(std::integral_constant<WeightFormat, WeightFormat::Q5_K>{}); return true;
    case WeightFormat::Q6_K: f(std::integral_constant<WeightFormat, WeightFormat::Q6_K>{}); return true;
    default: return false;
  }
}

// Calls f(std::integral_constant<int, T>{}, t) for tokens [0, num_tokens) in
// groups t .. t + T - 1 of T = kMax (4 or 2), then one group of those left.
template <int kMax, class Fn>
inline void for_token_groups(int64_t num_tokens, Fn f) {
  static_assert(kMax == 4 || kMax == 2, "groups of 4 or 2 tokens");
  int64_t t = 0;
  for (; t + kMax <= num_tokens; t += kMax) f(std::integral_constant<int, kMax>{}, t);
  switch (num_tokens - t) {
    case 3: if constexpr (kMax > 3) f(std::integral_constant<int, 3>{}, t); break;
    case 2: if constexpr (kMax > 2) f(std::integral_constant<int, 2>{}, t); break;
    case 1: f(std::integral_constant<int, 1>{}, t); break;
    default: break;
  }
}

}  // namespace kvs::kernels::detail
#endif
