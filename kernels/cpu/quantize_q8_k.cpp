// quantize_activations_q8_k (quantize.h): the arithmetic of ggml's
// quantize_row_q8_K_ref, which llama.cpp's x86 quantize_row_q8_K calls.
#include <cmath>
#include <cstring>

#include "kernels/cpu/quantize.h"

namespace kvs::kernels {

void quantize_activations_q8_k(const float* x, ActivationBlockQ8K* out, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlockK; ++b) {
    const float* v = x + b * kQuantBlockK;
    ActivationBlockQ8K& block = out[b];
    float amax = 0.0f, max = 0.0f;  // the first element of largest magnitude, with its sign
    for (int j = 0; j < kQuantBlockK; ++j) {
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&block, 0, sizeof(block));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQuantBlockK; ++j) {
      // NOTE: nearbyint rounds half to even, as ggml's nearest_int
      // (the 1.5 * 2^23 trick) does for these magnitudes (<= 127).
      const int q = static_cast<int>(std::nearbyint(iscale * v[j]));
      block.q[j] = static_cast<int8_t>(q < 127 ? q : 127);
    }
    for (int k = 0; k < kQuantBlockK / 16; ++k) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += block.q[16 * k + j];
      block.bsums[k] = static_cast<int16_t>(sum);
    }
    block.d = 1.0f / iscale;
  }
}

}  // namespace kvs::kernels
