#include "engine/loader/gguf_rope_freqs.h"

#include <algorithm>
#include <cmath>

namespace kvs {
namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

std::vector<double> llama3_rope_divisors(const RopeScaling& scaling, double theta, int64_t head_dim) {
  const double original = static_cast<double>(scaling.original_max_position_embeddings);
  const double low = scaling.low_freq_factor;
  const double high = scaling.high_freq_factor;
  const double low_freq_wavelength = original / low;
  const double high_freq_wavelength = original / high;
  std::vector<double> divisors;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    // NOTE: the converter computes frequencies in float32.
    const float frequency = 1.0f / std::pow(static_cast<float>(theta),
                                            static_cast<float>(2 * i) / static_cast<float>(head_dim));
    const double wavelength = 2.0 * kPi / frequency;
    if (wavelength < high_freq_wavelength) {
      divisors.push_back(1.0);
    } else if (wavelength > low_freq_wavelength) {
      divisors.push_back(scaling.factor);
    } else {
      const double smooth = (original / wavelength - low) / (high - low);
      divisors.push_back(1.0 / ((1.0 - smooth) / scaling.factor + smooth));
    }
  }
  return divisors;
}

std::optional<RopeScaling> llama3_scaling_from_divisors(const std::vector<float>& divisors,
                                                        double theta, int64_t head_dim) {
  if (head_dim <= 0 || divisors.size() != static_cast<size_t>(head_dim / 2)) return std::nullopt;
  RopeScaling candidate;
  candidate.type = "llama3";
  candidate.factor = *std::max_element(divisors.begin(), divisors.end());
  // NOTE: the divisors depend on original / low and original / high only, so
  // low_freq_factor = 1 loses nothing.
  candidate.low_freq_factor = 1.0f;
  for (float high : {4.0f, 2.0f, 8.0f, 16.0f}) {
    candidate.high_freq_factor = high;
    for (int log2_original = 6; log2_original <= 20; ++log2_original) {
      candidate.original_max_position_embeddings = int64_t{1} << log2_original;
      const std::vector<double> expected = llama3_rope_divisors(candidate, theta, head_dim);
      bool match = true;
      for (size_t i = 0; i < divisors.size() && match; ++i) {
        match = std::fabs(expected[i] - divisors[i]) <= 1e-4 * std::fabs(expected[i]);
      }
      if (match) return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace kvs
