#include "kernels/cpu/dot.h"

#include <cmath>

#include "kernels/cpu/half.h"

#include "kernels/cpu/dot_q5_iq4.h"
#include "kernels/cpu/dot_simd.h"

namespace kvs::kernels {

float dot_quantized_reference(WeightFormat format, const void* w_row, const ActivationBlockQ8* x,
                              int64_t num_blocks) {
  float total = 0.0f;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int32_t sum = 0;
    switch (format) {
      case WeightFormat::Q8_0: {
        const auto& w = static_cast<const BlockQ8_0*>(w_row)[b];
        for (int j = 0; j < kQuantBlock; ++j) sum += w.q[j] * x[b].q[j];
        total += sum * (fp16_to_fp32(w.d) * x[b].d);
        break;
      }
      case WeightFormat::Q4_0: {
        const auto& w = static_cast<const BlockQ4_0*>(w_row)[b];
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          sum += ((w.q[j] & 0x0f) - 8) * x[b].q[j] + ((w.q[j] >> 4) - 8) * x[b].q[j + 16];
        }
        total += sum * (fp16_to_fp32(w.d) * x[b].d);
        break;
      }
      case WeightFormat::Q4_1: {
        const auto& w = static_cast<const BlockQ4_1*>(w_row)[b];
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          sum += (w.q[j] & 0x0f) * x[b].q[j] + (w.q[j] >> 4) * x[b].q[j + 16];
        }
        total += sum * (fp16_to_fp32(w.d) * x[b].d) + fp16_to_fp32(w.m) * x[b].d_times_sum;
        break;
      }
      case WeightFormat::Q5_0:
        return detail::dot_q5_0_reference(static_cast<const BlockQ5_0*>(w_row), x, num_blocks);
      case WeightFormat::Q5_1:
        return detail::dot_q5_1_reference(static_cast<const BlockQ5_1*>(w_row), x, num_blocks);
      case WeightFormat::IQ4_NL:
        return detail::dot_iq4_nl_reference(static_cast<const BlockIQ4_NL*>(w_row), x, num_blocks);
      default:
        return 0.0f;  // F32 and the K-quants (dot_k.h) are not this function's formats
    }
  }
  return total;
}

#ifdef KVS_DOT_AVX2
namespace {

using simd::dot_unsigned_signed;
using simd::horizontal_sum;
using simd::unpack_nibbles;

float dot_q4_1(const BlockQ4_1* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].q));
    const __m256 products = dot_unsigned_signed(unpack_nibbles(w[b].q), xq);
    acc = _mm256_fmadd_ps(products, _mm256_set1_ps(fp16_to_fp32(w[b].d) * x[b].d), acc);
    // NOTE: fused, as GCC compiles llama.cpp's `summs += m * s`.
    offsets = std::fma(fp16_to_fp32(w[b].m), x[b].d_times_sum, offsets);
  }
  return horizontal_sum(acc) + offsets;
}

float dot_q4_0(const BlockQ4_0* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256i wq = _mm256_sub_epi8(unpack_nibbles(w[b].q), _mm256_set1_epi8(8));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].q));
    // maddubs needs an unsigned operand: |w| * (x with w's sign).
    const __m256 products = dot_unsigned_signed(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
    acc = _mm256_fmadd_ps(products, _mm256_set1_ps(fp16_to_fp32(w[b].d) * x[b].d), acc);
  }
  return horizontal_sum(acc);
}

float dot_q8_0(const BlockQ8_0* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].q));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].q));
    const __m256 products = dot_unsigned_signed(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
    acc = _mm256_fmadd_ps(products, _mm256_set1_ps(fp16_to_fp32(w[b].d) * x[b].d), acc);
  }
  return horizontal_sum(acc);
}

}  // namespace
#endif

float dot_quantized(WeightFormat format, const void* w_row, const ActivationBlockQ8* x,
                    int64_t num_blocks) {
#ifdef KVS_DOT_AVX2
  switch (format) {
    case WeightFormat::Q4_1: return dot_q4_1(static_cast<const BlockQ4_1*>(w_row), x, num_blocks);
    case WeightFormat::Q4_0: return dot_q4_0(static_cast<const BlockQ4_0*>(w_row), x, num_blocks);
    case WeightFormat::Q8_0: return dot_q8_0(static_cast<const BlockQ8_0*>(w_row), x, num_blocks);
    case WeightFormat::Q5_0: return detail::dot_q5_0_avx2(static_cast<const BlockQ5_0*>(w_row), x, num_blocks);
    case WeightFormat::Q5_1: return detail::dot_q5_1_avx2(static_cast<const BlockQ5_1*>(w_row), x, num_blocks);
    case WeightFormat::IQ4_NL:
      return detail::dot_iq4_nl_avx2(static_cast<const BlockIQ4_NL*>(w_row), x, num_blocks);
    default: return 0.0f;
  }
#else
  return dot_quantized_reference(format, w_row, x, num_blocks);
#endif
}

}  // namespace kvs::kernels
