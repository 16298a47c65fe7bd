#include "kernels/cpu/dot_q5_iq4.h"

#include <cmath>
#include <cstring>

#include "kernels/cpu/half.h"
#include "kernels/cpu/llamacpp_arith.h"

namespace kvs::kernels::detail {
namespace {

// The block's 32 five-bit codes (0..31), in element order.
void five_bit_codes(const uint8_t* q, const uint8_t* qh_bytes, int* out) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, sizeof(qh));
  for (int j = 0; j < kQuantBlock / 2; ++j) {
    out[j] = (q[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
    out[j + 16] = (q[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}

// Lane l of the AVX2 kernels: the products of elements 4l .. 4l + 3.
void lane_sums(const int* w, const int8_t* x, int32_t* lanes) {
  for (int l = 0; l < 8; ++l) {
    lanes[l] = 0;
    for (int t = 0; t < 4; ++t) lanes[l] += w[4 * l + t] * x[4 * l + t];
  }
}

}  // namespace

float dot_q5_0_reference(const BlockQ5_0* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < num_blocks; ++b) {
    int codes[kQuantBlock];
    five_bit_codes(w[b].q, w[b].qh, codes);
    for (int& c : codes) c -= 16;
    int32_t lanes[8];
    lane_sums(codes, x[b].q, lanes);
    const float scale = fp16_to_fp32(w[b].d) * x[b].d;
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(scale, static_cast<float>(lanes[l]), acc[l]);
  }
  return sum8_llamacpp(acc);
}

float dot_q5_1_reference(const BlockQ5_1* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  float acc[8] = {};
  float offsets = 0.0f;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int codes[kQuantBlock];
    five_bit_codes(w[b].q, w[b].qh, codes);
    int32_t lanes[8];
    lane_sums(codes, x[b].q, lanes);
    const float scale = fp16_to_fp32(w[b].d) * x[b].d;
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(scale, static_cast<float>(lanes[l]), acc[l]);
    // NOTE: fused, as GCC compiles llama.cpp's `summs += m * s`.
    offsets = std::fma(fp16_to_fp32(w[b].m), x[b].d_times_sum, offsets);
  }
  return sum8_llamacpp(acc) + offsets;
}

float dot_iq4_nl_reference(const BlockIQ4_NL* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  auto block_lanes = [&](int64_t b, int32_t* lanes) {
    int values[kQuantBlock];
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      values[j] = kIQ4NLValues[w[b].q[j] & 0x0f];
      values[j + 16] = kIQ4NLValues[w[b].q[j] >> 4];
    }
    lane_sums(values, x[b].q, lanes);
  };
  float even[8] = {}, odd[8] = {};
  int64_t b = 0;
  for (; b + 1 < num_blocks; b += 2) {
    int32_t lanes[8];
    block_lanes(b, lanes);
    const float scale0 = x[b].d * fp16_to_fp32(w[b].d);
    for (int l = 0; l < 8; ++l) even[l] = std::fma(scale0, static_cast<float>(lanes[l]), even[l]);
    block_lanes(b + 1, lanes);
    const float scale1 = x[b + 1].d * fp16_to_fp32(w[b + 1].d);
    for (int l = 0; l < 8; ++l) odd[l] = std::fma(scale1, static_cast<float>(lanes[l]), odd[l]);
  }
  float both[8];
  for (int l = 0; l < 8; ++l) both[l] = even[l] + odd[l];
  float total = sum8_llamacpp(both);
  if (b < num_blocks) {  // an odd last block, added by llama.cpp's scalar tail (fused by GCC)
    int32_t lanes[8];
    block_lanes(b, lanes);
    int32_t sum = 0;
    for (int32_t lane : lanes) sum += lane;
    total = std::fma(x[b].d * fp16_to_fp32(w[b].d), static_cast<float>(sum), total);
  }
  return total;
}

#ifdef KVS_DOT_AVX2
namespace {

using simd::dot_unsigned_signed;
using simd::horizontal_sum;
using simd::high_bits_times_16;
using simd::unpack_nibbles;

// |w| * (x with w's sign): the integer sums of w * x, for |w| <= 128.
inline __m256 signed_products(__m256i w, __m256i x) {
  return dot_unsigned_signed(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

inline __m256i load32(const int8_t* q) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)); }

inline __m256i iq4_nl_values(const uint8_t* q) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues));
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(raw, mask));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(raw, 4), mask));
  return _mm256_set_m128i(hi, lo);
}

}  // namespace

float dot_q5_0_avx2(const BlockQ5_0* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256i codes = _mm256_or_si256(unpack_nibbles(w[b].q), high_bits_times_16(w[b].qh));
    const __m256i wq = _mm256_sub_epi8(codes, _mm256_set1_epi8(16));
    const __m256 products = signed_products(wq, load32(x[b].q));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_fp32(w[b].d) * x[b].d), products, acc);
  }
  return horizontal_sum(acc);
}

float dot_q5_1_avx2(const BlockQ5_1* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256i codes = _mm256_or_si256(unpack_nibbles(w[b].q), high_bits_times_16(w[b].qh));
    const __m256 products = dot_unsigned_signed(codes, load32(x[b].q));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_fp32(w[b].d) * x[b].d), products, acc);
    offsets = std::fma(fp16_to_fp32(w[b].m), x[b].d_times_sum, offsets);
  }
  return horizontal_sum(acc) + offsets;
}

float dot_iq4_nl_avx2(const BlockIQ4_NL* w, const ActivationBlockQ8* x, int64_t num_blocks) {
  __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 1 < num_blocks; b += 2) {
    const __m256 p0 = signed_products(iq4_nl_values(w[b].q), load32(x[b].q));
    const __m256 p1 = signed_products(iq4_nl_values(w[b + 1].q), load32(x[b + 1].q));
    even = _mm256_fmadd_ps(_mm256_set1_ps(x[b].d * fp16_to_fp32(w[b].d)), p0, even);
    odd = _mm256_fmadd_ps(_mm256_set1_ps(x[b + 1].d * fp16_to_fp32(w[b + 1].d)), p1, odd);
  }
  float total = horizontal_sum(_mm256_add_ps(even, odd));
  if (b < num_blocks) {
    int32_t sum = 0;
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      sum += kIQ4NLValues[w[b].q[j] & 0x0f] * x[b].q[j] + kIQ4NLValues[w[b].q[j] >> 4] * x[b].q[j + 16];
    }
    total = std::fma(x[b].d * fp16_to_fp32(w[b].d), static_cast<float>(sum), total);
  }
  return total;
}
#endif

}  // namespace kvs::kernels::detail
