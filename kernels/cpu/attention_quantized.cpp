#include "kernels/cpu/attention_quantized.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "kernels/cpu/half.h"

namespace kvs::kernels {
namespace {

constexpr int64_t kBlock = 32;
constexpr int64_t kMaxGroup = 4;  // queries handled together

template <KvDType D>
constexpr int64_t block_bytes() {
  return D == KvDType::Q8_0 ? 34 : 18;
}

inline float block_scale(const uint8_t* block) {
  uint16_t d;
  std::memcpy(&d, block, sizeof(d));
  return fp16_to_fp32(d);
}

// The 32 values of one block: code * d, exact in float.
template <KvDType D>
inline void decode_block(const uint8_t* block, float* v) {
  const float d = block_scale(block);
  const uint8_t* codes = block + 2;
  if constexpr (D == KvDType::Q8_0) {
    for (int j = 0; j < kBlock; ++j) v[j] = static_cast<float>(static_cast<int8_t>(codes[j])) * d;
  } else {
    for (int j = 0; j < kBlock / 2; ++j) {
      v[j] = static_cast<float>((codes[j] & 0x0f) - 8) * d;
      v[j + 16] = static_cast<float>((codes[j] >> 4) - 8) * d;
    }
  }
}

// Softmax of w[first, window) in place (see the header); logits, when
// given, receives the scores first.
void softmax_weights(float* w, int64_t first, int64_t window, float* logits) {
  if (logits != nullptr) {
    std::fill(logits, logits + first, -INFINITY);
    std::copy(w + first, w + window, logits + first);
  }
  float max_score = -INFINITY;
  for (int64_t p = first; p < window; ++p) max_score = std::max(max_score, w[p]);
  double sum = 0.0;
  for (int64_t p = first; p < window; ++p) {
    w[p] = std::exp(w[p] - max_score);
    sum += w[p];
  }
  const float inverse_sum = static_cast<float>(1.0 / sum);
  for (int64_t p = first; p < window; ++p) w[p] *= inverse_sum;
}

template <KvDType D>
void attend_reference(const float* q, int64_t q_stride, int64_t num_queries, const PagedRows<uint8_t>& keys,
                      const PagedRows<uint8_t>& values, int64_t head_dim, int64_t first, int64_t window,
                      float scale, QuantizedAttentionScratch& scratch, float* out, int64_t out_stride,
                      float* const* logits) {
  const int64_t num_blocks = head_dim / kBlock;
  scratch.weights.resize(static_cast<size_t>(window));
  float* w = scratch.weights.data();
  float v[kBlock];
  for (int64_t g = 0; g < num_queries; ++g) {
    const float* qg = q + g * q_stride;
    for (int64_t p = first; p < window; ++p) {
      const uint8_t* row = keys.row(p);
      float lanes[8] = {};
      for (int64_t b = 0; b < num_blocks; ++b) {
        decode_block<D>(row + b * block_bytes<D>(), v);
        for (int64_t j = 0; j < kBlock; ++j) lanes[j % 8] = std::fma(qg[b * kBlock + j], v[j], lanes[j % 8]);
      }
      w[p] = (((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))) *
             scale;
    }
    softmax_weights(w, first, window, logits != nullptr ? logits[g] : nullptr);
    float* og = out + g * out_stride;
    std::fill(og, og + head_dim, 0.0f);
    for (int64_t p = first; p < window; ++p) {
      const uint8_t* row = values.row(p);
      for (int64_t b = 0; b < num_blocks; ++b) {
        decode_block<D>(row + b * block_bytes<D>(), v);
        for (int64_t j = 0; j < kBlock; ++j) og[b * kBlock + j] = std::fma(w[p], v[j], og[b * kBlock + j]);
      }
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)
#define KVS_QUANTIZED_SIMD 1

// One block's 32 values, 8 per register: decode_block in registers.
template <KvDType D>
inline void load_block(const uint8_t* block, __m256* v) {
  const __m256 d = _mm256_set1_ps(block_scale(block));
  const uint8_t* codes = block + 2;
  __m128i bytes[4];
  if constexpr (D == KvDType::Q8_0) {
    for (int c = 0; c < 4; ++c) bytes[c] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + 8 * c));
  } else {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes));
    const __m128i mask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, mask), eight);
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), eight);
    bytes[0] = lo;
    bytes[1] = _mm_srli_si128(lo, 8);
    bytes[2] = hi;
    bytes[3] = _mm_srli_si128(hi, 8);
  }
  for (int c = 0; c < 4; ++c) v[c] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes[c])), d);
}

// Values 8c .. 8c + 7 of a block's codes as floats (not yet scaled).
template <KvDType D>
inline __m256 load_codes(const uint8_t* block, int c) {
  const uint8_t* codes = block + 2;
  if constexpr (D == KvDType::Q8_0) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + 8 * c))));
  } else {
    __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + 8 * (c & 1)));
    if (c >= 2) raw = _mm_srli_epi16(raw, 4);
    const __m128i nibbles = _mm_sub_epi8(_mm_and_si128(raw, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(nibbles));
  }
}

// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
inline float sum8(__m256 x) {
  const __m128 four = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

// G queries at once: each K and V block decoded once for all of them.
template <KvDType D, int G>
void attend_chunk(const float* q, int64_t q_stride, const PagedRows<uint8_t>& keys, const uint8_t* const* value_rows,
                  int64_t head_dim, int64_t first, int64_t window, float scale, float* weights, float* out,
                  int64_t out_stride, float* const* logits) {
  const int64_t num_blocks = head_dim / kBlock;
  __m256 v[4];
  // Four positions at a time: independent accumulator chains (each
  // position's operations are those of the one-position loop below).
  constexpr int kPositions = 4;
  int64_t p = first;
  for (; p + kPositions <= window; p += kPositions) {
    const uint8_t* rows[kPositions];
    for (int j = 0; j < kPositions; ++j) rows[j] = keys.row(p + j);
    __m256 acc[kPositions][G];
    for (int j = 0; j < kPositions; ++j) {
      for (int g = 0; g < G; ++g) acc[j][g] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < num_blocks; ++b) {
      __m256 d[kPositions];
      for (int j = 0; j < kPositions; ++j) d[j] = _mm256_set1_ps(block_scale(rows[j] + b * block_bytes<D>()));
      for (int c = 0; c < 4; ++c) {
        __m256 k[kPositions];
        for (int j = 0; j < kPositions; ++j) k[j] = _mm256_mul_ps(load_codes<D>(rows[j] + b * block_bytes<D>(), c), d[j]);
        for (int g = 0; g < G; ++g) {
          const __m256 qv = _mm256_loadu_ps(q + g * q_stride + b * kBlock + 8 * c);
          for (int j = 0; j < kPositions; ++j) acc[j][g] = _mm256_fmadd_ps(qv, k[j], acc[j][g]);
        }
      }
    }
    for (int j = 0; j < kPositions; ++j) {
      for (int g = 0; g < G; ++g) weights[g * window + p + j] = sum8(acc[j][g]) * scale;
    }
  }
  for (; p < window; ++p) {
    const uint8_t* row = keys.row(p);
    __m256 acc[G];
    for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t b = 0; b < num_blocks; ++b) {
      load_block<D>(row + b * block_bytes<D>(), v);
      for (int c = 0; c < 4; ++c) {
        for (int g = 0; g < G; ++g) {
          acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * q_stride + b * kBlock + 8 * c), v[c], acc[g]);
        }
      }
    }
    for (int g = 0; g < G; ++g) weights[g * window + p] = sum8(acc[g]) * scale;
  }
  for (int g = 0; g < G; ++g) softmax_weights(weights + g * window, first, window, logits != nullptr ? logits[g] : nullptr);
  for (int64_t b = 0; b < num_blocks; ++b) {
    __m256 acc[G][4];
    for (int g = 0; g < G; ++g) {
      for (int c = 0; c < 4; ++c) acc[g][c] = _mm256_setzero_ps();
    }
    for (int64_t p = first; p < window; ++p) {
      load_block<D>(value_rows[p] + b * block_bytes<D>(), v);
      for (int g = 0; g < G; ++g) {
        const __m256 w = _mm256_set1_ps(weights[g * window + p]);
        for (int c = 0; c < 4; ++c) acc[g][c] = _mm256_fmadd_ps(w, v[c], acc[g][c]);
      }
    }
    for (int g = 0; g < G; ++g) {
      for (int c = 0; c < 4; ++c) _mm256_storeu_ps(out + g * out_stride + b * kBlock + 8 * c, acc[g][c]);
    }
  }
}

template <KvDType D>
void attend_simd(const float* q, int64_t q_stride, int64_t num_queries, const PagedRows<uint8_t>& keys,
                 const PagedRows<uint8_t>& values, int64_t head_dim, int64_t first, int64_t window, float scale,
                 QuantizedAttentionScratch& scratch, float* out, int64_t out_stride, float* const* logits) {
  scratch.weights.resize(static_cast<size_t>(kMaxGroup * window));
  scratch.value_rows.resize(static_cast<size_t>(window));
  for (int64_t p = first; p < window; ++p) scratch.value_rows[p] = values.row(p);
  for (int64_t g0 = 0; g0 < num_queries; g0 += kMaxGroup) {
    const int64_t count = std::min(kMaxGroup, num_queries - g0);
    const auto run = [&](auto chunk) {
      attend_chunk<D, decltype(chunk)::value>(q + g0 * q_stride, q_stride, keys, scratch.value_rows.data(), head_dim,
                                              first, window, scale, scratch.weights.data(), out + g0 * out_stride,
                                              out_stride, logits != nullptr ? logits + g0 : nullptr);
    };
    switch (count) {
      case 4: run(std::integral_constant<int, 4>{}); break;
      case 3: run(std::integral_constant<int, 3>{}); break;
      case 2: run(std::integral_constant<int, 2>{}); break;
      default: run(std::integral_constant<int, 1>{}); break;
    }
  }
}
#endif

}  // namespace

void attend_group_quantized(KvDType dtype, const float* q, int64_t q_stride, int64_t num_queries,
                            const PagedRows<uint8_t>& keys, const PagedRows<uint8_t>& values, int64_t head_dim,
                            int64_t first, int64_t window, float scale, QuantizedAttentionScratch& scratch,
                            float* out, int64_t out_stride, float* const* logits) {
#ifdef KVS_QUANTIZED_SIMD
  if (dtype == KvDType::Q8_0) {
    return attend_simd<KvDType::Q8_0>(q, q_stride, num_queries, keys, values, head_dim, first, window, scale, scratch,
                                      out, out_stride, logits);
  }
  if (dtype == KvDType::Q4_0) {
    return attend_simd<KvDType::Q4_0>(q, q_stride, num_queries, keys, values, head_dim, first, window, scale, scratch,
                                      out, out_stride, logits);
  }
#else
  attend_group_quantized_reference(dtype, q, q_stride, num_queries, keys, values, head_dim, first, window, scale,
                                   scratch, out, out_stride, logits);
#endif
}

void attend_group_quantized_reference(KvDType dtype, const float* q, int64_t q_stride, int64_t num_queries,
                                      const PagedRows<uint8_t>& keys, const PagedRows<uint8_t>& values,
                                      int64_t head_dim, int64_t first, int64_t window, float scale,
                                      QuantizedAttentionScratch& scratch, float* out, int64_t out_stride,
                                      float* const* logits) {
  if (dtype == KvDType::Q8_0) {
    attend_reference<KvDType::Q8_0>(q, q_stride, num_queries, keys, values, head_dim, first, window, scale, scratch,
                                    out, out_stride, logits);
  } else if (dtype == KvDType::Q4_0) {
    attend_reference<KvDType::Q4_0>(q, q_stride, num_queries, keys, values, head_dim, first, window, scale, scratch,
                                    out, out_stride, logits);
  }
}

}  // namespace kvs::kernels
