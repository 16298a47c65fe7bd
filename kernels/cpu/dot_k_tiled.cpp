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
