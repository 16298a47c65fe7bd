#include "kernels/cpu/activation.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/cpu_isa_entry.h"
#include "kernels/cpu/exp_llamacpp_avx2.h"
#include "kernels/cpu/exp_llamacpp_avx512.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/llamacpp_arith.h"

namespace kvs::kernels {

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  if (detail::route_to_avx512()) return isa_avx512::silu_mul(gate, up, out, n);  // its 16-wide exp
  const int64_t vector_part = n - n % 16;
#ifdef KVS_HAVE_EXP16
  // The same operations 16 lanes at a time (exp16_llamacpp equals
  // exp_llamacpp lane for lane; one division, one multiplication).
  for (int64_t i = 0; i < vector_part; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 e = exp16_llamacpp(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
  }
#elif defined(KVS_HAVE_EXP8)
  // x86-64-v3: the same operations 8 lanes at a time (exp8_llamacpp equals
  // exp_llamacpp lane for lane).
  for (int64_t i = 0; i < vector_part; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp8_llamacpp(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
#else
  for (int64_t i = 0; i < vector_part; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + exp_llamacpp(0.0f - g)) * up[i];
  }
#endif
  for (int64_t i = vector_part; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

float gelu_tanh(float x) {
  constexpr float kSqrtTwoOverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefficient = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrtTwoOverPi * x * (1.0f + kCoefficient * x * x)));
}

namespace {

// gelu_tanh as GCC compiles ggml's ggml_gelu_f32 (C, -ffp-contract=fast):
// 1 + 0.044715 x x becomes fma(0.044715 x, x, 1). Of the 65,536 table
// entries, one (x = -1.99902) differs by an fp16 ulp from the unfused form.
float gelu_tanh_ggml(float x) {
  constexpr float kSqrtTwoOverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefficient = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrtTwoOverPi * x * std::fma(kCoefficient * x, x, 1.0f)));
}

const std::vector<uint16_t>& gelu_half_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> out(65536 + 2);  // +2: a 4-byte gather of the last entry stays inside
    for (uint32_t bits = 0; bits < 65536; ++bits) {
      out[bits] = fp32_to_fp16(gelu_tanh_ggml(fp16_to_fp32(static_cast<uint16_t>(bits))));
    }
    return out;
  }();
  return table;
}

}  // namespace

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  const std::vector<uint16_t>& table = gelu_half_table();
  int64_t i = 0;
#if defined(__AVX2__) && defined(__F16C__)
  // The scalar loop below, eight at a time: the same half rounding (F16C,
  // nearest even), the same table entries (a 32-bit gather, low 16 bits),
  // the same clamps and product.
  const int* entries = reinterpret_cast<const int*>(table.data());
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256i index = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(g, _MM_FROUND_TO_NEAREST_INT));
    const __m256i looked_up = _mm256_and_si256(_mm256_i32gather_epi32(entries, index, 2), _mm256_set1_epi32(0xffff));
    __m256 activated = _mm256_cvtph_ps(
        _mm_packus_epi32(_mm256_castsi256_si128(looked_up), _mm256_extracti128_si256(looked_up, 1)));
    activated = _mm256_blendv_ps(activated, _mm256_setzero_ps(), _mm256_cmp_ps(g, _mm256_set1_ps(-10.0f), _CMP_LE_OQ));
    activated = _mm256_blendv_ps(activated, g, _mm256_cmp_ps(g, _mm256_set1_ps(10.0f), _CMP_GE_OQ));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(activated, _mm256_loadu_ps(up + i)));
  }
#endif
  for (; i < n; ++i) {
    const float g = gate[i];
    float activated;
    if (g <= -10.0f) {
      activated = 0.0f;
    } else if (g >= 10.0f) {
      activated = g;
    } else {
      activated = fp16_to_fp32(table[fp32_to_fp16(g)]);
    }
    out[i] = activated * up[i];
  }
}

}  // namespace kvs::kernels
