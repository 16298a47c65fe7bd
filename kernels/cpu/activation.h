#pragma once
// Gated MLP activations: SwiGLU (Llama) and GELU-tanh GeGLU (Gemma).
#include <cstdint>

namespace kvs::kernels {

// out[i] = silu(gate[i]) * up[i] for n elements; out may alias gate or up.
// Rounds as llama.cpp's CPU backend (AVX-512 build) does:
// silu(g) = g / (1 + exp(0 - g)) with exp_llamacpp (llamacpp_arith.h) for the
// first n - n % 16 elements (its 16-wide vector loop) and std::exp (expf) for
// the rest, then one multiplication by up.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

// out[i] = gelu_tanh(gate[i]) * up[i] for n elements; out may alias gate or
// up. gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))).
// Rounds as llama.cpp's CPU backend (built with GGML_GELU_FP16, its default):
// x <= -10 gives 0, x >= 10 gives x; otherwise x is rounded to half and
// looked up in a 65,536-entry table of half(gelu_tanh(half value)), the float
// formula evaluated left to right with tanhf and 1 + 0.044715 x^2 fused as
// GCC fuses it in ggml (checked against ggml's GELU op on every half value).
// Then one multiplication by up.
// Thread-safety: the table is built once (thread-safe static).
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);

// gelu_tanh in float, unrounded (the formula above; tests and references).
float gelu_tanh(float x);

}  // namespace kvs::kernels
