// quantize_activations_q8_k (quantize.h): the arithmetic of ggml's
// quantize_row_q8_K_ref, which llama.cpp's x86 quantize_row_q8_K calls.
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/quantize.h"

namespace kvs::kernels {

void quantize_activations_q8_k_reference(const float* x, ActivationBlockQ8K* out, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlockK; ++b) {
    const float* v = x + b * kQuantBlockK;
    ActivationBlockQ8K& block = out[b];
    float amax = 0.0f, max = 0.0f;  // the first element of largest magnitude, with its sign
    for (int j = 0; j < kQuantBlockK; ++j) {
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&block, 0, sizeof(block));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQuantBlockK; ++j) {
      // NOTE: nearbyint rounds half to even, as ggml's nearest_int
      // (the 1.5 * 2^23 trick) does for these magnitudes (<= 127). A
      // product that is not finite (iscale overflows for a block whose
      // largest magnitude is below about 3.7e-37) is 0 there.
      const float product = iscale * v[j];
      const int q = std::isfinite(product) ? static_cast<int>(std::nearbyint(product)) : 0;
      block.q[j] = static_cast<int8_t>(q < 127 ? q : 127);
    }
    for (int k = 0; k < kQuantBlockK / 16; ++k) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += block.q[16 * k + j];
      block.bsums[k] = static_cast<int16_t>(sum);
    }
    block.d = 1.0f / iscale;
  }
}

#if defined(__AVX2__)
// The reference's operations eight elements at a time: the largest magnitude
// (max of |x|, NaN skipped as the reference's comparison skips it), the first
// element that has it, the same product iscale * x rounded half to even, the
// same cap at 127, exact integer block sums.
void quantize_activations_q8_k(const float* x, ActivationBlockQ8K* out, int64_t n) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / kQuantBlockK; ++b) {
    const float* v = x + b * kQuantBlockK;
    ActivationBlockQ8K& block = out[b];
    __m256 amax8 = _mm256_setzero_ps();
    for (int j = 0; j < kQuantBlockK; j += 8) {
      // max_ps returns its second operand when either is NaN: a NaN |x| is skipped
      amax8 = _mm256_max_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(v + j)), amax8);
    }
    __m128 four = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    four = _mm_max_ps(four, _mm_movehl_ps(four, four));
    const float amax = _mm_cvtss_f32(_mm_max_ss(four, _mm_movehdup_ps(four)));
    if (amax == 0.0f) {
      std::memset(&block, 0, sizeof(block));
      continue;
    }
    int first = 0;
    while (std::fabs(v[first]) != amax) ++first;
    const float iscale = -127.0f / v[first];
    const __m256 scale = _mm256_set1_ps(iscale);
    for (int j = 0; j < kQuantBlockK; j += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        const __m256 product = _mm256_mul_ps(scale, _mm256_loadu_ps(v + j + 8 * k));
        const __m256 rounded = _mm256_round_ps(product, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256 finite = _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, product),
                                            _mm256_set1_ps(std::numeric_limits<float>::max()), _CMP_LE_OQ);
        q[k] = _mm256_and_si256(_mm256_min_epi32(_mm256_cvtps_epi32(rounded), _mm256_set1_epi32(127)),
                                _mm256_castps_si256(finite));
      }
      // packs work per 128-bit lane; the permute puts the 32 bytes back in order
      const __m256i words = _mm256_packs_epi32(q[0], q[1]), words2 = _mm256_packs_epi32(q[2], q[3]);
      const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words, words2),
                                                        _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(block.q + j), bytes);
      // bsums of the two 16-element groups: sign-extend to 16 bits, pairwise-add, then sum each half
      const __m256i lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(bytes));
      const __m256i hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(bytes, 1));
      for (int half = 0; half < 2; ++half) {
        const __m256i pairs = _mm256_madd_epi16(half == 0 ? lo : hi, _mm256_set1_epi16(1));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        block.bsums[j / 16 + half] = static_cast<int16_t>(_mm_cvtsi128_si32(s4));
      }
    }
    block.d = 1.0f / iscale;
  }
}
#else
void quantize_activations_q8_k(const float* x, ActivationBlockQ8K* out, int64_t n) {
  quantize_activations_q8_k_reference(x, out, n);
}
#endif

}  // namespace kvs::kernels
