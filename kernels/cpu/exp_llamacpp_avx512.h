#pragma once
// exp_llamacpp (llamacpp_arith.h) on 16 floats at once: the same fused
// multiply-adds on the same operands in each lane, scaled by 2^n with one
// rounding (vscalefps; the scalar form's two-step scaling rounds once too),
// so every lane is bit-identical to the scalar function, NaN, overflow to
// +inf and underflow to 0 (|n| > 192) included. AVX-512F builds only
// (KVS_HAVE_EXP16); other builds use the scalar function.
#if defined(__AVX512F__)
#include <immintrin.h>

#define KVS_HAVE_EXP16 1

namespace kvs::kernels {

inline __m512 exp16_llamacpp(__m512 x) {
  const __m512 shifter = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shifter);
  const __m512 n = _mm512_sub_ps(z, shifter);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  // (maskz forms: GCC 12 warns about the unmasked ones' undefined pass-through.)
  const __m512 scaled = _mm512_maskz_scalef_ps(0xFFFF, j, n);
  // |n| > 192 (ordered: NaN lanes keep `scaled`, which is NaN): 0 below, +inf above.
  const __mmask16 out_of_range = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  if (out_of_range == 0) return scaled;
  const __mmask16 positive = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __m512 saturated = _mm512_mask_blend_ps(positive, _mm512_setzero_ps(), _mm512_set1_ps(INFINITY));
  return _mm512_mask_blend_ps(out_of_range, scaled, saturated);
}

}  // namespace kvs::kernels
#endif
