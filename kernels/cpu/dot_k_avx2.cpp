// AVX2 K-quant dot products (contract in dot_k.h). Each mirrors, with our own
// code, the integer lanes and float operations of llama.cpp's x86
// ggml_vec_dot_q*_K_q8_K: 8-bit products summed pairwise by maddubs (no pair
// can saturate int16 for these code ranges), multiplied by the sub-block scale
// with madd into 8 int32 lanes, converted once per block and accumulated with
// fused multiply-adds.
#include "kernels/cpu/dot_k_avx2.h"

#ifdef KVS_DOT_AVX2
#include <cmath>

#include "kernels/cpu/half.h"
#include "kernels/cpu/k_block_sums.h"
#include "kernels/cpu/k_scales.h"

namespace kvs::kernels::detail {
namespace {

using k_decode::load256;
using k_decode::shift_right_16;
using k_decode::sum_lanes;
using simd::horizontal_sum;

// Scale vector for a 32-element chunk with two 16-element sub-blocks: int16
// lanes 0..7 (elements 0..15) hold `lo`, lanes 8..15 hold `hi`.
inline __m256i two_scales(int lo, int hi) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(hi)), _mm_set1_epi16(static_cast<int16_t>(lo)));
}

// 8 int32 lanes: scale(s) times the sums of 4 consecutive products of
// unsigned codes `u` (< 64) with the signed activations `x`.
inline __m256i scaled_products(__m256i u, __m256i x, __m256i scale) {
  return _mm256_madd_epi16(scale, _mm256_maddubs_epi16(u, x));
}

}  // namespace

namespace {

// Q2_K: 8 int32 lanes of the mins against the activations' sub-block sums.
inline __m256i q2_k_min_lanes(const BlockQ2_K& w, const ActivationBlockQ8K& x) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales));
  const __m128i mins8 = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
  return _mm256_madd_epi16(_mm256_cvtepi8_epi16(mins8), load256(x.bsums));
}

// Q2_K: 8 int32 lanes of the scale-weighted products.
inline __m256i q2_k_scaled_sums(const BlockQ2_K& w, const ActivationBlockQ8K& x) {
  const __m256i three = _mm256_set1_epi8(3);
  __m256i sums = _mm256_setzero_si256();
  for (int h = 0; h < 2; ++h) {
    const __m256i bits = load256(w.q + 32 * h);
    for (int s = 0; s < 4; ++s) {
      const int c = 4 * h + s;  // the 32-element chunk
      const __m256i codes = _mm256_and_si256(shift_right_16(bits, 2 * s), three);
      const __m256i scale = two_scales(w.scales[2 * c] & 0x0f, w.scales[2 * c + 1] & 0x0f);
      sums = _mm256_add_epi32(sums, scaled_products(codes, load256(x.q + 32 * c), scale));
    }
  }
  return sums;
}

}  // namespace

float dot_q2_k_avx2(const BlockQ2_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float d = x[b].d * fp16_to_fp32(w[b].d);
    const float dmin = -x[b].d * fp16_to_fp32(w[b].dmin);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(q2_k_min_lanes(w[b], x[b])), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q2_k_scaled_sums(w[b], x[b])), acc);
  }
  return horizontal_sum(acc);
}

float dot_q3_k_avx2(const BlockQ3_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float d = x[b].d * fp16_to_fp32(w[b].d);
    int8_t scales[16];
    unpack_q3_k_scales(w[b].scales, scales);
    const __m256i hmask = load256(w[b].hmask);
    __m256i sums = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = load256(w[b].q + 32 * h);
      for (int s = 0; s < 4; ++s) {
        const int c = 4 * h + s;
        const __m256i low = _mm256_and_si256(shift_right_16(bits, 2 * s), three);
        // 4 where the high bit is clear (code = low - 4), else 0.
        const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << c));
        const __m256i offset = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hmask, bit), _mm256_setzero_si256()), four);
        const __m256i xq = load256(x[b].q + 32 * c);
        const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(low, xq), _mm256_maddubs_epi16(offset, xq));
        sums = _mm256_add_epi32(sums, _mm256_madd_epi16(two_scales(scales[2 * c], scales[2 * c + 1]), pairs));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sums), acc);
  }
  return horizontal_sum(acc);
}

namespace {

// Q4_K / Q5_K: the mins' 4 int32 lanes (dot_k.cpp's min_lane_sums_8).
inline __m128i q45_min_lanes(const uint8_t* mins, const int16_t* bsums) {
  const __m128i sub_block_sums = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums)),
                                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8)));
  const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins)));
  return _mm_madd_epi16(mins16, sub_block_sums);
}

template <class Block, bool kFiveBits>
inline __m256i q45_scaled_sums(const Block& w, const ActivationBlockQ8K& x, const uint8_t* scales) {
  __m256i sums = _mm256_setzero_si256();
  k_decode::for_each_q45_chunk<Block, kFiveBits>(w, [&](int c, __m256i codes) {
    const __m256i scale = _mm256_set1_epi16(scales[c]);
    sums = _mm256_add_epi32(sums, scaled_products(codes, load256(x.q + 32 * c), scale));
  });
  return sums;
}

}  // namespace

float dot_q4_k_avx2(const BlockQ4_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_mins = _mm_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float d = x[b].d * fp16_to_fp32(w[b].d);
    const float dmin = -x[b].d * fp16_to_fp32(w[b].dmin);
    uint8_t scales[8], mins[8];
    unpack_q4_k_scales(w[b].scales, scales, mins);
    acc_mins = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(q45_min_lanes(mins, x[b].bsums)), acc_mins);
    const __m256i sums = q45_scaled_sums<BlockQ4_K, false>(w[b], x[b], scales);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sums), acc);
  }
  acc_mins = _mm_add_ps(acc_mins, _mm_movehl_ps(acc_mins, acc_mins));
  acc_mins = _mm_add_ss(acc_mins, _mm_movehdup_ps(acc_mins));
  return horizontal_sum(acc) + _mm_cvtss_f32(acc_mins);
}

void block_sums_q4_k_avx2(const BlockQ4_K& w, const ActivationBlockQ8K& x, int32_t* s1, int32_t* s2) {
  uint8_t scales[8], mins[8];
  unpack_q4_k_scales(w.scales, scales, mins);
  *s1 = sum_lanes(q45_scaled_sums<BlockQ4_K, false>(w, x, scales));
  *s2 = sum_lanes(_mm256_set_m128i(_mm_setzero_si128(), q45_min_lanes(mins, x.bsums)));
}

void block_sums_q2_k_avx2(const BlockQ2_K& w, const ActivationBlockQ8K& x, int32_t* s1, int32_t* s2) {
  *s1 = sum_lanes(q2_k_scaled_sums(w, x));
  *s2 = sum_lanes(q2_k_min_lanes(w, x));
}

float dot_q5_k_avx2(const BlockQ5_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  float mins_total = 0.0f;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float d = x[b].d * fp16_to_fp32(w[b].d);
    const float dmin = -x[b].d * fp16_to_fp32(w[b].dmin);
    uint8_t scales[8], mins[8];
    unpack_q4_k_scales(w[b].scales, scales, mins);
    const __m128i lanes = q45_min_lanes(mins, x[b].bsums);
    const __m128i pairs = _mm_hadd_epi32(lanes, _mm_setzero_si128());
    const int32_t min_sum = _mm_cvtsi128_si32(_mm_hadd_epi32(pairs, _mm_setzero_si128()));
    mins_total = std::fma(dmin, static_cast<float>(min_sum), mins_total);
    const __m256i sums = q45_scaled_sums<BlockQ5_K, true>(w[b], x[b], scales);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sums), acc);
  }
  return horizontal_sum(acc) + mins_total;
}

float dot_q6_k_avx2(const BlockQ6_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float d = x[b].d * fp16_to_fp32(w[b].d);
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales)));
    // The codes' -32 offset, per lane: 32 * (bsums[2l] * scale[2l] + bsums[2l + 1] * scale[2l + 1]).
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load256(x[b].bsums), scales16), 5);
    __m256i sums = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load256(w[b].ql + 64 * h), ql1 = load256(w[b].ql + 64 * h + 32);
      const __m256i qh = load256(w[b].qh + 32 * h);
      for (int s = 0; s < 4; ++s) {
        const int c = 4 * h + s;
        // Chunk s of the half: low nibbles of ql0, of ql1, then high nibbles of each.
        const __m256i source = (s % 2 == 0) ? ql0 : ql1;
        const __m256i low = _mm256_and_si256(shift_right_16(source, 4 * (s / 2)), low4);
        const __m256i high = _mm256_slli_epi16(_mm256_and_si256(shift_right_16(qh, 2 * s), three), 4);
        const __m256i codes = _mm256_or_si256(low, high);  // 0..63
        const __m256i scale = two_scales(w[b].scales[2 * c], w[b].scales[2 * c + 1]);
        sums = _mm256_add_epi32(sums, scaled_products(codes, load256(x[b].q + 32 * c), scale));
      }
    }
    sums = _mm256_sub_epi32(sums, offset);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sums), acc);
  }
  return horizontal_sum(acc);
}

}  // namespace kvs::kernels::detail
#endif
