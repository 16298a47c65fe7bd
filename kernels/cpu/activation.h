#pragma once
// SwiGLU activation.
#include <cstdint>

namespace kvs::kernels {

// out[i] = silu(gate[i]) * up[i] for n elements; out may alias gate or up.
// Rounds as llama.cpp's CPU backend (AVX-512 build) does:
// silu(g) = g / (1 + exp(0 - g)) with exp_llamacpp (llamacpp_arith.h) for the
// first n - n % 16 elements (its 16-wide vector loop) and std::exp (expf) for
// the rest, then one multiplication by up.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

}  // namespace kvs::kernels
