#include "kernels/cpu/rope.h"

#include <algorithm>
#include <cmath>

namespace kvs::kernels {

std::vector<float> rope_inverse_frequencies(int64_t head_dim, float theta, const std::string& scaling_type,
                                            float factor, float low_freq_factor, float high_freq_factor,
                                            int64_t original_max_positions) {
  const int64_t half = head_dim / 2;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq[i] = 1.0f / std::pow(theta, exponent);
  }
  if (scaling_type == "linear") {
    for (float& f : inv_freq) f /= factor;
  } else if (scaling_type == "llama3") {
    const float pi = 3.14159265358979323846f;
    const float old_context = static_cast<float>(original_max_positions);
    const float low_freq_wavelen = old_context / low_freq_factor;
    const float high_freq_wavelen = old_context / high_freq_factor;
    for (float& f : inv_freq) {
      const float wavelen = 2.0f * pi / f;
      if (wavelen > low_freq_wavelen) {
        f = f / factor;
      } else if (wavelen >= high_freq_wavelen) {
        // medium frequencies: interpolate between scaled and unscaled
        const float smooth = (old_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
        f = (1.0f - smooth) * f / factor + smooth * f;
      }
    }
  }
  return inv_freq;
}

std::vector<float> rope_yarn_inverse_frequencies(int64_t head_dim, float theta, float factor,
                                                 int64_t original_max_positions, float beta_fast, float beta_slow) {
  const double pi = 3.14159265358979323846;
  const auto correction_dim = [&](double rotations) {
    return (static_cast<double>(head_dim) * std::log(static_cast<double>(original_max_positions) / (rotations * 2 * pi))) /
           (2 * std::log(static_cast<double>(theta)));
  };
  // NOTE: transformers does this part in Python doubles, the rest in float32.
  double low = std::max(std::floor(correction_dim(beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(beta_slow)), static_cast<double>(head_dim - 1));
  if (low == high) high += 0.001;
  const int64_t half = head_dim / 2;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    const float pos_freq = std::pow(theta, exponent);
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (factor * pos_freq);
    const float linear = (static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low);
    const float extrapolation_factor = 1.0f - std::min(std::max(linear, 0.0f), 1.0f);
    inv_freq[i] = interpolation * (1.0f - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  return inv_freq;
}

void rope_yarn_corr_dims_llamacpp(int64_t head_dim, int64_t original_max_positions, float base, float beta_fast,
                                  float beta_slow, float dims[2]) {
  const auto corr_dim = [&](float rotations) {
    return static_cast<float>(head_dim) *
           std::log(static_cast<float>(original_max_positions) / (rotations * 2 * static_cast<float>(3.14159265358979323846))) /
           (2 * std::log(base));
  };
  const float start = std::floor(corr_dim(beta_fast));
  const float end = std::ceil(corr_dim(beta_slow));
  dims[0] = std::max(0.0f, start);
  dims[1] = std::min(static_cast<float>(head_dim - 1), end);
}

void rope_rotate_half(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                      int64_t num_heads, int64_t head_dim, const float* inv_freq, float scale) {
  const int64_t half = head_dim / 2;
  std::vector<float> cosines(static_cast<size_t>(half)), sines(static_cast<size_t>(half));
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(positions[t]) * inv_freq[i];
      cosines[i] = static_cast<float>(std::cos(static_cast<double>(angle))) * scale;
      sines[i] = static_cast<float>(std::sin(static_cast<double>(angle))) * scale;
    }
    for (int64_t h = 0; h < num_heads; ++h) {
      float* head = x + t * row_stride + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const float a = head[i], b = head[i + half];
        head[i] = a * cosines[i] - b * sines[i];
        head[i + half] = b * cosines[i] + a * sines[i];
      }
    }
  }
}


namespace {

// llama.cpp's angle arithmetic and rotation; `neox` pairs element i with
// i + head_dim / 2 (GPT-NeoX order), else 2i with 2i + 1.
void rope_llamacpp(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens, int64_t num_heads,
                   int64_t head_dim, const RopeLlamaCppParams& params, bool neox) {
  const int64_t num_pairs = head_dim / 2;
  const int64_t first_step = neox ? 1 : 2, second_offset = neox ? num_pairs : 1;
  const float theta_scale = std::pow(params.base, -2.0f / static_cast<float>(head_dim));
  std::vector<float> cosines(static_cast<size_t>(num_pairs)), sines(static_cast<size_t>(num_pairs));
  for (int64_t t = 0; t < num_tokens; ++t) {
    float theta = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < num_pairs; ++i) {
      const float factor = params.freq_factors != nullptr ? params.freq_factors[i] : 1.0f;
      // ggml's rope_yarn
      const float extrapolated = theta / factor;
      float angle = params.freq_scale * extrapolated;
      float mscale = params.attn_factor;
      if (params.ext_factor != 0.0f) {
        const float y = (static_cast<float>(i) - params.corr_dims[0]) /
                        std::max(0.001f, params.corr_dims[1] - params.corr_dims[0]);
        const float ramp_mix = (1 - std::min(1.0f, std::max(0.0f, y))) * params.ext_factor;
        angle = angle * (1 - ramp_mix) + extrapolated * ramp_mix;
        mscale *= 1.0f + 0.1f * std::log(1.0f / params.freq_scale);
      }
      cosines[i] = std::cos(angle) * mscale;
      sines[i] = std::sin(angle) * mscale;
      theta *= theta_scale;
    }
    for (int64_t h = 0; h < num_heads; ++h) {
      float* head = x + t * row_stride + h * head_dim;
      for (int64_t i = 0; i < num_pairs; ++i) {
        float* a = head + i * first_step;
        float* b = a + second_offset;
        const float x0 = *a, x1 = *b;
        *a = std::fma(x0, cosines[i], -(x1 * sines[i]));
        *b = std::fma(x0, sines[i], x1 * cosines[i]);
      }
    }
  }
}

}  // namespace

void rope_interleaved_llamacpp(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                               int64_t num_heads, int64_t head_dim, const RopeLlamaCppParams& params) {
  rope_llamacpp(x, row_stride, positions, num_tokens, num_heads, head_dim, params, /*neox=*/false);
}

void rope_neox_llamacpp(float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                        int64_t num_heads, int64_t head_dim, const RopeLlamaCppParams& params) {
  rope_llamacpp(x, row_stride, positions, num_tokens, num_heads, head_dim, params, /*neox=*/true);
}

}  // namespace kvs::kernels
