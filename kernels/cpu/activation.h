#pragma once
// SwiGLU activation.
#include <cstdint>

namespace kvs::kernels {

// out[i] = silu(gate[i]) * up[i] for n elements; out may alias gate or up.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

}  // namespace kvs::kernels
