#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/dequantize_blocks.h"
#include "kernels/cpu/half.h"

namespace kvs::kernels {
namespace {

float round_through_fp16(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }

}  // namespace

void dequantize_row(WeightFormat format, const void* row, float* out, int64_t n) {
  const int64_t num_blocks = n / kQuantBlock;
  switch (format) {
    case WeightFormat::F32:
      std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
      return;
    case WeightFormat::Q8_0: {
      const auto* blocks = static_cast<const BlockQ8_0*>(row);
      for (int64_t b = 0; b < num_blocks; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int j = 0; j < kQuantBlock; ++j) out[b * kQuantBlock + j] = blocks[b].q[j] * d;
      }
      return;
    }
    case WeightFormat::Q4_0: {
      const auto* blocks = static_cast<const BlockQ4_0*>(row);
      for (int64_t b = 0; b < num_blocks; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          out[b * kQuantBlock + j] = (static_cast<int>(blocks[b].q[j] & 0x0f) - 8) * d;
          out[b * kQuantBlock + j + 16] = (static_cast<int>(blocks[b].q[j] >> 4) - 8) * d;
        }
      }
      return;
    }
    case WeightFormat::Q4_1: {
      const auto* blocks = static_cast<const BlockQ4_1*>(row);
      for (int64_t b = 0; b < num_blocks; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        const float m = fp16_to_fp32(blocks[b].m);
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          out[b * kQuantBlock + j] = (blocks[b].q[j] & 0x0f) * d + m;
          out[b * kQuantBlock + j + 16] = (blocks[b].q[j] >> 4) * d + m;
        }
      }
      return;
    }
    case WeightFormat::Q5_0: return detail::dequantize_q5_0(static_cast<const BlockQ5_0*>(row), out, num_blocks);
    case WeightFormat::Q5_1: return detail::dequantize_q5_1(static_cast<const BlockQ5_1*>(row), out, num_blocks);
    case WeightFormat::IQ4_NL:
      return detail::dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(row), out, num_blocks);
    case WeightFormat::Q2_K:
      return detail::dequantize_q2_k(static_cast<const BlockQ2_K*>(row), out, n / kQuantBlockK);
    case WeightFormat::Q3_K:
      return detail::dequantize_q3_k(static_cast<const BlockQ3_K*>(row), out, n / kQuantBlockK);
    case WeightFormat::Q4_K:
      return detail::dequantize_q4_k(static_cast<const BlockQ4_K*>(row), out, n / kQuantBlockK);
    case WeightFormat::Q5_K:
      return detail::dequantize_q5_k(static_cast<const BlockQ5_K*>(row), out, n / kQuantBlockK);
    case WeightFormat::Q6_K:
      return detail::dequantize_q6_k(static_cast<const BlockQ6_K*>(row), out, n / kQuantBlockK);
  }
}

void quantize_activations(const float* x, ActivationBlockQ8* out, int64_t n) {
#if defined(__AVX512F__)
  // The same values 16 lanes at a time: the max of |v| is exact in any order
  // (NaN skipped, as std::max skips it: maxps returns its second operand when
  // either is NaN), v * inverse is the same product, cvtps rounds to nearest
  // even as nearbyint does (default rounding mode), and the integer sum is exact.
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* v = x + b * kQuantBlock;
    const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
    const __m512 max0 = _mm512_maskz_max_ps(0xFFFF, _mm512_abs_ps(v0), _mm512_setzero_ps());
    const float amax = _mm512_reduce_max_ps(_mm512_maskz_max_ps(0xFFFF, _mm512_abs_ps(v1), max0));
    const float d = amax / 127.0f;
    const __m512 inverse = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, inverse));
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, inverse));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].q), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].q + 16), _mm512_cvtepi32_epi8(q1));
    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    out[b].d = round_through_fp16(d);
    out[b].sum_q = sum;
    out[b].d_times_sum = round_through_fp16(d * static_cast<float>(sum));
  }
#elif defined(__AVX2__)
  // The same values 8 lanes at a time, as the AVX-512 form above (the AVX2
  // build's matmuls: the reference took a few percent of a 64-token matmul).
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* v = x + b * kQuantBlock;
    __m256 values[4];
    __m256 max = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      values[i] = _mm256_loadu_ps(v + 8 * i);
      max = _mm256_max_ps(_mm256_andnot_ps(sign_bit, values[i]), max);
    }
    __m128 max4 = _mm_max_ps(_mm256_castps256_ps128(max), _mm256_extractf128_ps(max, 1));
    max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
    const float amax = _mm_cvtss_f32(_mm_max_ss(max4, _mm_movehdup_ps(max4)));
    const float d = amax / 127.0f;
    const __m256 inverse = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(values[i], inverse));
    // int32 -> int8 (no value saturates), then the dwords back in element order
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q),
                        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    const __m256i sums = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i sum4 = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
    sum4 = _mm_add_epi32(sum4, _mm_unpackhi_epi64(sum4, sum4));
    const int32_t sum = _mm_cvtsi128_si32(_mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 1)));
    out[b].d = round_through_fp16(d);
    out[b].sum_q = sum;
    out[b].d_times_sum = round_through_fp16(d * static_cast<float>(sum));
  }
#else
  quantize_activations_reference(x, out, n);
#endif
}

void quantize_activations_reference(const float* x, ActivationBlockQ8* out, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* v = x + b * kQuantBlock;
    float amax = 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(v[j]));
    const float d = amax / 127.0f;
    const float inverse = amax != 0.0f ? 127.0f / amax : 0.0f;  // as ggml's SIMD quantizers
    int32_t sum = 0;
    for (int j = 0; j < kQuantBlock; ++j) {
      const int q = static_cast<int>(std::nearbyint(v[j] * inverse));
      out[b].q[j] = static_cast<int8_t>(q);
      sum += q;
    }
    out[b].d = round_through_fp16(d);
    out[b].sum_q = sum;
    out[b].d_times_sum = round_through_fp16(d * static_cast<float>(sum));
  }
}

void quantize_row_q8_0(const float* x, BlockQ8_0* out, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* v = x + b * kQuantBlock;
    float amax = 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(v[j]));
    const float d = amax / 127.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQuantBlock; ++j) out[b].q[j] = static_cast<int8_t>(std::lround(v[j] * inverse));
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* out, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* v = x + b * kQuantBlock;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) {
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    }
    const float d = max / -8.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(v[j] * inverse + 8.5f));
      const int hi = std::min(15, static_cast<int>(v[j + 16] * inverse + 8.5f));
      out[b].q[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* out, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* v = x + b * kQuantBlock;
    float min = v[0], max = v[0];
    for (int j = 1; j < kQuantBlock; ++j) {
      min = std::min(min, v[j]);
      max = std::max(max, v[j]);
    }
    const float d = (max - min) / 15.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = fp32_to_fp16(d);
    out[b].m = fp32_to_fp16(min);
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      const int lo = std::min(15, static_cast<int>((v[j] - min) * inverse + 0.5f));
      const int hi = std::min(15, static_cast<int>((v[j + 16] - min) * inverse + 0.5f));
      out[b].q[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

}  // namespace kvs::kernels
