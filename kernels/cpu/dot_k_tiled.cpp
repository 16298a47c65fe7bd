// dot_quantized_tile_k_tiled (dot_k_tiled.h).
#include "kernels/cpu/dot_k_tiled.h"

#include <cmath>

#include "kernels/cpu/k_block_sums.h"
#include "kernels/cpu/k_rows8.h"

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
// Rows [0, 8): the same operations per row, the 8 rows in the lanes.
void eight_rows(WeightFormat format, const uint8_t* w_rows, size_t row_bytes, const ActivationBlockQ8K* x,
                int64_t num_tokens, int64_t num_blocks, float* out, int64_t out_stride) {
  thread_local detail::DecodedK8 w;
  for (int64_t b = 0; b < num_blocks; ++b) {
    detail::decode_k8(format, w_rows, row_bytes, b, &w);
    const __m256 d = _mm256_load_ps(w.d), minus_dmin = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_load_ps(w.dmin));
    for (int64_t t = 0; t < num_tokens; ++t) {
      const ActivationBlockQ8K& xb = x[t * num_blocks + b];
      __m256i s1[8], s2[8];
      detail::k8_chunk_sums(w, xb, s1, s2);
      __m256i scaled = s1[0], mins = s2[0];
      for (int c = 1; c < 8; ++c) scaled = _mm256_add_epi32(scaled, s1[c]), mins = _mm256_add_epi32(mins, s2[c]);
      __m256 result = _mm256_mul_ps(_mm256_cvtepi32_ps(scaled), d);
      if (w.has_min) result = _mm256_fmadd_ps(minus_dmin, _mm256_cvtepi32_ps(mins), result);
      float* y = out + t * out_stride;
      _mm256_storeu_ps(y, _mm256_fmadd_ps(result, _mm256_set1_ps(xb.d), _mm256_loadu_ps(y)));
    }
  }
}
#endif

}  // namespace

void dot_quantized_tile_k_tiled(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, float* out,
                                int64_t out_stride) {
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t t = 0; t < num_tokens; ++t) out[t * out_stride + r] = 0.0f;
  }
  const auto* rows = static_cast<const uint8_t*>(w_rows);
  int64_t r0 = 0;
#ifdef KVS_K_ROWS8
  for (; r0 + 8 <= num_rows; r0 += 8) {
    eight_rows(format, rows + r0 * row_bytes, row_bytes, x, num_tokens, num_blocks, out + r0, out_stride);
  }
#endif
  rows_one_by_one(format, rows + r0 * row_bytes, row_bytes, num_rows - r0, x, num_tokens, num_blocks, out + r0,
                  out_stride);
}

}  // namespace kvs::kernels
