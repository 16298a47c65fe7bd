// dot_quantized_tile_k_tiled (dot_k_tiled.h).
#include "kernels/cpu/dot_k_tiled.h"

#include <cmath>

#include "kernels/cpu/k_block_sums.h"
#include "kernels/cpu/k_rows8.h"
#include "kernels/cpu/k_tile8.h"

namespace kvs::kernels {
namespace {

// Rows [0, num_rows) one at a time.
void rows_one_by_one(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                     const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, float* out,
                     int64_t out_stride) {
  detail::for_each_k_block(format, w_rows, row_bytes, num_rows, x, num_tokens, num_blocks,
                           [&](int64_t r, int64_t t, const detail::DecodedKBlock& w, const ActivationBlockQ8K& xb) {
                             float result = static_cast<float>(detail::k_scaled_sum(w, xb)) * w.d;
                             if (w.has_min) {
                               result = std::fma(-w.dmin, static_cast<float>(detail::k_min_sum(w, xb)), result);
                             }
                             float& y = out[t * out_stride + r];
                             y = std::fma(result, xb.d, y);
                           });
}

#ifdef KVS_K_ROWS8
// Rows [0, L::kRows): the same operations per row, the rows in the lanes.
template <class L>
void lane_rows(WeightFormat format, const uint8_t* w_rows, size_t row_bytes, const ActivationBlockQ8K* x,
               int64_t num_tokens, int64_t num_blocks, float* out, int64_t out_stride) {
  using I = typename L::I;
  using F = typename L::F;
  thread_local detail::DecodedKRows<L::kRows> w;
  for (int64_t b = 0; b < num_blocks; ++b) {
    detail::decode_k_rows<L::kRows>(format, w_rows, row_bytes, b, &w);
    const F d = L::loadf_aligned(w.d), minus_dmin = L::sub(L::zerof(), L::loadf_aligned(w.dmin));
    for (int64_t t = 0; t < num_tokens; ++t) {
      const ActivationBlockQ8K& xb = x[t * num_blocks + b];
      I s1[8], s2[8];
      detail::k_rows_chunk_sums<L>(w, xb, s1, s2);
      I scaled = s1[0], mins = s2[0];
      for (int c = 1; c < 8; ++c) scaled = L::add(scaled, s1[c]), mins = L::add(mins, s2[c]);
      F result = L::mul(L::to_float(scaled), d);
      if (w.has_min) result = L::fmadd(minus_dmin, L::to_float(mins), result);
      float* y = out + t * out_stride;
      L::storef(y, L::fmadd(result, L::setf(xb.d), L::loadf(y)));
    }
  }
}
#endif

#ifdef KVS_K_TILE8
// Rows [0, 8H) of format F (H: 1 or 2 tiles of 8 rows): the same operations
// per row and token as lane_rows<Lanes8>, the integer sums 4 (H = 1) or 2
// (H = 2) tokens at a time (k_tile8.h). Writes the rows' outputs whole.
template <WeightFormat F, int H>
void tile8_rows(const uint8_t* w_rows, size_t row_bytes, const ActivationBlockQ8K* x, int64_t num_tokens,
                int64_t num_blocks, float* out, int64_t out_stride) {
  detail::DecodedK8Tile w[H];  // on the stack: a thread_local costs a TLS look-up per use in PIC code
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int i = 0; i < H; ++i) detail::decode_k8_tile(F, w_rows + 8 * i * row_bytes, row_bytes, b, &w[i]);
    detail::for_token_groups<H == 1 ? 4 : 2>(num_tokens, [&](auto tokens, int64_t t0) {
      constexpr int T = decltype(tokens)::value;
      const ActivationBlockQ8K* xb[T];
      for (int t = 0; t < T; ++t) xb[t] = x + (t0 + t) * num_blocks + b;
      __m256i s1[T * H][1], s2[T * H][1];
      detail::k8_tile_sums<F, T, 1, H>(w, xb, s1, s2);
      for (int t = 0; t < T; ++t) {
        const __m256 xd = _mm256_set1_ps(xb[t]->d);
        for (int i = 0; i < H; ++i) {
          // d, dmin from memory: held in registers across the tokens they would crowd the sums out
          __m256 result = _mm256_mul_ps(_mm256_cvtepi32_ps(s1[H * t + i][0]), _mm256_load_ps(w[i].d));
          if constexpr (detail::k_tile8_traits(F).has_min) {
            const __m256 minus_dmin = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_load_ps(w[i].dmin));
            result = _mm256_fmadd_ps(minus_dmin, _mm256_cvtepi32_ps(s2[H * t + i][0]), result);
          }
          float* y = out + (t0 + t) * out_stride + 8 * i;
          // y starts at +0 (fma(a, b, +0) is what the zeroed output gave)
          const __m256 before = b > 0 ? _mm256_loadu_ps(y) : _mm256_setzero_ps();
          _mm256_storeu_ps(y, _mm256_fmadd_ps(result, xd, before));
        }
      }
    });
  }
}
#endif

}  // namespace

void dot_quantized_tile_k_tiled(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, float* out,
                                int64_t out_stride) {
#ifdef KVS_K_TILE8
  if (num_rows >= 8) {  // 8 rows at a time, then the rest alone (below)
    const auto* rows = static_cast<const uint8_t*>(w_rows);
    int64_t r0 = 0;
    const bool done = detail::with_k_format(format, [&](auto f) {
      constexpr WeightFormat kFormat = decltype(f)::value;
      for (; detail::k_tile8_traits(kFormat).tiles == 2 && r0 + 16 <= num_rows; r0 += 16) {
        tile8_rows<kFormat, 2>(rows + r0 * row_bytes, row_bytes, x, num_tokens, num_blocks, out + r0, out_stride);
      }
      for (; r0 + 8 <= num_rows; r0 += 8) {
        tile8_rows<kFormat, 1>(rows + r0 * row_bytes, row_bytes, x, num_tokens, num_blocks, out + r0, out_stride);
      }
    });
    if (done) {
      if (r0 < num_rows) {
        dot_quantized_tile_k_tiled(format, rows + r0 * row_bytes, row_bytes, num_rows - r0, x, num_tokens,
                                   num_blocks, out + r0, out_stride);
      }
      return;
    }
  }
#endif
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t t = 0; t < num_tokens; ++t) out[t * out_stride + r] = 0.0f;
  }
  const auto* rows = static_cast<const uint8_t*>(w_rows);
  int64_t r0 = 0;
#ifdef KVS_K_ROWS8
#ifdef KVS_K_ROWS16
  for (; r0 + 16 <= num_rows; r0 += 16) {
    lane_rows<detail::Lanes16>(format, rows + r0 * row_bytes, row_bytes, x, num_tokens, num_blocks, out + r0,
                               out_stride);
  }
#endif
  for (; r0 + 8 <= num_rows; r0 += 8) {
    lane_rows<detail::Lanes8>(format, rows + r0 * row_bytes, row_bytes, x, num_tokens, num_blocks, out + r0,
                              out_stride);
  }
#endif
  rows_one_by_one(format, rows + r0 * row_bytes, row_bytes, num_rows - r0, x, num_tokens, num_blocks, out + r0,
                  out_stride);
}

}  // namespace kvs::kernels
