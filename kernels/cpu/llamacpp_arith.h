#pragma once
// Scalar building blocks that reproduce, bit for bit, pieces of the
// arithmetic of llama.cpp's CPU backend (ggml-cpu built by GCC for AVX-512,
// the build kvserve is compared against). Kernels that mirror llama.cpp use
// these instead of libm or an order of summation of their own. Plain C++: the
// results do not depend on which SIMD this file is compiled for.
// NOTE: every fused multiply-add is an explicit std::fma and no product feeds
// an addition otherwise, so the results are the same whether or not the
// including file lets the compiler contract (kernels/ is built with
// -ffp-contract=off).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace kvs::kernels {

// x * 2^e rounded once (what AVX-512's scalef does for an integral e), for
// |e| <= 192 and |x| in [0.5, 2): the two-step form keeps every intermediate
// normal, so only the last multiplication rounds.
inline float scale_by_power_of_two(float x, int e) {
  auto power = [](int k) {  // 2^k for -126 <= k <= 127
    const uint32_t bits = static_cast<uint32_t>(k + 127) << 23;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  };
  if (e >= -126 && e <= 127) return x * power(e);
  const int half = e / 2;
  return (x * power(half)) * power(e - half);
}

// exp(x) evaluated as ggml's AVX-512 ggml_v_expf does (the routine behind
// llama.cpp's softmax and SiLU): n = round(x / ln 2), a two-constant
// reduction b = x - n ln 2, a degree-5 polynomial in b, scaled by 2^n.
// Within about 1.5 ulp of exp; |n| > 192 gives 0 (x < 0) or +inf; NaN stays NaN.
inline float exp_llamacpp(float x) {
  const float shifter = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, shifter);
  const float n = z - shifter;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  if (std::isnan(n)) return n;
  if (std::fabs(n) > 192.0f) return n > 0.0f ? std::numeric_limits<float>::infinity() : 0.0f;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return scale_by_power_of_two(j, static_cast<int>(n));
}

// Sum of 16 floats in the order GCC's _mm512_reduce_add_ps adds them (ggml's
// horizontal sum of a 16-lane accumulator): lanes 8 apart, then 4 apart, then
// (0 + 2) + (1 + 3).
inline float sum16_llamacpp(const float* v) {
  float eight[8], four[4];
  for (int i = 0; i < 8; ++i) eight[i] = v[i + 8] + v[i];
  for (int i = 0; i < 4; ++i) four[i] = eight[i + 4] + eight[i];
  return (four[0] + four[2]) + (four[1] + four[3]);
}

// Sum of 8 floats in the order of ggml's x86 hsum_float_8 (an 8-lane AVX
// accumulator): lanes 4 apart, then (0 + 2) + (1 + 3). simd::horizontal_sum
// is the vector form.
inline float sum8_llamacpp(const float* v) {
  float four[4];
  for (int i = 0; i < 4; ++i) four[i] = v[i] + v[i + 4];
  return (four[0] + four[2]) + (four[1] + four[3]);
}

// Sum of 4 floats as ggml's x86 K-quant kernels reduce a 4-lane accumulator
// (movehl, then movehdup): (0 + 2) + (1 + 3).
inline float sum4_llamacpp(const float* v) { return (v[0] + v[2]) + (v[1] + v[3]); }

}  // namespace kvs::kernels
