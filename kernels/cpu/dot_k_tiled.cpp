// dot_quantized_tile_k_tiled (dot_k_tiled.h).
#include "kernels/cpu/dot_k_tiled.h"

#include <cmath>

#include "kernels/cpu/k_block_sums.h"

namespace kvs::kernels {

void dot_quantized_tile_k_tiled(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, float* out,
                                int64_t out_stride) {
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t t = 0; t < num_tokens; ++t) out[t * out_stride + r] = 0.0f;
  }
  detail::for_each_k_block(format, w_rows, row_bytes, num_rows, x, num_tokens, num_blocks,
                           [&](int64_t r, int64_t t, const detail::DecodedKBlock& w, const ActivationBlockQ8K& xb) {
                             float result = static_cast<float>(detail::k_scaled_sum(w, xb.q)) * w.d;
                             if (w.has_min) {
                               result = std::fma(-w.dmin, static_cast<float>(detail::k_min_sum(w, xb.bsums)), result);
                             }
                             float& y = out[t * out_stride + r];
                             y = std::fma(result, xb.d, y);
                           });
}

}  // namespace kvs::kernels
