#pragma once
// Llama-3.1-style RoPE scaling from a GGUF's rope_freqs.weight.
//
// llama.cpp's converter does not store Llama 3 `rope_scaling` as metadata; it
// stores the resulting per-dimension divisors (head_dim / 2 floats) as the
// tensor rope_freqs.weight. This recovers a RopeScaling{"llama3", ...} that
// reproduces those divisors, so the model keeps one description of RoPE.
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/loader/model_config.h"

namespace kvs {

// The divisors llama.cpp's converter stores for `scaling` (type "llama3"):
// for each frequency f_i = theta^(-2i/head_dim), i < head_dim/2, with
// wavelength w = 2*pi / f_i: 1 if w < orig / high_freq_factor, `factor` if
// w > orig / low_freq_factor, else 1 / ((1 - s) / factor + s) with
// s = (orig / w - low_freq_factor) / (high_freq_factor - low_freq_factor).
std::vector<double> llama3_rope_divisors(const RopeScaling& scaling, double theta, int64_t head_dim);

// Searches factor = max(divisors), low_freq_factor 1, high_freq_factor in
// {4, 2, 8, 16} and original context 2^6..2^20 for parameters whose divisors
// match within 1e-4 relative. The divisors depend only on original / low and
// original / high, so low = 1 loses no generality, and any match gives the
// same per-dimension frequencies. nullopt if none matches (or the size is not
// head_dim / 2).
std::optional<RopeScaling> llama3_scaling_from_divisors(const std::vector<float>& divisors,
                                                        double theta, int64_t head_dim);

}  // namespace kvs
