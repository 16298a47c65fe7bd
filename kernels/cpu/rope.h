#pragma once
// Rotary position embedding, rotate-half (Hugging Face / GPT-NeoX) layout.
#include <cstdint>
#include <string>
#include <vector>

namespace kvs::kernels {

// Inverse frequencies for one head (head_dim / 2 values), computed in float32
// the way transformers does, with optional scaling:
//   scaling_type "none" | "linear" (divide by factor) | "llama3" (Llama 3.1:
//   low/high frequency factors around original_max_positions).
std::vector<float> rope_inverse_frequencies(int64_t head_dim, float theta, const std::string& scaling_type,
                                            float factor, float low_freq_factor, float high_freq_factor,
                                            int64_t original_max_positions);

// Rotates, in place, `num_heads` heads of `head_dim` for each token.
//   x: [num_tokens, row_stride] floats; head h of token t starts at
//      x + t * row_stride + h * head_dim
//   positions: [num_tokens]; inv_freq: [head_dim / 2]
// Pair (i, i + head_dim/2) is rotated by angle position * inv_freq[i]
// (angle in float32, cos/sin evaluated accurately).
void rope_rotate_half(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                      int64_t num_heads, int64_t head_dim, const float* inv_freq);

}  // namespace kvs::kernels
