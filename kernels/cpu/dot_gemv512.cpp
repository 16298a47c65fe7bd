// dot_quantized_rows_512 (dot_gemv512.h).
#include "kernels/cpu/dot_gemv512.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/half.h"

namespace kvs::kernels {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(KVS_DOT_AVX2)
namespace {

// Both 128-bit halves of a 256-bit half: [lo nibbles of q | hi nibbles of q],
// unpack_nibbles' order, for two rows at once.
inline __m512i unpack_nibbles2(const uint8_t* q0, const uint8_t* q1) {
  const __m512i both = _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q0)))),
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q1))), 1);
  // 128-bit lanes 1 and 3 (16-bit elements 8..15, 24..31) take the high nibbles
  return _mm512_and_si512(_mm512_mask_srli_epi16(both, 0xff00ff00u, both, 4), _mm512_set1_epi8(0x0f));
}

// Rows ahead whose bytes are prefetched while a pair is computed (two rows'
// worth per pair, so the stream stays kPrefetchRows rows ahead): on this
// memory-bound path it cut the decode GEMV's time by about 40%.
constexpr int64_t kPrefetchRows = 8;

// The first of the two rows to prefetch while pair r is computed (the pair
// itself near the end of the readable rows, where there is nothing ahead).
inline const uint8_t* prefetch_row(const uint8_t* w, size_t row_bytes, int64_t r, int64_t readable_rows) {
  return w + (r + kPrefetchRows + 2 <= readable_rows ? r + kPrefetchRows : r) * row_bytes;
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Unsigned codes minus a constant offset (Q4_0: 8, Q5_0: 16): the integer
// lanes as dpbusd(-offset * (lane sums of x), codes, x), the same integers as
// vec_dot's sum of (code - offset) * x.
struct Q4_0Rows {
  using Block = BlockQ4_0;
  static constexpr int kOffset = 8;
  static __m512i codes(const Block& a, const Block& b) { return unpack_nibbles2(a.q, b.q); }
};
struct Q5_0Rows {
  using Block = BlockQ5_0;
  static constexpr int kOffset = 16;
  static __m512i codes(const Block& a, const Block& b) {
    const __mmask64 high = static_cast<__mmask64>(load_u32(a.qh)) | (static_cast<__mmask64>(load_u32(b.qh)) << 32);
    const __m512i nibbles = unpack_nibbles2(a.q, b.q);
    return _mm512_mask_add_epi8(nibbles, high, nibbles, _mm512_set1_epi8(16));
  }
};

// Rows in pairs against T tokens (1 for decode, a few for a few streams):
// each pair of weight blocks is loaded and unpacked once, then taken against
// every token; products(a, b, block, lanes) gives token t's 16 int32 lanes of
// block `block` in lanes[t] (row r's 8 in the low half). Each half is scaled
// by its row's w.d * x.d and accumulated as vec_dot does, then summed as
// vec_dot's horizontal sum, so out[t * out_stride + r] is
// dot_quantized(row r, token t) bit for bit.
template <class Block, int T, class Products>
void row_pairs_tokens(const uint8_t* w, size_t row_bytes, int64_t num_rows, int64_t readable_rows,
                      const ActivationBlockQ8* x, int64_t num_blocks, float* out, int64_t out_stride,
                      Products products) {
  for (int64_t r = 0; r + 2 <= num_rows; r += 2) {
    const auto* row0 = reinterpret_cast<const Block*>(w + r * row_bytes);
    const auto* row1 = reinterpret_cast<const Block*>(w + (r + 1) * row_bytes);
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    const uint8_t* ahead = prefetch_row(w, row_bytes, r, readable_rows);
    for (int64_t b = 0; b < num_blocks; ++b) {
      _mm_prefetch(reinterpret_cast<const char*>(ahead + b * 2 * sizeof(Block)), _MM_HINT_T0);
      __m512i lanes[T];
      products(row0[b], row1[b], b, lanes);
      const float d0 = fp16_to_fp32(row0[b].d), d1 = fp16_to_fp32(row1[b].d);
      for (int t = 0; t < T; ++t) {
        const float xd = x[t * num_blocks + b].d;
        const __m512 scale = _mm512_mask_broadcastss_ps(_mm512_set1_ps(d0 * xd), 0xff00, _mm_set_ss(d1 * xd));
        acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(lanes[t]), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) {
      out[t * out_stride + r] = simd::horizontal_sum(_mm512_castps512_ps256(acc[t]));
      out[t * out_stride + r + 1] = simd::horizontal_sum(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t]), 1)));
    }
  }
}

inline __m512i broadcast_x(const ActivationBlockQ8& x) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q)));
}

template <class Rows, int T>
void rows_offset_codes_tokens(const uint8_t* w, size_t row_bytes, int64_t num_rows, int64_t readable_rows,
                              const ActivationBlockQ8* x, int64_t num_blocks, float* out, int64_t out_stride) {
  // Per block and token, both halves: x's 32 bytes and -offset * (sum of each 4 of them).
  thread_local std::vector<__m512i> xs, corrections;  // [block][token]
  xs.resize(static_cast<size_t>(num_blocks * T));
  corrections.resize(static_cast<size_t>(num_blocks * T));
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int t = 0; t < T; ++t) {
      const __m512i xb = broadcast_x(x[t * num_blocks + b]);
      xs[b * T + t] = xb;
      const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), xb);
      corrections[b * T + t] = _mm512_mullo_epi32(sums, _mm512_set1_epi32(-Rows::kOffset));
    }
  }
  using Block = typename Rows::Block;
  // NOTE: plain pointers into the thread_local buffers: naming a thread_local
  // inside the lambda goes through its TLS wrapper on every block (about 15%
  // of decode time here).
  const __m512i* xs_data = xs.data();
  const __m512i* corrections_data = corrections.data();
  row_pairs_tokens<Block, T>(w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride,
                             [xs_data, corrections_data](const Block& a, const Block& b, int64_t block, __m512i* lanes) {
                               const __m512i codes = Rows::codes(a, b);
                               for (int t = 0; t < T; ++t) {
                                 lanes[t] = _mm512_dpbusd_epi32(corrections_data[block * T + t], codes,
                                                                xs_data[block * T + t]);
                               }
                             });
}

// Q8_0: signed weights, |w| times x with w's sign (maddubs' form in vec_dot;
// the same integers through dpbusd).
template <int T>
void rows_q8_0_tokens(const uint8_t* w, size_t row_bytes, int64_t num_rows, int64_t readable_rows,
                      const ActivationBlockQ8* x, int64_t num_blocks, float* out, int64_t out_stride) {
  row_pairs_tokens<BlockQ8_0, T>(
      w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride,
      [&](const BlockQ8_0& a, const BlockQ8_0& b, int64_t block, __m512i* lanes) {
        const __m512i wq = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q))),
                                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q)), 1);
        const __m512i magnitude = _mm512_abs_epi8(wq);
        const __mmask64 negative = _mm512_movepi8_mask(wq);
        for (int t = 0; t < T; ++t) {
          const __m512i xq = broadcast_x(x[t * num_blocks + block]);
          const __m512i signed_x = _mm512_mask_sub_epi8(xq, negative, _mm512_setzero_si512(), xq);
          lanes[t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), magnitude, signed_x);
        }
      });
}

// Q4_1: unsigned codes times x through dpbusd (maddubs' integers in vec_dot:
// codes <= 15 never saturate), scaled per row half by w.d * x.d as row_pairs
// does, plus each row's offset sum fma(w.m, x.d * sum(x), .) in block order,
// added after the horizontal sum: dot_q4_1's operations per (row, token).
template <int T>
void rows_q4_1_tokens(const uint8_t* w, size_t row_bytes, int64_t num_rows, int64_t readable_rows,
                      const ActivationBlockQ8* x, int64_t num_blocks, float* out, int64_t out_stride) {
  for (int64_t r = 0; r + 2 <= num_rows; r += 2) {
    const auto* row0 = reinterpret_cast<const BlockQ4_1*>(w + r * row_bytes);
    const auto* row1 = reinterpret_cast<const BlockQ4_1*>(w + (r + 1) * row_bytes);
    __m512 acc[T];
    float offsets0[T], offsets1[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps(), offsets0[t] = 0.0f, offsets1[t] = 0.0f;
    const uint8_t* ahead = prefetch_row(w, row_bytes, r, readable_rows);
    for (int64_t b = 0; b < num_blocks; ++b) {
      _mm_prefetch(reinterpret_cast<const char*>(ahead + b * 2 * sizeof(BlockQ4_1)), _MM_HINT_T0);
      const __m512i codes = unpack_nibbles2(row0[b].q, row1[b].q);
      const float d0 = fp16_to_fp32(row0[b].d), d1 = fp16_to_fp32(row1[b].d);
      const float m0 = fp16_to_fp32(row0[b].m), m1 = fp16_to_fp32(row1[b].m);
      for (int t = 0; t < T; ++t) {
        const ActivationBlockQ8& xb = x[t * num_blocks + b];
        const __m512i lanes = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes, broadcast_x(xb));
        const __m512 scale = _mm512_mask_broadcastss_ps(_mm512_set1_ps(d0 * xb.d), 0xff00, _mm_set_ss(d1 * xb.d));
        acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(lanes), acc[t]);
        offsets0[t] = std::fma(m0, xb.d_times_sum, offsets0[t]);
        offsets1[t] = std::fma(m1, xb.d_times_sum, offsets1[t]);
      }
    }
    for (int t = 0; t < T; ++t) {
      out[t * out_stride + r] = simd::horizontal_sum(_mm512_castps512_ps256(acc[t])) + offsets0[t];
      out[t * out_stride + r + 1] =
          simd::horizontal_sum(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t]), 1))) + offsets1[t];
    }
  }
}

template <int T>
void rows_tokens(WeightFormat format, const uint8_t* w, size_t row_bytes, int64_t num_rows, int64_t readable_rows,
                 const ActivationBlockQ8* x, int64_t num_blocks, float* out, int64_t out_stride) {
  switch (format) {
    case WeightFormat::Q5_0:
      return rows_offset_codes_tokens<Q5_0Rows, T>(w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride);
    case WeightFormat::Q4_0:
      return rows_offset_codes_tokens<Q4_0Rows, T>(w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride);
    case WeightFormat::Q4_1:
      return rows_q4_1_tokens<T>(w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride);
    default:
      return rows_q8_0_tokens<T>(w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride);
  }
}

}  // namespace

bool dot_quantized_rows_512_tokens(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                   int64_t readable_rows, const ActivationBlockQ8* x, int64_t num_tokens,
                                   int64_t num_blocks, float* out, int64_t out_stride) {
  if (!rows_512_supported(format) || num_tokens < 1 || num_tokens > kRows512MaxTokens) return false;
  const auto* w = static_cast<const uint8_t*>(w_rows);
  readable_rows = std::max(readable_rows, num_rows);
  switch (num_tokens) {
    case 1: rows_tokens<1>(format, w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride); break;
    case 2: rows_tokens<2>(format, w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride); break;
    case 3: rows_tokens<3>(format, w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride); break;
    case 4: rows_tokens<4>(format, w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride); break;
    case 5: rows_tokens<5>(format, w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride); break;
    case 6: rows_tokens<6>(format, w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride); break;
    default: rows_tokens<7>(format, w, row_bytes, num_rows, readable_rows, x, num_blocks, out, out_stride); break;
  }
  if (num_rows % 2 != 0) {  // the odd last row through vec_dot itself
    for (int64_t t = 0; t < num_tokens; ++t) {
      out[t * out_stride + num_rows - 1] =
          dot_quantized(format, w + (num_rows - 1) * row_bytes, x + t * num_blocks, num_blocks);
    }
  }
  return true;
}

bool rows_512_supported(WeightFormat format) {
  return format == WeightFormat::Q5_0 || format == WeightFormat::Q4_0 || format == WeightFormat::Q8_0 ||
         format == WeightFormat::Q4_1;
}

bool dot_quantized_rows_512(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                            int64_t readable_rows, const ActivationBlockQ8* x, int64_t num_blocks, float* out) {
  return dot_quantized_rows_512_tokens(format, w_rows, row_bytes, num_rows, readable_rows, x, 1, num_blocks, out, 1);
}
#else
bool rows_512_supported(WeightFormat) { return false; }

bool dot_quantized_rows_512_tokens(WeightFormat, const void*, size_t, int64_t, int64_t, const ActivationBlockQ8*, int64_t,
                                   int64_t, float*, int64_t) {
  return false;
}

bool dot_quantized_rows_512(WeightFormat, const void*, size_t, int64_t, int64_t, const ActivationBlockQ8*, int64_t,
                            float*) {
  return false;
}
#endif

}  // namespace kvs::kernels
