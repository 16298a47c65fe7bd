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

// YaRN inverse frequencies (head_dim / 2 values) as transformers'
// _compute_yarn_parameters computes them in float32: for base frequencies
// b_i = 1 / theta^(2i / head_dim), b_i * (1 - e_i) / factor + b_i * e_i with
// e_i = 1 - clamp((i - low) / (high - low), 0, 1), where low = floor(d(beta_fast)),
// high = ceil(d(beta_slow)) clamped to [0, head_dim - 1],
// d(r) = head_dim * ln(original / (r * 2 pi)) / (2 ln theta).
// The attention scale (cos and sin multiplied by it) is the caller's.
std::vector<float> rope_yarn_inverse_frequencies(int64_t head_dim, float theta, float factor,
                                                 int64_t original_max_positions, float beta_fast, float beta_slow);

// Rotates, in place, `num_heads` heads of `head_dim` for each token.
//   x: [num_tokens, row_stride] floats; head h of token t starts at
//      x + t * row_stride + h * head_dim
//   positions: [num_tokens]; inv_freq: [head_dim / 2]
// Pair (i, i + head_dim/2) is rotated by angle position * inv_freq[i]
// (angle in float32, cos/sin evaluated accurately, then rounded to float and
// multiplied by `scale`, as transformers applies YaRN's attention factor).
void rope_rotate_half(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                      int64_t num_heads, int64_t head_dim, const float* inv_freq, float scale = 1.0f);

// llama.cpp's angles (ggml's CPU RoPE, "normal" mode, no YaRN).
//   base: rope theta; freq_scale: 1 / linear scaling factor (1 for none);
//   freq_factors: head_dim / 2 divisors (Llama 3 rope_freqs) or null.
//   YaRN (ext_factor 1): each angle is mixed between freq_scale * theta and
//   theta by ggml's ramp over corr_dims (ggml_rope_yarn_corr_dims), and cos,
//   sin are multiplied by attn_factor * (1 + 0.1 * logf(1 / freq_scale)).
//   ext_factor 0 (the default): no mixing, cos and sin times attn_factor.
struct RopeLlamaCppParams {
  float base = 10000.0f;
  float freq_scale = 1.0f;
  const float* freq_factors = nullptr;
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float corr_dims[2] = {0.0f, 0.0f};
};

// ggml_rope_yarn_corr_dims: the first and last dimension pair of the ramp.
void rope_yarn_corr_dims_llamacpp(int64_t head_dim, int64_t original_max_positions, float base, float beta_fast,
                                  float beta_slow, float dims[2]);

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
