#pragma once
// Rotary position embedding: rotate-half (Hugging Face / GPT-NeoX) layout with
// accurately evaluated angles, and llama.cpp's interleaved layout with its
// angle arithmetic.
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

// llama.cpp's angles (ggml's CPU RoPE, "normal" mode, no YaRN).
//   base: rope theta; freq_scale: 1 / linear scaling factor (1 for none);
//   freq_factors: head_dim / 2 divisors (Llama 3 rope_freqs) or null.
struct RopeLlamaCppParams {
  float base = 10000.0f;
  float freq_scale = 1.0f;
  const float* freq_factors = nullptr;
};

// Rotates, in place, interleaved pairs (2i, 2i + 1) of `num_heads` heads of
// `head_dim` for each token -- the row order of Q/K in a GGUF file, where this
// computes what rope_rotate_half computes on HF-ordered rows. Shapes as
// rope_rotate_half. Rounds as llama.cpp's CPU backend does:
//   theta_0 = float(position), theta_{i+1} = theta_i * powf(base, -2 / head_dim)
//   (repeated float multiplication); angle_i = freq_scale * (theta_i / factor_i);
//   c = cosf(angle_i), s = sinf(angle_i);
//   x0' = fma(x0, c, -(x1 * s)), x1' = fma(x0, s, x1 * c)
// (its rotation loop as GCC fuses it). Checked bit for bit against llama.cpp.
void rope_interleaved_llamacpp(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                               int64_t num_heads, int64_t head_dim, const RopeLlamaCppParams& params);

// The same arithmetic on rotate-half (GPT-NeoX / HF) rows: pair (i, i +
// head_dim / 2), as llama.cpp's NEOX RoPE mode (Qwen2, Gemma 3 GGUFs, whose
// Q/K rows are not interleaved).
void rope_neox_llamacpp(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                        int64_t num_heads, int64_t head_dim, const RopeLlamaCppParams& params);

}  // namespace kvs::kernels
