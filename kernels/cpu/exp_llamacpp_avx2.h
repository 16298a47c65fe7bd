#pragma once
// exp_llamacpp (llamacpp_arith.h) on 8 floats at once, for builds with AVX2
// and FMA but not AVX-512 (which use exp16_llamacpp): the same fused
// multiply-adds on the same operands in each lane, then j * 2^n rounded once
// as (j * 2^h) * 2^(n - h) with h = n >> 1 (|h|, |n - h| <= 96 and j in
// [0.5, 2), so the first product is exact and only the second rounds, as the
// scalar form's scaling does), so every lane is bit-identical to the scalar
// function: overflow to +inf and underflow to 0 (|n| > 192) included; a NaN
// input gives NaN. Defines KVS_HAVE_EXP8 where available.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include <cmath>

#define KVS_HAVE_EXP8 1

namespace kvs::kernels {

inline __m256 exp8_llamacpp(__m256 x) {
  const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shifter);
  const __m256 n = _mm256_sub_ps(z, shifter);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  // 2^h and 2^(n - h) built in the exponent field (n is integral; lanes out
  // of range or NaN get garbage here and are replaced below / stay NaN via j).
  const __m256i e = _mm256_cvtps_epi32(n);
  const __m256i h = _mm256_srai_epi32(e, 1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 power_h = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
  const __m256 power_rest = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(e, h), bias), 23));
  const __m256 scaled = _mm256_mul_ps(_mm256_mul_ps(j, power_h), power_rest);
  // |n| > 192 (ordered: NaN lanes keep `scaled`, NaN since j is): 0 below, +inf above.
  const __m256 magnitude = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 out_of_range = _mm256_cmp_ps(magnitude, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  if (_mm256_movemask_ps(out_of_range) == 0) return scaled;
  const __m256 saturated = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(INFINITY));
  return _mm256_blendv_ps(scaled, saturated, out_of_range);
}

}  // namespace kvs::kernels
#endif
